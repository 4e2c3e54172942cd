"""Assets and checks of the curated layer: corrections -> (database) -> statistics, citations, conflicts, review.

``corrections`` reads data/corrections.csv (PIPELINE_CORRECTIONS) and tries it on the facts the
database is about to hold; a correction that applies to no fact, or to several, fails the blocking
check ``every_correction_applies`` naming its line, so nothing is loaded or released from a stale
fix. The database step applies the corrections and rebuilds the curated tables inside its loading
transaction (``curate.refresh_database``). ``curation`` then reports those tables, with the
conflicts and consistency flags as warning checks: listed in the metadata, the run goes on.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import dagster as dg
import duckdb

from pipeline.corrections import Correction, CorrectionResult, check_before_load, read_corrections
from pipeline.curate import curation_fingerprint
from pipeline.defs.assets import PREVIEW_ROWS, markdown_table
from pipeline.defs.resources import PipelineSettings
from pipeline.extractor.batch import Extractions
from pipeline.manifest import IngestManifest
from pipeline.metadata.tables import TABLES

EXAMPLES = 20
SHOWN = 50  # rows of a table shown in a preview


@dataclass
class CorrectionsInput:
    """The corrections file as read, its fingerprint, and how it applied to the facts about to be loaded."""

    path: str
    rows: list[Correction] = field(default_factory=list)
    fingerprint: str = ""
    errors: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


CORRECTIONS = dg.PythonObjectDagsterType(CorrectionsInput, name="Corrections", description="The corrections file, checked.")


@dg.asset(
    description="data/corrections.csv (PIPELINE_CORRECTIONS): human fixes keyed by document sha256 and quote, "
    "tried on the facts about to be loaded (the database step applies them).",
    dagster_type=CORRECTIONS,
)
def corrections(settings: PipelineSettings, documents: IngestManifest, facts: Extractions) -> dg.Output[CorrectionsInput]:
    path = settings.settings().corrections_file
    rows = read_corrections(path)
    result: CorrectionResult = check_before_load(rows, documents.folder, facts.files("facts"))
    value = CorrectionsInput(str(path), rows, curation_fingerprint(path), result.errors, result.counts)
    return dg.Output(
        value,
        metadata={
            "path": dg.MetadataValue.path(str(path)),
            "rows_in_file": len(rows),
            "apply": result.applied.num_rows,
            "by_action": dg.MetadataValue.json(result.counts),
            "errors": len(result.errors),
            "preview": dg.MetadataValue.md(
                markdown_table(result.applied.to_pylist(), ["line", "action", "field", "value", "document", "reason", "reviewer"], limit=50)
            ),
        },
    )


@dg.asset_check(
    asset="corrections",
    blocking=True,
    description="Every correction applies to exactly one fact (or adds one the extractor does not find); "
    "a stale correction fails the run with its line named.",
)
def every_correction_applies(corrections: CorrectionsInput) -> dg.AssetCheckResult:
    errors = corrections.errors
    examples = "\n".join(f"- {corrections.path}: {e}" for e in errors[:EXAMPLES]) or "none"
    return dg.AssetCheckResult(
        passed=not errors,
        metadata={"checked": len(corrections.rows), "failed": len(errors), "examples": dg.MetadataValue.md(examples)},
    )


FLAG_CHECKS = {
    "shares_sum": "Shares of one breakdown (one document, one key but the platform) do not sum past 1.",
    "count_base_share": "A count and base agree with the stated share within its rounding (27 of 67 is 40.3%).",
    "year_after_document": "No figure's year is after its document's date.",
}
CONFLICTS_CHECK = "Facts of one key whose values disagree beyond rounding (warning: listed, never resolved silently)."
CURATED = ("statistics", "citations", "conflicts", "review")


@dg.multi_asset(
    name="curation",
    specs=[dg.AssetSpec(name, deps=["database"], description=TABLES[name].description) for name in CURATED],
    check_specs=[
        dg.AssetCheckSpec("no_conflicts", asset="conflicts", description=CONFLICTS_CHECK),
        *(dg.AssetCheckSpec(f"consistent_{c}", asset="statistics", description=d + " (warning; flagged rows listed)")
          for c, d in FLAG_CHECKS.items()),
    ],
    description="The curated tables the database step built (one statistic per real-world figure, its citations, "
    "the conflicts and the review queue): counts, previews and the warning checks.",
)
def curation(settings: PipelineSettings):
    path = settings.settings().database_path
    with duckdb.connect(str(path), read_only=True) as con:
        def q(sql: str) -> list[dict[str, Any]]:
            cur = con.execute(sql)
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

        def one(sql: str) -> tuple[Any, ...]:
            row = con.execute(sql).fetchone()
            assert row is not None  # an aggregate query always has its row
            return row

        n = {name: one(f'SELECT count(*) FROM "{name}"')[0] for name in CURATED}
        (several, corrected, in_conflict, flagged) = one(
            "SELECT count(*) FILTER (WHERE n_documents > 1), count(*) FILTER (WHERE corrected), "
            "count(*) FILTER (WHERE conflict), count(*) FILTER (WHERE flags IS NOT NULL) FROM statistics"
        )
        top = q(f"SELECT * FROM statistics ORDER BY n_citations DESC, statistic_id LIMIT {PREVIEW_ROWS}")
        # counted in SQL, and only the rows shown fetched: a large archive has conflict rows by the hundred thousand
        (conflict_keys,) = one("SELECT count(DISTINCT conflict_id) FROM conflicts")
        conflicts = q(f"SELECT * FROM conflicts ORDER BY conflict_id, count, share, fact_id LIMIT {SHOWN}")
        (keys,) = one(
            "SELECT count(*) FROM (SELECT DISTINCT source, year, region, platform, offence, measure FROM statistics)"
        )
        flags = q("SELECT statistic_id, flags FROM statistics WHERE flags IS NOT NULL ORDER BY statistic_id")
        review = q(f"SELECT * FROM review ORDER BY rank LIMIT {PREVIEW_ROWS}")
    yield dg.MaterializeResult(
        asset_key="statistics",
        metadata={
            "dagster/row_count": n["statistics"],
            "cited_by_several_documents": several,
            "corrected": corrected,
            "in_conflict": in_conflict,
            "flagged": flagged,
            "preview": dg.MetadataValue.md(markdown_table(
                top, ["statistic_id", "n_citations", "platform", "count", "share", "year", "region", "source", "quote"]
            )),
        },
    )
    yield dg.MaterializeResult(asset_key="citations", metadata={"dagster/row_count": n["citations"]})
    yield dg.MaterializeResult(
        asset_key="conflicts",
        metadata={
            "dagster/row_count": n["conflicts"],
            "keys": conflict_keys,
            "preview": dg.MetadataValue.md(markdown_table(conflicts, ["conflict_id", "document", "count", "share", "qualifier", "quote"], limit=SHOWN)),
        },
    )
    yield dg.MaterializeResult(
        asset_key="review",
        metadata={
            "dagster/row_count": n["review"],
            "preview": dg.MetadataValue.md(markdown_table(review, ["rank", "score", "reasons", "document", "quote", "correction_line"])),
        },
    )
    # checked: the keys (source, year, region, platform, offence, measure); failed: those with disagreeing values
    yield _warning("conflicts", "no_conflicts", conflict_lines(conflicts), keys, conflict_keys, rows=n["conflicts"])
    for check in FLAG_CHECKS:
        lines = [
            f"{row['statistic_id']}: {message.split(': ', 1)[1]}"
            for row in flags for message in row["flags"].split("; ") if message.startswith(f"{check}: ")
        ]
        yield _warning("statistics", f"consistent_{check}", lines, n["statistics"])


def _warning(
    asset: str, name: str, errors: list[str], checked: int, failed: int | None = None, rows: int | None = None
) -> dg.AssetCheckResult:
    """A warning check; ``errors`` are (the first) lines of the failing rows, ``rows`` how many there are in all."""
    rows = len(errors) if rows is None else rows
    examples = "\n".join(f"- {e}" for e in errors[:EXAMPLES]) or "none"
    return dg.AssetCheckResult(
        asset_key=asset, check_name=name, passed=not rows, severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "checked": checked, "failed": rows if failed is None else failed, "rows": rows,
            "examples": dg.MetadataValue.md(examples),
        },
    )


def conflict_lines(conflicts: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in conflicts:
        value = " ".join(filter(None, [
            None if r["count"] is None else f"{r['count']:,}", None if r["share"] is None else f"{r['share']:.1%}",
        ]))
        out.append(f"{r['conflict_id']}: {r['document']}: {value} ({r['qualifier']}): {r['quote'][:100]!r}")
    return out


CURATION_ASSETS = [corrections, curation]
CURATION_CHECKS = [every_correction_applies]
