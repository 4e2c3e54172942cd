"""Hostile documents: each built here, each must become a document or a rejection with a true reason,
never a crash of the run, and never cost time growing with the square of its length."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.documents import document_from_bytes, ingest
from pipeline.extractor import extract_document
from pipeline.extractor.reasons import Reason

TOO_LARGE = Reason.TOO_LARGE

TOPIC = "Police recorded {} offences of sexual communication with a child on Facebook in 2023, the NSPCC said."


def test_numbers_of_twenty_or_more_digits_are_dropped_with_the_reason_not_a_crash() -> None:
    text = "\n".join(
        [TOPIC.format("123456789012345678901234"), TOPIC.format("9" * 400), TOPIC.format("1,234")]
    )
    result = extract_document(document_from_bytes(text.encode(), document="big.txt"))
    reasons = {m.surface: m.reason for m in result.mentions}
    assert reasons["123456789012345678901234"] == TOO_LARGE
    assert reasons["9" * 400] == TOO_LARGE
    assert [f.count for f in result.facts] == [1234]


@pytest.mark.parametrize("codec", ["rot13", "base64", "zlib", "hex", "bz2", "uu", "quopri"])
def test_a_meta_charset_naming_a_codec_that_is_not_a_text_encoding_is_ignored(codec: str) -> None:
    page = (
        f'<html><head><meta charset="{codec}"><title>t</title></head><body><p>'
        + TOPIC.format("1,234")
        + " Caf\xe9.</p></body></html>"
    ).encode("cp1252")  # not UTF-8, so the declared charset is consulted
    doc = document_from_bytes(page, document=f"{codec}.html")
    assert doc.encoding == "cp1252" and "1,234" in doc.text and "Café" in doc.text


def test_a_cp037_page_is_read_as_text() -> None:
    page = "<html><body><article><p>" + TOPIC.format("4,321") + "</p><p>Most were on Snapchat.</p></article></body></html>\n"
    doc = document_from_bytes(page.encode("cp037"), document="ebcdic.html")
    assert doc.encoding == "cp037" and "4,321" in doc.text


@pytest.mark.parametrize("depth", [300, 3000])
def test_html_nested_past_lxmls_depth_limit_keeps_its_text_with_a_warning(tmp_path: Path, depth: int) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    body = "<div>" * depth + f"<p>{TOPIC.format('5,555')}</p><script>var x = 9999;</script>" + "</div>" * depth
    (raw / "deep.html").write_text(f"<html><head><title>Deep</title></head><body>{body}</body></html>")
    result = ingest(raw, max_bytes=1 << 20, workers=1)
    assert result.rejected == []
    (doc,) = result.documents
    assert doc.text == TOPIC.format("5,555")
    assert [w for w in result.warnings if w.startswith("deep.html: HTML nested deeper than lxml's limit")]


def test_one_long_line_of_repeated_text_is_extracted_with_every_quote_at_its_span() -> None:
    # How its cost grows with length is measured by benchmarks/hostile.py (linearity), not timed here.
    unit = "Police recorded 1,234 offences of grooming on Facebook and Instagram in 2023 "
    text = (unit * (200_000 // len(unit) + 1))[:200_000]
    doc = document_from_bytes(text.encode(), document="long.txt")
    facts = extract_document(doc).facts
    assert facts
    assert all(text[f.char_start:f.char_end] == f.quote for f in facts)
