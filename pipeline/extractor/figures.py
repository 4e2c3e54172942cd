"""Figures as stated: adjacent numbers that state one figure joined into a Unit ("27 (40.2%)")."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from pipeline.extractor.context import Context
from pipeline.extractor.numbers import Number

_PERCENT_OPEN = re.compile(r"\s*\(\s*")


_COUNT_SHARE_BETWEEN = re.compile(
    r"^(?:\s*\(\s*|,?\s+or\s+|\s+(?:\w+\s+){0,3}\(\s*|\s*(?:\w+\s+){0,2}[–—-]\s*(?:that[’']s\s+|which is\s+|or\s+)?)$",
    re.I,
)


_SHARE_COUNT_BETWEEN = re.compile(r"^\s*\)?\s*(?:of\s+(?:\w+\s+){0,2})?[–—-]\s*$|^\s*\(\s*$", re.I)


_SHARE_BASE_BETWEEN = re.compile(r"^\s*\)?\s*of\s+(?:the\s+|all\s+)?$", re.I)


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



_MAGNITUDE = re.compile(r"\s*(thousand|million|billion|m|bn|k)\b", re.I)
_MAGNITUDES = {"thousand": 1_000, "k": 1_000, "million": 1_000_000, "m": 1_000_000, "billion": 1_000_000_000, "bn": 1_000_000_000}
_OF_THE = re.compile(r"\s+(?:of|out of)\s+(?:the\s+|a\s+total\s+of\s+)?(?:more than\s+|over\s+|about\s+|around\s+|nearly\s+|almost\s+)?")


def _shared_magnitudes(text: str, numbers: list[Number]) -> list[Number]:
    """'15.9 of the 16 million cases': the first number takes the magnitude word of the second."""
    out = list(numbers)
    for i in range(len(out) - 1):
        a, b = out[i], out[i + 1]
        if a.is_share or b.is_share or a.spelled or a.value >= 1000:
            continue
        if not _OF_THE.fullmatch(text[a.end : b.span_start]):
            continue
        m = _MAGNITUDE.search(b.surface)
        if m is None or b.value < 1000:
            continue
        scale = _MAGNITUDES[m.group(1).lower()]
        if a.value < b.value / scale + 1e-9:
            out[i] = replace(a, value=a.value * scale)
    return out


def join_units(ctx: Context, numbers: list[Number]) -> list[Unit]:
    """Join numbers that state one figure: '27 (40.2%)', '37,112, or 30%', 'a quarter (26.8%) ... - 18'."""
    text = ctx.text
    numbers = _shared_magnitudes(text, numbers)
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
            if (u.share is not None or (u.count is not None and n.value > u.count and not u.numbers[-1].spelled)) \
                    and not n.is_share and _SHARE_BASE_BETWEEN.match(between):
                # "70 per cent of 2,097 cases", "15.9 of the 16 million cases": the second is the base
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

