"""Stages 2-3, extract: one document's text -> its mentions (every number, with the decision and why) and facts.

``extract_document`` (in ``document.py``) is the single entry point; the package's modules are its parts:

    scan.py        fast regex search: literal prefixes of every pattern found in one Aho-Corasick pass
    numbers.py     the number grammar: every number with its span, value and qualifier
    figures.py     numbers that state one figure joined ("27 (40.2%)")
    layout.py      sentences, lists, headings, page furniture and reader comments
    periods.py     dates, reference periods and financial years
    gazetteer.py   names of platforms, regions, offences and sources from the taxonomy's aliases
    nouns.py       the noun a number counts (a measure, people, organisations)
    context.py     document context: names, periods, defaults, tables and clause helpers
    not_facts.py   why a figure is no fact
    attributes.py  platform, region, offence, source, period and quote of a figure
    merge.py       one fact per figure
    records.py     Fact, Mention, Extraction and the extractor version
    audit.py       the mentions rows and ``explain``'s text
    document.py    ``extract_document``: the steps in order
    batch.py       many documents: the cache and the worker pool (imports pyarrow: not imported here)
"""

from pipeline.extractor.document import explain, extract_document, prepare
from pipeline.extractor.records import EXTRACTOR_VERSION, Extraction, Fact, Mention, make_fact_id

__all__ = [
    "EXTRACTOR_VERSION",
    "Extraction",
    "Fact",
    "Mention",
    "explain",
    "extract_document",
    "make_fact_id",
    "prepare",
]
