"""The static report: built by a real pipeline run over real documents, checked page by page.

Every page is parsed: only our tags and attributes, no event handler attribute, no link that is
not a page of the report or an http(s) URL, every internal link and anchor resolving. The
hostile document's markup must come out as text.
"""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import pytest
from markupsafe import escape

from pipeline.config import Settings
from pipeline.defs.run import run_pipeline
from pipeline.report import build_report, safe_url
from pipeline.report.build import TEMPLATES, fmt_value
from pipeline.report.data import document_page_id

REPO = Path(__file__).resolve().parents[1]
DEFAULT_RAW = REPO / "data" / "raw"

ALLOWED_TAGS = {
    "html", "head", "meta", "title", "style", "body", "header", "main", "a", "h1", "h2", "p", "strong", "br", "span",
    "code", "div", "link", "table", "thead", "tbody", "tr", "th", "td", "mark", "blockquote", "section", "aside", "svg", "rect",
    "line", "text", "circle", "input", "select", "option", "script",
}

HOSTILE_TEXT = """Police chiefs warn about grooming <script>document.body.dataset.pwned = "script"</script>

NSPCC figures show 4,321 offences of sexual communication with a child were recorded by police in England and Wales in 2019/20.
<img src=x onerror="document.body.dataset.pwned = 'onerror'"> A reader wrote <a href="javascript:document.body.dataset.pwned='link'">click here</a>.
Of those, 27% took place on Instagram, the NSPCC said. "><svg onload=alert(1)> javascript:alert(1) [x](javascript:alert(2))
"""
HOSTILE_TITLE = '<script>alert("title")</script> Grooming figures'
HOSTILE_URL = "javascript:alert('url')"


class PageAudit(HTMLParser):
    """Tags, attributes, links and ids of one page, with anything that is not ours recorded as a problem."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.scripts: list[str] = []
        self.text: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in ALLOWED_TAGS:
            self.problems.append(f"tag <{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name in ("href", "src", "xlink:href", "action", "formaction"):
                value = value or ""
                scheme = urlsplit(value).scheme.lower()
                if scheme and scheme not in ("http", "https"):
                    self.problems.append(f"{name}={value!r} on <{tag}>")
                if not scheme:
                    self.links.append(value)
            if name == "id" and value:
                self.ids.add(value)
        if tag == "script":
            self._in_script = True
            if any(n == "src" for n, _ in attrs):
                self.problems.append("script with src")

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.scripts.append(data)
        else:
            self.text.append(data)


def audit(page: Path) -> PageAudit:
    parser = PageAudit()
    parser.feed(page.read_text(encoding="utf-8"))
    parser.close()
    return parser


def audit_site(report: Path) -> dict[Path, PageAudit]:
    """Every page audited; fails on a foreign tag, handler, script or link, and on a link or anchor that does not resolve."""
    pages = {p: audit(p) for p in sorted(report.rglob("*.html"))}
    assert pages, f"no pages in {report}"
    by_resolved = {p.resolve(): a for p, a in pages.items()}
    script = (TEMPLATES / "table.js").read_text(encoding="utf-8")
    for page, a in pages.items():
        assert a.problems == [], f"{page.relative_to(report)}: {a.problems[:5]}"
        assert all(s == script for s in a.scripts), f"{page}: a script that is not the report's own"
        for link in a.links:
            target, _, fragment = link.partition("#")
            resolved = (page.parent / unquote(target)).resolve() if target else page
            assert resolved.is_file() and report.resolve() in resolved.parents, f"{page.name}: broken link {link!r}"
            if fragment:
                assert fragment in by_resolved[resolved].ids, f"{page.name}: no #{fragment} in {target}"
    return pages


def run(raw: Path, curated: Path) -> Path:
    assert run_pipeline(Settings(raw_dir=raw, curated_dir=curated), progress=False) == 0
    return curated


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A pipeline run (report included) over a copy of the default dataset, data/raw."""
    base = tmp_path_factory.mktemp("default")
    shutil.copytree(DEFAULT_RAW, base / "raw")
    return run(base / "raw", base / "curated")


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The default dataset plus one document full of markup, with a script title and a javascript: URL."""
    base = tmp_path_factory.mktemp("hostile")
    raw = base / "raw"
    shutil.copytree(DEFAULT_RAW, raw)
    (raw / "hostile.txt").write_text(HOSTILE_TEXT, encoding="utf-8")
    with open(raw / "sources.csv", "a", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerow(["hostile.txt", HOSTILE_URL, '<b onmouseover="x()">Outlet</b>', HOSTILE_TITLE, "2020-06-01"])
    return run(raw, base / "curated")


def facts_of(curated: Path) -> list[dict]:
    with duckdb.connect(str(curated / "stats.duckdb"), read_only=True) as con:
        return con.sql("select * from facts order by fact_id").to_arrow_table().to_pylist()


def test_report_on_the_default_dataset_has_a_page_for_every_statistic_and_document(default_run: Path) -> None:
    report = default_run / "report"
    pages = audit_site(report)
    facts = facts_of(default_run)
    assert facts, "the default dataset has facts"
    with duckdb.connect(str(default_run / "stats.duckdb"), read_only=True) as con:
        documents = [d for (d,) in con.sql("select document from documents").fetchall()]
        tables = {t for (t,) in con.sql("select table_name from information_schema.tables").fetchall()}
        statistics = (
            [s for (s,) in con.sql("select statistic_id from statistics").fetchall()] if "statistics" in tables else [f["fact_id"] for f in facts]
        )
    assert {p.name for p in (report / "s").iterdir()} == {f"{s}.html" for s in statistics}
    assert {p.name for p in (report / "d").iterdir()} == {f"{document_page_id(d)}.html" for d in documents}
    assert f'<strong id="n-statistics">{len(statistics)}</strong> statistics' in (report / "index.html").read_text()
    # Each chart point links to a statistic page; the overview counts by source, region, platform and year.
    svg_links = re.findall(r'<a href="(s/[0-9a-f]+\.html)"><circle', (report / "index.html").read_text())
    assert len(svg_links) >= 2 and all((report / link).is_file() for link in svg_links)
    for label in ("source", "region", "platform", "year"):
        assert f'id="by-{label}"' in (report / "index.html").read_text()
    # Every fact is highlighted in its document, its number marked and linked to its statistic.
    for f in facts:
        page = report / "d" / f"{document_page_id(f['document'])}.html"
        assert f"f-{f['fact_id']}" in pages[page].ids, f"fact {f['fact_id']} not anchored in {page.name}"
    # Dropped numbers carry their reason on hover.
    with duckdb.connect(str(default_run / "stats.duckdb"), read_only=True) as con:
        document, reason = con.sql("select document, reason from mentions where decision = 'dropped' limit 1").fetchall()[0]
    html = (report / "d" / f"{document_page_id(document)}.html").read_text()
    assert f'<mark class="n-drop" title="dropped: {reason}' in html.replace("&#39;", "'")


def test_statistic_page_shows_value_attributes_and_each_citation_with_the_figure_marked(default_run: Path) -> None:
    report = default_run / "report"
    fact = next(f for f in facts_of(default_run) if f["share"] is not None and f["count"] is not None)
    page = next(p for p in (report / "s").iterdir() if f"f-{fact['fact_id']}" in p.read_text())
    html = page.read_text()
    assert f'<span id="value">{fmt_value(fact)}</span>' in html
    assert f"<code>{fact['platform']}</code>" in html and f"<code>{fact['offence']}</code>" in html
    # the citation: the full sentence, the figure inside it marked and linked back to the document's highlight
    assert re.search(r'<mark class="n-fact"[^>]*>[^<]*\d', html)
    assert f"d/{document_page_id(fact['document'])}.html#f-{fact['fact_id']}" in html


def test_statistics_table_and_review_queue(default_run: Path) -> None:
    report = default_run / "report"
    html = (report / "statistics.html").read_text()
    assert html.count("<tr data-source=") == len(list((report / "s").iterdir()))
    script = (TEMPLATES / "table.js").read_text()
    assert f"<script>{script}</script>" in html
    review = (report / "review.html").read_text()
    lines = re.findall(r'<code class="line">([^<]*)</code>', review)
    assert lines, "the review queue has corrections lines"
    sha256s = {d for (d,) in duckdb.connect(str(default_run / "stats.duckdb"), read_only=True).sql("select sha256 from documents").fetchall()}
    for line in lines:
        row = next(csv.reader([line.replace("&#34;", '"').replace("&quot;", '"').replace("&#39;", "'").replace("&amp;", "&")]))
        assert len(row) == 7 and row[0][:12] in {s[:12] for s in sha256s}


def test_hostile_document_renders_as_text_and_produces_no_javascript_link(hostile_run: Path) -> None:
    report = hostile_run / "report"
    audit_site(report)  # no foreign tag, handler, script or javascript: href anywhere
    everything = "\n".join(p.read_text(encoding="utf-8") for p in report.rglob("*.html"))
    assert not re.search(r"href\s*=\s*[\"']?\s*javascript:", everything, re.I)
    assert "<script>document" not in everything and "<img" not in everything and "<svg onload" not in everything
    page = (report / "d" / f"{document_page_id('hostile.txt')}.html").read_text()
    assert "&lt;script&gt;document.body.dataset.pwned" in page
    assert "&lt;img src=x onerror=" in page
    assert "&lt;a href=&#34;javascript:" in page or "&lt;a href=&quot;javascript:" in page
    assert "&lt;script&gt;alert(&#34;title&#34;)&lt;/script&gt; Grooming figures" in page
    assert "javascript:alert(&#39;url&#39;)" in page  # the URL is shown as text, not linked
    hostile_facts = [f for f in facts_of(hostile_run) if f["document"] == "hostile.txt"]
    assert hostile_facts, "the hostile document's figures are still facts"
    for f in hostile_facts:
        assert f"f-{f['fact_id']}" in page


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.org/a?b=1", "https://example.org/a?b=1"),
        ("http://example.org", "http://example.org"),
        ("javascript:alert(1)", None),
        (" JavaScript:alert(1)", None),
        ("java\tscript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("//example.org/x", None),
        ("https://exa mple.org", None),
        ("vbscript:x", None),
        (None, None),
    ],
)
def test_only_http_urls_become_links(url: str | None, expected: str | None) -> None:
    assert safe_url(url) == expected


def test_release_mode_shows_only_the_sentences_of_documents_it_may_not_carry(default_run: Path, tmp_path: Path) -> None:
    facts = facts_of(default_run)
    carried = facts[0]["document"]
    withheld = next(f["document"] for f in facts if f["document"] != carried)
    out = tmp_path / "report"
    build_report(default_run / "stats.duckdb", out, carry_text={carried})
    audit_site(out)
    with duckdb.connect(str(default_run / "stats.duckdb"), read_only=True) as con:
        text = con.sql(f"select text from documents where document = '{withheld}'").fetchall()[0][0]
    page = (out / "d" / f"{document_page_id(withheld)}.html").read_text()
    assert 'id="text"' not in page and "does not carry the full text" in page
    longest_paragraph = max(text.split("\n"), key=len)
    assert longest_paragraph not in page or any(longest_paragraph in (f["quote"] or "") for f in facts)
    for f in (f for f in facts if f["document"] == withheld):
        assert f"f-{f['fact_id']}" in page
    assert 'id="text"' in (out / "d" / f"{document_page_id(carried)}.html").read_text()


def test_report_command_builds_from_the_database_without_a_run(default_run: Path, tmp_path: Path) -> None:
    env = {"PIPELINE_CURATED_DIR": str(default_run), "PATH": "/usr/bin:/bin"}
    out = tmp_path / "cli-report"
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "report", "--out", str(out)], env=env, capture_output=True, text=True, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert str(out / "index.html") in done.stdout and (out / "index.html").is_file()
    missing = subprocess.run(
        [sys.executable, "-m", "pipeline", "report"], env={**env, "PIPELINE_CURATED_DIR": str(tmp_path / "none")},
        capture_output=True, text=True, cwd=REPO,
    )
    assert missing.returncode == 2 and "no database" in missing.stderr


def test_rebuilding_replaces_the_report_whole(default_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    first = build_report(default_run / "stats.duckdb", out)
    (out / "s" / "stale.html").write_text("old")
    second = build_report(default_run / "stats.duckdb", out)
    assert not (out / "s" / "stale.html").exists()
    assert (first.pages, first.bytes) == (second.pages, second.bytes)
    assert [p.name for p in tmp_path.iterdir()] == ["report"], "no temporary folder left beside it"


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    from chromium import Browser, ensure_chromium

    binary = ensure_chromium()
    if binary is None:
        pytest.skip("Debian's chromium is not installed and cannot be installed here (not root, or no apt-get)")
    with Browser(binary, width=1200, height=900) as b:
        yield b


def screenshot(browser, tmp_path: Path, name: str) -> Path:  # type: ignore[no-untyped-def]
    """Take the screenshot into tmp_path; with REPORT_SCREENSHOTS=DIR set, also copy it there (the README's images)."""
    import os

    path = browser.screenshot(tmp_path / name, max_height=1800)
    assert path.stat().st_size > 10_000, f"{name} looks blank"
    if os.environ.get("REPORT_SCREENSHOTS"):
        shutil.copy(path, Path(os.environ["REPORT_SCREENSHOTS"]) / name)
    return path


@pytest.mark.slow
def test_report_in_headless_chromium_shows_the_figures_without_console_errors(default_run: Path, browser, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    report = default_run / "report"
    browser.open((report / "index.html").as_uri())
    assert browser.console_errors() == []
    # the shared stylesheet applies (its CSP allows it from a file:// URL)
    assert browser.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(31, 58, 95)"
    n_statistics = len(list((report / "s").iterdir()))
    assert browser.evaluate("document.getElementById('n-statistics').textContent") == str(n_statistics)
    points = browser.evaluate("Array.from(document.querySelectorAll('svg.chart a')).map(a => a.getAttribute('href'))")
    assert len(points) >= 2
    screenshot(browser, tmp_path, "overview.png")

    # follow the first point of the platform-share chart to its statistic page
    browser.open((report / points[0]).as_uri())
    assert browser.console_errors() == []
    value = browser.evaluate("document.getElementById('value').textContent")
    figure = browser.evaluate("document.querySelector('blockquote mark.n-fact').textContent")
    assert re.search(r"\d", value) and re.search(r"\d", figure)
    assert re.sub(r"\D", "", figure) in re.sub(r"\D", "", value) or re.sub(r"\D", "", value) in re.sub(r"\D", "", figure)
    screenshot(browser, tmp_path, "statistic.png")

    # the statistics table filters and sorts from a file:// URL
    browser.open((report / "statistics.html").as_uri())
    assert browser.console_errors() == []
    assert browser.evaluate("document.getElementById('shown').textContent") == str(n_statistics)
    expected = browser.evaluate(
        "Array.from(document.querySelectorAll('#statistics tbody tr')).filter(r => r.textContent.toLowerCase().includes('instagram')).length"
    )
    browser.evaluate("var f = document.getElementById('filter'); f.value = 'Instagram'; f.dispatchEvent(new Event('input'))")
    assert browser.evaluate("document.getElementById('shown').textContent") == str(expected) and 0 < expected < n_statistics
    browser.evaluate("document.querySelectorAll('#statistics th')[4].click()")  # year, ascending
    years = browser.evaluate("Array.from(document.querySelectorAll('#statistics tbody tr')).map(r => r.cells[4].textContent)")
    known = [int(y) for y in years if y]
    assert known == sorted(known) and len(set(known)) > 1
    assert years == [y for y in years if y] + [y for y in years if not y], "rows without a year sort last"
    assert browser.console_errors() == []


@pytest.mark.slow
def test_hostile_document_runs_nothing_in_chromium(hostile_run: Path, browser) -> None:  # type: ignore[no-untyped-def]
    page = hostile_run / "report" / "d" / f"{document_page_id('hostile.txt')}.html"
    browser.open(page.as_uri())
    assert browser.evaluate("document.body.dataset.pwned === undefined")
    assert browser.evaluate("document.querySelectorAll('img, script, svg, a[href^=\"javascript\"]').length") == 0
    assert "<script>document.body.dataset.pwned" in browser.evaluate("document.getElementById('text').textContent")
    # a CSP violation (something trying to run) would be a console error
    assert browser.console_errors() == []


CURATED_SQL = """
-- (the run's own curated tables are replaced by these hand-made ones, whose values the test knows)
drop table if exists review; drop table if exists conflicts; drop table if exists citations; drop table if exists statistics;
create table statistics as
select substr(sha256(concat_ws('|', coalesce(source, '~'), coalesce(year::varchar, '~'), coalesce(region, '~'), platform,
           coalesce(offence, '~'), coalesce(measure, '~'), coalesce(count::varchar, '~'), coalesce(share::varchar, '~'))), 1, 16) as statistic_id,
       source, year, min(period_start) as period_start, max(period_end) as period_end, region, platform, offence, measure,
       count, share, min(qualifier) as qualifier, max(base) as base, count(*) as n_citations, count(distinct document) as n_documents,
       null::date as first_published, false as corrected, null::varchar as correction, false as conflict, null::varchar as flags,
       min(fact_id) as primary_fact_id, min(quote) as quote
from facts group by source, year, region, platform, offence, measure, count, share;
create table citations as
select s.statistic_id, f.fact_id, f.document, d.sha256, f.quote, f.char_start, f.char_end, f.count, f.share, f.qualifier, f.base,
       d.title, d.outlet, d.url, d.published, false as corrected
from facts f join documents d using (document)
join statistics s on s.source is not distinct from f.source and s.year is not distinct from f.year
 and s.region is not distinct from f.region and s.platform = f.platform and s.offence is not distinct from f.offence
 and s.measure is not distinct from f.measure and s.count is not distinct from f.count and s.share is not distinct from f.share;
create table conflicts as
select 'k1' as conflict_id, c.statistic_id, c.fact_id, c.document, 'nspcc' as source, 2020 as year, null as region,
       'instagram' as platform, null as offence, 'offences' as measure, 999 as count, null::double as share, 'exact' as qualifier,
       c.quote, 2 as n_values
from (select * from citations order by statistic_id desc limit 1) c
union all
select 'k1', c.statistic_id, c.fact_id, c.document, 'nspcc', 2020, null, 'instagram', null, 'offences', 1000, null, 'exact', c.quote, 2
from (select * from citations order by statistic_id limit 1) c;
create table review as
select row_number() over (order by f.confidence, f.fact_id) as rank, f.fact_id, c.statistic_id, f.document, d.sha256,
       1 - f.confidence as score, 'low confidence; attribute from the document' as reasons, f.quote, f.source, f.year, f.region,
       f.platform, f.offence, f.measure, f.count, f.share, f.qualifier, f.confidence,
       d.sha256 || ',"' || replace(f.quote, '"', '""') || '",reject,,,,' as correction_line
from facts f join documents d using (document) join citations c using (fact_id);
update statistics set corrected = true, correction = 'line 2: region null -> hampshire (named in the headline; jb)'
where statistic_id = (select min(statistic_id) from statistics);
"""


def test_report_reads_the_curated_tables_when_the_database_has_them(default_run: Path, tmp_path: Path) -> None:
    """The statistics, citations, conflicts and review tables (issue 15's schemas) drive the pages when present."""
    db = tmp_path / "stats.duckdb"
    shutil.copy(default_run / "stats.duckdb", db)
    with duckdb.connect(str(db)) as con:
        con.execute(CURATED_SQL)
        stats = con.sql("select statistic_id, n_citations from statistics order by n_citations desc, statistic_id").fetchall()
        (first,) = con.sql("select min(statistic_id) from statistics").fetchall()[0]
        (conflicted, _), (other, conflict_quote) = con.sql("select statistic_id, quote from conflicts order by count").fetchall()
        n_review = con.sql("select count(*) from review").fetchall()[0][0]
    out = tmp_path / "report"
    result = build_report(db, out)
    assert result.curated and result.statistics == len(stats)
    audit_site(out)
    assert {p.name for p in (out / "s").iterdir()} == {f"{s}.html" for s, _ in stats}
    most_cited, n = stats[0]
    assert f"<h2>{n} citation{'' if n == 1 else 's'}</h2>" in (out / "s" / f"{most_cited}.html").read_text()
    assert "Corrected by a reviewer: line 2: region null -&gt; hampshire" in (out / "s" / f"{first}.html").read_text()
    aside = (out / "s" / f"{conflicted}.html").read_text().split('<aside id="conflicts">')[1]
    assert "<strong>1,000</strong>" in aside and str(escape(conflict_quote)) in aside and "<strong>999</strong>" not in aside
    assert f'<a href="../s/{other}.html"><strong>1,000</strong></a>' in aside  # the other value links to its statistic
    assert "<strong>999</strong>" in (out / "s" / f"{other}.html").read_text().split('<aside id="conflicts">')[1]
    review = (out / "review.html").read_text()
    assert review.count('<code class="line">') == n_review and "low confidence; attribute from the document" in review
    assert "no curated tables" not in (out / "index.html").read_text()


def test_a_report_of_the_same_database_state_is_reused_not_rebuilt(default_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    first = build_report(default_run / "stats.duckdb", out, state="state-1")
    stamp = (out / "index.html").stat().st_mtime_ns
    again = build_report(default_run / "stats.duckdb", out, state="state-1")
    assert again.reused and not first.reused
    assert (again.pages, again.bytes, again.statistics, again.chart_svg) == (first.pages, first.bytes, first.statistics, first.chart_svg)
    assert (out / "index.html").stat().st_mtime_ns == stamp, "nothing was written"
    assert not build_report(default_run / "stats.duckdb", out, state="state-2").reused
    assert not build_report(default_run / "stats.duckdb", out).reused  # no state: always built
