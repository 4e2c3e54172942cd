"""One asset per stage, each a few lines calling the stage module.

documents -> (mentions, facts) -> database -> release. Mentions and facts come from
one extraction pass, so they are the two outputs of one multi-asset.
"""

import base64
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.database import load_database
from pipeline.documents import IngestResult
from pipeline.extractor.batch import extract_documents
from pipeline.manifest import ingest_to_manifest
from pipeline.extractor import EXTRACTOR_VERSION
from pipeline.metadata.tables import TABLES
from pipeline.release import ShrinkRefused, publish_release, shrink_problem
from pipeline.report import ReportResult, build_report
from pipeline.defs.resources import PipelineSettings

PREVIEW_ROWS = 10

# Mentions and facts travel between steps as Arrow tables: compact, and loaded into DuckDB without
# a copy into Python objects. (The checks read facts in batches of rows.)
ARROW = dg.PythonObjectDagsterType(pa.Table, name="ArrowTable", description="An Arrow table with the table's columns.")


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


@dg.asset(description=TABLES["documents"].description + " Rejected inputs are listed with the reason.")
def documents(context: dg.AssetExecutionContext, settings: PipelineSettings) -> dg.Output[IngestResult]:
    s = settings.settings()
    manifest = ingest_to_manifest(s.raw_dir, s.ingest_dir, max_bytes=s.max_bytes)
    if not manifest.documents and not manifest.rejected:
        # An unmounted share looks like an empty folder: never let it replace the dataset.
        raise EmptyRawFolder(
            f"the raw folder {s.raw_dir} holds no input files (an unmounted share?); "
            "the database and the releases are left as they were"
        )
    result = IngestResult(
        documents=sorted((d for batch in manifest.iter_documents() for d in batch), key=lambda d: d.document),
        rejected=manifest.read_rejected(),
        warnings=list(manifest.warnings),
    )
    for warning in result.warnings:
        context.log.warning(warning)
    docs = [{"document": d.document, "media_type": d.media_type, "bytes": d.bytes, "title": d.title} for d in result.documents]
    rejected = [{"document": r.document, "reason": r.reason} for r in result.rejected]
    return dg.Output(
        result,
        metadata={
            "raw_dir": dg.MetadataValue.path(str(s.raw_dir)),
            "documents": len(result.documents),
            "rejected": len(result.rejected),
            "warnings": len(result.warnings),
            "files_read": manifest.files_read,
            "files_reused": manifest.files_reused,
            "manifest": dg.MetadataValue.path(manifest.folder),
            "preview": dg.MetadataValue.md(markdown_table(docs, ["document", "media_type", "bytes", "title"])),
            "rejected_preview": dg.MetadataValue.md(markdown_table(rejected, ["document", "reason"], limit=50)),
        },
    )


@dg.multi_asset(
    name="extractions",
    outs={
        "mentions": dg.AssetOut(description=TABLES["mentions"].description, dagster_type=ARROW),
        "facts": dg.AssetOut(description=TABLES["facts"].description, dagster_type=ARROW),
    },
    description="Runs the extractor over new or changed documents; others are served from the cache.",
)
def extractions(context: dg.AssetExecutionContext, settings: PipelineSettings, documents: IngestResult):  # type: ignore[no-untyped-def]
    s = settings.settings()
    batch = extract_documents(documents.documents, cache_dir=s.cache_dir, workers=s.workers, progress=settings.progress)
    common = {
        "re_extracted": len(batch.extracted),
        "cached": len(batch.cached),
        "re_extracted_documents": dg.MetadataValue.json(batch.extracted[:50]),
        "extractor_version": EXTRACTOR_VERSION,
    }
    mentions = batch.mentions
    kept = pc.sum(pc.equal(mentions["decision"], "fact")).as_py() or 0
    dropped = value_counts(mentions.filter(pc.not_equal(mentions["decision"], "fact"))["reason"])
    yield dg.Output(
        mentions,
        output_name="mentions",
        metadata={
            "dagster/row_count": mentions.num_rows,
            "kept": kept,
            "dropped": mentions.num_rows - kept,
            "dropped_by_reason": dg.MetadataValue.json(dropped),
            **common,
        },
    )
    facts = batch.facts
    yield dg.Output(
        facts,
        output_name="facts",
        metadata={
            "dagster/row_count": facts.num_rows,
            "documents_with_facts": pc.count_distinct(facts["document"]).as_py(),
            "preview": dg.MetadataValue.md(
                markdown_table(
                    facts.slice(0, PREVIEW_ROWS).to_pylist(),
                    ["document", "platform", "count", "share", "year", "region", "source", "quote"],
                )
            ),
            **common,
        },
    )


def value_counts(column: pa.ChunkedArray) -> dict[str, int]:
    """Each value and how often it occurs, most frequent first (ties in order of first occurrence)."""
    counts = [(row["values"], row["counts"]) for row in pc.value_counts(column).to_pylist()]
    return dict(sorted(counts, key=lambda item: -item[1]))


@dg.asset(description="The curated DuckDB database (stats.duckdb), rebuilt and swapped in atomically.")
def database(settings: PipelineSettings, documents: IngestResult, mentions: ARROW, facts: ARROW) -> dg.MaterializeResult:
    s = settings.settings()
    if not s.allow_shrink and (problem := shrink_problem(s.releases_dir, facts.num_rows, max_shrink=s.max_shrink)):
        raise ShrinkRefused(problem)  # before the database is replaced: nothing changes
    counts = load_database(
        s.database_path, documents=documents.documents, rejected=documents.rejected, mentions=mentions, facts=facts
    )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(str(s.database_path)),
            "bytes": s.database_path.stat().st_size,
            "rows": dg.MetadataValue.json(counts),
            **{f"rows_{table}": n for table, n in counts.items()},
        }
    )


@dg.asset(deps=[database], description="The dated Parquet release; a new version only when the content changed.")
def release(settings: PipelineSettings) -> dg.MaterializeResult:
    s = settings.settings()
    result = publish_release(s.database_path, s.releases_dir, extractor_version=EXTRACTOR_VERSION)
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
    result = build_report(s.database_path, s.report_dir)
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
        "chart": dg.MetadataValue.md(
            f"**{result.statistics} statistics from {result.documents} documents.** "
            f"Open `{result.index}` in a browser (or `pipeline report --open`).\n\n"
            f"![Platform shares by year](data:image/svg+xml;base64,{chart})"
        ),
    }


ASSETS = [documents, extractions, database, release, report]
