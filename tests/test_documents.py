"""Stage 1, ingest: read_document for each kind of file, and ingest() over a raw folder.

Every fixture is written by the test itself into tmp_path, so each test shows its input.
"""

from __future__ import annotations

import gzip
import io
import os
import random
import subprocess
import sys
import tarfile
from datetime import date
from pathlib import Path

import pytest

from pipeline.documents import (
    DOCX,
    HIDDEN_FILE_REASON,
    NO_TEXT_LAYER_REASON,
    SYMLINK_REASON,
    Document,
    DocumentError,
    IngestResult,
    ingest,
    input_paths,
    read_document,
)
from tests.builders import make_docx, make_pdf
from tests.builders import make_zip as _zip

MB = 1024 * 1024


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_bytes(content.encode("utf-8"))
    else:
        path.write_bytes(content)
    return path


def reason_of(path: Path, **kwargs: object) -> str:
    with pytest.raises(DocumentError) as info:
        read_document(path, **kwargs)  # type: ignore[arg-type]
    return str(info.value)




# --------------------------------------------------------------------------------------------------
# Plain text and encodings


def test_utf8_text_is_exactly_the_file_content(tmp_path: Path) -> None:
    content = "Police recorded 4,321 offences.\r\n\r\n  Snapchat – 26%  \n\n"
    doc = read_document(write(tmp_path / "release.txt", content), document="release.txt")
    assert doc.text == content  # no newline normalisation, no stripping
    assert (doc.media_type, doc.encoding, doc.pages) == ("text/plain", "utf-8", None)
    assert doc.bytes == len(content.encode())
    assert doc.document == "release.txt"


def test_document_name_defaults_to_file_name(tmp_path: Path) -> None:
    assert read_document(write(tmp_path / "a b.txt", "Police recorded 12 offences.")).document == "a b.txt"


def test_utf8_bom_is_stripped_and_recorded_as_utf8_sig(tmp_path: Path) -> None:
    path = write(tmp_path / "bom.txt", b"\xef\xbb\xbfPolice recorded 1,234 offences.\n")
    doc = read_document(path)
    assert doc.text == "Police recorded 1,234 offences.\n"
    assert doc.encoding == "utf-8-sig"


@pytest.mark.parametrize("codec", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom_is_decoded_and_recorded_as_utf16(tmp_path: Path, codec: str) -> None:
    bom = b"\xff\xfe" if codec.endswith("le") else b"\xfe\xff"
    path = write(tmp_path / "wide.txt", bom + "Police recorded 2,345 offences – a record.\r\n".encode(codec))
    doc = read_document(path)
    assert doc.text == "Police recorded 2,345 offences – a record.\r\n"
    assert doc.encoding == "utf-16"


def test_utf16_without_bom_is_recognised_by_its_zero_bytes(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "wide.txt", "Police recorded 3,456 offences.".encode("utf-16-le")))
    assert doc.text == "Police recorded 3,456 offences."
    assert doc.encoding == "utf-16-le"


def test_cp1252_file_is_decoded_and_encoding_recorded(tmp_path: Path) -> None:
    content = "The NSPCC’s figures – “a record” – show 4,567 offences; the café cost £5."
    doc = read_document(write(tmp_path / "old.txt", content.encode("cp1252")))
    assert doc.text == content
    assert doc.encoding == "cp1252"
    assert doc.bytes == len(content.encode("cp1252"))


def test_latin1_file_is_read_as_cp1252(tmp_path: Path) -> None:
    content = "Police in Zürich recorded 5,678 offences, said the Präsident; café résumé naïve."
    doc = read_document(write(tmp_path / "latin.txt", content.encode("latin-1")))
    assert doc.text == content
    assert doc.encoding == "cp1252"  # identical to latin-1 for these bytes; browsers treat them as one


def test_cyrillic_legacy_file_is_detected(tmp_path: Path) -> None:
    content = "Полиция зарегистрировала 1234 преступления в 2022 году, сообщил представитель ведомства."
    doc = read_document(write(tmp_path / "ru.txt", content.encode("cp1251")))
    assert doc.text == content
    assert doc.encoding == "cp1251"


def test_extension_does_not_decide_the_type(tmp_path: Path) -> None:
    html = "<!DOCTYPE html><html><body><p>Police recorded 1,111 offences of sexual communication with a child.</p></body></html>"
    assert read_document(write(tmp_path / "page.txt", html)).media_type == "text/html"
    assert read_document(write(tmp_path / "notes.pdf", "Police recorded 2,222 offences.")).media_type == "text/plain"
    assert read_document(write(tmp_path / "report.html", make_pdf(["Police recorded 3,333 offences."]))).media_type == "application/pdf"
    assert read_document(write(tmp_path / "noextension", "Police recorded 4,444 offences.")).media_type == "text/plain"


def test_text_starting_like_a_binary_signature_stays_text(tmp_path: Path) -> None:
    content = "OTTO Group said police recorded 1,234 offences.\n"  # 'OTTO' also opens an OpenType font
    assert read_document(write(tmp_path / "otto.txt", content)).text == content


def test_text_mentioning_html_tags_later_stays_plain_text(tmp_path: Path) -> None:
    content = "Police recorded 1,234 offences.\nThe page used <div> and <p> tags.\n"
    doc = read_document(write(tmp_path / "a.txt", content))
    assert (doc.media_type, doc.text) == ("text/plain", content)


# --------------------------------------------------------------------------------------------------
# HTML

ARTICLE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>Online grooming crimes hit record high | NSPCC</title>
<meta property="og:title" content="Online grooming crimes hit record high">
<meta property="article:published_time" content="2023-08-16T09:00:00+01:00">
<link rel="canonical" href="https://www.nspcc.org.uk/about-us/news-opinion/2023/grooming-record/">
<script>var tracker = "Police recorded 99,999 offences";</script>
<style>p { color: red }</style>
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li><li>Donate: 5,555 supporters</li></ul></nav>
<article>
<h1>Online grooming crimes hit record high</h1>
<p>Figures obtained by the NSPCC show police in England and Wales recorded 6,350 offences of sexual communication with a child in 2022/23.</p>
<p>Snapchat was used in 26% of cases where the platform was known, the charity said. The data was obtained through Freedom of Information requests to police forces.</p>
<p>Sir Peter Wanless, NSPCC chief executive, said the figures were a wake-up call for technology companies.</p>
</article>
<section id="comments" class="comments"><h2>3 comments</h2>
<div class="comment"><p>Reader1: in my town alone there were 8,888 offences reported last year, which is shocking.</p></div>
<div class="comment"><p>Reader2: I heard 7,777 cases of sexual communication with a child were recorded in Wales.</p></div>
</section>
<footer>Registered charity 216401. Copyright 2019.</footer>
</body></html>
"""


def test_html_main_text_drops_scripts_navigation_footer_and_comments(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "news" / "grooming.html", ARTICLE), document="news/grooming.html")
    assert doc.media_type == "text/html"
    assert doc.encoding == "utf-8"
    assert "recorded 6,350 offences of sexual communication with a child in 2022/23." in doc.text
    assert "Snapchat was used in 26% of cases" in doc.text
    for outside_article in ("99,999", "5,555", "8,888", "7,777", "216401", "color: red"):
        assert outside_article not in doc.text


def test_html_title_date_and_url_come_from_page_metadata(tmp_path: Path) -> None:
    doc = read_document(write(tmp_path / "grooming.html", ARTICLE))
    assert doc.title == "Online grooming crimes hit record high"
    assert doc.published == date(2023, 8, 16)
    assert doc.url == "https://www.nspcc.org.uk/about-us/news-opinion/2023/grooming-record/"


@pytest.mark.parametrize(
    "head",
    [
        '<script type="application/ld+json">{"@type": "NewsArticle", "datePublished": "2021-03-04T08:00:00Z"}</script>',
        '<meta name="date" content="4 March 2021">',
        '<meta name="DC.date.issued" content="2021-03-04">',
    ],
)
def test_html_published_date_from_json_ld_or_dated_meta_tags(tmp_path: Path, head: str) -> None:
    page = f"<html><head><title>Figures | Police</title>{head}</head><body><p>Police recorded 1,234 offences.</p></body></html>"
    doc = read_document(write(tmp_path / "p.html", page))
    assert (doc.published, doc.title) == (date(2021, 3, 4), "Figures | Police")


def test_html_date_is_not_guessed_from_a_copyright_line(tmp_path: Path) -> None:
    page = ARTICLE.replace('<meta property="article:published_time" content="2023-08-16T09:00:00+01:00">', "")
    assert read_document(write(tmp_path / "p.html", page)).published is None


def test_short_html_press_release_is_kept(tmp_path: Path) -> None:
    page = "<p>Police recorded 1,212 offences in 2021.</p>"
    doc = read_document(write(tmp_path / "short.htm", page))
    assert doc.media_type == "text/html"
    assert doc.text == "Police recorded 1,212 offences in 2021."


def test_html_fallback_also_drops_comment_sections(tmp_path: Path) -> None:
    page = (
        "<html><head><title>Brief</title></head><body><p>Police recorded 1,313 offences.</p>"
        "<div id='comments'><p>Reader: 4,141 offences here.</p></div><footer>Site map</footer></body></html>"
    )
    doc = read_document(write(tmp_path / "brief.html", page))
    assert "1,313" in doc.text
    assert "4,141" not in doc.text and "Site map" not in doc.text


def test_html_table_keeps_platform_names_next_to_their_counts(tmp_path: Path) -> None:
    # trafilatura drops a text element that is exactly 'Instagram' or 'Facebook' (share buttons);
    # in a table of platforms that would separate the count from its platform.
    rows = "".join(f"<tr><td>{name}</td><td>{count}</td></tr>" for name, count in [("Snapchat", "1,234"), ("Instagram", "987"), ("Facebook", "654"), ("WhatsApp", "321")])
    page = (
        "<html><body><article><h1>Offences by platform</h1><p>Police recorded the following offences of sexual "
        "communication with a child where the platform was known, by platform, in 2022/23.</p>"
        f"<table><tr><th>Platform</th><th>Offences</th></tr>{rows}</table></article></body></html>"
    )
    doc = read_document(write(tmp_path / "table.html", page))
    for name in ("Snapchat", "Instagram", "Facebook", "WhatsApp"):
        assert name in doc.text
    assert "| Instagram | 987 |" in doc.text


def test_cp1252_html_with_declared_charset(tmp_path: Path) -> None:
    page = (
        "<html><head><meta http-equiv='Content-Type' content='text/html; charset=windows-1252'>"
        "<title>Old page</title></head><body><p>The charity’s figures – 2,468 offences – were “shocking”.</p></body></html>"
    )
    doc = read_document(write(tmp_path / "old.html", page.encode("cp1252")))
    assert doc.encoding == "cp1252"
    assert "The charity’s figures – 2,468 offences – were “shocking”." in doc.text


def test_utf16_html_saved_by_word_is_read_as_html(tmp_path: Path) -> None:
    page = "<html><body><p>Police recorded 1,357 offences.</p></body></html>"
    doc = read_document(write(tmp_path / "word.htm", b"\xff\xfe" + page.encode("utf-16-le")))
    assert (doc.media_type, doc.encoding) == ("text/html", "utf-16")
    assert "1,357" in doc.text


def test_xhtml_with_xml_declaration_is_read(tmp_path: Path) -> None:
    page = ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html><html xmlns="http://www.w3.org/1999/xhtml">'
            "<body><p>Police recorded 1,414 offences in the year.</p></body></html>")
    doc = read_document(write(tmp_path / "x.xhtml", page))
    assert doc.media_type == "text/html"
    assert "1,414 offences" in doc.text


def test_html_page_without_text_is_rejected(tmp_path: Path) -> None:
    page = "<html><head><title>Moved</title><script>location.href = '/new';</script></head><body><img src='logo.png'></body></html>"
    assert reason_of(write(tmp_path / "empty.html", page)) == "HTML page has no text"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ('<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"><text>1,234</text></svg>', "image (SVG) is not supported"),
        ('<?xml version="1.0"?><rss version="2.0"><channel><title>News</title></channel></rss>', "XML data (<rss>) is not supported; only HTML pages are read"),
    ],
)
def test_xml_that_is_not_html_is_rejected(tmp_path: Path, content: str, reason: str) -> None:
    assert reason_of(write(tmp_path / "data.xml", content)) == reason


# --------------------------------------------------------------------------------------------------
# PDF and DOCX


def test_pdf_text_layer_with_pages_separated_by_form_feeds(tmp_path: Path) -> None:
    raw = make_pdf(
        ["Inspection report. Police recorded 1,234 offences in 2022.", "Snapchat was used in 2,345 offences of sexual communication with a child."],
        title="Inspection report",
    )
    doc = read_document(write(tmp_path / "report.pdf", raw))
    assert (doc.media_type, doc.pages, doc.encoding, doc.title) == ("application/pdf", 2, None, "Inspection report")
    assert doc.text.count("\f") == 1
    start = doc.text.index("2,345")
    assert doc.text[:start].count("\f") + 1 == 2  # the page of a span, as facts compute it
    assert doc.text[: doc.text.index("1,234")].count("\f") + 1 == 1


def test_pdf_lines_wrapped_mid_sentence_are_joined(tmp_path: Path) -> None:
    sentence = (
        "Figures obtained by the NSPCC show police in England and Wales recorded 4,110 offences of "
        "sexual communication with a child in 2022/23."
    )
    doc = read_document(write(tmp_path / "wrapped.pdf", make_pdf(["Inspection report\nSummary", sentence])))
    assert doc.text == "Inspection report\nSummary\f" + sentence  # the heading keeps its line break


@pytest.mark.parametrize(
    ("page", "text"),
    [
        ("recorded 4,110 offences of\nsexual communication", "recorded 4,110 offences of sexual communication"),
        ("offences of \nsexual", "offences of sexual"),
        ("in England and\nWales", "in England and Wales"),
        ("used on the\n2,000 platforms", "used on the 2,000 platforms"),
        ("a well-\nknown app", "a well-known app"),
        ("Inspection report\nA summary", "Inspection report\nA summary"),
        ("Snapchat 1,234\nInstagram 987", "Snapchat 1,234\nInstagram 987"),
        ("Total\n1,234", "Total\n1,234"),
        ("The end.\nnext one", "The end.\nnext one"),
        ("Paragraph one\n\nparagraph two", "Paragraph one\n\nparagraph two"),
    ],
)
def test_pdf_line_unwrapping_rules(page: str, text: str) -> None:
    from pipeline.documents import _unwrap

    assert _unwrap(page) == text


def test_pdf_without_text_layer_is_rejected(tmp_path: Path) -> None:
    assert reason_of(write(tmp_path / "scan.pdf", make_pdf(["", ""]))) == NO_TEXT_LAYER_REASON


def test_truncated_pdf_is_rejected_as_corrupt(tmp_path: Path) -> None:
    raw = make_pdf(["Police recorded 1,234 offences."])
    assert reason_of(write(tmp_path / "broken.pdf", raw[: len(raw) // 2])).startswith("corrupt PDF: ")


def test_password_protected_pdf_is_rejected(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Police recorded 1,234 offences.")
    pdf.set_encryption(owner_password="owner", user_password="secret")
    assert reason_of(write(tmp_path / "locked.pdf", bytes(pdf.output()))) == "encrypted PDF (password required) is not supported"


def test_pdf_with_owner_password_only_is_read(tmp_path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    pdf.add_page()
    pdf.multi_cell(0, 8, "Police recorded 1,234 offences.")
    pdf.set_encryption(owner_password="owner")  # no password needed to open, only to edit
    assert read_document(write(tmp_path / "protected.pdf", bytes(pdf.output()))).text == "Police recorded 1,234 offences."


def test_docx_paragraphs_and_title(tmp_path: Path) -> None:
    raw = make_docx(["Press release", "Police recorded 2,020 offences of sexual communication with a child."], title="Grooming figures")
    doc = read_document(write(tmp_path / "release.docx", raw))
    assert doc.media_type == DOCX
    assert doc.text == "Press release\nPolice recorded 2,020 offences of sexual communication with a child."
    assert doc.title == "Grooming figures"


# --------------------------------------------------------------------------------------------------
# Files that are refused, each with its reason


def _tar() -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        data = b"Police recorded 1,234 offences."
        info = tarfile.TarInfo("inner.txt")
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


REFUSED = [
    ("empty.txt", b"", "empty file (0 bytes)"),
    ("blank.txt", b"  \r\n\t\n", "blank file (only whitespace)"),
    ("bom-only.txt", b"\xef\xbb\xbf\n", "blank file (only whitespace)"),
    ("archive.zip", _zip({"inner.txt": "Police recorded 1,234 offences."}), "archive (zip) is not supported; unpack it into the raw folder"),
    ("archive.txt.gz", gzip.compress(b"Police recorded 1,234 offences."), "archive (gzip) is not supported; unpack it into the raw folder"),
    ("archive.tar", _tar(), "archive (tar) is not supported; unpack it into the raw folder"),
    ("sheet.xlsx", _zip({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"}), "office document (XLSX spreadsheet) is not supported; save it as PDF or CSV"),
    ("photo.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(20), "binary file (PNG image) is not supported"),
    ("photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(20), "binary file (JPEG image) is not supported"),
    ("program", b"\x7fELF\x02\x01\x01" + bytes(40), "binary file (ELF executable) is not supported"),
    ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + bytes(60), "binary file (Windows executable) is not supported"),
    ("old.doc", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(40), "legacy Microsoft Office document (DOC/XLS/PPT) is not supported; save it as DOCX or PDF"),
    ("data.bin", bytes(range(256)) * 4, "binary file (unknown type) is not supported"),
    # high-bit noise: not UTF-8, not cp1252 (0x81 etc. are unassigned), no legacy encoding makes text of it
    ("noise.txt", bytes(b for b in random.Random(0).randbytes(2000) if b >= 0x80), "undecodable text: not UTF-8, UTF-16 or a recognised legacy encoding"),
    ("fake.pdf", b"%PDF-1.7\nthis is not really a PDF\n", None),  # corrupt PDF: <pypdf's message>
    ("bad-bom.txt", b"\xef\xbb\xbfPolice \xff\xfe recorded", None),  # undecodable text: ...BOM...
]


@pytest.mark.parametrize(("name", "content", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_file_has_a_clear_reason(tmp_path: Path, name: str, content: bytes, reason: str | None) -> None:
    got = reason_of(write(tmp_path / name, content))
    if name == "fake.pdf":
        assert got.startswith("corrupt PDF: ")
    elif name == "bad-bom.txt":
        assert got.startswith("undecodable text: starts with a UTF-8-SIG byte-order mark")
    else:
        assert got == reason


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    path = write(tmp_path / "big.txt", "Police recorded 1,234 offences. " * 100)
    assert reason_of(path, max_bytes=100) == "file too large: 3,200 bytes, over the limit of 100 bytes (PIPELINE_MAX_BYTES)"
    assert read_document(path, max_bytes=3200).bytes == 3200


def test_symbolic_link_is_not_followed(tmp_path: Path) -> None:
    target = write(tmp_path / "outside.txt", "Police recorded 9,876 offences.")
    link = tmp_path / "link.txt"
    link.symlink_to(target)
    assert reason_of(link) == SYMLINK_REASON


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_named_pipe_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    assert reason_of(fifo) == "not a regular file (named pipe)"


def test_file_gone_before_reading_is_refused_with_the_os_error(tmp_path: Path) -> None:
    assert reason_of(tmp_path / "vanished.txt") == "cannot read file: No such file or directory"


def test_folder_passed_as_a_file_is_refused(tmp_path: Path) -> None:
    assert reason_of(tmp_path) == "not a regular file (folder)"


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_is_refused_with_the_os_error(tmp_path: Path) -> None:
    path = write(tmp_path / "secret.txt", "Police recorded 1,234 offences.")
    path.chmod(0)
    try:
        assert reason_of(path) == "cannot read file: Permission denied"
    finally:
        path.chmod(0o644)


def test_plain_text_path_imports_no_heavy_library(tmp_path: Path) -> None:
    path = write(tmp_path / "a.txt", "Police recorded 1,234 offences.")
    code = (
        "import sys; from pathlib import Path; from pipeline.documents import read_document; "
        f"read_document(Path({str(path)!r})); "
        "print(sorted(m for m in ('trafilatura', 'pypdf', 'charset_normalizer', 'lxml') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------------------------------
# ingest() over a raw folder


def accounted(result: IngestResult) -> list[str]:
    return sorted([d.document for d in result.documents] + [r.document for r in result.rejected])


def reasons(result: IngestResult) -> dict[str, str]:
    return {r.document: r.reason for r in result.rejected}


def test_ingest_walks_nested_folders_with_spaces_and_non_ascii_names(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "2023" / "press releases" / "Grooming – Überblick é.txt", "Police recorded 1,234 offences.")
    write(raw / "2022" / "Q1" / "deep" / "report.txt", "Police recorded 2,345 offences.")
    write(raw / "top.txt", "Police recorded 3,456 offences.")
    result = ingest(raw, max_bytes=MB)
    assert [d.document for d in result.documents] == [
        "2022/Q1/deep/report.txt",
        "2023/press releases/Grooming – Überblick é.txt",
        "top.txt",
    ]
    assert result.rejected == [] and result.warnings == []


def test_duplicate_content_keeps_the_first_path_in_sorted_order(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    content = "Police recorded 1,234 offences."
    for name in ("b/copy.txt", "a.txt", "c.html.txt"):
        write(raw / name, content)
    write(raw / "syndicated.txt", "Police have recorded 1,234 offences, the charity said.")  # other wording: kept
    result = ingest(raw, max_bytes=MB)
    assert [d.document for d in result.documents] == ["a.txt", "syndicated.txt"]
    sha = result.documents[0].sha256
    assert sorted(result.rejected, key=lambda r: r.document) == [
        # sorted order is 'a.txt' < 'b/copy.txt' < 'c.html.txt'
        type(result.rejected[0])("b/copy.txt", "duplicate of a.txt", sha, len(content), duplicate_of="a.txt"),
        type(result.rejected[0])("c.html.txt", "duplicate of a.txt", sha, len(content), duplicate_of="a.txt"),
    ]


def test_copies_of_a_pdf_and_of_a_refused_file(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    report = make_pdf(["Police recorded 1,234 offences."])
    write(raw / "b" / "report.pdf", report)
    write(raw / "a" / "report copy.pdf", report)
    write(raw / "x.zip", _zip({"a.txt": "a"}))
    write(raw / "y.zip", _zip({"a.txt": "a"}))
    result = ingest(raw, max_bytes=MB)
    assert [d.document for d in result.documents] == ["a/report copy.pdf"]
    assert [(r.document, r.reason, r.duplicate_of) for r in result.rejected] == [
        ("b/report.pdf", "duplicate of a/report copy.pdf", "a/report copy.pdf"),
        ("x.zip", "archive (zip) is not supported; unpack it into the raw folder", None),
        ("y.zip", "archive (zip) is not supported; unpack it into the raw folder", None),  # nothing kept to point to
    ]


def test_hidden_files_and_folders_are_accounted_for_not_ingested(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / ".DS_Store", b"\x00\x00\x00\x01Bud1")
    write(raw / "sub" / ".notes.txt", "Police recorded 1,234 offences.")
    write(raw / ".git" / "HEAD", "ref: refs/heads/main")
    write(raw / "kept.txt", "Police recorded 2,345 offences.")
    result = ingest(raw, max_bytes=MB)
    assert [d.document for d in result.documents] == ["kept.txt"]
    assert reasons(result) == {
        ".DS_Store": HIDDEN_FILE_REASON,
        "sub/.notes.txt": HIDDEN_FILE_REASON,
        ".git/HEAD": "in a hidden folder (.git); not ingested",
    }
    assert accounted(result) == sorted(input_paths(raw))


def test_symlinked_file_and_folder_are_rejected_and_never_read(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside / "secret.txt", "Police recorded 9,999 offences.")
    raw = tmp_path / "raw"
    write(raw / "kept.txt", "Police recorded 1,234 offences.")
    (raw / "link.txt").symlink_to(outside / "secret.txt")
    (raw / "linked folder").symlink_to(outside, target_is_directory=True)
    (raw / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    result = ingest(raw, max_bytes=MB)
    assert [d.document for d in result.documents] == ["kept.txt"]
    assert reasons(result) == {"link.txt": SYMLINK_REASON, "linked folder": SYMLINK_REASON, "dangling.txt": SYMLINK_REASON}
    assert all("9,999" not in d.text for d in result.documents)


def test_oversized_file_is_rejected_with_its_size(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "big.txt", "x" * 2000)
    (rejected,) = ingest(raw, max_bytes=1000).rejected
    assert rejected.reason == "file too large: 2,000 bytes, over the limit of 1,000 bytes (PIPELINE_MAX_BYTES)"
    assert (rejected.bytes, rejected.sha256) == (2000, None)


def test_rejected_content_keeps_its_hash_and_size(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "a.zip", _zip({"x.txt": "x"}))
    (rejected,) = ingest(raw, max_bytes=MB).rejected
    assert rejected.sha256 is not None and rejected.bytes == (raw / "a.zip").stat().st_size


def test_file_name_that_is_not_utf8_is_rejected(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    try:
        with open(os.path.join(os.fsencode(raw), b"caf\xe9.txt"), "wb") as fh:  # a Latin-1 name from an old disk
            fh.write(b"Police recorded 1,234 offences.")
    except (OSError, TypeError):
        pytest.skip("file system refuses non-UTF-8 names")
    names = os.listdir(raw)
    result = ingest(raw, max_bytes=MB)
    assert result.documents == [] and len(names) == 1
    assert reasons(result) == {"caf\\xe9.txt": "file name is not valid UTF-8; rename the file"}


def test_missing_raw_folder_is_an_error_not_an_empty_dataset(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        ingest(tmp_path / "nope", max_bytes=MB)


# --------------------------------------------------------------------------------------------------
# The manifest, sources.csv


def test_manifest_fills_metadata_and_wins_over_page_metadata(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "news" / "grooming.html", ARTICLE)
    write(raw / "plain.txt", "Police recorded 1,234 offences.")
    write(raw / "sources.csv", (
        "file,url,outlet,title,published\n"
        "news/grooming.html,https://example.org/a,The Example,Manifest title,2023-08-20\n"
        "plain.txt,,BBC News,,\n"
    ))
    result = ingest(raw, max_bytes=MB)
    html, plain = result.documents
    assert (html.url, html.outlet, html.title, html.published) == ("https://example.org/a", "The Example", "Manifest title", date(2023, 8, 20))
    assert (plain.url, plain.outlet, plain.title, plain.published) == (None, "BBC News", None, None)
    assert result.warnings == []
    assert "sources.csv" not in accounted(result)


def test_blank_manifest_fields_keep_page_metadata(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "grooming.html", ARTICLE)
    write(raw / "sources.csv", "file,url,outlet,title,published\ngrooming.html,,NSPCC,,\n")
    (doc,) = ingest(raw, max_bytes=MB).documents
    assert (doc.outlet, doc.title, doc.published) == ("NSPCC", "Online grooming crimes hit record high", date(2023, 8, 16))


def test_manifest_row_for_missing_file_and_malformed_date_are_warnings(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "a.txt", "Police recorded 1,234 offences.")
    write(raw / "sources.csv", (
        "\ufefffile,url,outlet,title,published\n"  # Excel writes a BOM
        "a.txt,,,,16/08/2023\n"
        "gone.txt,https://example.org/gone,,,2020-01-01\n"
    ))
    result = ingest(raw, max_bytes=MB)
    (doc,) = result.documents
    assert doc.published is None
    assert result.warnings == [
        "sources.csv line 2: malformed published date '16/08/2023' for a.txt (expected YYYY-MM-DD); ignored",
        "sources.csv names missing file gone.txt",
    ]


def test_manifest_matches_windows_separators_and_unicode_normalisation(tmp_path: Path) -> None:
    import unicodedata

    raw = tmp_path / "raw"
    write(raw / "sub" / unicodedata.normalize("NFD", "café.txt"), "Police recorded 1,234 offences.")
    write(raw / "sources.csv", "file,outlet\n" + "sub\\" + unicodedata.normalize("NFC", "café.txt") + ",Le Monde\n")
    result = ingest(raw, max_bytes=MB)
    assert [d.outlet for d in result.documents] == ["Le Monde"]
    assert result.warnings == []


def test_manifest_for_a_rejected_file_is_not_reported_missing(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "empty.txt", "")
    write(raw / "sources.csv", "file,url,outlet,title,published\nempty.txt,,,,\n")
    result = ingest(raw, max_bytes=MB)
    assert reasons(result) == {"empty.txt": "empty file (0 bytes)"} and result.warnings == []


def test_manifest_without_file_column_is_ignored_with_a_warning(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "a.txt", "Police recorded 1,234 offences.")
    write(raw / "sources.csv", "path,url\na.txt,https://example.org\n")
    result = ingest(raw, max_bytes=MB)
    assert [d.url for d in result.documents] == [None]
    assert result.warnings == ["sources.csv ignored: it has no 'file' column (expected columns file, url, outlet, title, published, licence)"]


def test_sources_csv_below_the_root_is_an_ordinary_document(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "sub" / "sources.csv", "file,url\nx.txt,https://example.org\n")
    assert [d.document for d in ingest(raw, max_bytes=MB).documents] == ["sub/sources.csv"]


def test_documents_are_document_records(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write(raw / "a.txt", "Police recorded 1,234 offences.")
    assert all(isinstance(d, Document) for d in ingest(raw, max_bytes=MB).documents)
