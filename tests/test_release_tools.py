"""A real release (one `pipeline run` of the default dataset) opens in the tools users already have."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.slow

VENV_BIN = Path(sys.executable).parent


def test_frictionless_validate_finds_every_resource_of_a_real_release_valid(default_run: Path) -> None:
    descriptor = default_run / "releases" / "latest" / "datapackage.json"
    done = subprocess.run(
        [str(VENV_BIN / "frictionless"), "validate", "--json", str(descriptor)], capture_output=True, text=True, timeout=300
    )
    report = json.loads(done.stdout)
    resources = {r["name"] for r in json.loads(descriptor.read_text(encoding="utf-8"))["resources"]}
    invalid = {t["name"]: [e["message"] for e in t["errors"][:3]] for t in report["tasks"] if not t["valid"]}
    assert not invalid and report["valid"], invalid
    assert {t["name"] for t in report["tasks"]} == resources
    assert done.returncode == 0


def test_pandas_reads_the_release_with_integers_as_integers(default_run: Path) -> None:
    facts = pd.read_parquet(default_run / "releases" / "latest" / "facts.parquet")
    assert facts["year"].dtype.name == "Int64" and facts["count"].dtype.name == "Int64" and facts["base"].dtype.name == "Int64"
    assert facts["count"].isna().any(), "shares without a count stay <NA>, not NaN"
    assert facts["year"].dropna().min() > 2000 and str(facts["year"].dropna().iloc[0]).isdigit()


def test_citation_cff_names_the_licences_of_code_and_data() -> None:
    import tomllib

    import yaml
    from conftest import REPO

    cff = yaml.safe_load((REPO / "CITATION.cff").read_text(encoding="utf-8"))
    assert {"cff-version", "message", "title", "authors"} <= set(cff)
    assert cff["license"] == tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"] == "MIT"
    assert cff["preferred-citation"]["license"] == "CC-BY-4.0"
    assert (REPO / "LICENSE").read_text().startswith("MIT License")
