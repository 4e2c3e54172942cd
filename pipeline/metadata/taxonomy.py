"""The vendored taxonomy (platforms, regions, offences, sources) and the project's alias lists.

The CSVs ship inside the package (``taxonomy/`` is a copy of the shared taxonomy,
``aliases/`` is this project's gazetteer of names that point at a slug, ``rules/`` the
extractor's rule tables, see ``metadata/rules.py``), so the pipeline runs where the shared folder is absent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from pipeline.metadata.rules import Rules, load_rules
from pipeline.metadata.tables import TAXONOMY_TABLES


def _read_csv(folder: str, name: str) -> list[dict[str, str]]:
    data = resources.files("pipeline.metadata").joinpath(folder, f"{name}.csv").read_text(encoding="utf-8")
    return list(csv.DictReader(io.StringIO(data)))


def load_taxonomy_table(name: str) -> list[dict[str, str]]:
    """Rows of one taxonomy CSV, as strings ('' for empty cells)."""
    if name not in TAXONOMY_TABLES:
        raise KeyError(f"unknown taxonomy table {name!r}; expected one of {TAXONOMY_TABLES}")
    return _read_csv("taxonomy", name)


def taxonomy_checksums() -> dict[str, str]:
    """sha256 of each vendored taxonomy CSV, recorded in releases."""
    out = {}
    for name in TAXONOMY_TABLES:
        raw = resources.files("pipeline.metadata").joinpath("taxonomy", f"{name}.csv").read_bytes()
        out[name] = hashlib.sha256(raw).hexdigest()
    return out


@dataclass(frozen=True)
class Taxonomy:
    """The taxonomy's tables (slug -> row), the project's alias rows and the extractor's rule tables.

    The extractor reads all of them from the object it is given, so a custom taxonomy is used whole.
    """

    platforms: dict[str, dict[str, str]]
    regions: dict[str, dict[str, str]]
    offences: dict[str, dict[str, str]]
    sources: dict[str, dict[str, str]]
    aliases: dict[str, list[dict[str, str]]] = field(default_factory=dict)  # table -> rows of aliases/<table>.csv
    rules: Rules = field(default_factory=lambda: Rules({}, (), ()))

    def slugs(self, table: str) -> set[str]:
        return set(getattr(self, table))


def _alias_rows(name: str, rows: dict[str, dict[str, str]]) -> list[dict[str, str]]:
    try:
        extra = _read_csv("aliases", name)
    except FileNotFoundError:
        return []
    for row in extra:
        if row["slug"].strip() not in rows:
            raise ValueError(f"aliases/{name}.csv names unknown slug {row['slug'].strip()!r}")
    return extra


def _check_rules(rules: Rules, tables: dict[str, dict[str, dict[str, str]]]) -> None:
    """Every slug a rule table names is in the taxonomy."""
    for table in rules.alias_cases:
        if table not in tables:
            raise ValueError(f"rules/alias_cases.csv names unknown table {table!r}")
    named = [("region_folds", "regions", slug) for members, region in rules.region_folds for slug in (*members, region)]
    named += [("offence_rules", "offences", slug) for r in rules.offence_rules for slug in (r.slug, r.becomes) if slug]
    named += [("source_scope", "sources", slug) for slug in rules.source_scopes]
    named += [("source_scope", "regions", region) for region in rules.source_scopes.values()]
    for csv_name, table, slug in named:
        if slug not in tables[table]:
            raise ValueError(f"rules/{csv_name}.csv names unknown {table} slug {slug!r}")


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    tables = {name: {row["slug"]: row for row in load_taxonomy_table(name)} for name in TAXONOMY_TABLES}
    rules = load_rules()
    _check_rules(rules, tables)
    return Taxonomy(**tables, aliases={name: _alias_rows(name, rows) for name, rows in tables.items()}, rules=rules)
