"""Settings exposed as a Dagster resource, so the same assets run on any folder."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import dagster as dg

from pipeline.config import Settings


class PipelineSettings(dg.ConfigurableResource):
    """Where inputs and outputs live. Unset fields fall back to ``Settings.from_env()``.

    The environment (PIPELINE_RAW_DIR, PIPELINE_CURATED_DIR, PIPELINE_MAX_BYTES,
    PIPELINE_WORKERS) is read when an asset runs, not when the code location loads,
    so a launched run sees the variables of the process that executes it.
    """

    raw_dir: str | None = None
    curated_dir: str | None = None
    max_bytes: int | None = None
    workers: int | None = None
    allow_shrink: bool | None = None  # publish even if far fewer facts than the latest release
    corrections: str | None = None  # the corrections CSV (PIPELINE_CORRECTIONS)
    progress: bool = False  # show a progress bar while extracting (the CLI turns it on)

    @classmethod
    def from_settings(cls, settings: Settings, *, progress: bool = False) -> PipelineSettings:
        return cls(
            raw_dir=str(settings.raw_dir),
            curated_dir=str(settings.curated_dir),
            max_bytes=settings.max_bytes,
            workers=settings.workers,
            allow_shrink=settings.allow_shrink,
            corrections=str(settings.corrections_path) if settings.corrections_path else None,
            progress=progress,
        )

    def settings(self) -> Settings:
        base = Settings.from_env()
        overrides: dict[str, Any] = {}
        if self.raw_dir:
            overrides["raw_dir"] = Path(self.raw_dir).resolve()
        if self.curated_dir:
            overrides["curated_dir"] = Path(self.curated_dir).resolve()
        if self.max_bytes is not None:
            overrides["max_bytes"] = self.max_bytes
        if self.workers is not None:
            overrides["workers"] = self.workers
        if self.allow_shrink is not None:
            overrides["allow_shrink"] = self.allow_shrink
        if self.corrections:
            overrides["corrections_path"] = Path(self.corrections).resolve()
        return dataclasses.replace(base, **overrides)
