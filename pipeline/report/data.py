"""What the report shows, read from the curated DuckDB database a page family at a time.

The curated tables (``statistics``, ``citations``, ``conflicts``, ``review``) are read where the
database has them; a database without them (built before curation existed) still gives a report:
every fact is then its own statistic with one citation, and the review queue ranks facts by
confidence (``Source.curated`` says which). Those stand-ins are SQL subqueries, so both kinds of
database go through the same queries.

Nothing here holds the archive in memory: ``Source`` keeps the statistics (one row per figure,
a few thousand at most) and the taxonomy names; the rows of document and statistic pages are read
for a batch of pages at a time. Each page's *key* (what decides whether it is rendered again) is
computed inside DuckDB as a sum of row hashes over exactly the rows the page shows, so a build
that finds most keys unchanged reads almost nothing.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import duckdb

# Attributes of a statistic, in the order a page lists them.
ATTRIBUTES = (
    "source", "year", "period_start", "period_end", "region", "platform", "offence",
    "measure", "qualifier", "count", "share", "base",
)
TAXONOMY = {"source": "sources", "region": "regions", "platform": "platforms", "offence": "offences"}
# Columns of a fact that may say where an attribute came from: '<attribute>_from', '<attribute>_provenance'
# or '<attribute>_evidence' (named by the extractor that records them).
PROVENANCE_SUFFIXES = ("_from", "_provenance", "_evidence", "_origin")
SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
MENTION_COLUMNS = "document, char_start, char_end, surface, kind, decision, reason, fact_id, sentence"
MENTION_ORDER = "document, char_start, char_end, fact_id NULLS FIRST, surface"
CITATION_ORDER = "document, char_start, fact_id"  # of a statistic's citations
LEGACY_REVIEW_ROWS = 200
MEMORY_LIMIT = "256MB"  # DuckDB's cap in each process reading the database for the report (it spills past it)


def page_id(key: str) -> str:
    """A file-name-safe id: the key itself when it is plain hex/word characters, else a hash of it."""
    return key if SAFE_ID.fullmatch(key) else hashlib.sha256(key.encode()).hexdigest()[:24]


def document_page_id(document: str) -> str:
    # Paths hold '/', spaces, anything: a hash, never the path, names the page.
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _lit(value: str | int) -> str:
    """A SQL literal (the queries take no named parameters: DuckDB imports pandas for those, ~0.5 s and 60 MB)."""
    return str(int(value)) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


def _strings(values: Iterable[str]) -> str:
    """A SQL list of strings (a Python list passed as a parameter would make DuckDB import pandas and pyarrow)."""
    return "[" + ", ".join(_lit(str(v)) for v in values) + "]::varchar[]"


def _ints(values: Iterable[int]) -> str:
    return "[" + ", ".join(str(int(v)) for v in values) + "]::bigint[]"


class Source:
    """A read-only connection to the database and the small things every page needs."""

    def __init__(self, database_path: Path, *, threads: int | None = None, memory_limit: str = MEMORY_LIMIT) -> None:
        database_path = Path(database_path)
        if not database_path.is_file():
            raise FileNotFoundError(f"{database_path}: no database; build it first with `pipeline run`")
        self.path = database_path
        self.con = duckdb.connect(str(database_path), read_only=True)
        self._sof_made = False
        try:
            self.con.execute("SET enable_progress_bar = false")
            # DuckDB's default is 80% of the machine's memory and a thread per core, in every process that opens
            # the database: a worker renders a batch of pages and needs neither (see build.render_pages)
            self.con.execute(f"SET memory_limit = '{memory_limit}'")
            if threads:
                self.con.execute(f"SET threads = {int(threads)}")
            self.tables = {
                r[0] for r in self.con.execute(
                    "select table_name from information_schema.tables where table_schema = 'main'"
                ).fetchall()
            }
            missing = {"documents", "facts", "mentions"} - self.tables
            if missing:
                raise ValueError(f"{database_path}: not a pipeline database (no table {', '.join(sorted(missing))})")
            self.names = {
                table: dict(self.con.execute(f"select slug, name from {_q(table)}").fetchall()) if table in self.tables else {}
                for table in TAXONOMY.values()
            }
            fact_columns = [r[0] for r in self.con.execute("describe facts").fetchall()]
            self.provenance_columns = tuple(c for c in fact_columns if c.endswith(PROVENANCE_SUFFIXES))
            self.curated = {"statistics", "citations"} <= self.tables
            self._sources()
            self.statistics = self.rows(f"select * from {self.statistics_sql} s order by statistic_id")
            self.n_documents, self.n_facts = self.con.execute(
                "select (select count(*) from documents), (select count(*) from facts)"
            ).fetchone()  # type: ignore[misc]
            self.n_conflicts = self.count(self.conflicts_sql) if self.conflicts_sql else 0
            self.n_review = self.count(self.review_sql) if self.review_sql else 0
        except BaseException:
            self.con.close()
            raise

    def _sources(self) -> None:
        """The SQL (a table name or a subquery) each kind of row is read from."""
        if self.curated:
            self.statistics_sql, self.citations_sql = "statistics", "citations"
            self.conflicts_sql = "conflicts" if "conflicts" in self.tables else None
            self.review_sql = "review" if "review" in self.tables else None
            self.conflict_columns = (
                [r[0] for r in self.con.execute("describe conflicts").fetchall()] if self.conflicts_sql else []
            )
            self.review_order = "rank" if self.review_sql and "rank" in self._columns("review") else None
            # ranks 1..n, each once (as curation numbers the queue): a page's rows are then a range of ranks
            self.review_dense = bool(self.review_order) and bool(self.con.execute(
                "select count(*) > 0 and count(*) = count(distinct rank) and min(rank) = 1 and max(rank) = count(*) from review"
            ).fetchone()[0])  # type: ignore[index]
            return
        # every fact its own statistic, citing itself; the queue: the facts of lowest confidence
        attributes = ", ".join(f"f.{_q(a)}" for a in ATTRIBUTES)
        self.statistics_sql = (
            f"(select {attributes}, f.fact_id as statistic_id, 1 as n_citations, d.published as first_published "
            "from facts f left join documents d using (document))"
        )
        self.citations_sql = (
            "(select f.fact_id as statistic_id, f.fact_id, f.document, f.quote, f.char_start, f.char_end, f.count, f.share, "
            "d.title, d.outlet, d.url, d.published from facts f left join documents d using (document))"
        )
        self.conflicts_sql, self.conflict_columns = None, []
        self.review_sql = (
            "(select row_number() over (order by coalesce(f.confidence, 1.0), f.fact_id) as rank, f.fact_id, "
            "f.fact_id as statistic_id, f.document, f.quote, printf('confidence %.2f', coalesce(f.confidence, 0)) as reasons, "
            "coalesce(d.sha256, '') as _sha256 from facts f left join documents d using (document) "
            f"order by rank limit {LEGACY_REVIEW_ROWS})"
        )
        self.review_order = "rank"
        self.review_dense = False

    def _columns(self, table: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"describe {_q(table)}").fetchall()]

    def close(self) -> None:
        """Close the connection (DuckDB's memory with it); what was read (statistics, names, counts) stays."""
        self.con.close()

    def count(self, sql: str) -> int:
        return int(self.con.execute(f"select count(*) from {sql} x").fetchone()[0])  # type: ignore[index]

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        # plain tuples, not through Arrow: a rendering worker then never loads pyarrow (~40 MB a process)
        cursor = self.con.execute(sql, params or [])
        names = [d[0] for d in cursor.description or []]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def name(self, attribute: str, slug: Any) -> str:
        """The taxonomy name of a slug ('instagram+whatsapp' -> 'Instagram + WhatsApp'); the slug if unknown."""
        if slug is None:
            return ""
        table = TAXONOMY.get(attribute)
        if table is None:
            return str(slug)
        names = self.names.get(table, {})
        parts = str(slug).split("+") if attribute == "platform" else [str(slug)]
        return " + ".join(names.get(p, p) for p in parts)

    # ------------------------------------------------------------------ keys (sums of row hashes)

    def _sof(self) -> str:
        """fact_id -> the statistic it is cited by (the last by id, as a page links to one), made once (for the keys)."""
        if not self._sof_made:
            self.con.execute(
                f"create temp table _sof as select fact_id, max(statistic_id) as sid from {self.citations_sql} c group by fact_id"
            )
            self._sof_made = True
        return "(select * from _sof)"

    def _sof_of(self, facts_sql: str) -> str:
        """The same for the facts ``facts_sql`` selects (a batch's: no pass over every citation)."""
        return (
            f"(select fact_id, max(statistic_id) as sid from {self.citations_sql} c "
            f"where fact_id in ({facts_sql}) group by fact_id)"
        )

    def document_keys(self) -> dict[str, int]:
        """document -> a hash of its row, its facts (with their statistic) and its mentions."""
        sql = f"""
        with sof as {self._sof()},
        fk as (select f.document, sum(hash(f, sof.sid)::hugeint) h, count(*) n from facts f left join sof using (fact_id) group by f.document),
        mk as (select document, sum(hash({MENTION_COLUMNS})::hugeint) h, count(*) n from mentions group by document)
        select d.document, hash(d, fk.h, fk.n, mk.h, mk.n) from documents d left join fk using (document) left join mk using (document)
        """
        return dict(self.con.execute(sql).fetchall())

    def statistic_keys(self, page_rows: int) -> dict[str, list[int]]:
        """statistic_id -> a hash of each of its pages (``page_rows`` citations a page, at least one page).

        A page's hash covers its statistic's row and its citations with their facts, mentions and documents; the
        first page's also every citation of the statistic (it shows their count and where the attributes came
        from) and every conflict group the statistic is in (a superset of the rows the page shows)."""
        ctes = [
            f"sof as {self._sof()}",
            "fh as (select f.fact_id, hash(f, sof.sid) h from facts f left join sof using (fact_id))",
            ("mh as (select fact_id, sum(hash(char_start, char_end, sentence)::hugeint) h, count(*) n from mentions "
            "where fact_id is not null group by fact_id)"),
            "dh as (select document, hash(d) h from documents d)",
            # each citation's hash first, then its page: the window then sorts five narrow columns, not whole rows
            (f"ch as (select c.statistic_id, c.document, c.char_start, c.fact_id, hash(c, fh.h, mh.h, mh.n, dh.h) h "
            f"from {self.citations_sql} c left join fh using (fact_id) left join mh using (fact_id) left join dh using (document))"),
            (f"cr as (select statistic_id, (row_number() over (partition by statistic_id order by {CITATION_ORDER}) - 1) "
            f"// {int(page_rows)} as _page, h from ch)"),
            "cp as (select statistic_id, _page, sum(h::hugeint) h, count(*) n from cr group by statistic_id, _page)",
            "ca as (select statistic_id, sum(h) h, sum(n) n, count(*) pages from cp group by statistic_id)",
        ]
        if self.conflicts_sql:
            cols = self.conflict_columns
            group = "k.conflict_id" if "conflict_id" in cols else "hash(k)::varchar"
            stat_columns = [c for c in ("statistic_id", "other_statistic_id") if c in cols]
            fact_columns = [c for c in ("fact_id", "other_fact_id") if c in cols]
            joins = "".join(
                f" left join sof s{i} on s{i}.fact_id = k.{c} left join fh f{i} on f{i}.fact_id = k.{c}"
                for i, c in enumerate(fact_columns)
            )
            row_hash = "hash(k" + "".join(f", f{i}.h" for i in range(len(fact_columns))) + ")"
            members = [f"k.{c}" for c in stat_columns] + [f"s{i}.sid" for i in range(len(fact_columns))]
            ctes += [
                f"kr as (select {group} g, {row_hash} rh, [{', '.join(members)}]::varchar[] ss from conflicts k{joins})",
                "gh as (select g, sum(rh::hugeint) h from kr group by g)",
                "gs as (select distinct g, unnest(ss) s from kr)",
                ("kk as (select gs.s statistic_id, sum(hash(gs.g, gh.h)::hugeint) h from gs join gh using (g) "
                "where gs.s is not null group by gs.s)"),
            ]
        else:
            ctes.append("kk as (select null::varchar statistic_id, null::hugeint h where false)")
        sql = (
            "with " + ",\n".join(ctes) + "\n"
            "select s.statistic_id, coalesce(cp._page, 0), coalesce(ca.pages, 1), "
            "hash(s, ca.h, ca.n, ca.pages, kk.h), hash(s, ca.pages, cp.h, cp.n) "
            f"from {self.statistics_sql} s left join ca using (statistic_id) left join kk using (statistic_id) "
            "left join cp using (statistic_id)"
        )
        out: dict[str, list[int]] = {}
        for sid, page, pages, first, key in self.con.execute(sql).fetchall():
            keys = out.setdefault(sid, [0] * pages)
            keys[page] = first if page == 0 else key
        return out

    def review_keys(self, page_rows: int, max_pages: int | None = None) -> list[int]:
        """A hash of each page of ``page_rows`` review rows, in rank order (the first ``max_pages`` pages)."""
        if not self.review_sql:
            return []
        order = f"order by {self.review_order}" if self.review_order else ""
        # ranks 1..n are the positions: no sort of the queue
        pos = "r.rank - 1" if self.review_dense else f"row_number() over ({order}) - 1"
        shown = f"where pos < {int(max_pages) * page_rows}" if max_pages is not None else ""
        sql = f"""
        with sof as {self._sof()},
        r as (select {pos} as pos, hash(r, sof.sid) h from {self.review_sql} r left join sof using (fact_id))
        select pos // {page_rows} as page, sum(hash(pos, h)::hugeint) from r {shown} group by page order by page
        """
        return [int(h) for _, h in self.con.execute(sql).fetchall()]

    def document_list_keys(self, page_rows: int) -> list[int]:
        sql = f"""
        with r as ({self._document_list_sql()})
        select pos // {page_rows} as page, sum(hash(pos, r)::hugeint) from r group by page order by page
        """
        return [int(h) for _, h in self.con.execute(sql).fetchall()]

    # ------------------------------------------------------------------ rows of a batch of pages

    def _register(self, name: str, values: Iterable[str]) -> tuple[str, str]:
        """A temp table ``name`` of the distinct ``values`` (column v); returns their least and greatest, for a range
        filter DuckDB can answer from its row groups' min/max (the tables are stored in document order)."""
        ordered = sorted(set(values))
        self.con.execute(f"create or replace temp table {name} as select unnest({_strings(ordered)}) as v")
        return (ordered[0], ordered[-1]) if ordered else ("", "")

    def documents_batch(self, documents: list[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
        """(document row, its facts in span order each with ``_sid``, its mentions in span order) for each document.

        A batch of documents adjacent by name reads only the row groups that hold them."""
        lo, hi = self._register("_batch", documents)
        where = f"document between {_lit(lo)} and {_lit(hi)} and document in (select v from _batch)"
        docs = self.rows(f"select d.* from documents d where {where} order by document")
        facts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        sof = self._sof_of(f"select fact_id from facts where {where}")
        for f in self.rows(
            f"with sof as {sof} select f.*, sof.sid as _sid from facts f left join sof using (fact_id) "
            f"where f.{where} order by f.document, f.char_start, f.fact_id"
        ):
            facts[f["document"]].append(f)
        mentions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in self.rows(f"select {MENTION_COLUMNS} from mentions where {where} order by {MENTION_ORDER}"):
            mentions[m["document"]].append(m)
        return [(d, facts.get(d["document"], []), mentions.get(d["document"], [])) for d in docs]

    def _citation_pages_sql(self, page_rows: int, where: str = "") -> str:
        """Citations (those ``where`` picks by statistic, else all) with ``_page``, the page of their statistic they are
        on (``page_rows`` a page, in page order)."""
        return (
            f"(select c.*, (row_number() over (partition by c.statistic_id order by {CITATION_ORDER}) - 1) // {int(page_rows)} "
            f"as _page from {self.citations_sql} c{' where ' + where if where else ''})"
        )

    def statistic_pages_batch(self, pages: list[tuple[str, int]], page_rows: int) -> dict[str, Any]:
        """What the statistic pages ``pages`` ((statistic_id, page number) each) show: their citations by
        (statistic_id, page), the facts and mentions those cite and their documents; for the first pages, the
        conflicts beside each statistic and where its attributes came from (over all its citations)."""
        statistic_ids = sorted({sid for sid, _ in pages})
        self._register("_batch", statistic_ids)
        self.con.execute(
            f"create or replace temp table _pages as select unnest({_strings([sid for sid, _ in pages])}) as sid, "
            f"unnest({_ints([n for _, n in pages])}) as page"
        )
        citations: dict[tuple[str, int], list[dict[str, Any]]] = defaultdict(list)
        for c in self.rows(
            f"select c.* from {self._citation_pages_sql(page_rows, 'statistic_id in (select v from _batch)')} c "
            f"join _pages p on p.sid = c.statistic_id and p.page = c._page order by c.statistic_id, {CITATION_ORDER}"
        ):
            citations[(c["statistic_id"], c.pop("_page"))].append(c)
        firsts = [sid for sid, n in pages if n == 0]
        conflicts = self._conflicts_of(firsts) if self.conflicts_sql and firsts else {}
        origins = self._origins(firsts) if firsts else {}
        counts = dict(self.con.execute(
            f"select statistic_id, count(*) from {self.citations_sql} c where statistic_id in (select v from _batch) group by 1"
        ).fetchall())
        fact_ids = {c["fact_id"] for cs in citations.values() for c in cs if c.get("fact_id")}
        fact_ids |= {r[k] for rows in conflicts.values() for r in rows for k in ("fact_id", "other_fact_id") if r.get(k)}
        self._register("_facts", fact_ids)
        documents = {c["document"] for cs in citations.values() for c in cs}
        lo, hi = self._register("_docs", documents)
        facts = {
            f["fact_id"]: f for f in self.rows(
                f"with sof as {self._sof_of('select v from _facts')} select f.*, sof.sid as _sid from facts f "
                "left join sof using (fact_id) where fact_id in (select v from _facts)"
            )
        }
        mentions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in self.rows(
            f"select {MENTION_COLUMNS} from mentions where fact_id in (select v from _facts) order by {MENTION_ORDER}"
        ):
            mentions[m["fact_id"]].append(m)
        documents_rows = {
            d["document"]: d for d in self.rows(
                "select document, title, outlet, url, published, text from documents "
                f"where document between {_lit(lo)} and {_lit(hi)} and document in (select v from _docs)"
            )
        } if documents else {}
        return {
            "citations": citations, "facts": facts, "mentions": mentions, "documents": documents_rows,
            "conflicts": conflicts, "origins": origins, "counts": counts,
        }

    def _origins(self, statistic_ids: list[str]) -> dict[str, dict[str, set[str]]]:
        """statistic_id -> provenance column -> the values it has among the facts the statistic cites."""
        out: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        if not self.provenance_columns:
            return out
        self._register("_firsts", statistic_ids)
        columns = ", ".join(f"f.{_q(col)}::varchar" for col in self.provenance_columns)
        for sid, *values in self.con.execute(
            f"select distinct c.statistic_id, {columns} from {self.citations_sql} c join facts f using (fact_id) "
            "where c.statistic_id in (select v from _firsts)"
        ).fetchall():
            for col, value in zip(self.provenance_columns, values, strict=True):
                if value is not None and value != "":
                    out[sid][col].add(value)
        return out

    def _conflicts_of(self, statistic_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """statistic_id -> the conflict rows beside it: the other values of its key (the rows of its conflict not its own).

        Rows that differ only in their fact and document (one figure repeated by many documents) are read as one,
        with ``_documents`` the documents it stands for and ``document``/``fact_id`` those of the first."""
        self._register("_conflicted", statistic_ids)
        cols = self.conflict_columns
        fact_columns = [c for c in ("fact_id", "other_fact_id") if c in cols]
        sof = self._sof_of("select " + " union select ".join(f"{c} from conflicts" for c in fact_columns)) if fact_columns else None
        joins = "".join(f" left join sof s{i} on s{i}.fact_id = k.{c}" for i, c in enumerate(fact_columns))
        sids = ", ".join(f"s{i}.sid as _sid{i}" for i in range(len(fact_columns)))
        members = [f"k.{c}" for c in ("statistic_id", "other_statistic_id") if c in cols]
        members += [f"s{i}.sid" for i in range(len(fact_columns))]
        touches = " or ".join(f"{m} in (select v from _conflicted)" for m in members) or "true"
        if "conflict_id" in cols:
            where = f" where k.conflict_id in (select k.conflict_id from conflicts k{joins} where {touches})"
        else:
            where = f" where {touches}"
        ctes = f"with sof as {sof} " if sof else ""
        rows_sql = f"{ctes}select k.*{', ' + sids if sids else ''} from conflicts k{joins}{where}"
        # one row for each figure: the facts and documents repeating it folded into the first
        folded = {"fact_id", "document"} & set(cols)
        keep = [c for c in cols if c not in folded] + [f"_sid{i}" for i in range(len(fact_columns))]
        if folded:
            first = "min({" + ", ".join(f"'{c}': {_q(c)}" for c in ("document", "fact_id") if c in folded) + "})"
            group = ", ".join(_q(c) for c in keep)
            picked = ", ".join(f"_first.{_q(c)} as {_q(c)}" for c in ("document", "fact_id") if c in folded)
            sql = (
                f"select {group}, {picked}, _documents from (select {group}, {first} as _first, "
                f"{'count(distinct document)' if 'document' in folded else 'count(*)'} as _documents from ({rows_sql}) "
                f"group by all) order by {'conflict_id, ' if 'conflict_id' in cols else ''}_first"
            )
        else:
            sql = rows_sql + (" order by conflict_id" if "conflict_id" in cols else "")
        rows = self.rows(sql)
        wanted = set(statistic_ids)

        def statistics_of(r: dict[str, Any]) -> set[str]:
            ids = {r[c] for c in ("statistic_id", "other_statistic_id") if r.get(c)}
            return ids | {r[f"_sid{i}"] for i in range(len(fact_columns)) if r.get(f"_sid{i}")}

        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if "conflict_id" in cols:
            groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in rows:
                groups[r["conflict_id"]].append(r)
            for group_rows in groups.values():
                for sid in sorted({s for r in group_rows for s in statistics_of(r)} & wanted):
                    out[sid] += [r for r in group_rows if sid not in statistics_of(r)]
        else:
            for r in rows:
                for sid in sorted(statistics_of(r) & wanted):
                    out[sid].append(r)
        return dict(out)

    def review_pages(self, numbers: Iterable[int], page_rows: int) -> dict[int, list[dict[str, Any]]]:
        """The review rows of each page in ``numbers`` (0-based, ``page_rows`` a page) in rank order, each with
        ``_sid`` (its statistic), read in one query."""
        wanted = sorted(set(numbers))
        out: dict[int, list[dict[str, Any]]] = {n: [] for n in wanted}
        if not self.review_sql or not wanted:
            return out
        order = f"order by r.{self.review_order}" if self.review_order else ""
        if self.review_dense:  # a range of ranks, which DuckDB reads without sorting the queue
            picked = (
                f"select r.*, r.rank - 1 as _pos from {self.review_sql} r "
                f"where r.rank between {wanted[0] * page_rows + 1} and {(wanted[-1] + 1) * page_rows} "
                f"and (r.rank - 1) // {int(page_rows)} in (select unnest({_ints(wanted)}))"
            )
        else:
            picked = (
                f"select r.*, row_number() over ({order}) - 1 as _pos from {self.review_sql} r "
                f"qualify _pos // {int(page_rows)} in (select unnest({_ints(wanted)}))"
            )
        self.con.execute(f"create or replace temp table _review_rows as {picked}")
        sof = self._sof_of("select fact_id from _review_rows")
        rows = self.rows(
            f"with sof as {sof} select p.*, sof.sid as _sid from _review_rows p left join sof using (fact_id) order by _pos"
        )
        for r in rows:
            out[r.pop("_pos") // page_rows].append(r)
            if not self.curated:
                r["corrections_line"] = corrections_line(r.pop("_sha256"), r["quote"], "reject", "", "", "", "")
        return out

    def document_list_pages(self, numbers: Iterable[int], page_rows: int) -> dict[int, list[dict[str, Any]]]:
        """The rows of each page in ``numbers`` (0-based) of the documents list, its facts and dropped numbers counted
        over only the documents of those pages."""
        wanted = sorted(set(numbers))
        out: dict[int, list[dict[str, Any]]] = {n: [] for n in wanted}
        if not wanted:
            return out
        self.con.execute(
            f"create or replace temp table _listed as select row_number() over (order by document) - 1 as pos, document as v "
            f"from documents qualify pos // {int(page_rows)} in (select unnest({_ints(wanted)}))"
        )
        lo, hi = self.con.execute("select coalesce(min(v), ''), coalesce(max(v), '') from _listed").fetchone()  # type: ignore[misc]
        rows = self.rows(
            f"""
            with p as (select pos, v as document from _listed)
            select p.pos, d.document, d.title, d.outlet, d.published, coalesce(f.n, 0) as facts, coalesce(m.n, 0) as dropped
            from p join documents d using (document)
            left join (select document, count(*) n from facts where document between {_lit(lo)} and {_lit(hi)}
                       and document in (select v from _listed) group by document) f using (document)
            left join (select document, count(*) n from mentions where document between {_lit(lo)} and {_lit(hi)}
                       and document in (select v from _listed) and decision <> 'fact' group by document) m using (document)
            order by p.pos
            """
        )
        for r in rows:
            out[r["pos"] // page_rows].append(r)
        return out

    def _document_list_sql(self) -> str:
        return """
        select row_number() over (order by d.document) - 1 as pos, d.document, d.title, d.outlet, d.published,
               coalesce(f.n, 0) as facts, coalesce(m.n, 0) as dropped
        from documents d
        left join (select document, count(*) n from facts group by document) f using (document)
        left join (select document, count(*) n from mentions where decision <> 'fact' group by document) m using (document)
        """


def corrections_line(sha256: str, quote: str, action: str, field_name: str, value: str, reason: str, reviewer: str) -> str:
    """One row of corrections.csv (sha256,quote,action,field,value,reason,reviewer), CSV-quoted."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([sha256, quote, action, field_name, value, reason, reviewer])
    return buf.getvalue()
