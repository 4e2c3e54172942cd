"""Stage 2, extract: every number in a text, with its span, value and kind.

Small pure parsers: text in, Mention records out.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Mention:
    char_start: int
    char_end: int
    surface: str
    value: float | None
    kind: str
    decision: str = "dropped"  # "fact" or "dropped"
    reason: str = ""
    fact_id: str | None = None
    sentence: str | None = None

    def to_row(self, document: str) -> dict[str, Any]:
        return {"document": document, **asdict(self)}
