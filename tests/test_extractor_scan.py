"""The literal-prefix prefilter finds exactly what re finds, pattern by pattern, on real and odd texts."""

import random
import re
from pathlib import Path

import pytest

from pipeline.extractor import attributes
from pipeline.extractor.gazetteer import gazetteers
from pipeline.extractor.scan import SCANNER, Scanner, literal_prefixes, normalise

ROOT = Path(__file__).resolve().parents[1]
CORPUS_DIRS = [ROOT / "data" / "raw", ROOT / "eval" / "dev", ROOT / "eval" / "dev2"]

ODD_TEXTS = [
    "More than 9,477 CRIMES were recorded on Instagram in 2023/24 (up 12%); Snapchat: 1.2m reports.",
    "ONE IN FIVE offences\u00a0involved\tFacebook\u2009Messenger, the NSPCC said — in the year to March 2018.",
    "Between April 1, 2023 and March 31, 2024 there were twenty-five thousand reports. 27 (40.2%) of them.",
    "İstanbul police: ſexual offences ٣ and ५ reports; ΣΑΣ; Kelvin \u212a; \u0130\u0131.",  # sent to plain re
    "e-mail, E - Mail, meta’s apps, Meta's platforms, x.com, X and Twitter; UK, U.K., uk",
    "",
    "5",
    "a third\nhalf\r\nquarter\x0bfifth\x1cten\u2028eleven",
]


def _texts() -> list[str]:
    texts = list(ODD_TEXTS)
    for folder in CORPUS_DIRS:
        texts += [p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.txt"))]
    rng = random.Random(7)
    pieces = [t[i : i + 40] for t in texts for i in range(0, len(t), 40)]
    for _ in range(200):  # shuffled pieces, with case flipped in some, so matches start and end anywhere
        mixed = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 12)))
        texts.append(mixed.upper() if rng.random() < 0.2 else mixed)
    return texts


TEXTS = _texts()


def _registered() -> list[re.Pattern[str]]:
    gazetteers()  # builds and registers the gazetteer patterns
    return [pattern for pattern, _ in SCANNER._patterns.values()]


def test_most_extractor_patterns_are_prefiltered():
    patterns = _registered()
    assert len(patterns) >= 35
    assert sum(SCANNER.prefiltered(p) for p in patterns) >= len(patterns) - 2


@pytest.mark.parametrize("pattern", _registered(), ids=lambda p: p.pattern[:40])
def test_prefiltered_search_equals_re(pattern):
    rng = random.Random(pattern.pattern)
    for text in TEXTS:
        scanned = SCANNER.scan(text)
        assert [m.span() for m in scanned.finditer(pattern)] == [m.span() for m in pattern.finditer(text)]
        for _ in range(4):
            a = rng.randint(0, len(text))
            b = rng.randint(a, len(text))
            got = scanned.search(pattern, a, b)
            want = pattern.search(text, a, b)
            assert (got and got.span()) == (want and want.span())
            got = scanned.search_slice(pattern, a, b)
            want = pattern.search(text[a:b])
            assert (got and got.span()) == (want and want.span())
            assert scanned.count(pattern, a, b) == len(list(pattern.finditer(text, a, b)))
            if want is not None:
                assert scanned.may_match(pattern, a, b)


def test_online_cue_prefixes_hold_no_white_space():
    # attributes.ONLINE: the extractor searches a clause with names blanked to white space at the original text's candidates
    prefixes = literal_prefixes(attributes.ONLINE)
    assert prefixes and not any(" " in p for p in prefixes)


def test_literal_prefixes_of_simple_patterns():
    assert literal_prefixes(re.compile(r"\bfoo\b|bar", re.I)) == {"foo", "bar"}
    assert literal_prefixes(re.compile(r"(?:online )?grooming")) == {"online", "groomi"}
    assert literal_prefixes(re.compile(r"[Cc]at\s+dog")) == {"cat do", "cat  d", "cat   "}  # white space repeats
    digits = literal_prefixes(re.compile(r"\d+%"))
    assert {"7%", "12"} <= digits and all(p[0].isdigit() for p in digits)  # cut short where the list would grow too long
    # a prefix that begins with a shorter one is dropped
    assert literal_prefixes(re.compile(r"ab|abc")) == {"ab"}


@pytest.mark.parametrize("pattern", [r"\w+", r"x?", r".foo", r"(?:)", r"[^a]b"])
def test_patterns_that_could_start_anywhere_are_not_prefiltered(pattern):
    assert literal_prefixes(re.compile(pattern)) is None
    scanner = Scanner()
    compiled = scanner.add(re.compile(pattern))
    assert not scanner.prefiltered(compiled)
    text = "a foo, b bar"
    assert [m.span() for m in scanner.scan(text).finditer(compiled)] == [m.span() for m in compiled.finditer(text)]


def test_normalise_keeps_offsets_or_gives_up():
    assert normalise("A\u00a0B\tC\u2009D\nE") == b"a b c d e"
    assert normalise("Ünïcode “quotes” – dash") == "ünïcode ?quotes? ? dash".encode("latin-1")  # one byte each
    for odd in ("ſ", "ı", "İ", "Σ", "٣"):  # re.IGNORECASE or \d see these differently from str.lower()
        assert normalise(f"abc {odd} def") is None
