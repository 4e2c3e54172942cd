"""The ingest manifest: what an ingest found, as Parquet, so that the next one reads only what changed.

``<curated>/ingest/<id>/`` holds

    documents.parquet  the documents table's columns (text included), plus ``key`` (the extraction key),
                       ``text_sha256``, ``mtime_ns``, the document's own url/title/published (before
                       sources.csv) and ``notes`` (warnings its reading gave)
    rejected.parquet   the rejected_documents table's columns, plus ``mtime_ns``
    meta.json          the ingest fingerprint, when the scan started, the sources.csv digest, warnings

and ``<curated>/ingest/CURRENT`` names the newest folder (replaced atomically). Later steps read the
folder, not Python objects handed over in memory, so a step's memory does not grow with the archive.

The next ingest trusts a file whose path, size and mtime are those recorded, and whose mtime is older
than the scan that recorded it (a file changed within the same second could keep its size and mtime):
it is not opened, and its row is copied from the manifest with sources.csv applied anew. The sha256
stays the key: duplicates and the extraction cache work exactly as on a full read. A change to the
ingest code, the versions of the libraries that parse documents, or PIPELINE_MAX_BYTES changes the
fingerprint, and then every file is read again. When nothing changed the current folder is kept as it
is, and nothing is written.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pyarrow.parquet as pq

from pipeline import documents as ingest_stage
from pipeline.documents import Document, Known, ManifestRow, Rejected
from pipeline.metadata import schema

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
DOCUMENTS_FILE = "documents.parquet"
REJECTED_FILE = "rejected.parquet"
META_FILE = "meta.json"
BATCH_ROWS = 1000  # documents buffered before a row group is written
RACY_NS = 1_000_000_000  # a file modified this close to (or after) the scan that recorded it is read again
KEEP = 2  # manifest folders kept: the current one and the one before

_EXTRA_DOCUMENT_FIELDS = [
    pa.field("key", pa.string(), nullable=False),
    pa.field("text_sha256", pa.string(), nullable=False),
    pa.field("mtime_ns", pa.int64()),
    pa.field("own_url", pa.string()),
    pa.field("own_title", pa.string()),
    pa.field("own_published", pa.date32()),
    pa.field("notes", pa.list_(pa.string())),
]
DOCUMENTS_SCHEMA = pa.schema(list(schema.arrow_schema("documents").with_metadata(None)) + _EXTRA_DOCUMENT_FIELDS)
REJECTED_SCHEMA = pa.schema(
    list(schema.arrow_schema("rejected_documents").with_metadata(None)) + [pa.field("mtime_ns", pa.int64())]
)
DOCUMENT_COLUMNS = [f.name for f in dataclasses.fields(Document)]
REJECTED_COLUMNS = [f.name for f in dataclasses.fields(Rejected)]


@dataclass(frozen=True)
class IngestManifest:
    """A reference to one manifest folder, and what the ingest that wrote it (or kept it) counted."""

    folder: str
    documents: int
    rejected: int
    warnings: tuple[str, ...] = ()
    files_read: int = 0  # files whose content this ingest read
    files_reused: int = 0  # files it did not open (unchanged since the previous ingest)
    written: bool = True  # False: nothing changed, the previous folder was kept
    sources_read: bool = True  # False: sources.csv was unchanged and no document changed, so it was not parsed

    @property
    def documents_path(self) -> Path:
        return Path(self.folder) / DOCUMENTS_FILE

    @property
    def rejected_path(self) -> Path:
        return Path(self.folder) / REJECTED_FILE

    def iter_documents(self, batch_rows: int = BATCH_ROWS) -> Iterator[list[Document]]:
        """The documents, a batch at a time, in the order written."""
        pf = pq.ParquetFile(self.documents_path)
        for batch in pf.iter_batches(batch_size=batch_rows, columns=DOCUMENT_COLUMNS):
            yield [Document(**row) for row in batch.to_pylist()]

    def read_rejected(self, limit: int | None = None) -> list[Rejected]:
        table = pq.ParquetFile(self.rejected_path).read(columns=REJECTED_COLUMNS)
        if limit is not None:
            table = table.slice(0, limit)
        return [Rejected(**row) for row in table.to_pylist()]

    def preview(self, n: int) -> list[dict[str, Any]]:
        """The first ``n`` documents (sorted by path) without their text."""
        table = pq.ParquetFile(self.documents_path).read(columns=["document", "media_type", "bytes", "title"])
        order = pa.compute.sort_indices(table["document"])[:n]
        return table.take(order).to_pylist()

    def paths(self) -> list[str]:
        """Every input path the manifest accounts for: documents, then rejected."""
        return _paths(Path(self.folder))


def ingest_fingerprint(max_bytes: int) -> str:
    """Changes with anything that changes what ingest makes of a file: its code, its parsers, the size limit."""
    import inspect
    from importlib import metadata

    from pipeline.extractor.batch import extraction_key_from

    h = hashlib.sha256(Path(ingest_stage.__file__).read_bytes())
    h.update(inspect.getsource(extraction_key_from).encode())  # a reused row keeps its recorded key
    for package in ("trafilatura", "pypdf", "charset-normalizer", "lxml"):
        try:
            h.update(f"{package}={metadata.version(package)}".encode())
        except metadata.PackageNotFoundError:
            h.update(f"{package}=none".encode())
    h.update(f"max_bytes={max_bytes}".encode())
    return h.hexdigest()[:16]


def current(ingest_dir: Path) -> Path | None:
    """The folder ``CURRENT`` names, if it is there."""
    try:
        name = (Path(ingest_dir) / CURRENT).read_text().strip()
    except FileNotFoundError:
        return None
    folder = Path(ingest_dir) / name
    return folder if name and (folder / META_FILE).is_file() else None


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def document_row(doc: Document, own: Document, notes: list[str], mtime_ns: int, text_hash: str) -> dict[str, Any]:
    from pipeline.extractor.batch import extraction_key_from

    row = {name: getattr(doc, name) for name in DOCUMENT_COLUMNS}
    row.update(
        key=extraction_key_from(text_hash, doc),
        text_sha256=text_hash,
        mtime_ns=mtime_ns,
        own_url=own.url,
        own_title=own.title,
        own_published=own.published,
        notes=notes or None,
    )
    return row


def _sources_digest(sources: dict[str, ManifestRow], warnings: list[str]) -> str:
    """What sources.csv said, as a digest: the same rows and warnings, the same metadata for every document."""
    return hashlib.sha256(json.dumps([sorted((k, repr(v)) for k, v in sources.items()), warnings]).encode()).hexdigest()


def _known(folder: Path) -> tuple[Known, dict[str, Any]]:
    """The stat cache and the outcomes of content recorded in a manifest folder."""
    meta = json.loads((folder / META_FILE).read_text())
    trusted_before = int(meta["scan_started_ns"]) - RACY_NS
    files: dict[str, tuple[int, int, str]] = {}
    outcomes: dict[str, str | None] = {}
    docs = pq.ParquetFile(folder / DOCUMENTS_FILE).read(columns=["document", "bytes", "mtime_ns", "sha256"])
    for path, size, mtime, sha in zip(*(docs[c].to_pylist() for c in docs.column_names), strict=True):
        outcomes[sha] = None
        if mtime is not None and mtime < trusted_before:
            files[path] = (size, mtime, sha)
    rejected = pq.ParquetFile(folder / REJECTED_FILE).read(
        columns=["document", "reason", "sha256", "bytes", "duplicate_of", "mtime_ns"]
    )
    for path, reason, sha, size, duplicate_of, mtime in zip(*(rejected[c].to_pylist() for c in rejected.column_names), strict=True):
        if sha is None and size == 0 and reason.startswith("empty file"):
            sha = ""  # (ingest's sha256 of no content)
        if sha is None:
            continue  # rejected before its content was read (link, too large, unreadable...): nothing to reuse
        if duplicate_of is None:
            outcomes.setdefault(sha, reason)
        if mtime is not None and mtime < trusted_before:
            files[path] = (size, mtime, sha)
    return Known(files=files, outcomes=outcomes), meta


class _Writer:
    """Buffers rows and writes them to one Parquet file a row group at a time."""

    def __init__(self, path: Path, arrow_schema: pa.Schema) -> None:
        self.schema = arrow_schema
        self.writer = pq.ParquetWriter(path, arrow_schema, compression="zstd")
        self.rows: list[dict[str, Any]] = []
        self.count = 0

    def add(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.count += 1
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def add_table(self, table: pa.Table) -> None:
        """Rows already in Arrow (after any buffered rows)."""
        self.flush()
        self.writer.write_table(table.cast(self.schema))
        self.count += table.num_rows

    def flush(self) -> None:
        if self.rows:
            self.writer.write_table(pa.Table.from_pylist(self.rows, schema=self.schema))
            self.rows = []

    def close(self) -> None:
        self.flush()
        self.writer.close()


def _sources_stat(raw_dir: Path) -> tuple[int, int] | None:
    """(size, mtime_ns) of raw_dir/sources.csv if it is a regular file (a link or anything else is read, and warned of)."""
    try:
        st = os.stat(raw_dir / ingest_stage.MANIFEST, follow_symlinks=False)
    except OSError:
        return None
    return (st.st_size, st.st_mtime_ns) if stat.S_ISREG(st.st_mode) else None


def _copy_reused(previous: Path, reused: dict[str, tuple[str, int]], sources: dict[str, ManifestRow], docs: _Writer) -> list[str]:
    """Copy the rows of unchanged documents from the manifest ``previous`` into ``docs``, with their
    (possibly new) path and mtime and their sources.csv metadata applied anew; returns their notes.

    Arrow batches, not Python rows: only the small columns are looked at in Python, and the text is
    copied as it is. A row whose metadata did not change keeps its extraction key (which hashes what
    the extractor sees but the path, the text and the licence); any other's is computed again."""
    from pipeline.extractor.batch import extraction_key_from

    fields = ingest_stage.SOURCED_FIELDS
    notes: list[str] = []
    wanted = pa.array(list(reused), pa.string())
    for batch in pq.ParquetFile(previous / DOCUMENTS_FILE).iter_batches(batch_size=10 * BATCH_ROWS):
        table = pa.Table.from_batches([batch])
        table = table.filter(pa.compute.is_in(table["sha256"], value_set=wanted))
        if not table.num_rows:
            continue
        old = {c: table[c].to_pylist() for c in ("sha256", "key", "own_url", "own_title", "own_published", *fields)}
        new: dict[str, list[Any]] = {name: [] for name in ("document", "mtime_ns", "key", *fields)}
        for i, sha in enumerate(old["sha256"]):
            path, mtime_ns = reused[sha]
            own = {"url": old["own_url"][i], "title": old["own_title"][i], "published": old["own_published"][i],
                   "outlet": None, "licence": None}
            applied = ingest_stage.sourced(own, ingest_stage.sources_row(sources, path))
            key = old["key"][i]
            if any(applied[f] != old[f][i] for f in fields if f != "licence"):
                row = table.slice(i, 1).select([c for c in DOCUMENT_COLUMNS if c != "text"]).to_pylist()[0]
                key = extraction_key_from(table["text_sha256"][i].as_py(), Document(**{**row, **applied, "document": path, "text": ""}))
            new["document"].append(path)
            new["mtime_ns"].append(mtime_ns)
            new["key"].append(key)
            for f in fields:
                new[f].append(applied[f])
        for name, values in new.items():
            at = table.schema.get_field_index(name)
            table = table.set_column(at, table.schema.field(at), pa.array(values, table.schema.field(at).type))
        notes += [note for row_notes in table["notes"].to_pylist() if row_notes for note in row_notes]
        docs.add_table(table)
    return notes


def ingest_to_manifest(raw_dir: Path, ingest_dir: Path, *, max_bytes: int, workers: int = 0) -> IngestManifest:
    """Ingest ``raw_dir`` into a new manifest folder under ``ingest_dir`` (or keep the current one when
    nothing changed), reading only the files that changed since the current manifest."""
    raw_dir, ingest_dir = Path(raw_dir), Path(ingest_dir)
    ingest_dir.mkdir(parents=True, exist_ok=True)
    fingerprint = ingest_fingerprint(max_bytes)
    previous = current(ingest_dir)
    known, previous_meta = (None, None)
    if previous is not None:
        try:
            known, previous_meta = _known(previous)
        except (OSError, ValueError, KeyError, pa.ArrowInvalid) as exc:
            log.warning("ingest manifest %s unreadable (%s); reading every file", previous, exc)
            known, previous_meta = None, None
        if previous_meta is not None and previous_meta.get("fingerprint") != fingerprint:
            known, previous_meta = None, None  # the ingest itself changed: its records say nothing
    sources_stat = _sources_stat(raw_dir)
    sources: dict[str, ManifestRow] = {}
    source_warnings: list[str] = []
    if previous_meta is not None and sources_stat is not None and previous_meta.get("sources_stat") == list(sources_stat) \
            and sources_stat[1] < int(previous_meta["scan_started_ns"]) - RACY_NS:
        # sources.csv is the file the current manifest read (same size and mtime, not modified during that
        # scan): its digest stands, and it is parsed (100,000 rows: seconds) only if a document changed
        sources_digest, sources_parsed = str(previous_meta["sources_sha256"]), False
    else:
        sources, source_warnings = ingest_stage.load_sources(raw_dir, max_bytes)
        sources_digest, sources_parsed = _sources_digest(sources, source_warnings), True

    def parsed_sources() -> dict[str, ManifestRow]:
        nonlocal sources, source_warnings, sources_parsed
        if not sources_parsed:
            sources, source_warnings = ingest_stage.load_sources(raw_dir, max_bytes)
            sources_parsed = True
        return sources

    scan_started_ns = time.time_ns()
    tmp = ingest_dir / f".tmp-{uuid.uuid4().hex}"
    tmp.mkdir()
    try:
        docs = _Writer(tmp / DOCUMENTS_FILE, DOCUMENTS_SCHEMA)
        notes: list[str] = []
        reused: dict[str, tuple[str, int]] = {}  # sha256 -> (path, mtime_ns) of documents copied from the manifest

        def on_document(own: Document, doc_notes: list[str], mtime_ns: int) -> None:
            notes.extend(doc_notes)
            docs.add(document_row(ingest_stage.apply_sources(own, parsed_sources()), own, doc_notes, mtime_ns, text_sha256(own.text)))

        def on_reused(path: str, sha: str, mtime_ns: int) -> None:
            reused[sha] = (path, mtime_ns)

        summary = ingest_stage.ingest_stream(
            raw_dir, max_bytes=max_bytes, workers=workers, known=known, on_document=on_document, on_reused=on_reused
        )
        rejected_rows = [
            {**dataclasses.asdict(r), "mtime_ns": summary.rejected_mtime_ns.get(r.document)} for r in summary.rejected
        ]
        if (
            previous is not None
            and previous_meta is not None
            and docs.count == 0
            and previous_meta.get("sources_sha256") == sources_digest
            and _same_as_previous(previous, reused, rejected_rows)
        ):
            docs.close()
            shutil.rmtree(tmp, ignore_errors=True)
            log.info("ingest: nothing changed since %s", previous.name)
            return IngestManifest(
                str(previous), len(reused), len(rejected_rows), tuple(previous_meta.get("warnings", [])),
                summary.files_read, summary.files_reused, written=False, sources_read=sources_parsed,
            )
        if reused:
            assert previous is not None
            notes.extend(_copy_reused(previous, reused, parsed_sources(), docs))
        docs.close()
        pq.write_table(pa.Table.from_pylist(rejected_rows, schema=REJECTED_SCHEMA), tmp / REJECTED_FILE, compression="zstd")
        paths = _paths(tmp)
        parsed_sources()
        warnings = [*summary.warnings, *notes, *source_warnings, *ingest_stage.missing_sources_warnings(sources, paths)]
        meta = {
            "fingerprint": fingerprint,
            "scan_started_ns": scan_started_ns,
            "sources_sha256": sources_digest,
            "sources_stat": list(sources_stat) if sources_stat is not None else None,
            "documents": docs.count,
            "rejected": len(rejected_rows),
            "warnings": warnings,
        }
        (tmp / META_FILE).write_text(json.dumps(meta, indent=1, ensure_ascii=False))
        for name in (DOCUMENTS_FILE, REJECTED_FILE, META_FILE):
            fsync_file(tmp / name)
        name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{time.time_ns() % 10**9:09d}-{uuid.uuid4().hex[:6]}"
        os.rename(tmp, ingest_dir / name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_current(ingest_dir, name)
    _prune(ingest_dir, name)
    return IngestManifest(
        str(ingest_dir / name), docs.count, len(rejected_rows), tuple(warnings), summary.files_read, summary.files_reused
    )


def _same_as_previous(previous: Path, reused: dict[str, tuple[str, int]], rejected_rows: list[dict[str, Any]]) -> bool:
    docs = pq.ParquetFile(previous / DOCUMENTS_FILE).read(columns=["document", "sha256", "mtime_ns"])
    recorded = {sha: (path, mtime) for path, sha, mtime in zip(*(docs[c].to_pylist() for c in docs.column_names), strict=True)}
    if recorded != reused:
        return False
    old = pq.ParquetFile(previous / REJECTED_FILE).read().to_pylist()
    return old == rejected_rows


def _paths(folder: Path) -> list[str]:
    out: list[str] = []
    for name in (DOCUMENTS_FILE, REJECTED_FILE):
        out += pq.ParquetFile(folder / name).read(columns=["document"])["document"].to_pylist()
    return out


def fsync_file(path: Path) -> None:
    """Flush a written file to disk before it is renamed into place (a crash never leaves it half-written)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _point_current(ingest_dir: Path, name: str) -> None:
    tmp = ingest_dir / f".{CURRENT}.{uuid.uuid4().hex}"
    tmp.write_text(name + "\n")
    fsync_file(tmp)
    os.replace(tmp, ingest_dir / CURRENT)


def _prune(ingest_dir: Path, keep: str) -> None:
    """Remove manifest folders but the newest few (names sort by time), and unfinished ones."""
    folders = sorted(p for p in ingest_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    for old in folders[:-KEEP]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)
    for tmp in ingest_dir.glob(".tmp-*"):
        if time.time() - tmp.stat().st_mtime > 3600:  # an unfinished folder of a run that died
            shutil.rmtree(tmp, ignore_errors=True)


def write_manifest(ingest_dir: Path, documents: list[Document], rejected: list[Rejected] = ()) -> IngestManifest:  # type: ignore[assignment]
    """A manifest folder holding these documents and rejected rows as they are (no raw folder read):
    for handing the later steps documents made elsewhere (tests, other tools)."""
    ingest_dir = Path(ingest_dir)
    ingest_dir.mkdir(parents=True, exist_ok=True)
    name = f"{time.strftime('%Y%m%dT%H%M%S', time.gmtime())}-{time.time_ns() % 10**9:09d}-{uuid.uuid4().hex[:6]}"
    tmp = ingest_dir / f".tmp-{name}"
    tmp.mkdir()
    rows = [document_row(d, d, [], 0, text_sha256(d.text)) for d in documents]
    pq.write_table(pa.Table.from_pylist(rows, schema=DOCUMENTS_SCHEMA), tmp / DOCUMENTS_FILE)
    rejected_rows = [{**dataclasses.asdict(r), "mtime_ns": None} for r in rejected]
    pq.write_table(pa.Table.from_pylist(rejected_rows, schema=REJECTED_SCHEMA), tmp / REJECTED_FILE)
    (tmp / META_FILE).write_text(json.dumps({"fingerprint": "written", "scan_started_ns": 0, "warnings": []}))
    os.rename(tmp, ingest_dir / name)
    return IngestManifest(str(ingest_dir / name), len(rows), len(rejected_rows))
