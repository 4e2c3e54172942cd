"""Not-a-fact rules: why a figure is no fact, each rule in one place.

A rule is a predicate over one figure in its sentence (a ``Look``), written once with its cue
patterns beside it and registered by ``@rule`` with the stage it runs at, its reason (a constant
of ``reasons.Reason``) and a sentence it fires on. ``first_reason(stage, look)`` runs the rules of
a stage in the order they are written here and returns the first reason. A right-hand cue is
declared with ``right=``: the union of the declared cues rules them all out in one match, and a
cue left out of it could never fire, so tests/test_extractor_facts.py runs every rule's example
through ``extract_document`` and requires its reason in the audit trail.

Stages, in the order ``document.extract_document`` runs them:
  figure   every figure on its own (before the figures that may be facts bound each other)
  share    a share that passed ``figure``          count   a count whose counted noun was found
  topic    the sentence is about child sexual abuse  placed  the figure with its platform chosen
What a count counts, and the reasons when nothing fitting is counted, is ``count_measure``.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from pipeline.extractor.context import HIT_START, Context, clause_around
from pipeline.extractor.figures import Unit
from pipeline.extractor.layout import Sentence
from pipeline.extractor.nouns import measure_in, noun_after
from pipeline.extractor.reasons import Reason
from pipeline.extractor.scan import prefilter

STAGES = ("figure", "share", "count", "topic", "placed")


class Look:
    """One figure in its sentence, with the slices of text around it that the rules read."""

    def __init__(
        self,
        ctx: Context,
        u: Unit,
        sent: Sentence,
        idx: int,
        next_start: int,
        clause: tuple[int, int] | None = None,  # the stages after "figure" know the clause,
        seg: tuple[int, int] | None = None,  # the figure's own words on its right,
        next_unit: Unit | None = None,  # and the next figure that may be a fact
    ) -> None:
        self.ctx, self.u, self.sent, self.idx, self.next_start = ctx, u, sent, idx, next_start
        self.clause, self.seg, self.next_unit = clause, seg, next_unit
        self.platforms: list[str] = []  # set before the "placed" stage
        self.text = text = ctx.text
        self.first, self.last = first, last = u.numbers[0], u.numbers[-1]
        self.left_at = max(sent.start, first.span_start - 60)  # left: text[left_at : first.span_start]
        self.num_at = max(sent.start, first.start - 60)  # left_num: text[num_at : first.start]
        self.left_num = text[self.num_at : first.start]
        self.right = text[last.end : min(sent.end, last.end + 80)]

    @cached_property
    def cued_right(self) -> bool:
        """Whether any declared right-hand cue matches: most figures have none, and one match rules them all out."""
        return _RIGHT_CUES.match(self.right) is not None

    def right_is(self, cue: re.Pattern[str]) -> bool:
        return self.cued_right and cue.match(self.right) is not None

    @property
    def is_count(self) -> bool:
        return self.u.count is not None and self.u.share is None


@dataclass(frozen=True)
class Rule:
    stage: str
    reason: Reason
    test: Callable[[Look], bool | str | None]  # True: the reason; a string: that reason (a filled template)
    example: str  # a sentence the rule fires on
    right: tuple[re.Pattern[str], ...] = ()


RULES: list[Rule] = []


def rule(stage: str, reason: Reason, *, example: str, right: tuple[re.Pattern[str], ...] = ()) -> Callable[[Callable[[Look], bool | str | None]], Callable[[Look], bool | str | None]]:
    """Register a not-a-fact rule; the order of registration is the order rules are tried in."""
    if stage not in STAGES:
        raise ValueError(f"unknown stage {stage!r}; expected one of {STAGES}")

    def register(test: Callable[[Look], bool | str | None]) -> Callable[[Look], bool | str | None]:
        RULES.append(Rule(stage, reason, test, example, right))
        return test

    return register


def first_reason(stage: str, look: Look) -> str | None:
    """The reason of the first rule of ``stage`` that fires, or None if the figure may be a fact."""
    for r in _BY_STAGE[stage]:
        found = r.test(look)
        if found:
            return found if isinstance(found, str) else r.reason
    return None


# ---------------------------------------------------------------- stage "figure"


@rule("figure", Reason.PAGE_FURNITURE, example="Police recorded 2,310 grooming offences on Snapchat.\n\n45\n")
def _furniture(f: Look) -> str | None:
    """Reader comments, page furniture, date headers and links (the layout's reason)."""
    return f.ctx.lay.furniture_reason(f.u.start, f.u.end)


_TRUNCATED_LEFT = re.compile(r"\b(?:from|of|to|by|in|at|for|and|the|a|an|with|than|about|over|was|were|is)\s+$", re.I)


@rule("figure", Reason.TRUNCATED, example="The child sexual abuse grooming offences recorded on Snapchat were 340")
def _truncated(f: Look) -> bool:
    return f.last.end == len(f.text) and _TRUNCATED_LEFT.search(f.left_num) is not None


@rule("figure", Reason.YEAR, example="Child sexual abuse grooming offences on Snapchat were filed as 2019x in the records.")
def _year(f: Look) -> bool:
    n = f.first
    if not f.is_count or n.spelled or "," in n.surface or "." in n.surface or not 1900 <= n.value <= 2100:
        return False
    if n.surface.lower().endswith(("m", "k", "n", "illion", "thousand")):
        return False
    return noun_after(f.text, n.end, f.sent.end)[0] != "measure"


_TIME_RIGHT = re.compile(r"^\s?(?::\d|(?:am|pm|a\.m\.|p\.m\.)\b)", re.I)
_TIME_LEFT = re.compile(r"\d:$")


@rule("figure", Reason.TIME, right=(_TIME_RIGHT,), example="The sexual abuse helpline about grooming offences opened at 9:30am on Monday.")
def _time(f: Look) -> bool:
    return f.right_is(_TIME_RIGHT) or _TIME_LEFT.search(f.left_num[-2:]) is not None


_MONEY_LEFT = prefilter(re.compile(r"(?:[$£€¥]|\b(?:US|A|C|NZ|HK)\$|\b(?:USD|GBP|EUR)\s?)\s?$"))
_MONEY_RIGHT = re.compile(r"^\s?(?:dollars|pounds|euros|usd|gbp|eur|in (?:advertising )?credits)\b", re.I)


@rule("figure", Reason.MONEY, right=(_MONEY_RIGHT,), example="The charity spent £4.2m on its campaign against child sexual abuse.")
def _money(f: Look) -> bool:
    return f.ctx.search_in(_MONEY_LEFT, f.num_at, f.first.start) is not None or f.right_is(_MONEY_RIGHT)


_NOT_DIGIT = re.compile(r"\D")


@rule("figure", Reason.PHONE, example="Anyone worried about child sexual abuse can call 0808 800 5000.")
def _phone(f: Look) -> bool:
    s = f.first.surface
    return not f.first.spelled and s[:1] == "0" and len(_NOT_DIGIT.sub("", s)) >= 3 and "." not in s


_PHONE_LEFT = re.compile(r"(?:\+\d{1,3}[\s-]?|(?<![\d,.])0\d{2,4}[\s-])(?:\d{2,4}[\s-])*$")


@rule("figure", Reason.PHONE, example="Anyone worried about child sexual abuse can call 0808 800 5000.")
def _phone_group(f: Look) -> bool:
    """The later groups of "0808 1000 900"."""
    return not f.first.spelled and _PHONE_LEFT.search(f.text[max(f.sent.start, f.first.start - 20) : f.first.start]) is not None


_CODE_LEFT = re.compile(r"[A-Za-z]-?$|\d-$|\d/$|\w\)\($")  # at most three characters: searched in the last three ("71/17": a code)


@rule("figure", Reason.CODE, example="Grooming offences against under-16s on Snapchat were child sexual abuse.")
def _code(f: Look) -> bool:
    return f.right[:1].isalpha() or _CODE_LEFT.search(f.left_num[-3:]) is not None


_REFERENCE_LEFT = prefilter(re.compile(
    r"(?:#|\bno\.|\bnumber|\brule|\bsection|\bs\.|\barticle|\bproposal|\bchannel|\bquarter|\bq|\bpage|\bpages|\bact|"
    r"\bbill|\blevel|\btier|\bcategory|\bphase|\bversion|\bv|\bchapter|\bparagraph|\bclause|\bschedule|\bitem|\bstep|"
    r"\broom|\bflight|\broute|\bcode|\bpo box|\bsuite|\bunit|\bgrade|\bstage|\btop|\bwave)\s*$",
    re.I,
))


@rule("figure", Reason.REFERENCE, example="Section 15 of the act covers sexual grooming offences against children.")
def _reference(f: Look) -> bool:
    return f.ctx.search_in(_REFERENCE_LEFT, f.num_at, f.first.start) is not None


_AGE_LEFT = prefilter(re.compile(
    r"(?:\baged?|\bages|\bage of|as young as|as old as|younger than|older than|\bunder-|\bover-|\bi am|\bi'm|"
    r"\b(?:she|he|i) was|was just|\baged\s+(?:under|over|between|from|up to)|\b(?:aged|ages)\s+(?:between\s+)?\d+\s*(?:to|-|–|and)"
    r"|\b(?:children|child|girls|boys|victims|pupils|youngsters)\s+(?:under|over|below|above))\s*$",
    re.I,
))
_AGE_RIGHT = re.compile(
    r"^(?:[\s-]*(?:years?|yrs?)[\s-]*(?:old|of age)|[\s-]*year[\s-]*olds?|[\s-]*(?:or|and)\s+(?:younger|under|older|over)\b|"
    r"\s*(?:to|-|–|and)\s*\d+[\s-]*(?:years?[\s-]*olds?|year-olds?)|\s+(?:was|were) the (?:most common )?age)",
    re.I,
)
_YEAR_OLD_RIGHT = re.compile(r"^[\s-]*(?:year|yr)[\s-]*old", re.I)


@rule("figure", Reason.AGE, right=(_AGE_RIGHT, _YEAR_OLD_RIGHT), example="A girl aged 13 was groomed on a gaming app, police said after the sexual abuse trial.")
def _age(f: Look) -> bool:
    return f.ctx.search_in(_AGE_LEFT, f.num_at, f.first.start) is not None or f.right_is(_AGE_RIGHT) or f.right_is(_YEAR_OLD_RIGHT)


_VOTES_RIGHT = re.compile(r"^\s*(?:votes?|comments?|likes?|shares?|views?|followers?|stars?|ratings?|clicks?)\b", re.I)


@rule("figure", Reason.VOTES, right=(_VOTES_RIGHT,), example="Reader poll on the grooming story: 48 votes, 12 comments")
def _votes(f: Look) -> bool:
    return f.right_is(_VOTES_RIGHT)


_DURATION_RIGHT = re.compile(
    r"^[\s-]*(?:years?|months?|weeks?|days?|hours?|minutes?|mins|seconds?|decades?|centuries|nights?)\b", re.I
)


@rule("figure", Reason.DURATION, right=(_DURATION_RIGHT,), example="The sexual abuse investigation into grooming offences took 18 months.")
def _duration(f: Look) -> bool:
    return f.u.count is not None and f.u.share is None and f.right_is(_DURATION_RIGHT)


_COMPOUND_RIGHT = re.compile(r"^-[A-Za-z]")


@rule("figure", Reason.COMPOUND, right=(_COMPOUND_RIGHT,), example="The 10-strong child sexual abuse team on Snapchat handled grooming reports.")
def _compound(f: Look) -> bool:
    return f.right_is(_COMPOUND_RIGHT)


_TIMES_RIGHT = re.compile(r"^\s*(?:times|fold|-fold)\b", re.I)


@rule("figure", Reason.MULTIPLE, right=(_TIMES_RIGHT,), example="The platform made 12 times as many reports of child sexual abuse material as its rival.")
def _multiple(f: Look) -> bool:
    return f.right_is(_TIMES_RIGHT)


_CHANGE_LEFT = prefilter(re.compile(
    # "making up 67% of the total" is a share, not a rise
    r"(?:\b(?:(?<!making )(?<!made )(?<!make )(?<!makes )(?<!adding )up|down|rise|rose|risen|rising|increase[sd]?|increasing|decrease[sd]?|decreasing|drop(?:ped|s)?|"
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


@rule("figure", Reason.CHANGE, right=(_CHANGE_RIGHT,), example="Reports of online grooming rose by 27% compared with the year before.")
def _change(f: Look) -> bool:
    return f.ctx.search_in(_CHANGE_LEFT, f.left_at, f.first.span_start) is not None or f.right_is(_CHANGE_RIGHT)


_RATE = prefilter(re.compile(r"\b(?:a|per|each|every)\s+(?:day|week|month|hour|minute|second|fortnight)\b|\bdaily\b", re.I))
_EVERY_LEFT = prefilter(re.compile(r"\bevery\s+$", re.I))


_PER_POPULATION = re.compile(
    r"\bper\s+(?:(?:a|one|every)\s+)?(?:\d[\d,.]*\s*(?:thousand|million)?|hundred|thousand|million|capita|head)\b", re.I
)


@rule("figure", Reason.RATE_POPULATION, example="There were 12 online grooming offences per 100,000 children in Kent.")
def _rate_per_population(f: Look) -> bool:
    """'12 offences per 100,000 children': a rate, optional in the gold; its denominator is no count either."""
    ctx = f.ctx
    right = ctx.text[f.last.end : min(f.sent.end, f.next_start + 25)]
    if _PER_POPULATION.search(right[: (f.next_start - f.last.end) + 25]) and not _CLAUSE_END.search(right[: f.next_start - f.last.end]):
        return True
    return ctx.search_in(_PER_LEFT, max(f.sent.start, f.first.span_start - 12), f.first.span_start) is not None


_PER_LEFT = re.compile(r"\bper\s+(?:every\s+)?$", re.I)
_CLAUSE_END = re.compile(r"[.;:]\s|,\s+(?:and|while|but)\s")


@rule("figure", Reason.RATE, example="Police now record 31 online grooming crimes a day, the charity said.")
def _rate(f: Look) -> bool:
    ctx, last = f.ctx, f.last
    # the clause end is looked for only where a rate may be said before the next figure
    if ctx.scanned.may_match(_RATE, last.end, f.next_start) and ctx.search_in(
        _RATE, last.end, min(f.next_start, clause_around(ctx, f.sent, last.end)[1])
    ):
        return True
    return ctx.search_in(_EVERY_LEFT, f.left_at, f.first.span_start) is not None


@rule("figure", Reason.WORD_ONE, example="One of the grooming offences involved Snapchat, the child sexual abuse charity said.")
def _word_one(f: Look) -> bool:
    return f.first.spelled and f.u.share is None and f.first.value == 1


_OR_RIGHT = re.compile(r"^\s+or\s+\w+")
_OR_LEFT = re.compile(r"\w+\s+or\s+$")


@rule("figure", Reason.VAGUE_RANGE, example="Two or three sexual grooming offences were reported on Snapchat.")
def _vague_range(f: Look) -> bool:
    if not f.first.spelled or f.u.share is not None:
        return False
    return _OR_RIGHT.match(f.right) is not None or _OR_LEFT.search(f.text[f.left_at : f.first.span_start]) is not None


# ---------------------------------------------------------------- stage "share"

_BARE_ORDINAL = re.compile(r"(?:third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|quarter)s?", re.I)


@rule("share", Reason.ORDINAL_WORD, example="The NSPCC published its fifth annual report on child sexual abuse on Snapchat.")
def _bare_ordinal(f: Look) -> bool:
    """"its fifth annual report": a fraction needs "a", "one", "two", ..."""
    return f.first.form == "fraction" and _BARE_ORDINAL.fullmatch(f.first.surface) is not None


_ORDINAL_LEFT = prefilter(re.compile(r"\b(?:the|first|second|last|latter|other|and\s+a)\s+$", re.I))
_UNIT_RIGHT = re.compile(r"^\s+(?:an?\s+)?(?:hour|day|week|month|year|century|decade|dozen|mile|way)\b", re.I)


@rule("share", Reason.FRACTION_WORD, example="The first half of the year saw grooming offences on Snapchat, the child sexual abuse charity said.")
def _fraction_word(f: Look) -> bool:
    first = f.first
    if first.form != "fraction":
        return False
    return f.ctx.search_in(_ORDINAL_LEFT, max(f.sent.start, first.span_start - 30), first.span_start) is not None or _UNIT_RIGHT.match(f.right) is not None


@rule("share", Reason.OVER_100, example="Grooming offences on Snapchat rose to 120% of the child sexual abuse total.")
def _over_100(f: Look) -> bool:
    return f.u.count is None and f.u.share is not None and f.u.share > 1


@rule("share", Reason.SHARE_OF, example="One in five children had seen sexual abuse images on Instagram.")
def _ratio_of_people(f: Look) -> str | None:
    """"one in five children": a ratio of people or organisations."""
    if f.first.form != "ratio" and f.last.form != "ratio":
        return None
    cls, word = noun_after(f.text, f.last.end, f.sent.end)
    return Reason.SHARE_OF.format(word=word) if cls in ("people", "org") else None


_SURVEY_RIGHT = re.compile(
    r"^\s*\)?\s*(?:of\s+(?:them|those|these|respondents|those\s+surveyed)\s+)?(?:said|say|says|reported|admitted|"
    r"told|felt|thought|believed?|agreed|own|owned)\b",
    re.I,
)


@rule("share", Reason.SURVEY, example="Among young people who were sextorted, 22% said they told nobody.")
def _survey(f: Look) -> bool:
    return _SURVEY_RIGHT.match(f.right) is not None


_SURVEY_NAMED = prefilter(re.compile(r"\b(?:survey(?:ed|s)?|poll(?:ed|s)?|questionnaire|respondents)\b", re.I))
_SHARE_OF_MEASURE = re.compile(
    r"^\s*\)?\s*of\s+(?:the\s+|all\s+|these\s+|those\s+)?(?:[\w-]+\s+){0,3}?(?:offences|crimes|reports|referrals|images|videos|cases|incidents)\b",
    re.I,
)


@rule("share", Reason.SURVEY, example="A poll of 2,000 parents found 61% are worried about grooming on social media.")
def _survey_sentence(f: Look) -> bool:
    """A share in a sentence that names the survey or poll it comes from is an answer, unless it is a
    share of offences, reports or images ("a survey of forces found 40% of offences ...")."""
    return (f.ctx.search_in(_SURVEY_NAMED, f.sent.start, f.first.start) is not None
            and _SHARE_OF_MEASURE.match(f.right) is None)


_OF_RIGHT = re.compile(r"^\s*\)?\s*of\s+(?:the\s+|all\s+|those\s+|these\s+|its\s+|their\s+)?")


@rule("share", Reason.SHARE_OF, example="Some 30% of teenagers had seen child sexual abuse images on Instagram.")
def _share_of_people(f: Look) -> str | None:
    """"30% of teenagers": a share of people."""
    of_phrase = _OF_RIGHT.match(f.right)
    if not of_phrase:
        return None
    cls, word = noun_after(f.text, f.last.end + of_phrase.end() - 1, f.sent.end)
    return Reason.SHARE_OF.format(word=word) if cls == "people" else None


AGE_SEX = prefilter(re.compile(
    r"\b(?:girls?|boys?|female|male|gender|aged|ages|years of age|pre-?pubescent|under the age of)\b"
    r"|\b(?:children|victims|pupils)\s+(?:under|over|below)\s+(?:1[0-7]|[1-9])\b",  # an age; "children under 18" is a scope
    re.I,
))


_NEW_PHRASE = re.compile(r",\s+(?:with|while|and)\s")


@rule("share", Reason.SHARE_BY_AGE_SEX, example="Girls were the victims in 78% of the grooming offences recorded.")
def _share_by_age_or_sex(f: Look) -> bool:
    """An age or sex said before the next figure's words, unless the next figure restates this one
    ("three quarters ..., 29,100 or 78%, ..."), and not after ", with" (said of what follows)."""
    u, nxt, clause, seg = f.u, f.next_unit, f.clause, f.seg
    assert clause is not None and seg is not None and u.share is not None
    restated = nxt is not None and nxt.share is not None and abs(nxt.share - u.share) <= 0.06
    age_end = clause[1] if restated else seg[1]
    joined = _NEW_PHRASE.search(f.text, u.end, age_end)
    return f.ctx.search(AGE_SEX, f.sent.start, joined.start() if joined else age_end) is not None


# ---------------------------------------------------------------- stage "count"


@rule("count", Reason.COUNT_BY_AGE_SEX, example="Police recorded 340 grooming offences against girls on Snapchat.")
def _count_by_age_or_sex(f: Look) -> bool:
    clause, seg = f.clause, f.seg
    assert clause is not None and seg is not None
    return f.ctx.search(AGE_SEX, clause[0], max(seg[1], min(clause[1], f.u.end + 40))) is not None


# ---------------------------------------------------------------- stage "topic"

_OFF_TOPIC = prefilter(re.compile(
    r"\b(?:fraud|domestic (?:abuse|violence)|burglar|theft|robber|drugs?|murders?|homicides?|knife|violent crime|"
    r"overall (?:recorded )?crimes?|all crimes?|total crimes?|road|traffic|suicide|self-harm|bullying|scams?|hate crime|"
    r"terror|smartphones?|calls|mental health|petition|games? console)",
    re.I,
))


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


@rule("topic", Reason.OFF_TOPIC, example="Police recorded 5,321 fraud offences and 1,200 burglaries in the county.")
def _off_topic(f: Look) -> bool:
    return not is_on_topic(f.ctx, f.sent, f.idx)


# ---------------------------------------------------------------- stage "placed"

_PARTITIVE_LEFT = re.compile(
    r"\b(?:most|the majority|almost all|nearly all|half|a third|a quarter)\s+of\s+(?:the\s+|all\s+)?(?:[\w-]+\s+){0,4}"
    r"(?:reports|offences|crimes|cases|images|videos|referrals|incidents)\s*\(\s*$",
    re.I,
)


_OF_OFFENCE_RIGHT = re.compile(r"^\s*\)?\s*of\s+(?:the\s+|all\s+|these\s+|those\s+)?")


@rule("placed", Reason.SHARE_OF_NOTHING, example="The NSPCC said 40% was the child sexual abuse figure.")
def _share_of_nothing(f: Look) -> bool:
    """A share on no named platform, not "of" offences and not referring back: a share of what?"""
    u = f.u
    if u.share is None or u.count is not None or f.platforms != ["all_platforms"]:
        return False
    if _PARTITIVE_LEFT.search(f.text[max(f.sent.start, u.start - 60) : u.start]):
        return False  # "most of the sextortion reports (93%)": the bracketed share is of the reports named
    return not _OF_OFFENCE_RIGHT.match(f.text[u.end : u.end + 20]) and not f.ctx.anaphoric(f.sent)


# ---------------------------------------------------------------- the registry, built


def _right_union(rules: list[Rule]) -> re.Pattern[str]:
    """The union of the declared right-hand cues (IGNORECASE only widens a cue: a superset still)."""
    return re.compile("|".join(f"(?:{cue.pattern})" for r in rules for cue in r.right), re.I)


_RIGHT_CUES = _right_union(RULES)
_BY_STAGE: dict[str, list[Rule]] = {stage: [r for r in RULES if r.stage == stage] for stage in STAGES}


# ---------------------------------------------------------------- what a count counts

_REPORTED_FOR = re.compile(
    r"^\s*[\w\s]{0,30}?\b(?:were|was)\s+reported\s+(?:to\s+(?:the\s+)?police\s+)?(?:forces\s+)?(?:[\w\s]{0,30})?\bfor\b", re.I
)
_GROUP_OF_LEFT = prefilter(re.compile(r"\b(?:team|group|panel|staff|workforce|crew|board|committee|network)\s+of\s+$", re.I))
_PART_OF = prefilter(re.compile(r"\bof\s+(?:the|these|those)\s+[\d,]+\s+((?:[\w-]+\s+){0,2}[\w-]+)", re.I))


_OPERATES_LEFT = re.compile(r"\b(?:operates|operated|runs|ran|owns|owned|manages|managed|controls)\s+(?:more than\s+|over\s+|about\s+)?$", re.I)


def _platform_right_after(ctx: Context, end: int) -> bool:
    k = bisect_left(ctx.platforms, end, key=HIT_START)
    return k < len(ctx.platforms) and ctx.platforms[k].start <= end + 2


# "In the year that followed, there were 802.": the counted noun is the sentence before's
_THERE_WERE = re.compile(r"\bthere\s+(?:were|was|had\s+been|have\s+been)\s+(?:a\s+further\s+|another\s+|some\s+)?$", re.I)


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
    if cls == "other" and sent.item_of is not None and _platform_right_after(ctx, n.end):
        cls = None  # "44 Snapchat" under a heading: the platform is the row's label, the counted noun the heading's
    if cls == "measure" and word == "images" and _OPERATES_LEFT.search(text[max(sent.start, n.start - 30) : u.start]):
        return None, Reason.COUNT_OF_ORGS.format(word="websites run by one operator")  # "which operates 18 adult websites"
    if cls == "measure":
        return word, None
    if cls == "people":
        if _REPORTED_FOR.match(text[n.end : sent.end]):
            return "reports", None
        return None, Reason.COUNT_OF_PEOPLE.format(word=word)
    if cls == "org":
        return None, Reason.COUNT_OF_ORGS.format(word=word)
    if cls == "other":
        return None, Reason.COUNTS_OTHER.format(word=word)
    if n.spelled:
        return None, Reason.SPELLED_WITHOUT_NOUN
    if ctx.search_in(_GROUP_OF_LEFT, max(sent.start, n.start - 30), n.start):
        return None, Reason.TEAM_OF
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
            return None, Reason.COUNT_OF_PART.format(word=word2, part=part.group(0).strip())
    for v in reversed(prev):
        cls2, word2 = noun_after(text, v.numbers[0].end, sent.end)
        if cls2 == "measure":
            return word2, None
        if cls2 in ("org", "people"):
            return None, Reason.COUNT_AS_BEFORE.format(word=word2)
    measure = measure_in(text, sent.start, n.start) or measure_in(text, n.end, sent.end)
    if measure:
        return measure, None
    if sent.item_of is not None:
        lead = ctx.lay.sentences[sent.item_of]
        measure = measure_in(text, lead.start, lead.end)
        if measure:
            return measure, None
    there_were = _THERE_WERE.search(text, max(sent.start, n.start - 20), n.start)
    if idx > 0 and (ctx.anaphoric(sent) or (there_were and ctx.lay.sentences[idx - 1].paragraph == sent.paragraph)):
        # the noun of the sentence before, or for a sentence referring back ("Of the 345, 110 ...") of the
        # nearest of the three before that names one
        for before in ctx.lay.sentences[max(0, idx - (3 if ctx.anaphoric(sent) else 1)) : idx][::-1]:
            measure = measure_in(text, before.start, before.end)
            if measure:
                return measure, None
    return None, Reason.NO_COUNTED_NOUN
