"""Render the report: the database -> a folder of static HTML pages, only the pages that changed.

Every value is escaped (Jinja's autoescape, ``markupsafe.escape`` in the row renderers, and
``highlight`` for texts); links to the outside are written only for http(s) URLs; each page carries
a Content Security Policy that allows no script but the report's own (by its hash), so even a
missed escape could not run anything. The pages are deterministic for one database.

Incremental: each page has a *key*, a hash of the rows it renders (computed in DuckDB, see
``data.Source``) and of the report's code. The folder's index (``.pages.json``) maps each page to
the key it was rendered from, its sha256 and size. A build renders the pages whose key changed or
whose file is missing, removes pages no longer in the report, and writes every page to a temporary
file renamed over the old one (so a reader never sees half a page, and a hard link to the old file,
as a release holds, keeps the old content). The index is rewritten first without the pages about to
change and last with them, so a build killed midway leaves an index that claims nothing it did not
finish; the next build repairs the rest.
"""

from __future__ import annotations

import base64
import dataclasses
import functools
import hashlib
import json
import os
import re
import secrets
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape

from pipeline import memory, workers
from pipeline.report import charts
from pipeline.report import data as report_data
from pipeline.report.highlight import Span, excerpt, render

TEMPLATES = Path(__file__).with_name("templates")
STATE_FILE = ".build.json"  # in the report folder: the database state and code it was built from, and the result
INDEX_FILE = ".pages.json"  # in the report folder: page -> [key, sha256, bytes]
# A chart shows at most this many points, the most cited first: beyond that it is a blot, and the page heavy.
MAX_POINTS = 1500
PAGE_ROWS = 1000  # rows per page of the statistics table, the documents list, the review queue and a statistic's citations
DOCUMENT_BATCH = 250  # document pages read from the database and rendered at a time (adjacent by name)
STATISTIC_BATCH = 8  # statistic pages likewise (each up to PAGE_ROWS citations)
LIST_BATCH = 10  # pages of the statistics table, documents list and review queue likewise
# Pages of the review queue in HTML: its most urgent 20,000 rows, which is more than a person works through
# between runs; the whole queue is the database's `review` table (and the release's review.parquet). On a large
# archive a run adding one document shifts the ranks of everything after its facts: hundreds of pages to render
# again for a queue nobody pages through to its end.
REVIEW_PAGES = 20
MAX_CONFLICTS = 100  # other values listed beside a statistic (each figure once, however many documents repeat it)
WORKER_THREADS = 1  # DuckDB threads of a rendering worker (one worker per core already)
WORKER_MEMORY = "64MB"  # DuckDB's memory cap in a rendering worker (a batch's rows are a few MB; the rest is cache)
PARALLEL_MIN_PAGES = 1500  # below this much work (in document pages) to render, one process does it
# What a page of a paged list (a statistic's citations, the review queue: up to PAGE_ROWS rows) weighs in document pages:
# a document added to a large archive shifts the ranks of most of the review queue, hundreds of such pages.
LIST_PAGE_WEIGHT = 20
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
_UNSAFE_URL_CHAR = re.compile(r"[\x00-\x20\x7f]")


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
    rendered: int = 0  # pages rendered by this build (the others were already there, with the same key)
    removed: int = 0  # pages removed (no longer in the report)
    linked: int = 0  # pages hard-linked (or copied) from another report rather than rendered (a release's copy)


@functools.lru_cache(maxsize=4096)
def safe_url(url: Any) -> str | None:
    """``url`` if it is an http(s) URL with a host and no control characters or spaces, else None.

    Anything else (javascript:, data:, relative paths, garbage) is shown as text, never as a link.
    """
    if not isinstance(url, str):
        return None
    url = url.strip()
    if not url or _UNSAFE_URL_CHAR.search(url):
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


_NEEDS_ESCAPE = re.compile(r"[&<>'\"]")


def _e(value: Any) -> str:
    """``markupsafe.escape`` of ``value`` as a str, the same characters and entities, without its Markup object
    (the row renderers call this ~10 times a row: a review queue of 500,000 rows)."""
    if value is None:
        return ""
    if hasattr(value, "__html__"):
        return str(escape(value))
    text = value if type(value) is str else str(value)
    if _NEEDS_ESCAPE.search(text) is None:
        return text
    return text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;").replace("'", "&#39;").replace('"', "&#34;")


def code_fingerprint() -> str:
    """A hash of the report's code and templates: a page rendered by other code is rendered again."""
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for path in sorted([*here.glob("*.py"), *TEMPLATES.iterdir()]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:32]


def stat_page(statistic_id: str | None, number: int = 0) -> str | None:
    """Page ``number`` (0-based) of a statistic's pages: 's/<id>.html', then 's/<id>.p2.html', ... (no id has a '.')."""
    if not statistic_id:
        return None
    base = report_data.page_id(statistic_id)
    return f"s/{base}.html" if number == 0 else f"s/{base}.p{number + 1}.html"


def doc_page(document: str | None) -> str | None:
    return f"d/{report_data.document_page_id(document)}.html" if document else None


def list_page(base: str, number: int) -> str:
    """Page ``number`` (0-based) of a paged table: 'review.html', 'review-2.html', ..."""
    return f"{base}.html" if number == 0 else f"{base}-{number + 1}.html"


def _pager(base: str, number: int, n_pages: int) -> Markup:
    if n_pages <= 1:
        return Markup("")
    links = "".join(
        f"<strong>{i + 1}</strong>" if i == number else f'<a href="{list_page(base, i)}">{i + 1}</a>' for i in range(n_pages)
    )
    return Markup(f'<p class="pages small">Page {number + 1} of {n_pages} ({PAGE_ROWS:,} rows a page): {links}</p>')


# --------------------------------------------------------------------------- the plan: every page and its key


@dataclass
class _Plan:
    keys: dict[str, str]  # page -> key
    documents: dict[str, tuple[str, bool]]  # page -> (document, full text)
    statistics: dict[str, tuple[str, int, int]]  # page -> (statistic_id, page number, pages)
    lists: dict[str, tuple[str, int, int]]  # page -> (table, page number, pages)


def _plan_code(src: report_data.Source) -> str:
    """What every page's key shares: the report's code and the data every page may show (taxonomy names)."""
    return _hash(code_fingerprint(), src.names, src.curated, src.provenance_columns, PAGE_ROWS)


def _document_key(code: str, document: str, full: bool, key: int) -> str:
    return _hash(code, "d", document, full, str(key))


def _plan(src: report_data.Source, carry_text: set[str] | None) -> _Plan:
    code = _plan_code(src)
    stats_digest = _hash(src.statistics)
    plan = _Plan({}, {}, {}, {})
    plan.keys["report.css"] = _hash(code, "css")
    plan.keys["index.html"] = _hash(code, "index", stats_digest, src.n_documents, src.n_facts, src.n_conflicts, src.n_review)
    n_stat_pages = max(1, -(-len(src.statistics) // PAGE_ROWS))
    for i in range(n_stat_pages):
        page = list_page("statistics", i)
        plan.keys[page] = _hash(code, page, n_stat_pages, stats_digest)
        plan.lists[page] = ("statistics", i, n_stat_pages)
    review_keys: list[Any] = list(src.review_keys(PAGE_ROWS, REVIEW_PAGES))
    if src.n_review > REVIEW_PAGES * PAGE_ROWS:
        review_keys = [_hash(key, src.n_review) for key in review_keys]  # each page says how many rows it leaves out
    lists: tuple[tuple[str, list[Any]], ...] = (("documents", src.document_list_keys(PAGE_ROWS)), ("review", review_keys))
    for table, keys in lists:
        keys = keys or [0]
        for i, key in enumerate(keys):
            page = list_page(table, i)
            plan.keys[page] = _hash(code, page, len(keys), str(key))
            plan.lists[page] = (table, i, len(keys))
    for sid, keys in src.statistic_keys(PAGE_ROWS).items():
        for i, key in enumerate(keys):
            spage = stat_page(sid, i)
            assert spage is not None
            plan.keys[spage] = _hash(code, "s", sid, i, str(key))
            plan.statistics[spage] = (sid, i, len(keys))
    for document, key in src.document_keys().items():
        page = f"d/{report_data.document_page_id(document)}.html"
        full = carry_text is None or document in carry_text
        plan.keys[page] = _document_key(code, document, full, key)
        plan.documents[page] = (document, full)
    return plan


# --------------------------------------------------------------------------- build


def build_report(
    database_path: Path,
    out_dir: Path,
    *,
    carry_text: Iterable[str] | None = None,
    state: str | None = None,
    workers_wanted: int = 0,
) -> ReportResult:
    """Bring the report in ``out_dir`` up to date with the database at ``database_path``; return what it holds.

    ``carry_text``: the documents whose full text the report may show (a release passes those its
    licence lets it carry); the others show only their facts' sentences. None shows every text.
    ``state``: the database's state id. When given, the folder records it, and a later call with the
    same state (and the same report code) returns the recorded result without reading anything.
    Only pages whose key changed are rendered (see the module's docstring).
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    carried = None if carry_text is None else set(carry_text)
    record_key = _record_key(state, carried)
    if record_key is not None and (previous := _recorded(out_dir, record_key)) is not None:
        return dataclasses.replace(previous, seconds=time.perf_counter() - started, reused=True, rendered=0, removed=0)
    src = report_data.Source(Path(database_path))
    try:
        plan = _plan(src, carried)
        chart_svg = str(_charts(src)[2])
        out_dir.mkdir(parents=True, exist_ok=True)
        rendered, removed = _update(out_dir, plan, Path(database_path), src, workers_wanted)
    finally:
        src.close()
    return _finish(out_dir, src, chart_svg, started, record_key, rendered=rendered, removed=removed)


def _record_key(state: str | None, carried: set[str] | None) -> dict[str, Any] | None:
    if not state:
        return None
    return {"database_state": state, "code": code_fingerprint(), "carry_text": None if carried is None else _hash(sorted(carried))}


def _finish(
    out_dir: Path, src: report_data.Source, chart_svg: str, started: float, record_key: dict[str, Any] | None,
    *, rendered: int, removed: int,
) -> ReportResult:
    index = read_index(out_dir)
    result = ReportResult(
        path=out_dir, index=out_dir / "index.html", pages=len(index), bytes=sum(v[2] for v in index.values()),
        statistics=len(src.statistics), documents=src.n_documents, curated=src.curated,
        seconds=time.perf_counter() - started, chart_svg=chart_svg, rendered=rendered, removed=removed,
    )
    if record_key is not None:
        skip = ("path", "index", "seconds", "reused", "rendered", "removed", "linked")
        record = {**record_key, "result": {k: v for k, v in dataclasses.asdict(result).items() if k not in skip}}
        _write_atomic(out_dir / STATE_FILE, json.dumps(record).encode())
    return result


def _recorded(out_dir: Path, key: dict[str, Any]) -> ReportResult | None:
    """The result recorded in ``out_dir`` if it was built for ``key`` and its index is still there."""
    try:
        record = json.loads((out_dir / STATE_FILE).read_text(encoding="utf-8"))
        if any(record.get(k) != v for k, v in key.items()) or not (out_dir / "index.html").is_file():
            return None
        return ReportResult(path=out_dir, index=out_dir / "index.html", seconds=0.0, **record["result"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def read_index(out_dir: Path) -> dict[str, list[Any]]:
    """page -> [key, sha256, bytes] as the folder's index records it ({} if none)."""
    try:
        pages = json.loads((Path(out_dir) / INDEX_FILE).read_text(encoding="utf-8"))["pages"]
        return pages if isinstance(pages, dict) else {}
    except (OSError, ValueError, TypeError, KeyError):
        return {}


def _write_index(out_dir: Path, pages: dict[str, list[Any]]) -> None:
    _write_atomic(out_dir / INDEX_FILE, json.dumps({"pages": dict(sorted(pages.items()))}, separators=(",", ":")).encode())


def _write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path`` and rename it over ``path``: a reader sees the old file or
    the new one, never half of one; a hard link to the old file elsewhere keeps the old content."""
    tmp = path.with_name(f".{path.name}.tmp-{secrets.token_hex(4)}")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def existing_files(out_dir: Path) -> set[str]:
    """Every file in the report folder (relative, '/'-separated) but its index and state record."""
    found = set()
    for entry in os.scandir(out_dir):
        if entry.is_dir(follow_symlinks=False):
            found |= {f"{entry.name}/{sub.name}" for sub in os.scandir(entry.path) if not sub.is_dir(follow_symlinks=False)}
        elif entry.name not in (INDEX_FILE, STATE_FILE):
            found.add(entry.name)
    return found


def _update(out_dir: Path, plan: _Plan, database_path: Path, src: report_data.Source, workers_wanted: int) -> tuple[int, int]:
    """Render what changed, remove what is gone, record the index; returns (rendered, removed)."""
    old = read_index(out_dir)
    present = existing_files(out_dir)
    todo = {page for page, key in plan.keys.items() if page not in present or old.get(page, [None])[0] != key}
    gone = present - plan.keys.keys()
    kept = {page: v for page, v in old.items() if page in plan.keys and page not in todo}
    if not todo and not gone and kept.keys() == old.keys():
        return 0, 0
    # first forget what is about to change: a build killed from here on leaves an index claiming only finished pages
    (out_dir / STATE_FILE).unlink(missing_ok=True)
    _write_index(out_dir, kept)
    for page in gone:
        (out_dir / page).unlink(missing_ok=True)
    written = render_pages(out_dir, plan, sorted(todo), database_path, src, workers_wanted)
    pages = {**kept, **{page: [plan.keys[page], sha, size] for page, (sha, size) in written.items()}}
    _write_index(out_dir, pages)
    return len(written), len(gone)


def render_pages(
    out_dir: Path, plan: _Plan, pages: list[str], database_path: Path, src: report_data.Source, workers_wanted: int = 0
) -> dict[str, tuple[str, int]]:
    """Render ``pages`` of ``plan`` into ``out_dir``; page -> (sha256, bytes)."""
    # documents in name order, so that a batch is a run of adjacent rows of the tables (see Source.documents_batch)
    docs = sorted(plan.documents[p] for p in pages if p in plan.documents)
    stats = sorted(plan.statistics[p] for p in pages if p in plan.statistics)
    small = [(p, plan.lists.get(p)) for p in pages if p not in plan.documents and p not in plan.statistics]
    # the paged lists a few pages a job (a job's rows are read in one query), the overview and stylesheet first
    small.sort(key=lambda item: (item[1] is not None, item[1] or ("", 0, 0)))
    jobs: list[tuple[str, Any]] = [("small", small[i : i + LIST_BATCH]) for i in range(0, len(small), LIST_BATCH)]
    jobs += [("d", docs[i : i + DOCUMENT_BATCH]) for i in range(0, len(docs), DOCUMENT_BATCH)]
    jobs += [("s", stats[i : i + STATISTIC_BATCH]) for i in range(0, len(stats), STATISTIC_BATCH)]
    work = len(docs) + LIST_PAGE_WEIGHT * (len(stats) + len(small))
    n = workers_wanted if workers_wanted > 0 else (workers.cores() if work >= PARALLEL_MIN_PAGES else 1)
    written: dict[str, tuple[str, int]] = {}
    if n <= 1:
        renderer = _Renderer(src, out_dir)
        for job in jobs:
            written.update(renderer.run(job))
        return written
    # the workers read the database themselves: this process's connection (and the memory DuckDB holds for
    # the keys it computed) is closed while they run
    src.close()
    memory.give_back()
    init = functools.partial(_init_worker, str(database_path), str(out_dir))
    for result in workers.ordered_map(_run_in_worker, jobs, workers=min(n, len(jobs)), initializer=init):
        written.update(result)
    return written


_WORKER: _Renderer | None = None


def _init_worker(database_path: str, out_dir: str) -> None:
    global _WORKER
    _WORKER = _Renderer(report_data.Source(Path(database_path), threads=WORKER_THREADS, memory_limit=WORKER_MEMORY), Path(out_dir))


def _run_in_worker(job: tuple[str, Any]) -> dict[str, tuple[str, int]]:
    assert _WORKER is not None
    return _WORKER.run(job)


# --------------------------------------------------------------------------- rendering


def _environment(src: report_data.Source) -> tuple[jinja2.Environment, str]:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    script = (TEMPLATES / "table.js").read_text(encoding="utf-8")
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    csp = (
        "default-src 'none'; img-src data:; style-src 'self' file: 'unsafe-inline'; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )
    env.filters.update(value=fmt_value, count=fmt_count, share=fmt_share, safe_url=safe_url)
    env.globals.update(name=src.name, csp=csp, curated=src.curated, doc_page=doc_page, stat_page=stat_page)
    return env, script


class _Renderer:
    """Renders jobs (a batch of pages of one kind) into the report folder, each page written atomically."""

    def __init__(self, src: report_data.Source, out: Path) -> None:
        self.src = src
        self.out = out
        self.env, self.script = _environment(src)
        self.written: dict[str, tuple[str, int]] = {}
        self.review: dict[int, list[dict[str, Any]]] = {}
        self.document_rows: dict[int, list[dict[str, Any]]] = {}

    def run(self, job: tuple[str, Any]) -> dict[str, tuple[str, int]]:
        self.written = {}
        kind, items = job
        if kind == "d":
            full = dict(items)
            for doc, facts, mentions in self.src.documents_batch([d for d, _ in items]):
                self._document_page(doc, facts, mentions, full[doc["document"]])
        elif kind == "s":
            self._statistic_pages(items)
        else:
            wanted = {t: [listing[1] for _, listing in items if listing is not None and listing[0] == t] for t in ("review", "documents")}
            self.review = self.src.review_pages(wanted["review"], PAGE_ROWS)
            self.document_rows = self.src.document_list_pages(wanted["documents"], PAGE_ROWS)
            for page, listing in items:
                self._small_page(page, listing)
        return self.written

    def write(self, relative: str, template: str, **context: Any) -> None:
        root = "../" * relative.count("/")
        html = self.env.get_template(template).render(root=root, **context)
        self.put(relative, html.encode("utf-8"))

    def put(self, relative: str, data: bytes) -> None:
        path = self.out / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_atomic(path, data)
        self.written[relative] = (hashlib.sha256(data).hexdigest(), len(data))

    # ---- the overview, the paged tables, the stylesheet

    def _small_page(self, page: str, listing: tuple[str, int, int] | None) -> None:
        src = self.src
        if page == "report.css":
            self.put(page, (TEMPLATES / "report.css").read_bytes())
        elif page == "index.html":
            share_chart, count_chart, _standalone, shown = _charts(src)
            self.write(
                page, "index.html", share_chart=share_chart, count_chart=count_chart, shown=shown,
                n_statistics=len(src.statistics), n_documents=src.n_documents, n_facts=src.n_facts,
                n_conflicts=src.n_conflicts, n_review=src.n_review, breakdowns=_breakdowns(src),
            )
        elif listing is not None:
            table, number, n_pages = listing
            pager = _pager(table, number, n_pages)
            if table == "statistics":
                stats = src.statistics
                self.write(
                    page, "statistics.html", statistics=stats[number * PAGE_ROWS : (number + 1) * PAGE_ROWS],
                    script=Markup(self.script), pager=pager, n_pages=n_pages, page_rows=PAGE_ROWS, n_total=len(stats),
                    choices={a: sorted({src.name(a, s.get(a)) for s in stats if s.get(a) is not None}) for a in ("source", "region", "platform")},
                    years=sorted({s["year"] for s in stats if s.get("year") is not None}),
                )
            elif table == "documents":
                rows = self.document_rows[number]
                self.write(page, "documents.html", rows=Markup("".join(map(_document_row, rows))), pager=pager)
            else:
                rows = self.review[number]
                html = "".join(_review_row(r, number * PAGE_ROWS + i + 1) for i, r in enumerate(rows))
                n_shown = min(src.n_review, REVIEW_PAGES * PAGE_ROWS)
                self.write(page, "review.html", rows=Markup(html), pager=pager, n_review=src.n_review, shown=n_shown)

    # ---- one page per statistic

    def _statistic_pages(self, items: list[tuple[str, int, int]]) -> None:
        src = self.src
        batch = src.statistic_pages_batch([(sid, number) for sid, number, _ in items], PAGE_ROWS)
        by_id = {s["statistic_id"]: s for s in src.statistics}
        for sid, number, n_pages in items:
            stat = by_id[sid]
            cites = batch["citations"].get((sid, number), [])
            page = stat_page(sid, number)
            assert page is not None
            n_citations = int(batch["counts"].get(sid, 0))
            conflicts = batch["conflicts"].get(sid, []) if number == 0 else []
            self.write(
                page, "statistic.html", stat=stat, number=number, n_pages=n_pages, pager=_stat_pager(sid, number, n_pages),
                first=number * PAGE_ROWS + 1, last=number * PAGE_ROWS + len(cites),
                attributes=_attributes(src, stat, batch["origins"].get(sid, {})) if number == 0 else [],
                n_citations=n_citations, citations=Markup("".join(_citation_html(c, batch) for c in cites)),
                conflicts=[_conflict(c, batch) for c in conflicts[:MAX_CONFLICTS]], more_conflicts=max(0, len(conflicts) - MAX_CONFLICTS),
            )

    # ---- one page per document

    def _document_page(self, doc: dict[str, Any], facts: list[dict[str, Any]], mentions: list[dict[str, Any]], full: bool) -> None:
        mentions_of_fact: dict[str, list[dict[str, Any]]] = {}
        for m in mentions:
            if m.get("fact_id"):
                mentions_of_fact.setdefault(m["fact_id"], []).append(m)
        dropped = [m for m in mentions if m["decision"] != "fact"]
        text = doc.get("text") or ""
        spans = [s for f in facts for s in _fact_spans(f, mentions_of_fact.get(f["fact_id"], []))]
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
                html = excerpt(text, sentence, _fact_spans(f, fm), lo, hi)
                sentences.append({"fact": f, "html": html, "id": f"f-{f['fact_id']}"})
        page = doc_page(doc["document"])
        assert page is not None
        self.write(
            page, "document.html", doc=doc, document=doc["document"], full=full, body=body, sentences=sentences, facts=facts,
            n_dropped=len(dropped), reasons=Counter(m["reason"] for m in dropped).most_common(),
        )


def _charts(src: report_data.Source) -> tuple[Markup, Markup, Markup, tuple[int, int, int, int]]:
    share_points, count_points = _chart_points(src)
    shown = (min(len(share_points), MAX_POINTS), len(share_points), min(len(count_points), MAX_POINTS), len(count_points))
    share_points, count_points = share_points[:MAX_POINTS], count_points[:MAX_POINTS]
    share_chart = charts.scatter(share_points, label="Platform shares by year", y_label="share", y_format=charts.percent)
    count_chart = charts.scatter(count_points, label="Counts by region and year", y_label="count (log scale)", log=True, y_format=charts.compact)
    standalone = charts.scatter(share_points, label="Platform shares by year", y_label="share", y_format=charts.percent, standalone=True)
    return share_chart, count_chart, standalone, shown


def _chart_points(src: report_data.Source) -> tuple[list[charts.Point], list[charts.Point]]:
    shares, counts = [], []
    # most cited first, so a capped chart keeps the figures most repeated
    for s in sorted(src.statistics, key=lambda s: (-(s.get("n_citations") or 0), s["statistic_id"])):
        if s.get("year") is None:
            continue
        href = stat_page(s["statistic_id"])
        assert href is not None
        where = ", ".join(x for x in (src.name("region", s.get("region")), str(s["year"]), src.name("source", s.get("source"))) if x)
        if s.get("share") is not None and s.get("platform") not in NOT_A_PLATFORM:
            platform = src.name("platform", s.get("platform"))
            shares.append(charts.Point(s["year"], float(s["share"]), platform, href, f"{platform}: {fmt_value(s)} ({where})"))
        if s.get("count") is not None:
            region = src.name("region", s.get("region")) or "region not stated"
            title = f"{region}: {fmt_value(s)} {s.get('measure') or ''} ({src.name('platform', s.get('platform'))}, {where})"
            counts.append(charts.Point(s["year"], float(s["count"]), region, href, title))
    return shares, counts


def _breakdowns(src: report_data.Source) -> list[tuple[str, list[tuple[str, int]]]]:
    out = []
    for attribute in ("source", "region", "platform", "year"):
        tally = Counter(src.name(attribute, s.get(attribute)) if s.get(attribute) is not None else "(not stated)" for s in src.statistics)
        if attribute == "year":
            rows = sorted(tally.items(), key=lambda kv: (kv[0] == "(not stated)", kv[0]))
        else:
            rows = sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))
        out.append((attribute, rows))
    return out


def _stat_pager(statistic_id: str, number: int, n_pages: int) -> Markup:
    """Links to the pages of a statistic's citations, from one of them (all in s/)."""
    if n_pages <= 1:
        return Markup("")
    links = "".join(
        f"<strong>{i + 1}</strong>" if i == number else f'<a href="{_e(str(stat_page(statistic_id, i)).split("/", 1)[1])}">{i + 1}</a>'
        for i in range(n_pages)
    )
    return Markup(f'<p class="pages small">Citations, page {number + 1} of {n_pages} ({PAGE_ROWS:,} a page): {links}</p>')


def _attributes(src: report_data.Source, stat: dict[str, Any], origins: dict[str, set[str]]) -> list[dict[str, Any]]:
    """Rows of the attribute table: name, shown value, slug, and where it came from (if recorded): ``origins`` has
    the values of each provenance column among the facts the statistic cites."""
    rows = []
    for a in report_data.ATTRIBUTES:
        value = stat.get(a)
        shown = fmt_count(value) if a in ("count", "base") else fmt_share(value) if a == "share" else src.name(a, value)
        origin = sorted(
            {PROVENANCE_WORDS.get(v, v) for c in src.provenance_columns if c.startswith(a + "_") for v in origins.get(c, ())}
        )
        rows.append({"name": a, "value": shown, "slug": value if a in report_data.TAXONOMY else None, "origin": "; ".join(origin)})
    known = set(report_data.ATTRIBUTES) | HIDDEN_STATISTIC_FIELDS
    for key in sorted(k for k in stat if k not in known):
        value = stat[key]
        rows.append({"name": key, "value": "" if value is None else str(value), "slug": None, "origin": ""})
    return rows


def _fact_spans(fact: dict[str, Any], mentions: list[dict[str, Any]]) -> list[Span]:
    """The fact's quote and numbers as spans linking to its statistic, from a page one folder down (s/, d/)."""
    page = stat_page(fact.get("_sid"))
    href = f"../{page}" if page else None
    title = f"fact: {fmt_value(fact)}"
    spans = [Span(fact["char_start"], fact["char_end"], "quote", href, title, anchor=f"f-{fact['fact_id']}")]
    spans += [Span(m["char_start"], m["char_end"], "fact", href, title) for m in mentions]
    return spans


def _citation_html(c: dict[str, Any], batch: dict[str, Any]) -> str:
    """One citation of a statistic page (one folder down): the sentence with the figure marked, and where it is from."""
    doc = batch["documents"].get(c["document"])
    fact = batch["facts"].get(c.get("fact_id") or "")
    mentions = batch["mentions"].get(c.get("fact_id") or "", [])
    text = (doc or {}).get("text") or ""
    if fact is not None and mentions:
        lo, hi = min(m["char_start"] for m in mentions), max(m["char_end"] for m in mentions)
        html = excerpt(text, mentions[0].get("sentence"), _fact_spans(fact, mentions), lo, hi)
    elif text and c.get("char_end") is not None and text[c["char_start"] : c["char_end"]] == c.get("quote"):
        html = render(text[c["char_start"] : c["char_end"]], [Span(0, c["char_end"] - c["char_start"], "fact")])
    else:
        html = render(c.get("quote") or "", [Span(0, len(c.get("quote") or ""), "fact")])
    doc = doc or {}
    page = doc_page(c["document"]) if doc else None
    href = f"{page}#f-{c['fact_id']}" if page and c.get("fact_id") else page
    title = c.get("title") or doc.get("title") or c["document"]
    outlet, published, url = c.get("outlet") or doc.get("outlet"), c.get("published") or doc.get("published"), c.get("url") or doc.get("url")
    value = fmt_value(c) if (c.get("count") is not None or c.get("share") is not None) else (fmt_value(fact) if fact else "")
    corrections = {k: v for k, v in (fact or {}).items() if "correct" in k and v not in (None, "", False)}
    parts = [f'<div class="citation">\n<blockquote>{html}</blockquote>\n<div class="small">']
    if value:
        parts.append(f"<strong>{_e(value)}</strong> · ")
    parts.append(f'<a href="../{_e(href)}">{_e(title)}</a>' if href else _e(title))
    if outlet:
        parts.append(f" · {_e(outlet)}")
    if published:
        parts.append(f" · {_e(published)}")
    parts.append("\n")
    safe = safe_url(url)
    if safe:
        parts.append(f' · <a href="{_e(safe)}" rel="noopener noreferrer nofollow">source</a>')
    elif url:
        parts.append(f' · <span class="muted">{_e(url)}</span>')
    parts.append("\n")
    if corrections:
        parts.append('<div class="note">corrected: ' + "; ".join(f"{_e(k)} = {_e(v)}" for k, v in corrections.items()) + "</div>\n")
    parts.append("</div>\n</div>\n")
    return "".join(parts)


def _conflict(row: dict[str, Any], batch: dict[str, Any]) -> dict[str, Any]:
    fact = batch["facts"].get(row.get("fact_id") or "") or {}
    document = row.get("document") or fact.get("document")
    page = doc_page(document)
    value = fmt_value(row) if (row.get("count") is not None or row.get("share") is not None) else (fmt_value(fact) if fact else "")
    # the key is the statistic's own: only what differs is worth showing
    shown = {k: row[k] for k in ("qualifier", "n_values") if row.get(k) not in (None, "")}
    sid = row.get("statistic_id") or fact.get("_sid")
    return {
        "value": value, "quote": row.get("quote") or fact.get("quote") or "", "document": document,
        "href": f"{page}#f-{row['fact_id']}" if page and row.get("fact_id") else page, "fields": shown,
        "statistic": stat_page(sid) if sid else None, "more": max(0, int(row.get("_documents") or 1) - 1),
    }


def _field(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value) if type(value) is int else _e(value)


def _review_row(r: dict[str, Any], position: int) -> str:
    line_key = next((k for k in r if "correction" in k and isinstance(r[k], str)), None)
    sid = r.get("statistic_id") or r.get("_sid")
    shown = [k for k in REVIEW_FIELDS if r.get(k) not in (None, "")] or [
        k for k in r if k not in (line_key, "quote", "rank", "_sid") and r[k] not in (None, "")
    ]
    fields = "; ".join(f"{_e(k)}: {_field(r[k])}" for k in shown)
    value = fmt_value(r) if (r.get("count") is not None or r.get("share") is not None) else ""
    href = stat_page(sid)
    quote = r.get("quote") or ""
    rank = r.get("rank") if r.get("rank") is not None else position
    parts = [f'<tr><td class="num">{rank if type(rank) is int else _e(rank)}</td>\n<td>']
    if value:
        parts.append(f"<strong>{_e(value)}</strong> · ")
    parts.append(f'<a href="{href}">{_e(quote or "statistic")}</a>' if href else _e(quote))
    parts.append("\n")
    if r.get("document"):
        parts.append(f'<span class="small muted"> ({_e(r["document"])})</span>')
    parts.append("\n")
    line = r.get(line_key) if line_key else ""
    if line:
        parts.append(f'<code class="line">{_e(line)}</code>')
    parts.append(f'</td>\n<td class="small">{fields}</td></tr>\n')
    return "".join(parts)


def _document_row(d: dict[str, Any]) -> str:
    return (
        f'<tr><td><a href="{doc_page(d["document"])}">{_e(d["document"])}</a></td><td>{_e(d.get("title"))}</td>'
        f'<td>{_e(d.get("outlet"))}</td><td>{_e(d.get("published"))}</td><td class="num">{d["facts"]}</td>'
        f'<td class="num">{d["dropped"]}</td></tr>\n'
    )


def iter_pages(out_dir: Path) -> Iterator[tuple[str, list[Any]]]:
    """(page, [key, sha256, bytes]) of every page the folder's index records."""
    yield from read_index(out_dir).items()


# --------------------------------------------------------------------------- a release's copy


def variant_dir(working: Path) -> Path:
    """Where the document pages of the release variant (sentences only) are kept between releases: beside the report."""
    return Path(working).with_name(f".{Path(working).name}-release-pages")


def build_release_report(
    database_path: Path,
    target: Path,
    *,
    carry_text: Iterable[str],
    working: Path,
    state: str | None = None,
    workers_wanted: int = 0,
) -> tuple[ReportResult, dict[str, str]]:
    """The report of a release in ``target`` (a new folder), made of the working report's pages.

    Every page is the same in the release as in the working report (``working``, brought up to date
    first; a no-op when the report asset just built it) except the document pages of documents whose
    text the release may not carry (``carry_text`` lists those it may). Those are kept, incrementally
    like the report, in ``variant_dir(working)``. ``target`` gets a hard link to each page (a copy where
    a link cannot be made), so a release costs no rendering beyond the pages that differ; as every build
    replaces a page by a new file, never writes into one, the release's pages never change afterwards.
    Returns the result and each page's sha256 (from the indexes, so the release need not hash them again).
    The pages are byte-identical to ``build_report(database_path, dir, carry_text=carry_text)``.
    """
    started = time.perf_counter()
    working, target = Path(working), Path(target)
    carried = set(carry_text)
    build_report(database_path, working, state=state, workers_wanted=workers_wanted)
    src = report_data.Source(Path(database_path))
    try:
        keys = src.document_keys()
        plan = _Plan({}, {}, {}, {})
        code = _plan_code(src)
        for document, key in keys.items():
            if document not in carried:
                page = doc_page(document)
                assert page is not None
                plan.keys[page] = _document_key(code, document, False, key)
                plan.documents[page] = (document, False)
        cache = variant_dir(working)
        cache.mkdir(parents=True, exist_ok=True)
        rendered, _removed = _update(cache, plan, Path(database_path), src, workers_wanted)
        chart_svg = str(_charts(src)[2])
    finally:
        src.close()
    index, variant = read_index(working), read_index(cache)
    missing = [p for p in plan.keys if variant.get(p, [None])[0] != plan.keys[p]]
    assert not missing, f"release report: variant pages not rendered: {missing[:3]}"
    digests: dict[str, str] = {}
    total = 0
    target.mkdir(parents=True, exist_ok=False)
    made: set[Path] = set()
    for page in sorted(index):
        source_dir, entry = (cache, variant[page]) if page in plan.keys else (working, index[page])
        path = target / page
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        link_or_copy(source_dir / page, path)
        digests[page] = entry[1]
        total += entry[2]
    result = ReportResult(
        path=target, index=target / "index.html", pages=len(index), bytes=total, statistics=len(src.statistics),
        documents=src.n_documents, curated=src.curated, seconds=time.perf_counter() - started, chart_svg=chart_svg,
        rendered=rendered, linked=len(index),
    )
    return result, digests


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link to ``source`` at ``target``; a copy where links cannot be made (another filesystem, no support)."""
    try:
        os.link(source, target)
    except OSError:
        import shutil

        shutil.copyfile(source, target)
