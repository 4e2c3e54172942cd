"""Stage 3b, corrections: human fixes from a version-controlled CSV applied to the extracted facts.

``data/corrections.csv`` (or the file ``PIPELINE_CORRECTIONS`` names) has one change a row::

    sha256,quote,action,field,value,reason,reviewer

A row is keyed by content, never by path or fact_id: the document's sha256 (or a unique prefix
of at least 12 hex digits) and the fact's quote. So a correction survives re-extraction, a new
extractor version whose spans shift a little, and a renamed file. ``reject`` drops the fact,
``set`` changes one field, ``add`` adds a fact the extractor missed (one row per field, all with
the same sha256 and quote; the quote must occur once in the document).

A row that matches no fact, or more than one, is an error naming its line: a stale fix must fail
the run loudly rather than vanish. So is an ``add`` whose fact the extractor now finds itself.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.database import rows_to_arrow
from pipeline.extractor.records import make_fact_id
from pipeline.metadata.taxonomy import Taxonomy, load_taxonomy
from pipeline.validate import field_errors, reference_errors

COLUMNS = ("sha256", "quote", "action", "field", "value", "reason", "reviewer")
ACTIONS = ("reject", "set", "add")
MIN_PREFIX = 12
# The facts columns a correction may give; the rest (ids, spans, quote, confidence) follow from these.
EDITABLE = {
    "source": str, "year": int, "region": str, "platform": str, "offence": str, "count": int, "share": float,
    "qualifier": str, "measure": str, "base": int, "period_start": date, "period_end": date,
}
ADDED_VERSION = "correction"  # extractor_version of a fact a correction added
_HEX = re.compile(r"[0-9a-f]+")


class CorrectionsFileError(ValueError):
    """The corrections file cannot be read as a table of corrections (wrong header, bad CSV)."""


@dataclass(frozen=True)
class Correction:
    line: int
    sha256: str
    quote: str
    action: str
    field: str
    value: str
    reason: str
    reviewer: str

    def where(self) -> str:
        return f"line {self.line} ({self.action} {self.field or ''} {self.quote[:40]!r})".replace("  ", " ")


@dataclass
class CorrectionResult:
    """The corrected facts, the corrections applied (rows of the ``corrections`` table) and the errors."""

    facts: pa.Table
    applied: pa.Table
    errors: list[str] = field(default_factory=list)
    path: str | None = None
    counts: dict[str, int] = field(default_factory=dict)  # applied rows per action


def read_corrections(path: Path) -> list[Correction]:
    """The rows of the corrections file; a missing file is no corrections."""
    path = Path(path)
    if not path.exists():
        return []
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorrectionsFileError(f"{path}: cannot be read as UTF-8 text: {exc}") from exc
    return parse_corrections(text, str(path))


def parse_corrections(text: str, name: str = "corrections.csv") -> list[Correction]:
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise CorrectionsFileError(f"{name}: line 1: {exc}") from exc
    if header is None:
        return []
    header = [h.strip() for h in header]
    if sorted(header) != sorted(COLUMNS):
        raise CorrectionsFileError(f"{name}: line 1: the header must name the columns {','.join(COLUMNS)}; it has {','.join(header)}")
    out = []
    line = 2
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise CorrectionsFileError(f"{name}: line {line}: {exc}") from exc
        if any(cell.strip() for cell in record):
            if len(record) != len(header):
                raise CorrectionsFileError(f"{name}: line {line}: {len(record)} cells, the header has {len(header)}")
            row = dict(zip(header, record, strict=True))
            out.append(
                Correction(
                    line=line, sha256=row["sha256"].strip().lower(), quote=row["quote"], action=row["action"].strip().lower(),
                    field=row["field"].strip(), value=row["value"].strip(), reason=row["reason"].strip(),
                    reviewer=row["reviewer"].strip(),
                )
            )
        line = reader.line_num + 1  # a quoted cell may span several lines
    return out


def correction_line(sha256: str, quote: str, action: str, field_name: str = "", value: str = "", reason: str = "", reviewer: str = "") -> str:
    """One line of corrections.csv, quoted as csv writes it (for the review queue's ready-to-paste lines)."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="").writerow([sha256, quote, action, field_name, value, reason, reviewer])
    return buf.getvalue()


def parse_value(name: str, raw: str) -> Any:
    """A correction's value as the type of the facts column; '' is null. '40%' is a share of 0.4."""
    if raw == "":
        return None
    kind = EDITABLE[name]
    if kind is int:
        return int(raw.replace(",", ""))
    if kind is float:
        return round(float(raw[:-1]) / 100, 6) if raw.endswith("%") else float(raw)
    if kind is date:
        return date.fromisoformat(raw)
    return raw


def _note(c: Correction, old: Any = None) -> str:
    who = f"; {c.reviewer}" if c.reviewer else ""
    if c.action == "set":
        return f"line {c.line}: set {c.field} {_show(old)} -> {c.value or 'null'} ({c.reason}{who})"
    if c.action == "add":
        return f"line {c.line}: added by a correction ({c.reason}{who})"
    return f"line {c.line}: rejected ({c.reason}{who})"


def _show(value: Any) -> str:
    return "null" if value is None else str(value)


def _occurrences(text: str, quote: str) -> list[int]:
    out, start = [], text.find(quote)
    while start != -1 and quote:
        out.append(start)
        start = text.find(quote, start + 1)
    return out


def apply_corrections(
    facts: pa.Table,
    documents: Sequence[Any],
    corrections: Sequence[Correction],
    *,
    taxonomy: Taxonomy | None = None,
    path: str | None = None,
) -> CorrectionResult:
    """The facts with the corrections applied, and one error per correction that does not apply.

    ``documents`` are objects with ``document``, ``sha256``, ``text`` and ``pages`` (``documents.Document``).
    Only the facts of documents a correction names become Python rows; the others stay Arrow.
    """
    taxonomy = taxonomy or load_taxonomy()
    errors: list[str] = []
    by_sha = {d.sha256: d for d in documents}
    resolved: list[tuple[Correction, Any]] = []
    for c in corrections:
        problem = _row_problem(c)
        if problem:
            errors.append(f"line {c.line}: {problem}")
            continue
        matches = [d for sha, d in by_sha.items() if sha.startswith(c.sha256)]
        if not matches:
            errors.append(f"line {c.line}: no document has a sha256 starting {c.sha256} (stale correction: remove or update it)")
        elif len(matches) > 1:
            errors.append(f"line {c.line}: {len(matches)} documents have a sha256 starting {c.sha256}; give more digits")
        else:
            resolved.append((c, matches[0]))

    touched = sorted({d.document for _, d in resolved})
    is_touched = pc.is_in(facts["document"], value_set=pa.array(touched, pa.string()))
    kept_arrow = facts.filter(pc.invert(pc.fill_null(is_touched, False)))
    rows = facts.filter(is_touched).to_pylist()
    by_doc: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_doc.setdefault(r["document"], []).append(r)

    applied: list[dict[str, Any]] = []
    rejected: set[str] = set()
    set_fields: dict[tuple[str, str], int] = {}  # (fact_id, field) -> line that set it
    adds: dict[tuple[str, str], list[Correction]] = {}
    add_docs: dict[tuple[str, str], Any] = {}
    for c, doc in resolved:
        if c.action == "add":
            adds.setdefault((doc.sha256, c.quote), []).append(c)
            add_docs[(doc.sha256, c.quote)] = doc
            continue
        found, why = _match(c, doc, by_doc.get(doc.document, []))
        if why or found is None:
            errors.append(f"line {c.line}: {why}")
            continue
        fact = found
        if c.action == "reject":
            rejected.add(fact["fact_id"])
        else:
            earlier = set_fields.get((fact["fact_id"], c.field))
            if earlier is not None:
                errors.append(f"line {c.line}: sets {c.field} of fact {fact['fact_id']} again (line {earlier} sets it too)")
                continue
            value = parse_value(c.field, c.value)
            problem = _value_problem(fact, c.field, value, taxonomy)
            if problem:
                errors.append(f"line {c.line}: {problem}")
                continue
            set_fields[(fact["fact_id"], c.field)] = c.line
            old = fact.get(c.field)
            fact[c.field] = value
            fact["corrected"] = True
            fact["correction"] = "; ".join(filter(None, [fact.get("correction"), _note(c, old)]))
        applied.append(_applied(c, fact))

    added: list[dict[str, Any]] = []
    for key, group in adds.items():
        new_fact, why = _added_fact(group, add_docs[key], by_doc.get(add_docs[key].document, []), taxonomy)
        if why or new_fact is None:
            errors.append(f"line {group[0].line}: {why}")
            continue
        added.append(new_fact)
        applied += [_applied(c, new_fact) for c in group]

    survivors = [r for r in rows if r["fact_id"] not in rejected] + added
    for r in survivors:
        if r.get("corrected") is None:
            r["corrected"] = False
    corrected = rows_to_arrow("facts", survivors)
    kept_arrow = kept_arrow.set_column(
        kept_arrow.schema.get_field_index("corrected"), "corrected",
        pc.fill_null(kept_arrow["corrected"], False),
    )
    out = pa.concat_tables([kept_arrow, corrected.cast(kept_arrow.schema)])
    order = pc.sort_indices(out, sort_keys=[("document", "ascending"), ("char_start", "ascending"), ("char_end", "ascending"), ("fact_id", "ascending")])
    counts = {a: sum(1 for r in applied if r["action"] == a) for a in ACTIONS}
    applied.sort(key=lambda r: r["line"])
    return CorrectionResult(
        facts=out.take(order), applied=rows_to_arrow("corrections", applied), errors=errors, path=path, counts=counts
    )


def _row_problem(c: Correction) -> str | None:
    if c.action not in ACTIONS:
        return f"action {c.action!r} is not one of {', '.join(ACTIONS)}"
    if len(c.sha256) < MIN_PREFIX or not _HEX.fullmatch(c.sha256):
        return f"sha256 {c.sha256!r} is not the document's sha256 or a prefix of at least {MIN_PREFIX} hex digits"
    if not c.quote:
        return "quote is empty"
    if not c.reason:
        return "reason is empty: say why"
    if c.action in ("set", "add"):
        if c.field not in EDITABLE:
            return f"field {c.field!r} is not one a correction can give: {', '.join(sorted(EDITABLE))}"
        try:
            parse_value(c.field, c.value)
        except ValueError as exc:
            return f"value {c.value!r} of {c.field} cannot be read: {exc}"
    elif c.field or c.value:
        return "a reject names no field or value"
    return None


def _match(c: Correction, doc: Any, facts: list[dict[str, Any]]) -> tuple[dict[str, Any] | None, str | None]:
    """The one fact of the document the correction names: the same quote, else the fact whose span
    overlaps the quote's one occurrence in the text (spans shift a little between extractor versions)."""
    same = [f for f in facts if f["quote"] == c.quote]
    if not same:
        starts = _occurrences(doc.text, c.quote)
        if len(starts) == 1:
            s, e = starts[0], starts[0] + len(c.quote)
            # the fact whose span holds the text, else the facts it overlaps (neighbouring quotes may overlap)
            same = [f for f in facts if f["char_start"] <= s and e <= f["char_end"]]
            same = same or [f for f in facts if f["char_start"] < e and s < f["char_end"]]
        elif len(starts) > 1:
            return None, f"the quote occurs {len(starts)} times in {doc.document} and is no fact's quote; quote the whole fact"
    if not same:
        return None, f"matches no fact of {doc.document} (stale correction: the extractor no longer finds it; remove or update the row)"
    if len(same) > 1:
        ids = ", ".join(f["fact_id"] for f in same)
        return None, f"matches {len(same)} facts of {doc.document} ({ids}); quote one fact's text exactly"
    return same[0], None


def _value_problem(fact: Mapping[str, Any], name: str, value: Any, taxonomy: Taxonomy) -> str | None:
    row = {**fact, name: value}
    problems = field_errors("facts", [row], [name]) + reference_errors([{"fact_id": fact.get("fact_id"), name: value}], taxonomy)
    if name in ("count", "share") and row.get("count") is None and row.get("share") is None:
        problems.append("a fact needs a count or a share")
    return "; ".join(p.split(": ", 1)[-1] for p in problems) or None


def _added_fact(group: list[Correction], doc: Any, facts: list[dict[str, Any]], taxonomy: Taxonomy) -> tuple[dict[str, Any] | None, str | None]:
    quote = group[0].quote
    lines = ", ".join(str(c.line) for c in group)
    starts = _occurrences(doc.text, quote)
    if len(starts) != 1:
        where = "does not occur" if not starts else f"occurs {len(starts)} times"
        return None, f"add (lines {lines}): the quote {where} in {doc.document}; quote text that occurs once"
    s, e = starts[0], starts[0] + len(quote)
    existing = [f for f in facts if f["char_start"] == s and f["char_end"] == e]
    if existing:
        return None, (
            f"add (lines {lines}): the extractor now finds this fact itself ({existing[0]['fact_id']}); "
            "remove the add rows, or turn them into set rows"
        )
    values: dict[str, Any] = {}
    for c in group:
        if c.field in values:
            return None, f"add (lines {lines}): {c.field} is given twice"
        values[c.field] = parse_value(c.field, c.value)
    values.setdefault("qualifier", "exact")
    if values.get("platform") is None:
        return None, f"add (lines {lines}): give the platform (a row with field platform)"
    if values.get("count") is None and values.get("share") is None:
        return None, f"add (lines {lines}): give a count or a share"
    fact_id = make_fact_id(doc.sha256, s, e)
    fact = {
        "fact_id": fact_id, "document": doc.document, "quote": quote, "char_start": s, "char_end": e,
        "page": doc.text.count("\f", 0, s) + 1 if getattr(doc, "pages", None) else None,
        "confidence": 1.0, "extractor_version": ADDED_VERSION, "corrected": True,
        "correction": _note(group[0]), **values,
    }
    problems = field_errors("facts", [fact]) + reference_errors([fact], taxonomy)
    if problems:
        return None, f"add (lines {lines}): " + "; ".join(p.split(": ", 1)[-1] for p in problems)
    return fact, None


def _applied(c: Correction, fact: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "line": c.line, "sha256": c.sha256, "quote": c.quote, "action": c.action, "field": c.field or None,
        "value": c.value or None, "reason": c.reason, "reviewer": c.reviewer or None,
        "fact_id": fact["fact_id"], "document": fact["document"],
    }


def changes_section(applied: Iterable[Mapping[str, Any]]) -> str:
    """The "Corrections applied" section of a release's CHANGES.md."""
    rows = list(applied)
    lines = [f"## Corrections applied ({len(rows)})", ""]
    for r in rows:
        what = r["action"] if r["action"] == "reject" else f"{r['action']} {r['field']} = {r['value'] or 'null'}"
        who = f"; {r['reviewer']}" if r.get("reviewer") else ""
        lines.append(f"- line {r['line']}: {what} on `{r['fact_id']}` ({r['document']}): {r['reason']}{who}")
    if not rows:
        lines.append("none")
    return "\n".join(lines) + "\n"


def check_before_load(corrections: Sequence[Correction], manifest_folder: str | Path, fact_files: Sequence[str]) -> CorrectionResult:
    """``apply_corrections`` on the facts the database is about to hold, read from the ingest manifest and
    the extraction cache (``Extractions.files("facts")``), for the documents the corrections name only.
    The corrections asset runs it so that a stale correction fails a check before anything is loaded."""
    import pyarrow.parquet as pq

    from pipeline.documents import Document
    from pipeline.manifest import DOCUMENT_COLUMNS, DOCUMENTS_FILE
    from pipeline.metadata.tables import TABLES

    path = Path(manifest_folder) / DOCUMENTS_FILE
    prefixes = {c.sha256 for c in corrections}
    index = pq.read_table(path, columns=["document", "sha256", "key"]).to_pylist() if corrections else []
    named = [r for r in index if any(r["sha256"].startswith(p) for p in prefixes)]
    docs = []
    if named:
        table = pq.read_table(path, columns=DOCUMENT_COLUMNS, filters=[("document", "in", [r["document"] for r in named])])
        docs = [Document(**row) for row in table.to_pylist()]
    by_key: dict[str, list[str]] = {}
    for r in named:
        by_key.setdefault(r["key"], []).append(r["document"])
    columns = list(TABLES["facts"].columns)
    parts: list[pa.Table] = []
    seen: set[str] = set()
    for file in fact_files if by_key else []:
        table = pq.read_table(file, filters=[("key", "in", sorted(by_key))])
        for key in sorted(set(table["key"].to_pylist()) - seen):  # the first partition holding a key wins
            seen.add(key)
            rows = table.filter(pc.equal(table["key"], key))
            for document in by_key[key]:
                moved = rows.set_column(rows.schema.get_field_index("document"), "document", pa.array([document] * rows.num_rows, pa.string()))
                parts.append(moved.select(columns))
    facts = pa.concat_tables(parts, promote_options="permissive") if parts else rows_to_arrow("facts", [])
    return apply_corrections(facts.cast(rows_to_arrow("facts", []).schema), docs, corrections)
