"""Taxonomy gazetteers: find platform, region, offence and source names in a text.

Each table becomes one compiled regex (aliases longest first), run once over a whole
document; the extractor then looks up the hits near each number. Names come from the
vendored taxonomy plus the project's alias lists (``metadata/aliases/*.csv``), so a
new name is a new CSV row, not new code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

from pipeline.extractor.scan import ScannedText, prefilter
from pipeline.metadata.taxonomy import Taxonomy, load_taxonomy


@dataclass(eq=False)  # built by the thousand: a frozen dataclass costs three times as much to make
class Hit:
    start: int
    end: int
    slug: str
    text: str


def _flexible(alias: str) -> str:
    """Regex for an alias that tolerates hyphen/space variants and curly apostrophes."""
    out = []
    for ch in alias:
        if ch in " -":
            out.append(r"[\s\-]*" if ch == "-" else r"[\s\-]+")
        elif ch in "'’":
            out.append(r"['’]?")
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _first_char(body: str) -> str | None:
    """The letter or digit every match of ``body`` starts with, if the pattern says so plainly."""
    if not (body[:1].isascii() and body[:1].isalnum()) or body[1:2] in ("?", "*", "+", "{"):
        return None
    depth, i = 0, 0
    while i < len(body):  # a top-level "|" would put another alternative in front of the first char
        ch = body[i]
        if ch == "\\":
            i += 1
        elif ch == "[":  # skip the class: "|" and ")" inside it are plain characters
            i += 2 if body[i + 1 : i + 2] == "^" else 1
            i += 1 if body[i : i + 1] == "]" else 0
            while i < len(body) and body[i] != "]":
                i += 2 if body[i] == "\\" else 1
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            return None
        i += 1
    return body[0].lower()


def _by_first_char(bodies: list[tuple[str, str]]) -> list[str]:
    """Alternatives ``(?P<name>body)``, in order, with those sharing a first letter factored behind it.

    Python's re tries every alternative of an alternation at every word start, so a table of
    a hundred names cost 1-2 ms per KB of text. Factored as ``f(?:(?P<g0>acebook)|...)``, only
    the names starting with the letter at hand are tried: about ten times faster. Matches are
    the same: names with different first letters can never match at the same position, so
    only their relative order changes, and a body whose first character is not a plain
    letter keeps its place (it closes the run of names that may be regrouped). The names
    sharing a first letter are factored by their next letter the same way, and so on.
    """
    parts: list[str] = []
    run: dict[str, list[tuple[str, str]]] = {}

    def flush() -> None:
        for key, rests in run.items():
            if len(rests) == 1:
                name, rest = rests[0]
                parts.append(f"{key}(?P<{name}>{rest})")
            else:  # the same argument holds for the next letter: factor the rests in turn
                parts.append(f"{key}(?:{'|'.join(_by_first_char(rests))})")
        run.clear()

    for name, body in bodies:
        key = _first_char(body)
        if key is None:
            flush()
            parts.append(f"(?P<{name}>{body})")
        else:
            run.setdefault(key, []).append((name, body[1:]))
    flush()
    return parts


class Gazetteer:
    """One table's names compiled into a single alternation with a slug per group."""

    def __init__(self, entries: list[tuple[str, str, str]], *, regex: bool = False) -> None:
        # entries: (slug, alias or pattern, case rule: "any" | "capital" | "exact")
        self.entries = entries
        bodies = [(f"g{i}", alias if regex else _flexible(alias)) for i, (_, alias, _) in enumerate(entries)]
        parts = _by_first_char(bodies)
        pattern = r"(?<![\w@#])(?:" + "|".join(parts) + r")(?![\w])" if parts else r"(?!x)x"
        self.pattern = prefilter(re.compile(pattern, re.I))

    def find(self, text: str, scanned: ScannedText | None = None) -> list[Hit]:
        hits = []
        for m in scanned.finditer(self.pattern) if scanned else self.pattern.finditer(text):
            i = int(m.lastgroup[1:])  # type: ignore[index]
            slug, alias, case = self.entries[i]
            found = m.group()
            if case == "exact" and found != alias:
                continue
            if case == "capital" and not found[:1].isupper():
                continue
            hits.append(Hit(m.start(), m.end(), slug, found))
        return hits


def _case_rule(alias: str, default: str) -> str:
    if alias.isupper() and len(alias.replace(".", "")) <= 5:
        return "exact"  # UK, US, NCA, IWF: never the lower-case word
    if alias[:1].isupper():
        return "capital"
    return default


def _strip_parens(name: str) -> str:
    return re.sub(r"\s*\([^)]*\)", "", name).strip()


def _sorted(entries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    seen: set[str] = set()
    unique = []
    for e in entries:
        key = e[1].lower()
        if key not in seen:
            seen.add(key)
            unique.append(e)
    return sorted(unique, key=lambda e: len(e[1]), reverse=True)


def _platform_entries(tax: Taxonomy) -> list[tuple[str, str, str]]:
    # rules/alias_cases.csv: everyday words match only when capitalised; cues ("online") are no names
    cases = tax.rules.alias_cases.get("platforms", {})
    entries = []
    for slug, row in tax.platforms.items():
        names = {a.strip() for a in (row.get("aliases") or "").split("|") if a.strip()}
        if row.get("kind") not in ("category", "group"):
            names.add(_strip_parens(row["name"]).lower())
        for alias in names:
            if cases.get(alias) == "ignored":
                continue
            entries.append((slug, alias, "capital" if cases.get(alias) == "capitalised" else "any"))
    for row in tax.aliases.get("platforms", []):
        alias = row["alias"].strip()
        entries.append((row["slug"], alias, "capital" if cases.get(alias) == "capitalised" else "any"))
    return _sorted(entries)


def _region_entries(tax: Taxonomy) -> list[tuple[str, str, str]]:
    entries = []
    for slug, row in tax.regions.items():
        name = _strip_parens(row["name"])
        if "," in name:  # "Bristol, City of"
            name = name.split(",")[0]
        entries.append((slug, name, _case_rule(name, "capital")))
    lower_ok = {a for a, case in tax.rules.alias_cases.get("regions", {}).items() if case == "lower case"}
    for row in tax.aliases.get("regions", []):
        alias = row["alias"].strip()
        rule = "any" if alias in lower_ok else _case_rule(alias, "capital")
        entries.append((row["slug"], alias, rule))
    return _sorted(entries)


def _source_entries(tax: Taxonomy) -> list[tuple[str, str, str]]:
    entries = []
    for row in tax.aliases.get("sources", []):
        alias = row["alias"].strip()
        entries.append((row["slug"], alias, _case_rule(alias, "any")))
    return _sorted(entries)


def _offence_entries(tax: Taxonomy) -> list[tuple[str, str, str]]:
    entries = [(row["slug"], row["alias"], "any") for row in tax.aliases.get("offences", [])]
    for slug, row in tax.offences.items():
        name = _strip_parens(row["name"]).lower()
        if len(name.split()) >= 3:  # short names ("Sextortion") are covered by the alias patterns
            entries.append((slug, _flexible(name), "any"))
    # "HO code 71/17", "Home Office classification 88A": the offence of that code (the taxonomy's
    # home_office_code column; codes pipe-separated), longer codes first ("86/2" before "86")
    codes = [(code.strip(), slug) for slug, row in tax.offences.items()
             for code in (row.get("home_office_code") or "").split("|") if code.strip()]
    for code, slug in sorted(codes, key=lambda c: -len(c[0])):
        entries.append((slug, r"(?:home office|ho)\s+(?:crime\s+)?(?:code|classification)\s+" + re.escape(code.lower()) + r"(?![\w/])", "any"))
    return entries  # file order: specific patterns first


@dataclass
class Gazetteers:
    platforms: Gazetteer
    regions: Gazetteer
    offences: Gazetteer
    sources: Gazetteer
    offence_start: dict[str, date]  # offences with a known start ("in force from 3 April 2017")
    global_region: str | None = None  # the taxonomy's region of kind "global" ("worldwide", "global referrals")


_IN_FORCE = re.compile(r"in force from (\d{1,2}) (\w+) (\d{4})", re.I)


def _offence_starts(tax: Taxonomy) -> dict[str, date]:
    from pipeline.extractor.periods import MONTHS

    out = {}
    for slug, row in tax.offences.items():
        m = _IN_FORCE.search(row.get("notes") or "")
        if m and m.group(2).lower() in MONTHS:
            out[slug] = date(int(m.group(3)), MONTHS[m.group(2).lower()], int(m.group(1)))
    return out


def _build(tax: Taxonomy) -> Gazetteers:
    return Gazetteers(
        platforms=Gazetteer(_platform_entries(tax)),
        regions=Gazetteer(_region_entries(tax)),
        offences=Gazetteer(_offence_entries(tax), regex=True),
        sources=Gazetteer(_source_entries(tax)),
        offence_start=_offence_starts(tax),
        global_region=next((slug for slug, row in tax.regions.items() if row.get("kind") == "global"), None),
    )


_BUILT: dict[int, tuple[Taxonomy, Gazetteers]] = {}  # id -> (the taxonomy, kept so its id is not reused; its gazetteers)


def gazetteers(taxonomy: Taxonomy | None = None) -> Gazetteers:
    """The compiled gazetteers of ``taxonomy`` (default: the vendored one), built once per process and taxonomy."""
    tax = load_taxonomy() if taxonomy is None else taxonomy
    built = _BUILT.get(id(tax))
    if built is None:
        if len(_BUILT) >= 4:
            del _BUILT[next(iter(_BUILT))]
        built = _BUILT[id(tax)] = (tax, _build(tax))
    return built[1]
