"""The Dagster Definitions load, and one in-process materialisation of every asset over a copy of data/raw."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest
from test_database import document, fact

from pipeline.database import rows_to_arrow
from pipeline.defs import JOB_NAME, build_definitions, executor
from pipeline.defs.assets import ASSETS
from pipeline.defs.checks import (
    CHECKS,
    documents_meet_constraints,
    every_input_accounted_for,
    facts_meet_constraints,
    quotes_match_spans,
    slugs_in_taxonomy,
)
from pipeline.defs.curation import CURATION_CHECKS
from pipeline.defs.resources import PipelineSettings
from pipeline.documents import Document, ingest, input_paths
from pipeline.extractor.batch import Extractions, _write_partition, extraction_key, version_dir
from pipeline.manifest import IngestManifest, write_manifest

ASSET_NAMES = {
    "documents", "mentions", "facts", "corrections", "statistics", "citations", "conflicts", "review", "database", "release", "report",
}
CHECK_NAMES = {
    ("documents", "every_input_accounted_for"),
    ("facts", "slugs_in_taxonomy"),
    ("documents", "columns_meet_constraints"),
    ("facts", "quotes_match_spans"),
    ("facts", "columns_meet_constraints"),
    ("corrections", "every_correction_applies"),
    ("conflicts", "no_conflicts"),
    ("statistics", "consistent_shares_sum"),
    ("statistics", "consistent_count_base_share"),
    ("statistics", "consistent_year_after_document"),
}


def test_definitions_load_with_every_asset_and_check() -> None:
    from pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    assert {k.to_user_string() for k in graph.get_all_asset_keys()} == ASSET_NAMES
    assert {(k.asset_key.to_user_string(), k.name) for k in graph.asset_check_keys} == CHECK_NAMES
    assert defs.resolve_job_def(JOB_NAME) is not None


def test_unknown_executor_name_is_refused() -> None:
    with pytest.raises(ValueError, match="PIPELINE_EXECUTOR='spark'"):
        executor("spark")


def test_settings_resource_falls_back_to_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPELINE_RAW_DIR", str(tmp_path / "in"))
    monkeypatch.setenv("PIPELINE_CURATED_DIR", str(tmp_path / "out"))
    settings = PipelineSettings().settings()
    assert (settings.raw_dir, settings.database_path) == (tmp_path / "in", tmp_path / "out" / "stats.duckdb")
    assert PipelineSettings(raw_dir=str(tmp_path / "other")).settings().raw_dir == tmp_path / "other"


def refs(tmp_path: Path, facts: list[dict[str, object]], docs: list[Document] | None = None) -> Extractions:
    """An ingest manifest of the documents and an extraction cache partition holding the facts, as the
    pipeline's steps write them; what the checks read."""
    import pyarrow as pa

    docs = docs or [document()]
    manifest = write_manifest(tmp_path / "ingest", docs)
    store = version_dir(tmp_path / "cache")
    store.mkdir(parents=True, exist_ok=True)
    key = {d.document: extraction_key(d) for d in docs}
    facts_table = rows_to_arrow("facts", facts)
    facts_table = facts_table.add_column(0, "key", pa.array([key[f["document"]] for f in facts], pa.string()))
    mentions = rows_to_arrow("mentions", []).add_column(0, "key", pa.array([], pa.string()))
    part = _write_partition(store, {k: name for name, k in key.items()}, {"mentions": mentions, "facts": facts_table})
    return Extractions(store=str(store), partitions=(part.name,), manifest=manifest.folder)


@pytest.mark.parametrize(
    ("check", "bad"),
    [
        (slugs_in_taxonomy, {"platform": "instagram+myspace"}),
        (facts_meet_constraints, {"share": 1.5}),
        (facts_meet_constraints, {"count": -1}),
        (facts_meet_constraints, {"qualifier": "roughly"}),
    ],
)
def test_fact_checks_fail_with_counts_and_examples(
    check: dg.AssetChecksDefinition, bad: dict[str, object], tmp_path: Path
) -> None:
    settings = PipelineSettings(curated_dir=str(tmp_path / "curated"))
    assert check(settings=settings, facts=refs(tmp_path / "good", [fact()])).passed
    result = check(settings=settings, facts=refs(tmp_path / "bad", [fact(), fact(fact_id="bad", char_start=1, **bad)]))
    assert not result.passed
    assert (result.metadata["checked"].value, result.metadata["failed"].value) == (2, 1)
    assert "bad" in result.metadata["examples"].value


def test_the_documents_check_tests_the_columns_of_the_manifest(tmp_path: Path) -> None:
    import dataclasses

    settings = PipelineSettings(curated_dir=str(tmp_path / "curated"))  # no database yet: every row is new
    assert documents_meet_constraints(settings=settings, documents=write_manifest(tmp_path / "good", [document()])).passed
    bad = dataclasses.replace(document(), bytes=-5)
    result = documents_meet_constraints(settings=settings, documents=write_manifest(tmp_path / "bad", [bad]))
    assert not result.passed and "bytes=-5 is below 0" in result.metadata["examples"].value


def test_quote_check_compares_each_quote_with_its_span(tmp_path: Path) -> None:
    settings = PipelineSettings(curated_dir=str(tmp_path / "curated"))
    good = refs(tmp_path / "good", [fact()])
    manifest = IngestManifest(good.manifest, 1, 0)
    assert quotes_match_spans(settings=settings, facts=good, documents=manifest).passed
    shifted = refs(tmp_path / "shifted", [fact(char_start=fact()["char_start"] + 1)])
    result = quotes_match_spans(settings=settings, facts=shifted, documents=IngestManifest(shifted.manifest, 1, 0))
    assert not result.passed and "quote differs from a.txt" in result.metadata["examples"].value


def test_input_check_finds_files_neither_ingested_nor_rejected(seed_raw: Path, tmp_path: Path) -> None:
    settings = PipelineSettings(raw_dir=str(seed_raw))
    ingested = ingest(seed_raw, max_bytes=10_000_000)
    manifest = write_manifest(tmp_path / "all", ingested.documents, ingested.rejected)
    assert every_input_accounted_for(settings=settings, documents=manifest).passed
    fewer = write_manifest(tmp_path / "fewer", ingested.documents[:-1], ingested.rejected)
    result = every_input_accounted_for(settings=settings, documents=fewer)
    assert not result.passed
    assert result.metadata["failed"].value == 1
    assert "neither ingested nor rejected" in result.metadata["examples"].value


@pytest.mark.slow
def test_materialize_every_asset_over_the_seed_documents(tmp_path: Path, seed_raw: Path) -> None:
    curated = tmp_path / "curated"
    settings = PipelineSettings(raw_dir=str(seed_raw), curated_dir=str(curated))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([*ASSETS, *CHECKS, *CURATION_CHECKS], resources={"settings": settings}, instance=instance)
    assert result.success
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert materialized == ASSET_NAMES
    evaluations = result.get_asset_check_evaluations()
    assert {(e.asset_key.to_user_string(), e.check_name) for e in evaluations} == CHECK_NAMES
    # the default dataset has real conflicts and one breakdown past 1: warnings, which do not fail the run
    failed = {e.check_name: e.severity for e in evaluations if not e.passed}
    assert set(failed) == {"no_conflicts", "consistent_shares_sum"}
    assert set(failed.values()) == {dg.AssetCheckSeverity.WARN}

    with duckdb.connect(str(curated / "stats.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone() == (len(input_paths(seed_raw)),)
        tables = {name for (name,) in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        assert {"facts", "documents", "rejected_documents", "mentions", "statistics", "citations", "conflicts", "review"} <= tables
        texts = dict(con.execute("SELECT document, text FROM documents").fetchall())
        facts = con.execute("SELECT document, char_start, char_end, quote FROM facts").fetchall()
    assert facts, "the extractor finds facts in the default dataset"
    for name, start, end, quote in facts:
        assert texts[name][start:end] == quote

    release = result.asset_materializations_for_node("release")[0].metadata
    assert Path(release["path"].value).is_dir()
    database = result.asset_materializations_for_node("database")[0].metadata
    assert database["curated_all"].value is True and database["curated_facts"].value == len(facts)

    # Again with nothing changed: the row checks test no row (each was tested when it was added), and
    # nothing is curated again.
    with dg.DagsterInstance.ephemeral() as instance:
        again = dg.materialize([*ASSETS, *CHECKS, *CURATION_CHECKS], resources={"settings": settings}, instance=instance)
    assert again.success
    checked = {(e.asset_key.to_user_string(), e.check_name): e.metadata["checked"].value for e in again.get_asset_check_evaluations()
               if e.asset_key.to_user_string() in ("documents", "facts") and e.check_name != "every_input_accounted_for"}
    assert checked == {("documents", "columns_meet_constraints"): 0, ("facts", "columns_meet_constraints"): 0,
                       ("facts", "quotes_match_spans"): 0, ("facts", "slugs_in_taxonomy"): 0}
    assert again.asset_materializations_for_node("database")[0].metadata["curated_facts"].value == 0


@pytest.mark.slow
def test_the_run_job_materialises_everything_in_process(tmp_path: Path, seed_raw: Path) -> None:
    defs = build_definitions(PipelineSettings(raw_dir=str(seed_raw), curated_dir=str(tmp_path / "curated")))
    with dg.DagsterInstance.ephemeral() as instance:
        result = defs.resolve_job_def(JOB_NAME).execute_in_process(instance=instance)
    assert result.success
    assert {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()} == ASSET_NAMES
    assert (tmp_path / "curated" / "stats.duckdb").is_file()


@pytest.mark.slow
def test_report_asset_links_to_the_report_and_shows_its_chart(tmp_path: Path, seed_raw: Path) -> None:
    import base64
    import re

    curated = tmp_path / "curated"
    settings = PipelineSettings(raw_dir=str(seed_raw), curated_dir=str(curated))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(ASSETS, resources={"settings": settings}, instance=instance)
    metadata = result.asset_materializations_for_node("report")[0].metadata
    index = curated / "report" / "index.html"
    assert metadata["path"].value == str(index) and index.is_file()
    assert metadata["url"].value == index.resolve().as_uri()
    chart = re.search(r"!\[Platform shares by year\]\(data:image/svg\+xml;base64,([A-Za-z0-9+/=]+)\)", metadata["chart"].value)
    assert chart, metadata["chart"].value[:200]
    svg = base64.b64decode(chart.group(1)).decode()
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and "<circle" in svg


@pytest.mark.slow
def test_a_failing_facts_check_stops_the_run_before_the_database(
    tmp_path: Path, seed_raw: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The three facts checks run as one step; each is blocking: one failing keeps every fact out of the database."""
    import pipeline.defs.checks as checks

    monkeypatch.setattr(checks, "reference_errors", lambda table, tax: ["f1: platform 'myspace' is not a platform slug"])
    curated = tmp_path / "curated"
    settings = PipelineSettings(raw_dir=str(seed_raw), curated_dir=str(curated))
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([*ASSETS, *CHECKS, *CURATION_CHECKS], resources={"settings": settings}, instance=instance,
                                raise_on_error=False)
    assert not result.success
    outcome = {e.check_name: e.passed for e in result.get_asset_check_evaluations() if e.asset_key.to_user_string() == "facts"}
    assert outcome == {"slugs_in_taxonomy": False, "quotes_match_spans": True, "columns_meet_constraints": True}
    materialized = {m.asset_key.to_user_string() for m in result.get_asset_materialization_events()}
    assert "facts" in materialized and "database" not in materialized
    assert not (curated / "stats.duckdb").exists()
