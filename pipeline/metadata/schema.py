"""Render the table metadata as DuckDB DDL, a pyarrow schema and a Frictionless schema."""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from pipeline.metadata.tables import TABLES, Table

_ARROW = {
    "VARCHAR": pa.string(),
    "BIGINT": pa.int64(),
    "DOUBLE": pa.float64(),
    "DATE": pa.date32(),
    "BOOLEAN": pa.bool_(),
}
_FRICTIONLESS = {
    "VARCHAR": "string",
    "BIGINT": "integer",
    "DOUBLE": "number",
    "DATE": "date",
    "BOOLEAN": "boolean",
}


def _table(table: str | Table) -> Table:
    return table if isinstance(table, Table) else TABLES[table]


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def duckdb_ddl(table: str | Table) -> list[str]:
    """CREATE TABLE plus COMMENT ON statements, so `duckdb_columns()` documents itself."""
    t = _table(table)
    cols = []
    for f in t.fields:
        not_null = " NOT NULL" if f.required or f.name in t.primary_key else ""
        cols.append(f'    "{f.name}" {f.type}{not_null}')
    cols.append(f"    PRIMARY KEY ({', '.join(t.primary_key)})")
    statements = [f'CREATE TABLE "{t.name}" (\n' + ",\n".join(cols) + "\n)"]
    statements.append(f'COMMENT ON TABLE "{t.name}" IS {_sql_literal(t.description)}')
    for f in t.fields:
        statements.append(f'COMMENT ON COLUMN "{t.name}"."{f.name}" IS {_sql_literal(f.description)}')
    return statements


def arrow_schema(table: str | Table, *, exclude: tuple[str, ...] = ()) -> pa.Schema:
    t = _table(table)
    return pa.schema(
        [
            pa.field(
                f.name,
                _ARROW[f.type],
                nullable=not (f.required or f.name in t.primary_key),
                metadata={"description": f.description},
            )
            for f in t.fields
            if f.name not in exclude
        ]
    )


# pandas dtypes that keep a null a null: without them pandas reads an integer column with a gap as
# float64 (2013.0), and Frictionless, which reads Parquet through pandas, sees NaN where a cell is empty.
_PANDAS_NULLABLE = {pa.int64(): "Int64", pa.float64(): "Float64", pa.bool_(): "boolean"}


def pandas_metadata(arrow: pa.Schema) -> dict[bytes, bytes]:
    """The schema metadata (key ``pandas``) that makes ``pandas.read_parquet`` and pyarrow's ``to_pandas``
    give nullable ``Int64``/``Float64``/``boolean`` columns. pyarrow writes the same key from a DataFrame;
    this builds it from an empty frame of those dtypes, so it is exactly what pyarrow expects."""
    import pandas as pd

    frame = pd.DataFrame({f.name: pd.Series([], dtype=_PANDAS_NULLABLE.get(f.type, "object")) for f in arrow})
    return {b"pandas": pa.Schema.from_pandas(frame, preserve_index=False).metadata[b"pandas"]}


def arrow_type(frictionless_type: str) -> pa.DataType:
    """The pyarrow type a Frictionless field type is written as, so `verify` can check Parquet files against
    the schema recorded in a release's datapackage.json (which may predate the current metadata)."""
    for duckdb_type, name in _FRICTIONLESS.items():
        if name == frictionless_type:
            return _ARROW[duckdb_type]
    raise KeyError(f"unknown Frictionless field type {frictionless_type!r}; expected one of {sorted(_FRICTIONLESS.values())}")


def frictionless_schema(table: str | Table, *, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    t = _table(table)
    fields = []
    for f in t.fields:
        if f.name in exclude:
            continue
        entry: dict[str, Any] = {"name": f.name, "type": _FRICTIONLESS[f.type], "description": f.description}
        constraints: dict[str, Any] = {}
        if f.required or f.name in t.primary_key:
            constraints["required"] = True
        if f.minimum is not None:
            constraints["minimum"] = f.minimum
        if f.maximum is not None:
            constraints["maximum"] = f.maximum
        if f.enum is not None:
            constraints["enum"] = list(f.enum)
        if constraints:
            entry["constraints"] = constraints
        fields.append(entry)
    return {"fields": fields, "primaryKey": list(t.primary_key)}
