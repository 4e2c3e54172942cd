"""Asset checks: each calls a validator of a stage module and reports counts and a few offenders.

The checks on facts and documents block what is downstream: a fact whose quote is not
its span, or an input that vanished, never reaches the database or a release.
"""

from collections import Counter
from collections.abc import Iterator
from typing import Any

import dagster as dg
import pyarrow as pa

from pipeline.database import field_errors, field_suspects, reference_errors, reference_suspects
from pipeline.documents import IngestResult, input_paths
from pipeline.extractor import Span, span_errors
from pipeline.metadata.taxonomy import load_taxonomy
from pipeline.defs.assets import ARROW
from pipeline.defs.resources import PipelineSettings

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


def input_errors(inputs: set[str], result: IngestResult) -> list[str]:
    """Inputs (``documents.input_paths``) that are in neither documents nor rejected, in both, or twice."""
    seen = Counter([d.document for d in result.documents] + [r.document for r in result.rejected])
    errors = [f"{name}: neither ingested nor rejected" for name in sorted(inputs - seen.keys())]
    errors += [f"{name}: listed {n} times in documents and rejected" for name, n in sorted(seen.items()) if n > 1]
    errors += [f"{name}: not an input under the raw folder" for name in sorted(seen.keys() - inputs)]
    return errors


@dg.asset_check(asset="documents", blocking=True, description="Every input file is in exactly one of documents or rejected.")
def every_input_accounted_for(settings: PipelineSettings, documents: IngestResult) -> dg.AssetCheckResult:
    inputs = input_paths(settings.settings().raw_dir)
    return check_result(input_errors(inputs, documents), len(inputs))


@dg.asset_check(
    asset="facts", blocking=True, description="source, region, offence and each '+'-part of platform are taxonomy slugs."
)
def slugs_in_taxonomy(facts: ARROW) -> dg.AssetCheckResult:
    tax = load_taxonomy()
    return check_result(reference_errors(rows(reference_suspects(facts, tax)), tax), facts.num_rows)


@dg.asset_check(asset="facts", blocking=True, description="share is a fraction in [0, 1].")
def share_in_range(facts: ARROW) -> dg.AssetCheckResult:
    return check_result(field_errors("facts", rows(field_suspects("facts", facts, ["share"])), ["share"]), facts.num_rows)


@dg.asset_check(asset="facts", blocking=True, description="count is not negative.")
def count_not_negative(facts: ARROW) -> dg.AssetCheckResult:
    return check_result(field_errors("facts", rows(field_suspects("facts", facts, ["count"])), ["count"]), facts.num_rows)


@dg.asset_check(
    asset="facts",
    blocking=True,
    additional_ins={"documents": dg.AssetIn("documents")},
    description="Every quote equals its document's text at [char_start:char_end].",
)
def quotes_match_spans(facts: ARROW, documents: IngestResult) -> dg.AssetCheckResult:
    texts = {d.document: d.text for d in documents.documents}
    columns = [facts[c].to_pylist() for c in ("fact_id", "document", "char_start", "char_end", "quote")]
    return check_result(span_errors((Span(*values) for values in zip(*columns, strict=True)), texts), facts.num_rows)


@dg.asset_check(asset="facts", blocking=True, description="Every column meets its constraints in metadata/fields.py.")
def columns_meet_constraints(facts: ARROW) -> dg.AssetCheckResult:
    return check_result(field_errors("facts", rows(field_suspects("facts", facts))), facts.num_rows)


CHECKS = [
    every_input_accounted_for,
    slugs_in_taxonomy,
    share_in_range,
    count_not_negative,
    quotes_match_spans,
    columns_meet_constraints,
]
