"""`make ui`: `dagster dev` on localhost serves the asset graph and its checks, and can run it.

Starts the real `dagster dev` (webserver, daemon, code server) on a free port with a
DAGSTER_HOME in tmp_path, talks to it over HTTP, and always ends its process group.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

START_TIMEOUT = 120  # seconds for dagster dev to answer /server_info
RUN_TIMEOUT = 180  # seconds for a launched run to finish

ASSETS_QUERY = """
{
  assetNodes {
    assetKey { path }
    assetChecksOrError { ... on AssetChecks { checks { name blocking } } }
  }
}
"""
LAUNCH = """
mutation Launch($params: ExecutionParams!) {
  launchRun(executionParams: $params) {
    __typename
    ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message }
    ... on RunConfigValidationInvalid { errors { message } }
  }
}
"""
RUN_STATUS = """
query Status($runId: ID!) { runOrError(runId: $runId) { ... on Run { status } } }
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(url: str) -> dict[str, Any]:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


def graphql(base: str, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(f"{base}/graphql", data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        payload = json.loads(response.read())
    assert "errors" not in payload, payload
    return payload["data"]


def stop(process: subprocess.Popen[bytes]) -> None:
    """Ctrl-C for the whole group (dagster dev shuts its children down on SIGINT), then SIGKILL if needed."""
    for sig, grace in ((signal.SIGINT, 20), (signal.SIGKILL, 10)):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace)
            os.killpg(process.pid, 0)  # children may outlive the parent
        except ProcessLookupError:
            return
        except subprocess.TimeoutExpired:
            pass


@pytest.fixture
def dagster_dev(tmp_path: Path, pipeline_env: dict[str, str]) -> Iterator[str]:
    home = Path(pipeline_env["DAGSTER_HOME"])
    home.mkdir()
    shutil.copyfile(REPO / "dagster.yaml", home / "dagster.yaml")  # as `make ui` does
    port = free_port()
    log = (tmp_path / "dagster_dev.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "dagster", "dev", "-h", "127.0.0.1", "-p", str(port), "-m", "pipeline.definitions"],
        cwd=REPO,
        env=pipeline_env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if process.poll() is not None:
                pytest.fail(f"dagster dev exited with {process.returncode}:\n{(tmp_path / 'dagster_dev.log').read_text()}")
            try:
                get(f"{base}/server_info")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline:
                    pytest.fail(f"dagster dev did not answer within {START_TIMEOUT}s")
                time.sleep(0.5)
        yield base
    finally:
        stop(process)
        log.close()


def test_ui_serves_the_asset_graph_with_checks_and_runs_it(dagster_dev: str, pipeline_env: dict[str, str]) -> None:
    info = get(f"{dagster_dev}/server_info")
    assert info["dagster_version"]

    nodes = graphql(dagster_dev, ASSETS_QUERY)["assetNodes"]
    checks = {"/".join(n["assetKey"]["path"]): {c["name"] for c in n["assetChecksOrError"]["checks"]} for n in nodes}
    assert set(checks) == {
        "documents", "mentions", "facts", "corrections", "statistics", "citations", "conflicts", "review", "database", "release", "report",
    }
    assert {c["name"]: c["blocking"] for n in nodes for c in n["assetChecksOrError"]["checks"]}["every_correction_applies"]
    assert checks["documents"] == {"every_input_accounted_for", "columns_meet_constraints"}
    assert {"slugs_in_taxonomy", "columns_meet_constraints", "quotes_match_spans"} <= checks["facts"]

    selector = {"repositoryLocationName": "pipeline.definitions", "repositoryName": "__repository__", "jobName": "build"}
    launched = graphql(dagster_dev, LAUNCH, {"params": {"selector": selector, "runConfigData": "{}"}})["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run_id = launched["run"]["runId"]
    deadline = time.monotonic() + RUN_TIMEOUT
    status = None
    while time.monotonic() < deadline:
        status = graphql(dagster_dev, RUN_STATUS, {"runId": run_id})["runOrError"]["status"]
        if status in ("SUCCESS", "FAILURE", "CANCELED"):
            break
        time.sleep(1)
    assert status == "SUCCESS"
    assert (Path(pipeline_env["PIPELINE_CURATED_DIR"]) / "stats.duckdb").is_file()
