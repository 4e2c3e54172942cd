"""The vendored taxonomy (platforms, regions, offences, sources) and the project's alias lists.

The CSVs ship inside the package (``taxonomy/`` is a copy of the shared taxonomy,
``aliases/`` is this project's gazetteer of names that point at a slug), so the
pipeline runs where the shared folder is absent.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

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
    platforms: dict[str, dict[str, str]]
    regions: dict[str, dict[str, str]]
    offences: dict[str, dict[str, str]]
    sources: dict[str, dict[str, str]]
    # alias (lower case) -> slug, per table; from the taxonomy itself plus aliases/*.csv
    aliases: dict[str, dict[str, str]] = field(default_factory=dict)

    def slugs(self, table: str) -> set[str]:
        return set(getattr(self, table))

    def valid_platform(self, value: str) -> bool:
        """A platform slug, or several joined with '+'."""
        return all(part in self.platforms for part in value.split("+"))


def _aliases(name: str, rows: dict[str, dict[str, str]]) -> dict[str, str]:
    out: dict[str, str] = {}
    for slug, row in rows.items():
        out.setdefault(slug.replace("_", " ").lower(), slug)
        if row.get("name"):
            out.setdefault(row["name"].lower(), slug)
        for alias in (row.get("aliases") or "").split("|"):
            if alias.strip():
                out.setdefault(alias.strip().lower(), slug)
    try:
        extra = _read_csv("aliases", name)
    except FileNotFoundError:
        extra = []
    for row in extra:
        slug, alias = row["slug"].strip(), row["alias"].strip().lower()
        if slug not in rows:
            raise ValueError(f"aliases/{name}.csv names unknown slug {slug!r}")
        out[alias] = slug
    return out


@lru_cache(maxsize=1)
def load_taxonomy() -> Taxonomy:
    tables = {name: {row["slug"]: row for row in load_taxonomy_table(name)} for name in TAXONOMY_TABLES}
    return Taxonomy(**tables, aliases={name: _aliases(name, rows) for name, rows in tables.items()})
