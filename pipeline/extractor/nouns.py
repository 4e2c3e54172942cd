"""The noun a number counts: offences, reports, images, cases (measures), or people and organisations."""

from __future__ import annotations

import re
from itertools import islice

_MEASURE_NOUNS = {
    "offences": "offences", "offence": "offences", "offenses": "offences", "offense": "offences",
    "crimes": "offences", "crime": "offences", "rapes": "offences", "offending": "offences",
    "cases": "cases", "case": "cases", "investigations": "cases", "mentions": "cases", "prosecutions": "cases",
    "incidents": "incidents", "incident": "incidents", "instances": "incidents",
    "reports": "reports", "report": "reports", "referrals": "reports", "tips": "reports", "tip-offs": "reports",
    "disseminations": "reports", "complaints": "reports", "notifications": "reports", "flags": "reports",
    "submissions": "reports",
    "images": "images", "image": "images", "photos": "images", "photographs": "images", "pictures": "images",
    "videos": "images", "urls": "images", "webpages": "images", "websites": "images", "files": "images", "imagery": "images",
    "offenders": "offenders", "perpetrators": "offenders",
}


_PEOPLE_NOUNS = {
    "people", "persons", "person", "individuals", "children", "child", "kids", "victims", "victim", "girls",
    "boys", "adults", "men", "women", "youths", "teenagers", "teens", "pupils", "students", "users", "suspects",
    "arrests", "parents", "members", "staff", "officers", "teachers", "constables", "babies", "billionaires",
    "survivors", "respondents", "youngsters", "minors", "families", "callers", "volunteers", "young", "peers",
    "individual", "mps", "analysts", "investigators", "experts", "households", "adolescents",
}


_ORG_NOUNS = {
    "forces", "force", "companies", "firms", "platforms", "apps", "sites", "services", "providers",
    "hotlines", "countries", "organisations", "organizations", "charities", "schools", "networks", "agencies",
    "nations", "states", "types", "categories", "areas", "games", "partners", "esps", "businesses", "councils",
    "teams", "units",
}


_STOP_AFTER_NUMBER = frozenset(
    "were was are is had have has in of for from to at on by with and or but which who that where when "
    "than compared between during over since per a an the each this these those it its their they there "
    "recorded reported related involving including made took showed said across among within against about "
    "under after before via through into like than as also not had would could will may being been being "
    "committed logged received identified assessed confirmed found flagged made sent seen where while "
    "last next previous alone so".split()  # "reached 275,000 last year": a period, not what is counted
)


_VERB = re.compile(
    r"^(?:came|come|comes|went|go|saw|see|took|take|rose|fell|grew|got|gave|led|left|remain(?:ed|s)?|occur(?:red|s)?|"
    r"happen(?:ed|s)?|involv(?:e|ed|es|ing)|includ(?:e|ed|es|ing)|contain(?:ed|s|ing)?|relat(?:e|ed|es|ing)|stem(?:med|s)?|"
    r"featur(?:e|ed|es)|concern(?:ed|s)?|mention(?:ed|s)?|show(?:ed|s)?|reveal(?:ed|s)?|appear(?:ed|s)?|make|makes|"
    r"accounted|account|accounts|referred|linked)$",
    re.I,
)


_NOUN_WORDS = re.compile(r"[A-Za-z][A-Za-z'’+-]*|[^\sA-Za-z]")


_MEASURE_WORDS = re.compile(r"[A-Za-z][A-Za-z-]*")


def noun_after(text: str, end: int, limit: int) -> tuple[str | None, str | None]:
    """(class, word) of the noun phrase right after a number: measure/people/org/other, or (None, None)."""
    phrase: list[str] = []
    for m in islice(_NOUN_WORDS.finditer(text, end, min(limit, end + 80)), 6):
        w = m.group()
        lw = w.lower().strip("'’")
        if lw in _MEASURE_NOUNS:  # "seven mentions", "100 reports": after a number these are nouns
            phrase.append(lw)
            continue
        if not w[0].isalpha() or lw in _STOP_AFTER_NUMBER or _VERB.match(lw):
            break
        if lw.endswith("ed") and (not phrase or phrase[-1].endswith("s")) and lw not in _PEOPLE_NOUNS:
            break  # "35.9 million came from", "25 analysts reviewed": a verb, not part of the noun
        phrase.append(lw)
    if not phrase:
        return None, None
    head = phrase[-1]
    if head in _MEASURE_NOUNS:
        return "measure", _MEASURE_NOUNS[head]
    if head in _PEOPLE_NOUNS:
        return "people", head
    if head in _ORG_NOUNS:
        return "org", head
    for i, w in enumerate(phrase):
        if w in _MEASURE_NOUNS:
            after = phrase[i + 1] if i + 1 < len(phrase) else ""
            if after in _ORG_NOUNS:  # "offence types", "crime teams"
                return "org", after
            return "measure", _MEASURE_NOUNS[w]
    if any(w in _PEOPLE_NOUNS and w != "child" for w in phrase):  # "child" is mostly a modifier: child abuse
        return "people", head
    if any(w in _ORG_NOUNS for w in phrase):
        return "org", head
    return "other", head


def measure_in(text: str, start: int, end: int) -> str | None:
    """The last measure noun in text[start:end]."""
    found = None
    for w in _MEASURE_WORDS.findall(text, start, end):
        w = w.lower()
        if w in _MEASURE_NOUNS:
            found = _MEASURE_NOUNS[w]
    return found

