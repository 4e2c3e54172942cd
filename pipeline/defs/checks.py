"""Asset checks: each calls a validator of a stage module and reports counts and a few offenders.

The checks on facts and documents block what is downstream: a fact whose quote is not
its span, or an input that vanished, never reaches the database or a release.

The facts checks test the facts this run adds to the database (``database.pending_facts``: those of
new or changed documents), streamed from the extraction cache a batch at a time: every fact in the
database was checked when it was added, and a run that adds nothing checks nothing.
"""

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import dagster as dg
import pyarrow as pa

from pipeline.database import field_errors, field_suspects, pending_facts, reference_errors, reference_suspects
from pipeline.defs.resources import PipelineSettings
from pipeline.documents import IngestResult, input_paths
from pipeline.extractor import Span, span_errors
from pipeline.extractor.batch import Extractions
from pipeline.manifest import IngestManifest
from pipeline.metadata.taxonomy import load_taxonomy

EXAMPLES = 10


def check_result(errors: list[str], checked: int) -> dg.AssetCheckResult:
    """Pass when there are no errors; metadata says how many rows were checked and shows a few errors."""
    examples = "\n".join(f"- {e}" for e in errors[:EXAMPLES]) or "none"
    return dg.AssetCheckResult(
        passed=not errors,
        metadata={"checked": checked, "failed": len(errors), "examples": dg.MetadataValue.md(examples)},
    )


# The checks find the rows that may fail column-wise (Arrow compute), then describe only those as
# dicts: a run of 100,000 documents has half a million facts.


def rows(table: pa.Table, batch_rows: int = 10_000) -> Iterator[dict[str, Any]]:
    """The rows of an Arrow table as dicts, a batch at a time (never the whole table as Python objects)."""
    for batch in table.to_batches(max_chunksize=batch_rows):
        yield from batch.to_pylist()


def input_errors(inputs: set[str], accounted: IngestResult | Iterable[str]) -> list[str]:
    """Inputs (``documents.input_paths``) that are in neither documents nor rejected, in both, or twice.

    ``accounted``: the paths of the documents and rejected rows, or an ``IngestResult``."""
    if isinstance(accounted, IngestResult):
        accounted = [d.document for d in accounted.documents] + [r.document for r in accounted.rejected]
    seen = Counter(accounted)
    errors = [f"{name}: neither ingested nor rejected" for name in sorted(inputs - seen.keys())]
    errors += [f"{name}: listed {n} times in documents and rejected" for name, n in sorted(seen.items()) if n > 1]
    errors += [f"{name}: not an input under the raw folder" for name in sorted(seen.keys() - inputs)]
    return errors


@dg.asset_check(asset="documents", blocking=True, description="Every input file is in exactly one of documents or rejected.")
def every_input_accounted_for(settings: PipelineSettings, documents: IngestManifest) -> dg.AssetCheckResult:
    inputs = input_paths(settings.settings().raw_dir)
    return check_result(input_errors(inputs, documents.paths()), len(inputs))


def _pending(settings: PipelineSettings, facts: Extractions, columns: Sequence[str] | None, **kw: Any) -> Iterator[pa.Table]:
    s = settings.settings()
    for batch in pending_facts(
        s.database_path, manifest_folder=facts.manifest, extractions=facts, columns=columns, temp_dir=s.duckdb_temp_dir, **kw
    ):
        yield pa.Table.from_batches([batch])


def _field_check(settings: PipelineSettings, facts: Extractions, columns: list[str] | None) -> dg.AssetCheckResult:
    errors: list[str] = []
    checked = 0
    wanted = None if columns is None else ["fact_id", *columns]
    for table in _pending(settings, facts, wanted):
        checked += table.num_rows
        errors += field_errors("facts", rows(field_suspects("facts", table, columns)), columns)
    return check_result(errors, checked)


@dg.asset_check(
    asset="facts", blocking=True, description="source, region, offence and each '+'-part of platform are taxonomy slugs."
)
def slugs_in_taxonomy(settings: PipelineSettings, facts: Extractions) -> dg.AssetCheckResult:
    tax = load_taxonomy()
    errors: list[str] = []
    checked = 0
    for table in _pending(settings, facts, ["fact_id", "source", "region", "offence", "platform"]):
        checked += table.num_rows
        errors += reference_errors(rows(reference_suspects(table, tax)), tax)
    return check_result(errors, checked)


@dg.asset_check(asset="facts", blocking=True, description="share is a fraction in [0, 1].")
def share_in_range(settings: PipelineSettings, facts: Extractions) -> dg.AssetCheckResult:
    return _field_check(settings, facts, ["share"])


@dg.asset_check(asset="facts", blocking=True, description="count is not negative.")
def count_not_negative(settings: PipelineSettings, facts: Extractions) -> dg.AssetCheckResult:
    return _field_check(settings, facts, ["count"])


@dg.asset_check(
    asset="facts",
    blocking=True,
    additional_ins={"documents": dg.AssetIn("documents")},
    description="Every quote equals its document's text at [char_start:char_end].",
)
def quotes_match_spans(settings: PipelineSettings, facts: Extractions, documents: IngestManifest) -> dg.AssetCheckResult:
    span = ["fact_id", "document", "char_start", "char_end", "quote"]
    checked = sum(t.num_rows for t in _pending(settings, facts, ["fact_id"]))
    errors: list[str] = []
    # DuckDB compares every quote with its span; only the suspects come back, with their text, for
    # the exact comparison (Python string offsets) and the message.
    for table in _pending(settings, facts, span, suspect_quotes=True):
        texts = dict(zip(table["document"].to_pylist(), table["text"].to_pylist(), strict=False))
        columns = [table[c].to_pylist() for c in span]
        errors += span_errors((Span(*values) for values in zip(*columns, strict=True)), texts)
    return check_result(errors, checked)


@dg.asset_check(asset="facts", blocking=True, description="Every column meets its constraints in metadata/fields.py.")
def columns_meet_constraints(settings: PipelineSettings, facts: Extractions) -> dg.AssetCheckResult:
    return _field_check(settings, facts, None)


CHECKS = [
    every_input_accounted_for,
    slugs_in_taxonomy,
    share_in_range,
    count_not_negative,
    quotes_match_spans,
    columns_meet_constraints,
]
