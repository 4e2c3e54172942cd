"""Score extracted facts against gold files, by exactly the rules of the annotation guide.

Per document, predictions are de-duplicated on (platform, count, share rounded to 3
places). A prediction matches a gold fact when its platform is one of the gold
platforms and its values agree: where both give a count the counts are equal, where
both give a share they differ by at most 0.0051, and at least one value is compared.
Matching is one-to-one (a maximum bipartite matching, so the score does not depend on
the order facts come out in).

- precision = matched / predictions that match no optional gold fact
- recall = matched / non-optional gold facts
- attribute accuracy: among matched pairs, the share whose region, offence, year and
  source is each among the gold answers; tuple accuracy: all four at once.

Predictions left unmatched by the required gold facts but compatible with an optional
one are neutral: they count neither for nor against.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SHARE_TOLERANCE = 0.0051
# "differ by at most 0.0051": a float difference such as 0.5251 - 0.52 is 0.005100000000000049
_FLOAT_SLACK = 1e-9
ATTRIBUTES = ("region", "offence", "year", "source")


@dataclass(frozen=True)
class Gold:
    doc: str
    count: int | None
    share: float | None
    platforms: tuple[str | None, ...]
    answers: dict[str, tuple[Any, ...]]
    optional: bool
    quote: str

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> Gold:
        platform = row.get("platform")
        platforms = tuple(platform) if isinstance(platform, list) else (platform,)
        answers = {}
        for attr in ATTRIBUTES:
            value = row.get(attr)
            answers[attr] = tuple(value) if isinstance(value, list) else (value,)
        return cls(
            doc=row["doc"],
            count=row.get("count"),
            share=row.get("share"),
            platforms=platforms,
            answers=answers,
            optional=bool(row.get("optional", False)),
            quote=row.get("quote", ""),
        )


@dataclass(frozen=True)
class Prediction:
    doc: str
    platform: str | None
    count: int | None
    share: float | None
    attributes: dict[str, Any]
    quote: str = ""

    @classmethod
    def from_fact(cls, doc: str, fact: dict[str, Any]) -> Prediction:
        return cls(
            doc=doc,
            platform=fact.get("platform"),
            count=fact.get("count"),
            share=fact.get("share"),
            attributes={a: fact.get(a) for a in ATTRIBUTES},
            quote=fact.get("quote", ""),
        )


def values_agree(pred: Prediction, gold: Gold) -> bool:
    compared = False
    if pred.count is not None and gold.count is not None:
        if int(pred.count) != int(gold.count):
            return False
        compared = True
    if pred.share is not None and gold.share is not None:
        if abs(float(pred.share) - float(gold.share)) > SHARE_TOLERANCE + _FLOAT_SLACK:
            return False
        compared = True
    return compared


def matches(pred: Prediction, gold: Gold) -> bool:
    return pred.platform in gold.platforms and values_agree(pred, gold)


def dedupe(predictions: Iterable[Prediction]) -> list[Prediction]:
    seen: set[tuple[Any, ...]] = set()
    out = []
    for p in predictions:
        key = (p.platform, p.count, None if p.share is None else round(float(p.share), 3))
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def _max_matching(preds: Sequence[Prediction], golds: Sequence[Gold]) -> dict[int, int]:
    """Maximum bipartite matching (augmenting paths): prediction index -> gold index."""
    edges = [[g for g, gold in enumerate(golds) if matches(p, gold)] for p in preds]
    gold_to_pred: dict[int, int] = {}

    def augment(p: int, seen: set[int]) -> bool:
        for g in edges[p]:
            if g in seen:
                continue
            seen.add(g)
            if g not in gold_to_pred or augment(gold_to_pred[g], seen):
                gold_to_pred[g] = p
                return True
        return False

    for p in range(len(preds)):
        augment(p, set())
    return {p: g for g, p in gold_to_pred.items()}


@dataclass
class DocScore:
    doc: str
    matched: list[tuple[Prediction, Gold]] = field(default_factory=list)
    misses: list[Gold] = field(default_factory=list)
    false_positives: list[Prediction] = field(default_factory=list)
    neutral: list[Prediction] = field(default_factory=list)


def score_document(doc: str, predictions: Iterable[Prediction], gold: Iterable[Gold]) -> DocScore:
    preds = dedupe(predictions)
    required = [g for g in gold if not g.optional]
    optional = [g for g in gold if g.optional]
    pairs = _max_matching(preds, required)
    result = DocScore(doc)
    for p, g in pairs.items():
        result.matched.append((preds[p], required[g]))
    matched_gold = set(pairs.values())
    result.misses = [g for i, g in enumerate(required) if i not in matched_gold]
    for i, pred in enumerate(preds):
        if i in pairs:
            continue
        if any(matches(pred, g) for g in optional):
            result.neutral.append(pred)
        else:
            result.false_positives.append(pred)
    return result


def attribute_ok(pred: Prediction, gold: Gold, attr: str) -> bool:
    return pred.attributes.get(attr) in gold.answers[attr]


@dataclass
class Report:
    name: str
    docs: list[DocScore]

    @property
    def matched(self) -> int:
        return sum(len(d.matched) for d in self.docs)

    @property
    def predicted(self) -> int:
        return self.matched + sum(len(d.false_positives) for d in self.docs)

    @property
    def required(self) -> int:
        return self.matched + sum(len(d.misses) for d in self.docs)

    @property
    def precision(self) -> float:
        return self.matched / self.predicted if self.predicted else 1.0

    @property
    def recall(self) -> float:
        return self.matched / self.required if self.required else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def _pairs(self) -> list[tuple[Prediction, Gold]]:
        return [pair for d in self.docs for pair in d.matched]

    def attribute_accuracy(self, attr: str) -> float:
        pairs = self._pairs()
        return sum(attribute_ok(p, g, attr) for p, g in pairs) / len(pairs) if pairs else 1.0

    @property
    def tuple_accuracy(self) -> float:
        pairs = self._pairs()
        if not pairs:
            return 1.0
        return sum(all(attribute_ok(p, g, a) for a in ATTRIBUTES) for p, g in pairs) / len(pairs)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "documents": len(self.docs),
            "gold_required": self.required,
            "predicted": self.predicted,
            "matched": self.matched,
            "precision": round(self.precision, 4),
            "recall": round(self.recall, 4),
            "f1": round(self.f1, 4),
            **{f"{a}_accuracy": round(self.attribute_accuracy(a), 4) for a in ATTRIBUTES},
            "tuple_accuracy": round(self.tuple_accuracy, 4),
        }


def load_gold(path: Path) -> list[Gold]:
    rows = []
    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, 1):
            if line.strip():
                try:
                    rows.append(Gold.from_json(json.loads(line)))
                except (json.JSONDecodeError, KeyError) as exc:
                    raise ValueError(f"{path}:{n}: not a gold fact: {exc}") from exc
    return rows


def load_index(path: Path) -> dict[str, dict[str, Any]]:
    """index.jsonl of a corpus (file, url, outlet, title, published), keyed by file; {} if absent."""
    if not path.exists():
        return {}
    rows: dict[str, dict[str, Any]] = {}
    with path.open(encoding="utf-8") as handle:
        for n, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                rows[row["file"]] = row
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{n}: not an index row: {exc}") from exc
    return rows


def _with_index(doc: Any, row: dict[str, Any] | None) -> Any:
    """The document as `pipeline run` sees it with a sources.csv row: title, date, url and outlet filled in."""
    from dataclasses import replace
    from datetime import date

    if not row:
        return doc
    published = doc.published
    stated = row.get("published")
    if isinstance(stated, str) and len(stated) >= 10:
        with contextlib.suppress(ValueError):
            published = date.fromisoformat(stated[:10])
    return replace(
        doc,
        title=row.get("title") or doc.title,
        published=published,
        url=row.get("url") or doc.url,
        outlet=row.get("outlet") or doc.outlet,
    )


def evaluate_dir(directory: Path) -> Report:
    """Extract every *.txt file of ``directory`` and score it against gold.jsonl.

    Where the folder has an index.jsonl, each document gets its title, date, url and outlet from it,
    as `pipeline run` gives them from sources.csv; without one the extractor sees the text alone.
    """
    from pipeline.documents import read_document
    from pipeline.extractor import extract_document
    from pipeline.metadata.taxonomy import load_taxonomy

    gold_path = directory / "gold.jsonl"
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory} is not a folder")
    if not gold_path.exists():
        raise FileNotFoundError(f"{directory} has no gold.jsonl")
    gold = load_gold(gold_path)
    index = load_index(directory / "index.jsonl")
    taxonomy = load_taxonomy()
    docs = []
    for path in sorted(directory.glob("*.txt")):
        doc = _with_index(read_document(path, document=path.name), index.get(path.name))
        preds = [Prediction.from_fact(path.name, f.to_row()) for f in extract_document(doc, taxonomy).facts]
        docs.append(score_document(path.name, preds, [g for g in gold if g.doc == path.name]))
    return Report(directory.name or str(directory), docs)


def evaluate_dirs(directories: Sequence[Path]) -> list[Report]:
    return [evaluate_dir(d) for d in directories]


def _describe(p: Prediction) -> str:
    values = f"count={p.count} share={p.share}"
    attrs = " ".join(f"{a}={p.attributes.get(a)}" for a in ATTRIBUTES)
    return f"{p.platform} {values} {attrs} | {p.quote!r}"


def format_report(reports: Sequence[Report], *, show: bool = False) -> str:
    lines = []
    header = f"{'corpus':<10} {'docs':>4} {'gold':>5} {'pred':>5} {'match':>5} {'P':>6} {'R':>6} {'F1':>6} {'region':>6} {'offnc':>6} {'year':>6} {'source':>6} {'tuple':>6}"
    lines.append(header)
    for r in reports:
        s = r.summary()
        lines.append(
            f"{r.name[:10]:<10} {s['documents']:>4} {s['gold_required']:>5} {s['predicted']:>5} {s['matched']:>5} "
            f"{s['precision']:>6.3f} {s['recall']:>6.3f} {s['f1']:>6.3f} {s['region_accuracy']:>6.3f} "
            f"{s['offence_accuracy']:>6.3f} {s['year_accuracy']:>6.3f} {s['source_accuracy']:>6.3f} {s['tuple_accuracy']:>6.3f}"
        )
    if show:
        for r in reports:
            for d in r.docs:
                for g in d.misses:
                    lines.append(f"MISS  {d.doc}: {g.platforms} count={g.count} share={g.share} | {g.quote!r}")
                for p in d.false_positives:
                    lines.append(f"FP    {d.doc}: {_describe(p)}")
                for p, g in d.matched:
                    wrong = [a for a in ATTRIBUTES if not attribute_ok(p, g, a)]
                    if wrong:
                        detail = ", ".join(f"{a}={p.attributes.get(a)!r} want {list(g.answers[a])}" for a in wrong)
                        lines.append(f"ATTR  {d.doc}: {p.platform} count={p.count} share={p.share}: {detail} | {g.quote!r}")
    return "\n".join(lines)
