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
LEGACY_REVIEW_ROWS = 200


def page_id(key: str) -> str:
    """A file-name-safe id: the key itself when it is plain hex/word characters, else a hash of it."""
    return key if SAFE_ID.fullmatch(key) else hashlib.sha256(key.encode()).hexdigest()[:24]


def document_page_id(document: str) -> str:
    # Paths hold '/', spaces, anything: a hash, never the path, names the page.
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()[:20]


def _q(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class Source:
    """A read-only connection to the database and the small things every page needs."""

    def __init__(self, database_path: Path) -> None:
        database_path = Path(database_path)
        if not database_path.is_file():
            raise FileNotFoundError(f"{database_path}: no database; build it first with `pipeline run`")
        self.path = database_path
        self.con = duckdb.connect(str(database_path), read_only=True)
        try:
            self.con.execute("SET enable_progress_bar = false")
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
            # fact_id -> the statistic it is cited by (the last by id, as a page links to one), once per build
            self.con.execute(
                f"create temp table _sof as select fact_id, max(statistic_id) as sid from {self.citations_sql} c group by fact_id"
            )
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

    def _columns(self, table: str) -> list[str]:
        return [r[0] for r in self.con.execute(f"describe {_q(table)}").fetchall()]

    def close(self) -> None:
        self.con.close()

    def count(self, sql: str) -> int:
        return int(self.con.execute(f"select count(*) from {sql} x").fetchone()[0])  # type: ignore[index]

    def rows(self, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
        return self.con.execute(sql, params or []).to_arrow_table().to_pylist()

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
        return "(select * from _sof)"

    def document_keys(self) -> dict[str, int]:
        """document -> a hash of its row, its facts (with their statistic) and its mentions."""
        sql = f"""
        with sof as {self._sof()},
        fk as (select f.document, sum(hash(f, sof.sid)::hugeint) h, count(*) n from facts f left join sof using (fact_id) group by f.document),
        mk as (select document, sum(hash({MENTION_COLUMNS})::hugeint) h, count(*) n from mentions group by document)
        select d.document, hash(d, fk.h, fk.n, mk.h, mk.n) from documents d left join fk using (document) left join mk using (document)
        """
        return dict(self.con.execute(sql).fetchall())

    def statistic_keys(self) -> dict[str, int]:
        """statistic_id -> a hash of its row, its citations with their facts, mentions and documents, and its conflicts."""
        ctes = [
            f"sof as {self._sof()}",
            "fh as (select f.fact_id, hash(f, sof.sid) h from facts f left join sof using (fact_id))",
            ("mh as (select fact_id, sum(hash(char_start, char_end, sentence)::hugeint) h, count(*) n from mentions "
            "where fact_id is not null group by fact_id)"),
            "dh as (select document, hash(d) h from documents d)",
            (f"ch as (select c.statistic_id, sum(hash(c, fh.h, mh.h, mh.n, dh.h)::hugeint) h, count(*) n from {self.citations_sql} c "
            "left join fh using (fact_id) left join mh using (fact_id) left join dh using (document) group by c.statistic_id)"),
        ]
        if self.conflicts_sql:
            # a statistic's key covers every conflict group it is in (a superset of the rows its page shows)
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
            f"select s.statistic_id, hash(s, ch.h, ch.n, kk.h) from {self.statistics_sql} s "
            "left join ch using (statistic_id) left join kk using (statistic_id)"
        )
        return dict(self.con.execute(sql).fetchall())

    def review_keys(self, page_rows: int) -> list[int]:
        """A hash of each page of ``page_rows`` review rows, in rank order."""
        if not self.review_sql:
            return []
        order = f"order by {self.review_order}" if self.review_order else ""
        sql = f"""
        with sof as {self._sof()},
        r as (select row_number() over ({order}) - 1 as pos, hash(r, sof.sid) h from {self.review_sql} r left join sof using (fact_id))
        select pos // {page_rows} as page, sum(hash(pos, h)::hugeint) from r group by page order by page
        """
        return [int(h) for _, h in self.con.execute(sql).fetchall()]

    def document_list_keys(self, page_rows: int) -> list[int]:
        sql = f"""
        with r as ({self._document_list_sql()})
        select pos // {page_rows} as page, sum(hash(pos, r)::hugeint) from r group by page order by page
        """
        return [int(h) for _, h in self.con.execute(sql).fetchall()]

    # ------------------------------------------------------------------ rows of a batch of pages

    def _register(self, name: str, values: Iterable[str]) -> None:
        self.con.execute(f"create or replace temp table {name} as select unnest(?::varchar[]) as v", [sorted(set(values))])

    def documents_batch(self, documents: list[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]], list[dict[str, Any]]]]:
        """(document row, its facts in span order each with ``_sid``, its mentions in span order) for each document."""
        self._register("_batch", documents)
        docs = self.rows("select d.* from documents d where document in (select v from _batch) order by document")
        facts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for f in self.rows(
            f"with sof as {self._sof()} select f.*, sof.sid as _sid from facts f left join sof using (fact_id) "
            "where f.document in (select v from _batch) order by f.document, f.char_start, f.fact_id"
        ):
            facts[f["document"]].append(f)
        mentions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in self.rows(
            f"select {MENTION_COLUMNS} from mentions where document in (select v from _batch) order by {MENTION_ORDER}"
        ):
            mentions[m["document"]].append(m)
        return [(d, facts.get(d["document"], []), mentions.get(d["document"], [])) for d in docs]

    def statistics_batch(self, statistic_ids: list[str]) -> dict[str, Any]:
        """The citations (by statistic), the facts and mentions they cite, their documents, and the conflicts beside each."""
        self._register("_batch", statistic_ids)
        citations: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for c in self.rows(
            f"select c.* from {self.citations_sql} c where statistic_id in (select v from _batch) "
            "order by statistic_id, document, char_start, fact_id"
        ):
            citations[c["statistic_id"]].append(c)
        conflicts = self._conflicts_of(statistic_ids) if self.conflicts_sql else {}
        fact_ids = {c["fact_id"] for cs in citations.values() for c in cs if c.get("fact_id")}
        fact_ids |= {r[k] for rows in conflicts.values() for r in rows for k in ("fact_id", "other_fact_id") if r.get(k)}
        self._register("_facts", fact_ids)
        facts = {
            f["fact_id"]: f for f in self.rows(
                f"with sof as {self._sof()} select f.*, sof.sid as _sid from facts f left join sof using (fact_id) "
                "where fact_id in (select v from _facts)"
            )
        }
        mentions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for m in self.rows(
            f"select {MENTION_COLUMNS} from mentions where fact_id in (select v from _facts) order by {MENTION_ORDER}"
        ):
            mentions[m["fact_id"]].append(m)
        self._register("_docs", {c["document"] for cs in citations.values() for c in cs})
        documents = {
            d["document"]: d for d in self.rows(
                "select document, title, outlet, url, published, text from documents where document in (select v from _docs)"
            )
        }
        return {"citations": citations, "facts": facts, "mentions": mentions, "documents": documents, "conflicts": conflicts}

    def _conflicts_of(self, statistic_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        """statistic_id -> the conflict rows beside it: the other values of its key (the rows of its conflict not its own)."""
        cols = self.conflict_columns
        fact_columns = [c for c in ("fact_id", "other_fact_id") if c in cols]
        joins = "".join(f" left join sof s{i} on s{i}.fact_id = k.{c}" for i, c in enumerate(fact_columns))
        sids = ", ".join(f"s{i}.sid as _sid{i}" for i in range(len(fact_columns)))
        members = [f"k.{c}" for c in ("statistic_id", "other_statistic_id") if c in cols]
        members += [f"s{i}.sid" for i in range(len(fact_columns))]
        touches = " or ".join(f"{m} in (select v from _batch)" for m in members) or "true"
        if "conflict_id" in cols:
            where = f" where k.conflict_id in (select k.conflict_id from conflicts k{joins} where {touches})"
        else:
            where = f" where {touches}"
        rows = self.rows(
            f"with sof as {self._sof()} select k.*{', ' + sids if sids else ''} from conflicts k{joins}{where}"
            + (" order by conflict_id, fact_id" if {"conflict_id", "fact_id"} <= set(cols) else "")
        )
        wanted = set(statistic_ids)

        def statistics_of(r: dict[str, Any]) -> set[str]:
            ids = {r[c] for c in ("statistic_id", "other_statistic_id") if r.get(c)}
            return ids | {r[f"_sid{i}"] for i in range(len(fact_columns)) if r.get(f"_sid{i}")}

        out: dict[str, list[dict[str, Any]]] = defaultdict(list)
        if "conflict_id" in cols:
            groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in rows:
                groups[r["conflict_id"]].append(r)
            for group in groups.values():
                for sid in sorted({s for r in group for s in statistics_of(r)} & wanted):
                    out[sid] += [r for r in group if sid not in statistics_of(r)]
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
        rows = self.rows(
            f"with sof as {self._sof()} select * from (select r.*, sof.sid as _sid, row_number() over ({order}) - 1 as _pos "
            f"from {self.review_sql} r left join sof using (fact_id)) where _pos // {int(page_rows)} in "
            f"(select unnest(?::bigint[])) order by _pos",
            [wanted],
        )
        for r in rows:
            out[r.pop("_pos") // page_rows].append(r)
            if not self.curated:
                r["corrections_line"] = corrections_line(r.pop("_sha256"), r["quote"], "reject", "", "", "", "")
        return out

    def _document_list_sql(self) -> str:
        return """
        select row_number() over (order by d.document) - 1 as pos, d.document, d.title, d.outlet, d.published,
               coalesce(f.n, 0) as facts, coalesce(m.n, 0) as dropped
        from documents d
        left join (select document, count(*) n from facts group by document) f using (document)
        left join (select document, count(*) n from mentions where decision <> 'fact' group by document) m using (document)
        """

    def document_list(self, offset: int, limit: int) -> list[dict[str, Any]]:
        return self.rows(f"select * from ({self._document_list_sql()}) where pos >= {int(offset)} and pos < {int(offset + limit)} order by pos")


def corrections_line(sha256: str, quote: str, action: str, field_name: str, value: str, reason: str, reviewer: str) -> str:
    """One row of corrections.csv (sha256,quote,action,field,value,reason,reviewer), CSV-quoted."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([sha256, quote, action, field_name, value, reason, reviewer])
    return buf.getvalue()
