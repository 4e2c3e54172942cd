"""One asset per stage, each a few lines calling the stage module.

documents -> (mentions, facts) -> corrections -> database -> (statistics, citations, conflicts,
review), release. Mentions and facts come from one extraction pass, so they are the two outputs of
one multi-asset; the curated layer's assets are in ``curation.py``.

What passes between the steps are references to Parquet files, never the rows: ``documents`` is
an ``IngestManifest`` (the ingest manifest folder, pipeline/manifest.py), ``mentions`` and
``facts`` an ``Extractions`` (the extraction cache partitions that hold them). The database step
reads those files with DuckDB, so no step's memory grows with the archive, and a step running
on another machine needs only the shared folder.
"""

import base64
import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg

from pipeline import memory
from pipeline.curate import refresh_database
from pipeline.database import database_state_id, extraction_stats, update_database
from pipeline.defs.resources import PipelineSettings
from pipeline.extractor import EXTRACTOR_VERSION
from pipeline.extractor.batch import Extractions, extract_manifest
from pipeline.manifest import IngestManifest, ingest_to_manifest
from pipeline.metadata.tables import TABLES
from pipeline.release import ShrinkRefused, publish_release, release_if_unchanged, remember_release, shrink_problem
from pipeline.report import ReportResult, build_report

PREVIEW_ROWS = 10

MANIFEST = dg.PythonObjectDagsterType(IngestManifest, name="IngestManifest", description="The ingest manifest folder (Parquet).")
EXTRACTIONS = dg.PythonObjectDagsterType(
    Extractions, name="Extractions", description="The extraction cache partitions (Parquet) holding the rows."
)


def markdown_table(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], limit: int = PREVIEW_ROWS) -> str:
    """The first rows as a Markdown table; long cells are cut so the preview stays readable."""

    def cell(value: Any) -> str:
        text = "" if value is None else str(value)
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= 80 else text[:77] + "..."

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for i, row in enumerate(rows):
        if i == limit:
            break
        lines.append("| " + " | ".join(cell(row.get(c)) for c in columns) + " |")
    return "\n".join(lines)


class EmptyRawFolder(Exception):
    """The raw folder has no file at all: an error, not an empty dataset."""


@dg.asset(description=TABLES["documents"].description + " Rejected inputs are listed with the reason.", dagster_type=MANIFEST)
def documents(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.Output[IngestManifest]:
    s = settings.settings()
    manifest = ingest_to_manifest(s.raw_dir, s.ingest_dir, max_bytes=s.max_bytes)
    memory.give_back()  # (pipeline/memory.py: the next steps run in this process)
    if not manifest.documents and not manifest.rejected:
        # An unmounted share looks like an empty folder: never let it replace the dataset.
        raise EmptyRawFolder(
            f"the raw folder {s.raw_dir} holds no input files (an unmounted share?); "
            "the database and the releases are left as they were"
        )
    for warning in manifest.warnings:
        context.log.warning(warning)
    rejected = [{"document": r.document, "reason": r.reason} for r in manifest.read_rejected(limit=50)]
    return dg.Output(
        manifest,
        metadata={
            "raw_dir": dg.MetadataValue.path(str(s.raw_dir)),
            "documents": manifest.documents,
            "rejected": manifest.rejected,
            "warnings": len(manifest.warnings),
            "files_read": manifest.files_read,
            "files_reused": manifest.files_reused,
            "sources_read": manifest.sources_read,
            "manifest": dg.MetadataValue.path(manifest.folder),
            "preview": dg.MetadataValue.md(
                markdown_table(manifest.preview(PREVIEW_ROWS), ["document", "media_type", "bytes", "title"])
            ),
            "rejected_preview": dg.MetadataValue.md(markdown_table(rejected, ["document", "reason"], limit=50)),
        },
    )


@dg.multi_asset(
    name="extractions",
    outs={
        "mentions": dg.AssetOut(description=TABLES["mentions"].description, dagster_type=EXTRACTIONS),
        "facts": dg.AssetOut(description=TABLES["facts"].description, dagster_type=EXTRACTIONS),
    },
    description="Runs the extractor over new or changed documents; others are served from the cache.",
)
def extractions(context: dg.AssetExecutionContext, settings: PipelineSettings, documents: IngestManifest):  # noqa: ANN201 - yields the two outputs
    s = settings.settings()
    found = extract_manifest(documents.folder, cache_dir=s.cache_dir, workers=s.workers, progress=settings.progress)
    stats = extraction_stats(
        documents.folder, found, temp_dir=s.duckdb_temp_dir, preview_rows=PREVIEW_ROWS,
        remember_in=s.ingest_dir / "extraction-stats.json",  # a run with nothing new does not count again
    )
    found = dataclasses.replace(found, facts_rows=stats["facts"], mentions_rows=stats["mentions"])
    memory.give_back()
    for document, reason in found.failed:  # the document stays, without facts (cached so: see extract_manifest)
        context.log.warning(f"{document}: {reason}")
    common: dict[str, Any] = {
        "failed": dg.MetadataValue.json([{"document": d, "reason": r} for d, r in found.failed[:50]]),
        "re_extracted": found.extracted,
        "cached": found.cached,
        "re_extracted_documents": dg.MetadataValue.json(list(found.extracted_documents)),
        "extractor_version": EXTRACTOR_VERSION,
        "partitions": len(found.partitions),
    }
    yield dg.Output(
        found,
        output_name="mentions",
        metadata={
            "dagster/row_count": stats["mentions"],
            "kept": stats["kept"],
            "dropped": stats["mentions"] - stats["kept"],
            "dropped_by_reason": dg.MetadataValue.json(stats["dropped_by_reason"]),
            **common,
        },
    )
    yield dg.Output(
        found,
        output_name="facts",
        metadata={
            "dagster/row_count": stats["facts"],
            "documents_with_facts": stats["documents_with_facts"],
            "preview": dg.MetadataValue.md(
                markdown_table(stats["preview"], ["document", "platform", "count", "share", "year", "region", "source", "quote"])
            ),
            **common,
        },
    )


@dg.asset(
    description="The curated DuckDB database (stats.duckdb), updated for the documents that changed and swapped in "
    "atomically; inside the same transaction the corrections are applied to facts and the curated tables rebuilt."
)
def database(
    settings: PipelineSettings, documents: IngestManifest, mentions: Extractions, facts: Extractions, corrections
) -> dg.MaterializeResult:
    s = settings.settings()
    if not s.allow_shrink and (problem := shrink_problem(s.releases_dir, facts.facts_rows, max_shrink=s.max_shrink)):
        raise ShrinkRefused(problem)  # before the database is replaced: nothing changes

    refreshed = []

    def curate_in_transaction(con, changed):
        # corrections applied to facts, then the curated tables of the groups touched curated again (pipeline/curate.py)
        refreshed.append(refresh_database(
            con, changed, corrections.rows, fingerprint=corrections.fingerprint, commit_slices=True
        ))

    result = update_database(
        s.database_path, manifest_folder=documents.folder, extractions=facts, temp_dir=s.duckdb_temp_dir,
        after_load=[curate_in_transaction], fingerprint_extra=corrections.fingerprint,
    )
    memory.give_back()
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(s.database_path)),
            "bytes": s.database_path.stat().st_size,
            "changed": result.changed,
            "rebuilt": result.rebuilt,
            "documents_added": result.added,
            "documents_removed": result.removed,
            "state_id": result.state_id,
            # how much of the curated layer this run built again (0 when nothing changed)
            "curated_all": bool(refreshed and refreshed[0].full),
            "curated_groups": refreshed[0].groups if refreshed else 0,
            "curated_facts": refreshed[0].facts if refreshed else 0,
            "rows": dg.MetadataValue.json(result.counts),
            **{f"rows_{table}": n for table, n in result.counts.items()},
        }
    )


@dg.asset(
    deps=[database, dg.AssetKey("report")],
    description="The dated Parquet release; a new version only when the content changed. Its HTML report is made of "
    "the report asset's pages (hard links), with only the pages that differ in a release rendered.",
)
def release(settings: PipelineSettings) -> dg.MaterializeResult:
    s = settings.settings()
    state = database_state_id(s.database_path)
    # The database has not changed since it was last released: nothing to read, hash or write.
    result = release_if_unchanged(s.releases_dir, state)
    if result is None:
        result = publish_release(s.database_path, s.releases_dir, extractor_version=EXTRACTOR_VERSION, report_dir=s.report_dir)
        remember_release(s.releases_dir, state, result.version)
    return dg.MaterializeResult(
        metadata={
            "version": result.version,
            "published": result.published,
            "added": result.added,
            "removed": result.removed,
            "changed": result.changed,
            "path": dg.MetadataValue.path(str(result.path)),
            "rows": dg.MetadataValue.json(dict(result.rows)),
        }
    )


@dg.asset(
    deps=[database],
    description="The static HTML report ($PIPELINE_CURATED_DIR/report/index.html): every figure highlighted in its "
    "source, charts linking to each statistic, the review queue. Opens offline from a file:// URL.",
)
def report(settings: PipelineSettings) -> dg.MaterializeResult:
    s = settings.settings()
    # An unchanged database (and report code) leaves the report as it is: nothing is read or written.
    # Otherwise only the pages whose data changed are rendered (pipeline/report/build.py).
    result = build_report(s.database_path, s.report_dir, state=database_state_id(s.database_path))
    memory.give_back()
    return dg.MaterializeResult(metadata=report_metadata(result))


def report_metadata(result: ReportResult) -> dict[str, Any]:
    """The report's materialisation metadata: where it is, its size, and its platform chart inline (the UI
    renders a data: image in Markdown, so the chart shows without leaving the UI)."""
    chart = base64.b64encode(result.chart_svg.encode()).decode()
    index = result.index.resolve().as_uri()
    return {
        "path": dg.MetadataValue.path(str(result.index)),
        "url": dg.MetadataValue.url(index),
        "pages": result.pages,
        "bytes": result.bytes,
        "statistics": result.statistics,
        "documents": result.documents,
        "curated": result.curated,
        "seconds": round(result.seconds, 2),
        "reused": result.reused,
        "rendered": result.rendered,
        "removed": result.removed,
        "chart": dg.MetadataValue.md(
            f"**{result.statistics} statistics from {result.documents} documents.** "
            f"Open `{result.index}` in a browser (or `pipeline report --open`).\n\n"
            f"![Platform shares by year](data:image/svg+xml;base64,{chart})"
        ),
    }


# The curated layer's assets live in curation.py, which imports markdown_table from here; the
# package (pipeline/defs/__init__.py) imports this module first, so the import below finds them defined.
from pipeline.defs.curation import CURATION_ASSETS  # noqa: E402

ASSETS = [documents, extractions, *CURATION_ASSETS, database, release, report]
