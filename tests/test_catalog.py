"""The Dagster UI's view of the assets: groups, kinds, column schemas from the field metadata, and paths users open."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from pipeline.defs import build_definitions
from pipeline.defs.resources import PipelineSettings
from pipeline.metadata.tables import TABLES


@pytest.fixture
def graph(tmp_path: Path):
    settings = PipelineSettings(raw_dir=str(tmp_path / "raw"), curated_dir=str(tmp_path / "curated"))
    return build_definitions(settings).resolve_asset_graph()


def node(graph, name: str):
    return graph.get(dg.AssetKey(name))


def test_every_asset_has_its_stage_as_group_and_its_kinds(graph) -> None:
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert groups["documents"] == "ingest" and groups["facts"] == groups["mentions"] == "extract"
    assert groups["database"] == "curate" and groups["release"] == groups["report"] == "publish"
    assert set(groups.values()) <= {"ingest", "extract", "curate", "publish"}
    assert {"python", "duckdb"} <= node(graph, "facts").kinds
    assert "duckdb" in node(graph, "database").kinds and "parquet" in node(graph, "release").kinds
    assert all(graph.get(k).kinds for k in graph.get_all_asset_keys())


@pytest.mark.parametrize("name", ["documents", "mentions", "facts"])
def test_table_assets_declare_their_columns_from_the_field_metadata(graph, name: str) -> None:
    columns = node(graph, name).metadata["dagster/column_schema"].columns
    assert [c.name for c in columns] == list(TABLES[name].columns)
    for column, field in zip(columns, TABLES[name].fields, strict=True):
        assert column.description == field.description
        assert column.constraints.nullable == (not (field.required or field.name in TABLES[name].primary_key))


def test_paths_point_at_the_duckdb_table_and_the_release_files(graph, tmp_path: Path) -> None:
    curated = tmp_path / "curated"
    facts = node(graph, "facts").metadata
    assert facts["path"].path == f"{curated / 'stats.duckdb'}#facts"
    assert facts["release_file"].path == str(curated / "releases" / "latest" / "facts.parquet")
    assert facts["dagster/table_name"] == "stats.main.facts"
    assert node(graph, "database").metadata["path"].path == str(curated / "stats.duckdb")
    assert node(graph, "release").metadata["path"].path.endswith("releases/latest/facts.parquet")


@pytest.mark.slow
def test_a_materialisation_with_the_default_io_manager_points_at_the_table_not_the_pickle(
    tmp_path: Path, seed_raw: Path
) -> None:
    settings = PipelineSettings(raw_dir=str(seed_raw), curated_dir=str(tmp_path / "curated"))
    defs = build_definitions(settings)
    with dg.DagsterInstance.ephemeral(tempdir=str(tmp_path / "home")) as instance:
        result = defs.resolve_implicit_global_asset_job_def().execute_in_process(
            instance=instance, asset_selection=[dg.AssetKey("documents"), dg.AssetKey("mentions"), dg.AssetKey("facts")]
        )
        assert result.success
        event = instance.get_latest_materialization_event(dg.AssetKey("facts"))
    metadata = event.asset_materialization.metadata
    assert metadata["path"].path == f"{tmp_path / 'curated' / 'stats.duckdb'}#facts"
    assert Path(metadata["stored_at"].path).is_file()  # what the next step reads
