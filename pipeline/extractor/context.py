"""Document context: the layout, names, periods and defaults of one document, and the clause helpers."""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from operator import attrgetter
from typing import Any

from pipeline.documents import Document
from pipeline.extractor.gazetteer import Gazetteers, Hit
from pipeline.extractor.layout import Layout, Sentence, layout
from pipeline.extractor.numbers import Number, find_numbers
from pipeline.extractor.periods import Period, find_periods, published_date
from pipeline.extractor.scan import ScannedText, prefilter
from pipeline.metadata.taxonomy import Taxonomy

TOPIC = prefilter(re.compile(
    r"\bsex(?:ual(?:ly)?)?\b|\bsexting|groom(?:ing|ed|er|ers)\b|indecent|child (?:sex(?:ual)? )?abuse|\bcsa[me]?\b|\bcsea\b|"
    r"ocsae?|exploitation|exploited|paedophil|pedophil|child porn|\brapes?\b|sextortion|intimate image|cybertip|"
    r"abuse (?:images|imagery|material|content)|illegal (?:content|material|images)|enticement|trafficking|molestation",
    re.I,
))


_CLAUSE_BREAK = prefilter(re.compile(
    r";|:\s|,\s+and\s+(?=\d)|\s[–—]\s|\s-\s|,\s*(?:while|whereas|but|although|though)\b|\s(?:while|whereas)\s|"
    r"\b(?:saying|warning|adding|claiming)\b",
    re.I,
))


_RELATIVE = prefilter(re.compile(r",\s*(?:which|who)\b[^,;]*,", re.I))


_EXCEPT = prefilter(re.compile(r"\b(?:except|excluding|apart from|other than|with the exception of)\b[^.;]*", re.I))


_ANAPHOR = prefilter(re.compile(
    r"\b(?:these|those|them|the figures?|the number|the total|this total|of which)\b|^(?:that|this|it)\s+(?:was|is|represents|marks)\b"
    r"|^\W*(?:of|out of)\s+the\s+\d[\d,.]*\s*,",  # "Of the 345, 110 were on Instagram"
    re.I,
))


BASELINE_LEFT = prefilter(re.compile(r"\b(?:compared (?:to|with)|than|since|on|from|over|versus|vs\.?|launched in|founded in|set up in|introduced in|established in)\s+(?:the\s+)?(?:same\s+period\s+(?:in|of)\s+)?$", re.I))


_LIST_JOINER = re.compile(r"\s*(?:police|constabulary|police service|police force)?\s*(?:,|and|or|&|/|,\s*and|,\s*or|\s)*\s*", re.I)


_LIST_INCLUDING = re.compile(r"\s*,?\s*(?:including|such as|like|e\.g\.?)\s+")


_OWNER_MEMBERS = re.compile(r"\s*[-–—(:,]\s*")


_TABLE_LABEL = re.compile(r"[A-Za-z]")


REGION_RANK = {
    "global": 0, "union": 1, "country": 2, "country_group": 3, "nation": 4, "crown_dependency_group": 5,
    "crown_dependency": 5, "region": 6, "police_force_area": 7, "local_authority": 8,
}


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
    title_region: str | None = None  # the one region the document's title names: its default scope
    title_year: int | None = None  # the one reference year the title names ("2021 CyberTipline Report")
    # per-document results computed once, on first use (a figure must not rescan the whole text)
    once: dict[str, Any] = field(default_factory=dict)
    # per-sentence results computed once (keyed by sentence start)
    _numbers: dict[int, list[Number]] = field(default_factory=dict)
    _breaks: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _relatives: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    _anaphoric: dict[int, bool] = field(default_factory=dict)

    def periods_starting_in(self, start: int, end: int) -> list[Period]:
        """The periods that start in [start, end), in text order (bisect: a long text has thousands)."""
        return self.periods[bisect_left(self.period_starts, start) : bisect_left(self.period_starts, end)]

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


def hits_in(hits: list[Hit], start: int, end: int) -> list[Hit]:
    """The hits inside [start, end); hit lists are in text order."""
    out = []
    for k in range(bisect_left(hits, start, key=HIT_START), len(hits)):
        h = hits[k]
        if h.start >= end:
            break
        if h.end <= end:
            out.append(h)
    return out


HIT_START = attrgetter("start")


def clause_around(ctx: Context, sent: Sentence, pos: int) -> tuple[int, int]:
    start, end = sent.start, sent.end
    for a, b in ctx.clause_breaks(sent):
        if b <= pos:
            start = b
        elif a >= pos:
            end = a
            break
    return start, end


def relative_spans(ctx: Context, sent: Sentence, pos: int) -> list[tuple[int, int]]:
    """Relative clauses (", which ... ,") that do not contain pos: names inside them describe something else."""
    return [(a, b) for a, b in ctx.relative_clauses(sent) if not a <= pos < b]


def outside(hits: list[Hit], spans: list[tuple[int, int]]) -> list[Hit]:
    return [h for h in hits if not any(a <= h.start < b for a, b in spans)]


def group_names(hits: list[Hit], text: str, tax: Taxonomy) -> list[list[Hit]]:
    """Adjacent names joined by commas, 'and', 'or', '&' or '/' form one group."""
    groups: list[list[Hit]] = []
    for h in hits:
        if groups:
            between = text[groups[-1][-1].end : h.start]
            owner_group = tax.platforms.get(groups[-1][-1].slug, {}).get("kind") == "group"
            # "Facebook-owned apps (Facebook, Instagram) and Snapchat": the bracket closes the owner's members
            if between.startswith(")") and any(tax.platforms.get(g.slug, {}).get("kind") == "group" for g in groups[-1]):
                between = between[1:]
            if _LIST_JOINER.fullmatch(between) or _LIST_INCLUDING.fullmatch(between) or (owner_group and _OWNER_MEMBERS.fullmatch(between)):
                groups[-1].append(h)
                continue
        groups.append([h])
    return groups


def _national_region(regions: list[Hit], tax: Taxonomy) -> str | None:
    """What "nationally" means in this document: its most named country or nation."""
    national = [h.slug for h in regions if REGION_RANK.get(tax.regions[h.slug].get("kind", ""), 9) in (2, 3, 4)]
    if not national:
        return None
    counts = Counter(national)
    return min(counts, key=lambda r: (-counts[r], REGION_RANK.get(tax.regions[r].get("kind", ""), 9)))


def _jurisdiction_of(region: str | None, tax: Taxonomy) -> str | None:
    """What "nationally" means in a local story that names no country: the nation its area lies in, or the
    group of nations that nation shares its police statistics with (Norfolk -> England -> England and Wales)."""
    seen: set[str] = set()
    while region and region not in seen:
        seen.add(region)
        row = tax.regions.get(region, {})
        if row.get("kind") == "nation":
            parent = row.get("parent") or ""
            return parent if tax.regions.get(parent, {}).get("kind") == "country_group" else region
        region = row.get("parent") or None
    return None


_NOT_A_COMPILER = re.compile(
    r"[’']?s?\s+(?:counting\s+rules|crime\s+classifications?|classifications?|definitions?|guidance|codes?\s+of\s+practice|"
    r"rules|standards|minister|secretary|spokes(?:man|woman|person))\b",
    re.I,
)


_LAW_NAME = re.compile(r"\s*(?:\([A-Z][\w ]*\)\s*)?(?:Act|Bill|Order|Regulations)\b")


def document_context(doc: Document, tax: Taxonomy, gaz: Gazetteers, scanned: ScannedText) -> Context:
    """What the whole document says: its layout, names, periods, topic and the defaults its figures fall back on."""
    text = doc.text
    lay = layout(text, scanned)
    published = doc.published or published_date(text)
    periods = find_periods(text, published, scanned)
    excluded = [(m.start(), m.end()) for m in scanned.finditer(_EXCEPT)]

    def in_body(h: Hit) -> bool:
        return lay.furniture_reason(h.start, h.end) is None

    platforms = [h for h in gaz.platforms.find(text, scanned) if in_body(h)]
    regions = [h for h in gaz.regions.find(text, scanned) if in_body(h) and not any(a <= h.start < b for a, b in excluded)]
    # "the Sexual Offences (Scotland) Act": the name of a law, not an offence the figure counts
    offences = [h for h in gaz.offences.find(text, scanned) if in_body(h) and not _LAW_NAME.match(text, h.end)]
    # "the Home Office counting rules" name a rule book, not the body that compiled the figure
    sources = [h for h in gaz.sources.find(text, scanned) if in_body(h) and not _NOT_A_COMPILER.match(text, h.end)]
    topic_counts = [scanned.count(TOPIC, s.start, s.end) for s in lay.sentences]
    title_region = _title_region(doc.title, gaz, tax)  # the title's region is the default scope
    ctx = Context(
        doc=doc, text=text, lay=lay, gaz=gaz, tax=tax, periods=periods, platforms=platforms, regions=regions,
        offences=offences, sources=sources, published=published,
        default_year=_default_year(lay, periods, scanned, topic_counts, published),
        default_region=title_region or _default_region(regions, text, tax),
        widest_region=_national_region(regions, tax) or _jurisdiction_of(title_region or _default_region(regions, text, tax), tax),
        default_offence=_most_named(offences), default_source=_compiler(sources, text),
        on_topic=sum(topic_counts) >= 2 or sum(topic_counts[:3]) >= 1, excluded=excluded, table_rows={},
        topic_counts=topic_counts, scanned=scanned, period_starts=[p.start for p in periods], title_region=title_region,
        title_year=_title_year(doc.title, published),
    )
    _find_tables(ctx)
    return ctx


def _default_year(lay: Layout, periods: list[Period], scanned: ScannedText, topic_counts: list[int], published: date | None) -> int | None:
    """The document's date, else the year its topical sentences name most (a financial year or range counts twice)."""

    def in_topical_sentence(pos: int) -> bool:
        i = lay.sentence_at(pos)
        return bool(lay.sentences) and lay.sentences[i].start <= pos < lay.sentences[i].end and topic_counts[i] > 0

    year_counts = _tally(
        p.year for p in periods if p.year and p.kind in ("financial_year", "range", "year_to", "year", "month")
        and lay.furniture_reason(p.start, p.end) is None
        and in_topical_sentence(p.start)
        and not scanned.search_slice(BASELINE_LEFT, max(0, p.start - 25), p.start)
    )
    if not year_counts:
        year_counts = _tally(
            p.year for p in periods if p.year and p.kind in ("financial_year", "range", "year_to", "year", "month")
            and lay.furniture_reason(p.start, p.end) is None
            and not scanned.search_slice(BASELINE_LEFT, max(0, p.start - 25), p.start)
        )
    for p in periods:
        if p.year and p.kind in ("financial_year", "range", "year_to") and p.year in year_counts:
            year_counts[p.year] += 1
    if published:
        return published.year
    if year_counts:
        top = max(year_counts.values())
        return max(y for y, c in year_counts.items() if c == top)
    return None


def _default_region(regions: list[Hit], text: str, tax: Taxonomy) -> str | None:
    """The region (or fold of regions named together) named most often; the first named breaks a tie."""
    if not regions:
        return None
    folded = []
    for group in group_names(regions, text, tax):
        slug = fold_regions({h.slug for h in group}, tax)
        if slug:
            folded.append((group[0].start, slug))
    counts = _tally(slug for _, slug in folded)
    if not counts:
        return None
    return min(counts, key=lambda s: (-counts[s], next(a for a, x in folded if x == s)))


_OBTAINED_BY = re.compile(
    r"\b(?:obtained|gathered|collected|compiled|requested|analysed|analyzed|released|published)\s+by\s+(?:the\s+)?$|\baccording\s+to\s+(?:the\s+)?$",
    re.I,
)
_FOI_AFTER = re.compile(r"(?:[’']s)?\s+(?:freedom\s+of\s+information|foi)\b", re.I)


def _compiler(sources: list[Hit], text: str) -> str | None:
    """The document's compiler: the body said to have obtained, compiled or published the figures
    ("PSNI figures obtained by the NSPCC", "according to the NSPCC", "an NSPCC Freedom of Information request")
    when one is, else the body named most."""
    compilers = [h for h in sources if _OBTAINED_BY.search(text, max(0, h.start - 40), h.start) or _FOI_AFTER.match(text, h.end)]
    return _most_named(compilers) or _most_named(sources)


def _most_named(hits: list[Hit]) -> str | None:
    """The slug named most often; the first named breaks a tie."""
    if not hits:
        return None
    counts = _tally(h.slug for h in hits)
    return max(counts, key=lambda s: (counts[s], -next(h.start for h in hits if h.slug == s)))


def _title_year(title: str | None, published: date | None) -> int | None:
    """The year a title names as its period, if it names one and it is not after the document's date."""
    if not title:
        return None
    years = {p.year for p in find_periods(title, published) if p.year and p.kind != "date"}
    year = next(iter(years)) if len(years) == 1 else None
    return year if year and (published is None or year <= published.year) else None


def _title_region(title: str | None, gaz: Gazetteers, tax: Taxonomy) -> str | None:
    """The region a title names ("Grooming offences rise in Cumbria"), if it names one (or England and Wales)."""
    if not title:
        return None
    hits = gaz.regions.find(title)
    groups = group_names(hits, title, tax)
    slugs = {fold_regions({h.slug for h in g}, tax) for g in groups}
    return next(iter(slugs)) if len(slugs) == 1 else None


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


CONTEXT_BACK = 40  # earlier sentences of a paragraph a figure may take names from


def context_sentences(ctx: Context, idx: int) -> list[Sentence]:
    """Sentences whose names may carry over: the lead-in of a list, earlier sentences of the paragraph,
    and for an anaphoric sentence ("of these", "those cases") the two sentences before it."""
    sents = ctx.lay.sentences
    sent = sents[idx]
    out: list[Sentence] = []
    if sent.item_of is not None:
        out.append(sents[sent.item_of])
    j = idx - 1
    # at most CONTEXT_BACK of them: a paragraph of thousands of sentences would make extraction quadratic
    while j >= 0 and sents[j].paragraph == sent.paragraph and idx - j <= CONTEXT_BACK:
        out.append(sents[j])
        j -= 1
    if ctx.anaphoric(sent):
        out.extend(sents[max(0, j - 1) : j + 1][::-1])
    return out


def fold_regions(slugs: set[str], tax: Taxonomy) -> str | None:
    """The one region several named together stand for: itself, or a fold of rules/region_folds.csv ("England and Wales")."""
    if len(slugs) == 1:
        return next(iter(slugs))
    for members, region in tax.rules.region_folds:
        if members <= slugs:
            return region
    return None

