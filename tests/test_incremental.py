"""The incremental database: a run loads only the documents that changed, and the result equals a full build.

Every test runs the real pipeline (``run_pipeline``, in-process) on copies of the default dataset.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Settings
from pipeline.database import STATE_SCHEMA, load_database
from pipeline.defs.run import run_pipeline
from pipeline.documents import ingest
from pipeline.extractor.batch import extract_documents
from pipeline.metadata.tables import TABLES

pytestmark = pytest.mark.slow

READER = """
import sys, duckdb
con = duckdb.connect(sys.argv[1], read_only=True)
print(con.execute("SELECT count(*), sum(length(text)) FROM documents").fetchone(), flush=True)
sys.stdin.readline()
print(con.execute("SELECT count(*), sum(length(text)) FROM documents").fetchone(), flush=True)
"""


def settings(raw: Path, curated: Path) -> Settings:
    return Settings(raw_dir=raw, curated_dir=curated, workers=1)


def run(raw: Path, curated: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert run_pipeline(settings(raw, curated), progress=False) == 0


def tables(database: Path) -> dict[str, list[tuple]]:
    """Every table's rows, sorted (row order in a table carries no meaning)."""
    with duckdb.connect(str(database), read_only=True) as con:
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in TABLES}


def test_a_full_run_loads_what_the_in_memory_loader_loads(seed_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run(seed_raw, tmp_path / "curated", monkeypatch)
    ingested = ingest(seed_raw, max_bytes=Settings.from_env().max_bytes)
    batch = extract_documents(ingested.documents, cache_dir=None, workers=1)
    reference = tmp_path / "reference.duckdb"
    load_database(reference, documents=ingested.documents, rejected=ingested.rejected, mentions=batch.mentions, facts=batch.facts)
    assert tables(tmp_path / "curated" / "stats.duckdb") == tables(reference)


def test_changes_are_loaded_alone_and_the_result_equals_a_full_build(
    seed_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    curated = tmp_path / "curated"
    run(seed_raw, curated, monkeypatch)
    database = curated / "stats.duckdb"
    before = database.stat()

    # Nothing changed: the database file is not touched, the release not rebuilt.
    run(seed_raw, curated, monkeypatch)
    after = database.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)

    # One added, one changed, one removed, one renamed (same content under a new path).
    names = sorted(p for p in seed_raw.iterdir() if p.name != "sources.csv")
    changed, removed, renamed = names[0], names[1], names[2]
    changed.write_text(changed.read_text(encoding="utf-8") + "\nPolice recorded 4,321 offences of sexual communication "
                       "with a child in 2023/24, the NSPCC said.\n", encoding="utf-8")
    removed.unlink()
    (seed_raw / "moved").mkdir()
    renamed.rename(seed_raw / "moved" / renamed.name)
    (seed_raw / "added.txt").write_text(
        "Figures obtained by the NSPCC show police in England and Wales recorded 7,062 offences of sexual "
        "communication with a child in 2022/23.\n", encoding="utf-8"
    )
    # A reader in another process, holding the old file open, keeps its consistent view of it.
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(database)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert reader.stdout is not None and reader.stdin is not None
    old_documents = reader.stdout.readline().strip()
    run(seed_raw, curated, monkeypatch)
    reader.stdin.write("again\n")
    reader.stdin.flush()
    assert reader.stdout.readline().strip() == old_documents
    reader.stdin.close()
    assert reader.wait(timeout=60) == 0
    with duckdb.connect(str(database), read_only=True) as con:
        (added,) = con.execute(f"SELECT count(*) FROM {STATE_SCHEMA}.loaded").fetchone()
        assert con.execute("SELECT count(*) FROM facts WHERE document = 'added.txt'").fetchone()[0] >= 1
        assert con.execute(f"SELECT count(*) FROM facts WHERE document = 'moved/{renamed.name}'").fetchone()[0] >= 1
        assert con.execute(f"SELECT count(*) FROM documents WHERE document = '{removed.name}'").fetchone() == (0,)

    fresh = tmp_path / "fresh"
    run(seed_raw, fresh, monkeypatch)
    assert tables(database) == tables(fresh / "stats.duckdb")
    assert (curated / "releases" / "LATEST").read_text().strip() == (fresh / "releases" / "LATEST").read_text().strip()


def test_a_database_of_other_definitions_is_rebuilt(seed_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    curated = tmp_path / "curated"
    run(seed_raw, curated, monkeypatch)
    database = curated / "stats.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(f"UPDATE {STATE_SCHEMA}.info SET fingerprint = 'older definitions'")
        con.execute("DELETE FROM facts")
    run(seed_raw, curated, monkeypatch)
    fresh = tmp_path / "fresh"
    shutil.rmtree(fresh, ignore_errors=True)
    run(seed_raw, fresh, monkeypatch)
    assert tables(database) == tables(fresh / "stats.duckdb")


def test_a_run_failing_after_curated_slices_were_committed_leaves_the_database_as_it_was(
    seed_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database step commits between slices of curation (database.commit_point) so an open transaction does
    not hold every slice's rows in memory; those commits are in the private copy, so a failure after some of them
    still leaves the database as it was, and no copy behind."""
    import pipeline.curate as curate

    curated = tmp_path / "curated"
    run(seed_raw, curated, monkeypatch)
    database = curated / "stats.duckdb"
    before = tables(database)
    with duckdb.connect(str(database)) as con:
        (groups,) = con.execute('SELECT count(*) FROM (SELECT DISTINCT source, year, region, offence, measure FROM facts)').fetchone()
        # another curation fingerprint: the next run curates every group again
        con.execute(f"UPDATE {STATE_SCHEMA}.extra SET value = 'curated by other code'")
    assert groups >= 4

    calls = []
    real = curate.curate_groups

    def failing_on_the_third_slice(rows, docs):  # type: ignore[no-untyped-def]
        calls.append(len(rows))
        if len(calls) == 3:
            raise RuntimeError("curation failed on the third slice")
        return real(rows, docs)

    monkeypatch.setattr(curate, "SLICE_FACTS", 1)  # a slice a group
    monkeypatch.setattr(curate, "curate_groups", failing_on_the_third_slice)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    assert run_pipeline(settings(seed_raw, curated), progress=False) != 0
    assert len(calls) == 3  # two slices were curated and committed before the failure
    assert tables(database) == before
    assert [p.name for p in curated.iterdir() if p.name.startswith(".stats.duckdb")] == []
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute(f"SELECT value FROM {STATE_SCHEMA}.extra").fetchone() == ("curated by other code",)
