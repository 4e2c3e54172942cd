"""The curated layer on real documents: statistics merge repeats, conflicts are listed, corrections
apply by content and survive re-runs and renames, a stale correction fails the run naming its line."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest
from conftest import SEEDS

from pipeline.config import Settings
from pipeline.corrections import apply_corrections, correction_line, parse_corrections
from pipeline.curate import agree, curate
from pipeline.defs.run import run_pipeline
from pipeline.documents import ingest
from pipeline.extractor.batch import extract_documents

# Three short stories written for these tests: a and b state one figure in different words
# (412, and "more than 400"), c states another value for the same key.
STORY_A = (
    "Grooming crimes on Instagram recorded by Kent Police\n\n"
    "Figures obtained by the NSPCC under freedom of information show that Instagram was used in 412 offences of "
    "sexual communication with a child recorded by Kent Police in 2022/23.\n\n"
    "Snapchat was used to groom 58 children in the county over the same period.\n"
)
STORY_B = (
    "Charity warns over Instagram grooming in Kent\n\n"
    "Kent Police logged more than 400 sexual communication with a child offences involving Instagram in 2022/23, "
    "according to freedom of information data gathered by the NSPCC.\n"
)
STORY_C = (
    "Instagram grooming figures for Kent\n\n"
    "The NSPCC said Instagram was used in 521 offences of sexual communication with a child recorded by Kent Police "
    "in 2022/23, according to freedom of information responses.\n"
)
QUOTE_C = (
    "The NSPCC said Instagram was used in 521 offences of sexual communication with a child recorded by Kent Police "
    "in 2022/23, according to freedom of information responses."
)
QUOTE_B = (
    "Kent Police logged more than 400 sexual communication with a child offences involving Instagram in 2022/23, "
    "according to freedom of information data gathered by the NSPCC."
)
ADDED = "Snapchat was used to groom 58 children in the county"
HEADER = "sha256,quote,action,field,value,reason,reviewer\n"


def curated_of(raw: Path, corrections_text: str = ""):  # type: ignore[no-untyped-def]
    docs = ingest(raw, max_bytes=10_000_000).documents
    facts = extract_documents(docs, cache_dir=None, workers=1).facts
    corrected = apply_corrections(facts, docs, parse_corrections(HEADER + corrections_text) if corrections_text else [])
    return docs, corrected, curate(corrected.facts, docs)


@pytest.fixture(scope="module")
def default_dataset():  # type: ignore[no-untyped-def]
    return curated_of(SEEDS)


def stories(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (("a.txt", STORY_A), ("b.txt", STORY_B), ("c.txt", STORY_C)):
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def sha(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def run(raw: Path, curated: Path, corrections: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = run_pipeline(Settings(raw_dir=raw, curated_dir=curated, workers=1, corrections_path=corrections), progress=False)
    return code, capsys.readouterr().out


def query(curated: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(curated / "stats.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


# ------------------------------------------------------------------ the default dataset


def test_syndicated_pairs_of_the_corpora_merge_into_statistics_with_several_citations(default_dataset) -> None:  # type: ignore[no-untyped-def]
    docs, corrected, cur = default_dataset
    stats = {(s["count"], s["share"], s["platform"], s["region"], s["year"]): s for s in cur.statistics.to_pylist()}
    cited = {}
    for c in cur.citations.to_pylist():
        cited.setdefault(c["statistic_id"], set()).add(c["document"])
    # 125/126 are one NSPCC press release syndicated twice; 116/117 one Police Scotland story
    assert cited[stats[(2111, None, "all_platforms", "united_kingdom", 2025)]["statistic_id"]] == {"125_050fcd88.txt", "126_69716e3f.txt"}
    assert cited[stats[(7263, None, "online_any", "united_kingdom", 2025)]["statistic_id"]] == {"125_050fcd88.txt", "126_69716e3f.txt"}
    assert cited[stats[(1966, None, "online_any", "scotland", 2021)]["statistic_id"]] == {"116_b91a1f96.txt", "117_44c64d0b.txt"}
    # 3,186 and its rounding "more than 3,000", in two differently worded stories: one figure, four citations
    s3186 = stats[(3186, None, "online_any", "england_and_wales", 2016)]
    assert s3186["n_citations"] == 4 and s3186["n_documents"] == 2 and s3186["qualifier"] == "exact"
    several = [s for s in cur.statistics.to_pylist() if s["n_documents"] > 1]
    assert len(several) >= 6  # (9 at the time of writing; the extractor moves attributes a little)
    assert cur.citations.num_rows == corrected.facts.num_rows  # every fact cites exactly one statistic
    assert cur.statistics.num_rows < corrected.facts.num_rows
    assert len(set(cur.statistics["statistic_id"].to_pylist())) == cur.statistics.num_rows


def test_statistic_ids_are_stable_across_runs_and_independent_of_the_citing_documents(default_dataset, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _, _, first = default_dataset
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("125_050fcd88.txt", "116_b91a1f96.txt"):  # one of each pair, renamed
        shutil.copy(SEEDS / name, raw / f"renamed-{name}")
    _, _, second = curated_of(raw)
    ids = set(first.statistics["statistic_id"].to_pylist())
    assert second.statistics.num_rows > 0
    assert set(second.statistics["statistic_id"].to_pylist()) <= ids


def test_rounding_decides_what_agrees() -> None:
    def fact(count=None, share=None, qualifier="exact"):  # type: ignore[no-untyped-def]
        return {"count": count, "share": share, "qualifier": qualifier}

    assert agree(fact(share=0.402), fact(share=0.40))  # 40.2% and 40%
    assert agree(fact(count=9477), fact(count=9000, qualifier="more_than"))  # "more than 9,000"
    assert agree(fact(count=16_400_000), fact(count=16_000_000))  # "16 million" is rounded
    assert agree(fact(share=0.18), fact(share=0.2, qualifier="about"))
    assert agree(fact(count=27, share=0.402), fact(share=0.4))
    assert agree(fact(share=0.44), fact(share=0.40)) is False
    assert agree(fact(count=9477), fact(count=9000)) is False  # an exact 9,000 is not 9,477
    assert agree(fact(count=521), fact(count=400, qualifier="more_than")) is False
    assert agree(fact(count=27), fact(share=0.4)) is None  # a count beside a share: two figures


def test_a_document_written_to_conflict_gives_a_conflicts_row(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    for name in ("116_b91a1f96.txt", "117_44c64d0b.txt"):
        shutil.copy(SEEDS / name, raw / name)
    (raw / "zz_conflict.txt").write_text(
        "Scotland online abuse figures revised\n\nA total of 2,466 online child sex abuse crimes were logged by "
        "Police Scotland during 2020-21, the force said.\n",
        encoding="utf-8",
    )
    _, _, cur = curated_of(raw)
    rows = cur.conflicts.to_pylist()
    assert sorted((r["document"], r["count"]) for r in rows) == [
        ("116_b91a1f96.txt", 1966), ("117_44c64d0b.txt", 1966), ("zz_conflict.txt", 2466),
    ]
    assert len({r["conflict_id"] for r in rows}) == 1 and {r["n_values"] for r in rows} == {2}
    assert all(r["quote"] for r in rows)
    flagged = {s["count"]: s["conflict"] for s in cur.statistics.to_pylist() if s["count"] in (1966, 2466)}
    assert flagged == {1966: True, 2466: True}
    top = cur.review.to_pylist()[0]
    assert "conflict" in top["reasons"]


def test_consistency_flags_shares_past_one_count_base_against_share_year_after_the_document(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "sum.txt").write_text(
        "Platforms used in grooming in Essex\n\nNSPCC figures show that of the offences of sexual communication with a "
        "child recorded by Essex Police in 2021/22 where the platform was known, Instagram was used in 60%, Snapchat "
        "in 35% and WhatsApp in 20%.\n",
        encoding="utf-8",
    )
    base_quote = "Facebook-owned apps were used in 27 (45%) of those cases"
    (raw / "base.txt").write_text(
        "Hampshire grooming figures\n\nOf the 67 offences of sexual communication with a child recorded by Hampshire "
        f"Constabulary in 2017/18 where the platform was known, {base_quote}, the NSPCC found.\n",
        encoding="utf-8",
    )
    (raw / "year.txt").write_text(
        "Kent grooming figures\n\nKent Police recorded 300 offences of sexual communication with a child in 2024/25 "
        "where Instagram was used, the NSPCC said.\n",
        encoding="utf-8",
    )
    (raw / "sources.csv").write_text("file,url,outlet,title,published\nyear.txt,,,,2024-01-10\n", encoding="utf-8")
    docs = ingest(raw, max_bytes=10_000_000).documents
    facts = extract_documents(docs, cache_dir=None, workers=1).facts
    base_fact = [f for f in facts.to_pylist() if f["count"] == 27][0]
    year_fact = [f for f in facts.to_pylist() if f["count"] == 300][0]
    assert year_fact["year"] is None or year_fact["year"] <= 2024  # the extractor dates nothing after the document
    # the extractor leaves the base out; a correction states it (27 of 67 is 40.3%, not 45%); another sets a
    # year past the document's date, as a mistaken correction (or an extractor) could
    fix = parse_corrections(
        HEADER
        + correction_line(sha(raw / "base.txt"), base_fact["quote"], "set", "base", "67", "base in the text", "t") + "\n"
        + correction_line(sha(raw / "year.txt"), year_fact["quote"], "set", "year", "2025", "the 2024/25 figures", "t") + "\n"
    )
    corrected = apply_corrections(facts, docs, fix)
    assert corrected.errors == []
    cur = curate(corrected.facts, docs)
    by_check = {check: [f.message for f in cur.flagged(check)] for check in ("shares_sum", "count_base_share", "year_after_document")}
    assert len(by_check["shares_sum"]) == 1 and "sum to 1.150" in by_check["shares_sum"][0]
    assert by_check["count_base_share"] == ["27 of 67 is 40.3%, not the stated 45.0%"]
    assert len(by_check["year_after_document"]) == 1 and "2025" in by_check["year_after_document"][0]
    flagged = [s for s in cur.statistics.to_pylist() if s["flags"]]
    assert len(flagged) == 5  # three shares, the corrected count, the year


def test_every_review_line_pastes_into_corrections_and_applies_to_its_fact(default_dataset) -> None:  # type: ignore[no-untyped-def]
    docs, corrected, cur = default_dataset
    queue = cur.review.to_pylist()
    assert [q["rank"] for q in queue] == list(range(1, len(queue) + 1))
    assert [q["score"] for q in queue] == sorted((q["score"] for q in queue), reverse=True)
    lines = [q["correction_line"] for q in queue[:40]]
    parsed = parse_corrections(HEADER + "\n".join(lines) + "\n")
    assert [c.quote for c in parsed] == [q["quote"] for q in queue[:40]]
    for q, line in zip(queue[:40], lines, strict=True):
        one = apply_corrections(corrected.facts, docs, parse_corrections(HEADER + line + "\n"))
        # a quote two facts share (one figure over two platforms) cannot name one: said so, with both ids
        assert one.errors == [] or "matches 2 facts" in one.errors[0], (line, one.errors)
        if not one.errors:
            assert one.applied.to_pylist()[0]["fact_id"] == q["fact_id"]


# ------------------------------------------------------------------ whole runs with a corrections file


def test_owner_check_two_wordings_one_statistic_a_third_value_conflicts_and_a_reject_removes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    raw, curated, fixes = stories(tmp_path / "raw"), tmp_path / "curated", tmp_path / "corrections.csv"
    code, out = run(raw, curated, fixes, capsys)
    assert code == 0, out
    assert "warning conflicts:no_conflicts: 1 of" in out
    stats = query(curated, "select statistic_id, count, qualifier, n_citations from statistics order by count")
    assert [(c, q, n) for _, c, q, n in stats] == [(412, "exact", 2), (521, "exact", 1)]
    cited = query(curated, f"select document, count, qualifier from citations where statistic_id = '{stats[0][0]}' order by document")
    assert cited == [("a.txt", 412, "exact"), ("b.txt", 400, "more_than")]
    assert sorted(query(curated, "select document from conflicts")) == [("a.txt",), ("b.txt",), ("c.txt",)]

    fixes.write_text(HEADER + correction_line(sha(raw / "c.txt"), QUOTE_C, "reject", reason="misprint: 412 in the FOI table", reviewer="owner") + "\n")
    code, out = run(raw, curated, fixes, capsys)
    assert code == 0, out
    assert "no_conflicts" not in out
    assert query(curated, "select count(*) from conflicts") == [(0,)]
    assert query(curated, "select count, n_citations, n_documents from statistics") == [(412, 2, 2)]
    assert query(curated, "select count(*) from facts where document = 'c.txt'") == [(0,)]
    assert query(curated, "select line, action, document from corrections") == [(2, "reject", "c.txt")]
    changes = (curated / "releases" / "latest" / "CHANGES.md").read_text()
    assert "## Corrections applied (1)" in changes and "misprint: 412 in the FOI table; owner" in changes


def test_reject_set_and_add_apply_and_survive_a_second_run_and_a_rename(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw, curated, fixes = stories(tmp_path / "raw"), tmp_path / "curated", tmp_path / "corrections.csv"
    a, b, c = (sha(raw / n) for n in ("a.txt", "b.txt", "c.txt"))
    rows = [
        correction_line(c[:12], QUOTE_C, "reject", reason="misprint", reviewer="t"),
        correction_line(b, QUOTE_B, "set", "qualifier", "about", "the story rounds the FOI figure", "t"),
        *(correction_line(a[:16], ADDED, "add", f, v, "victims count the extractor leaves out", "t")
          for f, v in (("platform", "snapchat"), ("count", "58"), ("measure", "victims"), ("region", "kent"),
                       ("offence", "sexual_communication_with_a_child"), ("year", "2023"))),
    ]
    fixes.write_text(HEADER + "\n".join(rows) + "\n")

    def state() -> tuple:
        facts = query(curated, "select document, count, qualifier, platform, corrected, correction is not null from facts order by count")
        stats = query(curated, "select statistic_id, count, n_citations, corrected, correction from statistics order by count")
        applied = query(curated, "select line, action, fact_id from corrections order by line")
        return facts, stats, applied

    code, out = run(raw, curated, fixes, capsys)
    assert code == 0, out
    facts, stats, applied = state()
    assert [f[:4] for f in facts] == [("a.txt", 58, "exact", "snapchat"), ("b.txt", 400, "about", "instagram"), ("a.txt", 412, "exact", "instagram")]
    assert [f[4:] for f in facts] == [(True, True), (True, True), (False, False)]
    assert [(s[1], s[2], s[3]) for s in stats] == [(58, 1, True), (412, 2, True)]
    assert "line 3: set qualifier more_than -> about (the story rounds the FOI figure; t)" in stats[1][4]
    assert [a_[1] for a_ in applied] == ["reject", "set", *["add"] * 6]
    added_text = query(curated, "select quote, char_start, char_end from facts where count = 58")[0]
    assert STORY_A[added_text[1] : added_text[2]] == ADDED == added_text[0]

    code, out = run(raw, curated, fixes, capsys)
    assert code == 0, out
    assert state() == (facts, stats, applied)

    (raw / "moved").mkdir()
    (raw / "a.txt").rename(raw / "moved" / "renamed a.txt")
    (raw / "b.txt").rename(raw / "b-story.txt")
    code, out = run(raw, curated, fixes, capsys)
    assert code == 0, out
    moved = state()
    assert [f[1:] for f in moved[0]] == [f[1:] for f in facts] and moved[1] == stats  # ids keyed by content
    assert [a_[2] for a_ in moved[2]] == [a_[2] for a_ in applied]
    assert {f[0] for f in moved[0]} == {"moved/renamed a.txt", "b-story.txt"}

    # another document arrives: the database loads only it, and the corrected rows stay corrected
    (raw / "d.txt").write_text("Kent grooming\n\nThe NSPCC said Snapchat was used in 37 offences of sexual communication with a child recorded by Kent Police in 2022/23.\n")
    code, out = run(raw, curated, fixes, capsys)
    assert code == 0, out
    again = state()
    assert [f for f in again[0] if f[0] != "d.txt"] == moved[0] and again[2] == moved[2]
    assert [s_ for s_ in again[1] if s_[1] != 37] == moved[1]


def test_a_stale_correction_fails_the_run_naming_its_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw, curated, fixes = stories(tmp_path / "raw"), tmp_path / "curated", tmp_path / "corrections.csv"
    b = sha(raw / "b.txt")
    fixes.write_text(
        HEADER
        + correction_line(b, QUOTE_B, "set", "qualifier", "about", "rounded", "t") + "\n"
        + correction_line(b, "Kent Police logged 999 offences", "reject", reason="gone", reviewer="t") + "\n"
    )
    code, out = run(raw, curated, fixes, capsys)
    assert code == 1
    assert "FAILED corrections:every_correction_applies: 1 of 2" in out
    assert "line 3: matches no fact of b.txt" in out
    assert not (curated / "stats.duckdb").exists()  # nothing downstream of a failed blocking check is built

    # a correction matching more than one document, or one whose document is gone, fails the same way
    fixes.write_text(HEADER + correction_line("0" * 12, QUOTE_B, "reject", reason="x") + "\n")
    code, out = run(raw, curated, fixes, capsys)
    assert code == 1 and "line 2: no document has a sha256 starting 000000000000" in out


def test_corrections_file_rows_are_validated_with_their_line() -> None:
    text = HEADER + "abc,q,reject,,,why,\n" + f"{'a' * 64},q,drop,,,why,\n" + f"{'a' * 64},\"two\nlines\",set,colour,red,why,\n"
    parsed = parse_corrections(text)
    assert [c.line for c in parsed] == [2, 3, 4]
    result = apply_corrections(
        extract_documents([], cache_dir=None, workers=1).facts, [], parsed
    )
    assert [e.split(":")[0] for e in result.errors] == ["line 2", "line 3", "line 4"]
    assert "prefix of at least 12 hex digits" in result.errors[0]
    assert "'drop' is not one of reject, set, add" in result.errors[1]
    assert "field 'colour'" in result.errors[2]
    with pytest.raises(ValueError, match="line 1: the header must name the columns"):
        parse_corrections("sha,quote\n")


def test_release_carries_statistics_citations_conflicts_and_corrections(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw, curated, fixes = stories(tmp_path / "raw"), tmp_path / "curated", tmp_path / "corrections.csv"
    code, out = run(raw, curated, fixes, capsys)
    assert code == 0, out
    import json

    release = curated / "releases" / "latest"
    package = json.loads((release / "datapackage.json").read_text())
    names = {r["name"] for r in package["resources"]}
    assert {"statistics", "citations", "conflicts", "review", "corrections"} <= names
    stats = next(r for r in package["resources"] if r["name"] == "statistics")
    assert stats["schema"]["primaryKey"] == ["statistic_id"]
    assert any(f["name"] == "n_citations" and f["description"] for f in stats["schema"]["fields"])
    with (release / "facts.csv").open(newline="") as f:
        header = next(csv.reader(f))
    assert header[-2:] == ["corrected", "correction"]


def test_the_readme_example_corrections_apply_to_the_default_dataset(default_dataset) -> None:  # type: ignore[no-untyped-def]
    import re

    docs, corrected, _ = default_dataset
    readme = (SEEDS.parents[1] / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```csv\n(sha256,quote.*?)```", readme, re.S)
    assert block, "README shows a corrections.csv example"
    result = apply_corrections(corrected.facts, docs, parse_corrections(block.group(1)))
    assert result.errors == []
    assert [r["action"] for r in result.applied.to_pylist()] == ["set", "reject"]
    assert result.facts.num_rows == corrected.facts.num_rows - 1
    (base,) = [f for f in result.facts.to_pylist() if f["count"] == 27 and f["share"] == 0.402]
    assert base["base"] == 67 and base["corrected"] and "line 2: set base null -> 67" in base["correction"]
    # 27 of 67 is 40.3%, not the stated 40.2%: the consistency check says so
    assert any("27 of 67" in f.message for f in curate(result.facts, docs).flagged("count_base_share"))


# ------------------------------------------------------------------ incremental curation


def _curated_rows(path: Path) -> dict[str, list[tuple]]:
    with duckdb.connect(str(path), read_only=True) as con:
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in ("statistics", "citations", "conflicts", "review")}


def test_a_change_curates_only_its_groups_again_and_equals_curating_everything(tmp_path: Path) -> None:
    from pipeline.curate import refresh_database
    from pipeline.database import STATE_SCHEMA, load_database

    raw = stories(tmp_path / "raw")
    for path in SEEDS.glob("*.txt"):
        shutil.copy(path, raw / path.name)
    ingested = ingest(raw, max_bytes=10_000_000)
    facts = extract_documents(ingested.documents, cache_dir=None, workers=1).facts
    database = tmp_path / "stats.duckdb"
    load_database(database, documents=ingested.documents, rejected=[], mentions=[], facts=facts)

    # c.txt's 521 conflicts with a.txt's 412; take c.txt out as a run removing it would, and curate again
    with duckdb.connect(str(database)) as con:
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {STATE_SCHEMA}")
        con.execute(f"CREATE TABLE {STATE_SCHEMA}.extra AS SELECT 'same' AS value")
        assert con.execute("SELECT count(*) FROM conflicts WHERE document = 'c.txt'").fetchone()[0] >= 1
        con.execute("DELETE FROM facts WHERE document = 'c.txt'")
        con.execute("DELETE FROM documents WHERE document = 'c.txt'")
        (total,) = con.execute("SELECT count(*) FROM facts").fetchone()
        done = refresh_database(con, ["c.txt"], [], fingerprint="same")
        assert not done.full and done.groups >= 1 and 1 <= done.facts < total / 3
        assert con.execute("SELECT count(*) FROM conflicts WHERE document IN ('a.txt', 'c.txt')").fetchone() == (0,)
        # another fingerprint (the corrections file or the curation code changed): everything again
        assert refresh_database(con, [], [], fingerprint="other").facts == total

    kept = [d for d in ingested.documents if d.document != "c.txt"]
    fresh = tmp_path / "fresh.duckdb"
    load_database(fresh, documents=kept, rejected=[], mentions=[], facts=facts.filter(pc.field("document") != "c.txt"))
    assert _curated_rows(database) == _curated_rows(fresh)


def test_review_reasons_name_each_weak_provenance_in_words(default_dataset) -> None:  # type: ignore[no-untyped-def]
    """Every reason for a weak attribute reads as a phrase ('from the published date', not 'from the none date')."""
    _, corrected, cur = default_dataset
    reasons = "; ".join(cur.review.column("reasons").to_pylist())
    assert "none date" not in reasons and "none-wide" not in reasons
    facts = corrected.facts.to_pylist()
    for attr in ("region", "year", "offence", "source", "platform"):
        weak = {f[f"{attr}_from"] for f in facts if f[attr] is not None and f.get(f"{attr}_from") in ("document", "published", "none")}
        wording = {"document": f"{attr} from the document-wide default", "published": f"{attr} from the published date",
                   "none": f"{attr} not stated beside the figure"}
        for origin in weak:
            assert wording[origin] in reasons, (attr, origin)
