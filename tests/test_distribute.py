"""A release published to a folder or fsspec URL, served over loopback HTTP, downloads, verifies and opens."""

from __future__ import annotations

import functools
import http.server
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

from pipeline.distribute import DistributionError, download, publish
from pipeline.release import verify_release

pytestmark = pytest.mark.slow


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep the test output clean
        pass


@pytest.fixture
def serve() -> Iterator:
    """serve(folder) -> its http://127.0.0.1:<port>/ URL, on a port the OS picks; stopped after the test."""
    servers = []

    def start(folder: Path) -> str:
        handler = functools.partial(_QuietHandler, directory=str(folder))
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}/"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=REPO, capture_output=True, text=True, timeout=300)


@pytest.fixture
def site(default_run: Path, tmp_path: Path) -> Path:
    """The default run's latest release published to a folder, as `pipeline publish --to` does."""
    done = cli("publish", "--to", str(tmp_path / "site"), str(default_run / "releases"))
    assert done.returncode == 0, done.stdout + done.stderr
    return tmp_path / "site"


def _facts_count(release: Path) -> int:
    return duckdb.sql(f"select count(*) from '{release / 'facts.parquet'}'").fetchone()[0]


def test_publish_writes_the_release_folder_and_a_latest_file_naming_it(site: Path, default_run: Path) -> None:
    version = (site / "LATEST").read_text().strip()
    local = (default_run / "releases" / "latest").resolve()
    assert version == local.name
    assert sorted(p.name for p in (site / version).iterdir()) == sorted(p.name for p in local.iterdir())
    assert not [p for p in site.rglob("*") if ".tmp-" in p.name]


def test_a_release_served_over_http_downloads_verifies_and_opens(site: Path, serve, tmp_path: Path) -> None:
    url = serve(site)
    done = cli("download", url, str(tmp_path / "got"))
    assert done.returncode == 0, done.stdout + done.stderr
    version = (site / "LATEST").read_text().strip()
    got = tmp_path / "got" / version
    assert "verified" in done.stdout and str(got) in done.stdout
    assert verify_release(got) == []
    assert _facts_count(got) == _facts_count(site / version) > 0
    again = cli("download", url + version + "/", str(tmp_path / "got"))  # the release URL itself; already here
    assert again.returncode == 0 and "already here" in again.stdout, again.stdout + again.stderr


def test_a_tampered_file_fails_the_download_and_leaves_nothing(site: Path, serve, tmp_path: Path) -> None:
    version = (site / "LATEST").read_text().strip()
    facts = site / version / "facts.parquet"
    facts.chmod(0o644)
    data = bytearray(facts.read_bytes())
    data[len(data) // 2] ^= 0x01
    facts.write_bytes(bytes(data))

    done = cli("download", serve(site), str(tmp_path / "got"))
    assert done.returncode == 1
    assert "facts.parquet" in done.stderr and "does not match SHA256SUMS" in done.stderr
    assert list((tmp_path / "got").iterdir()) == []


def test_a_tampered_file_with_matching_checksums_still_fails_verification(site: Path, serve, tmp_path: Path) -> None:
    import hashlib

    version = (site / "LATEST").read_text().strip()
    folder = site / version
    csv = folder / "facts.csv"
    for p in (csv, folder / "SHA256SUMS"):
        p.chmod(0o644)
    csv.write_text(csv.read_text(encoding="utf-8").replace(",2024,", ",2014,", 1), encoding="utf-8")
    digest = hashlib.sha256(csv.read_bytes()).hexdigest()
    sums = [line if not line.endswith("  facts.csv") else f"{digest}  facts.csv" for line in (folder / "SHA256SUMS").read_text().splitlines()]
    (folder / "SHA256SUMS").write_text("\n".join(sums) + "\n")

    with pytest.raises(DistributionError, match="fails verification"):
        download(serve(site), tmp_path / "got")
    assert list((tmp_path / "got").iterdir()) == []


def test_publish_to_an_fsspec_url_and_download_from_it(default_run: Path, tmp_path: Path) -> None:
    url = f"memory://rel18-{tmp_path.name}/releases"
    first = publish(default_run / "releases", url)
    assert first.uploaded and first.url.endswith(first.version)
    assert not publish(default_run / "releases", url).uploaded  # the same release again: nothing copied
    got = download(url, tmp_path / "got")
    assert got.version == first.version and verify_release(got.path) == []
    file_url = (tmp_path / "site").as_uri()
    publish(default_run / "releases", file_url)
    assert (tmp_path / "site" / "LATEST").read_text().strip() == first.version


def test_download_of_something_that_is_not_a_release_says_so(serve, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    done = cli("download", serve(tmp_path / "empty"), str(tmp_path / "got"))
    assert done.returncode == 1 and "neither a release" in done.stderr


def test_publish_and_download_help_list_options_environment_and_an_example() -> None:
    for command, words in (("publish", ("--to", "PIPELINE_PUBLISH_TO", "example:")), ("download", ("URL", "DIR", "example:"))):
        shown = cli(command, "--help").stdout
        assert all(w in shown for w in words), shown


def test_a_download_larger_than_the_limit_stops_and_leaves_nothing(site: Path, serve, tmp_path: Path) -> None:
    url = serve(site)
    with pytest.raises(DistributionError, match="larger than the download limit"):
        download(url, tmp_path / "got", max_bytes=10_000)
    assert list((tmp_path / "got").iterdir()) == []
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "download", url, str(tmp_path / "cli")], cwd=REPO, capture_output=True,
        text=True, timeout=300, env={**os.environ, "PIPELINE_MAX_DOWNLOAD_BYTES": "10000"},
    )
    assert done.returncode == 1 and "PIPELINE_MAX_DOWNLOAD_BYTES" in done.stderr
