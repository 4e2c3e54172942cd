"""Past one machine: the job on dagster-celery's executor, with a real Redis broker and two Celery workers.

The flow of the README's "Past one machine": the archive is split into sub-folders; one run per
sub-folder selects only documents, mentions and facts (the two run at once, their steps taken by
whichever worker is free); then the whole graph runs once over the archive, every step in a worker,
every document from the cache the sub-folder runs filled. Everything goes through one shared folder
(the Dagster instance, the step outputs, the curated folder), as pods would share a volume. The
database and the release must equal those of an in-process run over a copy of the same archive.

Needs Debian's ``redis-server`` (``.ci/run`` installs it) and the ``celery`` extra (``make install``
installs it); Redis listens on a free port of 127.0.0.1 only.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from pipeline.config import Settings
from pipeline.metadata.tables import TABLES

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]
PARTS = 4
COPIES = 5  # copies of each default document: 5 x 61 = 305 documents


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for_redis(port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                if s.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("redis-server did not answer")


def build_archive(raw: Path, seeds: Path) -> int:
    """COPIES distinct copies of every default document, spread over PARTS sub-folders (part-00 ...)."""
    docs = sorted(p for p in seeds.iterdir() if p.is_file() and p.name != "sources.csv")
    n = 0
    for copy in range(COPIES):
        for doc in docs:
            part = raw / f"part-{n % PARTS:02d}"
            part.mkdir(parents=True, exist_ok=True)
            target = part / f"c{copy}-{doc.name}"
            data = doc.read_bytes()
            if doc.suffix == ".txt" or data[:1] != b"%":
                data += f"\n\nArchive copy {copy}.\n".encode()  # every copy distinct (no duplicate rejected)
            target.write_bytes(data)
            n += 1
    return n


def tables(database: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(database), read_only=True) as con:
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in TABLES}


@pytest.fixture
def redis_port(tmp_path: Path):  # type: ignore[no-untyped-def]
    server = shutil.which("redis-server")
    if server is None:
        pytest.fail("redis-server is not installed (apt-get install redis-server; .ci/run does it)")
    port = _free_port()
    proc = subprocess.Popen(
        [server, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_redis(port, time.monotonic() + 30)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_the_job_runs_on_celery_workers_and_equals_an_in_process_run(tmp_path: Path, redis_port: int) -> None:
    pytest.importorskip("dagster_celery", reason="the celery extra is not installed (make install installs it)")
    shared = tmp_path / "shared"  # the volume every process sees
    raw, curated, home = shared / "raw", shared / "curated", shared / "dagster"
    n_docs = build_archive(raw, REPO / "data" / "raw")
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:  # create its storage once, before many processes open it
        instance.get_runs()
    broker = f"redis://127.0.0.1:{redis_port}/0"
    config_dir = tmp_path / "celery_config"
    config_dir.mkdir()
    (config_dir / "dagster_celery_config.py").write_text(
        f"broker_url = {broker!r}\nresult_backend = 'redis://127.0.0.1:{redis_port}/1'\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "DAGSTER_"))}
    env.update(
        DAGSTER_HOME=str(home),
        PIPELINE_EXECUTOR="celery",
        PYTHONPATH=os.pathsep.join([str(config_dir), str(REPO)]),
        PIPELINE_WORKERS="1",
    )
    logs = tmp_path / "logs"
    logs.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-Q", "dagster", "-n", f"w{i}@%h",
             "--pool", "solo", "--prefetch-multiplier", "1", "--loglevel", "WARNING"],
            cwd=REPO, env=env, stdout=open(logs / f"w{i}.out", "w"), stderr=subprocess.STDOUT,
        )
        for i in (1, 2)
    ]
    try:
        def config(raw_dir: Path) -> Path:
            path = tmp_path / f"run-{raw_dir.name}.yaml"
            path.write_text(
                "execution:\n  config:\n"
                f"    broker: {broker!r}\n    backend: 'redis://127.0.0.1:{redis_port}/1'\n"
                "resources:\n  settings:\n    config:\n"
                f"      raw_dir: {str(raw_dir)!r}\n      curated_dir: {str(curated)!r}\n      workers: 1\n"
                # Runs at the same time over sub-folders keep their step outputs apart: an asset's
                # output is stored under its name, so two runs of `documents` would overwrite each other.
                f"  io_manager:\n    config:\n      base_dir: {str(home / 'storage' / raw_dir.name)!r}\n"
            )
            return path

        dagster = [sys.executable, "-m", "dagster"]
        parts = sorted(raw.iterdir())
        extracting = [
            subprocess.Popen(
                [*dagster, "asset", "materialize", "-m", "pipeline.definitions", "--select", "documents,mentions,facts",
                 "-c", str(config(part))],
                cwd=REPO, env=env, stdout=open(logs / f"{part.name}.out", "w"), stderr=subprocess.STDOUT,
            )
            for part in parts[:2]
        ]
        for proc, part in zip(extracting, parts, strict=False):
            assert proc.wait(timeout=900) == 0, (logs / f"{part.name}.out").read_text()[-4000:]
        whole = subprocess.run(
            [*dagster, "job", "execute", "-m", "pipeline.definitions", "-j", "build", "-c", str(config(raw))],
            cwd=REPO, env=env, capture_output=True, text=True, timeout=900,
        )
        assert whole.returncode == 0, whole.stdout[-4000:] + whole.stderr[-4000:]
    finally:
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait(timeout=60)

    # Every step of every run ran in one of the two workers.
    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs()
        assert len(runs) == 3 and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        ran_in: dict[str, set[str]] = {}
        for run in runs:
            for record in instance.all_logs(run.run_id):
                event = record.dagster_event
                if event is not None and event.event_type_value == "ENGINE_EVENT" and "in celery worker" in (event.message or ""):
                    worker = event.engine_event_data.metadata["Celery worker"].value
                    ran_in.setdefault(event.step_key or "", set()).add(worker.split("@")[0])
            steps = {r.dagster_event.step_key for r in instance.all_logs(run.run_id) if r.dagster_event and r.dagster_event.event_type_value == "STEP_SUCCESS"}
            assert steps and all(s in ran_in for s in steps), (steps, ran_in)
    assert set().union(*ran_in.values()) == {"w1", "w2"}  # both workers took steps (one task at a time each)

    # The same tables and the same release as one in-process run over a copy of the archive.
    fresh = tmp_path / "in_process"
    shutil.copytree(raw, fresh / "raw")
    from pipeline.defs.run import run_pipeline

    saved = os.environ.pop("DAGSTER_HOME", None)
    try:
        assert run_pipeline(Settings(raw_dir=fresh / "raw", curated_dir=fresh / "curated", workers=1), progress=False) == 0
    finally:
        if saved is not None:
            os.environ["DAGSTER_HOME"] = saved
    got = tables(curated / "stats.duckdb")
    assert len(got["documents"]) == n_docs
    assert got == tables(fresh / "curated" / "stats.duckdb")
    released = (curated / "releases" / "LATEST").read_text().strip()
    assert released == (fresh / "curated" / "releases" / "LATEST").read_text().strip()
