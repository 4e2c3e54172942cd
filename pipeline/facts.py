"""Stage 3, normalise: numbers in context -> Fact rows, with the reason for every decision.

``extract_document`` is the extractor's single entry point: one Document in, its
mentions (the audit trail, every number with the decision and why) and facts out.
It is pure (no I/O, no state beyond the loaded taxonomy), so it runs in worker
processes and is cached by (document sha256, EXTRACTOR_VERSION).

How a number becomes a fact:
1. ``segments.layout`` splits the text into sentences and marks page furniture and
   reader comments; ``periods.find_periods`` finds dates and reference periods.
2. ``mentions.find_numbers`` reads every number; adjacent numbers that state one
   figure are joined ("27 (40.2%)", "37,112, or 30%", "a quarter (26.8%) ... - 18").
3. Each figure is tested against the not-a-fact kinds (dates, times, money, ages,
   durations, rates, relative changes, phone numbers, references, votes, counts of
   people, forces or companies, shares of victims by age or sex, survey answers) and
   must be about child sexual abuse and count offences, reports, images or cases.
4. Attributes come from context, nearest first: the number's own clause, its
   sentence, the list it belongs to, the sentences before it, the document.
5. The same figure said twice in one document is one fact.
"""

from __future__ import annotations

import calendar
import hashlib
import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from itertools import islice
from operator import attrgetter
from datetime import date
from typing import Any, NamedTuple

from pipeline.documents import Document
from pipeline.gazetteer import Gazetteers, Hit, gazetteers
from pipeline.mentions import Mention, Number, find_numbers, parse_spelled
from pipeline.metadata.taxonomy import Taxonomy, load_taxonomy
from pipeline.periods import Period, find_periods, published_date
from pipeline.scan import SCANNER, SPACES, ScannedText, matches_at, prefilter
from pipeline.segments import Layout, Sentence, layout

EXTRACTOR_RELEASE = "1.0.0"


def _code_fingerprint() -> str:
    """Hash of the extractor's code and reference data, so any change to them re-extracts (the cache key)."""
    from importlib import resources

    digest = hashlib.sha256()
    package = resources.files("pipeline")
    for name in ("mentions.py", "facts.py", "segments.py", "periods.py", "gazetteer.py", "scan.py"):
        digest.update(package.joinpath(name).read_bytes())
    for folder in ("taxonomy", "aliases"):
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

    def to_row(self) -> dict[str, Any]:
        return dict(vars(self))  # field order; the values are immutable, so no deep copy is needed


@dataclass
class Extraction:
    mentions: list[Mention] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)


def make_fact_id(document: str, char_start: int, char_end: int) -> str:
    """Stable id: the same document path and span always give the same id."""
    return hashlib.sha256(f"{document}\x00{char_start}\x00{char_end}".encode()).hexdigest()[:16]


# ---------------------------------------------------------------- vocabulary

_MEASURE_NOUNS = {
    "offences": "offences", "offence": "offences", "offenses": "offences", "offense": "offences",
    "crimes": "offences", "crime": "offences", "rapes": "offences", "offending": "offences",
    "cases": "cases", "case": "cases", "investigations": "cases", "mentions": "cases", "prosecutions": "cases",
    "incidents": "incidents", "incident": "incidents", "instances": "incidents",
    "reports": "reports", "report": "reports", "referrals": "reports", "tips": "reports", "tip-offs": "reports",
    "disseminations": "reports", "complaints": "reports", "notifications": "reports", "flags": "reports",
    "images": "images", "image": "images", "photos": "images", "photographs": "images", "pictures": "images",
    "videos": "images", "urls": "images", "webpages": "images", "files": "images", "imagery": "images",
    "offenders": "offenders", "perpetrators": "offenders",
}
_PEOPLE_NOUNS = {
    "people", "persons", "person", "individuals", "children", "child", "kids", "victims", "victim", "girls",
    "boys", "adults", "men", "women", "youths", "teenagers", "teens", "pupils", "students", "users", "suspects",
    "arrests", "parents", "members", "staff", "officers", "teachers", "constables", "babies", "billionaires",
    "survivors", "respondents", "youngsters", "minors", "families", "callers", "volunteers", "young", "peers",
    "individual", "mps", "analysts", "investigators", "experts", "households", "adolescents",
}
_ORG_NOUNS = {
    "forces", "force", "companies", "firms", "platforms", "apps", "websites", "sites", "services", "providers",
    "hotlines", "countries", "organisations", "organizations", "charities", "schools", "networks", "agencies",
    "nations", "states", "types", "categories", "areas", "games", "partners", "esps", "businesses", "councils",
    "teams", "units",
}
_STOP_AFTER_NUMBER = frozenset(
    "were was are is had have has in of for from to at on by with and or but which who that where when "
    "than compared between during over since per a an the each this these those it its their they there "
    "recorded reported related involving including made took showed said across among within against about "
    "under after before via through into like than as also not had would could will may being been being "
    "committed logged received identified assessed confirmed found flagged made sent seen where while".split()
)
_VERB = re.compile(
    r"^(?:came|come|comes|went|go|saw|see|took|take|rose|fell|grew|got|gave|led|left|remain(?:ed|s)?|occur(?:red|s)?|"
    r"happen(?:ed|s)?|involv(?:e|ed|es|ing)|includ(?:e|ed|es|ing)|contain(?:ed|s|ing)?|relat(?:e|ed|es|ing)|stem(?:med|s)?|"
    r"featur(?:e|ed|es)|concern(?:ed|s)?|mention(?:ed|s)?|show(?:ed|s)?|reveal(?:ed|s)?|appear(?:ed|s)?|make|makes|"
    r"accounted|account|accounts|referred|linked)$",
    re.I,
)
_TOPIC = prefilter(re.compile(
    r"\bsex(?:ual(?:ly)?)?\b|\bsexting|groom(?:ing|ed|er|ers)\b|indecent|child (?:sex(?:ual)? )?abuse|\bcsa[me]?\b|\bcsea\b|"
    r"ocsae?|exploitation|exploited|paedophil|pedophil|child porn|\brapes?\b|sextortion|intimate image|cybertip|"
    r"abuse (?:images|imagery|material|content)|illegal (?:content|material|images)|enticement|trafficking|molestation",
    re.I,
))
_OFF_TOPIC = prefilter(re.compile(
    r"\b(?:fraud|domestic (?:abuse|violence)|burglar|theft|robber|drugs?|murders?|homicides?|knife|violent crime|"
    r"overall (?:recorded )?crimes?|all crimes?|total crimes?|road|traffic|suicide|self-harm|bullying|scams?|hate crime|"
    r"terror|smartphones?|calls|mental health|petition|games? console)",
    re.I,
))
_ONLINE = prefilter(re.compile(
    r"\bonline\b|\binternet\b|\bcyber|\bweb\b|\bdigital|\bsocial media\b|\bapps?\b|\bplatforms?\b(?! was)|\bwebsites?\b",
    re.I,
))
# Online cues are searched in a copy of a clause with some names blanked out, at the candidate places
# found in the original text: sound while no prefix holds white space (blanking makes white space, never
# a letter); tests/test_scan.py checks that it holds.
_CHANGE_LEFT = prefilter(re.compile(
    r"(?:\b(?:up|down|rise|rose|risen|rising|increase[sd]?|increasing|decrease[sd]?|decreasing|drop(?:ped|s)?|"
    r"fall(?:en|s|ing)?|fell|grow(?:n|s|ing)?|grew|growth|jump(?:ed|s)?|soar(?:ed|s|ing)?|surge[sd]?|climb(?:ed|s)?|"
    r"decline[sd]?|reduc(?:ed|tion)|hike[sd]?|spike[sd]?|boost(?:ed)?|doubl(?:ed|ing)|cut|change[sd]?)"
    r"(?:\s+by|\s+of)?|\bby)\s+(?:an?\s+|some\s+|about\s+|around\s+|almost\s+|nearly\s+|more\s+than\s+|over\s+|just\s+over\s+)?$",
    re.I,
))
_CHANGE_RIGHT = re.compile(
    r"^\s*(?:\)\s*)?(?:year[\s-]on[\s-]year\s+)?(?:increase|increases|rise|rises|jump|surge|spike|drop|decrease|decline|fall|"
    r"reduction|growth|hike|more|fewer|less|higher|lower|up|down|uplift|change)\b",
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
_AGE_SEX = prefilter(re.compile(r"\b(?:girls?|boys?|female|male|gender|aged|ages)\b", re.I))
_CLAUSE_BREAK = prefilter(re.compile(
    r";|:\s|,\s+and\s+(?=\d)|\s[–—]\s|\s-\s|,\s*(?:while|whereas|but|although|though)\b|\s(?:while|whereas)\s|"
    r"\b(?:saying|warning|adding|claiming)\b",
    re.I,
))
_RELATIVE = prefilter(re.compile(r",\s*(?:which|who)\b[^,;]*,", re.I))
_EXCEPT = prefilter(re.compile(r"\b(?:except|excluding|apart from|other than|with the exception of)\b[^.;]*", re.I))
_ANAPHOR = prefilter(re.compile(
    r"\b(?:these|those|them|the figure|the number|the total|this total|of which)\b|^(?:that|this|it)\s+(?:was|is|represents|marks)\b",
    re.I,
))
_EACH = prefilter(re.compile(r"\b(?:each|both|respectively)\b", re.I))
_RIGHT_PREP = prefilter(re.compile(r"\b(?:on|via|through|over|using|from|to|involving|involved|mentioned|mentioning|named|citing)\s+(?:the\s+)?(?:\w+\s+){0,2}$", re.I))
_OR_OTHER = re.compile(r"^\s+or\s+other\s+$", re.I)
_INCLUDING = re.compile(r"^\s*,?\s*(?:including|such as|like|e\.g\.?)\s", re.I)
_PREV_YEAR = prefilter(re.compile(r"\b(?:the|a)\s+(?:previous|prior|preceding)\s+year\b|\byear\s+(?:before|earlier)\b|\ba year earlier\b", re.I))
_YEARS_AGO = re.compile(r"\b(\w+)\s+years?\s+ago\b", re.I)
_LAST_YEAR = prefilter(re.compile(r"\blast\s+year\b", re.I))
_THIS_YEAR = re.compile(r"\b(?:this|the past|the last)\s+year\b", re.I)
_FIRST_OF_NEW = prefilter(re.compile(
    r"\bfirst\s+(?:(\w+)\s+(months?|years?)|year)\s+(?:of|since|after)\s+(?:a|the)\s+new\s+(?:law|offence|offense)", re.I
))
_BASELINE_LEFT = prefilter(re.compile(r"\b(?:compared (?:to|with)|than|since|on|from|over|versus|vs\.?|launched in|founded in|set up in|introduced in|established in)\s+(?:the\s+)?(?:same\s+period\s+(?:in|of)\s+)?$", re.I))
_SINCE_LEFT = prefilter(re.compile(r"\bsince\s+(?:the\s+)?$", re.I))
_UP_FROM_LEFT = prefilter(re.compile(r"\b(?:up|down|rising|rose|fell|falling|dropped|increased|decreased)?\s*from\s+(?:the\s+)?$", re.I))

_NATIONAL = prefilter(re.compile(r"\bnational(?:ly)?\b|across the country|\bnationwide\b|\ball (?:police )?forces\b|\bevery (?:police )?force\b", re.I))
_LIST_JOINER = re.compile(r"\s*(?:police|constabulary|police service|police force)?\s*(?:,|and|or|&|/|,\s*and|,\s*or|\s)*\s*", re.I)
_LIST_INCLUDING = re.compile(r"\s*,?\s*(?:including|such as|like|e\.g\.?)\s+")
_OWNER_MEMBERS = re.compile(r"\s*[-–—(:,]\s*")
_NOUN_WORDS = re.compile(r"[A-Za-z][A-Za-z'’+-]*|[^\sA-Za-z]")
_MEASURE_WORDS = re.compile(r"[A-Za-z][A-Za-z-]*")
_TRUNCATED_LEFT = re.compile(r"\b(?:from|of|to|by|in|at|for|and|the|a|an|with|than|about|over|was|were|is)\s+$", re.I)
_TIME_RIGHT = re.compile(r"^\s?(?::\d|(?:am|pm|a\.m\.|p\.m\.)\b)", re.I)
_TIME_LEFT = re.compile(r"\d:$")
_NOT_DIGIT = re.compile(r"\D")
_CODE_LEFT = re.compile(r"[A-Za-z]-?$|\d-$|\w\)\($")  # at most three characters: searched in the last three
_YEAR_OLD_RIGHT = re.compile(r"^[\s-]*(?:year|yr)[\s-]*old", re.I)
_COMPOUND_RIGHT = re.compile(r"^-[A-Za-z]")
_TIMES_RIGHT = re.compile(r"^\s*(?:times|fold|-fold)\b", re.I)
# The union of the right-hand cues of _not_a_fact (IGNORECASE only widens _COMPOUND_RIGHT): where it
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
_REGION_AFTER = re.compile(r"\b(?:in|across|throughout|for|from|(?<!followed )by)\s+(?:the\s+)?(?:\w+\s+){0,1}$", re.I)
_OFFENCE_AFTER = re.compile(r"\s+(?:[\w-]+\s+){0,3}(?:of\s+|for\s+|involving\s+|relating to\s+|related to\s+|where\s+)?(?:[\w-]+\s+){0,2}")
_PLUS_AND = re.compile(r",\s*(?:plus|and)\b|\bas well as\b")
_FROM_TO_RIGHT = re.compile(r"\s*(?:\w+\s+){0,3}to\s+")
_TO_LEFT = prefilter(re.compile(r"\bto\s+$"))
_FROM = prefilter(re.compile(r"\bfrom\b"))
_QUOTE_LEAD = re.compile(r"^[\s,;:–—\-(]*(?:and\s+|or\s+|but\s+|while\s+)?")
_QUOTE_TAIL = re.compile(r"[\s,;:–—\-(]*(?:\s(?:and|or|but|while|with|to|from|of|the|a|an))*[\s,;:–—\-(]*$")
_TAIL_CHARS = ",;:–—-(" + "andorbutwhilewithtofromofthea" + SPACES
_NEGATED_LEFT = re.compile(r"\b(?:without|not|no|offline)\s+(?:the\s+|an?\s+)?$", re.I)
_OF_OFFENCE_RIGHT = re.compile(r"^\s*\)?\s*of\s+(?:the\s+|all\s+|these\s+|those\s+)?")
_CHILDREN = prefilter(re.compile(r"\bchild(?:ren)?\b|under[- ]18s?|\bminors?\b", re.I))
_CAPTION = re.compile(r"\s*(?:picture|photograph|photo|image|credit)\s*:", re.I)
_TABLE_LABEL = re.compile(r"[A-Za-z]")
_PERCENT_OPEN = re.compile(r"\s*\(\s*")

_COUNT_SHARE_BETWEEN = re.compile(
    r"^(?:\s*\(\s*|,?\s+or\s+|\s+(?:\w+\s+){0,3}\(\s*|\s*(?:\w+\s+){0,2}[–—-]\s*(?:that[’']s\s+|which is\s+|or\s+)?)$",
    re.I,
)
_SHARE_COUNT_BETWEEN = re.compile(r"^\s*\)?\s*(?:of\s+(?:\w+\s+){0,2})?[–—-]\s*$", re.I)
_SHARE_BASE_BETWEEN = re.compile(r"^\s*\)?\s*of\s+(?:the\s+|all\s+)?$", re.I)
_OFFENCE_FAMILY_MATERIAL = {"child_sexual_abuse_material_reports"}
_ONLINE_VARIANT = {"child_sexual_offences": "online_child_sexual_offences"}
_FALLBACK_BEFORE_START = {"sexual_communication_with_a_child": "sexual_grooming"}
_REGION_RANK = {
    "global": 0, "union": 1, "country": 2, "country_group": 3, "nation": 4, "crown_dependency_group": 5,
    "crown_dependency": 5, "region": 6, "police_force_area": 7, "local_authority": 8,
}


# ---------------------------------------------------------------- data carried while extracting


@dataclass
class Unit:
    """One figure as stated: a count, a share, or both ("27 (40.2%)")."""

    numbers: list[Number]
    count: int | None = None
    share: float | None = None
    qualifier: str = "exact"
    base: int | None = None
    is_base: bool = False  # the "2,097" in "70 per cent of 2,097 cases"
    precise_qualifier: bool = False  # "almost half (48%)": the bracketed figure is the one stated exactly

    # the numbers are in text order and do not overlap

    @property
    def start(self) -> int:
        numbers = self.numbers
        return numbers[0].span_start if len(numbers) == 1 else min([n.span_start for n in numbers])

    @property
    def end(self) -> int:
        return self.numbers[-1].end

    @property
    def number_start(self) -> int:
        return self.numbers[0].start

    @property
    def surface_numbers(self) -> str:
        return " ".join(n.surface for n in self.numbers)


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
    confidence: float
    quote_start: int
    quote_end: int


@dataclass
class Context:
    doc: Document
    text: str
    lay: Layout
    gaz: Gazetteers
    tax: Taxonomy
    periods: list[Period]
    platforms: list[Hit]
    regions: list[Hit]
    offences: list[Hit]
    sources: list[Hit]
    published: date | None
    default_year: int | None
    default_region: str | None
    widest_region: str | None
    default_offence: str | None
    default_source: str | None
    on_topic: bool
    excluded: list[tuple[int, int]]
    table_rows: dict[int, tuple[list[int], str]]  # sentence index -> (years per column, header text)
    topic_counts: list[int]  # topic cues per sentence
    scanned: ScannedText  # the text with the candidate places of every prefiltered pattern
    period_starts: list[int]
    # per-sentence results computed once (keyed by sentence start)
    _numbers: dict[int, list[Number]] = field(default_factory=dict)
    _breaks: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _relatives: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _anaphoric: dict[int, bool] = field(default_factory=dict)

    def in_excluded(self, pos: int) -> bool:
        return any(a <= pos < b for a, b in self.excluded)

    def in_period(self, start: int, end: int) -> bool:
        """Whether a span starts or ends inside a date or period (they are sorted and never overlap)."""
        periods = self.periods
        k = bisect_right(self.period_starts, start) - 1
        if k >= 0 and start < periods[k].end:
            return True
        k = bisect_left(self.period_starts, end) - 1
        return k >= 0 and end <= periods[k].end

    def __post_init__(self) -> None:
        self.search = self.scanned.search  # pattern.search(text, start, end)
        # pattern.search(text[start:end]): the slice as a string of its own ("^", "$" and \\b at its edges)
        self.search_in = self.scanned.search_slice

    def numbers(self, sent: Sentence) -> list[Number]:
        """The numbers of a sentence (shared: do not modify the list)."""
        found = self._numbers.get(sent.start)
        if found is None:
            found = self._numbers[sent.start] = find_numbers(self.text, sent.start, sent.end, self.scanned)
        return found

    def clause_breaks(self, sent: Sentence) -> list[tuple[int, int]]:
        found = self._breaks.get(sent.start)
        if found is None:
            found = self._breaks[sent.start] = [m.span() for m in self.scanned.finditer(_CLAUSE_BREAK, sent.start, sent.end)]
        return found

    def relative_clauses(self, sent: Sentence) -> list[tuple[int, int]]:
        found = self._relatives.get(sent.start)
        if found is None:
            found = self._relatives[sent.start] = [m.span() for m in self.scanned.finditer(_RELATIVE, sent.start, sent.end)]
        return found

    def anaphoric(self, sent: Sentence) -> bool:
        """Whether the sentence refers back ("these", "the figure", "That was ...")."""
        found = self._anaphoric.get(sent.start)
        if found is None:
            found = self._anaphoric[sent.start] = self.search_in(_ANAPHOR, sent.start, sent.end) is not None
        return found


# ---------------------------------------------------------------- helpers


def _hits_in(hits: list[Hit], start: int, end: int) -> list[Hit]:
    """The hits inside [start, end); hit lists are in text order."""
    out = []
    for k in range(bisect_left(hits, start, key=_HIT_START), len(hits)):
        h = hits[k]
        if h.start >= end:
            break
        if h.end <= end:
            out.append(h)
    return out


_HIT_START = attrgetter("start")


def _clause(ctx: Context, sent: Sentence, pos: int) -> tuple[int, int]:
    start, end = sent.start, sent.end
    for a, b in ctx.clause_breaks(sent):
        if b <= pos:
            start = b
        elif a >= pos:
            end = a
            break
    return start, end


def _relative_spans(ctx: Context, sent: Sentence, pos: int) -> list[tuple[int, int]]:
    """Relative clauses (", which ... ,") that do not contain pos: names inside them describe something else."""
    return [(a, b) for a, b in ctx.relative_clauses(sent) if not a <= pos < b]


def _outside(hits: list[Hit], spans: list[tuple[int, int]]) -> list[Hit]:
    return [h for h in hits if not any(a <= h.start < b for a, b in spans)]


def _group(hits: list[Hit], text: str) -> list[list[Hit]]:
    """Adjacent names joined by commas, 'and', 'or', '&' or '/' form one group."""
    groups: list[list[Hit]] = []
    for h in hits:
        if groups:
            between = text[groups[-1][-1].end : h.start]
            owner_group = load_taxonomy().platforms.get(groups[-1][-1].slug, {}).get("kind") == "group"
            if _LIST_JOINER.fullmatch(between) or _LIST_INCLUDING.fullmatch(between) or (owner_group and _OWNER_MEMBERS.fullmatch(between)):
                groups[-1].append(h)
                continue
        groups.append([h])
    return groups


def _platform_of_group(group: list[Hit], text: str, tax: Taxonomy) -> list[str]:
    """Slugs a group of platform names stands for."""
    slugs = [h.slug for h in group]
    groups = [s for s in slugs if tax.platforms.get(s, {}).get("kind") == "group"]
    if groups:
        owner = tax.platforms[groups[0]].get("owner_group")
        g_hit = next(h for h in group if h.slug == groups[0])
        members = [h for h in group if h.start > g_hit.start and h.slug not in groups]
        gap = text[g_hit.end : members[0].start] if members else ""
        if members and gap and gap.isspace():
            # "Facebook owned apps Instagram and WhatsApp": the apps named
            return sorted({h.slug for h in members})
        others = [s for s in slugs if s not in groups and tax.platforms.get(s, {}).get("owner_group") != owner]
        return sorted({groups[0], *others})
    # "messaging app Snapchat": a category named right before a platform is that platform
    kinds = [tax.platforms.get(s, {}).get("kind") for s in slugs]
    if "category" in kinds and len(slugs) > 1:
        specific = [s for s, k in zip(slugs, kinds, strict=True) if k != "category"]
        if specific:
            slugs = specific
    # "social media or other communication platforms": the wider term
    if len(group) == 2 and _OR_OTHER.match(text[group[0].end : group[1].start]):
        slugs = [group[1].slug]
    return sorted(set(slugs))


def _noun_after(text: str, end: int, limit: int) -> tuple[str | None, str | None]:
    """(class, word) of the noun phrase right after a number: measure/people/org/other, or (None, None)."""
    phrase: list[str] = []
    for m in islice(_NOUN_WORDS.finditer(text, end, min(limit, end + 80)), 6):
        w = m.group()
        lw = w.lower().strip("'’")
        if lw in _MEASURE_NOUNS:  # "seven mentions", "100 reports": after a number these are nouns
            phrase.append(lw)
            continue
        if not w[0].isalpha() or lw in _STOP_AFTER_NUMBER or _VERB.match(lw):
            break
        if lw.endswith("ed") and (not phrase or phrase[-1].endswith("s")) and lw not in _PEOPLE_NOUNS:
            break  # "35.9 million came from", "25 analysts reviewed": a verb, not part of the noun
        phrase.append(lw)
    if not phrase:
        return None, None
    head = phrase[-1]
    if head in _MEASURE_NOUNS:
        return "measure", _MEASURE_NOUNS[head]
    if head in _PEOPLE_NOUNS:
        return "people", head
    if head in _ORG_NOUNS:
        return "org", head
    for i, w in enumerate(phrase):
        if w in _MEASURE_NOUNS:
            after = phrase[i + 1] if i + 1 < len(phrase) else ""
            if after in _ORG_NOUNS:  # "offence types", "crime teams"
                return "org", after
            return "measure", _MEASURE_NOUNS[w]
    if any(w in _PEOPLE_NOUNS and w != "child" for w in phrase):  # "child" is mostly a modifier: child abuse
        return "people", head
    if any(w in _ORG_NOUNS for w in phrase):
        return "org", head
    return "other", head


def _measure_in(text: str, start: int, end: int) -> str | None:
    """The last measure noun in text[start:end]."""
    found = None
    for w in _MEASURE_WORDS.findall(text, start, end):
        w = w.lower()
        if w in _MEASURE_NOUNS:
            found = _MEASURE_NOUNS[w]
    return found


# ---------------------------------------------------------------- document context


def _national_region(regions: list[Hit], tax: Taxonomy) -> str | None:
    """What "nationally" means in this document: its most named country or nation."""
    national = [h.slug for h in regions if _REGION_RANK.get(tax.regions[h.slug].get("kind", ""), 9) in (2, 3, 4)]
    if not national:
        return None
    counts = Counter(national)
    return min(counts, key=lambda r: (-counts[r], _REGION_RANK.get(tax.regions[r].get("kind", ""), 9)))


def _document_context(doc: Document, tax: Taxonomy, gaz: Gazetteers, scanned: ScannedText) -> Context:
    text = doc.text
    lay = layout(text, scanned)
    published = doc.published or published_date(text)
    periods = find_periods(text, published, scanned)
    excluded = [(m.start(), m.end()) for m in scanned.finditer(_EXCEPT)]

    def in_body(h: Hit) -> bool:
        return lay.furniture_reason(h.start, h.end) is None

    platforms = [h for h in gaz.platforms.find(text, scanned) if in_body(h)]
    regions = [h for h in gaz.regions.find(text, scanned) if in_body(h) and not any(a <= h.start < b for a, b in excluded)]
    offences = [h for h in gaz.offences.find(text, scanned) if in_body(h)]
    sources = [h for h in gaz.sources.find(text, scanned) if in_body(h)]

    topic_counts = [scanned.count(_TOPIC, s.start, s.end) for s in lay.sentences]

    def in_topical_sentence(pos: int) -> bool:
        i = lay.sentence_at(pos)
        return bool(lay.sentences) and lay.sentences[i].start <= pos < lay.sentences[i].end and topic_counts[i] > 0

    year_counts = _tally(
        p.year for p in periods if p.year and p.kind in ("financial_year", "range", "year_to", "year", "month")
        and lay.furniture_reason(p.start, p.end) is None
        and in_topical_sentence(p.start)
        and not scanned.search_slice(_BASELINE_LEFT, max(0, p.start - 25), p.start)
    )
    if not year_counts:
        year_counts = _tally(
            p.year for p in periods if p.year and p.kind in ("financial_year", "range", "year_to", "year", "month")
            and lay.furniture_reason(p.start, p.end) is None
            and not scanned.search_slice(_BASELINE_LEFT, max(0, p.start - 25), p.start)
        )
    for p in periods:
        if p.year and p.kind in ("financial_year", "range", "year_to") and p.year in year_counts:
            year_counts[p.year] += 1
    if published:
        default_year = published.year
    elif year_counts:
        top = max(year_counts.values())
        default_year = max(y for y, c in year_counts.items() if c == top)
    else:
        default_year = None

    default_region = None
    if regions:
        folded = []
        for group in _group(regions, text):
            slug = _fold_regions({h.slug for h in group})
            if slug:
                folded.append((group[0].start, slug))
        counts = _tally(slug for _, slug in folded)
        if counts:
            default_region = min(counts, key=lambda s: (-counts[s], next(a for a, x in folded if x == s)))
    offence_counts = _tally(h.slug for h in offences)
    default_offence = (
        max(offence_counts, key=lambda s: (offence_counts[s], -next(h.start for h in offences if h.slug == s)))
        if offences
        else None
    )
    source_counts = _tally(h.slug for h in sources)
    default_source = (
        max(source_counts, key=lambda s: (source_counts[s], -next(h.start for h in sources if h.slug == s)))
        if sources
        else None
    )
    topic_hits = sum(topic_counts)
    lead_hits = sum(topic_counts[:3])
    ctx = Context(
        doc=doc, text=text, lay=lay, gaz=gaz, tax=tax, periods=periods, platforms=platforms, regions=regions,
        offences=offences, sources=sources, published=published, default_year=default_year,
        default_region=default_region,
        widest_region=_national_region(regions, tax),
        default_offence=default_offence, default_source=default_source,
        on_topic=topic_hits >= 2 or lead_hits >= 1, excluded=excluded, table_rows={}, topic_counts=topic_counts,
        scanned=scanned, period_starts=[p.start for p in periods],
    )
    _find_tables(ctx)
    return ctx


def _tally(items: Iterable[Any]) -> dict[Any, int]:
    """How often each item occurs, in order of first occurrence (a Counter, without its cost on small inputs)."""
    counts: dict[Any, int] = {}
    for item in items:
        counts[item] = counts.get(item, 0) + 1
    return counts


def _find_tables(ctx: Context) -> None:
    """A line naming two or more years, followed by lines of a label and one number per year."""
    sents = ctx.lay.sentences
    if not sents:
        return
    years_in: dict[int, list[Period]] = {}  # sentence index -> its years, in text order
    for p in ctx.periods:
        if p.kind in ("year", "financial_year"):
            i = ctx.lay.sentence_at(p.start)
            if sents[i].start <= p.start and p.end <= sents[i].end:
                years_in.setdefault(i, []).append(p)
    for i, years in years_in.items():
        s = sents[i]
        if len(years) < 2:
            continue
        others = [n for n in ctx.numbers(s) if not any(p.start <= n.start < p.end for p in years)]
        if others:
            continue
        cols = [p.year for p in years if p.year]
        for j in range(i + 1, min(len(sents), i + 40)):
            row = sents[j]
            nums = [n for n in ctx.numbers(row) if not n.is_share]
            if len(nums) != len(cols) or not _TABLE_LABEL.match(ctx.text[row.start : nums[0].start].strip() or "0"):
                if j > i + 1:
                    break
                continue
            ctx.table_rows[j] = (cols, ctx.text[s.start : s.end])


# ---------------------------------------------------------------- figures


def _units(ctx: Context, numbers: list[Number]) -> list[Unit]:
    """Join numbers that state one figure: '27 (40.2%)', '37,112, or 30%', 'a quarter (26.8%) ... - 18'."""
    text = ctx.text
    units: list[Unit] = []
    for n in numbers:
        if units:
            u = units[-1]
            between = text[u.end : n.span_start]
            last = u.numbers[-1]
            if u.share is not None and u.count is None and n.is_share and last.form in ("fraction", "ratio") and n.form == "percent" and _PERCENT_OPEN.fullmatch(between):
                u.numbers.append(n)
                u.share = n.value
                u.precise_qualifier = True
                continue
            if u.count is not None and u.share is None and n.is_share and _COUNT_SHARE_BETWEEN.match(between):
                u.numbers.append(n)
                u.share = n.value
                continue
            if u.share is not None and u.count is None and not n.is_share and not n.spelled and _SHARE_COUNT_BETWEEN.match(between):
                u.numbers.append(n)
                u.count = round(n.value)
                continue
            if u.share is not None and not n.is_share and _SHARE_BASE_BETWEEN.match(between):
                u.base = round(n.value)
                units.append(Unit([n], count=round(n.value), qualifier=n.qualifier, is_base=True))
                continue
        if n.is_share:
            units.append(Unit([n], share=n.value, qualifier=n.qualifier))
        else:
            units.append(Unit([n], count=round(n.value), qualifier=n.qualifier))
    for u in units:
        u.qualifier = u.numbers[-1].qualifier if u.precise_qualifier else u.numbers[0].qualifier
    return units


def _not_a_fact(ctx: Context, u: Unit, sent: Sentence, next_start: int) -> str | None:
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
            cls, _ = _noun_after(text, n.end, sent.end)
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
        and ctx.search_in(_RATE, last.end, min(next_start, _clause(ctx, sent, last.end)[1]))
    ) or ctx.search_in(_EVERY_LEFT, left_at, first.span_start):
        return "rate per time unit"
    if first.spelled and u.share is None:
        if first.value == 1:
            return "the word 'one'"
        if _OR_RIGHT.match(right) or _OR_LEFT.search(text[left_at : first.span_start]):
            return "vague range"
    return None


def _share_problem(ctx: Context, u: Unit, sent: Sentence, clause: tuple[int, int]) -> str | None:
    text = ctx.text
    first, last = u.numbers[0], u.numbers[-1]
    right = text[last.end : min(sent.end, last.end + 80)]
    if first.form == "fraction" and (
        ctx.search_in(_ORDINAL_LEFT, max(sent.start, first.span_start - 30), first.span_start) or _UNIT_RIGHT.match(right)
    ):
        return "fraction word, not a share"
    if u.count is None and u.share is not None and u.share > 1:
        return "percentage over 100"
    if first.form == "ratio" or last.form == "ratio":
        cls, word = _noun_after(text, last.end, sent.end)
        if cls in ("people", "org"):
            return f"share of {word} (out of scope)"
    if _SURVEY_RIGHT.match(right):
        return "survey answer (share of people)"
    of_phrase = _OF_RIGHT.match(right)
    if of_phrase:
        cls, word = _noun_after(text, last.end + of_phrase.end() - 1, sent.end)
        if cls == "people":
            return f"share of {word} (out of scope)"
    if ctx.search(_AGE_SEX, sent.start, sent.end):
        return "share of victims by age or sex (out of scope)"
    return None


def _count_measure(ctx: Context, u: Unit, sent: Sentence, units: list[Unit], k: int) -> tuple[str | None, str | None]:
    """(measure, reason if not a fact) for a count."""
    text = ctx.text
    n = u.numbers[0] if u.count == round(u.numbers[0].value) and not u.numbers[0].is_share else u.numbers[-1]
    cls, word = _noun_after(text, n.end, sent.end)
    # an offence named right after the number (hits are in text order, their starts increasing)
    after = bisect_right(ctx.offences, n.end, key=_HIT_START)
    named = ctx.offences[after] if after < len(ctx.offences) and ctx.offences[after].start <= n.end + 2 else None
    if named is not None:
        cls2, word2 = _noun_after(text, named.end, sent.end)
        inside = _measure_in(named.text, 0, len(named.text))
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
        return _measure_in(header, 0, len(header)) or "reports", None
    prev = [v for v in units[:k] if v.count is not None]
    part = ctx.search_in(_PART_OF, sent.start, n.start)
    if part:
        cls2, word2 = _noun_after(text, sent.start + part.start(1) - 1, sent.end)
        if cls2 == "measure":
            return word2, None
        if cls2 in ("org", "people"):
            return None, f"count of {word2} (from '{part.group(0).strip()}')"
    for v in reversed(prev):
        cls2, word2 = _noun_after(text, v.numbers[0].end, sent.end)
        if cls2 == "measure":
            return word2, None
        if cls2 in ("org", "people"):
            return None, f"count of {word2} (as the figure before it)"
    measure = _measure_in(text, sent.start, n.start) or _measure_in(text, n.end, sent.end)
    if measure:
        return measure, None
    if sent.item_of is not None:
        lead = ctx.lay.sentences[sent.item_of]
        measure = _measure_in(text, lead.start, lead.end)
        if measure:
            return measure, None
    if idx > 0 and ctx.anaphoric(sent):
        before = ctx.lay.sentences[idx - 1]
        measure = _measure_in(text, before.start, before.end)
        if measure:
            return measure, None
    return None, "no counted noun"


def _on_topic(ctx: Context, sent: Sentence, idx: int) -> bool:
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


def _context_sentences(ctx: Context, idx: int) -> list[Sentence]:
    """Sentences whose names may carry over: the lead-in of a list, earlier sentences of the paragraph,
    and for an anaphoric sentence ("of these", "those cases") the two sentences before it."""
    sents = ctx.lay.sentences
    sent = sents[idx]
    out: list[Sentence] = []
    if sent.item_of is not None:
        out.append(sents[sent.item_of])
    j = idx - 1
    while j >= 0 and sents[j].paragraph == sent.paragraph:
        out.append(sents[j])
        j -= 1
    if ctx.anaphoric(sent):
        out.extend(sents[max(0, j - 1) : j + 1][::-1])
    return out


def _single(hits: list[Hit]) -> str | None:
    slugs = {h.slug for h in hits}
    return next(iter(slugs)) if len(slugs) == 1 else None


def _fold_regions(slugs: set[str]) -> str | None:
    if len(slugs) == 1:
        return next(iter(slugs))
    if {"england", "wales"} <= slugs:
        return "england_and_wales"
    return None


def _choose_region(ctx: Context, sent: Sentence, idx: int, u: Unit, clause: tuple[int, int], seg: tuple[int, int]) -> tuple[str | None, str]:
    """(region, where it came from: sentence | context | default)."""
    region = _region_in_sentence(ctx, sent, u, clause, seg)
    if region is not _NOT_FOUND:
        return region, "sentence"  # type: ignore[return-value]
    if ctx.search(_NATIONAL, sent.start, sent.end):
        return ctx.widest_region, "national"
    for s in _context_sentences(ctx, idx):
        hits = _hits_in(ctx.regions, s.start, s.end)
        if hits:
            folded = _fold_regions({h.slug for h in hits})
            if folded:
                return folded, "context"
    return ctx.default_region, "default"


_NOT_FOUND = object()


def _region_in_sentence(ctx: Context, sent: Sentence, u: Unit, clause: tuple[int, int], seg: tuple[int, int]) -> object:
    text = ctx.text
    rel = _relative_spans(ctx, sent, u.number_start)
    in_sentence = _outside(_hits_in(ctx.regions, sent.start, sent.end), rel)
    if in_sentence:
        right = [h for h in in_sentence if seg[0] <= h.start < seg[1] and h.start >= u.end]
        right = [h for h in right if _REGION_AFTER.search(text[u.end : h.start])]
        if right:
            group = next(g for g in _group(in_sentence, text) if right[0] in g)
            return _fold_regions({h.slug for h in group})  # several regions named: None, the figure spans them
        left = [h for h in in_sentence if h.end <= u.start]
        if left:
            groups = _group(left, text)
            nearest = groups[-1]
            folded = _fold_regions({h.slug for h in nearest})
            if folded or len(nearest) > 1:
                return folded
    return _NOT_FOUND


def _choose_offence(ctx: Context, sent: Sentence, idx: int, u: Unit, measure: str | None, clause: tuple[int, int]) -> str | None:
    text = ctx.text
    in_sentence = _hits_in(ctx.offences, sent.start, sent.end)

    def prefer(hits: list[Hit]) -> str | None:
        if not hits:
            return None
        if measure not in ("reports", "images"):
            crimes = [h for h in hits if h.slug not in _OFFENCE_FAMILY_MATERIAL]
            if crimes:
                return crimes[0].slug
        return hits[0].slug

    if in_sentence:
        after = [h for h in in_sentence if h.start >= u.end and _OFFENCE_AFTER.fullmatch(text[u.end : h.start] + " ")]
        if after:
            return prefer(after)
        left = [h for h in in_sentence if h.end <= u.start and h.start >= clause[0]]
        if left:
            return left[-1].slug
        right = [h for h in in_sentence if h.start >= u.end and h.start < clause[1]
                 and not _PLUS_AND.search(text[u.end : h.start])]
        if right:
            return prefer(right)
    for s in _context_sentences(ctx, idx):
        hits = _hits_in(ctx.offences, s.start, s.end)
        if hits:
            return prefer(hits)
    return ctx.default_offence


def _choose_source(ctx: Context, sent: Sentence, idx: int, u: Unit) -> str | None:
    in_sentence = _hits_in(ctx.sources, sent.start, sent.end)
    if in_sentence:
        return min(in_sentence, key=lambda h: abs(h.start - u.start)).slug
    for s in _context_sentences(ctx, idx):
        hits = _hits_in(ctx.sources, s.start, s.end)
        if hits:
            return hits[0].slug
    return ctx.default_source


def _choose_platforms(ctx: Context, sent: Sentence, u: Unit, seg: tuple[int, int]) -> tuple[list[str], list[int]]:
    """(platform slugs, where each was named); ([], []) when none is named. 'Each' gives one slug per platform."""
    text = ctx.text
    rel = _relative_spans(ctx, sent, u.number_start)
    hits = _outside(_hits_in(ctx.platforms, sent.start, sent.end), rel)
    hits = [h for h in hits if not (u.start <= h.start < u.end)]
    if not hits:
        return [], []
    groups = _group(hits, text)
    right = [g for g in groups if u.end <= g[0].start < seg[1] and ctx.search_in(_RIGHT_PREP, u.end, g[0].start)]
    chosen = right[0] if right else None
    if chosen is None:
        left = [g for g in groups if g[-1].end <= u.start]
        if left:
            chosen = left[-1]
    if chosen is None:
        return [], []
    slugs = _platform_of_group(chosen, text, ctx.tax)
    each = (
        len(slugs) > 1
        and ctx.search_in(_EACH, chosen[-1].end, min(sent.end, u.end + 30)) is not None
        and not _INCLUDING.match(text[chosen[-1].end : chosen[-1].end + 15])
    )
    if each:
        starts = []
        for s in slugs:
            starts.append(next(h.start for h in chosen if h.slug == s))
        return slugs, starts
    return ["+".join(slugs)], [chosen[0].start]


def _period_for(ctx: Context, sent: Sentence, idx: int, u: Unit, seg: tuple[int, int], lseg: tuple[int, int], offence: str | None, units_after: list[Unit]) -> tuple[date | None, date | None, int | None]:
    text = ctx.text
    if idx in ctx.table_rows:
        cols, _ = ctx.table_rows[idx]
        nums = [n for n in ctx.numbers(sent) if not n.is_share]
        for col, n in zip(cols, nums, strict=False):
            if n.start == u.numbers[0].start:
                return date(col, 1, 1), date(col, 12, 31), col
    own = [p for p in ctx.periods if seg[0] <= p.start < seg[1] and p.kind != "date" and not ctx.search_in(_BASELINE_LEFT, max(0, p.start - 25), p.start)]
    relation = ctx.search_in(_PREV_YEAR, seg[0], seg[1]) or ctx.search_in(_UP_FROM_LEFT, max(sent.start, u.start - 20), u.start)
    if not own and not relation and lseg[0] == _clause(ctx, sent, u.start)[0]:
        own = [p for p in ctx.periods if lseg[0] <= p.start < lseg[1] and p.kind != "date"]
        own = own[-1:]
    if own:
        return _dates_of(ctx, own[0])
    reference_year = ctx.default_year
    main = [p for p in ctx.periods if sent.start <= p.start < seg[1] and p.kind != "date" and p.year
            and not ctx.search_in(_BASELINE_LEFT, max(0, p.start - 25), p.start)]
    if main:
        reference_year = main[-1].year
    window = text[seg[0] : seg[1]] + " " + text[lseg[0] : lseg[1]]
    if ctx.search_in(_PREV_YEAR, seg[0], seg[1]) and reference_year:
        return None, None, reference_year - 1
    ago = _YEARS_AGO.search(window) if "ago" in window.lower() else None
    if ago and reference_year:
        n = int(ago.group(1)) if ago.group(1).isdigit() else parse_spelled(ago.group(1))
        if n:
            return None, None, reference_year - n
    if _LAST_YEAR.search(window):
        year = ctx.published.year - 1 if ctx.published else ctx.default_year
        return None, None, year
    first_new = ctx.search(_FIRST_OF_NEW, sent.start, sent.end)
    if first_new and offence in ctx.gaz.offence_start:
        begin = ctx.gaz.offence_start[offence]
        if first_new.group(2) and first_new.group(2).lower().startswith("month"):
            n = int(first_new.group(1)) if first_new.group(1).isdigit() else (parse_spelled(first_new.group(1)) or 12)
        else:
            n = 12
        month = begin.month + n - 1
        year = begin.year + (month - 1) // 12
        month = (month - 1) % 12 + 1
        last = date(year, month, calendar.monthrange(year, month)[1])
        return begin, last, last.year
    # "dropped from 96 to 79": the first figure is the earlier period
    if units_after and ctx.search_in(_UP_FROM_LEFT, max(sent.start, u.start - 20), u.start) and reference_year:
        nxt = units_after[0]
        if _FROM_TO_RIGHT.fullmatch(text[u.end : nxt.start]):
            return None, None, reference_year - 1
    if ctx.search_in(_TO_LEFT, max(sent.start, u.start - 10), u.start) and ctx.search_in(_FROM, sent.start, u.start):
        return None, None, ctx.default_year  # "went from 668 in 2021/22 to 765": the later figure is the current one
    if main:
        return _dates_of(ctx, main[-1])
    if sent.item_of is not None:
        lead = ctx.lay.sentences[sent.item_of]
        ps = [p for p in ctx.periods if lead.start <= p.start < lead.end and p.kind != "date" and p.year]
        if ps:
            return _dates_of(ctx, ps[-1])
    return None, None, None  # the document's reference year is filled in later


def _dates_of(ctx: Context, p: Period) -> tuple[date | None, date | None, int | None]:
    """A period's dates; "since 2017/18" runs to the document's date."""
    if ctx.search_in(_SINCE_LEFT, max(0, p.start - 10), p.start):
        ref = ctx.published or (date(ctx.default_year, 12, 31) if ctx.default_year else None)
        return p.first, ref, ref.year if ref else None
    return p.first, p.last, p.year


def _quote_span(ctx: Context, sent: Sentence, u: Unit, lseg_start: int, seg_end: int, platform_start: int | None) -> tuple[int, int]:
    text = ctx.text
    start = min(lseg_start, u.start)
    if platform_start is not None and sent.start <= platform_start < start:
        start = platform_start
    end = max(u.end, seg_end)
    # trim to words and drop dangling joiners at either edge
    quote = text[start:end]
    lead = _QUOTE_LEAD.match(quote)
    start += lead.end() if lead else 0
    # the dangling tail holds nothing but _TAIL_CHARS, so no match starts before them: search from there
    piece = text[start:end]
    tail = _QUOTE_TAIL.search(piece, len(piece.rstrip(_TAIL_CHARS)))
    if tail and start + tail.start() >= u.end:
        end = start + tail.start()
    end = max(end, u.end)
    if text[end - 1 : end] == "(":
        end -= 1
    return start, end


# ---------------------------------------------------------------- the entry point


def prepare(taxonomy: Taxonomy | None = None) -> None:
    """Build the gazetteers and the scanner now (else the first document pays), e.g. before forking workers."""
    gazetteers(taxonomy or load_taxonomy())
    SCANNER.scan("")


def extract_document(doc: Document, taxonomy: Taxonomy | None = None, *, audit: bool = True) -> Extraction:
    """All mentions (with decisions) and facts of one document; ``audit=False`` leaves the mentions out."""
    tax = taxonomy or load_taxonomy()
    gaz = gazetteers(tax)  # before the scan: the gazetteers' patterns join the scanner when first built
    scanned = SCANNER.scan(doc.text)
    if not audit and not scanned.may_match(_TOPIC, 0, len(doc.text)):
        # Not one cue of the topic anywhere, so no sentence is about it and no number can be a fact.
        # (Only without the audit trail: its reasons need the other tests run on every number.)
        return Extraction()
    ctx = _document_context(doc, tax, gaz, scanned)
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
        all_units = _units(ctx, [n for n in numbers if n not in dated])
        first_reasons = {}
        for k, u in enumerate(all_units):
            next_start = all_units[k + 1].start if k + 1 < len(all_units) else sent.end
            first_reasons[id(u)] = _not_a_fact(ctx, u, sent, next_start)
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
            prev_end = units[k - 1].end if k > 0 else sent.start
            reason = None
            clause = _clause(ctx, sent, u.number_start)
            seg = (u.end, min(next_start, clause[1]))
            lseg = (max(prev_end, clause[0]), u.start)
            measure = None
            if u.count is not None:
                measure, reason = _count_measure(ctx, u, sent, units, k)
            if reason is None and u.share is not None:
                reason = _share_problem(ctx, u, sent, clause)
            elif reason is None and ctx.search(_AGE_SEX, clause[0], clause[1]):
                reason = "count of victims by age or sex (out of scope)"
            if reason is None and not _on_topic(ctx, sent, idx):
                reason = "not about child sexual abuse"
            if reason is not None:
                decisions[key] = (reason, text[u.start : u.end], idx)
                continue
            platforms, p_starts = _choose_platforms(ctx, sent, u, seg)
            if u.is_base:
                platforms, p_starts = [], []
            offsets = ctx.scanned.starts_in(_ONLINE, clause[0], clause[1])
            if offsets is not None and not offsets:
                online = False  # no online cue can start in the clause: no need to blank names out of it
            else:
                rel = _relative_spans(ctx, sent, u.number_start)
                named = rel + [(h.start, h.end) for h in _hits_in(ctx.platforms, clause[0], clause[1])]
                chars = list(text[clause[0] : clause[1]])
                for a, b in named:
                    lo, hi = max(a, clause[0]) - clause[0], min(b, clause[1]) - clause[0]
                    if lo < hi:
                        chars[lo:hi] = " " * (hi - lo)
                clause_text = "".join(chars)
                online = any(
                    not _NEGATED_LEFT.search(clause_text[max(0, m.start() - 12) : m.start()])
                    for m in (_ONLINE.finditer(clause_text) if offsets is None else matches_at(_ONLINE, clause_text, [p - clause[0] for p in offsets]))
                )
            if not platforms:
                platforms, p_starts = (["online_any"] if online else ["all_platforms"]), [None]  # type: ignore[list-item]
            if u.share is not None and u.count is None and platforms == ["all_platforms"]:
                of_offence = _OF_OFFENCE_RIGHT.match(text[u.end : u.end + 20])
                if not of_offence and not ctx.anaphoric(sent):
                    decisions[key] = ("share with nothing it is a share of", text[u.start : u.end], idx)
                    continue
            if measure is None and u.share is not None:
                measure = _measure_in(text, u.end, seg[1] + 40) or _measure_in(text, sent.start, sent.end)
            offence = _choose_offence(ctx, sent, idx, u, measure, clause)
            period = _period_for(ctx, sent, idx, u, seg, lseg, offence, units[k + 1 :])
            if offence in _ONLINE_VARIANT and (online or any(p not in ("all_platforms",) for p in platforms)):
                matched = [h for h in _hits_in(ctx.offences, sent.start, sent.end) if h.slug == offence]
                if matched and "exploitation" in matched[0].text.lower():
                    offence = "online_child_sexual_exploitation"
                else:
                    offence = _ONLINE_VARIANT[offence]
            if offence == "sexual_crimes" and ctx.search_in(_CHILDREN, clause[0], clause[1]):
                offence = "online_child_sexual_offences" if online else "child_sexual_offences"
            region, region_how = _choose_region(ctx, sent, idx, u, clause, seg)
            source = _choose_source(ctx, sent, idx, u)
            confidence = 0.55
            confidence += 0.1 if _hits_in(ctx.offences, sent.start, sent.end) else 0
            confidence += 0.1 if _hits_in(ctx.sources, sent.start, sent.end) else 0
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
                q_start, q_end = _quote_span(ctx, sent, u, sent.start if idx in ctx.table_rows else lseg[0], seg[1], p_start)
                candidates.append(
                    Candidate(u, idx, [slug], [p_start] if p_start is not None else [], measure, region, region_how, offence, source,
                              period, round(min(0.98, max(0.05, confidence)), 2), q_start, q_end)
                )
            decisions[key] = ("", text[u.start : u.end], idx)

    # the document's scope is the widest region its own figures name
    explicit = [c.region for c in candidates if c.region_how in ("sentence", "national") and c.region]
    if explicit:
        scope = min(explicit, key=lambda r: (_REGION_RANK.get(tax.regions[r].get("kind", ""), 9), -explicit.count(r)))
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
        if start and c.period[2] and c.period[2] < start.year and c.offence in _FALLBACK_BEFORE_START:
            c.offence = _FALLBACK_BEFORE_START[c.offence]  # figures from before an offence existed count its predecessor
    facts, fact_of_unit, merged = _merge(ctx, candidates)
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


def _compatible_platforms(tax: Taxonomy, a: str, b: str) -> bool:
    if a == b:
        return True
    ga = {tax.platforms.get(p, {}).get("owner_group") for p in a.split("+")}
    gb = {tax.platforms.get(p, {}).get("owner_group") for p in b.split("+")}
    return len(ga) == 1 and ga == gb and None not in ga and "" not in ga


def _rounds_to(qualifier: str, verbal: float, precise: float) -> bool:
    """Whether 'more than half' (verbal, qualified) is a rounded way of saying the precise share."""
    diff = precise - verbal
    if abs(diff) > 0.05:
        return False
    return {"more_than": diff > 0, "at_least": diff >= 0, "less_than": diff < 0, "up_to": diff <= 0, "about": True}.get(qualifier, False)


def _merge(ctx: Context, candidates: list[Candidate]) -> tuple[list[Fact], dict[tuple[int, int], str], dict[tuple[int, int], str]]:
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
                continue
            same_count = c.unit.count is not None and c.unit.count == k.unit.count
            if c.unit.share is not None and k.unit.share is not None:
                close = abs(c.unit.share - k.unit.share) <= 0.0051
                rounded = verbal(c) and _rounds_to(c.unit.qualifier, c.unit.share, k.unit.share)
                if c.unit.count is None and (close and k.platforms == c.platforms or rounded):
                    dup = k
                elif same_count and close:
                    dup = k
            elif c.unit.share is None and k.unit.share is None and same_count and k.platforms == c.platforms:
                dup = k if (k.period[2] == c.period[2] or None in (k.period[2], c.period[2])) else None
            elif c.unit.share is None and same_count and k.platforms == c.platforms:
                dup = k
            if dup:
                break
        if dup:
            merged[(c.unit.start, c.unit.end)] = f"repeat of the figure at {dup.unit.start}-{dup.unit.end}"
            if c.confidence > dup.confidence and c.unit.share == dup.unit.share and c.unit.count == dup.unit.count:
                kept[kept.index(dup)] = replace(c, quote_start=dup.quote_start, quote_end=dup.quote_end, unit=dup.unit)
            continue
        kept.append(c)
    kept.sort(key=lambda c: (c.quote_start, c.quote_end))
    facts = []
    fact_of_unit: dict[tuple[int, int], str] = {}
    seen_ids: set[str] = set()
    for c in kept:
        fid = make_fact_id(doc.document, c.quote_start, c.quote_end)
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
            )
        )
    return facts, fact_of_unit, merged


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
