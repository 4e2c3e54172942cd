"""Charts as hand-written SVG: no plotting library, no script, no font from elsewhere.

A chart is a scatter of points over years, one colour a series, each point a link to its
statistic's page with the figure as its hover title. Labels are escaped like any other text.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

# Okabe-Ito plus two: distinguishable with the common colour-vision deficiencies.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000", "#8C564B", "#7F7F7F")
OTHER = "#BBBBBB"
WIDTH, HEIGHT = 760, 340
LEFT, RIGHT, TOP, BOTTOM = 64, 190, 16, 40  # the legend sits in the right margin


@dataclass(frozen=True)
class Point:
    x: int  # year
    y: float
    series: str
    href: str
    title: str


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def scatter(
    points: Sequence[Point],
    *,
    label: str,
    y_label: str,
    log: bool = False,
    y_format: Callable[[float], str] = lambda v: f"{v:,.0f}",
    max_series: int = len(PALETTE),
    standalone: bool = False,
) -> Markup:
    """An SVG scatter of ``points`` (x a year). ``log`` puts y on a log scale (counts span 10 to 10^9).

    The ``max_series`` most frequent series get their own colour, the rest are drawn grey as
    "other". ``standalone`` adds the XML namespace so the SVG also works as an image file.
    """
    ns = ' xmlns="http://www.w3.org/2000/svg"' if standalone else ""
    head = (
        f'<svg{ns} class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" fill="#ffffff"/>'
    )
    if log:
        points = [p for p in points if p.y > 0]
    if not points:
        return Markup(head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" font-size="14" fill="#555">no data</text></svg>')
    order = [s for s, _ in sorted(Counter(p.series for p in points).items(), key=lambda kv: (-kv[1], kv[0]))]
    colours = {s: PALETTE[i] for i, s in enumerate(order[:max_series])}
    x0, x1 = float(min(p.x for p in points)), float(max(p.x for p in points))
    x0, x1 = x0 - 0.5, x1 + 0.5  # half a year each side: points of a year sit around it
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    if log:
        lo = math.floor(math.log10(min(p.y for p in points)))
        hi = math.ceil(math.log10(max(p.y for p in points)))
        hi = hi if hi > lo else lo + 1

        def ty(v: float) -> float:
            return TOP + plot_h * (1 - (math.log10(v) - lo) / (hi - lo))

        ticks = [10.0**e for e in range(lo, hi + 1)]
    else:
        top = max(p.y for p in points)
        top = 1.0 if top <= 1 else top * 1.1

        def ty(v: float) -> float:
            return TOP + plot_h * (1 - v / top)

        ticks = [top * i / 5 for i in range(6)]

    def tx(v: float) -> float:
        return LEFT + plot_w * (v - x0) / (x1 - x0)

    parts = [head]
    for t in ticks:  # gridlines and y labels
        y = ty(t)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" stroke="#e5e5e5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11" fill="#444">{escape(y_format(t))}</text>')
    first, last = math.ceil(x0), math.floor(x1)
    step = max(1, math.ceil((last - first) / 12))
    for year in range(first, last + 1, step):
        x = tx(year)
        parts.append(f'<line x1="{x:.1f}" y1="{TOP + plot_h}" x2="{x:.1f}" y2="{TOP + plot_h + 4}" stroke="#444"/>')
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" font-size="11" fill="#444">{year}</text>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#444"/>')
    parts.append(f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#444"/>')
    parts.append(
        f'<text transform="translate(14 {TOP + plot_h / 2:.0f}) rotate(-90)" text-anchor="middle" font-size="12" fill="#222">'
        f"{escape(y_label)}</text>"
    )
    # Points of one year and series side by side, so repeats stay visible.
    seen: Counter[tuple[int, str]] = Counter()
    series_index = {s: i for i, s in enumerate(order)}
    spread = min(0.3, 0.8 / max(1, len(colours) + 1))
    for p in sorted(points, key=lambda p: (series_index[p.series] >= max_series, p.x, series_index[p.series], p.y, p.href)):
        colour = colours.get(p.series, OTHER)
        slot = min(series_index[p.series], max_series)
        offset = (slot - min(len(order), max_series) / 2) * spread / 2
        n = seen[(p.x, p.series)]
        seen[(p.x, p.series)] += 1
        cx, cy = tx(p.x + offset) + (n % 3) * 2, ty(p.y)
        parts.append(
            f'<a href="{escape(p.href)}"><circle cx="{cx:.1f}" cy="{cy:.1f}" r="5" fill="{colour}" fill-opacity="0.85" '
            f'stroke="#fff" stroke-width="1"><title>{escape(p.title)}</title></circle></a>'
        )
    legend = [(s, colours[s]) for s in order[:max_series]]
    if len(order) > max_series:
        legend.append((f"other ({len(order) - max_series})", OTHER))
    for i, (name, colour) in enumerate(legend):
        y = TOP + 8 + i * 18
        short = name if len(name) <= 26 else name[:25] + "…"
        parts.append(f'<circle cx="{LEFT + plot_w + 16}" cy="{y}" r="5" fill="{colour}"/>')
        parts.append(f'<text x="{LEFT + plot_w + 26}" y="{y + 4}" font-size="11" fill="#222">{escape(short)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def compact(v: float) -> str:
    """10, 100, 1k, 10k, ..., 1M, 1bn: short tick labels for a log axis."""
    for size, suffix in ((1e9, "bn"), (1e6, "M"), (1e3, "k")):
        if v >= size:
            return f"{_fmt(v / size)}{suffix}"
    return _fmt(v)


def percent(v: float) -> str:
    return f"{_fmt(v * 100)}%"
