"""The rows the extractor hands on (Fact, Mention, Extraction) and the version stamped on them."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass  # not frozen: built by the thousand, and a frozen dataclass costs three times as much to make
class Mention:
    """One number seen in a document: the audit-trail row of the mentions table."""

    char_start: int
    char_end: int
    surface: str
    value: float | None
    kind: str
    decision: str = "dropped"  # "fact" or "dropped"
    reason: str = ""
    fact_id: str | None = None
    sentence: str | None = None

    def to_row(self, document: str) -> dict[str, Any]:
        return {"document": document, **vars(self)}  # the values are immutable: no deep copy needed


EXTRACTOR_RELEASE = "1.0.0"


def _code_fingerprint() -> str:
    """Hash of the extractor's code and reference data, so any change to them re-extracts (the cache key)."""
    from importlib import resources

    digest = hashlib.sha256()
    package = resources.files("pipeline")
    # every module of the extractor but the batch driver, whose cache and pool do not change a row
    for entry in sorted(package.joinpath("extractor").iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".py") and entry.name != "batch.py":
            digest.update(entry.name.encode() + entry.read_bytes())
    for folder in ("taxonomy", "aliases", "rules"):
        for entry in sorted(package.joinpath("metadata", folder).iterdir(), key=lambda e: e.name):
            if entry.name.endswith(".csv"):
                digest.update(entry.name.encode() + entry.read_bytes())
    return digest.hexdigest()[:8]


EXTRACTOR_VERSION = f"{EXTRACTOR_RELEASE}+{_code_fingerprint()}"


@dataclass(frozen=True)
class Fact:
    fact_id: str
    document: str
    platform: str
    quote: str
    char_start: int
    char_end: int
    qualifier: str = "exact"
    count: int | None = None
    share: float | None = None
    source: str | None = None
    year: int | None = None
    region: str | None = None
    offence: str | None = None
    measure: str | None = None
    base: int | None = None
    period_start: date | None = None
    period_end: date | None = None
    page: int | None = None
    confidence: float = 0.5
    extractor_version: str = EXTRACTOR_VERSION
    # where each attribute came from: clause | sentence | table | context | heading | title | document | published | none
    region_from: str | None = None
    year_from: str | None = None
    offence_from: str | None = None
    source_from: str | None = None
    platform_from: str | None = None

    def to_row(self) -> dict[str, Any]:
        return dict(vars(self))  # field order; the values are immutable, so no deep copy is needed


@dataclass
class Extraction:
    mentions: list[Mention] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)


def make_fact_id(sha256: str, char_start: int, char_end: int) -> str:
    """Stable id from the document's content hash and the span, not its path: a renamed file keeps its ids."""
    return hashlib.sha256(f"{sha256}\x00{char_start}\x00{char_end}".encode()).hexdigest()[:16]

