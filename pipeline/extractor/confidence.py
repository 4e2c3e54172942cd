"""How sure a fact is: a base score moved by what was found beside the figure, in [0.05, 0.98]."""

from __future__ import annotations

import re
from bisect import bisect_left
from datetime import date

from pipeline.extractor.context import Context, hits_in
from pipeline.extractor.figures import Unit
from pipeline.extractor.layout import Sentence

BASE = 0.55
OFFENCE_NAMED = 0.1  # an offence named in the sentence
SOURCE_NAMED = 0.1  # a source named in the sentence
PERIOD_NAMED = 0.05  # a dated figure whose sentence states a period
PLATFORM_NAMED = 0.1  # a platform named, not inferred
SPELLED_COUNT = -0.15  # "twelve offences": spelled counts are often loose
BASE_FIGURE = -0.1  # the "2,097" in "70 per cent of 2,097 cases"
REGION_IN_SENTENCE = 0.05
CAPTION = -0.2  # a caption repeating the article: the article's wording wins
LIST_ITEM = -0.05
WEAK_ORIGIN = -0.04  # each of region, year, offence, source taken from a document default, the publication date or nothing

_CAPTION = re.compile(r"\s*(?:picture|photograph|photo|image|credit)\s*:", re.I)


def confidence(
    ctx: Context, sent: Sentence, u: Unit, period: tuple[date | None, date | None, int | None], platform_named: bool, region_how: str
) -> float:
    text = ctx.text
    score = BASE
    score += OFFENCE_NAMED if hits_in(ctx.offences, sent.start, sent.end) else 0
    score += SOURCE_NAMED if hits_in(ctx.sources, sent.start, sent.end) else 0
    k_period = bisect_left(ctx.period_starts, sent.start)
    score += PERIOD_NAMED if period[2] and k_period < len(ctx.periods) and ctx.period_starts[k_period] < sent.end else 0
    score += PLATFORM_NAMED if platform_named else 0
    score += SPELLED_COUNT if u.numbers[0].spelled and u.share is None else 0
    score += BASE_FIGURE if u.is_base else 0
    score += REGION_IN_SENTENCE if region_how in ("clause", "sentence") else 0
    line_end = text.find("\n", sent.end)
    if _CAPTION.match(text[sent.end : line_end if line_end >= 0 else len(text)]):
        score += CAPTION
    if sent.is_item:
        score += LIST_ITEM
    return round(min(0.98, max(0.05, score)), 2)
