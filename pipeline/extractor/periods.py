"""Dates and reference periods written in a text.

- ``find_periods(text)``: every period expression with its span and dates:
  financial years ("2023/24", "2015-16", "18/19"), ranges ("April 2017 to March
  2018", "between April 1, 2023 and March 31, 2024", "between 2011 and 2015"),
  "in the year to March 2018", single years ("in 2019") and dates ("15 Oct 2013").
- ``published_date(text)``: the date a document states for itself near its top
  (" date 2018-04-17", "Tuesday, June 21, 2016", "3:47PM BST 15 Oct 2013").

UK financial years run April to March, so "2023/24" ends in 2024.
"""

from __future__ import annotations

import calendar
import re
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date

from pipeline.extractor.scan import SCANNER, ScannedText, prefilter

MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
MONTHS["sept"] = 9
_MONTH = r"(?:january|february|march|april|may|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|sept|sep|oct|nov|dec)\.?"
_YEAR = r"(?:19|20)\d{2}"
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"

# "15 Oct 2013", "1 April 2022", "April 1, 2023", "July 1 2020", "March 31 this year", "October 2019", "March"
_DATE = (
    rf"(?:(?P<@d1>{_DAY})\s+(?P<@m1>{_MONTH})(?:,?\s+(?P<@y1>{_YEAR}|\d{{2}}\b|this\s+year|last\s+year))?"
    rf"|(?P<@m2>{_MONTH})(?:\s+(?P<@d2>{_DAY})(?![\d,]\d))?(?:,?\s+(?P<@y2>{_YEAR}|this\s+year|last\s+year))?"
    rf"|(?P<@y3>{_YEAR}))"
)


def _date_re(prefix: str) -> str:
    return _DATE.replace("@", prefix)

_RANGE_RE = prefilter(re.compile(
    rf"\b(?:(?:between|from)\s+(?:the\s+months\s+of\s+)?)?(?P<a>{_date_re('a')}),?\s+(?:to|and|until|till|through|-|–|—)\s+(?P<b>{_date_re('b')})\b",
    re.I,
))
_FY_RE = prefilter(re.compile(rf"\b(?P<y1>{_YEAR})\s?[/\-–]\s?(?P<y2>\d{{4}}|\d{{2}})\b|(?<![\d/.,])(?P<s1>\d{{2}})/(?P<s2>\d{{2}})(?![\d/])"))
_YEAR_TO_RE = prefilter(re.compile(rf"\b(?:in\s+)?the\s+(?:12\s+months|year)\s+(?:to|up\s+to|ending)\s+(?:the\s+end\s+of\s+)?(?P<m>{_MONTH})(?:\s+(?P<y>{_YEAR}|this\s+year|last\s+year))?", re.I))
_SINGLE_DATE_RE = prefilter(re.compile(rf"\b{_date_re('s')}\b", re.I))
_ISO_RE = prefilter(re.compile(r"\b(?P<y>(?:19|20)\d{2})-(?P<m>[01]\d)-(?P<d>[0-3]\d)\b"))


@dataclass(eq=False)  # built by the thousand: a frozen dataclass costs three times as much to make
class Period:
    start: int  # span in the text
    end: int
    first: date | None  # first day of the period, where known
    last: date | None  # last day of the period, where known
    kind: str  # financial_year | range | year_to | year | date | month

    @property
    def year(self) -> int | None:
        return self.last.year if self.last else None


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _year(text: str | None, reference: date | None) -> int | None:
    if not text:
        return None
    t = text.lower()
    if t.startswith("this"):
        return reference.year if reference else None
    if t.startswith("last"):
        return reference.year - 1 if reference else None
    y = int(t)
    return y + 2000 if y < 100 else y


def _date_parts(m: re.Match[str], p: str, reference: date | None) -> tuple[int | None, int | None, int | None]:
    """(year, month, day) of one _DATE alternative."""
    g = m.groupdict()
    if g.get(f"{p}y3"):
        return int(g[f"{p}y3"]), None, None
    if g.get(f"{p}m1"):
        month = MONTHS[g[f"{p}m1"].lower().rstrip(".")]
        day: int | None = int(re.sub(r"\D", "", g[f"{p}d1"]))
        return _year(g.get(f"{p}y1"), reference), month, day
    month = MONTHS[g[f"{p}m2"].lower().rstrip(".")]
    day = int(re.sub(r"\D", "", g[f"{p}d2"])) if g.get(f"{p}d2") else None
    return _year(g.get(f"{p}y2"), reference), month, day


def _valid_day(year: int, month: int, day: int | None) -> bool:
    return day is None or 1 <= day <= calendar.monthrange(year, month)[1]


def _bound(y: int, m: int | None, d: int | None, *, end: bool) -> date | None:
    if m is None:
        return date(y, 12, 31) if end else date(y, 1, 1)
    if not _valid_day(y, m, d):
        return None
    if d is None:
        return _last_day(y, m) if end else date(y, m, 1)
    return date(y, m, d)


def find_periods(text: str, reference: date | None = None, scanned: ScannedText | None = None) -> list[Period]:
    """Every period or date expression in text, longest first where they overlap, in text order.

    ``scanned``: the text as scanned by ``scan.SCANNER``, if the caller has it already.
    """
    scanned = scanned or SCANNER.scan(text)
    found: list[Period] = []
    # The spans taken never overlap (each is added only where free; ranges are one finditer's matches),
    # so sorted by start they are sorted by end too, and a new span can only meet its two neighbours.
    starts: list[int] = []
    ends: list[int] = []

    def free(a: int, b: int) -> bool:
        k = bisect_right(starts, a)
        return not ((k > 0 and ends[k - 1] > a) or (k < len(starts) and starts[k] < b))

    # the kinds in the order they claim text: ranges first, then the others where the text is free
    readers = ((_RANGE_RE, _range, False), (_YEAR_TO_RE, _year_to, True), (_FY_RE, _financial_year, True),
               (_ISO_RE, _iso_date, True), (_SINGLE_DATE_RE, _single_date, True))
    for pattern, read, only_free in readers:
        for m in scanned.finditer(pattern):
            if only_free and not free(m.start(), m.end()):
                continue
            p = read(m, reference)
            if p is not None:
                found.append(p)
                k = bisect_right(starts, p.start)
                starts.insert(k, p.start)
                ends.insert(k, p.end)
    found.sort(key=lambda p: p.start)
    return found


def _range(m: re.Match[str], reference: date | None) -> Period | None:
    """"between April 2017 and March 2018", "from 2019 to 2021"."""
    ya, ma, da = _date_parts(m, "a", reference)
    yb, mb, db = _date_parts(m, "b", reference)
    if ya is None and ma is None:
        return None
    if yb is None and mb is not None and ya is not None and ma is not None:
        yb = ya if mb >= ma else ya + 1  # "between January and November 2019" style, year on the left only
    if ya is None and yb is not None:
        ya = yb if (ma or 1) <= (mb or 12) else yb - 1  # "between January and November 2019"
    if yb is None:
        return None
    if ya is not None and ma is not None and mb is not None and "this" in (m.group("b") or "").lower():
        # "July 1 2020 and March 31 this year": the first such date after the start
        yb = ya if (mb, db or 31) >= (ma, da or 1) else ya + 1
    first = _bound(ya, ma, da, end=False) if ya is not None else None
    last = _bound(yb, mb, db, end=True)
    if last is None or (first is not None and first > last and ma is None):
        return None
    return Period(m.start(), m.end(), first, last, "range")


def _year_to(m: re.Match[str], reference: date | None) -> Period | None:
    """"the year to March 2018": the twelve months ending with that month."""
    month = MONTHS[m.group("m").lower().rstrip(".")]
    year = _year(m.group("y"), reference)
    if year is None and reference is not None:
        year = reference.year if month <= reference.month else reference.year - 1
    if year is None:
        return None
    last = _last_day(year, month)
    first = date(year - 1, month % 12 + 1, 1) if month < 12 else date(year, 1, 1)
    return Period(m.start(), m.end(), first, last, "year_to")


def _financial_year(m: re.Match[str], reference: date | None) -> Period | None:
    """"2023/24", "2015-16", "18/19" (April to March); "2011-2015" is a range of years."""
    if m.group("y1"):
        y1 = int(m.group("y1"))
        y2s = m.group("y2")
        y2 = int(y2s) if len(y2s) == 4 else (y1 // 100) * 100 + int(y2s)
        if y2 == y1 + 1:
            return Period(m.start(), m.end(), date(y1, 4, 1), date(y2, 3, 31), "financial_year")
        if y1 < y2 <= y1 + 30 and len(y2s) == 4:
            return Period(m.start(), m.end(), date(y1, 1, 1), date(y2, 12, 31), "range")
        return None
    s1, s2 = int(m.group("s1")), int(m.group("s2"))
    if s2 == (s1 + 1) % 100:
        y1 = 2000 + s1
        return Period(m.start(), m.end(), date(y1, 4, 1), date(y1 + 1, 3, 31), "financial_year")
    return None


def _iso_date(m: re.Match[str], reference: date | None) -> Period | None:
    try:
        d = date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
    except ValueError:
        return None
    return Period(m.start(), m.end(), d, d, "date")


def _single_date(m: re.Match[str], reference: date | None) -> Period | None:
    """"15 Oct 2013", "October 2019", "in 2019"."""
    y, mo, d = _date_parts(m, "s", reference)
    if mo is None:
        return Period(m.start(), m.end(), date(y, 1, 1), date(y, 12, 31), "year") if y is not None else None
    if m.group("sm2") and not m.group("sy2") and not m.group("sd2"):
        return None  # a bare month name: "May" is too often a verb; keep only capitalised months with a day or year
    if y is None:
        return Period(m.start(), m.end(), None, None, "date")
    first = _bound(y, mo, d, end=False)
    last = _bound(y, mo, d, end=True)
    if first and last:
        return Period(m.start(), m.end(), first, last, "date" if d else "month")
    return None


_DIGIT = re.compile(r"\d")
_GLUED_DIGIT = re.compile(r"(?<=[A-Za-z])(?=\d)")
_RANGE_WORD_BEFORE = re.compile(r"\b(?:in|since|between|from|to|and|until|by|of)\s*$", re.I)
_SENTENCE_MARK = re.compile(r"[.!?]")


def published_date(text: str, head_chars: int = 600) -> date | None:
    """The date a document states for itself in its first lines, if any.

    A line near the top that is (almost) only a date, optionally with a weekday, a time
    or a label such as "Published" or "date", is taken as the publication date.
    """
    head = text[:head_chars]
    for line in head.split("\n")[:25]:
        if not _DIGIT.search(line):
            continue  # every date taken here has a day and a year in digits
        # "Published date24 August 2023": labels are sometimes glued to the date
        stripped = _GLUED_DIGIT.sub(" ", line.strip())
        iso = _ISO_RE.search(stripped)
        if iso and iso.start() < 12:
            try:
                return date(int(iso.group("y")), int(iso.group("m")), int(iso.group("d")))
            except ValueError:
                pass
        if not stripped or len(stripped) > 120:
            continue
        for m in _SINGLE_DATE_RE.finditer(stripped):
            y, mo, d = _date_parts(m, "s", None)
            if y is None or mo is None or d is None or not _valid_day(y, mo, d):
                continue
            prefix = stripped[: m.start()]
            rest = stripped[m.end() :].strip(" ,.")
            short_prefix = len(prefix) <= 40 and not _RANGE_WORD_BEFORE.search(prefix)
            short_rest = len(rest) <= 25 and not _SENTENCE_MARK.search(rest)
            if short_prefix and short_rest:
                return date(y, mo, d)
    return None
