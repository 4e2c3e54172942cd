"""Text with its figures marked: the only place that turns document text into HTML.

Every piece of text goes through ``markupsafe.escape``; the only markup added is ours
(``<a>``, ``<mark>``), with hrefs we built from hex page ids. Spans may overlap (two facts'
quotes can share words), so the text is cut at every span boundary and each piece is
rendered on its own with the spans that cover it: no nesting to get wrong.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: str  # "quote" (a fact's quote), "fact" (the number of a fact), "dropped" (a number not kept)
    href: str | None = None  # where the piece links to (a statistic page)
    title: str = ""  # shown on hover
    anchor: str | None = None  # id set on the first piece of the span


def render(text: str, spans: Sequence[Span]) -> Markup:
    """``text`` as HTML with each span marked: quotes tinted and linked, numbers of facts bold and
    linked, dropped numbers in another colour with the reason as the hover title."""
    spans = [s for s in spans if 0 <= s.start < s.end <= len(text)]
    if not spans:
        return Markup(escape(text))
    cuts = sorted({0, len(text), *(s.start for s in spans), *(s.end for s in spans)})
    starting: dict[int, list[tuple[int, Span]]] = {}
    for i, s in enumerate(spans):
        starting.setdefault(s.start, []).append((i, s))
    out: list[str] = []
    anchored: set[str] = set()
    active: list[tuple[int, Span]] = []  # the spans covering the piece, in their order in ``spans``
    for a, b in zip(cuts, cuts[1:], strict=False):
        # every start and end is a cut, so a span covers [a, b) exactly when start <= a < end
        if a in starting:
            active = sorted(active + starting[a], key=lambda t: t[0])
        if active:
            active = [t for t in active if t[1].end > a]
        out.append(_piece(text[a:b], [s for _, s in active], anchored) if active else str(escape(text[a:b])))
    return Markup("".join(out))


def _piece(chunk: str, cover: list[Span], anchored: set[str]) -> str:
    html = str(escape(chunk))
    if not cover:
        return html
    quotes = sorted((s for s in cover if s.kind == "quote"), key=lambda s: (s.end - s.start, s.start))
    numbers = [s for s in cover if s.kind in ("fact", "dropped")]
    number = min(numbers, key=lambda s: s.end - s.start) if numbers else None
    ids = []
    for s in cover:
        if s.anchor and s.anchor not in anchored:
            anchored.add(s.anchor)
            ids.append(s.anchor)
    if number is not None:
        cls = "n-fact" if number.kind == "fact" else "n-drop"
        html = f'<mark class="{cls}" title="{escape(number.title)}">{html}</mark>'
    # one link per piece (links do not nest): the number's own statistic, else the shortest quote's
    link = number if number is not None and number.href else (quotes[0] if quotes and quotes[0].href else None)
    classes = ["q"] + (["q2"] if len(quotes) > 1 else []) if quotes else []
    attrs = f' class="{" ".join(classes)}"' if classes else ""
    title = quotes[0].title if quotes and (number is None or number.kind == "dropped") else ""
    if title and number is None:
        attrs += f' title="{escape(title)}"'
    # two quotes may start at one place: the first id goes on the piece, the others on empty spans before it
    extra = "".join(f'<span id="{escape(anchor)}"></span>' for anchor in ids[1:])
    for anchor in ids[:1]:
        attrs += f' id="{escape(anchor)}"'
    if link is not None:
        return f'{extra}<a href="{escape(link.href)}"{attrs}>{html}</a>'
    if attrs:
        return f"{extra}<span{attrs}>{html}</span>"
    return extra + html


def excerpt(text: str, sentence: str | None, spans: Sequence[Span], start: int, end: int) -> Markup:
    """The sentence of ``text`` holding [start:end], with ``spans`` (offsets in ``text``) marked.

    ``sentence`` (as the extractor recorded it) is looked up in the text around the span; where
    it is not found there verbatim, or is missing, the excerpt is [start:end] itself. Spans are
    clipped to the excerpt.
    """
    lo, hi = start, end
    if sentence:
        pos = text.find(sentence, max(0, start - len(sentence)), end + len(sentence))
        while pos != -1 and not (pos <= start and end <= pos + len(sentence)):
            pos = text.find(sentence, pos + 1, end + len(sentence))
        if pos != -1:
            lo, hi = pos, pos + len(sentence)
    shifted = tuple(
        Span(max(s.start, lo) - lo, min(s.end, hi) - lo, s.kind, s.href, s.title)
        for s in spans
        if s.start < hi and s.end > lo
    )
    return _render_excerpt(text[lo:hi], shifted)


@functools.lru_cache(maxsize=4096)
def _render_excerpt(text: str, spans: tuple[Span, ...]) -> Markup:
    """``render`` for an excerpt, remembered: a sentence that many documents repeat word for word (a press
    release, an agency's copy), cited with the same figure, is rendered once (its spans carry no anchor)."""
    return render(text, spans)
