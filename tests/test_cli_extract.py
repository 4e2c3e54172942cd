"""`pipeline extract`: facts of files as JSON Lines, the same from one process or several."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import SEEDS

from pipeline.config import DEFAULT_MAX_BYTES
from pipeline.documents import ingest
from pipeline.extractor import extract_document
from pipeline.workers import PARALLEL_MIN_JOBS

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run_extract(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "extract", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def many_files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Enough documents for extract to start worker processes: the seed documents, each copy made
    distinct by a last line without numbers (identical copies are duplicates, read once)."""
    folder = tmp_path_factory.mktemp("many")
    seeds = sorted(SEEDS.glob("*.txt"))[:5]
    for i in range(PARALLEL_MIN_JOBS // len(seeds) + 2):
        for seed in seeds:
            copy = "".join(chr(ord("a") + int(d)) for d in f"{i:03d}")
            (folder / f"{i:03d}-{seed.name}").write_text(seed.read_text(encoding="utf-8") + f"\nCopy {copy}\n", encoding="utf-8")
    return folder


def test_extract_prints_each_fact_once_with_its_quote_at_its_span() -> None:
    done = run_extract(str(SEEDS))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    documents = ingest(SEEDS, max_bytes=DEFAULT_MAX_BYTES).documents  # as `pipeline run` reads them
    expected = sum(len(extract_document(doc).facts) for doc in documents)
    assert len(rows) == expected > 0
    assert len({r["fact_id"] for r in rows}) == len(rows)
    for row in rows:
        text = (SEEDS / row["document"]).read_text(encoding="utf-8")
        assert text[row["char_start"] : row["char_end"]] == row["quote"]
        assert row["period_end"] is None or len(row["period_end"]) == 10  # ISO dates


def test_worker_processes_give_the_same_output_in_the_same_order(many_files: Path) -> None:
    serial = run_extract("--workers", "1", str(many_files))
    parallel = run_extract("--workers", "2", str(many_files))
    assert serial.returncode == parallel.returncode == 0, parallel.stderr
    assert serial.stdout.count("\n") > 100
    assert parallel.stdout == serial.stdout


def test_an_unreadable_file_is_reported_and_the_others_still_come_out(many_files: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    shutil.copytree(many_files, folder)
    (folder / "000-empty.txt").write_bytes(b"")
    (folder / "zzz-binary.txt").write_bytes(b"\x00\x01\x02" * 100)
    done = run_extract(str(folder))  # many files: the worker processes report the failures
    assert done.returncode == 1
    assert "000-empty.txt" in done.stderr and "zzz-binary.txt" in done.stderr
    expected = run_extract(str(many_files)).stdout
    assert done.stdout == expected


def test_run_extract_and_explain_give_a_document_the_same_facts_and_year(default_run: Path) -> None:
    # sources.csv gives the documents their dates: every command reads the raw folder the same way
    import duckdb

    with duckdb.connect(str(default_run / "stats.duckdb"), read_only=True) as db:
        ran = sorted(db.execute("select document, char_start, char_end, count, share, year, region from facts").fetchall())
    folder = run_extract(str(SEEDS))
    assert folder.returncode == 0, folder.stderr
    rows = [json.loads(line) for line in folder.stdout.splitlines()]
    assert sorted((r["document"], r["char_start"], r["char_end"], r["count"], r["share"], r["year"], r["region"]) for r in rows) == ran
    # a document whose text states no date takes its year from its sources.csv row, file by file too
    dated = next(r for r in rows if r["year_from"] == "published")
    one = run_extract(str(SEEDS / dated["document"]))
    assert one.returncode == 0, one.stderr
    assert [json.loads(line)["year"] for line in one.stdout.splitlines()] == [r["year"] for r in rows if r["document"] == dated["document"]]
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_")}
    explained = subprocess.run(
        [sys.executable, "-m", "pipeline", "explain", str(SEEDS / dated["document"])], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert f"year={dated['year']}" in explained.stdout
