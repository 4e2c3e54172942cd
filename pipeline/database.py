"""Stage 4, load: documents, mentions and facts -> the DuckDB database ``stats.duckdb``.

Every table is created from ``metadata/`` (so column types and comments match the
release), filled in bulk from Arrow tables, and the whole file is built beside the
target and moved over it in one ``os.replace``: a reader holding the old database
open read-only keeps its consistent copy, and nobody ever opens a half-written file.

The validators (``field_errors``, ``reference_errors``) check rows against the
same metadata and the vendored taxonomy; the Dagster asset checks call them.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.documents import Document, Rejected
from pipeline.metadata import schema
from pipeline.metadata.tables import TABLES, TAXONOMY_TABLES
from pipeline.metadata.taxonomy import Taxonomy, load_taxonomy_table

log = logging.getLogger(__name__)

# Joins the names of every slug in; a combined platform such as 'instagram+whatsapp'
# reads 'Instagram + WhatsApp' (an unknown part is shown as its slug).
FACTS_NAMED_VIEW = """
CREATE VIEW facts_named AS
SELECT
    f.*,
    s.name AS source_name,
    r.name AS region_name,
    (
        SELECT string_agg(coalesce(p.name, u.part), ' + ' ORDER BY u.pos)
        FROM unnest(string_split(f.platform, '+')) WITH ORDINALITY AS u(part, pos)
        LEFT JOIN platforms p ON p.slug = u.part
    ) AS platform_name,
    o.name AS offence_name,
    d.title AS document_title,
    d.url AS document_url,
    d.published AS document_published
FROM facts f
LEFT JOIN sources s ON s.slug = f.source
LEFT JOIN regions r ON r.slug = f.region
LEFT JOIN offences o ON o.slug = f.offence
LEFT JOIN documents d ON d.document = f.document
"""
FACTS_NAMED_COMMENT = (
    "facts with the names of their source, region, platform (a combined platform reads as its names "
    "joined with ' + ') and offence, and the title, url and publication date of their document."
)


class DuplicateKeyError(ValueError):
    """Two rows of one table share a primary key; loading them would lose one silently."""


def rows_to_arrow(table: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the table's metadata schema.

    A key that is not a column of the table is an error rather than dropped, so a
    field added to a record without a column in ``metadata/`` cannot vanish on the way.
    """
    columns = [f.name for f in TABLES[table].fields]
    known = set(columns)
    for row in rows:
        extra = row.keys() - known
        if extra:
            raise ValueError(f"{table}: row has fields that are not columns of the table: {sorted(extra)}")
    arrow_schema = schema.arrow_schema(table)
    data = {name: [row.get(name) for row in rows] for name in columns}
    return pa.Table.from_pydict(data, schema=arrow_schema.with_metadata(None))


def as_arrow(table: str, data: pa.Table | Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows, or an Arrow table with exactly the table's columns, as an Arrow table with its metadata schema."""
    if not isinstance(data, pa.Table):
        return rows_to_arrow(table, data)
    columns = [f.name for f in TABLES[table].fields]
    if data.column_names != columns:
        raise ValueError(f"{table}: columns {data.column_names} are not the table's {columns}")
    return data.cast(schema.arrow_schema(table).with_metadata(None))


def records_to_rows(records: Iterable[Any]) -> list[dict[str, Any]]:
    """Dataclass records (Document, Rejected) as column dicts."""
    return [{f.name: getattr(r, f.name) for f in dataclasses.fields(r)} for r in records]


def taxonomy_rows(taxonomy: Taxonomy | None = None) -> dict[str, list[dict[str, Any]]]:
    """Rows of each dimension table; empty CSV cells become NULL."""
    out = {}
    for name in TAXONOMY_TABLES:
        rows = list(getattr(taxonomy, name).values()) if taxonomy is not None else load_taxonomy_table(name)
        columns = [f.name for f in TABLES[name].fields]
        out[name] = [{c: (row.get(c) or None) for c in columns} for row in rows]
    return out


def duplicate_keys(table: str, rows: pa.Table | Sequence[Mapping[str, Any]]) -> list[tuple[Any, ...]]:
    key = TABLES[table].primary_key
    if isinstance(rows, pa.Table):
        counts = rows.group_by(list(key)).aggregate([([], "count_all")])
        repeated = counts.filter(pc.greater(counts["count_all"], 1)).select(list(key)).to_pylist()
        return sorted((tuple(r[k] for k in key) for r in repeated), key=repr)
    tally = Counter(tuple(row.get(k) for k in key) for row in rows)
    return sorted((k for k, n in tally.items() if n > 1), key=repr)


def load_database(
    path: Path,
    *,
    documents: Sequence[Document],
    rejected: Sequence[Rejected],
    mentions: pa.Table | Sequence[Mapping[str, Any]],
    facts: pa.Table | Sequence[Mapping[str, Any]],
    taxonomy: Taxonomy | None = None,
) -> dict[str, int]:
    """Build the database at ``path`` from scratch and swap it in; return the row count of each table.

    The new file is written next to ``path`` (same filesystem, so the final rename is
    atomic) and only replaces it once complete and closed; on any failure the old
    database is untouched and the temporary file is removed.
    """
    path = Path(path)
    data = {
        "documents": records_to_rows(documents),
        "rejected_documents": records_to_rows(rejected),
        "mentions": mentions if isinstance(mentions, pa.Table) else list(mentions),
        "facts": facts if isinstance(facts, pa.Table) else list(facts),
        **taxonomy_rows(taxonomy),
    }
    for table, rows in data.items():
        dupes = duplicate_keys(table, rows)
        if dupes:
            key = ", ".join(TABLES[table].primary_key)
            shown = "; ".join(str(d[0] if len(d) == 1 else d) for d in dupes[:5])
            raise DuplicateKeyError(
                f"{table}: {len(dupes)} duplicate value(s) of the primary key ({key}), e.g. {shown}. "
                "Every row must have its own key; refusing to drop rows silently."
            )

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        counts = _build(tmp, data)
        _fsync(tmp)
        # A WAL beside the target belongs to the old file; replayed onto the new one it would corrupt it.
        Path(f"{path}.wal").unlink(missing_ok=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise
    log.info("wrote %s: %s", path, counts)
    return counts


def _build(tmp: Path, data: Mapping[str, pa.Table | Sequence[Mapping[str, Any]]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        for table in TABLES:
            for statement in schema.duckdb_ddl(table):
                con.execute(statement)
        # Dimensions first, so the order mirrors what facts reference.
        for table in [*TAXONOMY_TABLES, *(t for t in TABLES if t not in TAXONOMY_TABLES)]:
            arrow = as_arrow(table, data[table])
            con.register("arrow_rows", arrow)
            try:
                con.execute(f'INSERT INTO "{table}" SELECT * FROM arrow_rows')
            except duckdb.ConstraintException as exc:
                raise ValueError(f"{table}: {exc}") from exc
            finally:
                con.unregister("arrow_rows")
            counts[table] = arrow.num_rows
        con.execute(FACTS_NAMED_VIEW)
        con.execute("COMMENT ON VIEW facts_named IS '{}'".format(FACTS_NAMED_COMMENT.replace("'", "''")))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# Validators: rows against the metadata and the taxonomy. Each returns one message per problem.


def field_errors(table: str, rows: Iterable[Mapping[str, Any]], columns: Sequence[str] | None = None) -> list[str]:
    """Values breaking the constraints declared in ``metadata/fields.py`` (required, minimum, maximum, enum)."""
    t = TABLES[table]
    fields = [f for f in t.fields if columns is None or f.name in columns]
    key = t.primary_key
    errors = []
    for row in rows:
        where = "/".join(str(row.get(k)) for k in key)
        for f in fields:
            value = row.get(f.name)
            if value is None:
                if f.required or f.name in key:
                    errors.append(f"{where}: {f.name} is missing")
                continue
            if isinstance(value, float) and math.isnan(value):
                errors.append(f"{where}: {f.name} is NaN")
            elif f.minimum is not None and value < f.minimum:
                errors.append(f"{where}: {f.name}={value!r} is below {f.minimum:g}")
            elif f.maximum is not None and value > f.maximum:
                errors.append(f"{where}: {f.name}={value!r} is above {f.maximum:g}")
            elif f.enum is not None and value not in f.enum:
                errors.append(f"{where}: {f.name}={value!r} is not one of {', '.join(f.enum)}")
    return errors


def field_suspects(table: str, data: pa.Table, columns: Sequence[str] | None = None) -> pa.Table:
    """The rows of ``data`` that ``field_errors`` may report (a superset), found column-wise.

    Checks of a large table run ``field_errors`` on these rows only: the same messages, without
    turning every row into a dict.
    """
    t = TABLES[table]
    mask = None
    for f in t.fields:
        if columns is not None and f.name not in columns:
            continue
        col = data[f.name]
        tests = []
        if f.required or f.name in t.primary_key:
            tests.append(pc.is_null(col))
        if pa.types.is_floating(col.type):
            tests.append(pc.is_nan(col))
        if f.minimum is not None:
            tests.append(pc.less(col, f.minimum))
        if f.maximum is not None:
            tests.append(pc.greater(col, f.maximum))
        if f.enum is not None:
            # a null is no enum error (field_errors skips it); is_in alone would call it one
            tests.append(pc.and_(pc.is_valid(col), pc.invert(pc.is_in(col, value_set=pa.array(f.enum, col.type)))))
        for test in tests:
            test = pc.fill_null(test, False)
            mask = test if mask is None else pc.or_(mask, test)
    return data if mask is None else data.filter(mask)


# facts column -> taxonomy table its slugs come from
FACT_REFERENCES = {"source": "sources", "region": "regions", "offence": "offences", "platform": "platforms"}


def reference_suspects(facts: pa.Table, taxonomy: Taxonomy) -> pa.Table:
    """The facts ``reference_errors`` reports, found by testing each distinct slug once."""
    mask = None
    for column in FACT_REFERENCES:
        values = [v for v in pc.unique(facts[column]).to_pylist() if v is not None]
        unknown = [v for v in values if reference_errors([{column: v}], taxonomy)]
        if unknown:
            test = pc.fill_null(pc.is_in(facts[column], value_set=pa.array(unknown, pa.string())), False)
            mask = test if mask is None else pc.or_(mask, test)
    return facts.slice(0, 0) if mask is None else facts.filter(mask)


def reference_errors(facts: Iterable[Mapping[str, Any]], taxonomy: Taxonomy) -> list[str]:
    """Slugs that are not in the taxonomy; each '+'-joined part of a platform must be one."""
    slugs = {table: taxonomy.slugs(table) for table in FACT_REFERENCES.values()}
    errors = []
    for row in facts:
        for column, table in FACT_REFERENCES.items():
            value = row.get(column)
            if value is None:
                continue
            parts = value.split("+") if column == "platform" else [value]
            unknown = [p for p in parts if p not in slugs[table]]
            if unknown:
                errors.append(f"{row.get('fact_id')}: {column} {value!r} is not in taxonomy/{table}.csv")
    return errors
