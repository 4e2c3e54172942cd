"""Asset checks: each calls a validator of pipeline/validate.py and reports counts and a few offenders.

The checks on facts and documents block what is downstream: a fact whose quote is not
its span, or an input that vanished, never reaches the database or a release.

The facts checks and the documents' constraint check test the rows this run adds to the database
(``database.pending_facts``, ``pending_documents``: those of new or changed documents), streamed a
batch at a time from the extraction cache and the ingest manifest: every row in the database was
checked when it was added, and a run that adds nothing checks nothing.
"""

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.database import pending_documents, pending_facts
from pipeline.defs.resources import PipelineSettings
from pipeline.documents import input_paths
from pipeline.extractor.batch import Extractions
from pipeline.manifest import IngestManifest
from pipeline.metadata.tables import TABLES
from pipeline.metadata.taxonomy import load_taxonomy
from pipeline.validate import Span, constrained, field_errors, input_errors, reference_errors, span_errors

EXAMPLES = 10


def check_result(errors: list[str], checked: int) -> dg.AssetCheckResult:
    """Pass when there are no errors; metadata says how many rows were checked and shows a few errors."""
    examples = "\n".join(f"- {e}" for e in errors[:EXAMPLES]) or "none"
    return dg.AssetCheckResult(
        passed=not errors,
        metadata={"checked": checked, "failed": len(errors), "examples": dg.MetadataValue.md(examples)},
    )


# The checks test Arrow batches column-wise (pipeline/validate.py); only the rows that break a rule
# become dicts: a run of 100,000 documents has half a million facts.


def every_input_accounted_for(settings: PipelineSettings, documents: IngestManifest) -> dg.AssetCheckResult:
    inputs = input_paths(settings.settings().raw_dir)
    return check_result(input_errors(inputs, documents.paths()), len(inputs))


def _pending(settings: PipelineSettings, facts: Extractions, columns: Sequence[str] | None, **kw: Any) -> Iterator[pa.Table]:
    s = settings.settings()
    for batch in pending_facts(
        s.database_path, manifest_folder=facts.manifest, extractions=facts, columns=columns, temp_dir=s.duckdb_temp_dir, **kw
    ):
        yield pa.Table.from_batches([batch])




def slugs_in_taxonomy(settings: PipelineSettings, facts: Extractions) -> dg.AssetCheckResult:
    tax = load_taxonomy()
    errors: list[str] = []
    checked = 0
    for table in _pending(settings, facts, ["fact_id", "source", "region", "offence", "platform"]):
        checked += table.num_rows
        errors += reference_errors(table, tax)
    return check_result(errors, checked)


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


# One check per table whose rows a run adds, generated from the columns' constraints in metadata/fields.py:
# the constraints are written there once, and tested by validate.field_errors.


def _constraints_described(table: str) -> str:
    fields = [f.name for f in TABLES[table].fields if constrained(table, f)]
    return f"Every {table} column meets its constraints in metadata/fields.py ({', '.join(fields)})."


def _documents_batches(settings: PipelineSettings, documents: IngestManifest) -> Iterator[pa.Table]:
    """The manifest rows of the documents this run adds to the database (new or changed), as for facts."""
    s = settings.settings()
    names = pq.ParquetFile(documents.documents_path).schema_arrow.names
    # the texts are the spans' business (quotes_match_spans); the other columns are small
    columns = [f.name for f in TABLES["documents"].fields if f.name != "text" and f.name in names]
    for batch in pending_documents(
        s.database_path, manifest_folder=documents.folder, columns=columns, temp_dir=s.duckdb_temp_dir
    ):
        yield pa.Table.from_batches([batch])


def _constraint_check(table: str, batches: Iterator[pa.Table]) -> dg.AssetCheckResult:
    errors: list[str] = []
    checked = 0
    for data in batches:
        checked += data.num_rows
        errors += field_errors(table, data)
    return check_result(errors, checked)


def facts_meet_constraints(settings: PipelineSettings, facts: Extractions) -> dg.AssetCheckResult:
    return _constraint_check("facts", _pending(settings, facts, None))


def documents_meet_constraints(settings: PipelineSettings, documents: IngestManifest) -> dg.AssetCheckResult:
    return _constraint_check("documents", _documents_batches(settings, documents))


# The checks run as two steps, one per asset, not one each: a step costs Dagster's event log about
# 0.1-0.3 s whatever it does, which on a run with nothing new is most of what a check costs.

CheckTable = dict[str, tuple[str, Callable[..., dg.AssetCheckResult]]]  # name -> (description, the check)

DOCUMENTS_CHECKS: CheckTable = {
    "every_input_accounted_for": ("Every input file is in exactly one of documents or rejected.", every_input_accounted_for),
    "columns_meet_constraints": (_constraints_described("documents"), documents_meet_constraints),
}
FACTS_CHECKS: CheckTable = {
    "slugs_in_taxonomy": ("source, region, offence and each '+'-part of platform are taxonomy slugs.", slugs_in_taxonomy),
    "quotes_match_spans": ("Every quote equals its document's text at [char_start:char_end].", quotes_match_spans),
    "columns_meet_constraints": (_constraints_described("facts"), facts_meet_constraints),
}


def _specs(asset: str, checks: CheckTable, reads: Sequence[str] = ()) -> list[dg.AssetCheckSpec]:
    """Blocking checks of ``asset``; ``reads``: other assets they read (the quotes are compared with the documents' text)."""
    return [dg.AssetCheckSpec(name, asset=asset, blocking=True, description=d, additional_deps=list(reads))
            for name, (d, _) in checks.items()]


def _keyed(asset: str, name: str, result: dg.AssetCheckResult) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(asset_key=asset, check_name=name, passed=result.passed, metadata=result.metadata)


@dg.multi_asset_check(specs=_specs("documents", DOCUMENTS_CHECKS), ins={"documents": dg.AssetIn("documents")},
                      description="The checks of the documents asset.")
def documents_checks(settings: PipelineSettings, documents: IngestManifest) -> Iterator[dg.AssetCheckResult]:
    for name, (_, check) in DOCUMENTS_CHECKS.items():
        yield _keyed("documents", name, check(settings=settings, documents=documents))


@dg.multi_asset_check(
    specs=_specs("facts", FACTS_CHECKS, reads=["documents"]),
    ins={"facts": dg.AssetIn("facts"), "documents": dg.AssetIn("documents")},
    description="The checks of the facts the run adds.",
)
def facts_checks(settings: PipelineSettings, facts: Extractions, documents: IngestManifest) -> Iterator[dg.AssetCheckResult]:
    # with no fact to add (a run with nothing new) one look at what is pending stands for all three
    nothing = not any(t.num_rows for t in _pending(settings, facts, ["fact_id"]))
    for name, (_, check) in FACTS_CHECKS.items():
        if nothing:
            yield _keyed("facts", name, check_result([], 0))
        elif name == "quotes_match_spans":
            yield _keyed("facts", name, check(settings=settings, facts=facts, documents=documents))
        else:
            yield _keyed("facts", name, check(settings=settings, facts=facts))


CHECKS = [documents_checks, facts_checks]
