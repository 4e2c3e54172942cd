"""Settings: where inputs and outputs live, read once from the environment.

Every value is checked here, before a step runs: a wrong one is a ``ConfigError`` whose message is
one line naming the variable, its value and what it accepts (the command line prints it, exit 2).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_MAX_BYTES = 50 * 1024 * 1024
DEFAULT_DOC_SECONDS = 120.0  # pipeline.workers.DEFAULT_DOC_SECONDS
DEFAULT_MAX_SHRINK = 0.5  # a release may drop at most this share of the previous release's facts
_TRUE, _FALSE = {"1", "true", "yes", "on"}, {"0", "false", "no", "off", ""}


class ConfigError(ValueError):
    """A setting with a value the pipeline cannot use; ``str(exc)`` is one line for the user."""


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
    allow_shrink: bool = False  # publish even if the release drops more than max_shrink of the facts
    max_shrink: float = DEFAULT_MAX_SHRINK
    doc_seconds: float = DEFAULT_DOC_SECONDS  # time budget of one document (read by pipeline.workers)
    corrections_path: Path | None = None  # None: data/corrections.csv of the checkout

    @property
    def corrections_file(self) -> Path:
        return self.corrections_path or project_root() / "data" / "corrections.csv"

    @property
    def database_path(self) -> Path:
        return self.curated_dir / "stats.duckdb"

    @property
    def releases_dir(self) -> Path:
        return self.curated_dir / "releases"

    @property
    def report_dir(self) -> Path:
        return self.curated_dir / "report"

    @property
    def cache_dir(self) -> Path:
        return self.curated_dir / "cache"

    @property
    def ingest_dir(self) -> Path:
        """The ingest manifests of this raw folder (pipeline/manifest.py): one folder per raw folder, so runs
        over sub-folders of a shared archive (see "Past one machine") do not overwrite each other's."""
        import hashlib

        return self.curated_dir / "ingest" / hashlib.sha256(str(self.raw_dir).encode()).hexdigest()[:12]

    @property
    def duckdb_temp_dir(self) -> Path:
        """Where DuckDB spills what does not fit in its memory limit."""
        return self.curated_dir / ".duckdb-tmp"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """PIPELINE_RAW_DIR, PIPELINE_CURATED_DIR, PIPELINE_MAX_BYTES, PIPELINE_WORKERS,
        PIPELINE_ALLOW_SHRINK, PIPELINE_MAX_SHRINK and PIPELINE_CORRECTIONS override the defaults; ConfigError if one is wrong."""
        env = os.environ if environ is None else environ
        root = project_root()
        raw = Path(env.get("PIPELINE_RAW_DIR") or root / "data" / "raw")
        curated = Path(env.get("PIPELINE_CURATED_DIR") or root / "data" / "curated")
        check_folder("PIPELINE_CURATED_DIR", curated)
        return cls(
            raw_dir=raw.resolve(),
            curated_dir=curated.resolve(),
            max_bytes=whole_number(env, "PIPELINE_MAX_BYTES", DEFAULT_MAX_BYTES, minimum=1, accepts="a whole number of bytes, 1 or more"),
            workers=whole_number(env, "PIPELINE_WORKERS", 0, minimum=0, accepts="0 (one process per core) or a whole number of processes"),
            allow_shrink=flag(env, "PIPELINE_ALLOW_SHRINK"),
            max_shrink=share(env, "PIPELINE_MAX_SHRINK", DEFAULT_MAX_SHRINK),
            doc_seconds=seconds(env, "PIPELINE_DOC_SECONDS", DEFAULT_DOC_SECONDS),
            corrections_path=Path(env["PIPELINE_CORRECTIONS"]).resolve() if (env.get("PIPELINE_CORRECTIONS") or "").strip() else None,
        )


def whole_number(env: Mapping[str, str], name: str, default: int, *, minimum: int, accepts: str) -> int:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise ConfigError(f"{name}={value!r} is not valid: expected {accepts}")
    return number


def flag(env: Mapping[str, str], name: str) -> bool:
    value = (env.get(name) or "").strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={env.get(name)!r} is not valid: expected 1/true/yes or 0/false/no (or unset)")


def _real(env: Mapping[str, str], name: str, default: float, ok: Callable[[float], bool], accepts: str) -> float:
    value = (env.get(name) or "").strip()
    if not value:
        return default
    try:
        number = float(value)
    except ValueError:
        number = float("nan")  # fails every ``ok``
    if not ok(number):
        raise ConfigError(f"{name}={value!r} is not valid: expected {accepts}")
    return number


def share(env: Mapping[str, str], name: str, default: float) -> float:
    return _real(env, name, default, lambda x: 0.0 <= x <= 1.0, "a fraction from 0 to 1 (e.g. 0.5)")


def seconds(env: Mapping[str, str], name: str, default: float) -> float:
    return _real(env, name, default, lambda x: 0 < x < float("inf"), "a number of seconds above 0 (e.g. 120)")


def check_folder(name: str, path: Path) -> None:
    """A folder the pipeline creates if missing: it, and each existing folder above it, must be a folder."""
    probe = Path(os.path.abspath(path))
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        what = "it" if probe == Path(os.path.abspath(path)) else str(probe)
        raise ConfigError(f"{name}={str(path)!r} is not valid: {what} is a file; expected a folder (created if missing)")
