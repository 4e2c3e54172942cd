"""Which licences let a release redistribute a document's full text (``licences.csv``, rules as data).

A document's ``licence`` comes from ``sources.csv``. Matching ignores case, spaces, dots, dashes and
a "v" before the version ("CC BY 4.0", "cc-by-4.0" and "OGL v3.0" match their ids); anything not listed, or listed with
``redistribute=no``, keeps the text out of releases: a news article is the publisher's copyright.
"""

from __future__ import annotations

import csv
import functools
import re
from importlib import resources


@functools.cache
def _licences() -> dict[str, bool]:
    text = resources.files("pipeline.metadata").joinpath("licences.csv").read_text(encoding="utf-8")
    return {_normal(row["id"]): row["redistribute"].strip().lower() == "yes" for row in csv.DictReader(text.splitlines())}


def _normal(licence: str) -> str:
    return re.sub(r"[\s_.-]+", "-", licence.strip().lower()).replace("-v", "-").strip("-")


def allows_redistribution(licence: str | None) -> bool:
    """True when a text under ``licence`` may be copied into a release."""
    return licence is not None and bool(licence) and _licences().get(_normal(licence), False)


def redistributable_ids() -> list[str]:
    """The licence ids (as in licences.csv, normalised) that allow it, for a SQL filter."""
    return sorted(k for k, ok in _licences().items() if ok)
