"""Issue 6, 'done when': a raw folder of good-but-odd and bad files, written here, through ingest and the
whole pipeline.

``build_raw_folder`` writes at least 15 kinds of files into ``tmp_path/raw`` (and, beside it, an
``outside`` folder that links point to). The fast tests call ``ingest()`` directly; the slow test runs
``python -m pipeline run`` on the same folder through PIPELINE_RAW_DIR / PIPELINE_CURATED_DIR and reads
the DuckDB database it leaves.
"""

from __future__ import annotations

import gzip
import os
import random
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pytest

from pipeline.documents import DOCX, NO_TEXT_LAYER_REASON, SYMLINK_REASON, IngestResult, ingest, input_paths
from tests.builders import make_docx as docx
from tests.builders import make_pdf as pdf
from tests.builders import make_zip as _zip
from tests.builders import tiny_png

MAX_BYTES = 100_000  # the limit the test sets through PIPELINE_MAX_BYTES
REPO = Path(__file__).resolve().parents[1]


def sentence(count: str, year: str = "2022/23") -> str:
    """A sentence the extractor surely reads as one fact (platform 'all_platforms', source NSPCC)."""
    return (
        f"Figures obtained by the NSPCC show police in England and Wales recorded {count} offences "
        f"of sexual communication with a child in {year}."
    )


# What must never reach documents.text or facts: figures in reader comments, in files behind links,
# in a hidden folder, in an over-sized file.
COMMENT_FIGURES = ("9,404", "9,505")
OUTSIDE_FIGURES = ("9,876", "9,877")
OTHER_HIDDEN_FIGURES = ("9,606", "9,707")


@dataclass
class RawFolder:
    raw: Path
    outside: Path
    good: dict[str, int] = field(default_factory=dict)  # document -> the count its fact must have
    media: dict[str, tuple[str, str | None]] = field(default_factory=dict)  # document -> (media_type, encoding)
    bad: dict[str, str] = field(default_factory=dict)  # document -> reason (a prefix where marked with '...')


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)




ARTICLE_WITH_COMMENTS = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Grooming offences reach record high | Example News</title>
<meta property="og:title" content="Grooming offences reach record high">
<meta property="article:published_time" content="2023-08-16T09:00:00+01:00">
<script>window.dataLayer = [{"offences": "99,999"}];</script>
</head><body>
<nav><a href="/">Home</a> <a href="/news">News</a> <a href="/sport">Sport</a></nav>
<article>
<h1>Grooming offences reach record high</h1>
<p>__SENTENCE__</p>
<p>The charity said technology companies must do more to stop abusers contacting children on their sites,
and called on the regulator to use its new powers.</p>
</article>
<section id="comments" class="comments">
<h2>Reader comments (2)</h2>
<div class="comment"><p>Concerned parent: in my county alone there were 9,404 offences of sexual communication
with a child in 2022/23, according to figures I obtained from the police.</p></div>
<div class="comment"><p>Another reader: Figures obtained by the NSPCC show police in England and Wales recorded
9,505 offences of sexual communication with a child in 2021/22.</p></div>
</section>
<footer>Example News Ltd. All rights reserved.</footer>
</body></html>
"""


def build_raw_folder(tmp_path: Path) -> RawFolder:
    """Write the raw folder: every kind of input the issue lists, good-but-odd and bad."""
    raw, outside = tmp_path / "raw", tmp_path / "outside"
    folder = RawFolder(raw, outside)

    def good(name: str, content: bytes, count: int, media: str, encoding: str | None) -> None:
        _write(raw / name, content)
        folder.good[name] = count
        folder.media[name] = (media, encoding)

    def bad(name: str, content: bytes, reason: str) -> None:
        _write(raw / name, content)
        folder.bad[name] = reason

    # -- good but odd: each with its own figure -------------------------------------------------
    good("plain.txt", (sentence("4,101") + "\n").encode(), 4101, "text/plain", "utf-8")
    good("windows/crlf endings.txt", f"Press release\r\n\r\n{sentence('4,102')}\r\n".encode(), 4102, "text/plain", "utf-8")
    good("bom/utf8 with bom.txt", b"\xef\xbb\xbf" + sentence("4,103").encode(), 4103, "text/plain", "utf-8-sig")
    good("utf16/saved by notepad.txt", b"\xff\xfe" + (sentence("4,104") + "\r\n").encode("utf-16-le"), 4104, "text/plain", "utf-16")
    good(
        "legacy/cp1252 – café.txt",
        ("The charity’s figures – “a record” – were published today. " + sentence("4,105")).encode("cp1252"),
        4105, "text/plain", "cp1252",
    )
    good("2023/Pressemitteilungen März/Überblick grooming.txt", sentence("4,106").encode(), 4106, "text/plain", "utf-8")
    good("html/press release.html", ARTICLE_WITH_COMMENTS.replace("__SENTENCE__", sentence("4,107")).encode(), 4107, "text/html", "utf-8")
    good("html/short.htm", f"<p>{sentence('4,108')}</p>".encode(), 4108, "text/html", "utf-8")
    good(
        "html/old page.htm",
        (
            "<html><head><meta http-equiv='Content-Type' content='text/html; charset=windows-1252'>"
            f"<title>Old page</title></head><body><p>The NSPCC’s “How safe” report.</p><p>{sentence('4,109')}</p></body></html>"
        ).encode("cp1252"),
        4109, "text/html", "cp1252",
    )
    good(
        "pdf/inspection report.pdf",
        pdf(["Inspection report\nA summary of the figures follows on the next page.", sentence("4,110")]),
        4110, "application/pdf", None,
    )
    good("docx/release.docx", docx(["Press release", sentence("4,111")]), 4111, DOCX, None)
    good(
        "saved page without extension",
        f"<!DOCTYPE html><html><body><article><p>{sentence('4,112')}</p></article></body></html>".encode(),
        4112, "text/html", "utf-8",
    )
    good("dupes/a.txt", sentence("4,113").encode(), 4113, "text/plain", "utf-8")
    good("wide/utf16 without bom.txt", sentence("4,114").encode("utf-16-le"), 4114, "text/plain", "utf-16-le")

    # -- bad: each with its reason ----------------------------------------------------------------
    bad("dupes/b.txt", sentence("4,113").encode(), "duplicate of dupes/a.txt")
    bad("bad/empty.txt", b"", "empty file (0 bytes)")
    bad("bad/blank.txt", b" \r\n\t\r\n", "blank file (only whitespace)")
    bad("bad/archive.zip", _zip({"inner.txt": sentence("4,199")}), "archive (zip) is not supported; unpack it into the raw folder")
    bad("bad/archive.tar.gz", gzip.compress(sentence("4,198").encode()), "archive (gzip) is not supported; unpack it into the raw folder")
    bad("bad/chart.txt", tiny_png(), "binary file (PNG image) is not supported")
    bad("bad/tool.exe", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(80), "binary file (Windows executable) is not supported")
    bad("bad/data.bin", bytes(range(256)) * 8, "binary file (unknown type) is not supported")
    bad(
        "bad/undecodable.txt",
        bytes(b for b in random.Random(6).randbytes(3000) if b >= 0x80),
        "undecodable text: not UTF-8, UTF-16 or a recognised legacy encoding",
    )
    good_pdf = pdf([sentence("4,197")])
    bad("bad/truncated.pdf", good_pdf[: len(good_pdf) // 2], "corrupt PDF: ...")
    bad("bad/scanned.pdf", pdf(["", ""]), NO_TEXT_LAYER_REASON)
    bad("bad/locked.pdf", pdf([sentence("4,196")], user_password="secret"), "encrypted PDF (password required) is not supported")
    bad("bad/empty page.html", b"<html><head><title>Moved</title></head><body><img src='x.png'></body></html>", "HTML page has no text")
    bad(
        "bad/huge.txt",
        (sentence("9,606") + "\n").encode() * (MAX_BYTES // 100),
        "file too large: ...",  # the exact size is filled in below
    )
    bad(".DS_Store", b"\x00\x00\x00\x01Bud1\x00\x00\x10\x00", "hidden file (name starts with '.'); not ingested")
    bad(".cache/notes.txt", sentence("9,707").encode(), "in a hidden folder (.cache); not ingested")

    # -- paths that lead outside the raw folder: never followed -----------------------------------
    _write(outside / "secret.txt", sentence("9,876").encode())
    _write(outside / "folder" / "report.txt", sentence("9,877").encode())
    (raw / "links").mkdir()
    (raw / "links" / "outside file.txt").symlink_to(outside / "secret.txt")
    (raw / "links" / "outside folder").symlink_to(outside / "folder", target_is_directory=True)
    (raw / "links" / "dangling.txt").symlink_to(outside / "does-not-exist.txt")
    for name in ("links/outside file.txt", "links/outside folder", "links/dangling.txt"):
        folder.bad[name] = SYMLINK_REASON
    if hasattr(os, "mkfifo"):
        os.mkfifo(raw / "bad" / "named pipe")  # opening it for reading would block the run forever
        folder.bad["bad/named pipe"] = "not a regular file (named pipe)"

    # -- the manifest: metadata for one file, a bad date for another, a row for a file not there --
    _write(raw / "sources.csv", (
        b"file,url,outlet,title,published\n"
        b"html/press release.html,https://news.example.org/grooming,Example News,Grooming offences reach record high,2023-08-17\n"
        b"plain.txt,,NSPCC,,17/08/2023\n"
        b"gone.txt,https://example.org/gone,,,2020-01-01\n"
    ))
    # The huge file's reason states its exact size.
    size = (raw / "bad/huge.txt").stat().st_size
    folder.bad["bad/huge.txt"] = f"file too large: {size:,} bytes, over the limit of {MAX_BYTES:,} bytes (PIPELINE_MAX_BYTES)"
    return folder


def assert_reason(document: str, reason: str, expected: str) -> None:
    if expected.endswith("..."):
        assert reason.startswith(expected[:-3]), (document, reason)
    else:
        assert reason == expected, (document, reason)


# --------------------------------------------------------------------------------------------------
# Ingest only (fast)


@pytest.fixture
def folder(tmp_path: Path) -> RawFolder:
    return build_raw_folder(tmp_path)


@pytest.fixture
def ingested(folder: RawFolder) -> IngestResult:
    return ingest(folder.raw, max_bytes=MAX_BYTES)


def test_the_raw_folder_has_at_least_15_kinds_of_input(folder: RawFolder) -> None:
    assert len(folder.good) >= 12 and len(folder.bad) >= 15


def test_every_input_is_in_exactly_one_of_documents_or_rejected(folder: RawFolder, ingested: IngestResult) -> None:
    kept = [d.document for d in ingested.documents]
    rejected = [r.document for r in ingested.rejected]
    assert len(kept + rejected) == len(set(kept + rejected))
    assert set(kept) | set(rejected) == input_paths(folder.raw)
    assert set(kept) == set(folder.good)
    assert set(rejected) == set(folder.bad)


def test_each_bad_input_has_its_reason(folder: RawFolder, ingested: IngestResult) -> None:
    for row in ingested.rejected:
        assert_reason(row.document, row.reason, folder.bad[row.document])
    (dup,) = [r for r in ingested.rejected if r.duplicate_of]
    assert (dup.document, dup.duplicate_of) == ("dupes/b.txt", "dupes/a.txt")


def test_each_odd_but_good_input_is_read_with_its_type_encoding_and_figure(folder: RawFolder, ingested: IngestResult) -> None:
    for doc in ingested.documents:
        assert (doc.media_type, doc.encoding) == folder.media[doc.document], doc.document
        assert f"{folder.good[doc.document]:,}" in doc.text, doc.document
    pdf_doc = next(d for d in ingested.documents if d.media_type == "application/pdf")
    assert pdf_doc.pages == 2
    assert pdf_doc.text[: pdf_doc.text.index("4,110")].count("\f") + 1 == 2


def test_nothing_from_comments_links_or_skipped_files_reaches_the_text(ingested: IngestResult) -> None:
    text = "\n".join(d.text for d in ingested.documents)
    for figure in COMMENT_FIGURES + OUTSIDE_FIGURES + OTHER_HIDDEN_FIGURES:
        assert figure not in text


def test_manifest_metadata_and_warnings(ingested: IngestResult) -> None:
    docs = {d.document: d for d in ingested.documents}
    html = docs["html/press release.html"]
    assert (html.url, html.outlet, html.published) == ("https://news.example.org/grooming", "Example News", date(2023, 8, 17))
    assert (docs["plain.txt"].outlet, docs["plain.txt"].published) == ("NSPCC", None)
    assert docs["html/short.htm"].url is None  # no manifest row: still ingested
    assert ingested.warnings == [
        "sources.csv line 3: malformed published date '17/08/2023' for plain.txt (expected YYYY-MM-DD); ignored",
        "sources.csv names missing file gone.txt",
    ]


def test_worker_processes_give_the_same_result_as_one_process(folder: RawFolder, ingested: IngestResult) -> None:
    # ingested used workers=0 (automatic: this small folder stays in one process)
    parallel = ingest(folder.raw, max_bytes=MAX_BYTES, workers=2)
    assert parallel.documents == ingested.documents
    assert parallel.rejected == ingested.rejected
    assert parallel.warnings == ingested.warnings
    assert ingest(folder.raw, max_bytes=MAX_BYTES, workers=1).documents == ingested.documents


# --------------------------------------------------------------------------------------------------
# The real pipeline (slow)


def run_pipeline(tmp_path: Path, raw: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    curated = tmp_path / "curated"
    env = dict(os.environ)
    env.update(
        PIPELINE_RAW_DIR=str(raw),
        PIPELINE_CURATED_DIR=str(curated),
        PIPELINE_MAX_BYTES=str(MAX_BYTES),
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
    )
    (tmp_path / "dagster_home").mkdir()
    proc = subprocess.run(
        [sys.executable, "-m", "pipeline", "run", "--quiet"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )
    return proc, curated / "stats.duckdb"


@pytest.mark.slow
def test_pipeline_run_on_odd_and_bad_files(tmp_path: Path) -> None:
    import duckdb

    folder = build_raw_folder(tmp_path)
    proc, database = run_pipeline(tmp_path, folder.raw)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-6000:]}"

    with duckdb.connect(str(database), read_only=True) as con:
        documents = {
            row[0]: row[1:]
            for row in con.execute("SELECT document, media_type, encoding, pages, url, outlet, published, text FROM documents").fetchall()
        }
        rejected = {row[0]: row[1:] for row in con.execute("SELECT document, reason, duplicate_of FROM rejected_documents").fetchall()}
        facts = con.execute("SELECT document, count, quote, char_start, char_end, page FROM facts").fetchall()

    # Every input accounted for, exactly once.
    assert not documents.keys() & rejected.keys()
    assert documents.keys() | rejected.keys() == input_paths(folder.raw)
    assert documents.keys() == folder.good.keys()

    # Each bad file's reason.
    for name, (reason, _duplicate_of) in rejected.items():
        assert_reason(name, reason, folder.bad[name])
    assert rejected["dupes/b.txt"][1] == "dupes/a.txt"

    # Each odd-but-good file: its type and encoding; the manifest reached the table.
    for name, (media_type, encoding, *_rest) in documents.items():
        assert (media_type, encoding) == folder.media[name], name
    assert documents["pdf/inspection report.pdf"][2] == 2
    url, outlet, published = documents["html/press release.html"][3:6]
    assert (url, outlet, published) == ("https://news.example.org/grooming", "Example News", date(2023, 8, 17))

    # Nothing from reader comments, links out of the raw folder or skipped files reached the text.
    hidden = COMMENT_FIGURES + OUTSIDE_FIGURES + OTHER_HIDDEN_FIGURES
    all_text = "\n".join(row[-1] for row in documents.values())
    assert not [f for f in hidden if f in all_text]

    # Extraction: each good file's figure is a fact of that document, with a span into documents.text
    # (and the page for the PDF); no fact carries a figure from comments or from outside.
    counts: dict[str, set[int]] = {}
    for document, count, quote, start, end, _page in facts:
        counts.setdefault(document, set()).add(count)
        assert documents[document][-1][start:end] == quote  # spans index documents.text
    assert not [f for f in facts if f[1] in {int(x.replace(",", "")) for x in hidden}]
    missing = {name: count for name, count in folder.good.items() if count not in counts.get(name, set())}
    assert not missing, f"figures not extracted: {missing}"
    (pdf_page,) = {f[5] for f in facts if f[0] == "pdf/inspection report.pdf" and f[1] == 4110}
    assert pdf_page == 2
