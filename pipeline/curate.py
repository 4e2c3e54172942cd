"""Stage 3c, curation: per-document facts -> one row per real-world figure.

Facts of the same key (source, year, region, platform, offence, measure; null equals null) whose
values agree, or where one is a stated rounding of the other ("more than 9,000" beside 9,477,
40% beside 40.2%), become one statistic with a citation per fact. Values of one key that
disagree beyond rounding, stated by different documents, are conflicts: listed, never resolved
silently. Consistency flags mark statistics that cannot all be right (shares of one breakdown
summing past 1, a count and base disagreeing with the share, a year after the document's date).
The review queue ranks the facts most worth a human look, each with a ready-to-paste
corrections.csv line.

How rounding is decided: each stated value is an interval. An exact value covers half a unit of
its last digit either side (40.2% -> 40.15-40.25%, 40% -> 39.5-40.5%; counts of a million and
more are taken as rounded to their trailing zeros, "16 million" -> 15.5-16.5 million). A bounded
value covers one unit of its last non-zero digit in its direction ("more than 9,000" -> 9,000
to 10,000, "about 20%" -> 15-25%). Two values agree when their intervals overlap.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from types import SimpleNamespace
from typing import Any

import pyarrow as pa

from pipeline.corrections import ADDED_VERSION, correction_line
from pipeline.database import commit_point, rows_to_arrow

KEY = ("source", "year", "region", "platform", "offence", "measure")
ATTRIBUTES = ("region", "year", "offence", "source", "platform")
WEAK_PROVENANCE = ("document", "published", "none")  # gen14's <attribute>_from values that are guesses
TOTALS = {"all_platforms", "online_any"}
LOW_CONFIDENCE = 0.6


@dataclass
class Flag:
    check: str  # shares_sum, count_base_share, year_after_document
    statistic_ids: list[str]
    fact_ids: list[str]
    message: str


@dataclass
class Curated:
    statistics: pa.Table
    citations: pa.Table
    conflicts: pa.Table
    review: pa.Table
    flags: list[Flag] = field(default_factory=list)

    def flagged(self, check: str) -> list[Flag]:
        return [f for f in self.flags if f.check == check]


# ------------------------------------------------------------------ values as intervals


def _trailing_zeros(n: int) -> int:
    z = 0
    while n and n % 10 == 0:
        n //= 10
        z += 1
    return z


def _decimals(x: float) -> int:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return len(text.split(".")[1]) if "." in text else 0


def interval(value: float, qualifier: str, kind: str) -> tuple[float, float]:
    """The values a statement covers. Shares are compared in percent (0.402 -> 40.2)."""
    v = round(value * 100, 6) if kind == "share" else float(value)
    if kind == "share":
        exact_unit = 10.0 ** -_decimals(v)
        bound_unit = 10.0 ** _trailing_zeros(int(v)) if v == int(v) and v else exact_unit
    else:
        exact_unit = 10.0 ** _trailing_zeros(int(v)) if v >= 1_000_000 else 1.0
        bound_unit = 10.0 ** _trailing_zeros(int(v)) if v else 1.0
    if qualifier == "exact":
        return v - exact_unit / 2, v + exact_unit / 2
    if qualifier == "about":
        return v - bound_unit / 2, v + bound_unit / 2
    if qualifier in ("more_than", "at_least"):
        return v, v + bound_unit
    return v - bound_unit, v  # less_than, up_to


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    eps = 1e-9
    return a[0] <= b[1] + eps and b[0] <= a[1] + eps


def agree(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool | None:
    """True when the two facts state the same figure, False when they disagree, None when they
    share no kind of value (a count beside a share: two different figures, not a conflict)."""
    compared = False
    for kind in ("count", "share"):
        if a.get(kind) is None or b.get(kind) is None:
            continue
        compared = True
        if not _overlap(interval(a[kind], a["qualifier"], kind), interval(b[kind], b["qualifier"], kind)):
            return False
    return True if compared else None


def _width(f: Mapping[str, Any]) -> tuple[float, float]:
    widths = []
    for kind in ("count", "share"):
        if f.get(kind) is None:
            widths.append(math.inf)
        else:
            lo, hi = interval(f[kind], f["qualifier"], kind)
            widths.append(hi - lo)
    return widths[0], widths[1]


def _hash(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:16]


def statistic_id(key: Sequence[Any], count: int | None, share: float | None) -> str:
    """Stable id of a figure: its key and value (not the documents citing it)."""
    return _hash(*key, count, None if share is None else round(share, 6))


# ------------------------------------------------------------------ curation


GROUP = ("source", "year", "region", "offence", "measure")  # a key but its platform: what curation works within


def curate(facts: pa.Table, documents: Sequence[Any]) -> Curated:
    """Statistics, citations, conflicts and the review queue of the (corrected) facts.

    ``documents`` are objects with ``document``, ``sha256``, ``published``, ``title``, ``outlet``, ``url``.
    """
    docs = {d.document: d for d in documents}
    part = curate_groups(facts.to_pylist(), docs)
    part.statistics.sort(key=lambda s: (str(s["source"]), s["year"] or 0, str(s["region"]), s["platform"], s["statistic_id"]))
    part.review.sort(key=review_order)
    for i, q in enumerate(part.review, 1):
        q["rank"] = i
    return Curated(
        statistics=rows_to_arrow("statistics", part.statistics),
        citations=rows_to_arrow("citations", part.citations),
        conflicts=rows_to_arrow("conflicts", part.conflicts),
        review=rows_to_arrow("review", part.review),
        flags=part.flags,
    )


def review_order(q: Mapping[str, Any]) -> tuple[Any, ...]:
    """The review queue's order (``REVIEW_ORDER_SQL`` says the same in SQL): highest score first."""
    return (-q["score"], q["confidence"] if q["confidence"] is not None else 0, q["document"], q["fact_id"])


REVIEW_ORDER_SQL = "score DESC, coalesce(confidence, 0) ASC, document ASC, fact_id ASC"


@dataclass
class _Part:
    """The curated rows of some groups of facts (each group whole): nothing in one group depends on another."""

    statistics: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    review: list[dict[str, Any]] = field(default_factory=list)  # unranked
    flags: list[Flag] = field(default_factory=list)


def curate_groups(rows: list[dict[str, Any]], docs: Mapping[str, Any]) -> _Part:
    """Curate facts that hold every fact of each ``GROUP`` they touch.

    Everything curation computes stays within a group: a statistic's key, its conflicts, the shares
    of one breakdown (one key but the platform) and each fact's own flags. So the database can
    re-curate only the groups a run touched, and a full build can go a slice of groups at a time.
    """

    def published(f: Mapping[str, Any]) -> date | None:
        d = docs.get(f["document"])
        return d.published if d is not None else None

    def order(f: Mapping[str, Any]) -> tuple[Any, ...]:
        # the most precise statement first: exact before bounded, narrow before wide, both values before one
        return (f["qualifier"] != "exact", *_width(f), published(f) or date.max, f["document"], f["char_start"], f["fact_id"])

    by_key: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        by_key.setdefault(tuple(r[k] for k in KEY), []).append(r)
    out = _Part()
    statistic_of: dict[str, str] = {}
    for key in sorted(by_key, key=repr):
        clusters = [c.members for c in _clusters(sorted(by_key[key], key=order))]
        ids = []
        for cluster in clusters:
            rep = cluster[0]
            sid = statistic_id(key, rep["count"], rep["share"])
            ids.append(sid)
            for f in cluster:
                statistic_of[f["fact_id"]] = sid
            out.statistics.append(_statistic(sid, key, cluster, published))
            out.citations += [_citation(sid, f, docs.get(f["document"])) for f in cluster]
        out.conflicts += _conflicts(key, clusters, ids)

    in_conflict = {c["statistic_id"] for c in out.conflicts}
    out.flags = _consistency_flags(rows, statistic_of, docs)
    flags_of: dict[str, list[str]] = {}
    for flag in out.flags:
        for sid in flag.statistic_ids:
            flags_of.setdefault(sid, []).append(f"{flag.check}: {flag.message}")  # the check's name first
    for s in out.statistics:
        s["conflict"] = s["statistic_id"] in in_conflict
        s["flags"] = "; ".join(dict.fromkeys(flags_of.get(s["statistic_id"], []))) or None
    conflict_facts = {c["fact_id"]: c for c in out.conflicts}
    flags_by_fact: dict[str, list[str]] = {}
    for flag in out.flags:
        for fid in flag.fact_ids:
            flags_by_fact.setdefault(fid, []).append(flag.message)
    stats_by_id = {s["statistic_id"]: s for s in out.statistics}
    out.review = _review(rows, docs, statistic_of, stats_by_id, conflict_facts, flags_by_fact)
    return out


class _Cluster:
    """Facts that pairwise agree. A fact joins when it agrees with every member, tested against a summary
    of the members rather than member by member (which made a key stated by n documents cost n^2): a
    value overlaps every member's interval exactly when it starts before the lowest of their ends and
    ends after the highest of their starts; and it shares a kind of value with every member unless
    some member has only the kind it lacks."""

    def __init__(self) -> None:
        self.members: list[dict[str, Any]] = []
        self.meet: dict[str, tuple[float, float]] = {}  # kind -> intersection of the members' intervals
        self.only: Counter[str] = Counter()  # members with only a count, only a share, or neither

    def admits(self, f: Mapping[str, Any], spans: Mapping[str, tuple[float, float]]) -> bool:
        if not spans or self.only["neither"]:
            return False  # agree() is None, not True, for a fact without a value: it joins nothing
        if "count" not in spans and self.only["count"]:
            return False
        if "share" not in spans and self.only["share"]:
            return False
        return all(kind not in self.meet or _overlap(span, self.meet[kind]) for kind, span in spans.items())

    def add(self, f: dict[str, Any], spans: Mapping[str, tuple[float, float]]) -> None:
        self.members.append(f)
        self.only[next(iter(spans)) if len(spans) == 1 else "both" if spans else "neither"] += 1
        for kind, (lo, hi) in spans.items():
            if kind in self.meet:
                m = self.meet[kind]
                lo, hi = max(lo, m[0]), min(hi, m[1])
            self.meet[kind] = (lo, hi)


def _clusters(ordered: Iterable[dict[str, Any]]) -> list[_Cluster]:
    """Each fact, most precise first, into the first cluster whose every member it agrees with."""
    clusters: list[_Cluster] = []
    for f in ordered:
        spans = {k: interval(f[k], f["qualifier"], k) for k in ("count", "share") if f.get(k) is not None}
        for cluster in clusters:
            if cluster.admits(f, spans):
                break
        else:
            cluster = _Cluster()
            clusters.append(cluster)
        cluster.add(f, spans)
    return clusters


def _most_common(values: Iterable[Any]) -> Any:
    counted = Counter(v for v in values if v is not None)
    return min(counted, key=lambda v: (-counted[v], str(v))) if counted else None


def _statistic(sid: str, key: tuple[Any, ...], cluster: list[dict[str, Any]], published: Any) -> dict[str, Any]:
    rep = cluster[0]
    dates = [p for p in (published(f) for f in cluster) if p is not None]
    periods = [(f["period_start"], f["period_end"]) for f in cluster if f["period_start"] or f["period_end"]]
    period = (rep["period_start"], rep["period_end"]) if (rep["period_start"] or rep["period_end"]) else _most_common(periods)
    notes = [f["correction"] for f in cluster if f.get("correction")]
    return {
        "statistic_id": sid, **dict(zip(KEY, key, strict=True)),
        "period_start": period[0] if period else None, "period_end": period[1] if period else None,
        "count": rep["count"], "share": rep["share"], "qualifier": rep["qualifier"],
        "base": rep["base"] if rep["base"] is not None else _most_common(f["base"] for f in cluster),
        "n_citations": len(cluster), "n_documents": len({f["document"] for f in cluster}),
        "first_published": min(dates) if dates else None,
        "corrected": any(f.get("corrected") for f in cluster), "correction": "; ".join(dict.fromkeys(notes)) or None,
        "primary_fact_id": rep["fact_id"], "quote": rep["quote"],
    }


def _citation(sid: str, f: Mapping[str, Any], doc: Any) -> dict[str, Any]:
    return {
        "statistic_id": sid, "fact_id": f["fact_id"], "document": f["document"],
        "sha256": doc.sha256 if doc is not None else "", "quote": f["quote"], "char_start": f["char_start"],
        "char_end": f["char_end"], "count": f["count"], "share": f["share"], "qualifier": f["qualifier"],
        "base": f["base"], "title": getattr(doc, "title", None), "outlet": getattr(doc, "outlet", None),
        "url": getattr(doc, "url", None), "published": getattr(doc, "published", None),
        "corrected": bool(f.get("corrected")),
    }


def _conflicts(key: tuple[Any, ...], clusters: list[list[dict[str, Any]]], ids: list[str]) -> list[dict[str, Any]]:
    """Facts of the clusters of one key that disagree with another cluster stated by another document.

    Two values of one key within a single document are a breakdown the attributes failed to tell
    apart, not two sources disagreeing; they go to the review queue through their other reasons.
    """
    involved: set[int] = set()
    for i, a in enumerate(clusters):
        for j in range(i + 1, len(clusters)):
            b = clusters[j]
            docs = {f["document"] for f in a} | {f["document"] for f in b}
            if len(docs) > 1 and agree(a[0], b[0]) is False:
                involved |= {i, j}
    if not involved:
        return []
    cid = _hash("conflict", *key)
    out = []
    for i in sorted(involved):
        for f in clusters[i]:
            out.append({
                "conflict_id": cid, "statistic_id": ids[i], "fact_id": f["fact_id"], "document": f["document"],
                **{k: f[k] for k in KEY}, "count": f["count"], "share": f["share"], "qualifier": f["qualifier"],
                "quote": f["quote"], "n_values": len(involved),
            })
    return out


def _consistency_flags(rows: list[dict[str, Any]], statistic_of: Mapping[str, str], docs: Mapping[str, Any]) -> list[Flag]:
    flags: list[Flag] = []
    # Shares of one breakdown: one document, one key but the platform, single named platforms.
    breakdowns: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for r in rows:
        if r["share"] is not None and r["platform"] not in TOTALS and "+" not in r["platform"]:
            k = (r["document"], r["source"], r["year"], r["region"], r["offence"], r["measure"], r["base"])
            breakdowns.setdefault(k, []).append(r)
    for k, group in sorted(breakdowns.items(), key=lambda kv: repr(kv[0])):
        lower = sum(interval(r["share"], r["qualifier"], "share")[0] for r in group) / 100
        if len({r["platform"] for r in group}) > 1 and lower > 1.0 + 1e-9:
            ids = [r["fact_id"] for r in group]
            flags.append(Flag(
                "shares_sum", sorted({statistic_of[i] for i in ids}), ids,
                f"shares of one breakdown in {k[0]} sum to {sum(r['share'] for r in group):.3f} "
                f"({', '.join(r['platform'] for r in group)}): past 1 unless a case can have several platforms",
            ))
    for r in rows:
        if r["count"] is not None and r["base"] and r["share"] is not None:
            ratio = r["count"] / r["base"]
            lo, hi = interval(r["share"], "exact", "share")
            if not lo - 1e-9 <= ratio * 100 <= hi + 1e-9:
                flags.append(Flag(
                    "count_base_share", [statistic_of[r["fact_id"]]], [r["fact_id"]],
                    f"{r['count']} of {r['base']} is {ratio:.1%}, not the stated {r['share']:.1%}",
                ))
        doc = docs.get(r["document"])
        stated = getattr(doc, "published", None)
        if stated is not None and r["year"] is not None and r["year"] > stated.year:
            flags.append(Flag(
                "year_after_document", [statistic_of[r["fact_id"]]], [r["fact_id"]],
                f"year {r['year']} is after the document's date {stated.isoformat()} ({r['document']})",
            ))
    return flags


# ------------------------------------------------------------------ review queue

WEIGHTS = {"conflict": 3.0, "flag": 2.0, "weak_attribute": 1.0, "missing_attribute": 0.5, "unconfirmed": 0.5}


def _review(
    rows: list[dict[str, Any]],
    docs: Mapping[str, Any],
    statistic_of: Mapping[str, str],
    stats: Mapping[str, Mapping[str, Any]],
    conflicts: Mapping[str, Mapping[str, Any]],
    flags: Mapping[str, list[str]],
) -> list[dict[str, Any]]:
    queue = []
    for r in rows:
        if r.get("corrected"):
            continue  # a human has looked at it
        reasons: list[str] = []
        score = 0.0
        first_field, first_value, action = None, None, "set"
        if r["fact_id"] in conflicts:
            c = conflicts[r["fact_id"]]
            reasons.append(f"conflict: {c['n_values']} values for one key")
            score += WEIGHTS["conflict"]
            action = "reject"
        for message in flags.get(r["fact_id"], []):
            reasons.append(message)
            score += WEIGHTS["flag"]
            if "year" in message:
                first_field, first_value = "year", r["year"]
        confidence = r["confidence"] if r["confidence"] is not None else 0.0
        score += 2 * (1 - confidence)
        if confidence < LOW_CONFIDENCE:
            reasons.append(f"low confidence ({confidence:.2f})")
        for attr in ATTRIBUTES:
            origin = r.get(f"{attr}_from")  # gen14's provenance columns, where present
            if origin in WEAK_PROVENANCE and r[attr] is not None:
                reasons.append(
                    f"{attr} from the document-wide default" if origin == "document"
                    else f"{attr} from the published date" if origin == "published"
                    else f"{attr} not stated beside the figure"  # "none": no mention of it where the figure is
                )
                score += WEIGHTS["weak_attribute"]
                first_field = first_field or attr
                first_value = first_value if first_field != attr else r[attr]
            elif r[attr] is None and attr != "platform":
                reasons.append(f"no {attr}")
                score += WEIGHTS["missing_attribute"]
                if first_field is None:
                    first_field, first_value = attr, None
        stat = stats.get(statistic_of.get(r["fact_id"], ""))
        if stat is not None and stat["n_documents"] == 1:
            reasons.append("no other document states it")
            score += WEIGHTS["unconfirmed"]
        if not reasons:
            continue
        doc = docs.get(r["document"])
        sha = doc.sha256 if doc is not None else ""
        why = "; ".join(reasons)
        if action == "reject":
            line = correction_line(sha, r["quote"], "reject", reason=f"review: {why}")
        else:
            field_name = first_field or "region"
            value = first_value if first_field else r[field_name]
            line = correction_line(sha, r["quote"], "set", field_name, "" if value is None else str(value), f"review: {why}")
        queue.append({
            "fact_id": r["fact_id"], "statistic_id": statistic_of.get(r["fact_id"]), "document": r["document"],
            "sha256": sha, "score": round(score, 4), "reasons": why, "quote": r["quote"],
            **{k: r[k] for k in ("source", "year", "region", "platform", "offence", "measure", "count", "share", "qualifier")},
            "confidence": r["confidence"], "correction_line": line,
        })
    return queue


# ------------------------------------------------------------------ in the database


class CorrectionsError(ValueError):
    """A correction does not apply to the facts loaded: the database is left as it was."""


ORIGINALS = "pipeline_state.fact_originals"  # the extractor's rows of the documents a correction names


SLICE_FACTS = 20_000  # facts curated at a time (whole groups): bounds the Python rows held at once


def refresh_database(
    con: Any, changed: Sequence[str], corrections: Sequence[Any], taxonomy: Any = None, fingerprint: str | None = None,
    *, commit_slices: bool = False,
) -> Any:
    """Inside the loading transaction (``database.update_database``'s ``after_load``): apply the corrections
    to ``facts`` and bring statistics, citations, conflicts, review and corrections up to date. Idempotent:
    the extractor's rows of every document a correction named are kept in ``pipeline_state.fact_originals``
    and put back first, so each run corrects the extractor's rows, never its own output.

    Only the ``GROUP``s of facts the run touched (documents added, changed or removed, and those a
    correction names or named) are curated again; everything, when ``fingerprint`` (the corrections
    file's and curation code's, ``update_database``'s ``fingerprint_extra``) differs from the one the
    database was last curated with, or is None. The review queue is ranked again as a whole.
    ``commit_slices``: commit after each slice of groups (``database.commit_point``), for a connection on
    ``update_database``'s private copy, so what DuckDB holds for an open transaction does not pile up.
    Returns a ``Refreshed``; raises ``CorrectionsError`` naming the lines that do not apply.
    """
    from pipeline.corrections import apply_corrections
    from pipeline.database import extra_of

    full = fingerprint is None or extra_of(con) != fingerprint
    con.execute(f"CREATE TABLE IF NOT EXISTS {ORIGINALS} AS SELECT * FROM facts WHERE false")
    if changed:  # their rows were just reloaded from the extraction: the stored originals are stale
        con.execute(f"DELETE FROM {ORIGINALS} WHERE document IN (SELECT unnest(?))", [list(changed)])
    touched = set(changed) | {d for (d,) in con.execute(f"SELECT DISTINCT document FROM {ORIGINALS}").fetchall()}
    touched |= {d for (d,) in con.execute("SELECT DISTINCT document FROM facts WHERE extractor_version = ?", [ADDED_VERSION]).fetchall()}
    con.execute("DELETE FROM facts WHERE extractor_version = ?", [ADDED_VERSION])
    con.execute(f"DELETE FROM facts WHERE fact_id IN (SELECT fact_id FROM {ORIGINALS})")
    con.execute(f"INSERT INTO facts SELECT * FROM {ORIGINALS}")
    con.execute(f"DELETE FROM {ORIGINALS}")

    prefixes = {c.sha256 for c in corrections}
    docs = con.execute("SELECT document, sha256 FROM documents").fetchall()
    named = sorted({d for d, sha in docs if any(sha.startswith(p) for p in prefixes)})
    touched |= set(named)
    texts = [
        SimpleNamespace(document=d, sha256=sha, text=text, pages=pages)
        for d, sha, text, pages in con.execute(
            "SELECT document, sha256, text, pages FROM documents WHERE document IN (SELECT unnest(?))", [named]
        ).fetchall()
    ]
    subset = con.execute("SELECT * FROM facts WHERE document IN (SELECT unnest(?))", [named]).to_arrow_table()
    result = apply_corrections(subset, texts, corrections, taxonomy=taxonomy)
    if result.errors:
        raise CorrectionsError("; ".join(result.errors))
    con.execute(f"INSERT INTO {ORIGINALS} SELECT * FROM facts WHERE document IN (SELECT unnest(?))", [named])
    con.execute("DELETE FROM facts WHERE document IN (SELECT unnest(?))", [named])
    _insert(con, "facts", result.facts)
    con.execute("UPDATE facts SET corrected = false WHERE corrected IS NULL")

    groups, n_facts = _recurate(con, None if full else sorted(touched), commit_slices)
    con.execute('DELETE FROM "corrections"')
    _insert(con, "corrections", result.applied)
    return Refreshed(result, full, groups, n_facts)


@dataclass(frozen=True)
class Refreshed:
    """What ``refresh_database`` did: the corrections applied, and how much it curated again."""

    corrections: Any  # the CorrectionResult
    full: bool  # every group (no curation fingerprint yet, or another one)
    groups: int  # groups (a key but its platform) curated again
    facts: int  # their facts


_CURATED = ("statistics", "citations", "conflicts", "review")
_GROUP_COLUMNS = ", ".join(f'"{c}"' for c in GROUP)
_SAME_GROUP = " AND ".join(f't."{c}" IS NOT DISTINCT FROM g."{c}"' for c in GROUP)


def _recurate(con: Any, touched: Sequence[str] | None, commit_slices: bool = False) -> tuple[int, int]:
    """Curate again the groups of the ``touched`` documents' facts, old and new (all groups when None);
    return how many groups and facts that was."""
    if touched is None:
        for name in _CURATED:
            con.execute(f'DELETE FROM "{name}"')
        con.execute(f"CREATE OR REPLACE TEMP TABLE curate_groups AS SELECT DISTINCT {_GROUP_COLUMNS} FROM facts")
    else:
        # a group the touched documents' facts are in now, or their citations were in before
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE curate_groups AS "
            f"SELECT DISTINCT {_GROUP_COLUMNS} FROM facts WHERE document IN (SELECT unnest($1)) "
            f"UNION SELECT DISTINCT {', '.join(f's.{c}' for c in _GROUP_COLUMNS.split(', '))} FROM statistics s "
            f"WHERE s.statistic_id IN (SELECT statistic_id FROM citations WHERE document IN (SELECT unnest($1)))",
            [list(touched)],
        )
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE stale_statistics AS SELECT t.statistic_id FROM statistics t "
            f"SEMI JOIN curate_groups g ON {_SAME_GROUP}"
        )
        for name in _CURATED:
            con.execute(f'DELETE FROM "{name}" WHERE statistic_id IN (SELECT statistic_id FROM stale_statistics)')
    sizes = con.execute(
        f"SELECT g.*, count(*) AS n FROM facts t JOIN curate_groups g ON {_SAME_GROUP} GROUP BY ALL ORDER BY ALL"
    ).to_arrow_table()
    # slices of whole groups, about SLICE_FACTS facts each
    n = sizes.column("n").to_pylist()
    bounds, total = [0], 0
    for i, size in enumerate(n):
        total += size
        if total >= SLICE_FACTS:
            bounds.append(i + 1)
            total = 0
    if bounds[-1] != len(n):
        bounds.append(len(n))
    groups = sizes.drop_columns(["n"])
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        con.register("curate_slice", groups.slice(lo, hi - lo))
        try:
            rows = con.execute(f"SELECT t.* FROM facts t SEMI JOIN curate_slice g ON {_SAME_GROUP}").to_arrow_table().to_pylist()
        finally:
            con.unregister("curate_slice")
        names = sorted({r["document"] for r in rows})
        docs = {
            d: SimpleNamespace(document=d, sha256=sha, published=pub, title=title, outlet=outlet, url=url)
            for d, sha, pub, title, outlet, url in con.execute(
                "SELECT document, sha256, published, title, outlet, url FROM documents WHERE document IN (SELECT unnest(?))",
                [names],
            ).fetchall()
        }
        part = curate_groups(rows, docs)
        for q in part.review:
            q["rank"] = 0  # ranked below, with the rest of the queue
        for name in _CURATED:
            _insert(con, name, rows_to_arrow(name, getattr(part, name)))
        if commit_slices:
            commit_point(con)
    con.execute(
        f"UPDATE review SET rank = r.n FROM (SELECT fact_id, row_number() OVER (ORDER BY {REVIEW_ORDER_SQL}) AS n FROM review) r "
        "WHERE review.fact_id = r.fact_id AND review.rank IS DISTINCT FROM r.n"
    )
    return len(n), sum(n)


def _insert(con: Any, name: str, table: pa.Table) -> None:
    from pipeline.metadata.tables import TABLES

    columns = ", ".join(f'"{c}"' for c in TABLES[name].columns)
    con.register("curated_rows", table)
    try:
        con.execute(f'INSERT INTO "{name}" ({columns}) SELECT {columns} FROM curated_rows')
    finally:
        con.unregister("curated_rows")


def curation_fingerprint(corrections_file: Any) -> str:
    """Changes with the corrections file and the code of the curated layer: a change re-runs the refresh."""
    from pathlib import Path

    h = hashlib.sha256()
    for module in ("curate.py", "corrections.py"):
        h.update((Path(__file__).parent / module).read_bytes())
    path = Path(corrections_file)
    h.update(path.read_bytes() if path.is_file() else b"<none>")
    return h.hexdigest()[:16]
