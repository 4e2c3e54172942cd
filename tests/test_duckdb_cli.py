"""The database opens in the DuckDB command line that the project pins (duckdb-cli), as a user opens it."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent
DUCKDB_CLI = VENV_BIN / "duckdb"


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(DUCKDB_CLI), *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_the_pinned_command_line_reads_the_database_python_wrote(default_run: Path) -> None:
    database = default_run / "stats.duckdb"
    assert DUCKDB_CLI.is_file(), "duckdb-cli is a dependency: its `duckdb` script belongs in the virtualenv"
    done = cli("-readonly", "-csv", str(database), "-c", "select count(*) as n from facts")
    assert done.returncode == 0, done.stderr
    with duckdb.connect(str(database), read_only=True) as con:
        expected = con.execute("select count(*) from facts").fetchone()[0]
    assert expected > 0
    assert list(csv.DictReader(io.StringIO(done.stdout))) == [{"n": str(expected)}]


def test_the_command_line_and_the_python_package_are_the_same_release() -> None:
    done = cli("-version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == f"v{duckdb.__version__}"


def test_make_sql_opens_a_read_only_shell_on_the_database(default_run: Path) -> None:
    venv = VENV_BIN.parent
    make = ["make", "-s", f"VENV={venv}", "-o", f"{venv}/.installed", "sql", f"PIPELINE_CURATED_DIR={default_run}"]
    shell = subprocess.run(
        make, cwd=REPO, input=".mode csv\nselect count(*) as n from documents;\ncreate table t (x int);\n",
        capture_output=True, text=True, timeout=120,
    )
    assert "n\n" in shell.stdout and shell.stdout.split("n\n")[1].split()[0].isdigit(), shell.stdout + shell.stderr
    assert "read-only" in shell.stderr.lower(), shell.stderr  # the shell cannot change the database
