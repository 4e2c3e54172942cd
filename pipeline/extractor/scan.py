"""Fast regex search for the extractor: a literal-prefix prefilter over one Aho-Corasick pass.

Python's ``re`` has no multi-pattern engine: a pattern such as a gazetteer (hundreds of names)
or the number grammar (digits or any of forty number words) is tried at every position of the
text, alternative after alternative, which costs about 0.3 microseconds a character. Yet every
match of such a pattern starts with one of a few short literal strings: "facebo", "sexual",
"one ", a digit. ``literal_prefixes`` reads them off the parsed pattern; one Aho-Corasick pass
(ahocorasick-rs, in Rust) over the lower-cased text finds every place where one of the prefixes
of every registered pattern begins; and the pattern itself is tried only there, with
``pattern.match``. The text is searched once per document instead of once per pattern and
position. A pattern that starts with "^" is tried at the start of the searched slice only.

The matches are exactly those of ``pattern.finditer`` / ``pattern.search``, by construction:

* the prefixes are a superset: every string the pattern can match starts with one of them, after
  the normalisation below (a prefix is cut short wherever the pattern is too open to list);
* the pattern is then run by ``re`` itself at each candidate position, with the same ``pos`` and
  ``endpos``, so lookbehinds, word boundaries and alternation order behave as before; positions
  that are no candidate cannot start a match, so skipping them changes nothing.

Normalisation (``str.lower``, white space to " ", one byte per character) keeps offsets, so a
prefix found in the normalised text is at the same offset in the original. Texts where it would
not (a character whose lower case is two characters, such as "İ"), where ``re.IGNORECASE``
equates characters that ``str.lower`` does not ("ſ" and "s", "ı" and "i"; see ``re._casefix``),
or that hold digits other than 0-9, are searched with the plain patterns: slower, the same matches.

Patterns that may match the empty string or may start with almost any character ("\\w", ".")
are not prefiltered; ``Scanner.add`` keeps them and they run as plain ``re``.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections.abc import Iterator
from typing import Any

try:  # the parser behind re.compile; private, so a Python without it only loses the speed-up
    from re import _constants as _sre  # type: ignore[attr-defined]
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _sre = _sre_parse = None

import ahocorasick_rs

PREFIX_CHARS = 6  # longest prefix listed: longer is more selective, but multiplies the keys
MAX_PREFIXES = 300  # per pattern; past this the prefixes are cut shorter
_WIDE_CLASS = 64  # a character class with more members than this ends a prefix

# Characters re.IGNORECASE matches to another character that str.lower() does not map them to
# (re._casefix._EXTRA_CASES, minus i and s); a text holding one is searched with plain patterns.
_CASE_EXTRAS = frozenset(
    "ıſµͅΐΰβεθικμπρςσφϐϑϕϖϰϱϵвдостъѣᲀᲁᲂᲃᲄᲅᲆᲇᲈṡẛιΐΰꙋﬅﬆ"
    "Σ"  # str.lower() makes it "ς" or "σ" by its place in the word
)
# Every character str.isspace() and re's \s take for white space (none lies past U+3000).
SPACES = "".join(chr(i) for i in range(0x3001) if chr(i).isspace())
_OTHER_SPACE = re.compile("[" + re.escape(SPACES.replace(" ", "")) + "]")
# Byte -> the byte of its lower case, white space -> " ": str.lower() on one-byte characters, done on
# the bytes (cheaper than lower-casing the str: every lower case of a character below U+0100 is one too).
_LOWER_AND_BLANK = bytes(
    32 if chr(b).lower().isspace() else ord(chr(b).lower()) for b in range(256)
)
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def normalise(text: str) -> bytes | None:
    """The text lower-cased, white space as " ", one byte per character; None where that cannot be done exactly.

    One byte per character keeps offsets (byte offsets are character offsets) and lets the
    automaton skip mapping UTF-8 offsets back to characters. Characters past U+00FF all become
    "?": keys are encoded alike (``_one_byte_each``), so a key still matches wherever it did, and
    the few extra candidates are rejected by ``re.match``.
    """
    if not text.isascii():
        odd = set(_NON_ASCII.findall(text))
        if any(c in _CASE_EXTRAS or c.isdecimal() or len(c.lower()) != 1 for c in odd):
            return None
        if any(ord(c) > 255 and c.isspace() for c in odd):  # white space "?" would hide: make it " " first
            text = _OTHER_SPACE.sub(" ", text)
        if any(ord(c) > 255 and ord(c.lower()) < 256 for c in odd):  # "K" (Kelvin sign) is "k", not "?"
            text = text.lower()
    return _one_byte_each(text).translate(_LOWER_AND_BLANK)


def _one_byte_each(text: str) -> bytes:
    return text.encode("latin-1", "replace")


# ---------------------------------------------------------------- prefixes of a pattern

_WIDE = object()  # a character class too wide to list


def _char(code: int) -> str:
    c = chr(code)
    return " " if c.isspace() else c.lower()


def _class_chars(items: list) -> object:
    """Normalised characters of a character class ``[...]``, or _WIDE."""
    out: set[str] = set()
    for op, av in items:
        if op is _sre.LITERAL:
            out.add(_char(av))
        elif op is _sre.RANGE:
            lo, hi = av
            if hi - lo > _WIDE_CLASS:
                return _WIDE
            out.update(_char(c) for c in range(lo, hi + 1))
        elif op is _sre.CATEGORY and av in (_sre.CATEGORY_SPACE, _sre.CATEGORY_UNI_SPACE):
            out.add(" ")
        elif op is _sre.CATEGORY and av in (_sre.CATEGORY_DIGIT, _sre.CATEGORY_UNI_DIGIT):
            out.update("0123456789")  # other digits send the text to the plain patterns (normalise)
        else:  # NEGATE, \w, \S and the like
            return _WIDE
    return out


class _Walk:
    """Enumerates the first PREFIX_CHARS characters of every string a parsed pattern matches."""

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        self.done: set[str] = set()  # finished prefixes: no longer extended

    def close(self, strings: set[str]) -> set[str]:
        self.done |= strings
        return set()

    def seq(self, items: list, opens: set[str]) -> set[str]:
        """Extend the open prefixes by a sequence of items; return those still open after it."""
        for op, av in items:
            if not opens:
                break
            opens = self.item(op, av, opens)
        return opens

    def item(self, op: object, av: Any, opens: set[str]) -> set[str]:  # av: the parser's argument, per op
        if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
            return opens  # zero width
        if op is _sre.LITERAL:
            return self.extend(opens, {_char(av)})
        if op is _sre.IN:
            chars = _class_chars(av)
            return self.close(opens) if chars is _WIDE else self.extend(opens, chars)  # type: ignore[arg-type]
        if op is _sre.SUBPATTERN:
            return self.seq(list(av[-1]), opens)
        if op is getattr(_sre, "ATOMIC_GROUP", None):
            return self.seq(list(av), opens)
        if op is _sre.BRANCH:
            out: set[str] = set()
            for alternative in av[1]:
                out |= self.seq(list(alternative), set(opens))
            return self.cap(out)
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, getattr(_sre, "POSSESSIVE_REPEAT", None)):
            return self.repeat(*av, opens)  # type: ignore[call-arg]  # av is (low, high, sub)
        return self.close(opens)  # ANY, NOT_LITERAL, group references...: anything may follow

    def repeat(self, low: int, high: int, sub: object, opens: set[str]) -> set[str]:
        out = set(opens) if low == 0 else set()
        current = opens
        rounds = 0
        while current and rounds < min(high, self.size + 1):
            current = self.seq(list(sub), current)  # type: ignore[call-overload]
            rounds += 1
            if rounds >= low:
                out |= current
        if current and rounds < high:
            self.close(current)  # more repetitions may (or, below low, must) follow: what is known so far is a prefix
        return self.cap(out)

    def extend(self, opens: set[str], chars: set[str]) -> set[str]:
        if len(opens) * len(chars) > self.limit:
            return self.close(opens)
        out = {s + c for s in opens for c in chars}
        full = {s for s in out if len(s) >= self.size}
        self.done |= full
        return self.cap(out - full)

    def cap(self, opens: set[str]) -> set[str]:
        return self.close(opens) if len(opens) > self.limit else opens


def _parse(pattern: re.Pattern[str]) -> object | None:
    if _sre_parse is None:
        return None
    try:
        return _sre_parse.parse(pattern.pattern, pattern.flags)
    except Exception:  # pragma: no cover - the pattern compiled, so it parses
        return None


def literal_prefixes(
    pattern: re.Pattern[str], size: int = PREFIX_CHARS, limit: int = MAX_PREFIXES, tree: object | None = None
) -> frozenset[str] | None:
    """Normalised strings one of which begins every match of ``pattern``; None if there are none to give.

    None for a pattern that can match the empty string or start with a character from a wide
    class: it would need every position anyway. ``tree``: the pattern already parsed.
    """
    tree = tree or _parse(pattern)
    if tree is None or tree.getwidth()[0] == 0:  # type: ignore[attr-defined]
        return None
    walk = _Walk(size, limit)
    walk.close(walk.seq(list(tree), {""}))  # type: ignore[call-overload]
    if "" in walk.done or not walk.done:
        return None
    # a prefix that begins with a shorter one adds nothing: the shorter one already marks the place
    shortest = sorted(walk.done, key=len)
    kept: set[str] = set()
    for prefix in shortest:
        if not any(prefix[:n] in kept for n in range(1, len(prefix))):
            kept.add(prefix)
    return frozenset(kept)


# ---------------------------------------------------------------- the scanner


class Scanner:
    """Patterns searched together: one Aho-Corasick pass per text finds where each may match."""

    def __init__(self) -> None:
        # keyed by id(pattern): hashing a Pattern hashes its whole compiled code
        self._patterns: dict[int, tuple[re.Pattern[str], frozenset[str] | None]] = {}  # -> (pattern, prefixes)
        self._anchored: set[int] = set()  # patterns starting with "^" or "\\A" (not MULTILINE): they match at the start only
        self._automaton: ahocorasick_rs.BytesAhoCorasick | None = None
        # Keys that begin the same set of patterns form a group: a match is then one list append
        # (not one per pattern), and a pattern's candidates are the positions of its groups.
        self._key_group: list[int] = []  # automaton key -> its group
        self._group_count = 0
        self._groups_of: list[tuple[int, tuple[int, ...]]] = []  # (pattern id, its groups) per prefiltered pattern

    def add(self, pattern: re.Pattern[str]) -> re.Pattern[str]:
        """Register a pattern (idempotent); returns it, so a module can write ``X = SCANNER.add(re.compile(...))``."""
        if id(pattern) not in self._patterns:
            tree = _parse(pattern)
            self._patterns[id(pattern)] = (pattern, literal_prefixes(pattern, tree=tree))
            if _starts_anchored(pattern, tree):
                self._anchored.add(id(pattern))
            self._automaton = None
        return pattern

    def prefiltered(self, pattern: re.Pattern[str]) -> bool:
        return self._patterns.get(id(pattern), (None, None))[1] is not None

    def _build(self) -> ahocorasick_rs.BytesAhoCorasick | None:
        keys: dict[str, list[int]] = {}
        for pid, (_, prefixes) in self._patterns.items():
            if prefixes is not None:
                for key in prefixes:
                    keys.setdefault(key, []).append(pid)
        group_of: dict[tuple[int, ...], int] = {}  # pattern ids -> group
        self._key_group = [group_of.setdefault(tuple(ids), len(group_of)) for ids in keys.values()]
        self._group_count = len(group_of)
        groups_of: dict[int, list[int]] = {}
        for ids, group in group_of.items():
            for pid in ids:
                groups_of.setdefault(pid, []).append(group)
        self._groups_of = [(pid, tuple(groups)) for pid, groups in groups_of.items()]
        self._automaton = (
            ahocorasick_rs.BytesAhoCorasick([_one_byte_each(k) for k in keys], implementation=ahocorasick_rs.Implementation.DFA)
            if keys
            else None
        )
        return self._automaton

    def scan(self, text: str) -> ScannedText:
        automaton = self._automaton or self._build()
        folded = normalise(text)
        if folded is None or automaton is None:
            return ScannedText(text, None, self._anchored)
        found: list[list[int]] = [[] for _ in range(self._group_count)]  # group -> where its keys begin
        key_group = self._key_group
        for key, start, _ in automaton.find_matches_as_indexes(folded, overlapping=True):
            found[key_group[key]].append(start)
        starts: dict[int, list[int]] = {}
        for pid, groups in self._groups_of:
            if len(groups) == 1:
                positions = found[groups[0]]  # shared by the patterns of the group: read only
            else:
                positions = []
                for group in groups:
                    positions += found[group]
            positions.sort()  # overlapping matches come in order of their end
            starts[pid] = positions  # no duplicates: no prefix of a pattern begins with another of its prefixes
        return ScannedText(text, starts, self._anchored)


class ScannedText:
    """A text with the candidate positions of every prefiltered pattern; ``re``-compatible search.

    Patterns that were not prefiltered when the text was scanned run as plain ``re``.
    """

    def __init__(self, text: str, starts: dict[int, list[int]] | None, anchored: set[int]) -> None:
        self.text = text
        self._starts = starts  # id(pattern) -> sorted candidate positions; None: search everything plainly
        self._anchored = anchored

    def _candidates(self, pattern: re.Pattern[str]) -> list[int] | None:
        return None if self._starts is None else self._starts.get(id(pattern))

    def finditer(self, pattern: re.Pattern[str], pos: int = 0, endpos: int | None = None) -> Iterator[re.Match[str]]:
        """The matches of ``pattern.finditer(text, pos, endpos)``."""
        text = self.text
        endpos = len(text) if endpos is None else endpos
        starts = self._candidates(pattern)
        if starts is None:
            yield from pattern.finditer(text, pos, endpos)
            return
        match = pattern.match
        last = pos
        for k in range(bisect_left(starts, pos), len(starts)):
            at = starts[k]
            if at >= endpos:
                break
            if at < last:
                continue
            m = match(text, at, endpos)
            if m is not None:
                yield m
                last = m.end()

    # The methods below are the extractor's inner loop: the candidate lookup is written out in each.

    def count(self, pattern: re.Pattern[str], pos: int, endpos: int) -> int:
        """``len(pattern.findall(text, pos, endpos))`` for a pattern that never matches the empty string."""
        starts = None if self._starts is None else self._starts.get(id(pattern))
        if starts is None:
            return len(pattern.findall(self.text, pos, endpos))
        k = bisect_left(starts, pos)
        if k == len(starts) or starts[k] >= endpos:
            return 0
        text, match = self.text, pattern.match
        n, last = 0, pos
        for i in range(k, len(starts)):
            at = starts[i]
            if at >= endpos:
                break
            if at >= last:
                m = match(text, at, endpos)
                if m is not None:
                    n += 1
                    last = m.end()
        return n

    def search(self, pattern: re.Pattern[str], pos: int = 0, endpos: int | None = None) -> re.Match[str] | None:
        """``pattern.search(text, pos, endpos)``."""
        starts = None if self._starts is None else self._starts.get(id(pattern))
        if endpos is None:
            endpos = len(self.text)
        if starts is None:
            return pattern.search(self.text, pos, endpos)
        k = bisect_left(starts, pos)
        if k == len(starts) or starts[k] >= endpos:
            return None
        text, match = self.text, pattern.match
        for i in range(k, len(starts)):
            at = starts[i]
            if at >= endpos:
                return None
            m = match(text, at, endpos)
            if m is not None:
                return m
        return None

    def search_slice(self, pattern: re.Pattern[str], pos: int, endpos: int) -> re.Match[str] | None:
        """``pattern.search(text[pos:endpos])``: the slice is a string of its own (match offsets are in it)."""
        starts = None if self._starts is None else self._starts.get(id(pattern))
        if starts is None:
            return pattern.search(self.text[pos:endpos])
        k = bisect_left(starts, pos)
        if k == len(starts) or starts[k] >= endpos:
            return None
        if id(pattern) in self._anchored:  # "^" matches at the start of the slice only
            return pattern.match(self.text[pos:endpos]) if starts[k] == pos else None
        piece = self.text[pos:endpos]
        match = pattern.match
        for i in range(k, len(starts)):
            at = starts[i]
            if at >= endpos:
                break
            m = match(piece, at - pos)
            if m is not None:
                return m
        return None

    def starts_in(self, pattern: re.Pattern[str], pos: int, endpos: int) -> list[int] | None:
        """Candidate positions of ``pattern`` in [pos, endpos); None if it is not prefiltered."""
        starts = self._candidates(pattern)
        if starts is None:
            return None
        return starts[bisect_left(starts, pos) : bisect_left(starts, endpos)]

    def may_match(self, pattern: re.Pattern[str], pos: int, endpos: int) -> bool:
        """False only if no match of ``pattern`` can start in [pos, endpos) (also within a slice of the text)."""
        starts = self._candidates(pattern)
        if starts is None:
            return True
        k = bisect_left(starts, pos)
        return k < len(starts) and starts[k] < endpos


def matches_at(pattern: re.Pattern[str], string: str, offsets: list[int]) -> Iterator[re.Match[str]]:
    """``pattern.finditer(string)`` when every match is known to start at one of the sorted ``offsets``."""
    last = 0
    for at in offsets:
        if at >= last:
            m = pattern.match(string, at)
            if m is not None:
                yield m
                last = m.end()


def _starts_anchored(pattern: re.Pattern[str], tree: object | None) -> bool:
    """Whether the pattern begins with "^" or "\\A" (and is not MULTILINE): it can match at the start only."""
    if tree is None or pattern.flags & re.MULTILINE:
        return False
    first = tree.data[:1]  # type: ignore[attr-defined]
    return first in ([(_sre.AT, _sre.AT_BEGINNING)], [(_sre.AT, _sre.AT_BEGINNING_STRING)])


SCANNER = Scanner()


def prefilter(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """Register ``pattern`` with the extractor's scanner; returns it unchanged."""
    return SCANNER.add(pattern)
