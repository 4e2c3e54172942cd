"""The extractor's rule tables: data in ``rules/*.csv``, read and checked here.

- ``qualifiers.csv``: each qualifier, the phrases written before a number that give it ("more than"),
  and its bound (how a precise share relates to a verbal one said with it). The number grammar, the
  ``qualifier`` column's allowed values and the merge of rounded restatements all read it.
- ``alias_cases.csv``: names that need a case rule: ``capitalised`` (an everyday word, a platform only
  when capitalised: "Threads"), ``ignored`` (a taxonomy alias that is a cue, not a name: "online"),
  ``lower case`` (a region word that may be written in lower case: "worldwide").
- ``region_folds.csv``: regions named together that stand for one ("England and Wales").
- ``offence_rules.csv``: what an offence becomes in its context (``when``: see ``OFFENCE_WHEN``).
- ``source_scope.csv``: the region a body's figures cover unless one is stated.

The alias, fold and offence tables reach the extractor through the ``Taxonomy`` object
(``metadata.taxonomy``), which checks their slugs against the taxonomy.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

BOUNDS = ("exact", "above", "at_or_above", "below", "at_or_below", "around")
CASES = ("capitalised", "ignored", "lower case")
OFFENCE_WHEN = {
    "online_or_platform": "the figure is online (an online cue in its clause) or on a named platform",
    "children_online": "children are named in the figure's clause, with an online cue",
    "children": "children are named in the figure's clause",
    "before_start": "the figure's year is before the offence came into force: it counts the predecessor",
    "material": "the slug is material, not a crime: a count of offences prefers a crime named beside it",
    "images": "the figure counts images, videos or webpages: the (generic) offence named becomes material",
    "hotline_reports": "no offence is named (slug empty) and the figure counts a hotline's reports or images",
}


def read_rules_csv(name: str) -> list[dict[str, str]]:
    data = resources.files("pipeline.metadata").joinpath("rules", f"{name}.csv").read_text(encoding="utf-8")
    return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(io.StringIO(data))]


@dataclass(frozen=True)
class Qualifier:
    name: str
    bound: str
    phrases: tuple[str, ...]  # in the order they are tried


@lru_cache(maxsize=1)
def qualifiers() -> tuple[Qualifier, ...]:
    out = []
    for n, row in enumerate(read_rules_csv("qualifiers"), 2):
        if row["bound"] not in BOUNDS:
            raise ValueError(f"rules/qualifiers.csv:{n}: bound {row['bound']!r} is not one of {BOUNDS}")
        phrases = tuple(p.strip() for p in row["phrases"].split("|") if p.strip())
        out.append(Qualifier(row["qualifier"], row["bound"], phrases))
    if not out or out[0].name != "exact" or out[0].phrases:
        raise ValueError("rules/qualifiers.csv: the first row is 'exact', with no phrases")
    return tuple(out)


@dataclass(frozen=True)
class OffenceRule:
    slug: str
    when: str
    word: str  # "" or a word the offence's name in the sentence must contain
    becomes: str  # "" for "material"


@dataclass(frozen=True)
class Rules:
    alias_cases: dict[str, dict[str, str]]  # table -> alias (lower case) -> case
    region_folds: tuple[tuple[frozenset[str], str], ...]  # (members, region), tried in order
    offence_rules: tuple[OffenceRule, ...]  # tried in order; the first that holds applies
    source_scopes: dict[str, str] = field(default_factory=dict)  # source slug -> region its figures cover (source_scope.csv)

    def offence_rules_when(self, *when: str) -> list[OffenceRule]:
        return [r for r in self.offence_rules if r.when in when]


def load_rules() -> Rules:
    cases: dict[str, dict[str, str]] = {}
    for n, row in enumerate(read_rules_csv("alias_cases"), 2):
        if row["case"] not in CASES:
            raise ValueError(f"rules/alias_cases.csv:{n}: case {row['case']!r} is not one of {CASES}")
        table = cases.setdefault(row["table"], {})
        if row["alias"] in table:
            raise ValueError(f"rules/alias_cases.csv:{n}: {row['alias']!r} has a case already")
        table[row["alias"]] = row["case"]
    folds = tuple((frozenset(r["members"].split("|")), r["region"]) for r in read_rules_csv("region_folds"))
    offence_rules = []
    for n, row in enumerate(read_rules_csv("offence_rules"), 2):
        if row["when"] not in OFFENCE_WHEN:
            raise ValueError(f"rules/offence_rules.csv:{n}: when {row['when']!r} is not one of {sorted(OFFENCE_WHEN)}")
        if (row["when"] == "material") != (not row["becomes"]):
            raise ValueError(f"rules/offence_rules.csv:{n}: 'becomes' is empty exactly for 'material'")
        if (row["when"] == "hotline_reports") != (not row["slug"]):
            raise ValueError(f"rules/offence_rules.csv:{n}: 'slug' is empty exactly for 'hotline_reports'")
        offence_rules.append(OffenceRule(row["slug"], row["when"], row["word"].lower(), row["becomes"]))
    scopes = {row["slug"]: row["scope"] for row in read_rules_csv("source_scope")}
    return Rules(cases, folds, tuple(offence_rules), scopes)
