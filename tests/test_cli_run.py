"""`python -m pipeline run` as a user runs it: a subprocess on a folder given by the environment."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from conftest import REPO

pytestmark = pytest.mark.slow


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", "run", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )


def extraction_counts(stdout: str) -> tuple[int, int]:
    """(re-extracted, cached) as the summary reports them."""
    match = re.search(r"(\d+) re-extracted, (\d+) cached", stdout)
    assert match, stdout
    return int(match[1]), int(match[2])


def recorded_counts(dagster_home: Path) -> tuple[int, int]:
    """(re-extracted, cached) from the facts materialisation the run recorded in the Dagster instance."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("facts"))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    return metadata["re_extracted"].value, metadata["cached"].value


def recorded_reads(dagster_home: Path) -> tuple[int, int]:
    """(files read, files not opened) from the documents materialisation of the last run."""
    with dg.DagsterInstance.from_config(str(dagster_home)) as instance:
        event = instance.get_latest_materialization_event(dg.AssetKey("documents"))
    assert event is not None and event.asset_materialization is not None
    metadata = event.asset_materialization.metadata
    return metadata["files_read"].value, metadata["files_reused"].value


def test_run_builds_the_database_and_then_re_extracts_only_what_changed(pipeline_env: dict[str, str], seed_raw: Path) -> None:
    curated = Path(pipeline_env["PIPELINE_CURATED_DIR"])
    home = Path(pipeline_env["DAGSTER_HOME"])
    n_docs = len([p for p in seed_raw.iterdir() if p.name != "sources.csv"])

    first = run(pipeline_env, "--quiet")
    assert first.returncode == 0, first.stdout + first.stderr
    database = curated / "stats.duckdb"
    assert database.is_file()
    assert str(database) in first.stdout
    assert str(curated / "releases") in first.stdout
    assert f"{n_docs} documents, 0 rejected" in first.stdout
    assert extraction_counts(first.stdout) == (n_docs, 0)
    assert recorded_reads(home) == (n_docs, 0)
    assert (home / "dagster.yaml").is_file(), "the instance folder gets the repo's dagster.yaml"
    with duckdb.connect(str(database), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM documents").fetchone() == (n_docs,)

    second = run(pipeline_env, "--quiet")
    assert second.returncode == 0, second.stdout + second.stderr
    assert extraction_counts(second.stdout) == (0, n_docs)
    assert recorded_counts(home) == (0, n_docs)
    assert "unchanged" in second.stdout
    # A run over unchanged files opens none of them: the ingest's own count says so.
    assert recorded_reads(home) == (0, n_docs)
    assert f"0 files read, {n_docs} unchanged" in second.stdout

    changed = sorted(p for p in seed_raw.iterdir() if p.name != "sources.csv")[1]
    changed.write_text(changed.read_text(encoding="utf-8") + "\n\nOne more paragraph.\n", encoding="utf-8")
    third = run(pipeline_env, "--quiet")
    assert third.returncode == 0, third.stdout + third.stderr
    assert extraction_counts(third.stdout) == (1, n_docs - 1)
    assert recorded_counts(home) == (1, n_docs - 1)
    assert recorded_reads(home) == (1, n_docs - 1)


def test_run_shows_progress_per_step_without_dagster_event_log(pipeline_env: dict[str, str]) -> None:
    done = run(pipeline_env)
    assert done.returncode == 0, done.stdout + done.stderr
    for step in ("documents", "extractions", "database", "release"):
        assert f"  {step} ..." in done.stdout
    assert "STEP_START" not in done.stdout + done.stderr
    assert "pipeline run: done" in done.stdout


def test_run_reports_a_bad_document_as_rejected_and_still_succeeds(pipeline_env: dict[str, str], seed_raw: Path) -> None:
    (seed_raw / "empty.txt").write_bytes(b"")
    done = run(pipeline_env, "--quiet")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 rejected" in done.stdout
    assert "rejected empty.txt:" in done.stdout


def test_run_fails_with_a_clear_message_when_the_raw_folder_is_missing(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    env = {k: v for k, v in pipeline_env.items() if k != "DAGSTER_HOME"}  # the ephemeral instance
    env["PIPELINE_RAW_DIR"] = str(tmp_path / "nowhere")
    done = run(env, "--quiet")
    assert done.returncode != 0
    assert "FAILED step documents" in done.stdout
    assert "nowhere" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
