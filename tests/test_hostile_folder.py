"""Issue 16's done-when test: one raw folder with every hostile case, built here, run by `pipeline run`.

It must exit 0 in bounded time and memory, account for every input in documents or rejected_documents
with a true reason, read nothing from outside the raw folder, and publish a facts.csv in which no cell
starts like a spreadsheet formula.
"""

from __future__ import annotations

import csv
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest
from builders import make_docx_bomb, make_shared_stream_pdf
from conftest import REPO

from pipeline.documents import input_paths

pytestmark = [pytest.mark.slow, pytest.mark.skipif(os.name != "posix", reason="links, pipes and odd names")]

TOPIC = "Police recorded {} offences of sexual communication with a child on Instagram in 2023, the NSPCC said."
OUTSIDE = "Police outside recorded 987,654 offences of grooming on Facebook in 2023."
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
SECONDS, MEGABYTES = 420, 2500  # the bounds: a 2 MB line, a zip bomb and a PDF bomb included


def build(tmp_path: Path) -> tuple[Path, dict[str, str | None]]:
    """The raw folder, and for each input the reason it must be rejected with (None: ingested)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "passwd").write_text(OUTSIDE + "\n")
    raw = tmp_path / "raw"
    raw.mkdir()
    expect: dict[str, str | None] = {}

    def put(name: str, data: bytes | str, reason: str | None = None) -> None:
        path = raw / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
        expect[name] = reason

    put("ok.txt", TOPIC.format("1,234") + "\n")
    put("case reference.txt", TOPIC.format("123456789012345678901234") + "\n" + TOPIC.format("9" * 400) + "\n")
    for codec in ("rot13", "base64", "zlib"):
        page = f'<html><head><meta charset="{codec}"></head><body><p>{TOPIC.format("2,345")} Caf\xe9.</p></body></html>'
        put(f"charset-{codec}.html", page.encode("cp1252"))
    put("ebcdic.html", f"<html><body><article><p>{TOPIC.format('3,456')}</p></article></body></html>\n".encode("cp037"))
    put("deep.html", "<html><body>" + "<div>" * 3000 + f"<p>{TOPIC.format('4,567')}</p>" + "</div>" * 3000 + "</body></html>")
    unit = "Police recorded 1,234 offences of grooming on Facebook and Instagram in 2023 "
    put("long line.txt", (unit * (500_000 // len(unit) + 1))[:500_000])  # linearity itself: test_hostile_documents
    put("bomb.docx", make_docx_bomb(200_000_000), "DOCX too large when unpacked")
    put("text bomb.docx", make_docx_bomb(20_000_000), "DOCX text too long: more than 3,000,000 characters")
    put("shared stream.pdf", make_shared_stream_pdf(300, 20_000), "PDF too large when unpacked")
    put('=HYPERLINK("http:evil.example","x").txt', TOPIC.format("5,678") + "\n")
    put("@SUM(1+1).txt", TOPIC.format("6,789") + "\n")
    put("+cmd.txt", "+cmd|' /C calc'!A0 " + TOPIC.format("7,890") + "\n")
    put("-2+3.txt", "-2+3 " + TOPIC.format("8,901") + "\n")
    put("empty.txt", b"", "empty file (0 bytes)")
    put(".hidden.txt", TOPIC.format("9,012"), "hidden file")
    os.symlink(outside, raw / "linked folder")
    expect["linked folder"] = "symbolic link"
    os.symlink(outside / "passwd", raw / "passwd.txt")
    expect["passwd.txt"] = "symbolic link"
    os.mkfifo(raw / "pipe.txt")
    expect["pipe.txt"] = "not a regular file (named pipe)"
    os.symlink(outside / "passwd", raw / "sources.csv")  # the manifest as a link: a warning, never followed
    (raw / "a\\xff.txt").write_text(TOPIC.format("1,111") + "\n")
    expect["a\\xff.txt"] = None
    with open(os.path.join(os.fsencode(raw), b"a\xff.txt"), "wb") as fh:
        fh.write(b"x " + TOPIC.format("2,222").encode())
    expect["a\\xff.txt (undecodable name 2)"] = "file name is not valid UTF-8"
    return raw, expect


def test_every_hostile_case_in_one_run(tmp_path: Path) -> None:
    raw, expect = build(tmp_path)
    curated = tmp_path / "curated"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PIPELINE_", "DAGSTER_"))}
    env.update(PIPELINE_RAW_DIR=str(raw), PIPELINE_CURATED_DIR=str(curated), PIPELINE_WORKERS="2")
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--quiet"], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=SECONDS,
    )
    elapsed = time.monotonic() - started
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # largest process of the run
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Traceback" not in done.stdout + done.stderr
    assert elapsed < SECONDS and peak_mb < MEGABYTES, (elapsed, peak_mb)
    assert "sources.csv ignored: symbolic link" in done.stdout

    with duckdb.connect(str(curated / "stats.duckdb"), read_only=True) as con:
        documents = dict(con.execute("SELECT document, text FROM documents").fetchall())
        rejected = dict(con.execute("SELECT document, reason FROM rejected_documents").fetchall())
        facts = con.execute("SELECT document, count FROM facts").fetchall()
    assert not documents.keys() & rejected.keys()
    assert documents.keys() | rejected.keys() == input_paths(raw) == expect.keys()
    for name, reason in expect.items():
        if reason is None:
            assert name in documents, (name, rejected.get(name))
        else:
            assert name in rejected and rejected[name].startswith(reason) or reason in rejected[name], (name, rejected.get(name))
    assert not [name for name, text in documents.items() if "987,654" in text], "read from outside the raw folder"
    assert (tmp_path / "outside" / "passwd").read_text() == OUTSIDE + "\n"
    counted = {(d, c) for d, c in facts}
    for name, count in (("deep.html", 4567), ("ebcdic.html", 3456), ("charset-rot13.html", 2345), ("ok.txt", 1234)):
        assert (name, count) in counted, (name, sorted(c for d, c in counted if d == name))
    assert ('=HYPERLINK("http:evil.example","x").txt', 5678) in counted

    release = curated / "releases" / "latest"
    with open(release / "facts.csv", newline="", encoding="utf-8") as fh:
        cells = [v for row in csv.reader(fh) for v in row]
    assert cells and not [v for v in cells if v.startswith(FORMULA_START)]
    assert "'=HYPERLINK(\"http:evil.example\",\"x\").txt" in cells
    check = subprocess.run(
        [sys.executable, "-m", "pipeline", "verify", str(release)], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=300,
    )
    assert check.returncode == 0, check.stdout + check.stderr
