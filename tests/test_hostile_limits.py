"""Bounded cost per document and no leftovers: the time budget, workers that die with their parent,
stale database temporaries swept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from builders import make_docx_bomb, make_shared_stream_pdf
from conftest import REPO

from pipeline.database import sweep_stale_temporaries
from pipeline.documents import DocumentError, document_from_bytes

TOPIC = "Police recorded {} offences of sexual communication with a child on Instagram in 2023, the NSPCC said."
LONG = ("Police recorded 1,234 offences of grooming on Facebook and Instagram in 2023 " * 11000)[:800_000]


def pipeline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_bombs_are_rejected_by_what_they_unpack_to_not_by_their_size() -> None:
    cases = [
        (make_docx_bomb(100_000_000), "DOCX too large when unpacked"),
        (make_docx_bomb(20_000_000), "DOCX text too long: more than 3,000,000 characters"),
        (make_shared_stream_pdf(300, 20_000), "PDF too large when unpacked"),
    ]
    for raw, reason in cases:
        assert len(raw) < 400_000
        with pytest.raises(DocumentError, match=reason):
            document_from_bytes(raw, document="bomb")
    assert document_from_bytes(make_shared_stream_pdf(3, 2), document="small.pdf").pages == 3


def test_the_time_budget_stops_one_document_and_the_others_still_come_out(tmp_path: Path) -> None:
    (tmp_path / "long.txt").write_text(LONG)
    (tmp_path / "ok.txt").write_text(TOPIC.format("1,234") + "\n")
    env = {**os.environ, "PIPELINE_DOC_SECONDS": "0.5"}
    for command in ("extract", "explain"):
        done = pipeline(env, command, str(tmp_path / "long.txt"), str(tmp_path / "ok.txt"))
        assert done.returncode == 1, done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith(f"pipeline {command}: long.txt: extraction stopped: took more than 0.5 s of CPU"), line
        assert "1234" in done.stdout.replace(",", "")


@pytest.mark.slow
def test_a_run_leaves_a_document_that_runs_out_of_time_without_facts_and_says_so(
    pipeline_env: dict[str, str], seed_raw: Path
) -> None:
    (seed_raw / "long.txt").write_text(LONG)
    done = pipeline({**pipeline_env, "PIPELINE_DOC_SECONDS": "0.5"}, "run")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "warning: long.txt: extraction stopped: took more than 0.5 s of CPU" in done.stdout
    import duckdb

    with duckdb.connect(str(Path(pipeline_env["PIPELINE_CURATED_DIR"]) / "stats.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents WHERE document = 'long.txt'").fetchone() == (1,)
        assert con.execute("SELECT count(*) FROM facts WHERE document = 'long.txt'").fetchone() == (0,)
        assert con.execute("SELECT count(*) FROM facts").fetchone()[0] > 0


def _dead(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True
    return "\nState:\tZ" in state


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_pool_workers_die_with_the_process_that_started_them() -> None:
    code = (
        "import os, sys, time\n"
        "from pipeline.workers import process_pool\n"
        "if __name__ == '__main__':\n"
        "    pool = process_pool(2)\n"
        "    print(*{pool.submit(os.getpid).result() for _ in range(20)}, flush=True)\n"
        "    time.sleep(600)\n"
    )
    script = Path(os.environ.get("TMPDIR", "/tmp")) / f"pool_owner_{os.getpid()}.py"
    script.write_text(code)
    owner = subprocess.Popen([sys.executable, str(script)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout is not None
        workers = [int(p) for p in owner.stdout.readline().split()]
        assert workers and not any(_dead(p) for p in workers)
        owner.send_signal(signal.SIGKILL)  # no cleanup of any kind in the owner
        owner.wait()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not all(_dead(p) for p in workers):
            time.sleep(0.2)
        assert all(_dead(p) for p in workers), "orphaned workers outlived their owner"
    finally:
        owner.kill()
        script.unlink(missing_ok=True)


def test_stale_database_temporaries_of_dead_runs_are_swept_and_live_ones_kept(tmp_path: Path) -> None:
    database = tmp_path / "stats.duckdb"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(dead.stdout)  # a process that has exited
    stale = tmp_path / f".stats.duckdb.{dead_pid}-0123abcd.tmp"
    stale_wal = tmp_path / f".stats.duckdb.{dead_pid}-0123abcd.tmp.wal"
    live = tmp_path / f".stats.duckdb.{os.getpid()}-4567ef01.tmp"
    old_style = tmp_path / ".stats.duckdb.89abcdef89abcdef.tmp"
    recent_old_style = tmp_path / ".stats.duckdb.fedcba98fedcba98.tmp"
    other = tmp_path / ".other.duckdb.1-2.tmp"
    for path in (stale, stale_wal, live, old_style, recent_old_style, other):
        path.write_bytes(b"x" * 1000)
    os.utime(old_style, (time.time() - 7200, time.time() - 7200))
    removed = sweep_stale_temporaries(database)
    assert sorted(removed) == sorted([stale, stale_wal, old_style])
    assert live.exists() and recent_old_style.exists() and other.exists()
