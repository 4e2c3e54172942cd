"""Shared fixtures: a copy of the default dataset (data/raw), and the environment for a pipeline subprocess."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# The default dataset; the name is older than the dataset (it held the five seed documents once).
SEEDS = REPO / "data" / "raw"


@pytest.fixture
def seed_raw(tmp_path: Path) -> Path:
    """A copy of data/raw (the 61 documents of the seeds, dev and dev2 corpora and their sources.csv) that a test may change."""
    raw = tmp_path / "raw"
    shutil.copytree(SEEDS, raw)
    return raw


@pytest.fixture
def pipeline_env(tmp_path: Path, seed_raw: Path) -> dict[str, str]:
    """Environment for `python -m pipeline run` on seed_raw, with outputs and DAGSTER_HOME in tmp_path."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "DAGSTER_"))}
    env.update(
        PIPELINE_RAW_DIR=str(seed_raw),
        PIPELINE_CURATED_DIR=str(tmp_path / "curated"),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    return env


@pytest.fixture(scope="session")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The curated folder of one `python -m pipeline run` on a copy of the default dataset (data/raw).

    Session-wide because a run takes seconds; tests that use it only read what it made.
    """
    import subprocess
    import sys

    root = tmp_path_factory.mktemp("default_run")
    raw = root / "raw"
    shutil.copytree(SEEDS, raw)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "DAGSTER_"))}
    env.update(PIPELINE_RAW_DIR=str(raw), PIPELINE_CURATED_DIR=str(root / "curated"), DAGSTER_HOME=str(root / "dagster_home"))
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--quiet"], cwd=REPO, env=env, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return root / "curated"
