"""Every reason a number is not a fact: the ``reason`` column of the mentions table, in one place.

A reason with ``{word}`` (or ``{part}``, ``{start}``, ``{end}``) is a template filled in with
``.format``. The not-a-fact rules that give most of them are in ``not_facts.py``; layout (page
furniture), dating and merging give the others.
"""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    # layout: text that is not the article
    READER_COMMENTS = "reader comments"
    PAGE_FURNITURE = "page furniture"
    DATE_HEADER = "date header"
    LINK = "link to another story"
    # the number is part of a date or reference period
    DATE = "date or period"
    # a figure on its own (not_facts stage "figure")
    TRUNCATED = "truncated at the end of the text"
    YEAR = "year"
    TIME = "time of day"
    MONEY = "money"
    PHONE = "phone number or code"
    CODE = "code or reference"
    TOO_LARGE = "number too large to be a count (a reference or an identifier?)"
    REFERENCE = "reference number, rank or label"
    AGE = "age"
    VOTES = "votes, comments or ratings"
    DURATION = "duration"
    COMPOUND = "part of a compound word"
    MULTIPLE = "multiple (times as many)"
    CHANGE = "relative change"
    RATE = "rate per time unit"
    RATE_POPULATION = "rate per unit of population"
    WORD_ONE = "the word 'one'"
    VAGUE_RANGE = "vague range"
    # what a count counts (not_facts.count_measure)
    COUNT_OF_PEOPLE = "count of people ({word}): borderline, left out"
    COUNT_OF_ORGS = "count of {word}: police forces, companies or platforms, not offences"
    COUNTS_OTHER = "counts {word}: not offences, reports, images or cases"
    SPELLED_WITHOUT_NOUN = "spelled number without a counted noun"
    TEAM_OF = "count of people (a team or group of)"
    COUNT_OF_PART = "count of {word} (from '{part}')"
    COUNT_AS_BEFORE = "count of {word} (as the figure before it)"
    NO_COUNTED_NOUN = "no counted noun"
    # shares (stage "share") and counts (stage "count")
    ORDINAL_WORD = "ordinal word, not a share"
    FRACTION_WORD = "fraction word, not a share"
    OVER_100 = "percentage over 100"
    SHARE_OF = "share of {word} (out of scope)"
    SURVEY = "survey answer (share of people)"
    SHARE_BY_AGE_SEX = "share of victims by age or sex (out of scope)"
    COUNT_BY_AGE_SEX = "count of victims by age or sex (out of scope)"
    # the sentence (stage "topic") and the figure with its platform (stage "placed")
    OFF_TOPIC = "not about child sexual abuse"
    SHARE_OF_NOTHING = "share with nothing it is a share of"
    # merge: the figure was said before
    REPEAT_OF = "repeat of the figure at {start}-{end}"
    REPEAT = "repeat of another fact in this document"
