"""``python -m pipeline run``: materialise every asset in this process, show progress, print a summary.

The run uses the in-process executor and keeps values between steps in memory; with
DAGSTER_HOME set (``make run`` sets it to ./.dagster) it is recorded in that instance,
so ``make ui`` shows its materialisations and check results; without it, an
ephemeral instance is used and nothing is kept.

Dagster's own event log is not printed: a small logger turns step events into one
line per asset (``progress``), and the summary is built from the materialisation
metadata of the run (the same numbers the UI shows).
"""

import logging
import os
import shutil
import sys
import time
import warnings
from collections.abc import Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import dagster as dg

from pipeline.config import Settings, project_root
from pipeline.defs import JOB_NAME, build_definitions
from pipeline.defs.assets import ASSETS
from pipeline.defs.resources import PipelineSettings

LOGGER = "progress"
ASSET_STEPS = {a.node_def.name for a in ASSETS}
MAX_REJECTED_SHOWN = 10


@dataclass
class RunRecord:
    """What the run reported: metadata per asset, check outcomes, failures, step timings."""

    materializations: dict[str, dict[str, Any]] = field(default_factory=dict)
    checks: list[tuple[str, bool, dict[str, Any]]] = field(default_factory=list)
    warned: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # failed checks of warning severity
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    started: dict[str, float] = field(default_factory=dict)


def _plain(metadata: Mapping[str, Any]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def describe(asset: str, m: Mapping[str, Any]) -> str:
    """One line of counts for an asset's materialisation metadata."""
    if asset == "documents":
        return (
            f"{m.get('documents')} documents, {m.get('rejected')} rejected, {m.get('warnings')} warnings; "
            f"{m.get('files_read')} files read, {m.get('files_reused')} unchanged (not opened)"
        )
    if asset == "mentions":
        return f"{m.get('dagster/row_count')} mentions ({m.get('kept')} kept, {m.get('dropped')} dropped)"
    if asset == "facts":
        return (
            f"{m.get('dagster/row_count')} facts; documents re-extracted: {m.get('re_extracted')}, from cache: {m.get('cached')}"
        )
    if asset == "database":
        rows = m.get("rows") or {}
        return f"{rows.get('facts', 0)} facts, {rows.get('documents', 0)} documents -> {m.get('path')}"
    if asset == "corrections":
        return f"{m.get('rows_in_file')} rows in {m.get('path')}: {m.get('apply')} apply, {m.get('errors')} do not"
    if asset == "statistics":
        return f"{m.get('dagster/row_count')} statistics ({m.get('cited_by_several_documents')} cited by several documents)"
    if asset in ("citations", "conflicts", "review"):
        return f"{m.get('dagster/row_count')} rows"
    if asset == "release":
        state = "published" if m.get("published") else "unchanged"
        return f"{m.get('version')} ({state}; facts vs the previous release: {_changes(m)})"
    if asset == "report":
        state = "unchanged, the database is" if m.get("reused") else f"{m.get('seconds')}s"
        return f"{m.get('pages')} pages, {m.get('bytes', 0) / 1e6:.1f} MB ({state}) -> {m.get('path')}"
    return ""


def _changes(m: Mapping[str, Any]) -> str:
    return f"+{m.get('added')} -{m.get('removed')} ~{m.get('changed')}"


class _ProgressHandler(logging.Handler):
    """Receives Dagster's structured log records; keeps what matters and, if asked, prints a line per step."""

    def __init__(self, record: RunRecord, out: TextIO | None) -> None:
        super().__init__(logging.DEBUG)
        self.record = record
        self.out = out

    def _print(self, text: str) -> None:
        if self.out is not None:
            print(text, file=self.out, flush=True)

    def emit(self, log_record: logging.LogRecord) -> None:
        meta = getattr(log_record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None:
            message = meta.get("orig_message") or log_record.getMessage()
            if message.startswith("Dependencies for step"):  # Dagster skipping what is downstream of a failure
                self.record.skipped.append(meta.get("step_key") or "")
            elif log_record.levelno >= logging.WARNING:
                self._print(f"  {log_record.levelname.lower()}: {message}")
            return
        kind, step = event.event_type_value, event.step_key
        data = event.event_specific_data
        if kind == "STEP_START":
            self.record.started[step] = time.monotonic()
            if step in ASSET_STEPS:
                self._print(f"  {step} ...")
        elif kind == "ASSET_MATERIALIZATION":
            asset = event.asset_key.to_user_string()
            metadata = _plain(data.materialization.metadata)
            self.record.materializations[asset] = metadata
            elapsed = time.monotonic() - self.record.started.get(step, time.monotonic())
            self._print(f"  {asset:<10} {describe(asset, metadata)}  [{elapsed:.1f}s]")
        elif kind == "ASSET_CHECK_EVALUATION":
            name = f"{data.asset_key.to_user_string()}:{data.check_name}"
            metadata = _plain(data.metadata)
            if not data.passed and getattr(data.severity, "value", None) == "WARN":
                # a warning (conflicts, consistency flags) is reported but does not fail the run
                self.record.warned.append((name, metadata))
                self._print(f"  check {name} warning: {metadata.get('failed')} of {metadata.get('checked')}")
                return
            self.record.checks.append((name, data.passed, metadata))
            if not data.passed:
                self._print(f"  check {name} FAILED: {metadata.get('failed')} of {metadata.get('checked')}")
        elif kind == "STEP_FAILURE":
            error = data.error
            if error and error.cls_name == "DagsterAssetCheckFailedError":
                return  # a blocking check failed; its evaluation was reported above
            message = error.message.strip() if error else "unknown error"
            if error and error.cause:
                message = error.cause.message.strip()
            self.record.failures.append((step, message))
            self._print(f"  {step} FAILED: {message}")
        elif kind == "STEP_SKIPPED":
            self.record.skipped.append(step)


def _progress_logger(record: RunRecord, out: TextIO | None) -> dg.LoggerDefinition:
    @dg.logger(description="One line per step instead of Dagster's event log.")  # type: ignore[call-overload]
    def progress(_init_context: dg.InitLoggerContext) -> logging.Logger:
        logger = logging.Logger("pipeline.run", logging.DEBUG)
        logger.addHandler(_ProgressHandler(record, out))
        return logger

    return progress


def _instance(stack: ExitStack) -> dg.DagsterInstance:
    """The instance under DAGSTER_HOME (created with the repo's dagster.yaml if missing), else an ephemeral one."""
    home = os.environ.get("DAGSTER_HOME")
    if not home:
        return stack.enter_context(dg.DagsterInstance.ephemeral())
    folder = Path(home).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "dagster.yaml"
    if not config.exists():
        template = project_root() / "dagster.yaml"
        if template.exists():
            shutil.copyfile(template, config)
        else:
            config.write_text("telemetry:\n  enabled: false\n")
    return stack.enter_context(dg.DagsterInstance.from_config(str(folder)))


def run_pipeline(settings: Settings, progress: bool = True) -> int:
    """Materialise every asset; print progress (if asked) and a summary. 0 on success, 1 if a step or check failed."""
    from pipeline.database import sweep_stale_temporaries

    out = sys.stdout
    record = RunRecord()
    started = time.monotonic()
    if settings.curated_dir.is_dir():
        sweep_stale_temporaries(settings.database_path)  # a killed run's half-written database
    if progress:
        print(f"pipeline run: {settings.raw_dir} -> {settings.curated_dir}", file=out, flush=True)
    defs = build_definitions(
        PipelineSettings.from_settings(settings, progress=progress),
        executor_name="in_process",
        loggers={LOGGER: _progress_logger(record, out if progress else None)},
    )
    with ExitStack() as stack, warnings.catch_warnings():
        for category in (dg.BetaWarning, dg.PreviewWarning, dg.SupersessionWarning):
            warnings.simplefilter("ignore", category)
        instance = _instance(stack)
        job = defs.resolve_job_def(JOB_NAME)
        result = job.execute_in_process(
            instance=instance,
            raise_on_error=False,
            run_config={"loggers": {LOGGER: {}}},
            resources={"io_manager": dg.mem_io_manager},
        )
        documents = result.output_for_node("documents") if result.is_node_success("documents") else None
    ok = result.success and all(passed for _, passed, _ in record.checks)
    print_summary(record, documents, ok, time.monotonic() - started, out)
    return 0 if ok else 1


def print_summary(record: RunRecord, documents: Any, ok: bool, elapsed: float, out: TextIO) -> None:
    m = record.materializations
    print(f"pipeline run: {'done' if ok else 'FAILED'} in {elapsed:.1f}s", file=out)
    if "documents" in m:
        print(f"  documents: {describe('documents', m['documents'])}", file=out)
    if documents is not None:
        for rejected in documents.read_rejected(limit=MAX_REJECTED_SHOWN):
            print(f"    rejected {rejected.document}: {rejected.reason}", file=out)
        if documents.rejected > MAX_REJECTED_SHOWN:
            print(f"    ... and {documents.rejected - MAX_REJECTED_SHOWN} more (table rejected_documents)", file=out)
        for warning in documents.warnings[:MAX_REJECTED_SHOWN]:
            print(f"    warning: {warning}", file=out)
    if "facts" in m:
        f = m["facts"]
        print(
            f"  facts: {f.get('dagster/row_count')} from {f.get('documents_with_facts')} documents "
            f"(extractor {f.get('extractor_version')}: {f.get('re_extracted')} re-extracted, {f.get('cached')} cached)",
            file=out,
        )
    if "mentions" in m:
        print(f"  mentions: {describe('mentions', m['mentions'])}", file=out)
    if "corrections" in m:
        print(f"  corrections: {describe('corrections', m['corrections'])}", file=out)
    if "statistics" in m:
        c = m.get("conflicts", {})
        print(
            f"  statistics: {describe('statistics', m['statistics'])}, {m.get('citations', {}).get('dagster/row_count')} "
            f"citations, {c.get('dagster/row_count')} conflicting facts, {m.get('review', {}).get('dagster/row_count')} facts to review",
            file=out,
        )
    passed = sum(1 for _, p, _ in record.checks if p)
    if record.checks:
        print(f"  checks: {passed} of {len(record.checks)} passed", file=out)
    for name, p, meta in record.checks:
        if not p:
            print(f"    FAILED {name}: {meta.get('failed')} of {meta.get('checked')}; {meta.get('examples')}", file=out)
    for name, meta in record.warned:
        print(f"  warning {name}: {meta.get('failed')} of {meta.get('checked')} (see its metadata in the UI)", file=out)
    if "release" in m:
        r = m["release"]
        state = "published" if r.get("published") else "unchanged, latest release kept"
        print(f"  release: {r.get('version')} ({state}; facts vs the previous release: {_changes(r)})", file=out)
    for step, message in record.failures:
        print(f"  FAILED step {step}: {message}", file=out)
    skipped = [step for step in record.skipped if step in ASSET_STEPS]
    if skipped:
        print(f"  not run, because a step or blocking check before them failed: {', '.join(skipped)}", file=out)
    if "database" in m:
        print(f"  database: {m['database'].get('path')}", file=out)
    if "release" in m:
        print(f"  release folder: {m['release'].get('path')}", file=out)
    if "report" in m:
        print(f"  report: {m['report'].get('path')}", file=out)
    out.flush()
