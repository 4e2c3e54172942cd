"""`pipeline run` refuses to wipe the dataset, and every configuration error is one line (exit 2)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO


def pipeline(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pipeline", *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )


def state(curated: Path) -> tuple[str, str, str]:
    """What a failed run must leave alone: the database's bytes, where `latest` points and LATEST."""
    releases = curated / "releases"
    return (
        hashlib.sha256((curated / "stats.duckdb").read_bytes()).hexdigest(),
        os.readlink(releases / "latest"),
        (releases / "LATEST").read_text(),
    )


@pytest.mark.parametrize(
    ("variable", "value", "accepts"),
    [
        ("PIPELINE_MAX_BYTES", "abc", "a whole number of bytes, 1 or more"),
        ("PIPELINE_MAX_BYTES", "-5", "a whole number of bytes, 1 or more"),
        ("PIPELINE_MAX_BYTES", "0", "a whole number of bytes, 1 or more"),
        ("PIPELINE_WORKERS", "abc", "0 (one process per core) or a whole number of processes"),
        ("PIPELINE_WORKERS", "-2", "0 (one process per core) or a whole number of processes"),
        ("PIPELINE_ALLOW_SHRINK", "maybe", "1/true/yes or 0/false/no"),
        ("PIPELINE_MAX_SHRINK", "1.5", "a fraction from 0 to 1"),
    ],
)
def test_a_wrong_setting_is_one_line_naming_it_and_exit_2(
    pipeline_env: dict[str, str], variable: str, value: str, accepts: str
) -> None:
    env = {**pipeline_env, variable: value}
    for command in (["run", "--quiet"], ["extract", str(REPO / "data" / "raw")]):
        if command[0] == "extract" and variable != "PIPELINE_WORKERS":
            continue
        done = pipeline(env, *command)
        assert done.returncode == 2, done.stdout + done.stderr
        (line,) = done.stderr.splitlines()
        assert variable in line and repr(value) in line and accepts in line, line
        assert done.stdout == ""
    assert not Path(pipeline_env["PIPELINE_CURATED_DIR"]).exists(), "nothing may be written before the settings are checked"


def test_a_curated_path_that_is_a_file_is_one_line_before_anything_runs(pipeline_env: dict[str, str], tmp_path: Path) -> None:
    a_file = tmp_path / "curated.txt"
    a_file.write_text("not a folder\n")
    for curated, culprit in ((a_file, "it"), (a_file / "below", str(a_file))):
        done = pipeline({**pipeline_env, "PIPELINE_CURATED_DIR": str(curated)}, "run", "--quiet")
        assert done.returncode == 2, done.stdout + done.stderr
        (line,) = done.stderr.splitlines()
        assert line.startswith("pipeline run: PIPELINE_CURATED_DIR=") and f"{culprit} is a file; expected a folder" in line
    assert pipeline({**pipeline_env, "PIPELINE_WORKERS": "1"}, "extract", "-j", "-1", "x").returncode == 2


@pytest.mark.slow
def test_an_empty_or_shrunken_raw_folder_never_replaces_the_dataset(pipeline_env: dict[str, str], seed_raw: Path) -> None:
    curated = Path(pipeline_env["PIPELINE_CURATED_DIR"])
    first = pipeline(pipeline_env, "run", "--quiet")
    assert first.returncode == 0, first.stdout + first.stderr
    before = state(curated)

    # An unmounted share: the folder is there, with nothing in it.
    parked = seed_raw.parent / "parked"
    shutil.move(seed_raw, parked)
    seed_raw.mkdir()
    empty = pipeline(pipeline_env, "run", "--quiet")
    assert empty.returncode == 1, empty.stdout + empty.stderr
    assert "holds no input files" in empty.stdout and str(seed_raw) in empty.stdout
    assert "Traceback" not in empty.stdout + empty.stderr
    assert state(curated) == before

    # Half a share: one document of many. More than half the facts would go.
    kept = sorted(p for p in parked.iterdir() if p.suffix == ".txt")[0]
    shutil.copy(kept, seed_raw / kept.name)
    shrunk = pipeline(pipeline_env, "run", "--quiet")
    assert shrunk.returncode == 1, shrunk.stdout + shrunk.stderr
    assert "refusing to replace the dataset" in shrunk.stdout and "--allow-shrink" in shrunk.stdout
    assert state(curated) == before

    allowed = pipeline({**pipeline_env, "PIPELINE_ALLOW_SHRINK": "1"}, "run", "--quiet")
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    after = state(curated)
    assert after[0] != before[0] and after[1] != before[1]

    # Back to the whole folder: growing needs no flag. Then the shrink again, allowed by --allow-shrink.
    shutil.rmtree(seed_raw)
    shutil.move(parked, seed_raw)
    assert pipeline(pipeline_env, "run", "--quiet").returncode == 0
    for p in seed_raw.iterdir():
        if p.name not in {"sources.csv", kept.name}:
            p.unlink() if p.is_file() else shutil.rmtree(p)
    assert pipeline(pipeline_env, "run", "--quiet").returncode == 1
    done = pipeline(pipeline_env, "run", "--quiet", "--allow-shrink")
    assert done.returncode == 0, done.stdout + done.stderr
