"""Stage 3, normalise: numbers in context -> Fact rows, with the reason for every decision.

``extract_document`` is the extractor's single entry point: one Document in, its
mentions (the audit trail, every number with the decision and why) and facts out.
It is pure (no I/O, no state beyond the loaded taxonomy), so it runs in worker
processes and is cached by (document sha256, EXTRACTOR_VERSION).

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

import re
from bisect import bisect_left
from collections import Counter

from pipeline.documents import Document
from pipeline.extractor.attributes import (
    CHILDREN,
    FALLBACK_BEFORE_START,
    NEGATED_LEFT,
    ONLINE,
    ONLINE_VARIANT,
    choose_offence,
    choose_platforms,
    choose_region,
    choose_source,
    period_for,
    quote_span,
)
from pipeline.extractor.context import REGION_RANK, TOPIC, clause_around, document_context, hits_in, relative_spans
from pipeline.extractor.figures import Unit, join_units
from pipeline.extractor.gazetteer import gazetteers
from pipeline.extractor.merge import Candidate, merge_candidates
from pipeline.extractor.not_facts import AGE_SEX, count_measure, is_on_topic, not_a_fact, share_problem
from pipeline.extractor.nouns import measure_in
from pipeline.extractor.numbers import find_numbers
from pipeline.extractor.records import Extraction, Mention
from pipeline.extractor.scan import SCANNER, matches_at
from pipeline.metadata.taxonomy import Taxonomy, load_taxonomy

_OF_OFFENCE_RIGHT = re.compile(r"^\s*\)?\s*of\s+(?:the\s+|all\s+|these\s+|those\s+)?")


_NEW_PHRASE = re.compile(r",\s+(?:with|while|and)\s")


_CAPTION = re.compile(r"\s*(?:picture|photograph|photo|image|credit)\s*:", re.I)


def prepare(taxonomy: Taxonomy | None = None) -> None:
    """Build the gazetteers and the scanner now (else the first document pays), e.g. before forking workers."""
    gazetteers(taxonomy or load_taxonomy())
    SCANNER.scan("")


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
    text = ctx.text
    candidates: list[Candidate] = []
    decisions: dict[tuple[int, int], tuple[str, str, int]] = {}  # (start, end) -> (reason, surface, sentence idx)
    unit_of: dict[tuple[int, int], Unit] = {}

    for idx, sent in enumerate(ctx.lay.sentences):
        numbers = ctx.numbers(sent)
        if not numbers:
            continue
        dated = [n for n in numbers if ctx.in_period(n.start, n.end)]
        for n in dated:
            key = (n.span_start, n.end)
            unit_of[key] = Unit([n], count=round(n.value))
            decisions[key] = ("date or period", text[n.span_start : n.end], idx)
        all_units = join_units(ctx, [n for n in numbers if n not in dated])
        first_reasons = {}
        for k, u in enumerate(all_units):
            next_start = all_units[k + 1].start if k + 1 < len(all_units) else sent.end
            first_reasons[id(u)] = not_a_fact(ctx, u, sent, next_start)
        # figures that may be facts bound each other's segments; dates, ages and changes do not
        units = [u for u in all_units if first_reasons[id(u)] is None]
        for u in all_units:
            if first_reasons[id(u)] is not None:
                key = (u.start, u.end)
                unit_of[key] = u
                decisions[key] = (first_reasons[id(u)], text[u.start : u.end], idx)  # type: ignore[assignment]
        for k, u in enumerate(units):
            key = (u.start, u.end)
            unit_of[key] = u
            next_start = units[k + 1].start if k + 1 < len(units) else sent.end
            if k + 2 <= len(units) - 1 and units[k + 1].is_base and u.base is not None:
                next_start = units[k + 2].start  # "27% of the 73,000 pages found in 2018": the base's words describe the share
            elif k + 1 < len(units) and units[k + 1].is_base and u.base is not None:
                next_start = sent.end
            prev_end = units[k - 1].end if k > 0 else sent.start
            reason = None
            clause = clause_around(ctx, sent, u.number_start)
            seg = (u.end, min(next_start, clause[1]))
            lseg = (max(prev_end, clause[0]), u.start)
            measure = None
            if u.count is not None:
                measure, reason = count_measure(ctx, u, sent, units, k)
            if reason is None and u.share is not None:
                # the next figure's words are its own, unless it restates this one ("three quarters ..., 29,100 or 78%, ...")
                nxt = units[k + 1] if k + 1 < len(units) else None
                restated = nxt is not None and nxt.share is not None and abs(nxt.share - u.share) <= 0.06
                age_end = clause[1] if restated else seg[1]
                joined = _NEW_PHRASE.search(text, u.end, age_end)  # ", with children under 10 seen on ...": said of what follows
                reason = share_problem(ctx, u, sent, clause, joined.start() if joined else age_end)
            elif reason is None and ctx.search(AGE_SEX, clause[0], max(seg[1], min(clause[1], u.end + 40))):
                reason = "count of victims by age or sex (out of scope)"
            if reason is None and not is_on_topic(ctx, sent, idx):
                reason = "not about child sexual abuse"
            if reason is not None:
                decisions[key] = (reason, text[u.start : u.end], idx)
                continue
            platforms, p_starts = choose_platforms(ctx, sent, u, seg)
            if u.is_base:
                platforms, p_starts = [], []
            offsets = ctx.scanned.starts_in(ONLINE, clause[0], clause[1])
            if offsets is not None and not offsets:
                online = False  # no online cue can start in the clause: no need to blank names out of it
            else:
                rel = relative_spans(ctx, sent, u.number_start)
                named = rel + [(h.start, h.end) for h in hits_in(ctx.platforms, clause[0], clause[1])]
                chars = list(text[clause[0] : clause[1]])
                for a, b in named:
                    lo, hi = max(a, clause[0]) - clause[0], min(b, clause[1]) - clause[0]
                    if lo < hi:
                        chars[lo:hi] = " " * (hi - lo)
                clause_text = "".join(chars)
                online = any(
                    not NEGATED_LEFT.search(clause_text[max(0, m.start() - 12) : m.start()])
                    for m in (ONLINE.finditer(clause_text) if offsets is None else matches_at(ONLINE, clause_text, [p - clause[0] for p in offsets]))
                )
            if not platforms:
                platforms, p_starts = (["online_any"] if online else ["all_platforms"]), [None]  # type: ignore[list-item]
            if u.share is not None and u.count is None and platforms == ["all_platforms"]:
                of_offence = _OF_OFFENCE_RIGHT.match(text[u.end : u.end + 20])
                if not of_offence and not ctx.anaphoric(sent):
                    decisions[key] = ("share with nothing it is a share of", text[u.start : u.end], idx)
                    continue
            if measure is None and u.share is not None:
                measure = measure_in(text, u.end, seg[1] + 40) or measure_in(text, sent.start, sent.end)
            offence = choose_offence(ctx, sent, idx, u, measure, clause)
            *period, year_from = period_for(ctx, sent, idx, u, seg, lseg, offence, units[k + 1 :])
            period = tuple(period)
            if offence in ONLINE_VARIANT and (online or any(p not in ("all_platforms",) for p in platforms)):
                matched = [h for h in hits_in(ctx.offences, sent.start, sent.end) if h.slug == offence]
                if matched and "exploitation" in matched[0].text.lower():
                    offence = "online_child_sexual_exploitation"
                else:
                    offence = ONLINE_VARIANT[offence]
            if offence == "sexual_crimes" and ctx.search_in(CHILDREN, clause[0], clause[1]):
                offence = "online_child_sexual_offences" if online else "child_sexual_offences"
            region, region_how = choose_region(ctx, sent, idx, u, clause, seg)
            source = choose_source(ctx, sent, idx, u)
            confidence = 0.55
            confidence += 0.1 if hits_in(ctx.offences, sent.start, sent.end) else 0
            confidence += 0.1 if hits_in(ctx.sources, sent.start, sent.end) else 0
            k_period = bisect_left(ctx.period_starts, sent.start)
            confidence += 0.05 if period[2] and k_period < len(ctx.periods) and ctx.period_starts[k_period] < sent.end else 0
            confidence += 0.1 if p_starts[0] is not None else 0
            confidence -= 0.15 if u.numbers[0].spelled and u.share is None else 0
            confidence -= 0.1 if u.is_base else 0
            confidence += 0.05 if region_how == "sentence" else 0
            line_end = text.find("\n", sent.end)
            if _CAPTION.match(text[sent.end : line_end if line_end >= 0 else len(text)]):
                confidence -= 0.2  # a caption repeating the article: the article's wording wins
            if sent.is_item:
                confidence -= 0.05
            for slug, p_start in zip(platforms, p_starts, strict=True):
                q_start, q_end = quote_span(ctx, sent, u, sent.start if idx in ctx.table_rows else lseg[0], seg[1], p_start)
                candidates.append(
                    Candidate(u, idx, [slug], [p_start] if p_start is not None else [], measure, region, region_how, offence, source,
                              period, round(min(0.98, max(0.05, confidence)), 2), q_start, q_end)
                )
            decisions[key] = ("", text[u.start : u.end], idx)

    # the document's scope is the widest region its own figures name
    explicit = [c.region for c in candidates if c.region_how in ("sentence", "national") and c.region]
    if explicit:
        scope = min(explicit, key=lambda r: (REGION_RANK.get(tax.regions[r].get("kind", ""), 9), -explicit.count(r)))
        for c in candidates:
            if c.region_how == "default":
                c.region = scope
    # a figure with no period of its own dates from the document's date, else its most common period
    if ctx.default_year:
        fill_year: int | None = ctx.default_year
    else:
        years = [c.period[2] for c in candidates if c.period[2]]
        fill_year = Counter(years).most_common(1)[0][0] if years else None
    for c in candidates:
        if c.period[2] is None:
            c.period = (None, None, fill_year)
        start = ctx.gaz.offence_start.get(c.offence or "")
        if start and c.period[2] and c.period[2] < start.year and c.offence in FALLBACK_BEFORE_START:
            c.offence = FALLBACK_BEFORE_START[c.offence]  # figures from before an offence existed count its predecessor
    facts, fact_of_unit, merged = merge_candidates(ctx, candidates)
    if not audit:
        return Extraction(facts=facts)
    for a, b, why in ctx.lay.furniture:
        for n in find_numbers(text, a, b, ctx.scanned):
            key = (n.span_start, n.end)
            if key not in decisions:
                unit_of[key] = Unit([n], count=None if n.is_share else round(n.value), share=n.value if n.is_share else None)
                decisions[key] = (why, text[n.span_start : n.end], -1)  # not in any article sentence
    mentions = []
    for (start, end), (reason, surface, idx) in sorted(decisions.items()):
        u = unit_of[(start, end)]
        sentence = ctx.lay.sentences[idx] if idx >= 0 else None
        kind = "count_share" if u.count is not None and u.share is not None else ("share" if u.share is not None else "count")
        value = u.share if u.count is None else float(u.count)
        fid = fact_of_unit.get((start, end))
        if fid:
            decision, why = "fact", "fact"
        elif not reason:
            decision, why = "dropped", merged.get((start, end), "repeat of another fact in this document")
        else:
            decision, why = "dropped", reason
        mentions.append(
            Mention(start, end, surface, value, kind, decision, why, fid, text[sentence.start : sentence.end] if sentence else None)
        )
    return Extraction(mentions=mentions, facts=facts)

