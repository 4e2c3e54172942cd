"""Render the report: ``ReportData`` -> a folder of static HTML pages.

Every value is escaped by Jinja's autoescape (and the highlighted texts by ``highlight``);
links to the outside are written only for http(s) URLs; each page carries a Content
Security Policy that allows no script but the report's own (by its hash), so even a
missed escape could not run anything. The pages are deterministic for one database.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import os
import shutil
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup

from pipeline.report import charts
from pipeline.report import data as report_data
from pipeline.report.highlight import Span, excerpt, render

TEMPLATES = Path(__file__).with_name("templates")
STATE_FILE = ".build.json"  # in the report folder: the database state and code it was built from
# A chart shows at most this many points, the most cited first: beyond that it is a blot, and the page heavy.
MAX_POINTS = 1500
QUALIFIER_WORDS = {"exact": "", "more_than": "more than ", "at_least": "at least ", "less_than": "less than ", "about": "about ", "up_to": "up to "}
# Slugs that are not one platform: left out of the platform-share chart.
NOT_A_PLATFORM = {"all_platforms", "online_any"}
# How the extractor found an attribute (the facts' <attribute>_from columns), in words.
PROVENANCE_WORDS = {
    "clause": "named in the figure's own clause",
    "sentence": "named elsewhere in the figure's sentence",
    "table": "a table's header or column",
    "context": "an earlier sentence, the lead-in of its list, or the figure it breaks down",
    "heading": "a heading above the figure",
    "title": "the document's title",
    "document": "the document-wide default",
    "published": "the publication date",
    "none": "nothing found",
}
# What the review page says about a row, where the review table has these columns.
REVIEW_FIELDS = ("reasons", "score", "confidence")
# Columns of a statistic not listed under its attributes (the quote is among its citations).
HIDDEN_STATISTIC_FIELDS = {"statistic_id", "quote", "primary_fact_id"}


@dataclass(frozen=True)
class ReportResult:
    path: Path  # the report folder
    index: Path
    pages: int
    bytes: int
    statistics: int
    documents: int
    curated: bool  # statistics from the curated tables (True) or derived from facts (False)
    seconds: float
    chart_svg: str  # the platform-share chart as a standalone SVG (for Dagster's metadata)
    reused: bool = False  # True when the folder already held the report of this database state and code


def safe_url(url: Any) -> str | None:
    """``url`` if it is an http(s) URL with a host and no control characters or spaces, else None.

    Anything else (javascript:, data:, relative paths, garbage) is shown as text, never as a link.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or any(ord(c) < 33 or ord(c) == 127 for c in url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.netloc else None


def fmt_count(v: Any) -> str:
    return "" if v is None else f"{int(v):,}"


def fmt_share(v: Any) -> str:
    return "" if v is None else charts.percent(float(v))


def fmt_value(row: dict[str, Any]) -> str:
    """'more than 9,477', '52%', '27 (40.2%)', 'about 300,000,000'."""
    count, share = row.get("count"), row.get("share")
    if count is not None and share is not None:
        value = f"{fmt_count(count)} ({fmt_share(share)})"
    else:
        value = fmt_count(count) or fmt_share(share) or "?"
    return QUALIFIER_WORDS.get(row.get("qualifier") or "exact", "") + value


class _Site:
    """Shared state while rendering: the data, the Jinja environment, the inline script and its hash."""

    def __init__(self, rd: report_data.ReportData, carry_text: set[str] | None) -> None:
        self.rd = rd
        self.carry_text = carry_text
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.script = (TEMPLATES / "table.js").read_text(encoding="utf-8")
        digest = base64.b64encode(hashlib.sha256(self.script.encode()).digest()).decode()
        self.csp = (
            "default-src 'none'; img-src data:; style-src 'self' file: 'unsafe-inline'; "
            f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
        )
        self.env.filters.update(value=fmt_value, count=fmt_count, share=fmt_share, safe_url=safe_url)
        self.env.globals.update(name=rd.name, csp=self.csp, curated=rd.curated, doc_page=self.doc_page, stat_page=self.stat_page)
        self.written: list[Path] = []
        self.facts_of_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for f in rd.facts.values():
            self.facts_of_doc[f["document"]].append(f)

    def stat_page(self, statistic_id: str | None) -> str | None:
        return f"s/{report_data.page_id(statistic_id)}.html" if statistic_id else None

    def doc_page(self, document: str | None) -> str | None:
        return f"d/{report_data.document_page_id(document)}.html" if document in self.rd.documents else None

    def write(self, out: Path, relative: str, template: str, **context: Any) -> None:
        root = "../" * relative.count("/")
        html = self.env.get_template(template).render(root=root, **context)
        path = out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")
        self.written.append(path)


def code_fingerprint() -> str:
    """A hash of the report's code and templates: a report built by other code is rebuilt."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), *TEMPLATES.iterdir()]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def build_report(
    database_path: Path, out_dir: Path, *, carry_text: Iterable[str] | None = None, state: str | None = None
) -> ReportResult:
    """Write the report for the database at ``database_path`` to ``out_dir`` and return what was written.

    ``carry_text``: the documents whose full text the report may show (a release passes those its
    licence lets it carry); the others show only their facts' sentences. None shows every text.
    ``state``: the database's state id. When given, the folder records it, and a later call with the
    same state (and the same report code) returns the recorded result without building anything.
    The folder is built beside ``out_dir`` and swapped in, so a reader never sees half a report.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    carried = None if carry_text is None else sorted(set(carry_text))
    key = {"database_state": state, "code": code_fingerprint(), "carry_text": carried} if state else None
    if key is not None and (previous := _recorded(out_dir, key)) is not None:
        return dataclasses.replace(previous, seconds=time.perf_counter() - started, reused=True)
    rd = report_data.load(Path(database_path))
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{uuid.uuid4().hex[:8]}")
    site = _Site(rd, None if carried is None else set(carried))
    try:
        tmp.mkdir()
        chart_svg = _render_all(site, tmp)
        files = [p for p in tmp.rglob("*") if p.is_file()]
        result = ReportResult(
            path=out_dir, index=out_dir / "index.html", pages=len(files), bytes=sum(p.stat().st_size for p in files),
            statistics=len(rd.statistics), documents=len(rd.documents), curated=rd.curated,
            seconds=time.perf_counter() - started, chart_svg=chart_svg,
        )
        if key is not None:
            record = {**key, "result": {k: v for k, v in dataclasses.asdict(result).items() if k not in ("path", "index")}}
            (tmp / STATE_FILE).write_text(json.dumps(record), encoding="utf-8")
        _swap_in(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return result


def _recorded(out_dir: Path, key: dict[str, Any]) -> ReportResult | None:
    """The result recorded in ``out_dir`` if it was built for ``key`` and its index is still there."""
    try:
        record = json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
        if any(record.get(k) != v for k, v in key.items()) or not (out_dir / "index.html").is_file():
            return None
        return ReportResult(path=out_dir, index=out_dir / "index.html", **record["result"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _swap_in(tmp: Path, out_dir: Path) -> None:
    """Replace ``out_dir`` by ``tmp``: the old folder is renamed aside first, then removed."""
    old = None
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _render_all(site: _Site, out: Path) -> str:
    rd = site.rd
    stats = rd.statistics
    citations_of_doc: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for cites in rd.citations.values():
        for c in cites:
            citations_of_doc[c["document"]].append(c)
    mentions_of_fact: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc_mentions in rd.mentions.values():
        for m in doc_mentions:
            if m.get("fact_id"):
                mentions_of_fact[m["fact_id"]].append(m)

    (out / "report.css").write_bytes((TEMPLATES / "report.css").read_bytes())
    share_points, count_points = _chart_points(site, stats)
    n_share_points, n_count_points = len(share_points), len(count_points)
    share_points, count_points = share_points[:MAX_POINTS], count_points[:MAX_POINTS]
    share_chart = charts.scatter(share_points, label="Platform shares by year", y_label="share", y_format=charts.percent)
    count_chart = charts.scatter(count_points, label="Counts by region and year", y_label="count (log scale)", log=True, y_format=charts.compact)
    standalone = charts.scatter(
        share_points, label="Platform shares by year", y_label="share", y_format=charts.percent, standalone=True
    )
    site.write(
        out, "index.html", "index.html",
        share_chart=share_chart, count_chart=count_chart, shown=(len(share_points), n_share_points, len(count_points), n_count_points), n_statistics=len(stats), n_documents=len(rd.documents),
        n_facts=len(rd.facts), n_conflicts=sum(len(v) for v in rd.conflicts.values()), n_review=len(rd.review),
        breakdowns=_breakdowns(site, stats),
    )
    site.write(
        out, "statistics.html", "statistics.html", statistics=stats, script=Markup(site.script),
        choices={a: sorted({site.rd.name(a, s.get(a)) for s in stats if s.get(a) is not None}) for a in ("source", "region", "platform")},
        years=sorted({s["year"] for s in stats if s.get("year") is not None}),
    )
    site.write(out, "documents.html", "documents.html", documents=_document_rows(site, citations_of_doc))
    site.write(out, "review.html", "review.html", rows=_review_rows(site))
    for stat in stats:
        sid = stat["statistic_id"]
        site.write(
            out, site.stat_page(sid), "statistic.html", stat=stat,  # type: ignore[arg-type]  # a statistic's and a listed document's page exist
            attributes=_attributes(site, stat),
            citations=[_citation(site, c, mentions_of_fact) for c in rd.citations.get(sid, [])],
            conflicts=[_conflict(site, c) for c in rd.conflicts.get(sid, [])],
        )
    for document, doc in rd.documents.items():
        site.write(out, site.doc_page(document), "document.html", **_document(site, document, doc, citations_of_doc, mentions_of_fact))  # type: ignore[arg-type]  # a statistic's and a listed document's page exist
    return str(standalone)


def _chart_points(site: _Site, stats: list[dict[str, Any]]) -> tuple[list[charts.Point], list[charts.Point]]:
    rd = site.rd
    shares, counts = [], []
    # most cited first, so a capped chart keeps the figures most repeated
    for s in sorted(stats, key=lambda s: (-(s.get("n_citations") or 0), s["statistic_id"])):
        if s.get("year") is None:
            continue
        href = site.stat_page(s["statistic_id"])
        where = ", ".join(x for x in (rd.name("region", s.get("region")), str(s["year"]), rd.name("source", s.get("source"))) if x)
        if s.get("share") is not None and s.get("platform") not in NOT_A_PLATFORM:
            platform = rd.name("platform", s.get("platform"))
            shares.append(charts.Point(s["year"], float(s["share"]), platform, href, f"{platform}: {fmt_value(s)} ({where})"))  # type: ignore[arg-type]  # a statistic's and a listed document's page exist
        if s.get("count") is not None:
            region = rd.name("region", s.get("region")) or "region not stated"
            title = f"{region}: {fmt_value(s)} {s.get('measure') or ''} ({rd.name('platform', s.get('platform'))}, {where})"
            counts.append(charts.Point(s["year"], float(s["count"]), region, href, title))  # type: ignore[arg-type]  # a statistic's and a listed document's page exist
    return shares, counts


def _breakdowns(site: _Site, stats: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, int]]]]:
    out = []
    for attribute, label in (("source", "source"), ("region", "region"), ("platform", "platform"), ("year", "year")):
        tally = Counter(site.rd.name(attribute, s.get(attribute)) if s.get(attribute) is not None else "(not stated)" for s in stats)
        if attribute == "year":
            rows = sorted(tally.items(), key=lambda kv: (kv[0] == "(not stated)", kv[0]))
        else:
            rows = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append((label, rows))
    return out


def _attributes(site: _Site, stat: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of the attribute table: name, shown value, slug, and where it came from (if recorded)."""
    rd = site.rd
    facts = [rd.facts[c["fact_id"]] for c in rd.citations.get(stat["statistic_id"], []) if c.get("fact_id") in rd.facts]
    rows = []
    for a in report_data.ATTRIBUTES:
        value = stat.get(a)
        shown = fmt_count(value) if a in ("count", "base") else fmt_share(value) if a == "share" else rd.name(a, value)
        origin = sorted(
            {
                PROVENANCE_WORDS.get(str(f[c]), str(f[c]))
                for f in facts
                for c in rd.provenance_columns
                if c.startswith(a + "_") and f.get(c) not in (None, "")
            }
        )
        rows.append({"name": a, "value": shown, "slug": value if a in report_data.TAXONOMY else None, "origin": "; ".join(origin)})
    known = set(report_data.ATTRIBUTES) | HIDDEN_STATISTIC_FIELDS
    for key in sorted(k for k in stat if k not in known):
        value = stat[key]
        rows.append({"name": key, "value": "" if value is None else str(value), "slug": None, "origin": ""})
    return rows


def _fact_spans(site: _Site, fact: dict[str, Any], mentions_of_fact: dict[str, list[dict[str, Any]]]) -> list[Span]:
    """The fact's quote and numbers as spans linking to its statistic, from a page one folder down (s/, d/)."""
    page = site.stat_page(site.rd.statistic_of_fact.get(fact["fact_id"]))
    href = f"../{page}" if page else None
    spans = [Span(fact["char_start"], fact["char_end"], "quote", href, f"fact: {fmt_value(fact)}", anchor=f"f-{fact['fact_id']}")]
    for m in mentions_of_fact.get(fact["fact_id"], []):
        spans.append(Span(m["char_start"], m["char_end"], "fact", href, f"fact: {fmt_value(fact)}"))
    return spans


def _citation(site: _Site, c: dict[str, Any], mentions_of_fact: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    rd = site.rd
    doc = rd.documents.get(c["document"], {})
    fact = rd.facts.get(c.get("fact_id") or "")
    mentions = mentions_of_fact.get(c.get("fact_id") or "", [])
    text = doc.get("text") or ""
    if fact is not None and mentions:
        spans = _fact_spans(site, fact, mentions_of_fact)
        lo, hi = min(m["char_start"] for m in mentions), max(m["char_end"] for m in mentions)
        html = excerpt(text, mentions[0].get("sentence"), spans, lo, hi)
    elif text and c.get("char_end") is not None and text[c["char_start"] : c["char_end"]] == c.get("quote"):
        html = render(text[c["char_start"] : c["char_end"]], [Span(0, c["char_end"] - c["char_start"], "fact")])
    else:
        html = render(c.get("quote") or "", [Span(0, len(c.get("quote") or ""), "fact")])
    page = site.doc_page(c["document"])
    return {
        "row": c, "html": html, "title": c.get("title") or doc.get("title") or c["document"],
        "outlet": c.get("outlet") or doc.get("outlet"), "published": c.get("published") or doc.get("published"),
        "url": c.get("url") or doc.get("url"), "document": c["document"],
        "href": f"{page}#f-{c['fact_id']}" if page and c.get("fact_id") else page,
        "value": fmt_value(c) if (c.get("count") is not None or c.get("share") is not None) else (fmt_value(fact) if fact else ""),
        "corrections": {k: v for k, v in (fact or {}).items() if "correct" in k and v not in (None, "", False)},
    }


def _conflict(site: _Site, row: dict[str, Any]) -> dict[str, Any]:
    fact = site.rd.facts.get(row.get("fact_id") or "") or {}
    document = row.get("document") or fact.get("document")
    page = site.doc_page(document)
    value = fmt_value(row) if (row.get("count") is not None or row.get("share") is not None) else (fmt_value(fact) if fact else "")
    # the key is the statistic's own: only what differs is worth showing
    shown = {k: row[k] for k in ("qualifier", "n_values") if row.get(k) not in (None, "")}
    sid = row.get("statistic_id") or site.rd.statistic_of_fact.get(row.get("fact_id") or "")
    return {
        "value": value, "quote": row.get("quote") or fact.get("quote") or "", "document": document,
        "href": f"{page}#f-{row['fact_id']}" if page and row.get("fact_id") else page, "fields": shown,
        "statistic": site.stat_page(sid) if sid else None,
    }


def _review_rows(site: _Site) -> list[dict[str, Any]]:
    rows = []
    for r in site.rd.review:
        line_key = next((k for k in r if "correction" in k and isinstance(r[k], str)), None)
        sid = r.get("statistic_id") or site.rd.statistic_of_fact.get(r.get("fact_id") or "")
        shown = [k for k in REVIEW_FIELDS if r.get(k) not in (None, "")] or [
            k for k in r if k not in (line_key, "quote", "rank") and r[k] not in (None, "")
        ]
        fields = {k: (f"{r[k]:.2f}" if isinstance(r[k], float) else r[k]) for k in shown}
        rows.append(
            {
                "rank": r.get("rank"), "href": site.stat_page(sid), "quote": r.get("quote") or "",
                "line": r.get(line_key) if line_key else "", "fields": fields,
                "value": fmt_value(r) if (r.get("count") is not None or r.get("share") is not None) else "",
                "document": r.get("document"),
            }
        )
    return rows


def _document_rows(site: _Site, citations_of_doc: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for document, doc in site.rd.documents.items():
        mentions = site.rd.mentions.get(document, [])
        rows.append(
            {
                "document": document, "href": site.doc_page(document), "title": doc.get("title") or "",
                "outlet": doc.get("outlet") or "", "published": doc.get("published"),
                "facts": len(site.facts_of_doc.get(document, [])),
                "dropped": sum(1 for m in mentions if m["decision"] != "fact"),
            }
        )
    return rows


def _document(
    site: _Site, document: str, doc: dict[str, Any], citations_of_doc: dict[str, list[dict[str, Any]]],
    mentions_of_fact: dict[str, list[dict[str, Any]]],
) -> dict[str, Any]:
    rd = site.rd
    facts = site.facts_of_doc.get(document, [])  # in span order, as loaded
    mentions = rd.mentions.get(document, [])
    dropped = [m for m in mentions if m["decision"] != "fact"]
    text = doc.get("text") or ""
    full = site.carry_text is None or document in site.carry_text
    spans = [s for f in facts for s in _fact_spans(site, f, mentions_of_fact)]
    body = None
    sentences = []
    if full:
        spans += [Span(m["char_start"], m["char_end"], "dropped", None, f"dropped: {m['reason']}") for m in dropped]
        body = render(text, spans)
    else:
        for f in facts:
            fm = mentions_of_fact.get(f["fact_id"], [])
            lo = min((m["char_start"] for m in fm), default=f["char_start"])
            hi = max((m["char_end"] for m in fm), default=f["char_end"])
            sentence = fm[0].get("sentence") if fm else None
            sentences.append({"fact": f, "html": excerpt(text, sentence, _fact_spans(site, f, mentions_of_fact), lo, hi), "id": f"f-{f['fact_id']}"})
    return {
        "doc": doc, "document": document, "full": full, "body": body, "sentences": sentences, "facts": facts,
        "n_dropped": len(dropped), "reasons": Counter(m["reason"] for m in dropped).most_common(),
    }
