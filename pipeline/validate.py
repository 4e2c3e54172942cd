"""One home for validation: the constraints of ``metadata/fields.py``, taxonomy slugs, primary keys,
the span invariant and the inputs accounted for.

The asset checks (``defs/checks.py``), the database load and ``pipeline verify`` all call these, so
each constraint is written once. A constraint is an Arrow test over a column (True where broken) with
the message it gives, so a large table is tested column-wise and only the rows that break one become
Python values.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc

from pipeline.metadata import schema
from pipeline.metadata.fields import Field
from pipeline.metadata.tables import TABLES

if TYPE_CHECKING:
    from pipeline.documents import IngestResult
    from pipeline.metadata.taxonomy import Taxonomy

Rows = Sequence[Mapping[str, Any]]


class DuplicateKeyError(ValueError):
    """Two rows of one table share a primary key; loading them would lose one silently."""


@dataclass(frozen=True)
class Constraint:
    """One rule of a column: where it is broken (an Arrow test), and what is said of a value that breaks it."""

    test: Callable[[pa.ChunkedArray], pa.ChunkedArray | None]  # None: the rule does not apply to this column's type
    message: Callable[[Any], str]


def constraints(table: str, f: Field) -> list[Constraint]:
    """The rules of a column, in the order they are reported: a value breaking several gets the first's message."""
    out = []
    if f.required or f.name in TABLES[table].primary_key:
        out.append(Constraint(pc.is_null, lambda v: f"{f.name} is missing"))
    out.append(Constraint(lambda c: pc.is_nan(c) if pa.types.is_floating(c.type) else None, lambda v: f"{f.name} is NaN"))
    if f.minimum is not None:
        minimum = f.minimum
        out.append(Constraint(lambda c: pc.less(c, minimum), lambda v: f"{f.name}={v!r} is below {minimum:g}"))
    if f.maximum is not None:
        maximum = f.maximum
        out.append(Constraint(lambda c: pc.greater(c, maximum), lambda v: f"{f.name}={v!r} is above {maximum:g}"))
    if f.enum is not None:
        enum = f.enum
        # a null is no enum error (a missing value is the required rule's)
        out.append(Constraint(
            lambda c: pc.and_(pc.is_valid(c), pc.invert(pc.is_in(c, value_set=pa.array(enum, c.type)))),
            lambda v: f"{f.name}={v!r} is not one of {', '.join(enum)}",
        ))
    return out


def constrained(table: str, f: Field) -> bool:
    """Whether a column has a rule beyond "not NaN"."""
    return f.required or f.name in TABLES[table].primary_key or f.minimum is not None or f.maximum is not None or f.enum is not None


def as_table(table: str, rows: pa.Table | Rows) -> pa.Table:
    """Rows (dicts; missing keys are nulls) as an Arrow table of the table's schema; a table as it is."""
    if isinstance(rows, pa.Table):
        return rows
    arrow_schema = schema.arrow_schema(table).with_metadata(None)
    return pa.Table.from_pydict({f.name: [row.get(f.name) for row in rows] for f in arrow_schema}, schema=arrow_schema)


def field_errors(table: str, rows: pa.Table | Rows, columns: Sequence[str] | None = None) -> list[str]:
    """Values breaking the constraints declared in ``metadata/fields.py`` (required, minimum, maximum, enum),
    one message per value, in row order; ``columns`` limits the columns tested."""
    data = as_table(table, rows)
    t = TABLES[table]
    tests: list[tuple[Field, Constraint, pa.ChunkedArray]] = []
    broken = None
    for f in t.fields:
        if (columns is not None and f.name not in columns) or f.name not in data.column_names:
            continue
        for c in constraints(table, f):
            mask = c.test(data[f.name])
            if mask is None:
                continue
            mask = pc.fill_null(mask, False)
            tests.append((f, c, mask))
            broken = mask if broken is None else pc.or_(broken, mask)
    if broken is None or not pc.any(broken).as_py():
        return []
    suspects = data.filter(broken).to_pylist()
    hits = [pc.filter(mask, broken).to_pylist() for _, _, mask in tests]
    key = [k for k in t.primary_key if k in data.column_names]
    errors = []
    for i, row in enumerate(suspects):
        where = "/".join(str(row.get(k)) for k in key)
        reported: set[str] = set()
        for (f, c, _), hit in zip(tests, hits, strict=True):
            if hit[i] and f.name not in reported:
                reported.add(f.name)
                errors.append(f"{where}: {c.message(row[f.name])}")
    return errors


# facts column -> taxonomy table its slugs come from
FACT_REFERENCES = {"source": "sources", "region": "regions", "offence": "offences", "platform": "platforms"}


def _unknown(value: str, column: str, slugs: set[str]) -> bool:
    parts = value.split("+") if column == "platform" else [value]
    return any(p not in slugs for p in parts)


def reference_errors(facts: pa.Table | Rows, taxonomy: Taxonomy) -> list[str]:
    """Slugs that are not in the taxonomy; each '+'-joined part of a platform must be one. Each distinct
    value is looked up once; the rows holding an unknown one are described."""
    data = as_table("facts", facts)
    broken = None
    unknown: dict[str, set[str]] = {}
    for column, table in FACT_REFERENCES.items():
        if column not in data.column_names:
            continue
        slugs = taxonomy.slugs(table)
        values = [v for v in pc.unique(data[column]).to_pylist() if v is not None]
        unknown[column] = {v for v in values if _unknown(v, column, slugs)}
        if unknown[column]:
            mask = pc.fill_null(pc.is_in(data[column], value_set=pa.array(sorted(unknown[column]), pa.string())), False)
            broken = mask if broken is None else pc.or_(broken, mask)
    if broken is None:
        return []
    errors = []
    for row in data.filter(broken).to_pylist():
        for column, table in FACT_REFERENCES.items():
            value = row.get(column)
            if value in unknown.get(column, ()):
                errors.append(f"{row.get('fact_id')}: {column} {value!r} is not in taxonomy/{table}.csv")
    return errors


def duplicate_keys(table: str, rows: pa.Table | Rows) -> list[tuple[Any, ...]]:
    """Values of the primary key that more than one row has."""
    key = TABLES[table].primary_key
    if isinstance(rows, pa.Table):
        counts = rows.group_by(list(key)).aggregate([([], "count_all")])
        repeated = counts.filter(pc.greater(counts["count_all"], 1)).select(list(key)).to_pylist()
        return sorted((tuple(r[k] for k in key) for r in repeated), key=repr)
    tally = Counter(tuple(row.get(k) for k in key) for row in rows)
    return sorted((k for k, n in tally.items() if n > 1), key=repr)


class Span(NamedTuple):
    """What ``span_errors`` reads of a fact."""

    fact_id: str
    document: str
    char_start: int
    char_end: int
    quote: str


def span_errors(facts: Iterable[Any], texts: Mapping[str, str]) -> list[str]:
    """Facts (or Spans) whose quote is not exactly their document's text at [char_start:char_end]."""
    errors = []
    for f in facts:
        text = texts.get(f.document)
        if text is None:
            errors.append(f"{f.fact_id}: document {f.document!r} not found")
        elif text[f.char_start : f.char_end] != f.quote:
            errors.append(f"{f.fact_id}: quote differs from {f.document}[{f.char_start}:{f.char_end}]")
    return errors


def span_differs_sql(fact: str = "f", document: str = "d") -> str:
    """The span invariant in SQL, for DuckDB: true where a fact's quote is not its document's text at its
    span (or the document is missing). Offsets count characters, as Python's do."""
    return (
        f"{document}.text IS NULL OR substr({document}.text, {fact}.char_start + 1, {fact}.char_end - {fact}.char_start) "
        f"IS DISTINCT FROM {fact}.quote"
    )


def input_errors(inputs: set[str], accounted: IngestResult | Iterable[str]) -> list[str]:
    """Inputs (``documents.input_paths``) that are in neither documents nor rejected, in both, or twice.

    ``accounted``: the paths of the documents and rejected rows, or an ``IngestResult``."""
    from pipeline.documents import IngestResult

    if isinstance(accounted, IngestResult):
        accounted = [d.document for d in accounted.documents] + [r.document for r in accounted.rejected]
    seen = Counter(accounted)
    errors = [f"{name}: neither ingested nor rejected" for name in sorted(inputs - seen.keys())]
    errors += [f"{name}: listed {n} times in documents and rejected" for name, n in sorted(seen.items()) if n > 1]
    errors += [f"{name}: not an input under the raw folder" for name in sorted(seen.keys() - inputs)]
    return errors
