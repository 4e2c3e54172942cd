"""Stage 1, ingest: files under the raw folder -> Document records (or Rejected ones, with the reason).

Every input path ends in exactly one of ``IngestResult.documents`` or ``IngestResult.rejected``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path


class DocumentError(Exception):
    """A file that cannot become a document; ``str(exc)`` is the reason recorded in rejected_documents."""


@dataclass(frozen=True)
class Document:
    document: str  # path relative to the raw folder, '/' separated
    sha256: str
    bytes: int
    media_type: str
    text: str  # what the extractor sees; fact spans index this
    encoding: str | None = None
    pages: int | None = None
    published: date | None = None
    url: str | None = None
    outlet: str | None = None
    title: str | None = None


@dataclass(frozen=True)
class Rejected:
    document: str
    reason: str
    sha256: str | None = None
    bytes: int | None = None
    duplicate_of: str | None = None


@dataclass
class IngestResult:
    documents: list[Document] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a manifest row naming a missing file


def read_document(path: Path, *, document: str | None = None) -> Document:
    """Read one file into a Document; raise DocumentError with the reason if it cannot be read.

    Minimal version: UTF-8 text only (replaced by the full ingest stage).
    """
    raw = path.read_bytes()
    if not raw.strip():
        raise DocumentError("empty file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DocumentError(f"undecodable text: {exc}") from exc
    return Document(
        document=document or path.name,
        sha256=hashlib.sha256(raw).hexdigest(),
        bytes=len(raw),
        media_type="text/plain",
        text=text,
        encoding="utf-8",
    )


def ingest(raw_dir: Path, *, max_bytes: int) -> IngestResult:
    """Walk raw_dir and read every file; see the module docstring."""
    result = IngestResult()
    for path in sorted(p for p in raw_dir.rglob("*") if p.is_file() and p.name != "sources.csv"):
        rel = path.relative_to(raw_dir).as_posix()
        try:
            result.documents.append(read_document(path, document=rel))
        except DocumentError as exc:
            result.rejected.append(Rejected(rel, str(exc)))
    return result
