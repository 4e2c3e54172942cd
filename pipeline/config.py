"""Settings: where inputs and outputs live, read once from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BYTES = 50 * 1024 * 1024


def project_root() -> Path:
    """The checkout holding this package (it has data/ beside pipeline/), else the working directory."""
    here = Path(__file__).resolve().parents[1]
    return here if (here / "pyproject.toml").exists() else Path.cwd()


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    curated_dir: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    workers: int = 0  # 0: decide from the batch size and the number of cores

    @property
    def database_path(self) -> Path:
        return self.curated_dir / "stats.duckdb"

    @property
    def releases_dir(self) -> Path:
        return self.curated_dir / "releases"

    @property
    def cache_dir(self) -> Path:
        return self.curated_dir / "cache"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """PIPELINE_RAW_DIR, PIPELINE_CURATED_DIR, PIPELINE_MAX_BYTES, PIPELINE_WORKERS override the defaults."""
        env = os.environ if environ is None else environ
        root = project_root()
        raw = Path(env.get("PIPELINE_RAW_DIR") or root / "data" / "raw")
        curated = Path(env.get("PIPELINE_CURATED_DIR") or root / "data" / "curated")
        try:
            max_bytes = int(env.get("PIPELINE_MAX_BYTES") or DEFAULT_MAX_BYTES)
            workers = int(env.get("PIPELINE_WORKERS") or 0)
        except ValueError as exc:
            raise ValueError(f"PIPELINE_MAX_BYTES and PIPELINE_WORKERS must be whole numbers: {exc}") from exc
        return cls(raw_dir=raw.resolve(), curated_dir=curated.resolve(), max_bytes=max_bytes, workers=workers)
