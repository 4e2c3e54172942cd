"""The incremental report: a build renders only the pages whose data changed, removes the pages of
removed documents, survives a crash midway, and always ends byte-identical to a build from scratch.

Which pages a build wrote is read from the files themselves: every page is written to a temporary
file renamed over the old one, so a page rewritten has a new inode and a page left alone keeps its own.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from markupsafe import escape

from pipeline.config import Settings
from pipeline.defs.run import run_pipeline
from pipeline.report import build as report_build
from pipeline.report import build_report
from pipeline.report.build import INDEX_FILE, STATE_FILE
from pipeline.report.data import document_page_id

REPO = Path(__file__).resolve().parents[1]
NEW_DOCUMENT = (
    "Grooming offences recorded again\n\n"
    "Police recorded 7,913 offences of sexual communication with a child in Wales in 2023, the charity said.\n"
    "Of those, 44% took place on Snapchat.\n"
)


def pages(report: Path) -> dict[str, bytes]:
    return {p.relative_to(report).as_posix(): p.read_bytes() for p in report.rglob("*") if p.is_file() and p.name not in (INDEX_FILE, STATE_FILE)}


def inodes(report: Path) -> dict[str, int]:
    return {p.relative_to(report).as_posix(): p.stat().st_ino for p in report.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def databases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(before, after): the default dataset's database, and the same with one more document."""
    base = tmp_path_factory.mktemp("incremental")
    raw, curated = base / "raw", base / "curated"
    shutil.copytree(REPO / "data" / "raw", raw)
    assert run_pipeline(Settings(raw_dir=raw, curated_dir=curated), progress=False) == 0
    before = shutil.copy(curated / "stats.duckdb", base / "before.duckdb")
    (raw / "zz-added.txt").write_text(NEW_DOCUMENT, encoding="utf-8")
    assert run_pipeline(Settings(raw_dir=raw, curated_dir=curated), progress=False) == 0
    after = shutil.copy(curated / "stats.duckdb", base / "after.duckdb")
    return Path(before), Path(after)


def test_adding_a_document_renders_only_the_pages_it_changes(databases: tuple[Path, Path], tmp_path: Path) -> None:
    before, after = databases
    out = tmp_path / "report"
    first = build_report(before, out)
    assert first.rendered == first.pages and first.removed == 0
    old_pages, old_inodes = pages(out), inodes(out)

    second = build_report(after, out)
    scratch = tmp_path / "scratch"
    build_report(after, scratch)
    new_pages = pages(out)
    assert new_pages == pages(scratch), "the incremental build equals a build from scratch, byte for byte"

    rewritten = {p for p, ino in inodes(out).items() if p not in (INDEX_FILE, STATE_FILE) and old_inodes.get(p) != ino}
    differ = {p for p in new_pages if old_pages.get(p) != new_pages[p]}
    assert second.rendered == len(rewritten), "the build's own count is the pages it wrote"
    assert differ <= rewritten, "every page whose content changed was rendered"
    assert f"d/{document_page_id('zz-added.txt')}.html" in rewritten
    # only what the new document touches: its page, the statistics it cites, the lists and the overview
    assert 0 < second.rendered <= len(differ) + 5 and second.rendered < second.pages / 4
    assert not any(p.startswith("d/") for p in rewritten - differ)


def test_a_removed_documents_page_disappears(databases: tuple[Path, Path], tmp_path: Path) -> None:
    before, after = databases
    out = tmp_path / "report"
    build_report(after, out)
    page = out / "d" / f"{document_page_id('zz-added.txt')}.html"
    assert page.is_file()
    result = build_report(before, out)
    assert not page.exists() and result.removed >= 1
    scratch = tmp_path / "scratch"
    build_report(before, scratch)
    assert pages(out) == pages(scratch)


def test_a_build_killed_midway_is_repaired_by_the_next(
    databases: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before, after = databases
    out = tmp_path / "report"
    build_report(before, out, state="before")
    real_put = report_build._Renderer.put
    calls = {"n": 0}

    def put_then_die(self, relative, data):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt("killed")
        real_put(self, relative, data)

    monkeypatch.setattr(report_build._Renderer, "put", put_then_die)
    with pytest.raises(KeyboardInterrupt):
        build_report(after, out, state="after")
    monkeypatch.setattr(report_build._Renderer, "put", real_put)
    assert not (out / STATE_FILE).exists(), "a killed build leaves no record that would let the next one skip"
    assert not list(out.rglob(".*.tmp-*")), "no temporary file left"
    # back to the first state: the pages the killed build had rewritten for `after` are rendered again
    build_report(before, out, state="before")
    scratch = tmp_path / "scratch"
    build_report(before, scratch)
    assert pages(out) == pages(scratch)
    build_report(after, out, state="after")
    build_report(after, scratch)
    assert pages(out) == pages(scratch)


def carried_documents(db: Path) -> set[str]:
    from pipeline.release import _Tables

    with _Tables(db) as tables:
        return set(tables.carried)


def test_the_release_copy_links_the_working_pages_and_equals_a_build_from_scratch(databases: tuple[Path, Path], tmp_path: Path) -> None:
    from pipeline.release import publish_release, verify_release

    _before, after = databases
    working = tmp_path / "curated" / "report"
    build_report(after, working)
    result = publish_release(after, tmp_path / "curated" / "releases", report_dir=working)
    copy = result.path / "report"
    scratch = tmp_path / "scratch"
    build_report(after, scratch, carry_text=carried_documents(after))
    assert pages(copy) == pages(scratch), "the release's report equals its variant built from scratch, byte for byte"
    assert not (copy / INDEX_FILE).exists() and not (copy / STATE_FILE).exists()
    withheld = {f"d/{document_page_id(d)}.html" for d in _documents(after) - carried_documents(after)}
    same = [p for p in pages(copy) if p not in withheld]
    assert same and all((copy / p).stat().st_ino == (working / p).stat().st_ino for p in same), "shared pages are hard links"
    assert all((copy / p).stat().st_ino != (working / p).stat().st_ino for p in withheld)
    assert verify_release(result.path) == []


def test_a_published_releases_report_never_changes_afterwards(databases: tuple[Path, Path], tmp_path: Path) -> None:
    from pipeline.release import publish_release, verify_release

    before, after = databases
    working, releases = tmp_path / "curated" / "report", tmp_path / "curated" / "releases"
    build_report(before, working)
    first = publish_release(before, releases, report_dir=working)
    published = pages(first.path / "report")
    build_report(after, working)  # the working report moves on...
    second = publish_release(after, releases, report_dir=working)
    assert second.path != first.path
    assert pages(first.path / "report") == published, "...and the published release's pages stay as they were"
    assert verify_release(first.path) == [] and verify_release(second.path) == []
    assert pages(second.path / "report") != published


def _documents(db: Path) -> set[str]:
    import duckdb

    with duckdb.connect(str(db), read_only=True) as con:
        return {r[0] for r in con.execute("select document from documents").fetchall()}


def test_a_statistics_citations_are_paged_and_every_one_is_on_one_page(
    databases: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb
    from test_report import audit_site

    before, after = databases
    monkeypatch.setattr(report_build, "PAGE_ROWS", 2)  # in this process only: no worker pool (workers_wanted=1)
    out = tmp_path / "report"
    build_report(before, out, workers_wanted=1)
    build_report(after, out, workers_wanted=1)
    scratch = tmp_path / "scratch"
    build_report(after, scratch, workers_wanted=1)
    assert pages(out) == pages(scratch), "paged statistic pages too: incremental equals from scratch"
    audit_site(out)  # the pagers' links resolve
    with duckdb.connect(str(after), read_only=True) as con:
        sid, n = con.execute("select statistic_id, count(*) n from citations group by 1 order by n desc, 1 limit 1").fetchone()  # type: ignore[misc]
        cited = [f for (f,) in con.execute("select fact_id from citations where statistic_id = ?", [sid]).fetchall()]
    assert n > 2, "the default dataset has a statistic cited more than twice"
    n_pages = -(-n // 2)
    first = (out / "s" / f"{sid}.html").read_text()
    assert f"<h2>{n} citations</h2>" in first and f'<a href="{sid}.p2.html">2</a>' in first and 'id="attributes"' in first
    paged = [first] + [(out / "s" / f"{sid}.p{i}.html").read_text() for i in range(2, n_pages + 1)]
    assert not (out / "s" / f"{sid}.p{n_pages + 1}.html").exists()
    assert "Citations 3–4" in paged[1] and 'id="attributes"' not in paged[1]
    for fact_id in cited:  # each citation links to its figure in its document, on exactly one of the pages
        assert sum(page.count(f'#f-{fact_id}"') for page in paged) == 1


def test_a_figure_repeated_by_many_documents_is_listed_once_among_the_conflicts(databases: tuple[Path, Path], tmp_path: Path) -> None:
    import duckdb

    _before, after = databases
    db = tmp_path / "stats.duckdb"
    shutil.copy(after, db)
    with duckdb.connect(str(db)) as con:
        b = con.execute("select statistic_id from citations group by 1 order by count(*) desc, 1 limit 1").fetchone()[0]  # type: ignore[index]
        (_, fb, db_), (_, fc, dc) = con.execute(
            "select statistic_id, fact_id, document from citations where statistic_id = ? order by document, fact_id limit 2", [b]
        ).fetchall()
        a, fa, da = con.execute(
            "select statistic_id, fact_id, document from citations where statistic_id <> ? order by 1, 2 limit 1", [b]
        ).fetchone()  # type: ignore[misc]
        con.execute("delete from conflicts")
        con.execute(
            "insert into conflicts by name select 'k' as conflict_id, s as statistic_id, f as fact_id, d as document, 'nspcc' as source, "
            "2020 as year, null as region, 'instagram' as platform, null as offence, 'offences' as measure, c as count, "
            "null::double as share, 'exact' as qualifier, q as quote, 2 as n_values "
            "from (values (?, ?, ?, 111, 'one figure'), (?, ?, ?, 222, 'the repeated figure'), (?, ?, ?, 222, 'the repeated figure')) v(s, f, d, c, q)",
            [a, fa, da, b, fb, db_, b, fc, dc],
        )
    out = tmp_path / "report"
    build_report(db, out)
    aside = (out / "s" / f"{a}.html").read_text().split('<aside id="conflicts">')[1]
    assert aside.count("the repeated figure") == 1 and "<strong>222</strong>" in aside
    assert "and 1 more document" in aside if db_ != dc else "more document" not in aside
    other = (out / "s" / f"{b}.html").read_text().split('<aside id="conflicts">')[1]
    assert "one figure" in other and "the repeated figure" not in other


def test_the_review_queue_in_html_is_its_most_urgent_pages_and_says_where_the_rest_is(
    databases: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import duckdb

    _before, after = databases
    monkeypatch.setattr(report_build, "PAGE_ROWS", 3)  # in this process only: no worker pool (workers_wanted=1)
    monkeypatch.setattr(report_build, "REVIEW_PAGES", 2)
    with duckdb.connect(str(after), read_only=True) as con:
        (n_review,) = con.execute("select count(*) from review").fetchone()  # type: ignore[misc]
        first_six = [q for (q,) in con.execute("select correction_line from review order by rank limit 6").fetchall()]
    assert n_review > 6, "the default dataset has more review rows than two pages of three"
    out = tmp_path / "report"
    build_report(after, out, workers_wanted=1)
    assert (out / "review.html").exists() and (out / "review-2.html").exists() and not (out / "review-3.html").exists()
    shown = (out / "review.html").read_text() + (out / "review-2.html").read_text()
    assert shown.count('<code class="line">') == 6
    for line in first_six:  # the six most urgent, in rank order across the two pages
        assert str(escape(line)) in shown
    assert f"The queue holds {n_review:,} figures; these pages show the 6 most urgent" in shown
    assert "select * from review order by rank" in shown
