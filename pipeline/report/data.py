"""What the report shows, read once from the curated DuckDB database.

The curated tables (``statistics``, ``citations``, ``conflicts``, ``review``) are read
where the database has them; a database without them (built before curation existed)
still gives a report: every fact is then its own statistic with one citation, and the
review queue ranks facts by confidence. ``ReportData.curated`` says which it is.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
from collections import defaultdict
from dataclasses import dataclass, field
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


def page_id(key: str) -> str:
    """A file-name-safe id: the key itself when it is plain hex/word characters, else a hash of it."""
    return key if SAFE_ID.fullmatch(key) else hashlib.sha256(key.encode()).hexdigest()[:24]


def document_page_id(document: str) -> str:
    # Paths hold '/', spaces, anything: a hash, never the path, names the page.
    return hashlib.sha256(document.encode("utf-8", "surrogatepass")).hexdigest()[:20]


@dataclass
class ReportData:
    documents: dict[str, dict[str, Any]]  # document -> row (text included)
    facts: dict[str, dict[str, Any]]  # fact_id -> row
    mentions: dict[str, list[dict[str, Any]]]  # document -> mentions sorted by span
    statistics: list[dict[str, Any]]
    citations: dict[str, list[dict[str, Any]]]  # statistic_id -> citations
    conflicts: dict[str, list[dict[str, Any]]]  # statistic_id -> conflicting rows
    review: list[dict[str, Any]]
    names: dict[str, dict[str, str]]  # taxonomy table -> slug -> name
    curated: bool  # True when the statistics came from the curated tables, False when derived from facts
    statistic_of_fact: dict[str, str] = field(default_factory=dict)
    provenance_columns: tuple[str, ...] = ()

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


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute("select table_name from information_schema.tables where table_schema = 'main'").fetchall()}


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    return con.sql(sql).to_arrow_table().to_pylist()


def load(database_path: Path) -> ReportData:
    """Everything the report needs, from the database at ``database_path`` (opened read-only)."""
    database_path = Path(database_path)
    if not database_path.is_file():
        raise FileNotFoundError(f"{database_path}: no database; build it first with `pipeline run`")
    con = duckdb.connect(str(database_path), read_only=True)
    try:
        tables = _tables(con)
        missing = {"documents", "facts", "mentions"} - tables
        if missing:
            raise ValueError(f"{database_path}: not a pipeline database (no table {', '.join(sorted(missing))})")
        documents = {r["document"]: r for r in _rows(con, "select * from documents order by document")}
        facts = {r["fact_id"]: r for r in _rows(con, "select * from facts order by document, char_start, fact_id")}
        mentions: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in _rows(
            con,
            "select document, char_start, char_end, surface, kind, decision, reason, fact_id, sentence "
            "from mentions order by document, char_start, char_end",
        ):
            mentions[r["document"]].append(r)
        names = {}
        for _attribute, table in TAXONOMY.items():
            names[table] = dict(con.execute(f'select slug, name from "{table}"').fetchall()) if table in tables else {}
        fact_columns = next(iter(facts.values())).keys() if facts else ()
        provenance = tuple(c for c in fact_columns if c.endswith(PROVENANCE_SUFFIXES))
        data = ReportData(
            documents=documents, facts=facts, mentions=dict(mentions), statistics=[], citations={}, conflicts={},
            review=[], names=names, curated=False, provenance_columns=provenance,
        )
        if {"statistics", "citations"} <= tables:
            _load_curated(con, tables, data)
        else:
            _derive_from_facts(data)
    finally:
        con.close()
    return data


def _load_curated(con: duckdb.DuckDBPyConnection, tables: set[str], data: ReportData) -> None:
    data.curated = True
    data.statistics = _rows(con, "select * from statistics order by statistic_id")
    citations: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in _rows(con, "select * from citations order by statistic_id, document, char_start"):
        citations[r["statistic_id"]].append(r)
        data.statistic_of_fact[r["fact_id"]] = r["statistic_id"]
    data.citations = dict(citations)
    if "conflicts" in tables:
        conflicts: dict[str, list[dict[str, Any]]] = defaultdict(list)
        rows = _rows(con, "select * from conflicts")
        if rows and "conflict_id" in rows[0]:
            # beside each statistic: the other values of its key (the rows of its conflict that are not its own)
            groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
            for r in rows:
                groups[r["conflict_id"]].append(r)
            for group in groups.values():
                for sid in sorted({s for r in group for s in _statistics_of_conflict(r, data)}):
                    conflicts[sid] += [r for r in group if sid not in _statistics_of_conflict(r, data)]
        else:
            for r in rows:
                for sid in _statistics_of_conflict(r, data):
                    conflicts[sid].append(r)
        data.conflicts = dict(conflicts)
    if "review" in tables:
        rows = _rows(con, "select * from review")
        key = "rank" if rows and "rank" in rows[0] else None
        data.review = sorted(rows, key=lambda r: (r.get(key) if key else 0) or 0) if key else rows


def _statistics_of_conflict(row: dict[str, Any], data: ReportData) -> list[str]:
    """The statistics a conflict row concerns: its statistic_id if it has one, else those of its facts."""
    ids = [row[c] for c in ("statistic_id", "other_statistic_id") if row.get(c)]
    for column in ("fact_id", "other_fact_id"):
        sid = data.statistic_of_fact.get(row.get(column) or "")
        if sid:
            ids.append(sid)
    return sorted(set(ids))


def _derive_from_facts(data: ReportData) -> None:
    """No curated tables: each fact is a statistic citing itself; the queue ranks facts by confidence."""
    for fact_id, f in data.facts.items():
        doc = data.documents.get(f["document"], {})
        stat = {a: f.get(a) for a in ATTRIBUTES}
        stat.update(statistic_id=fact_id, n_citations=1, first_published=doc.get("published"))
        data.statistics.append(stat)
        data.citations[fact_id] = [
            {
                "statistic_id": fact_id, "fact_id": fact_id, "document": f["document"], "quote": f["quote"],
                "char_start": f["char_start"], "char_end": f["char_end"], "count": f.get("count"), "share": f.get("share"),
                "title": doc.get("title"), "outlet": doc.get("outlet"), "url": doc.get("url"), "published": doc.get("published"),
            }
        ]
        data.statistic_of_fact[fact_id] = fact_id
    data.statistics.sort(key=lambda s: s["statistic_id"])
    ranked = sorted(data.facts.values(), key=lambda f: (f.get("confidence") if f.get("confidence") is not None else 1.0, f["fact_id"]))
    for rank, f in enumerate(ranked[:200], 1):
        sha = data.documents.get(f["document"], {}).get("sha256") or ""
        data.review.append(
            {
                "rank": rank, "fact_id": f["fact_id"], "statistic_id": f["fact_id"], "document": f["document"],
                "quote": f["quote"], "reasons": f"confidence {f.get('confidence') or 0:.2f}",
                "corrections_line": corrections_line(sha, f["quote"], "reject", "", "", "", ""),
            }
        )


def corrections_line(sha256: str, quote: str, action: str, field_name: str, value: str, reason: str, reviewer: str) -> str:
    """One row of corrections.csv (sha256,quote,action,field,value,reason,reviewer), CSV-quoted."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([sha256, quote, action, field_name, value, reason, reviewer])
    return buf.getvalue()
