"""Not-a-fact rules: why a figure is no fact (a date, money, an age, a count of people, off topic...)."""

from __future__ import annotations

import re
from bisect import bisect_right

from pipeline.extractor.context import HIT_START, Context, clause_around
from pipeline.extractor.figures import Unit
from pipeline.extractor.layout import Sentence
from pipeline.extractor.nouns import measure_in, noun_after
from pipeline.extractor.scan import prefilter

_OFF_TOPIC = prefilter(re.compile(
    r"\b(?:fraud|domestic (?:abuse|violence)|burglar|theft|robber|drugs?|murders?|homicides?|knife|violent crime|"
    r"overall (?:recorded )?crimes?|all crimes?|total crimes?|road|traffic|suicide|self-harm|bullying|scams?|hate crime|"
    r"terror|smartphones?|calls|mental health|petition|games? console)",
    re.I,
))


_CHANGE_LEFT = prefilter(re.compile(
    r"(?:\b(?:up|down|rise|rose|risen|rising|increase[sd]?|increasing|decrease[sd]?|decreasing|drop(?:ped|s)?|"
    r"fall(?:en|s|ing)?|fell|grow(?:n|s|ing)?|grew|growth|jump(?:ed|s)?|soar(?:ed|s|ing)?|surge[sd]?|climb(?:ed|s)?|"
    r"decline[sd]?|reduc(?:ed|tion)|hike[sd]?|spike[sd]?|boost(?:ed)?|doubl(?:ed|ing)|cut|change[sd]?)"
    r"(?:\s+by|\s+of)?|\bby)\s+(?:an?\s+|some\s+|about\s+|around\s+|almost\s+|nearly\s+|more\s+than\s+|over\s+|just\s+over\s+)?$",
    re.I,
))


_CHANGE_RIGHT = re.compile(
    r"^\s*(?:\)\s*)?(?:year[\s-]on[\s-]year\s+)?(?:increase|increases|rise|rises|jump|surge|spike|drop|decrease|decline|fall|"
    r"reduction|growth|hike|more|fewer|less|higher|lower|greater|bigger|smaller|above|below|up|down|uplift|change)\b",
    re.I,
)


_AGE_LEFT = prefilter(re.compile(
    r"(?:\baged?|\bages|\bage of|as young as|as old as|younger than|older than|\bunder-|\bover-|\bi am|\bi'm|"
    r"\b(?:she|he|i) was|was just|\baged\s+(?:under|over|between|from|up to)|\b(?:aged|ages)\s+(?:between\s+)?\d+\s*(?:to|-|–|and))\s*$",
    re.I,
))


_AGE_RIGHT = re.compile(
    r"^(?:[\s-]*(?:years?|yrs?)[\s-]*(?:old|of age)|[\s-]*year[\s-]*olds?|[\s-]*(?:or|and)\s+(?:younger|under|older|over)\b|"
    r"\s*(?:to|-|–|and)\s*\d+[\s-]*(?:years?[\s-]*olds?|year-olds?)|\s+(?:was|were) the (?:most common )?age)",
    re.I,
)


_DURATION_RIGHT = re.compile(
    r"^[\s-]*(?:years?|months?|weeks?|days?|hours?|minutes?|mins|seconds?|decades?|centuries|nights?)\b", re.I
)


_RATE = prefilter(re.compile(r"\b(?:a|per|each|every)\s+(?:day|week|month|hour|minute|second|fortnight)\b|\bdaily\b", re.I))


_REFERENCE_LEFT = prefilter(re.compile(
    r"(?:#|\bno\.|\bnumber|\brule|\bsection|\bs\.|\barticle|\bproposal|\bchannel|\bquarter|\bq|\bpage|\bpages|\bact|"
    r"\bbill|\blevel|\btier|\bcategory|\bphase|\bversion|\bv|\bchapter|\bparagraph|\bclause|\bschedule|\bitem|\bstep|"
    r"\broom|\bflight|\broute|\bcode|\bpo box|\bsuite|\bunit|\bgrade|\bstage|\btop|\bwave)\s*$",
    re.I,
))


_MONEY_LEFT = prefilter(re.compile(r"(?:[$£€¥]|\b(?:US|A|C|NZ|HK)\$|\b(?:USD|GBP|EUR)\s?)\s?$"))


_MONEY_RIGHT = re.compile(r"^\s?(?:dollars|pounds|euros|usd|gbp|eur|in (?:advertising )?credits)\b", re.I)


_VOTES_RIGHT = re.compile(r"^\s*(?:votes?|comments?|likes?|shares?|views?|followers?|stars?|ratings?|clicks?)\b", re.I)


_SURVEY_RIGHT = re.compile(
    r"^\s*\)?\s*(?:of\s+(?:them|those|these|respondents|those\s+surveyed)\s+)?(?:said|say|says|reported|admitted|"
    r"told|felt|thought|believed?|agreed|own|owned)\b",
    re.I,
)


AGE_SEX = prefilter(re.compile(r"\b(?:girls?|boys?|female|male|gender|aged|ages|years of age|pre-?pubescent|under the age of)\b", re.I))


_TRUNCATED_LEFT = re.compile(r"\b(?:from|of|to|by|in|at|for|and|the|a|an|with|than|about|over|was|were|is)\s+$", re.I)


_BARE_ORDINAL = re.compile(r"(?:third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|quarter)s?", re.I)


_PHONE_LEFT = re.compile(r"(?:\+\d{1,3}[\s-]?|(?<![\d,.])0\d{2,4}[\s-])(?:\d{2,4}[\s-])*$")


_TIME_RIGHT = re.compile(r"^\s?(?::\d|(?:am|pm|a\.m\.|p\.m\.)\b)", re.I)


_TIME_LEFT = re.compile(r"\d:$")


_NOT_DIGIT = re.compile(r"\D")


_CODE_LEFT = re.compile(r"[A-Za-z]-?$|\d-$|\w\)\($")  # at most three characters: searched in the last three


_YEAR_OLD_RIGHT = re.compile(r"^[\s-]*(?:year|yr)[\s-]*old", re.I)


_COMPOUND_RIGHT = re.compile(r"^-[A-Za-z]")


_TIMES_RIGHT = re.compile(r"^\s*(?:times|fold|-fold)\b", re.I)


# The union of the right-hand cues of not_a_fact (IGNORECASE only widens _COMPOUND_RIGHT): where it
# does not match, none of them does.
_RIGHT_CUES = re.compile(
    "|".join(
        f"(?:{p.pattern})"
        for p in (_TIME_RIGHT, _MONEY_RIGHT, _AGE_RIGHT, _YEAR_OLD_RIGHT, _VOTES_RIGHT, _DURATION_RIGHT, _COMPOUND_RIGHT, _TIMES_RIGHT, _CHANGE_RIGHT)
    ),
    re.I,
)


_EVERY_LEFT = prefilter(re.compile(r"\bevery\s+$", re.I))


_OR_RIGHT = re.compile(r"^\s+or\s+\w+")


_OR_LEFT = re.compile(r"\w+\s+or\s+$")


_ORDINAL_LEFT = prefilter(re.compile(r"\b(?:the|first|second|last|latter|other|and\s+a)\s+$", re.I))


_UNIT_RIGHT = re.compile(r"^\s+(?:an?\s+)?(?:hour|day|week|month|year|century|decade|dozen|mile|way)\b", re.I)


_OF_RIGHT = re.compile(r"^\s*\)?\s*of\s+(?:the\s+|all\s+|those\s+|these\s+|its\s+|their\s+)?")


_REPORTED_FOR = re.compile(
    r"^\s*[\w\s]{0,30}?\b(?:were|was)\s+reported\s+(?:to\s+(?:the\s+)?police\s+)?(?:forces\s+)?(?:[\w\s]{0,30})?\bfor\b", re.I
)


_GROUP_OF_LEFT = prefilter(re.compile(r"\b(?:team|group|panel|staff|workforce|crew|board|committee|network)\s+of\s+$", re.I))


_PART_OF = prefilter(re.compile(r"\bof\s+(?:the|these|those)\s+[\d,]+\s+((?:[\w-]+\s+){0,2}[\w-]+)", re.I))


def not_a_fact(ctx: Context, u: Unit, sent: Sentence, next_start: int) -> str | None:
    """Why this figure is not a fact, or None if it may be one."""
    text = ctx.text
    first, last = u.numbers[0], u.numbers[-1]
    left_at = max(sent.start, first.span_start - 60)  # left: text[left_at : first.span_start]
    num_at = max(sent.start, first.start - 60)  # left_num: text[num_at : first.start]
    left_num = text[num_at : first.start]
    right = text[last.end : min(sent.end, last.end + 80)]
    reason = ctx.lay.furniture_reason(u.start, u.end)
    if reason:
        return reason
    if last.end == len(text) and _TRUNCATED_LEFT.search(left_num):
        return "truncated at the end of the text"
    if u.count is not None and u.share is None:
        n = first
        if not n.spelled and "," not in n.surface and "." not in n.surface and 1900 <= n.value <= 2100 and not n.surface.lower().endswith(("m", "k", "n", "illion", "thousand")):
            cls, _ = noun_after(text, n.end, sent.end)
            if cls != "measure":
                return "year"
    # most figures have none of the cues below on their right: one match of the union rules them all out
    cued_right = _RIGHT_CUES.match(right) is not None
    if (cued_right and _TIME_RIGHT.match(right)) or _TIME_LEFT.search(left_num[-2:]):
        return "time of day"
    if ctx.search_in(_MONEY_LEFT, num_at, first.start) or (cued_right and _MONEY_RIGHT.match(right)):
        return "money"
    if not first.spelled and first.surface[:1] == "0" and len(_NOT_DIGIT.sub("", first.surface)) >= 3 and "." not in first.surface:
        return "phone number or code"
    if not first.spelled and _PHONE_LEFT.search(text[max(sent.start, first.start - 20) : first.start]):
        return "phone number or code"  # the later groups of "0808 1000 900"
    if right[:1].isalpha() or _CODE_LEFT.search(left_num[-3:]):
        return "code or reference"
    if ctx.search_in(_REFERENCE_LEFT, num_at, first.start):
        return "reference number, rank or label"
    if ctx.search_in(_AGE_LEFT, num_at, first.start) or (cued_right and (_AGE_RIGHT.match(right) or _YEAR_OLD_RIGHT.match(right))):
        return "age"
    if cued_right:
        if _VOTES_RIGHT.match(right):
            return "votes, comments or ratings"
        if u.count is not None and u.share is None and _DURATION_RIGHT.match(right):
            return "duration"
        if _COMPOUND_RIGHT.match(right):
            return "part of a compound word"
        if _TIMES_RIGHT.match(right):
            return "multiple (times as many)"
    if ctx.search_in(_CHANGE_LEFT, left_at, first.span_start) or (cued_right and _CHANGE_RIGHT.match(right)):
        return "relative change"
    # the clause end is looked for only where a rate may be said before the next figure
    if (
        ctx.scanned.may_match(_RATE, last.end, next_start)
        and ctx.search_in(_RATE, last.end, min(next_start, clause_around(ctx, sent, last.end)[1]))
    ) or ctx.search_in(_EVERY_LEFT, left_at, first.span_start):
        return "rate per time unit"
    if first.spelled and u.share is None:
        if first.value == 1:
            return "the word 'one'"
        if _OR_RIGHT.match(right) or _OR_LEFT.search(text[left_at : first.span_start]):
            return "vague range"
    return None


def share_problem(ctx: Context, u: Unit, sent: Sentence, clause: tuple[int, int], end: int | None = None) -> str | None:
    """Why this share is no fact, or None; ``end``: where the next figure's words begin (default: the sentence end)."""
    text = ctx.text
    first, last = u.numbers[0], u.numbers[-1]
    right = text[last.end : min(sent.end, last.end + 80)]
    if first.form == "fraction" and _BARE_ORDINAL.fullmatch(first.surface):
        return "ordinal word, not a share"  # "its fifth annual report": a fraction needs "a", "one", "two", ...
    if first.form == "fraction" and (
        ctx.search_in(_ORDINAL_LEFT, max(sent.start, first.span_start - 30), first.span_start) or _UNIT_RIGHT.match(right)
    ):
        return "fraction word, not a share"
    if u.count is None and u.share is not None and u.share > 1:
        return "percentage over 100"
    if first.form == "ratio" or last.form == "ratio":
        cls, word = noun_after(text, last.end, sent.end)
        if cls in ("people", "org"):
            return f"share of {word} (out of scope)"
    if _SURVEY_RIGHT.match(right):
        return "survey answer (share of people)"
    of_phrase = _OF_RIGHT.match(right)
    if of_phrase:
        cls, word = noun_after(text, last.end + of_phrase.end() - 1, sent.end)
        if cls == "people":
            return f"share of {word} (out of scope)"
    if ctx.search(AGE_SEX, sent.start, sent.end if end is None else end):
        return "share of victims by age or sex (out of scope)"
    return None


def count_measure(ctx: Context, u: Unit, sent: Sentence, units: list[Unit], k: int) -> tuple[str | None, str | None]:
    """(measure, reason if not a fact) for a count."""
    text = ctx.text
    n = u.numbers[0] if u.count == round(u.numbers[0].value) and not u.numbers[0].is_share else u.numbers[-1]
    cls, word = noun_after(text, n.end, sent.end)
    # an offence named right after the number (hits are in text order, their starts increasing)
    after = bisect_right(ctx.offences, n.end, key=HIT_START)
    named = ctx.offences[after] if after < len(ctx.offences) and ctx.offences[after].start <= n.end + 2 else None
    if named is not None:
        cls2, word2 = noun_after(text, named.end, sent.end)
        inside = measure_in(named.text, 0, len(named.text))
        cls, word = (cls2, word2) if cls2 in ("measure", "people", "org") else ("measure", inside or "offences")
    if cls == "measure":
        return word, None
    if cls == "people":
        if _REPORTED_FOR.match(text[n.end : sent.end]):
            return "reports", None
        return None, f"count of people ({word}): borderline, left out"
    if cls == "org":
        return None, f"count of {word}: police forces, companies or platforms, not offences"
    if cls == "other":
        return None, f"counts {word}: not offences, reports, images or cases"
    if n.spelled:
        return None, "spelled number without a counted noun"
    if ctx.search_in(_GROUP_OF_LEFT, max(sent.start, n.start - 30), n.start):
        return None, "count of people (a team or group of)"
    # a bare number: the counted noun comes from the sentence or its context
    idx = ctx.lay.sentence_at(sent.start)
    if idx in ctx.table_rows:
        header = ctx.table_rows[idx][1]
        return measure_in(header, 0, len(header)) or "reports", None
    prev = [v for v in units[:k] if v.count is not None]
    part = ctx.search_in(_PART_OF, sent.start, n.start)
    if part:
        cls2, word2 = noun_after(text, sent.start + part.start(1) - 1, sent.end)
        if cls2 == "measure":
            return word2, None
        if cls2 in ("org", "people"):
            return None, f"count of {word2} (from '{part.group(0).strip()}')"
    for v in reversed(prev):
        cls2, word2 = noun_after(text, v.numbers[0].end, sent.end)
        if cls2 == "measure":
            return word2, None
        if cls2 in ("org", "people"):
            return None, f"count of {word2} (as the figure before it)"
    measure = measure_in(text, sent.start, n.start) or measure_in(text, n.end, sent.end)
    if measure:
        return measure, None
    if sent.item_of is not None:
        lead = ctx.lay.sentences[sent.item_of]
        measure = measure_in(text, lead.start, lead.end)
        if measure:
            return measure, None
    if idx > 0 and ctx.anaphoric(sent):
        before = ctx.lay.sentences[idx - 1]
        measure = measure_in(text, before.start, before.end)
        if measure:
            return measure, None
    return None, "no counted noun"


def is_on_topic(ctx: Context, sent: Sentence, idx: int) -> bool:
    """About child sexual abuse: said in the sentence, or the document is and the sentence is about nothing else."""
    if ctx.topic_counts[idx]:
        return True
    if ctx.search(_OFF_TOPIC, sent.start, sent.end):
        return False
    if ctx.on_topic:
        return True
    if sent.is_item or idx in ctx.table_rows:
        if sent.item_of is not None and ctx.topic_counts[sent.item_of]:
            return True
        return ctx.on_topic
    if idx > 0:
        prev = ctx.lay.sentences[idx - 1]
        if prev.paragraph == sent.paragraph or ctx.anaphoric(sent):
            return bool(ctx.topic_counts[idx - 1])
    return False

