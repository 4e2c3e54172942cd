"""Stage 3, normalise: numbers in context -> Fact rows, with the reason for every decision.

``extract_document`` is the extractor's single entry point: one Document in, its
mentions (the audit trail, every number with the decision and why) and facts out.
It is pure (no I/O, no state beyond the loaded taxonomy), so it runs in worker
processes; ``batch.py`` caches its rows by the document's content and EXTRACTOR_VERSION.

How a number becomes a fact:
1. ``layout.layout`` splits the text into sentences and marks page furniture and
   reader comments; ``periods.find_periods`` finds dates and reference periods.
2. ``numbers.find_numbers`` reads every number; adjacent numbers that state one
   figure are joined by ``figures.join_units`` ("27 (40.2%)", "37,112, or 30%", "a quarter (26.8%) ... - 18").
3. Each figure is tested against the not-a-fact kinds (dates, times, money, ages,
   durations, rates, relative changes, phone numbers, references, votes, counts of
   people, forces or companies, shares of victims by age or sex, survey answers) and
   must be about child sexual abuse and count offences, reports, images or cases.
4. Attributes come from context, nearest first: the number's own clause, its
   sentence, the list it belongs to, the sentences before it, the document.
5. The same figure said twice in one document is one fact.
"""

from __future__ import annotations

import math
import re

from pipeline.documents import Document
from pipeline.extractor.attributes import (
    chain_offence,
    chain_region,
    choose_offence,
    choose_platforms,
    choose_region,
    choose_source,
    fill_years,
    inherit_from_totals,
    inherited_platforms,
    is_online,
    material_offence,
    offence_variant,
    period_for,
    quote_span,
    widen_default_regions,
)
from pipeline.extractor.audit import Trail, describe
from pipeline.extractor.confidence import confidence
from pipeline.extractor.context import TOPIC, Context, clause_around, document_context
from pipeline.extractor.figures import Unit, join_units
from pipeline.extractor.gazetteer import gazetteers
from pipeline.extractor.layout import Sentence
from pipeline.extractor.merge import Candidate, merge_candidates
from pipeline.extractor.not_facts import Look, count_measure, first_reason
from pipeline.extractor.nouns import measure_in, noun_after
from pipeline.extractor.numbers import Number
from pipeline.extractor.reasons import Reason
from pipeline.extractor.records import Extraction
from pipeline.extractor.scan import SCANNER
from pipeline.metadata.taxonomy import Taxonomy, load_taxonomy

_SHARE_OF = re.compile(r"\s*\)?\s*of\s+(?:the\s+|all\s+|these\s+|those\s+)?")


def prepare(taxonomy: Taxonomy | None = None) -> None:
    """Build the gazetteers and the scanner now (else the first document pays), e.g. before forking workers."""
    gazetteers(taxonomy or load_taxonomy())
    SCANNER.scan("")


_LARGEST_COUNT = 1e15  # counts in these documents are far below; floats are exact integers up to 2**53


def countable(n: Number) -> bool:
    """Whether a number can be a count or share at all: finite, and small enough for a BIGINT."""
    return math.isfinite(n.value) and abs(n.value) < _LARGEST_COUNT


def extract_document(doc: Document, taxonomy: Taxonomy | None = None, *, audit: bool = True) -> Extraction:
    """All mentions (with decisions) and facts of one document; ``audit=False`` leaves the mentions out."""
    tax = taxonomy or load_taxonomy()
    gaz = gazetteers(tax)  # before the scan: the gazetteers' patterns join the scanner when first built
    scanned = SCANNER.scan(doc.text)
    if not audit and not scanned.may_match(TOPIC, 0, len(doc.text)):
        # Not one cue of the topic anywhere, so no sentence is about it and no number can be a fact.
        # (Only without the audit trail: its reasons need the other tests run on every number.)
        return Extraction()
    ctx = document_context(doc, tax, gaz, scanned)
    trail = Trail(ctx)
    candidates = [c for idx, sent in enumerate(ctx.lay.sentences) for c in _sentence_candidates(ctx, idx, sent, trail)]
    inherit_from_totals(ctx, candidates)
    widen_default_regions(ctx, candidates)
    fill_years(ctx, candidates)
    for c in candidates:
        c.finish()
    facts, fact_of_unit, merged = merge_candidates(ctx, candidates)
    if not audit:
        return Extraction(facts=facts)
    trail.add_furniture()
    return Extraction(mentions=trail.mentions(fact_of_unit, merged), facts=facts)


def explain(doc: Document, taxonomy: Taxonomy | None = None) -> str:
    """Every number in the document with the decision taken and why, for review."""
    return describe(doc.document, extract_document(doc, taxonomy))


def _sentence_candidates(ctx: Context, idx: int, sent: Sentence, trail: Trail) -> list[Candidate]:
    """The candidate facts of one sentence; every number of it gets its decision in the trail."""
    numbers = ctx.numbers(sent)
    if not numbers:
        return []
    if not all(map(countable, numbers)):  # a 20-digit case reference, "1e400": no count of anything
        for n in numbers:
            if not countable(n):
                trail.decide(Unit([n]), Reason.TOO_LARGE, idx, (n.span_start, n.end))
        numbers = [n for n in numbers if countable(n)]
    dated = [n for n in numbers if ctx.in_period(n.start, n.end)]
    for n in dated:
        trail.decide(Unit([n], count=round(n.value)), Reason.DATE, idx, (n.span_start, n.end))
    all_units = join_units(ctx, [n for n in numbers if n not in dated])
    first_reasons = {}
    for k, u in enumerate(all_units):
        next_start = all_units[k + 1].start if k + 1 < len(all_units) else sent.end
        first_reasons[id(u)] = first_reason("figure", Look(ctx, u, sent, idx, next_start))
    # figures that may be facts bound each other's segments; dates, ages and changes do not
    units = [u for u in all_units if first_reasons[id(u)] is None]
    for u in all_units:
        reason = first_reasons[id(u)]
        if reason is not None:
            trail.decide(u, reason, idx)
    return [c for k in range(len(units)) for c in _figure_candidates(ctx, idx, sent, units, k, trail)]


def _figure_candidates(ctx: Context, idx: int, sent: Sentence, units: list[Unit], k: int, trail: Trail) -> list[Candidate]:
    """The candidate facts of one figure (one per platform when "each" distributes it), or none with the reason."""
    u = units[k]
    next_start = units[k + 1].start if k + 1 < len(units) else sent.end
    if k + 2 <= len(units) - 1 and units[k + 1].is_base and u.base is not None:
        next_start = units[k + 2].start  # "27% of the 73,000 pages found in 2018": the base's words describe the share
    elif k + 1 < len(units) and units[k + 1].is_base and u.base is not None:
        next_start = sent.end
    prev_end = units[k - 1].end if k > 0 else sent.start
    clause = clause_around(ctx, sent, u.number_start)
    seg = (u.end, min(next_start, clause[1]))  # the figure's own words on its right, up to the next figure
    lseg = (max(prev_end, clause[0]), u.start)  # and on its left
    look = Look(ctx, u, sent, idx, next_start, clause, seg, units[k + 1] if k + 1 < len(units) else None)
    measure, reason = count_measure(ctx, u, sent, units, k) if u.count is not None else (None, None)
    reason = reason or first_reason("share" if u.share is not None else "count", look) or first_reason("topic", look)
    if reason:
        trail.decide(u, reason, idx)
        return []
    platforms, p_starts = choose_platforms(ctx, sent, u, seg)
    if not platforms and not u.is_base:
        platforms, p_starts = inherited_platforms(ctx, sent, idx, clause)
    if u.is_base:
        platforms, p_starts = [], []
    online = is_online(ctx, sent, u, clause)
    if not platforms:
        platforms, p_starts = (["online_any"] if online else ["all_platforms"]), [None]  # type: ignore[list-item]
    look.platforms = platforms
    reason = first_reason("placed", look)
    if reason:
        trail.decide(u, reason, idx)
        return []
    if measure is None and u.share is not None:
        # "80% of global referrals ...": the noun the share is "of" first, else the last one around it
        of = _SHARE_OF.match(ctx.text, u.end, min(sent.end, u.end + 40))
        cls, word = noun_after(ctx.text, of.end() - 1, sent.end) if of else (None, None)
        measure = word if cls == "measure" else None
        measure = measure or measure_in(ctx.text, u.end, seg[1] + 40) or measure_in(ctx.text, sent.start, sent.end)
    offence, offence_from = choose_offence(ctx, sent, idx, u, measure, clause)
    chain_offence(ctx, idx, offence, offence_from)
    first_day, last_day, year, year_from = period_for(ctx, sent, idx, u, seg, lseg, offence, units[k + 1 :])
    period = (first_day, last_day, year)
    offence = offence_variant(ctx, sent, clause, offence, online, platforms)
    region, region_how = choose_region(ctx, sent, idx, u, clause, seg)
    chain_region(ctx, idx, region, region_how)
    source, source_from = choose_source(ctx, sent, idx, u)
    offence = material_offence(ctx, offence, measure, source)
    if platforms == ["online_any"] and p_starts == [None] and ctx.tax.sources.get(source or "", {}).get("kind") == "hotline":
        platforms = ["all_platforms"]  # a hotline's reports are all online: "online" names no platform, its total is all of them
    score = confidence(ctx, sent, u, period, p_starts[0] is not None, region_how)
    trail.decide(u, "", idx)
    quote_from = sent.start if idx in ctx.table_rows else lseg[0]
    out = []
    for slug, p_start in zip(platforms, p_starts, strict=True):
        q_start, q_end = quote_span(ctx, sent, u, quote_from, seg[1], p_start)
        starts = [p_start] if p_start is not None else []
        origins = {
            "region": region_how, "year": year_from, "offence": offence_from, "source": source_from,
            "platform": ("sentence" if p_start >= sent.start else "context") if p_start is not None else ("clause" if slug == "online_any" else "none"),
        }
        out.append(Candidate(u, idx, [slug], starts, measure, region, region_how, offence, source, period, score, q_start, q_end, origins))
    return out
