"""The audit trail: the decision on every number (the mentions) and ``explain``'s text."""

from __future__ import annotations

import math

from pipeline.extractor.context import Context
from pipeline.extractor.figures import Unit
from pipeline.extractor.numbers import find_numbers
from pipeline.extractor.reasons import Reason
from pipeline.extractor.records import Extraction, Mention

Key = tuple[int, int]  # a figure's (start, end)


class Trail:
    """The decision taken on every figure of a document, as the extractor goes: (reason, surface, sentence)."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.decisions: dict[Key, tuple[str, str, int]] = {}  # "" as the reason: a candidate fact
        self.unit_of: dict[Key, Unit] = {}

    def decide(self, u: Unit, reason: str, idx: int, key: Key | None = None) -> None:
        key = key or (u.start, u.end)
        self.unit_of[key] = u
        self.decisions[key] = (reason, self.ctx.text[key[0] : key[1]], idx)

    def add_furniture(self) -> None:
        """Numbers outside the article's sentences, with the layout's reason."""
        ctx = self.ctx
        for a, b, why in ctx.lay.furniture:
            for n in find_numbers(ctx.text, a, b, ctx.scanned):
                key = (n.span_start, n.end)
                if key not in self.decisions:
                    if not (math.isfinite(n.value) and abs(n.value) < 1e15):  # too large to be a count
                        u = Unit([n])
                    else:
                        u = Unit([n], count=None if n.is_share else round(n.value), share=n.value if n.is_share else None)
                    self.decide(u, why, -1, key)  # not in any article sentence

    def mentions(self, fact_of_unit: dict[Key, str], merged: dict[Key, str]) -> list[Mention]:
        text, sentences = self.ctx.text, self.ctx.lay.sentences
        out = []
        for (start, end), (reason, surface, idx) in sorted(self.decisions.items()):
            u = self.unit_of[(start, end)]
            sentence = sentences[idx] if idx >= 0 else None
            kind = "count_share" if u.count is not None and u.share is not None else ("share" if u.share is not None else "count")
            value = u.share if u.count is None else float(u.count)
            fid = fact_of_unit.get((start, end))
            if fid:
                decision, why = "fact", "fact"
            elif not reason:
                decision, why = "dropped", merged.get((start, end), Reason.REPEAT)
            else:
                decision, why = "dropped", reason
            quoted = text[sentence.start : sentence.end] if sentence else None
            out.append(Mention(start, end, surface, value, kind, decision, str(why), fid, quoted))
        return out


def describe(document: str, result: Extraction) -> str:
    """Every number with the decision taken and why, for review (``pipeline explain``)."""
    facts = {f.fact_id: f for f in result.facts}
    lines = [f"# {document}: {len(result.mentions)} numbers, {len(result.facts)} facts"]
    for m in result.mentions:
        if m.fact_id and m.fact_id in facts:
            f = facts[m.fact_id]
            detail = (
                f"FACT  {m.surface!r}: platform={f.platform} count={f.count} share={f.share} qualifier={f.qualifier} "
                f"measure={f.measure} offence={f.offence} region={f.region} source={f.source} year={f.year} "
                f"confidence={f.confidence}\n      from: region={f.region_from} year={f.year_from} offence={f.offence_from} "
                f"source={f.source_from} platform={f.platform_from}\n      quote: {f.quote!r}"
            )
        else:
            detail = f"drop  {m.surface!r}: {m.reason}"
        lines.append(f"{m.char_start:>6}  {detail}")
    return "\n".join(lines)
