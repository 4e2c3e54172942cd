"""Every query and snippet of the README runs against the default dataset, and the examples give the right answers.

The README is parsed, not copied: a query edited there is the query tested here. Paths under
`data/curated/` point at one `pipeline run` of a copy of `data/raw` (the `default_run` fixture).
The expected answers come from the documents themselves (and their gold rows in `eval/`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import REPO

pytestmark = pytest.mark.slow

README = (REPO / "README.md").read_text(encoding="utf-8")
DUCKDB_CLI = Path(sys.executable).parent / "duckdb"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def sql_examples() -> dict[str, str]:
    """The statements of the README's ```sql blocks, keyed by their first comment line."""
    out = {}
    for block in _blocks("sql"):
        for statement in block.split(";\n"):
            lines = list(statement.strip().splitlines())
            comments = [line[2:].strip() for line in lines if line.startswith("--")]
            body = "\n".join(line for line in lines if not line.startswith("--")).strip().rstrip(";")
            if body:
                assert comments, f"an SQL example without a comment saying what it asks:\n{body}"
                out[comments[0]] = body
    return out


def shell_commands() -> list[str]:
    """Every `duckdb ...` command line of the README (code blocks and indented examples)."""
    return [m.group(1) for m in re.finditer(r"^\s*((?:\.venv/bin/)?duckdb .+)$", README, flags=re.M)]


def inline_queries() -> list[str]:
    return re.findall(r"`(select [^`]+)`", README)


SQL = sql_examples()
CURATED = "data/curated/"


# The README's published release, queried in place over HTTPS: here, the same release read from disk
# (DuckDB's httpfs extension comes from the network, which tests do not use; tests/test_distribute.py
# serves, downloads and queries a release over loopback HTTP).
PUBLISHED = re.compile(r"https://example\.org/csa-releases/[^/]+/")


def _here(text: str, curated: Path) -> str:
    return PUBLISHED.sub(f"{curated}/releases/latest/", text.replace(CURATED, f"{curated}/"))


@pytest.fixture(scope="module")
def con(default_run: Path):
    with duckdb.connect(str(default_run / "stats.duckdb"), read_only=True) as connection:
        yield connection


def rows(con: duckdb.DuckDBPyConnection, question: str) -> list[dict]:
    assert question in SQL, f"the README no longer has the example {question!r}; its examples: {list(SQL)}"
    result = con.execute(SQL[question])
    names = [d[0] for d in result.description]
    return [dict(zip(names, row, strict=False)) for row in result.fetchall()]


def gold(doc: str) -> list[dict]:
    for corpus in (REPO / "eval").iterdir():
        path = corpus / "gold.jsonl"
        if path.is_file():
            found = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
            found = [g for g in found if g["doc"] == doc]
            if found:
                return found
    return []


def test_the_readme_has_the_examples_this_file_checks() -> None:
    assert len(SQL) >= 5 and len(shell_commands()) >= 4 and len(inline_queries()) >= 2
    assert any(PUBLISHED.search(c) for c in shell_commands()), "the query of a published release in place"


@pytest.mark.parametrize("question", sorted(SQL))
def test_every_sql_example_runs_and_returns_rows(con: duckdb.DuckDBPyConnection, question: str) -> None:
    assert rows(con, question), f"no rows for {question!r}"


@pytest.mark.parametrize("command", shell_commands())
def test_every_duckdb_command_line_runs_in_the_pinned_cli(default_run: Path, command: str) -> None:
    argv = shlex.split(_here(command, default_run))
    argv[0] = str(DUCKDB_CLI)
    done = subprocess.run(argv, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Error" not in done.stdout + done.stderr, done.stdout + done.stderr


@pytest.mark.parametrize("query", inline_queries())
def test_every_inline_query_runs(con: duckdb.DuckDBPyConnection, query: str) -> None:
    con.execute(query).fetchall()


@pytest.mark.parametrize("snippet", _blocks("python"))
def test_every_python_snippet_runs(default_run: Path, snippet: str, capsys: pytest.CaptureFixture[str]) -> None:
    exec(compile(_here(snippet, default_run), "README.md", "exec"), {})


def test_the_span_check_is_true_for_every_fact(con: duckdb.DuckDBPyConnection) -> None:
    (query,) = [q for q in inline_queries() if "substr(d.text" in q]
    answers = [row[0] for row in con.execute(query).fetchall()]
    assert answers and all(answers)


def test_shares_by_platform_name_a_platform_and_come_newest_first(con: duckdb.DuckDBPyConnection) -> None:
    found = rows(con, "Which platforms do the shares name, and how large are they, newest first?")
    assert all(r["share"] is not None and r["platform_name"] not in ("All platforms", None) for r in found)
    years = [r["year"] for r in found if r["year"] is not None]
    assert years == sorted(years, reverse=True)
    # "Facebook and apps owned by Facebook were used in 27 (40.2%) of those cases" (the Hampshire seed).
    assert any((r["region_name"] or "").startswith("Hampshire") and r["share"] == pytest.approx(0.402) for r in found)


def test_the_hampshire_article_counts_62_offences_and_67_cases(con: duckdb.DuckDBPyConnection) -> None:
    found = rows(con, "One article, two kinds of count: in Hampshire, in the first nine months of the grooming")
    assert [(r["measure"], r["count"]) for r in found] == [("cases", 67), ("offences", 62)]


def test_uk_grooming_offences_year_by_year_are_the_figures_the_documents_give(con: duckdb.DuckDBPyConnection) -> None:
    found = rows(con, "Recorded grooming offences (sexual communication with a child) across the UK, year by year.")
    assert [(r["year"], r["offences"], r["qualifier"]) for r in found] == [
        (2018, 3728, "exact"),  # "the 3,728 recorded in the year to March 2018"
        (2022, 6156, "exact"),  # "6,156 Sexual Communication with a Child offences in 2021/22"
        (2023, 34000, "more_than"),  # "across the UK more than 34,000 offences were recorded by police over the same period"
        (2024, 7000, "more_than"),  # "more than 7,000 offences recorded last year (2023/24)"
        (2025, 7263, "exact"),  # "7,263 online grooming offences were recorded in the year to March"
    ]
    for r in found:  # and each is a fact of each document it lists, by the annotators' reading
        for doc in r["documents"]:
            assert any(g["count"] == r["offences"] and r["year"] in g["year"] for g in gold(doc)), (doc, r)


def test_auditing_a_document_lists_every_number_with_its_decision(con: duckdb.DuckDBPyConnection) -> None:
    found = rows(con, "Audit one document: every number in it and what the extractor decided.")
    assert [r["char_start"] for r in found] == sorted(r["char_start"] for r in found)
    assert {r["decision"] for r in found} == {"fact", "dropped"}
    assert all(r["reason"] for r in found if r["decision"] == "dropped")
    assert {"62", "67"} <= {r["surface"] for r in found if r["decision"] == "fact"}


def test_citing_a_figure_gives_the_url_title_and_sha256_of_its_document(con: duckdb.DuckDBPyConnection) -> None:
    found = rows(con, "Cite a figure: its quote, the sentence around it and where the document came from; the")
    with (REPO / "data" / "raw" / "sources.csv").open(newline="", encoding="utf-8") as fh:
        manifest = {row["file"]: row for row in csv.DictReader(fh)}
    urls = 0
    for r in found:
        (document,) = con.execute("select document from documents where sha256 = ?", [r["sha256"]]).fetchone()
        listed = manifest[document]
        assert r["document_url"] == (listed["url"] or None)
        assert r["document_title"] == (listed["title"] or r["document_title"])
        assert r["sha256"] == hashlib.sha256((REPO / "data" / "raw" / document).read_bytes()).hexdigest()
        assert r["quote"] in r["sentence"]
        urls += r["document_url"] is not None
    assert urls >= len(found) - 2 > 0, "only the seed documents, listed without a url, may lack one"
