"""Parquet releases: versioned, immutable, checksummed, verifiable, crash-safe.

Each test writes its own curated DuckDB file into tmp_path from the metadata DDL,
so nothing here depends on the extractor or the loader.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipeline.release as release_module
from pipeline.cli import main
from pipeline.metadata import schema
from pipeline.metadata.tables import TABLES, TAXONOMY_TABLES
from pipeline.metadata.taxonomy import load_taxonomy_table
from pipeline.release import (
    ReleaseNotFound,
    latest_version,
    publish_release,
    resolve_release,
    verify_release,
)

DAY = date(2026, 11, 23)
EXTRACTOR = "0.0.1"
RELEASE_FILES = {
    "statistics.parquet",
    "citations.parquet",
    "conflicts.parquet",
    "review.parquet",
    "corrections.parquet",
    "facts.parquet",
    "facts.csv",
    "statistics.csv",
    "documents.parquet",
    "documents_text.parquet",
    "rejected_documents.parquet",
    "mentions.parquet",
    "platforms.parquet",
    "regions.parquet",
    "offences.parquet",
    "sources.parquet",
    "datapackage.json",
    "CHANGES.md",
    "README.md",
    "SHA256SUMS",
}

TEXTS = {
    "004_hampshire.txt": (
        "Figures obtained by the NSPCC — £0 cost to forces — show Hampshire police recorded 67 offences of "
        "sexual communication with a child 📱 in 2017/18. Facebook apps were used in 27 (40.2%) of those cases, "
        "and Snapchat in 9."
    ),
    "002_scotland.txt": (
        "Police Scotland said more than 9,477 online child sexual abuse crimes were recorded in 2023, "
        "and more than half of them took place on Facebook."
    ),
}


def _span(document: str, quote: str) -> dict[str, Any]:
    start = TEXTS[document].index(quote)
    return {"document": document, "quote": quote, "char_start": start, "char_end": start + len(quote)}


def _fact(fact_id: str, document: str, quote: str, **values: Any) -> dict[str, Any]:
    return {"fact_id": fact_id, "qualifier": "exact", "extractor_version": EXTRACTOR, **_span(document, quote), **values}


def base_facts() -> list[dict[str, Any]]:
    return [
        _fact(
            "f-hants-meta", "004_hampshire.txt", "27 (40.2%)", source="nspcc", year=2018, region="hampshire",
            platform="meta_apps", offence="sexual_communication_with_a_child", count=27, share=0.402,
            measure="offences", base=67, period_start=date(2017, 4, 1), period_end=date(2018, 3, 31), confidence=0.9,
        ),
        _fact(
            "f-0-hants-snap", "004_hampshire.txt", "Snapchat in 9", source="nspcc", year=2018, region="hampshire",
            platform="snapchat", offence="sexual_communication_with_a_child", count=9, measure="offences",
            confidence=0.8,
        ),
        _fact(
            "f-scot-fb", "002_scotland.txt", "more than half", source=None, year=2023, region="scotland",
            platform="facebook", share=0.5, qualifier="more_than", confidence=0.6,
        ),
    ]


def base_rows(facts: list[dict[str, Any]] | None = None) -> dict[str, list[dict[str, Any]]]:
    rows: dict[str, list[dict[str, Any]]] = {
        "facts": base_facts() if facts is None else facts,
        "documents": [
            {
                "document": name,
                "sha256": hashlib.sha256(text.encode()).hexdigest(),
                "bytes": len(text.encode()),
                "media_type": "text/plain",
                "encoding": "utf-8",
                "published": date(2018, 4, 17),
                "title": name,
                "licence": "CC-BY-4.0",  # so the fixture's releases carry the texts (see _licensed_rows)
                "text": text,
            }
            for name, text in TEXTS.items()
        ],
        "rejected_documents": [{"document": "empty.txt", "reason": "empty", "bytes": 0}],
        "mentions": [
            {**_span("004_hampshire.txt", "27"), "surface": "27", "value": 27.0, "kind": "count", "decision": "fact",
             "reason": "count", "fact_id": "f-hants-meta"},
            {**_span("004_hampshire.txt", "2017/18"), "surface": "2017/18", "kind": "year", "decision": "dropped",
             "reason": "year"},
        ],
    }
    for row in rows["mentions"]:
        del row["quote"]
    for name in TAXONOMY_TABLES:
        rows[name] = [{k: (v or None) for k, v in row.items()} for row in load_taxonomy_table(name)]
    return rows


def write_database(path: Path, rows: dict[str, list[dict[str, Any]]] | None = None) -> Path:
    """A curated database as database.py makes it: every table from the metadata DDL."""
    rows = base_rows() if rows is None else rows
    if "statistics" not in rows and rows.get("facts"):  # the curated tables of these facts, as the database step builds them
        from types import SimpleNamespace

        from pipeline.curate import curate

        facts = pa.Table.from_pylist(rows["facts"], schema=schema.arrow_schema("facts").with_metadata(None))
        # a documents row states only the columns it needs; the others are null, as in the table
        documents = [SimpleNamespace(**{c: d.get(c) for c in TABLES["documents"].columns}) for d in rows.get("documents", [])]
        built = curate(facts, documents)
        rows = {**rows, **{n: getattr(built, n).to_pylist() for n in ("statistics", "citations", "conflicts", "review")}}
    path.unlink(missing_ok=True)
    con = duckdb.connect(str(path))
    try:
        for name in TABLES:
            for statement in schema.duckdb_ddl(name):
                con.execute(statement)
            data = pa.Table.from_pylist(rows.get(name, []), schema=schema.arrow_schema(name).with_metadata(None))
            con.register("incoming", data)
            con.execute(f'INSERT INTO "{name}" SELECT * FROM incoming')
            con.unregister("incoming")
    finally:
        con.close()
    return path


def file_hashes(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def release_folders(releases: Path) -> list[str]:
    return sorted(p.name for p in releases.iterdir() if not p.name.startswith(".") and p.name not in {"latest", "LATEST"})


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return write_database(tmp_path / "stats.duckdb")


@pytest.fixture
def releases(tmp_path: Path) -> Path:
    return tmp_path / "curated" / "releases"


@pytest.fixture
def release(db: Path, releases: Path) -> Path:
    return publish_release(db, releases, today=DAY).path


def _writable(path: Path) -> Path:
    path.chmod(0o644)
    return path


# --------------------------------------------------------------------------- publishing


def test_first_run_publishes_one_release(db: Path, releases: Path) -> None:
    result = publish_release(db, releases, today=DAY, extractor_version=EXTRACTOR)

    assert result.published
    assert re.fullmatch(r"2026\.11\.23-[0-9a-f]{6}", result.version)
    assert result.path == releases / result.version
    assert release_folders(releases) == [result.version]
    assert {p.name for p in result.path.iterdir()} == RELEASE_FILES | {"report"}  # the HTML report is a folder
    assert (result.path / "report" / "index.html").is_file()
    assert (result.added, result.removed, result.changed) == (3, 0, 0)  # a first release adds every fact
    assert result.rows["facts"] == 3 and result.rows["documents"] == 2 and result.rows["mentions"] == 2
    assert os.readlink(releases / "latest") == result.version
    assert (releases / "LATEST").read_text().strip() == result.version
    assert "First release: 3 facts." in (result.path / "CHANGES.md").read_text()


def test_second_run_on_unchanged_input_publishes_nothing(db: Path, releases: Path) -> None:
    first = publish_release(db, releases, today=DAY)
    before = file_hashes(first.path)

    again = publish_release(db, releases, today=DAY)
    next_day = publish_release(db, releases, today=DAY + timedelta(days=1))

    for result in (again, next_day):
        assert not result.published
        assert result.version == first.version and result.path == first.path
        assert result.rows == first.rows
    assert release_folders(releases) == [first.version]
    assert file_hashes(first.path) == before


def test_changed_input_publishes_a_second_release_and_leaves_the_first_byte_identical(
    db: Path, releases: Path, tmp_path: Path
) -> None:
    first = publish_release(db, releases, today=DAY)
    before = file_hashes(first.path)
    facts = [f for f in base_facts() if f["fact_id"] != "f-0-hants-snap"]
    facts[0]["count"] = 28
    facts.append(_fact("f-scot-all", "002_scotland.txt", "more than 9,477", source="police_scotland", year=2023,
                       region="scotland", platform="all_platforms", count=9477, qualifier="more_than"))
    changed_db = write_database(tmp_path / "changed.duckdb", base_rows(facts))

    second = publish_release(changed_db, releases, today=DAY)

    assert second.published and second.version != first.version
    assert (second.added, second.removed, second.changed) == (1, 1, 1)
    assert release_folders(releases) == sorted([first.version, second.version])
    assert file_hashes(first.path) == before
    assert latest_version(releases) == second.version
    changes = (second.path / "CHANGES.md").read_text()
    assert f"Previous release: {first.version}" in changes
    # each figure with its value, attributes and quote
    assert (
        "## Added (1)\n\n- `f-scot-all` (002_scotland.txt): **more than 9,477**; platform all_platforms, region scotland, "
        "year 2023, source police_scotland; “more than 9,477”\n"
    ) in changes
    assert (
        "## Removed (1)\n\n- `f-0-hants-snap` (004_hampshire.txt): **9**; platform snapchat, region hampshire, year 2018, "
        "offence sexual_communication_with_a_child, source nspcc, measure offences; “Snapchat in 9”\n"
    ) in changes
    assert (
        "## Changed (1)\n\nColumns that changed: count (1).\n\n- `f-hants-meta` (004_hampshire.txt): count 27 → 28. "
        "Now **28 (40.2%)**; platform meta_apps, region hampshire, year 2018, period 2017-04-01 to 2018-03-31, "
        "offence sexual_communication_with_a_child, source nspcc, measure offences, base 67; “27 (40.2%)”\n"
    ) in changes
    assert "Tables whose rows changed: facts" in changes
    assert "Rejected inputs" not in changes


def test_changes_say_so_when_only_the_rejected_inputs_changed(db: Path, releases: Path, tmp_path: Path) -> None:
    first = publish_release(db, releases, today=DAY)
    rows = base_rows()
    rows["rejected_documents"].append({"document": "photo.jpg", "reason": "binary file (image/jpeg)", "bytes": 12})
    second = publish_release(write_database(tmp_path / "rejected.duckdb", rows), releases, today=DAY)

    assert second.published and (second.added, second.removed, second.changed) == (0, 0, 0)
    changes = (second.path / "CHANGES.md").read_text()
    assert f"Previous release: {first.version}" in changes
    assert "Only the rejected inputs changed: every fact and every other table is as in the previous release." in changes
    assert "## Rejected inputs\n\n- now rejected: `photo.jpg`: binary file (image/jpeg)\n" in changes


def test_a_first_release_lists_every_figure(release: Path) -> None:
    changes = (release / "CHANGES.md").read_text()
    assert "## Facts (3)" in changes
    assert "- `f-scot-fb` (002_scotland.txt): **more than 50%**; platform facebook, region scotland, year 2023;" in changes


def test_facts_csv_carries_each_documents_title_outlet_url_and_date_beside_the_quote(release: Path) -> None:
    header = (release / "facts.csv").read_text(encoding="utf-8").splitlines()[0].replace('"', "").split(",")
    at = header.index("quote")
    assert header[at + 1 : at + 8] == [
        "sentence", "sentence_start", "document_sha256", "document_title", "document_outlet", "document_url",
        "document_published",
    ]
    facts = pd.read_csv(release / "facts.csv")
    assert set(facts["document_title"]) == {"004_hampshire.txt", "002_scotland.txt"}  # the fixture's titles
    assert set(facts["document_published"]) == {"2018-04-17"}


def test_statistics_csv_carries_the_document_of_each_statistics_primary_citation(release: Path) -> None:
    statistics = pd.read_csv(release / "statistics.csv")
    citations = pd.read_parquet(release / "citations.parquet")
    assert len(statistics) == len(pd.read_parquet(release / "statistics.parquet")) > 0
    header = list(statistics.columns)
    assert header[header.index("quote") + 1 : header.index("quote") + 3] == ["document_sha256", "document_title"]
    primary = citations.set_index("fact_id")
    for row in statistics.itertuples():
        assert row.document_sha256 == primary.loc[row.primary_fact_id, "sha256"]
        assert row.document_title == primary.loc[row.primary_fact_id, "title"]


def test_version_depends_on_content_not_on_row_order_or_run(tmp_path: Path) -> None:
    rows = base_rows()
    shuffled = {name: list(reversed(table)) for name, table in rows.items()}
    a = publish_release(write_database(tmp_path / "a.duckdb", rows), tmp_path / "a", today=DAY)
    b = publish_release(write_database(tmp_path / "b.duckdb", shuffled), tmp_path / "b", today=DAY)

    assert a.version == b.version
    for name in ("facts.csv", "facts.parquet", "documents_text.parquet", "CHANGES.md"):
        assert (a.path / name).read_bytes() == (b.path / name).read_bytes(), name


def test_a_release_streamed_a_few_rows_at_a_time_is_the_release_read_whole(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = publish_release(db, tmp_path / "whole", today=DAY)
    monkeypatch.setattr(release_module, "BATCH_ROWS", 1)  # every table read, hashed and written a row at a time
    streamed = publish_release(db, tmp_path / "streamed", today=DAY)

    assert streamed.version == whole.version and streamed.rows == whole.rows
    assert (streamed.path / "facts.csv").read_bytes() == (whole.path / "facts.csv").read_bytes()
    for name in ("facts", "documents_text", "mentions"):
        table = pq.read_table(streamed.path / f"{name}.parquet")
        assert table.num_rows > 1 and table.equals(pq.read_table(whole.path / f"{name}.parquet")), name
        assert pq.ParquetFile(streamed.path / f"{name}.parquet").num_row_groups == table.num_rows, name
    assert verify_release(streamed.path) == []


def test_same_content_as_an_earlier_release_of_the_day_points_latest_back_at_it(
    db: Path, releases: Path, tmp_path: Path
) -> None:
    first = publish_release(db, releases, today=DAY)
    other = publish_release(write_database(tmp_path / "b.duckdb", base_rows(base_facts()[:1])), releases, today=DAY)

    back = publish_release(db, releases, today=DAY)

    assert back.published and back.version == first.version
    assert (back.added, back.removed, back.changed) == (2, 0, 0)
    assert latest_version(releases) == first.version
    assert release_folders(releases) == sorted([first.version, other.version])


def test_a_release_renamed_into_place_before_a_crash_is_adopted_by_the_next_run(
    db: Path, releases: Path, tmp_path: Path
) -> None:
    first = publish_release(db, releases, today=DAY)
    changed_db = write_database(tmp_path / "b.duckdb", base_rows(base_facts()[:1]))
    second = publish_release(changed_db, releases, today=DAY)
    (releases / "latest").unlink()  # as if killed after the rename, before latest moved
    (releases / "latest").symlink_to(first.version)
    (releases / "LATEST").write_text(first.version + "\n")

    again = publish_release(changed_db, releases, today=DAY)

    assert again.published and again.version == second.version
    assert (again.added, again.removed, again.changed) == (0, 2, 0)
    assert resolve_release(releases) == second.path.resolve()
    assert (releases / "LATEST").read_text().strip() == second.version


def test_a_release_without_facts_is_still_valid(tmp_path: Path, releases: Path) -> None:
    result = publish_release(write_database(tmp_path / "empty.duckdb", base_rows([])), releases, today=DAY)

    assert result.rows["facts"] == 0
    assert verify_release(result.path) == []
    assert pd.read_csv(result.path / "facts.csv").shape == (0, len(TABLES["facts"].columns) + 7)  # + sentence and document


def test_publish_refuses_a_release_that_fails_verification(tmp_path: Path, releases: Path) -> None:
    facts = base_facts()
    facts[0]["char_start"] += 1  # the quote no longer sits at its span
    bad_db = write_database(tmp_path / "bad.duckdb", base_rows(facts))

    with pytest.raises(RuntimeError, match="quote is not the document text"):
        publish_release(bad_db, releases, today=DAY)

    assert [p.name for p in releases.iterdir() if p.name != ".lock"] == []


def test_publish_names_missing_tables(tmp_path: Path, releases: Path) -> None:
    path = tmp_path / "partial.duckdb"
    con = duckdb.connect(str(path))
    for statement in schema.duckdb_ddl("facts"):
        con.execute(statement)
    con.close()

    with pytest.raises(ValueError, match="missing table.*documents"):
        publish_release(path, releases, today=DAY)


def test_stale_temporary_folders_are_swept_and_never_taken_for_releases(db: Path, releases: Path) -> None:
    stale = releases / ".tmp-2026.11.22-abcdef-0000"
    stale.mkdir(parents=True)
    (stale / "datapackage.json").write_text("{}")
    (releases / ".latest.tmp-999").symlink_to(".tmp-2026.11.22-abcdef-0000")

    with pytest.raises(ReleaseNotFound):
        resolve_release(releases)
    result = publish_release(db, releases, today=DAY)

    assert not stale.exists() and not (releases / ".latest.tmp-999").is_symlink()
    assert resolve_release(releases) == result.path.resolve()


def test_published_files_are_read_only(release: Path) -> None:
    files = [p for p in release.rglob("*") if p.is_file()]
    assert any(p.parent == release / "report" for p in files)
    for path in files:
        assert path.stat().st_mode & 0o222 == 0, path.name


def test_include_text_false_leaves_out_the_document_texts(db: Path, releases: Path) -> None:
    result = publish_release(db, releases, today=DAY, include_text=False)

    assert not (result.path / "documents_text.parquet").exists()
    assert "documents_text" not in result.rows
    assert verify_release(result.path) == []


# --------------------------------------------------------------------------- what is in a release


def test_parquet_files_are_zstd_typed_sorted_and_carry_the_version(release: Path) -> None:
    facts = pq.ParquetFile(release / "facts.parquet")
    metadata = {k.decode(): v.decode() for k, v in facts.schema_arrow.metadata.items()}

    assert metadata["release_version"] == release.name
    assert metadata["extractor_version"] == EXTRACTOR
    assert metadata["table"] == "facts"
    facts_resource = next(r for r in release_module.RESOURCES if r.name == "facts")  # the table, its sentence and document
    assert facts.schema_arrow.remove_metadata().equals(facts_resource.arrow_schema().remove_metadata())
    assert set(TABLES["facts"].columns) < set(facts.schema_arrow.names)
    assert {facts.metadata.row_group(0).column(i).compression for i in range(facts.metadata.num_columns)} == {"ZSTD"}
    rows = facts.read().to_pylist()
    assert [r["fact_id"] for r in rows] == ["f-hants-meta", "f-0-hants-snap", "f-scot-fb"]  # by platform (not id), null source last


def test_documents_parquet_has_no_text_and_documents_text_holds_it(release: Path) -> None:
    documents = pq.read_table(release / "documents.parquet")
    texts = pq.read_table(release / "documents_text.parquet")

    assert "text" not in documents.column_names
    assert texts.column_names == ["document", "sha256", "licence", "text"]
    assert dict(zip(texts["document"].to_pylist(), texts["text"].to_pylist(), strict=True)) == TEXTS


def test_release_reads_through_latest_with_duckdb_and_pandas(release: Path) -> None:
    latest = release.parent / "latest" / "facts.parquet"

    [(n,)] = duckdb.sql(f"select count(*) from '{latest}'").fetchall()
    frame = pd.read_parquet(latest)

    assert n == 3
    assert list(frame.columns) == next(r for r in release_module.RESOURCES if r.name == "facts").columns()
    assert frame.loc[frame.fact_id == "f-hants-meta", "share"].item() == pytest.approx(0.402)


def test_sha256sums_covers_every_other_file_in_sha256sum_format(release: Path) -> None:
    lines = (release / "SHA256SUMS").read_text().splitlines()
    listed = {line.split("  ", 1)[1]: line.split("  ", 1)[0] for line in lines}

    report = {p.relative_to(release).as_posix() for p in (release / "report").rglob("*") if p.is_file()}
    assert "report/index.html" in report and any(name.startswith("report/s/") for name in report)
    assert set(listed) == (RELEASE_FILES - {"SHA256SUMS"}) | report
    assert listed == {k: v for k, v in file_hashes(release).items() if k != "SHA256SUMS"}


@pytest.mark.skipif(shutil.which("sha256sum") is None, reason="needs coreutils sha256sum")
def test_sha256sum_c_accepts_the_checksums(release: Path) -> None:
    check = subprocess.run(["sha256sum", "-c", "--strict", "SHA256SUMS"], cwd=release, capture_output=True, text=True)

    assert check.returncode == 0, check.stdout + check.stderr


def test_datapackage_describes_every_resource(release: Path) -> None:
    package = json.loads((release / "datapackage.json").read_text())

    assert package["version"] == release.name
    assert package["licenses"][0]["name"] == "CC-BY-4.0"
    assert package["extractor_version"] == EXTRACTOR
    assert set(package["taxonomy_sha256"]) == set(TAXONOMY_TABLES)
    by_name = {r["name"]: r for r in package["resources"]}
    assert {r["path"] for r in by_name.values()} == RELEASE_FILES - {"datapackage.json", "CHANGES.md", "README.md", "SHA256SUMS"}
    facts_resource = next(r for r in release_module.RESOURCES if r.name == "facts")
    assert by_name["facts"]["schema"] == schema.frictionless_schema(facts_resource.table_def())
    assert by_name["facts"]["rows"] == 3 and by_name["facts"]["hash"].startswith("sha256:")
    assert "text" not in [f["name"] for f in by_name["documents"]["schema"]["fields"]]
    assert {"title": "NSPCC (National Society for the Prevention of Cruelty to Children)",
            "path": "https://www.nspcc.org.uk"} in package["sources"]


def test_frictionless_accepts_the_datapackage_and_every_resource_parquet_included(release: Path) -> None:
    frictionless = pytest.importorskip("frictionless")
    descriptor = json.loads((release / "datapackage.json").read_text())

    assert frictionless.Package.validate_descriptor(descriptor).valid
    report = frictionless.validate(str(release / "datapackage.json"))
    assert report.valid, report.flatten(["taskName", "rowNumber", "fieldName", "type", "note"])
    assert {t.name for t in report.tasks} == {r["name"] for r in descriptor["resources"]}
    assert {t.name: t.stats.get("rows") for t in report.tasks}["facts"] == 3  # (an empty table has no "rows")


def test_pandas_reads_integer_columns_as_nullable_integers(release: Path) -> None:
    facts = pd.read_parquet(release / "facts.parquet")
    assert {facts[c].dtype.name for c in ("year", "count", "base", "char_start", "page")} == {"Int64"}
    assert facts["count"].isna().any() and facts["base"].isna().any()  # the fixture has gaps: they stay <NA>
    assert facts["share"].dtype.name == "Float64"


# --------------------------------------------------------------------------- verify


def test_verify_passes_on_a_good_release(release: Path) -> None:
    assert verify_release(release) == []
    assert verify_release(release.parent / "latest") == []


@pytest.mark.parametrize("name", [*sorted(RELEASE_FILES), "report/index.html"])
def test_verify_fails_on_a_flipped_byte(release: Path, name: str) -> None:
    path = _writable(release / name)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))

    problems = verify_release(release)

    assert problems
    assert any(p.startswith(name) or "SHA256SUMS" in p for p in problems), problems


def test_verify_reports_missing_and_unlisted_files(release: Path) -> None:
    _writable(release / "mentions.parquet").unlink()
    (release / "notes.txt").write_text("hello")

    problems = verify_release(release)

    assert "mentions.parquet: listed in SHA256SUMS but missing" in problems
    assert "notes.txt: not listed in SHA256SUMS" in problems
    assert "mentions: file 'mentions.parquet' missing" in problems


def _reseal(folder: Path) -> None:
    """Recompute the checksums after a deliberate edit, so only the deeper checks can catch it."""
    descriptor_path = _writable(folder / "datapackage.json")
    package = json.loads(descriptor_path.read_text())
    for resource in package["resources"]:
        data = (folder / resource["path"]).read_bytes()
        resource["bytes"], resource["hash"] = len(data), "sha256:" + hashlib.sha256(data).hexdigest()
    descriptor_path.write_text(json.dumps(package))
    sums = "".join(f"{h}  {n}\n" for n, h in file_hashes(folder).items() if n != "SHA256SUMS")
    _writable(folder / "SHA256SUMS").write_text(sums)


def test_verify_fails_when_a_parquet_schema_or_row_count_differs_from_the_datapackage(release: Path) -> None:
    table = pq.read_table(release / "regions.parquet")
    pq.write_table(table.set_column(0, "slug", table["slug"].cast(pa.large_string())), _writable(release / "regions.parquet"))
    package = json.loads((release / "datapackage.json").read_text())
    next(r for r in package["resources"] if r["name"] == "mentions")["rows"] = 5
    _writable(release / "datapackage.json").write_text(json.dumps(package))
    _reseal(release)

    problems = verify_release(release)

    assert any(p.startswith("regions.parquet: schema differs") for p in problems), problems
    assert "mentions.parquet: 2 rows, datapackage.json says 5" in problems


def test_verify_fails_when_a_primary_key_repeats(release: Path) -> None:
    table = pq.read_table(release / "platforms.parquet")
    pq.write_table(pa.concat_tables([table, table.slice(0, 1)]), _writable(release / "platforms.parquet"))
    package = json.loads((release / "datapackage.json").read_text())
    next(r for r in package["resources"] if r["name"] == "platforms")["rows"] += 1
    _writable(release / "datapackage.json").write_text(json.dumps(package))
    _reseal(release)

    assert verify_release(release) == ["platforms.parquet: 1 value(s) of the primary key (slug) repeat"]


def test_verify_fails_when_a_value_breaks_a_column_constraint(release: Path) -> None:
    # the constraints of metadata/fields.py, tested by the same validator as the asset checks
    table = pq.read_table(release / "facts.parquet")
    negative = pa.array([-5] * table.num_rows, table.schema.field("count").type)
    pq.write_table(table.set_column(table.schema.get_field_index("count"), table.schema.field("count"), negative), _writable(release / "facts.parquet"))
    _reseal(release)

    problems = verify_release(release)

    assert any(p.startswith("facts.parquet:") and "count=-5 is below 0" in p for p in problems), problems


def test_verify_fails_when_the_folder_is_not_the_version_it_holds(release: Path) -> None:
    renamed = release.parent / "2020.01.01-000000"
    release.rename(renamed)

    problems = verify_release(renamed)

    assert any("version" in p and "2020.01.01-000000" in p for p in problems), problems


# --------------------------------------------------------------------------- resolve and the CLI


def test_resolve_release_accepts_a_release_folder_the_latest_link_or_the_latest_file(release: Path) -> None:
    releases = release.parent
    assert resolve_release(release) == release.resolve()
    assert resolve_release(releases) == release.resolve()
    assert resolve_release(releases / "latest") == release.resolve()

    (releases / "latest").unlink()  # a platform without symlinks has only the LATEST file

    assert resolve_release(releases) == release.resolve()


def test_resolve_release_without_a_release_says_so(tmp_path: Path) -> None:
    (tmp_path / "releases").mkdir()
    with pytest.raises(ReleaseNotFound, match="no release under .* yet"):
        resolve_release(tmp_path / "releases")
    with pytest.raises(ReleaseNotFound, match="does not exist"):
        resolve_release(tmp_path / "nowhere")


def test_cli_verify_exit_status(
    release: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PIPELINE_CURATED_DIR", str(release.parent.parent))
    assert main(["verify"]) == 0
    assert capsys.readouterr().out.strip().endswith(": OK")

    data = _writable(release / "facts.csv")
    data.write_bytes(data.read_bytes().replace(b"27", b"28", 1))
    assert main(["verify", str(release)]) == 1
    assert "FAIL facts.csv: sha256 does not match SHA256SUMS" in capsys.readouterr().out

    monkeypatch.setenv("PIPELINE_CURATED_DIR", str(tmp_path / "empty"))
    assert main(["verify"]) == 2
    assert "pipeline verify: " in capsys.readouterr().err


# --------------------------------------------------------------------------- crash safety

_CHILD = textwrap.dedent(
    """
    import os
    import sys
    import time
    from datetime import date
    from pathlib import Path

    import duckdb
    import frictionless
    import pyarrow.dataset
    from pipeline.release import publish_release

    duckdb.connect().execute("SELECT 1")  # everything loaded up front, so the kill window is the publishing itself
    fsync = os.fsync
    os.fsync = lambda fd: (fsync(fd), time.sleep(0.02))  # every write a little slower: a wider window, less jitter

    print("ready", flush=True)
    publish_release(Path(sys.argv[1]), Path(sys.argv[2]), today=date(2026, 11, 24))
    """
)


def _bigger_rows(i: int) -> dict[str, list[dict[str, Any]]]:
    """Enough rows that publishing takes long enough to be killed part-way; distinct content per i."""
    rows = base_rows()
    mention = rows["mentions"][1]
    rows["mentions"] += [
        {**mention, "char_start": n, "char_end": n + 1, "surface": "x" * (n % 7), "sentence": f"run {i} mention {n}"}
        for n in range(200, 10200)
    ]
    rows["facts"][0]["confidence"] = i / 100
    return rows


@pytest.mark.slow
def test_kill_at_a_random_point_leaves_previous_releases_and_latest_intact(tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    first = publish_release(write_database(tmp_path / "base.duckdb", _bigger_rows(0)), releases, today=DAY)
    first_hashes = file_hashes(first.path)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}

    def start(database: Path, into: Path) -> subprocess.Popen[bytes]:
        child = subprocess.Popen([sys.executable, "-c", _CHILD, str(database), str(into)], stdout=subprocess.PIPE, env=env)
        assert child.stdout is not None and child.stdout.readline() == b"ready\n"
        return child

    shutil.copytree(releases, tmp_path / "scratch", symlinks=True)  # how long a child takes to publish a change
    child = start(write_database(tmp_path / "probe.duckdb", _bigger_rows(100)), tmp_path / "scratch")
    started = time.perf_counter()
    assert child.wait() == 0
    duration = time.perf_counter() - started

    rng = random.Random(7)
    iterations = 10
    outcomes = []
    for i in range(1, iterations + 1):
        known = {name: file_hashes(releases / name) for name in release_folders(releases)}
        latest_before = latest_version(releases)
        child = start(write_database(tmp_path / f"run{i}.duckdb", _bigger_rows(i)), releases)
        time.sleep(duration * 1.1 * (i - 1 + rng.random()) / iterations)  # spread the kills over the whole run
        child.send_signal(signal.SIGKILL)
        outcomes.append(child.wait())

        for name, hashes in known.items():
            assert file_hashes(releases / name) == hashes, f"run {i} changed the published release {name}"
        latest = resolve_release(releases)
        assert verify_release(latest) == [], f"run {i}: latest is broken"
        assert latest.name in {latest_before} | (set(release_folders(releases)) - set(known))
        for name in release_folders(releases):
            assert verify_release(releases / name) == [], f"run {i}: {name} looks like a release but is not one"

    final = publish_release(write_database(tmp_path / "final.duckdb", _bigger_rows(99)), releases, today=DAY)
    assert final.published and verify_release(resolve_release(releases)) == []
    assert file_hashes(first.path) == first_hashes
    assert not [p for p in releases.iterdir() if p.name.startswith(".tmp-")]
    assert outcomes.count(-signal.SIGKILL) >= iterations // 3  # runs really were killed part-way


def test_the_release_report_is_verified_file_by_file(release: Path) -> None:
    extra = release / "report" / "s" / "extra.html"
    extra.write_text("<p>not released</p>")
    assert any(p.startswith("report/s/extra.html: not listed") for p in verify_release(release))
    extra.unlink()
    page = _writable(next((release / "report" / "d").iterdir()))
    page.unlink()
    assert any(p.startswith(f"report/d/{page.name}: listed in SHA256SUMS but missing") for p in verify_release(release))


def test_a_release_without_the_texts_has_a_report_without_them(db: Path, releases: Path) -> None:
    result = publish_release(db, releases, today=DAY, include_text=False)
    pages = list((result.path / "report" / "d").iterdir())
    assert pages and all('id="text"' not in p.read_text() for p in pages)
    assert all("does not carry the full text" in p.read_text() for p in pages)
    assert verify_release(result.path) == []


def test_the_release_readme_gives_licence_citation_and_a_dictionary_of_every_column(release: Path) -> None:
    readme = (release / "README.md").read_text(encoding="utf-8")
    package = json.loads((release / "datapackage.json").read_text())
    assert "Creative Commons Attribution 4.0 International" in readme and "CC-BY-4.0" in readme
    assert f"version {release.name}" in readme and package["content_sha256"] in readme  # the suggested citation
    for resource in package["resources"]:
        assert f"### `{resource['path']}` ({resource['rows']} rows)" in readme
    for table in TABLES.values():  # every column of every table, with its meaning from fields.py
        for field in table.fields:
            if field.name != "text" or table.name != "documents":
                assert f"| `{field.name}` |" in readme and " ".join(field.description.split()).replace("|", "\\|") in readme


# --------------------------------------------------------------------------- texts a release may carry


def _licensed_rows(licences: dict[str, str]) -> dict[str, list[dict[str, Any]]]:
    rows = base_rows()
    for doc in rows["documents"]:
        doc["licence"] = licences.get(doc["document"])
    return rows


def test_by_default_a_release_carries_each_facts_sentence_and_document_but_no_text(tmp_path: Path) -> None:
    rows = _licensed_rows({})
    rows["mentions"][0]["sentence"] = "Facebook apps were used in 27 (40.2%) of those cases, and Snapchat in 9."
    db = write_database(tmp_path / "unlicensed.duckdb", rows)
    release = publish_release(db, tmp_path / "releases", today=DAY).path
    assert pq.read_table(release / "documents_text.parquet").num_rows == 0  # no licence given: no text copied
    facts = pq.read_table(release / "facts.parquet").to_pylist()
    hants = next(f for f in facts if f["fact_id"] == "f-hants-meta")
    assert hants["sentence"] == "Facebook apps were used in 27 (40.2%) of those cases, and Snapchat in 9."
    assert TEXTS["004_hampshire.txt"][hants["sentence_start"] :].startswith(hants["sentence"])
    assert hants["document_sha256"] == hashlib.sha256(TEXTS["004_hampshire.txt"].encode()).hexdigest()
    assert hants["document_title"] == "004_hampshire.txt"
    snap = next(f for f in facts if f["fact_id"] == "f-0-hants-snap")  # no mention recorded: the quote stands in
    assert (snap["sentence"], snap["sentence_start"]) == (snap["quote"], snap["char_start"])
    with duckdb.connect(str(db), read_only=True) as con:  # the local database keeps every text
        assert con.execute("select count(*) from documents where text is not null").fetchone() == (len(TEXTS),)
    assert "carries its quote, the full sentence" in (release / "README.md").read_text()
    assert verify_release(release) == []


def test_a_release_carries_the_text_of_a_document_whose_licence_allows_it(tmp_path: Path, releases: Path) -> None:
    rows = _licensed_rows({"002_scotland.txt": "OGL-UK-3.0", "004_hampshire.txt": "all rights reserved"})
    result = publish_release(write_database(tmp_path / "licensed.duckdb", rows), releases, today=DAY)
    texts = pq.read_table(result.path / "documents_text.parquet").to_pylist()
    assert [(t["document"], t["licence"]) for t in texts] == [("002_scotland.txt", "OGL-UK-3.0")]
    assert texts[0]["text"] == TEXTS["002_scotland.txt"]
    assert "1 of the 2 documents" in (result.path / "README.md").read_text()
    assert verify_release(result.path) == []


def test_verify_fails_a_quote_that_is_not_its_sentence_or_a_text_shipped_without_licence(tmp_path: Path) -> None:
    rows = _licensed_rows({"002_scotland.txt": "CC-BY-4.0"})
    result = publish_release(write_database(tmp_path / "licensed.duckdb", rows), tmp_path / "releases", today=DAY)
    folder = result.path
    facts = pq.read_table(folder / "facts.parquet")
    sentences = facts.column("sentence").to_pylist()
    sentences[0] = sentences[0].replace("2", "3")  # the quote no longer reads off its sentence
    edited = facts.set_column(facts.schema.get_field_index("sentence"), facts.schema.field("sentence"), pa.array(sentences))
    pq.write_table(edited.replace_schema_metadata(facts.schema.metadata), _writable(folder / "facts.parquet"))
    texts = pq.read_table(folder / "documents_text.parquet")
    pq.write_table(
        texts.set_column(2, texts.schema.field("licence"), pa.array(["all rights reserved"])).replace_schema_metadata(
            texts.schema.metadata
        ),
        _writable(folder / "documents_text.parquet"),
    )
    _reseal(folder)
    problems = verify_release(folder)
    assert any("whose quote is not their sentence" in p for p in problems), problems
    assert any("licence does not allow redistribution: 002_scotland.txt" in p for p in problems), problems


def test_the_licence_comes_from_sources_csv_and_is_matched_loosely() -> None:
    from pipeline.documents import _parse_manifest
    from pipeline.metadata.licences import allows_redistribution

    rows, warnings = _parse_manifest(b"file,url,licence\na.txt,https://x.gov.uk/a,OGL v3.0\nb.txt,,\n")
    assert not warnings and rows["a.txt"].licence == "OGL v3.0" and rows["b.txt"].licence is None
    assert [allows_redistribution(x) for x in ("OGL v3.0", "cc by 4.0", "CC-BY-NC-4.0", "all rights reserved", None)] == [
        True, True, False, False, False,
    ]
