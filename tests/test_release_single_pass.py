"""Publishing reads each table once and trusts only what it has just written; verify trusts nothing.

Each table's files are written while its rows are hashed; the Parquet footers get the version (known only then)
afterwards, in place. These tests check the outcome is the release written the long way, that publishing's own
check reads back no file it hashed while writing, that `verify` still hashes every file, and that rows_sha256 in
datapackage.json tells the next release which tables changed without reading the previous one's tables.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from test_release import DAY, _reseal, _writable, base_facts, base_rows, write_database

import pipeline.release as release_module
from pipeline.release import publish_release, verify_release

PARQUET_KEYS = [b"pandas", b"release_version", b"extractor_version", b"table", b"description"]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return write_database(tmp_path / "stats.duckdb")


@pytest.fixture
def release(db: Path, tmp_path: Path) -> Path:
    return publish_release(db, tmp_path / "curated" / "releases", today=DAY).path


def _parquet_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.parquet"))


def _changed_rows() -> dict:  # type: ignore[type-arg]
    facts = [f for f in base_facts() if f["fact_id"] != "f-0-hants-snap"]
    facts[0]["count"] = 28
    return base_rows(facts)


def test_parquet_footers_completed_in_place_equal_files_written_with_the_version_from_the_start(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = publish_release(db, tmp_path / "fast", today=DAY)
    # no footer patched: every Parquet file written again from its row groups, the version in its schema from the start
    monkeypatch.setattr(release_module, "_patched_footer", lambda footer, old, new: None)
    slow = publish_release(db, tmp_path / "slow", today=DAY)

    assert fast.version == slow.version
    files = _parquet_files(fast.path)
    assert len(files) == 14
    for path in files:
        assert path.read_bytes() == (slow.path / path.name).read_bytes(), path.name
        metadata = pq.read_schema(path).metadata
        assert list(metadata) == PARQUET_KEYS, path.name
        assert metadata[b"release_version"] == fast.version.encode()
        assert metadata[b"table"] == path.stem.encode()
        assert pq.read_table(path).schema.metadata == metadata
        assert pq.read_metadata(path).metadata[b"release_version"] == fast.version.encode()  # the footer's own key
        assert json.loads(metadata[b"pandas"])["columns"]
    assert verify_release(fast.path) == [] and verify_release(slow.path) == []


def test_publishing_hashes_only_the_completed_parquet_files_again_and_verify_hashes_every_file(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipeline.report.build import build_report

    working = tmp_path / "curated" / "report"
    build_report(db, working)
    hashed: list[str] = []
    real = release_module._sha256_file

    def recording(path: Path | str) -> str:
        hashed.append(os.path.basename(str(path)) if "/report/" not in str(path) else "report page")
        return real(path)

    monkeypatch.setattr(release_module, "_sha256_file", recording)
    published = publish_release(db, tmp_path / "curated" / "releases", today=DAY, report_dir=working)

    assert sorted(hashed) == sorted(p.name for p in _parquet_files(published.path))  # once each, after the footer
    listed = (published.path / "SHA256SUMS").read_text().splitlines()
    assert sum(name.startswith("report/") for _, name in (line.split("  ", 1) for line in listed)) >= 5

    hashed.clear()
    assert verify_release(published.path) == []
    assert len(hashed) == len(listed)  # every file SHA256SUMS lists, read and hashed again
    assert hashed.count("report page") == sum("  report/" in line for line in listed)


def test_rows_sha256_is_the_hash_of_each_tables_rows(release: Path) -> None:
    package = json.loads((release / "datapackage.json").read_text())
    stored = package["rows_sha256"]
    tables = [r for r in package["resources"] if r["format"] == "parquet"]
    assert sorted(stored) == sorted(r["name"] for r in tables)
    for resource in tables:
        parquet = pq.ParquetFile(release / resource["path"])
        digest, rows = release_module._csv_sha256(parquet.schema_arrow.with_metadata(None), parquet.iter_batches())
        assert stored[resource["name"]] == digest and rows == resource["rows"], resource["name"]


def _tables_line(changes: str) -> str:
    return next(line for line in changes.splitlines() if line.startswith("Tables whose rows changed"))


def test_the_next_release_tells_the_tables_changed_from_rows_sha256_without_reading_the_previous_tables(
    db: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    changed_db = write_database(tmp_path / "changed.duckdb", _changed_rows())
    # the long way: a previous release without rows_sha256 (as published before it existed) has its tables hashed
    old_style = tmp_path / "old"
    first = publish_release(db, old_style, today=DAY)
    descriptor = _writable(first.path / "datapackage.json")
    package = json.loads(descriptor.read_text())
    del package["rows_sha256"]
    descriptor.write_text(json.dumps(package))
    expected = _tables_line((publish_release(changed_db, old_style, today=DAY).path / "CHANGES.md").read_text())
    assert "facts" in expected and "documents" not in expected.split(": ")[1].split(", ")

    publish_release(db, tmp_path / "new", today=DAY)
    read: list[str] = []
    real = release_module._csv_sha256

    def recording(table_schema, batches):  # type: ignore[no-untyped-def]
        read.append("previous table")
        return real(table_schema, batches)

    monkeypatch.setattr(release_module, "_csv_sha256", recording)
    second = publish_release(changed_db, tmp_path / "new", today=DAY)
    assert _tables_line((second.path / "CHANGES.md").read_text()) == expected
    assert read == []  # no table of the previous release read again


def test_rows_sha256_that_do_not_hash_to_the_content_hash_are_not_trusted(db: Path, tmp_path: Path) -> None:
    releases = tmp_path / "releases"
    first = publish_release(db, releases, today=DAY)
    descriptor = _writable(first.path / "datapackage.json")
    package = json.loads(descriptor.read_text())
    truth = dict(package["rows_sha256"])
    package["rows_sha256"] = {**truth, "facts": "0" * 64, "documents": "0" * 64}  # would say both changed
    descriptor.write_text(json.dumps(package))
    rows = base_rows()
    rows["rejected_documents"].append({"document": "photo.jpg", "reason": "binary file (image/jpeg)", "bytes": 12})

    second = publish_release(write_database(tmp_path / "rejected.duckdb", rows), releases, today=DAY)

    assert "Only the rejected inputs changed" in (second.path / "CHANGES.md").read_text()


def test_verify_names_the_table_whose_rows_sha256_is_wrong(release: Path) -> None:
    descriptor = _writable(release / "datapackage.json")
    package = json.loads(descriptor.read_text())
    package["rows_sha256"]["mentions"] = "0" * 64
    descriptor.write_text(json.dumps(package))
    _reseal(release)

    assert verify_release(release) == ["datapackage.json: rows_sha256 of mentions differ from the hash of their rows"]


def test_release_files_lists_what_a_recursive_glob_finds(tmp_path: Path) -> None:
    folder = tmp_path / "r"
    (folder / "report" / "d").mkdir(parents=True)
    for name in ("a.parquet", "SHA256SUMS", "report/index.html", "report/d/x.html"):
        (folder / name).write_text(name)
    (folder / "report" / "link.html").symlink_to(folder / "a.parquet")  # a link to a file is a file
    (folder / "report" / "folder").symlink_to(folder / "report" / "d", target_is_directory=True)  # not followed
    (folder / "broken").symlink_to(folder / "nowhere")

    found = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert release_module._release_files(folder) == [n for n in found if n != "SHA256SUMS"]
    assert release_module._release_files(folder) == ["a.parquet", "report/d/x.html", "report/index.html", "report/link.html"]
