"""The audit trail read by people: ``explain`` and the span invariant of facts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

from pipeline.documents import Document
from pipeline.extractor.document import extract_document
from pipeline.extractor.records import Fact
from pipeline.metadata.taxonomy import Taxonomy


def explain(doc: Document, taxonomy: Taxonomy | None = None) -> str:
    """Every number in the document with the decision taken and why, for review."""
    result = extract_document(doc, taxonomy)
    facts = {f.fact_id: f for f in result.facts}
    lines = [f"# {doc.document}: {len(result.mentions)} numbers, {len(result.facts)} facts"]
    for m in result.mentions:
        if m.fact_id and m.fact_id in facts:
            f = facts[m.fact_id]
            detail = (
                f"FACT  {m.surface!r}: platform={f.platform} count={f.count} share={f.share} qualifier={f.qualifier} "
                f"measure={f.measure} offence={f.offence} region={f.region} source={f.source} year={f.year} "
                f"confidence={f.confidence}\n      quote: {f.quote!r}"
            )
        else:
            detail = f"drop  {m.surface!r}: {m.reason}"
        lines.append(f"{m.char_start:>6}  {detail}")
    return "\n".join(lines)


class Span(NamedTuple):
    """What ``span_errors`` reads of a fact."""

    fact_id: str
    document: str
    char_start: int
    char_end: int
    quote: str


def span_errors(facts: Iterable[Fact | Span], texts: dict[str, str]) -> list[str]:
    """Facts whose quote is not exactly their document's text at [char_start:char_end]."""
    errors = []
    for f in facts:
        text = texts.get(f.document)
        if text is None:
            errors.append(f"{f.fact_id}: document {f.document!r} not found")
        elif text[f.char_start : f.char_end] != f.quote:
            errors.append(f"{f.fact_id}: quote differs from {f.document}[{f.char_start}:{f.char_end}]")
    return errors

