"""Stage 2, extract: the number grammar. Every number in a text, with its span and value.

Small pure parsers (string in, value out) and one scanner, ``find_numbers``, that
finds digits ("9,477", "300million", "1.2m", "29.3 million"), spelled numbers
("nine", "twelve thousand"), percentages in every spelling ("52%", "52 per cent",
"52 pr cent", "52pc"), fractions ("half", "a third", "two-thirds") and ratios
("one in five", "1 in 7"), with the qualifier written before them ("more than",
"almost", "at least", "up to", "around"). Whether a number is a fact is decided
later, in ``not_facts.py`` and ``attributes.py``, from its context.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.extractor.scan import SCANNER, SPACES, ScannedText, prefilter
from pipeline.metadata.rules import qualifiers


@dataclass(eq=False)  # built by the thousand: a frozen dataclass costs three times as much to make
class Number:
    """A number as written, before any decision about it."""

    start: int  # span of the number itself (qualifier excluded)
    end: int
    surface: str
    value: float  # a share as a fraction; a count as a number
    is_share: bool
    spelled: bool = False  # written in words ("nine", "a third")
    form: str = "digits"  # digits | spelled | percent | fraction | ratio
    qualifier: str = "exact"
    qualifier_start: int | None = None  # where the qualifier words begin, if any

    @property
    def span_start(self) -> int:
        return self.start if self.qualifier_start is None else self.qualifier_start


_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_MULTIPLIERS = {
    "thousand": 1_000, "k": 1_000, "million": 1_000_000, "millions": 1_000_000, "m": 1_000_000, "mn": 1_000_000,
    "mln": 1_000_000, "billion": 1_000_000_000, "bn": 1_000_000_000, "b": 1_000_000_000,
}
_DENOMINATORS = {
    "half": 2, "halves": 2, "third": 3, "thirds": 3, "quarter": 4, "quarters": 4, "fifth": 5, "fifths": 5,
    "sixth": 6, "sixths": 6, "seventh": 7, "sevenths": 7, "eighth": 8, "eighths": 8, "ninth": 9, "ninths": 9,
    "tenth": 10, "tenths": 10,
}

_WORD = "|".join(sorted([*_UNITS, *_TENS], key=len, reverse=True))
_SPELLED = rf"(?:{_WORD})(?:[\s-]+(?:and[\s-]+)?(?:{_WORD}|hundred|thousand|million|billion))*"
_SMALL = rf"(?:\d{{1,3}}|{_WORD})"
# Indian grouping ("1,62,449": lakh and crore) before the thousands grouping
_DIGITS = r"(?:\d{1,2}(?:,\d{2})+,\d{3}(?![\d,])|\d{1,3}(?:,\d{3,4})+|\d+)(?:\.\d+)?"
_PERCENT = r"(?:\s?%|\s?per[\s-]?cent\b|\s?percent\b|\s?pr\s?cent\b|\s?pc\b|\s?p\.c\.)"
_MULT = r"(?:\+?\s?(?:thousand|millions?|billion|mln|mn|bn)\b|(?:k|m|b)\b)"  # "157+ billion": at least
_PLUS = r"(?:\+(?![\d+])|-plus\b)"  # "10,000+", "3,000-plus": that many or more
_NUMBER_DIGITS = rf"(?P<digits>(?<![\w.,])(?P<dnum>{_DIGITS})(?P<dmult>{_MULT})?(?P<dpct>{_PERCENT})?(?P<dplus>{_PLUS})?)"
_NUMBER_SPELLED = rf"(?P<spelled>\b(?P<snum>{_SPELLED})\b(?P<spct>{_PERCENT})?)"

NUMBER_RE = prefilter(re.compile(
    rf"(?P<ratio>\b(?P<rn>{_SMALL})\s+(?:in|out\s+of)\s+(?:every\s+)?(?P<rd>{_SMALL})\b)"
    rf"|(?P<frac>\b(?:(?P<fn>an?|one|two|three|four|five|six|seven|eight|nine)[\s-]+)?(?P<fd>half|halves|thirds?|quarters?|fifths?|sixths?|sevenths?|eighths?|ninths?|tenths?)\b)"
    rf"|{_NUMBER_DIGITS}|{_NUMBER_SPELLED}",
    re.I,
))

# the same without ratios and fractions, for a number that only looked like the start of a ratio
_SINGLE_RE = re.compile(
    r"(?P<ratio>(?!))(?P<rn>(?!))(?P<rd>(?!))(?P<frac>(?!))(?P<fn>(?!))(?P<fd>(?!))"
    rf"|{_NUMBER_DIGITS}|{_NUMBER_SPELLED}",
    re.I,
)

# rules/qualifiers.csv: the phrases, as words (a space stands for any white space), in the order tried
_QUALIFIERS = [
    (q.name, "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in q.phrases)) for q in qualifiers() if q.phrases
]
# a word boundary before the words; "~" needs none ("about ~640" and "~640" alike)
_QUALIFIER_RE = prefilter(re.compile(
    r"(?:" + "|".join(f"(?P<{name}>(?:\\b|(?=~))(?:{pattern}))" for name, pattern in _QUALIFIERS) + r")[\s-]*$",
    re.I,
))


_QUALIFIER_ENDINGS = tuple(sorted({p.split()[-1].lower() for q in qualifiers() for p in q.phrases}))  # what the text before a number must end in
_SPACE_OR_HYPHEN = "-" + SPACES


def parse_spelled(words: str) -> int | None:
    """'twelve thousand' -> 12000; 'twenty-five' -> 25; None if it is not a number."""
    total, current = 0, 0
    seen = False
    for word in re.split(r"[\s-]+", words.lower()):
        if word == "and" or not word:
            continue
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
    return total + current if seen else None


def _small(text: str) -> int | None:
    return int(text) if text.isdigit() else parse_spelled(text)


def parse_count(text: str) -> int | None:
    """A count as written: '9,477' -> 9477, '300million' -> 300000000, '1.2m' -> 1200000, 'nine' -> 9."""
    m = NUMBER_RE.fullmatch(text.strip())
    if not m or m.group("ratio") or m.group("frac") or m.group("dpct") or m.group("spct"):
        return None
    if m.group("digits"):
        value = float(m.group("dnum").replace(",", ""))
        mult = (m.group("dmult") or "").lstrip("+").strip().lower()
        return round(value * _MULTIPLIERS.get(mult, 1))
    return parse_spelled(m.group("snum"))


def parse_share(text: str) -> float | None:
    """A share as written, as a fraction: '52 pr cent' -> 0.52, 'one in five' -> 0.2, 'a third' -> 0.3333."""
    m = NUMBER_RE.fullmatch(text.strip())
    if not m:
        return None
    return _share_of(m)


def _share_of(m: re.Match[str]) -> float | None:
    if m.group("ratio"):
        num, den = _small(m.group("rn")), _small(m.group("rd"))
        if num is None or not den or num > den:
            return None
        return round(num / den, 4)
    if m.group("frac"):
        fn = (m.group("fn") or "").lower()
        den = _DENOMINATORS[m.group("fd").lower()]
        num = 1 if fn in ("", "a", "an") else _UNITS.get(fn)
        if num is None or num > den:
            return None
        return round(num / den, 4)
    if m.group("dpct"):
        return float(m.group("dnum").replace(",", "")) / 100
    if m.group("spct"):
        value = parse_spelled(m.group("snum"))
        return None if value is None else value / 100
    return None


def qualifier_before(text: str, start: int, limit: int, scanned: ScannedText | None = None) -> tuple[str, int | None]:
    """The qualifier written just before ``start`` ('more than 9,477' -> more_than), and where it begins."""
    window_start = max(limit, start - 40)
    before = text[window_start:start].rstrip(_SPACE_OR_HYPHEN)
    if before.isascii() and not before.lower().endswith(_QUALIFIER_ENDINGS):
        return "exact", None  # (only ASCII: re.IGNORECASE matches a few other letters str.lower() leaves alone)
    m = scanned.search(_QUALIFIER_RE, window_start, start) if scanned else _QUALIFIER_RE.search(text, window_start, start)
    if not m:
        return "exact", None
    for name, _ in _QUALIFIERS:
        if m.group(name):
            return name, m.start(name)
    return "exact", None


def find_numbers(text: str, start: int = 0, end: int | None = None, scanned: ScannedText | None = None) -> list[Number]:
    """Every number in text[start:end], in order, with value and qualifier.

    ``scanned``: the text as scanned by ``scan.SCANNER``, when the caller searches it many times.
    """
    end = len(text) if end is None else end
    scanned = scanned or SCANNER.scan(text)
    out: list[Number] = []
    pos = start
    while True:
        m = scanned.search(NUMBER_RE, pos, end)
        if m is None:
            break
        pos = m.end()
        # the groups are read once each, several in one call: a group lookup by name is not cheap
        ratio, frac = m.group("ratio", "frac")
        if ratio or frac:
            value = _share_of(m)
            if value is None:
                # "38 in 17/18" is a number followed by a date, not a ratio: read the number alone
                single = _SINGLE_RE.match(text, m.start(), end)
                if single is None or not single.group().strip():
                    continue
                m, pos = single, single.end()
                ratio = frac = None  # _SINGLE_RE reads no ratio or fraction
            else:
                form, is_share, spelled = ("ratio" if ratio else "fraction"), True, True
        digits, dnum, dmult, dpct, dplus = m.group("digits", "dnum", "dmult", "dpct", "dplus")
        if ratio or frac:
            pass
        elif digits:
            if dpct:
                value, is_share, form = float(dnum.replace(",", "")) / 100, True, "percent"
            else:
                mult = (dmult or "").lstrip("+").strip().lower()
                value, is_share, form = float(dnum.replace(",", "")) * _MULTIPLIERS.get(mult, 1), False, "digits"
            spelled = False
        else:
            snum, spct = m.group("snum", "spct")
            parsed = parse_spelled(snum)
            if parsed is None:
                continue
            if spct:
                value, is_share, form = parsed / 100, True, "percent"
            else:
                value, is_share, form = float(parsed), False, "spelled"
            spelled = True
        qualifier, q_start = qualifier_before(text, m.start(), start, scanned)
        if qualifier == "exact" and digits and (dplus or (dmult or "").startswith("+")):
            qualifier = "at_least"  # "3,000-plus": the bound is written after the number
        assert value is not None  # a ratio or fraction without a value was read again as a single number above
        # positional: start, end, surface, value, is_share, spelled, form, qualifier, qualifier_start
        out.append(Number(m.start(), m.end(), m.group(), value, is_share, spelled, form, qualifier, q_start))
    return out
