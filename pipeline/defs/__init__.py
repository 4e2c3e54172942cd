"""Dagster wiring: the only code that imports dagster.

``build_definitions`` assembles the assets, checks, resources and the job that
materialises everything; ``pipeline.definitions`` calls it for ``dagster dev`` and
``pipeline.defs.run`` for ``python -m pipeline run``.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from pipeline.defs.assets import ASSETS
from pipeline.defs.catalog import TablePathsIOManager, catalogue
from pipeline.defs.checks import CHECKS
from pipeline.defs.curation import CURATION_CHECKS
from pipeline.defs.resources import PipelineSettings

JOB_NAME = "build"

# Values of PIPELINE_EXECUTOR -> (module, attribute) of the Dagster executor to use.
EXECUTORS = {
    "in_process": ("dagster", "in_process_executor"),
    "multiprocess": ("dagster", "multiprocess_executor"),
    "celery": ("dagster_celery", "celery_executor"),
    "celery_k8s": ("dagster_celery_k8s", "celery_k8s_job_executor"),
    "k8s": ("dagster_k8s", "k8s_job_executor"),
}


def executor(name: str | None) -> dg.ExecutorDefinition:
    """The executor for a deployment. In-process by default: the steps form a chain, and
    extraction already uses every core of its machine, so a process per step would only
    add start-up time. The distributed ones are imported only when asked for."""
    import importlib

    key = name or "in_process"
    if key not in EXECUTORS:
        raise ValueError(f"PIPELINE_EXECUTOR={name!r}: expected one of {', '.join(EXECUTORS)}")
    module, attribute = EXECUTORS[key]
    return getattr(importlib.import_module(module), attribute)


def build_definitions(
    settings: PipelineSettings | None = None,
    *,
    executor_name: str | None = None,
    loggers: Mapping[str, dg.LoggerDefinition] | None = None,
) -> dg.Definitions:
    settings = settings or PipelineSettings()
    return dg.Definitions(
        assets=list(catalogue(ASSETS, settings.settings())),
        asset_checks=[*CHECKS, *CURATION_CHECKS],
        resources={"settings": settings, "io_manager": TablePathsIOManager(settings=settings)},
        jobs=[dg.define_asset_job(JOB_NAME, selection=dg.AssetSelection.all(), description="Materialise every asset.")],
        executor=executor(executor_name),
        loggers=loggers,
    )
