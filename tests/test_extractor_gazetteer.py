"""The gazetteers: factoring the names into a trie keeps every match of the plain alternation."""

from __future__ import annotations

import random
import re

import pytest

from pipeline.extractor.gazetteer import Gazetteer, _flexible, _sorted, gazetteers


def _plain(entries: list[tuple[str, str, str]]) -> re.Pattern[str]:
    """The alternation Gazetteer factors, written out: the reference its matches must equal."""
    bodies = "|".join(f"(?P<g{i}>{_flexible(alias)})" for i, (_, alias, _) in enumerate(entries))
    return re.compile(r"(?<![\w@#])(?:" + bodies + r")(?![\w])", re.I)


def _matches(pattern: re.Pattern[str], text: str) -> list[tuple[int, int, str | None]]:
    return [(m.start(), m.end(), m.lastgroup) for m in pattern.finditer(text)]


ALIASES = [
    "a", "ab", "abc", "abd", "a b", "a-b", "ab cd", "abcde", "b", "ba", "bab", "x'y", "x’yz",
    "net", "network", "networks", "new", "news", "newsroom", "1in5", "1 in 5", "meta", "metaverse",
]


@pytest.mark.parametrize("seed", range(5))
def test_factored_names_match_exactly_as_the_plain_alternation(seed: int) -> None:
    rng = random.Random(seed)
    entries = _sorted([(f"slug{i}", alias, "any") for i, alias in enumerate(rng.sample(ALIASES, 15))])
    factored = Gazetteer(entries).pattern
    plain = _plain(entries)
    words = [a for _, a, _ in entries] + ["abx", "ne", "news-room", "x y", "ab-cd", "(a)", "#ab", "A-B", "NEWSROOM"]
    for _ in range(200):
        text = " ".join(rng.choice(words) + rng.choice(["", ".", ",", "s"]) for _ in range(rng.randint(1, 8)))
        assert _matches(factored, text) == _matches(plain, text), text


def test_taxonomy_gazetteers_match_exactly_as_their_plain_alternations() -> None:
    gaz = gazetteers()
    text = (
        "Snapchat, Facebook Messenger and WhatsApp; Instagram and Facebook-owned apps; West Yorkshire, "
        "Greater Manchester and the Isle of Man; the NSPCC and the Internet Watch Foundation; "
        "sexual communication with a child and online grooming, child sexual abuse images."
    )
    for name in ("platforms", "regions", "sources"):
        g = getattr(gaz, name)
        assert _matches(g.pattern, text) == _matches(_plain(g.entries), text), name
        assert _matches(g.pattern, text), f"{name}: the sample names none"


def test_the_sources_added_to_the_taxonomy_are_found_by_their_names() -> None:
    text = ("The ACCCE and the Australian Centre to Counter Child Exploitation; Statistics Canada; INTERPOL; "
            "New Zealand's Department of Internal Affairs; the National Crime Records Bureau (NCRB).")
    found = {h.slug for h in gazetteers().sources.find(text)}
    assert found == {"accce", "statistics_canada", "interpol", "nz_dia", "ncrb"}
    # an acronym is never the ordinary word: "dia" and "ncrb" in lower case name nobody
    assert not gazetteers().sources.find("a dia of 5 cm")
