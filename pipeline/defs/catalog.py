"""What the Dagster UI shows of each asset: its group, its kinds, its columns and where users open it.

Kept apart from the asset bodies and applied to their specs when the Definitions are built, so the
catalogue follows ``pipeline/metadata`` (one description per column) and the settings (the paths
of this deployment), and an asset's code says only how it is computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import dagster as dg
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager  # the default IO manager's pickling

from pipeline.config import Settings
from pipeline.defs.resources import PipelineSettings
from pipeline.metadata.tables import TABLES

# Stage of each asset (the groups of the UI's asset graph) and the technologies it involves.
GROUPS = {
    "documents": "ingest",
    "mentions": "extract",
    "facts": "extract",
    "database": "curate",
    "statistics": "curate",
    "citations": "curate",
    "conflicts": "curate",
    "review": "curate",
    "corrections": "curate",
    "release": "publish",
    "report": "publish",
}
KINDS = {
    "documents": {"python", "parquet"},
    "mentions": {"python", "duckdb"},
    "facts": {"python", "duckdb"},
    "database": {"duckdb"},
    "release": {"parquet", "csv"},
    "report": {"html"},
    **{name: {"python", "duckdb"} for name in ("statistics", "citations", "conflicts", "review")},
    "corrections": {"python", "csv"},
}
# The table of the database (and of each release) an asset's rows end up in.
TABLE_OF = {
    "documents": "documents", "mentions": "mentions", "facts": "facts",
    **{name: name for name in ("statistics", "citations", "conflicts", "review")},  # the curated tables
}
_COLUMN_TYPES = {"VARCHAR": "string", "BIGINT": "int64", "DOUBLE": "float64", "DATE": "date", "BOOLEAN": "bool"}


def column_schema(table: str) -> dg.TableSchema:
    """The table's columns with their types, descriptions and constraints, from ``pipeline/metadata``."""
    t = TABLES[table]
    columns = []
    for f in t.fields:
        other = []
        if f.minimum is not None or f.maximum is not None:
            other.append(f"range {'' if f.minimum is None else f.minimum}..{'' if f.maximum is None else f.maximum}")
        if f.enum:
            other.append("one of " + ", ".join(f.enum))
        constraints = dg.TableColumnConstraints(
            nullable=not (f.required or f.name in t.primary_key),
            unique=list(t.primary_key) == [f.name],
            other=other,
        )
        columns.append(dg.TableColumn(f.name, _COLUMN_TYPES.get(f.type, f.type.lower()), f.description, constraints))
    key = ", ".join(t.primary_key)
    return dg.TableSchema(columns=columns, constraints=dg.TableConstraints(other=[f"primary key ({key})"]))


def open_at(name: str, settings: Settings) -> dict[str, Any]:
    """Metadata saying where users open what an asset holds: the DuckDB table, or the release's Parquet file."""
    database = settings.database_path
    latest = settings.releases_dir / "latest"
    if name in TABLE_OF:
        table = TABLE_OF[name]
        return {
            "dagster/table_name": f"stats.main.{table}",
            "path": dg.MetadataValue.path(f"{database}#{table}"),
            "release_file": dg.MetadataValue.path(str(latest / f"{table}.parquet")),
            "query": dg.MetadataValue.md(f"```sh\nduckdb -readonly {database} \"select * from {table} limit 10\"\n```"),
        }
    paths = {"database": database, "release": latest / "facts.parquet", "report": settings.report_dir / "index.html"}
    where = paths.get(name)
    return {"path": dg.MetadataValue.path(str(where))} if where is not None else {}


def describe(spec: dg.AssetSpec, settings: Settings) -> dg.AssetSpec:
    name = spec.key.to_user_string()
    metadata: dict[str, Any] = dict(open_at(name, settings))
    if name in TABLE_OF:
        metadata["dagster/column_schema"] = column_schema(TABLE_OF[name])
    return spec.replace_attributes(group_name=GROUPS.get(name, spec.group_name)).merge_attributes(
        kinds=KINDS.get(name, set()) - set(spec.kinds), metadata=metadata
    )


def catalogue(assets: Sequence[Any], settings: Settings) -> Iterable[Any]:
    """The assets with their group, kinds, column schema and paths filled in."""
    return dg.map_asset_specs(lambda spec: describe(spec, settings), assets)



# --------------------------------------------------------------------------- where a materialisation points


class _TablePaths(PickledObjectFilesystemIOManager):
    """Dagster's default filesystem IO manager, whose ``path`` metadata names what users open (the DuckDB
    table, the release file) rather than the pickle it hands the next step; the pickle is ``stored_at``."""

    def __init__(self, base_dir: str, settings: Settings) -> None:
        super().__init__(base_dir=base_dir)
        self._settings = settings

    def get_metadata(self, context: dg.OutputContext, obj: Any) -> dict[str, dg.MetadataValue]:
        if not context.has_asset_key or obj is None:
            return {}
        opened = open_at(context.asset_key.to_user_string(), self._settings)
        if "path" not in opened:
            return {}
        return {"path": opened["path"], "stored_at": dg.MetadataValue.path(str(self._get_path(context)))}


class TablePathsIOManager(dg.ConfigurableIOManagerFactory):
    """The Definitions' default IO manager (``dagster dev``; ``pipeline run`` passes its own in memory)."""

    settings: PipelineSettings  # a nested resource: the same settings the assets use
    base_dir: str | None = None

    def create_io_manager(self, context: dg.InitResourceContext) -> dg.IOManager:
        base = self.base_dir or context.instance.storage_directory()  # type: ignore[union-attr]
        return _TablePaths(base_dir=base, settings=self.settings.settings())
