"""Stage 3, normalise: number mentions in context -> Fact rows.

``extract_document`` is the extractor's single entry point: one Document in, its
mentions (the audit trail) and facts out. It is pure (no I/O, no global state
beyond the loaded taxonomy), so it can run in worker processes and be cached by
(document sha256, EXTRACTOR_VERSION).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from pipeline.documents import Document
from pipeline.mentions import Mention
from pipeline.metadata.taxonomy import Taxonomy, load_taxonomy

EXTRACTOR_VERSION = "0.0.1"


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

    def to_row(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Extraction:
    mentions: list[Mention] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)


def make_fact_id(document: str, char_start: int, char_end: int) -> str:
    """Stable id: the same document path and span always give the same id."""
    return hashlib.sha256(f"{document}\x00{char_start}\x00{char_end}".encode()).hexdigest()[:16]


def extract_document(doc: Document, taxonomy: Taxonomy | None = None) -> Extraction:
    """All mentions and facts of one document."""
    taxonomy = taxonomy or load_taxonomy()
    return Extraction()


def span_errors(facts: list[Fact], texts: dict[str, str]) -> list[str]:
    """Facts whose quote is not exactly their document's text at [char_start:char_end]."""
    errors = []
    for f in facts:
        text = texts.get(f.document)
        if text is None:
            errors.append(f"{f.fact_id}: document {f.document!r} not found")
        elif text[f.char_start : f.char_end] != f.quote:
            errors.append(f"{f.fact_id}: quote differs from {f.document}[{f.char_start}:{f.char_end}]")
    return errors
