"""Text structure for the extractor: paragraphs, sentences, list items and page furniture.

Works on the document text as-is (offsets index ``Document.text``). Everything is
cheap regex work over the whole text, done once per document.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass

from pipeline.extractor.reasons import Reason
from pipeline.extractor.scan import SCANNER, ScannedText, prefilter

# A line that opens the reader-comments section: everything after it is not the article.
_COMMENTS_OPEN = prefilter(re.compile(
    r"^\s*(?:leave a (?:comment|reply)|post a comment|add (?:a|your) comment|view all comments|show comments"
    r"|join the (?:discussion|conversation)|reader comments|comments are closed|have your say|comments?\s*\(\d+\)"
    r"|fill in your details below.*)\s*$",
    re.I,
))
# "6 Comments" opens the comments only when comment-widget words follow closely.
_COMMENT_COUNT = re.compile(r"^\s*\d+\s+comments?\s*$", re.I)
_COMMENT_WIDGET = re.compile(r"\b(?:oldest|newest|most voted|inline feedbacks|view all comments|sort by|notify of)\b", re.I)
# A whole line of page furniture: counters, vote widgets, navigation, advert slots, bylines.
_FURNITURE_LINE = re.compile(
    r"^\s*(?:\d{1,4}|[\d\s.,]*\s?(?:votes?|likes?|shares?|comments?|views?|rating)|[\s.,:/|-]*"
    r"|(?:comments?\s*)?\d+\s+comments?"
    r"|(?:hide ad|advertisement|sponsored|related articles|related stories|back to top.*|close|skip to .*"
    r"|share this.*|follow us.*|sign up.*|subscribe|article rating|notify of|guest|newspapers (?:in|from) .*"
    r"|watch more.*|visit .* now|image: .*|credit: .*|- advertisement -)"
    r")\s*$",
    re.I,
)
# Also furniture: a line ending in a licence ("Photo: Jane Doe, CC BY-SA 4.0"); searched for, so no ".*" in front.
_LICENCE_LINE_END = prefilter(re.compile(r"\bcc by(?:-[a-z]+)* \d(?:\.\d)?\s*$", re.I))
# From these words to the end of the line is a link to another story.
_READ_MORE = prefilter(re.compile(r"\b(?:read more|see also|more on this story|related)\s*:", re.I))
_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "st", "no", "nos", "inc", "ltd", "co", "corp", "vs", "v", "e.g", "i.e", "etc", "approx",
    "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec", "u.s", "u.k", "d.c",
    "prof", "sgt", "insp", "supt", "det", "ch", "gen", "gov", "rep", "sen", "jr", "sr", "fig", "ave", "rd",
}
# One [.!?] in front of the alternatives (rather than "[.!?]+" in each) lets re skip to those characters fast.
_SENTENCE_END = re.compile(r"[.!?](?:[.!?]*[\"”’')\]]*\s+(?=[\"“‘'(\[]?[A-Z0-9•£$€#])|[.!?]*[\"”’')\]]*$)")
_DATE_HEADER = re.compile(r"^\s*(?:date|published|updated)\s*:?\s*\d{4}-\d{2}-\d{2}\s*", re.I)
_BULLET = re.compile(r"^\s*(?:[•·*▪◦‣–-]|\d+[.)])\s+")


@dataclass(eq=False)  # built by the thousand: a frozen dataclass costs three times as much to make
class Sentence:
    start: int
    end: int
    paragraph: int  # index of the line (paragraph) holding the sentence
    item_of: int | None = None  # index (into sentences) of the lead-in sentence this list item belongs to
    is_item: bool = False  # a bullet, or a short paragraph after a lead-in ending with ':'


@dataclass
class Layout:
    text: str
    sentences: list[Sentence]
    furniture: list[tuple[int, int, str]]  # spans that are not the article, with the reason
    _starts: list[int]

    def sentence_at(self, pos: int) -> int:
        """Index of the sentence holding offset ``pos`` (or the nearest before it)."""
        return max(0, bisect_right(self._starts, pos) - 1)

    def furniture_reason(self, start: int, end: int) -> str | None:
        for a, b, reason in self.furniture:
            if a <= start and end <= b:
                return reason
        return None


def _lines(text: str) -> list[tuple[int, int]]:
    out, pos = [], 0
    for line in text.split("\n"):
        out.append((pos, pos + len(line)))
        pos += len(line) + 1
    return out


def _split_sentences(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Sentences of one line, not splitting after abbreviations, initials or decimals."""
    out = []
    cut = start
    for m in _SENTENCE_END.finditer(text, start, end):
        found = m.group()
        if found[0] == ".":
            before = text[cut : m.start()].rsplit(None, 1)
            word = before[-1].lower().rstrip(".") if before else ""
            if word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha()):
                continue
        stop = m.start() + len(found.rstrip())
        if not text[cut:stop].isspace() and cut < stop:
            out.append((cut, stop))
        cut = m.end()
    if cut < end and not text[cut:end].isspace():
        out.append((cut, end))
    # trim leading white space so a span starts on a character
    trimmed = []
    for a, b in out:
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        if a < b:
            trimmed.extend(_cap_length(text, a, b) if b - a > MAX_SENTENCE else [(a, b)])
    return trimmed


MAX_SENTENCE = 1500  # characters; real sentences are far shorter
_CUT = re.compile(r"[;,]\s|\s")


def _cap_length(text: str, a: int, b: int) -> list[tuple[int, int]]:
    """A run of text with no sentence end (a 2 MB line of repeated words) cut into pieces of at most
    MAX_SENTENCE characters, each at its last clause break or blank: every figure is weighed against
    the words of its sentence, so an unbounded sentence would make extraction quadratic."""
    pieces = []
    while b - a > MAX_SENTENCE:
        window = text[a + MAX_SENTENCE // 2 : a + MAX_SENTENCE]
        cuts = [m.end() for m in _CUT.finditer(window)]
        semi = [m.end() for m in re.finditer(r"[;,]\s", window)]
        cut = a + MAX_SENTENCE // 2 + (semi[-1] if semi else cuts[-1] if cuts else len(window))
        end = cut
        while end > a and text[end - 1].isspace():
            end -= 1
        pieces.append((a, end))
        a = cut
        while a < b and text[a].isspace():
            a += 1
    if a < b:
        pieces.append((a, b))
    return pieces


# a table row flattened to a line: "44 Snapchat", "Total Count 52", "Kent 1,204" (a label and one number)
_LABEL = r"[A-Za-z][A-Za-z&'’()/.\-*]*(?: [A-Za-z&'’()/.\-*]+){0,3}"  # at most four words: a heading has more
_LABEL_VALUE = re.compile(rf"(?:{_LABEL}[\s:|]+[\d,]+%?|[\d,]+%?\s+{_LABEL})")


def layout(text: str, scanned: ScannedText | None = None) -> Layout:
    """``scanned``: the text as scanned by ``scan.SCANNER``, if the caller has it already."""
    scanned = scanned or SCANNER.scan(text)
    lines = _lines(text)
    furniture: list[tuple[int, int, str]] = []
    comments_from = len(text)
    for i, (a, b) in enumerate(lines):
        if scanned.search_slice(_COMMENTS_OPEN, a, b):  # it starts with "^": searching the line is matching it
            comments_from = a
            break
        if _COMMENT_COUNT.match(text[a:b]):
            following = " ".join(text[x:y] for x, y in lines[i + 1 : i + 7])
            if _COMMENT_WIDGET.search(following):
                comments_from = a
                break
    if comments_from < len(text):
        furniture.append((comments_from, len(text), Reason.READER_COMMENTS))

    sentences: list[Sentence] = []
    heading: int | None = None
    lead_in: int | None = None
    items_left = 0
    for p, (a, b) in enumerate(lines):
        if a >= comments_from:
            break
        line = text[a:b]
        stripped = line.strip()
        if not stripped:
            continue
        if _FURNITURE_LINE.match(line) or scanned.search_slice(_LICENCE_LINE_END, a, b):
            furniture.append((a, b, Reason.PAGE_FURNITURE))
            continue
        header = _DATE_HEADER.match(line)
        if header:  # " date 2024-08-14 Story text...": the date label is metadata, the rest is the article
            furniture.append((a, a + header.end(), Reason.DATE_HEADER))
            a += header.end()
            line = text[a:b]
            stripped = line.strip()
        more = scanned.search_slice(_READ_MORE, a, b)
        if more:
            furniture.append((a + more.start(), b, Reason.LINK))
        bullet = bool(_BULLET.match(line))
        short = len(stripped) <= 220
        if lead_in is None and heading is not None and _LABEL_VALUE.fullmatch(stripped):
            # "Grooming offences recorded in 2023" then "44 Snapchat", "Total Count 52": rows under a heading
            lead_in, items_left = heading, 40
        is_item = bullet or (lead_in is not None and items_left > 0 and short)
        if not is_item:
            lead_in, items_left = None, 0
        item_of = lead_in if is_item else None
        for s, e in _split_sentences(text, a, b):
            sentences.append(Sentence(s, e, p, item_of, is_item))
        if is_item:
            items_left -= 1
        if line.rstrip().endswith(":"):
            lead_in, items_left = len(sentences) - 1, 12
        # a heading: a short line with letters and no closing punctuation (its rows may follow)
        if not is_item and len(stripped) <= 120 and stripped[-1:].isalnum() and not _LABEL_VALUE.fullmatch(stripped):
            heading = len(sentences) - 1
        elif not is_item:
            heading = None
    starts = [s.start for s in sentences]
    return Layout(text, sentences, furniture, starts)
