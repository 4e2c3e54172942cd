"""Merge: the same figure said twice is one fact; a rounded restatement of a precise share is no new fact."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from datetime import date

from pipeline.extractor.confidence import WEAK_ORIGIN
from pipeline.extractor.context import Context
from pipeline.extractor.figures import Unit
from pipeline.extractor.reasons import Reason
from pipeline.extractor.records import Fact, make_fact_id
from pipeline.metadata.fields import ORIGINS  # noqa: F401  (the values the origins take, defined with the columns)
from pipeline.metadata.rules import qualifiers
from pipeline.metadata.taxonomy import Taxonomy

# Origins that make an attribute weaker: a document-wide default, the publication date, nothing found
WEAK_ORIGINS = frozenset({"document", "published", "none"})


@dataclass
class Candidate:
    unit: Unit
    sentence_index: int
    platforms: list[str]
    platform_starts: list[int]
    measure: str | None
    region: str | None
    region_how: str
    offence: str | None
    source: str | None
    period: tuple[date | None, date | None, int | None]
    confidence: float  # before the attributes' provenance is weighed in (``finish``)
    quote_start: int
    quote_end: int
    origins: dict[str, str] = field(default_factory=dict)  # attribute -> where it came from (ORIGINS)

    def finish(self) -> None:
        """Name the region's origin in the fields' terms and weigh the provenance into the confidence:
        an attribute taken from a document-wide default or the publication date is weaker."""
        how = self.region_how or "none"  # region_how may change after the candidate is made (scope rules)
        self.origins["region"] = {"national": "sentence", "default": "document"}.get(how, how)
        if self.region is None and self.origins["region"] == "document":
            self.origins["region"] = "none"
        weak = sum(self.origins.get(a) in WEAK_ORIGINS for a in ("region", "year", "offence", "source"))
        self.confidence = round(min(0.98, max(0.05, self.confidence + WEAK_ORIGIN * weak)), 2)


def _compatible_platforms(tax: Taxonomy, a: str, b: str) -> bool:
    if a == b:
        return True
    ga = {tax.platforms.get(p, {}).get("owner_group") for p in a.split("+")}
    gb = {tax.platforms.get(p, {}).get("owner_group") for p in b.split("+")}
    return len(ga) == 1 and ga == gb and None not in ga and "" not in ga


_BOUNDS = {q.name: q.bound for q in qualifiers()}  # rules/qualifiers.csv


GENERIC_PLATFORMS = frozenset({"all_platforms", "online_any"})


def _same_figure_platforms(tax: Taxonomy, a: str, b: str) -> bool:
    """Whether one count said with platforms a and with b can be one figure: the same platforms, apps of one
    owner ("Facebook" and "Facebook and Instagram"), or one of them naming no platform ("online", a total)."""
    return a == b or _compatible_platforms(tax, a, b) or a in GENERIC_PLATFORMS or b in GENERIC_PLATFORMS


def _rounded_count(qualifier: str, rounded: int, precise: int) -> bool:
    """Whether 'more than 1,100' (qualified, round) is a rounded way of saying the exact 1,147."""
    if qualifier == "exact" or not precise or rounded == precise or rounded % 10:
        return False
    if abs(precise - rounded) > 0.05 * precise:
        return False
    diff = precise - rounded
    bound = _BOUNDS.get(qualifier, "exact")
    return {"above": diff > 0, "at_or_above": diff >= 0, "below": diff < 0, "at_or_below": diff <= 0, "around": True}.get(bound, False)


def _rounds_to(qualifier: str, verbal: float, precise: float) -> bool:
    """Whether 'more than half' (verbal, qualified) is a rounded way of saying the precise share."""
    diff = precise - verbal
    if abs(diff) > 0.05:
        return False
    bound = _BOUNDS.get(qualifier, "exact")
    return {"above": diff > 0, "at_or_above": diff >= 0, "below": diff < 0, "at_or_below": diff <= 0, "around": True}.get(bound, False)


def merge_candidates(ctx: Context, candidates: list[Candidate]) -> tuple[list[Fact], dict[tuple[int, int], str], dict[tuple[int, int], str]]:
    """The same figure said twice is one fact; a rounded restatement of a precise share is no new fact."""
    tax = ctx.tax
    doc = ctx.doc
    kept: list[Candidate] = []
    merged: dict[tuple[int, int], str] = {}
    def verbal(c: Candidate) -> bool:
        return c.unit.count is None and c.unit.numbers[0].form in ("fraction", "ratio") and len(c.unit.numbers) == 1

    for c in sorted(candidates, key=lambda c: (-(c.unit.count is not None and c.unit.share is not None), verbal(c), c.quote_start)):
        dup = None
        for k in kept:
            if k.platforms != c.platforms and not (
                c.unit.share is not None and c.unit.count is None and _compatible_platforms(tax, k.platforms[0], c.platforms[0])
            ):
                # one count said twice, once with its platform and once without ("13 million images on Facebook
                # and Instagram" after "Facebook detected 13 million images"), or rounded ("more than 1,100" beside 1,147)
                if (c.unit.share is None and k.unit.share is None and c.unit.count is not None and k.unit.count is not None
                        and c.period[2] == k.period[2]
                        and _same_figure_platforms(tax, k.platforms[0], c.platforms[0])
                        and (c.unit.count == k.unit.count or _rounded_count(c.unit.qualifier, c.unit.count, k.unit.count))):
                    dup = k
                    break
                continue
            if c.unit.share is None and k.unit.share is None and c.unit.count is not None and k.unit.count is not None \
                    and c.period[2] == k.period[2]:
                if _rounded_count(c.unit.qualifier, c.unit.count, k.unit.count):
                    dup = k
                    break
                if _rounded_count(k.unit.qualifier, k.unit.count, c.unit.count):
                    # the rounded one came first ("More than 2,300 ... 2,351"): the exact figure is the fact
                    merged[(k.unit.start, k.unit.end)] = Reason.REPEAT_OF.format(start=c.unit.start, end=c.unit.end)
                    kept[kept.index(k)] = c
                    dup = c
                    break
            same_count = c.unit.count is not None and c.unit.count == k.unit.count
            if c.unit.share is not None and k.unit.share is not None:
                close = abs(c.unit.share - k.unit.share) <= 0.0051
                rounded = verbal(c) and _rounds_to(c.unit.qualifier, c.unit.share, k.unit.share)
                if c.unit.count is None and (close and k.platforms == c.platforms or rounded) or same_count and close:
                    dup = k
            elif c.unit.share is None and k.unit.share is None and same_count and k.platforms == c.platforms:
                dup = k if (k.period[2] == c.period[2] or None in (k.period[2], c.period[2])) else None
            elif c.unit.share is None and same_count and k.platforms == c.platforms:
                dup = k
            if dup:
                break
        if dup is c:
            continue
        if dup:
            merged[(c.unit.start, c.unit.end)] = Reason.REPEAT_OF.format(start=dup.unit.start, end=dup.unit.end)
            at = kept.index(dup)
            if c.confidence > dup.confidence and c.unit.share == dup.unit.share and c.unit.count == dup.unit.count:
                kept[at] = replace(c, quote_start=dup.quote_start, quote_end=dup.quote_end, unit=dup.unit)
            if kept[at].platforms[0] in GENERIC_PLATFORMS and c.platforms[0] not in GENERIC_PLATFORMS:
                # the figure said once with its platform: that platform, not "online"
                kept[at] = replace(kept[at], platforms=c.platforms, platform_starts=c.platform_starts,
                                   origins={**kept[at].origins, "platform": c.origins.get("platform", "context")})
            elif c.platforms[0] in GENERIC_PLATFORMS and dup.platforms[0] not in GENERIC_PLATFORMS:
                kept[at] = replace(kept[at], platforms=dup.platforms, platform_starts=dup.platform_starts,
                                   origins={**kept[at].origins, "platform": dup.origins.get("platform", "context")})
            continue
        kept.append(c)
    kept.sort(key=lambda c: (c.quote_start, c.quote_end))
    facts = []
    fact_of_unit: dict[tuple[int, int], str] = {}
    seen_ids: set[str] = set()
    for c in kept:
        fid = make_fact_id(doc.sha256, c.quote_start, c.quote_end)
        if fid in seen_ids:  # two platforms distributed over one span: disambiguate
            fid = hashlib.sha256(f"{fid}\x00{c.platforms[0]}".encode()).hexdigest()[:16]
        seen_ids.add(fid)
        fact_of_unit.setdefault((c.unit.start, c.unit.end), fid)
        first, last, year = c.period
        page = ctx.text.count("\f", 0, c.quote_start) + 1 if doc.pages else None
        facts.append(
            Fact(
                fact_id=fid, document=doc.document, platform=c.platforms[0], quote=ctx.text[c.quote_start : c.quote_end],
                char_start=c.quote_start, char_end=c.quote_end, qualifier=c.unit.qualifier, count=c.unit.count,
                share=round(c.unit.share, 4) if c.unit.share is not None else None, source=c.source, year=year,
                region=c.region, offence=c.offence, measure=c.measure, base=c.unit.base, period_start=first,
                period_end=last, page=page, confidence=c.confidence,
                region_from=c.origins.get("region"), year_from=c.origins.get("year"), offence_from=c.origins.get("offence"),
                source_from=c.origins.get("source"), platform_from=c.origins.get("platform"),
            )
        )
    return facts, fact_of_unit, merged

