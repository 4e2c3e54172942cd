"""The DuckDB database: tables from metadata, bulk load, facts_named, atomic replace, validators."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from pipeline.database import (
    DuplicateKeyError,
    load_database,
    rows_to_arrow,
)
from pipeline.documents import Document, Rejected
from pipeline.extractor import Fact, Mention, make_fact_id
from pipeline.metadata.tables import TABLES, TAXONOMY_TABLES
from pipeline.metadata.taxonomy import load_taxonomy, load_taxonomy_table
from pipeline.validate import field_errors, reference_errors

TEXT = "Instagram and WhatsApp were used in 27 (40.2%) of those cases, police in Hampshire said."
QUOTE = "27 (40.2%)"
START = TEXT.index(QUOTE)


def document(name: str = "a.txt", text: str = TEXT) -> Document:
    return Document(
        document=name,
        sha256="0" * 64,
        bytes=len(text.encode()),
        media_type="text/plain",
        text=text,
        encoding="utf-8",
        published=date(2018, 4, 17),
        title="Facebook apps used in 40.2% of cases",
        url="https://example.org/a",
    )


def fact(name: str = "a.txt", **overrides: Any) -> dict[str, Any]:
    row = Fact(
        fact_id=make_fact_id(name, START, START + len(QUOTE)),
        document=name,
        platform="instagram+whatsapp",
        quote=QUOTE,
        char_start=START,
        char_end=START + len(QUOTE),
        count=27,
        share=0.402,
        source="nspcc",
        year=2018,
        region="hampshire",
        offence="sexual_communication_with_a_child",
        measure="cases",
        period_start=date(2017, 4, 3),
        period_end=date(2017, 12, 31),
    ).to_row()
    return {**row, **overrides}


def mention(name: str = "a.txt") -> dict[str, Any]:
    return Mention(START, START + 2, "27", 27.0, "count_share", "fact", "platform share", fact()["fact_id"], TEXT).to_row(name)


def load(path: Path, **tables: Any) -> dict[str, int]:
    args: dict[str, Any] = {"documents": [document()], "rejected": [], "mentions": [mention()], "facts": [fact()]}
    args.update(tables)
    return load_database(path, **args)


def test_every_table_is_created_and_counted(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    counts = load(db, rejected=[Rejected("b.bin", "binary file (zip archive)", "1" * 64, 10)])
    assert set(counts) == set(TABLES)
    assert counts["facts"] == counts["documents"] == counts["mentions"] == counts["rejected_documents"] == 1
    for name in TAXONOMY_TABLES:
        assert counts[name] == len(load_taxonomy_table(name)) > 0
    with duckdb.connect(str(db), read_only=True) as con:
        for table, n in counts.items():
            assert con.execute(f'SELECT count(*) FROM "{table}"').fetchone() == (n,)


def test_column_types_follow_the_metadata(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    load(db)
    with duckdb.connect(str(db), read_only=True) as con:
        types = dict(con.execute("SELECT column_name, data_type FROM duckdb_columns() WHERE table_name = 'facts'").fetchall())
    assert types["count"] == "BIGINT"
    assert types["share"] == "DOUBLE"
    assert types["period_end"] == "DATE"
    assert types["quote"] == "VARCHAR"
    assert types == {f.name: f.type for f in TABLES["facts"].fields}


def test_tables_and_columns_carry_their_descriptions(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    load(db)
    with duckdb.connect(str(db), read_only=True) as con:
        tables = dict(con.execute("SELECT table_name, comment FROM duckdb_tables()").fetchall())
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE table_name IN (SELECT table_name FROM duckdb_tables())"
        ).fetchall()
    assert tables == {name: t.description for name, t in TABLES.items()}
    assert all(comment for _, _, comment in columns)


def test_values_round_trip_with_their_types(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    load(db)
    with duckdb.connect(str(db), read_only=True) as con:
        row = con.execute("SELECT count, share, period_start, quote, char_start FROM facts").fetchone()
        published = con.execute("SELECT published FROM documents").fetchone()
    assert row == (27, 0.402, date(2017, 4, 3), QUOTE, START)
    assert published == (date(2018, 4, 17),)


def test_empty_taxonomy_cells_are_null(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    load(db)
    blank = [r["slug"] for r in load_taxonomy_table("platforms") if not r["owner"]]
    assert blank, "the vendored platforms.csv has categories without an owner"
    with duckdb.connect(str(db), read_only=True) as con:
        owner = con.execute("SELECT owner FROM platforms WHERE slug = ?", [blank[0]]).fetchone()
        empty = con.execute("SELECT count(*) FROM platforms WHERE owner = ''").fetchone()
    assert owner == (None,)
    assert empty == (0,)


def test_facts_named_joins_names_and_reads_combined_platforms(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    load(db, facts=[fact(), fact(char_start=0, char_end=9, quote="Instagram", fact_id="x", platform="instagram")])
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT platform, platform_name, source_name, region_name, offence_name, document_title "
            "FROM facts_named ORDER BY char_start"
        ).fetchall()
        n_columns = len(con.execute("SELECT * FROM facts_named LIMIT 0").description)
    taxonomy = load_taxonomy()
    assert rows[0][:2] == ("instagram", "Instagram")
    assert rows[1][1] == "Instagram + WhatsApp"
    assert rows[1][2:] == (
        taxonomy.sources["nspcc"]["name"],
        taxonomy.regions["hampshire"]["name"],
        taxonomy.offences["sexual_communication_with_a_child"]["name"],
        "Facebook apps used in 40.2% of cases",
    )
    assert n_columns > len(TABLES["facts"].columns)


def test_duplicate_fact_ids_fail_loudly_and_keep_the_old_database(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    load(db)
    before = db.read_bytes()
    other_span = fact(char_start=0, char_end=9, quote="Instagram")  # same fact_id, another span
    with pytest.raises(DuplicateKeyError, match=r"facts: 1 duplicate value\(s\) of the primary key \(fact_id\)"):
        load(db, facts=[fact(), other_span])
    assert db.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.duckdb"]


def test_mentions_load_from_an_arrow_table_as_from_rows(tmp_path: Path) -> None:
    rows = [mention()]
    load(tmp_path / "rows.duckdb", mentions=rows)
    load(tmp_path / "arrow.duckdb", mentions=rows_to_arrow("mentions", rows))
    read = []
    for name in ("rows", "arrow"):
        with duckdb.connect(str(tmp_path / f"{name}.duckdb"), read_only=True) as con:
            read.append(con.execute("SELECT * FROM mentions").fetchall())
    assert read[0] == read[1] and len(read[0]) == 1
    with pytest.raises(DuplicateKeyError, match=r"mentions: 1 duplicate value\(s\) of the primary key"):
        load(tmp_path / "twice.duckdb", mentions=rows_to_arrow("mentions", rows + rows))
    with pytest.raises(ValueError, match="columns"):
        load(tmp_path / "bad.duckdb", mentions=rows_to_arrow("mentions", rows).drop_columns(["sentence"]))


def test_a_constraint_violation_in_the_database_keeps_the_old_file_readable(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    load(db)
    with pytest.raises(ValueError, match="facts"):
        load(db, facts=[fact(quote=None)])  # quote is NOT NULL
    with duckdb.connect(str(db), read_only=True) as con:
        assert con.execute("SELECT quote FROM facts").fetchall() == [(QUOTE,)]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stats.duckdb"]


def test_a_reader_holding_the_old_database_keeps_its_copy_while_a_new_one_replaces_it(tmp_path: Path) -> None:
    db = tmp_path / "stats.duckdb"
    load(db)
    count = "import duckdb, sys; print(duckdb.connect(sys.argv[1], read_only=True).execute('SELECT count(*) FROM documents').fetchone()[0])"
    with duckdb.connect(str(db), read_only=True) as reader:
        load(db, documents=[document(), document("b.txt")])
        assert reader.execute("SELECT count(*) FROM documents").fetchone() == (1,)
        # Another process opening the path now gets the new database, without a lock error.
        other = subprocess.run([sys.executable, "-c", count, str(db)], capture_output=True, text=True, check=True)
        assert other.stdout.strip() == "2"
    with duckdb.connect(str(db), read_only=True) as reader:  # in this process, once the old connection closed
        assert reader.execute("SELECT count(*) FROM documents").fetchone() == (2,)


def test_rows_with_fields_that_are_not_columns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not columns of the table: \\['colour'\\]"):
        load(tmp_path / "stats.duckdb", facts=[fact(colour="red")])
    assert not (tmp_path / "stats.duckdb").exists()


def test_ten_thousand_documents_load_in_one_bulk_insert(tmp_path: Path) -> None:
    docs = [document(f"d{i:05}.txt") for i in range(10_000)]
    facts = [fact(d.document) for d in docs]
    counts = load(tmp_path / "stats.duckdb", documents=docs, facts=facts, mentions=[mention(d.document) for d in docs])
    assert counts["documents"] == counts["facts"] == counts["mentions"] == 10_000


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"share": 1.2}, "share=1.2 is above 1"),
        ({"share": -0.1}, "share=-0.1 is below 0"),
        ({"count": -3}, "count=-3 is below 0"),
        ({"qualifier": "roughly"}, "qualifier='roughly' is not one of"),
        ({"quote": None}, "quote is missing"),
    ],
)
def test_field_errors_report_values_outside_the_metadata_constraints(overrides: dict[str, Any], message: str) -> None:
    errors = field_errors("facts", [fact(), fact(**overrides)])
    assert len(errors) == 1
    assert message in errors[0]


def test_field_errors_can_be_limited_to_some_columns() -> None:
    assert field_errors("facts", [fact(count=-3)], ["share"]) == []


@pytest.mark.parametrize(
    ("overrides", "bad"),
    [
        ({"platform": "instagram+myspace"}, "platform 'instagram+myspace'"),
        ({"source": "the_telegraph"}, "source 'the_telegraph'"),
        ({"region": "atlantis"}, "region 'atlantis'"),
        ({"offence": "jaywalking"}, "offence 'jaywalking'"),
    ],
)
def test_reference_errors_name_slugs_missing_from_the_taxonomy(overrides: dict[str, Any], bad: str) -> None:
    taxonomy = load_taxonomy()
    assert reference_errors([fact()], taxonomy) == []
    errors = reference_errors([fact(**overrides)], taxonomy)
    assert len(errors) == 1 and bad in errors[0]


BAD_FACTS = [
    {"share": 1.2}, {"share": -0.1}, {"share": float("nan")}, {"count": -3}, {"year": 1850}, {"year": 2200},
    {"qualifier": "roughly"}, {"quote": None}, {"platform": "instagram+myspace"}, {"source": "the_telegraph"},
    {"region": "atlantis"}, {"offence": "jaywalking"}, {"count": None, "share": None},
]


def test_validators_say_the_same_of_rows_and_of_an_arrow_table_and_nothing_of_a_good_row() -> None:
    # the checks test Arrow batches column-wise; the messages are those of the same rows as dicts
    rows = [fact(f"good{i}.txt") for i in range(5)] + [fact(f"bad{i}.txt", **bad) for i, bad in enumerate(BAD_FACTS)]
    table = rows_to_arrow("facts", rows)
    taxonomy = load_taxonomy()
    for columns in (None, ["share"], ["count"]):
        assert field_errors("facts", table, columns) == field_errors("facts", rows, columns)
    assert field_errors("facts", rows) and reference_errors(rows, taxonomy)
    assert reference_errors(table, taxonomy) == reference_errors(rows, taxonomy)
    named = " ".join(field_errors("facts", table) + reference_errors(table, taxonomy))
    assert "good" not in named
