"""Batch extraction: many documents -> mentions and facts, with an incremental cache and a process pool.

The cache is keyed by what the extractor sees, not by where the file lives: the key
hashes the document's text and metadata (every ``Document`` field but the path), and
entries live under the extractor version::

    <cache_dir>/extractions/<EXTRACTOR_VERSION>/schema-<hash>/<partition>/
        documents.parquet   key, document (the path it was extracted under)
        mentions.parquet    key + the mentions columns
        facts.parquet       key + the facts columns

The raw file's sha256 alone is not enough: the text the spans index depends on the
ingest code, and a fact's year falls back to the publication date from sources.csv.
When the same content turns up under another path, its cached rows are re-keyed to
the new path (``fact_id`` hashes content and span, so it stays) instead of being
extracted again. A new extractor version starts an empty folder, so everything is
re-extracted.

Worker processes come from the project's one pool (``pipeline/workers.py``), so a script that calls
``extract_documents`` with more than one worker must guard its entry point with
``if __name__ == "__main__":``.

Each call writes at most one partition, named by the hash of its keys, into a
temporary folder renamed into place: partitions are immutable and idempotent, so
any number of processes or machines can fill the same cache, and readers see only
complete partitions.
"""

from __future__ import annotations

import collections
import hashlib
import json
import logging
import math
import os
import shutil
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.database import rows_to_arrow
from pipeline.documents import Document
from pipeline.extractor import records
from pipeline.extractor.document import extract_document
from pipeline.metadata.tables import TABLES
from pipeline.metadata.taxonomy import load_taxonomy
from pipeline.workers import ordered_map, process_pool, time_budget, worker_count

log = logging.getLogger(__name__)

COMPACT_AFTER_PARTITIONS = 16  # merge the small partitions into one once the cache has more than this many
SMALL_PARTITION = 1000  # partitions of fewer documents than this are merged by compaction
EXTRACT_BATCH = 4000  # documents extracted (and held) at a time by extract_manifest, one partition each

Rows = list[dict[str, Any]]
PARTITION_FILES = ("documents", "mentions", "facts")
SORT_KEYS = {  # the order rows are handed on in (a fact's id breaks ties between two facts on one quote)
    "mentions": ("document", "char_start", "char_end"),
    "facts": ("document", "char_start", "char_end", "fact_id"),
}


def _empty(name: str) -> pa.Table:
    """An empty mentions or facts table, with the table's schema."""
    return rows_to_arrow(name, [])


@dataclass
class BatchExtraction:
    # Mentions and facts are Arrow tables from the worker that extracts them to the database: as
    # Python dicts (about 25 rows a document) they cost several times the memory, which at a few
    # hundred thousand documents is more than a laptop has.
    mentions: pa.Table = field(default_factory=lambda: _empty("mentions"))
    facts: pa.Table = field(default_factory=lambda: _empty("facts"))
    extracted: list[str] = field(default_factory=list)  # documents run through the extractor
    cached: list[str] = field(default_factory=list)  # documents served from the cache
    # documents the extractor failed on or ran out of time for, with the reason; they have no rows
    # (cached as such: the same content would fail again)
    failed: list[tuple[str, str]] = field(default_factory=list)


def extraction_key(doc: Document) -> str:
    """Hash of everything the extractor sees in a document except its path."""
    return extraction_key_from(hashlib.sha256(doc.text.encode("utf-8", "surrogatepass")).hexdigest(), doc)


def extraction_key_from(text_sha256: str, doc: Document) -> str:
    """``extraction_key`` from the sha256 of the text (the ingest manifest records it) and the other fields."""
    h = hashlib.sha256(text_sha256.encode())
    # the licence says who may copy the text, not what it states: changing it re-extracts nothing
    meta = {f.name: getattr(doc, f.name) for f in fields(doc) if f.name not in ("document", "text", "licence")}
    h.update(json.dumps(meta, sort_keys=True, default=str).encode())
    return h.hexdigest()


def version_dir(cache_dir: Path) -> Path:
    """Cache folder of the current extractor version and of the current mentions/facts schema.

    The schema fingerprint keeps rows written before a column was added or retyped in
    ``metadata/`` from being served afterwards, even if the extractor version stayed.
    """
    fingerprint = hashlib.sha256(
        str([(f.name, f.type) for t in ("mentions", "facts") for f in TABLES[t].fields]).encode()
    ).hexdigest()[:8]
    return cache_dir / "extractions" / records.EXTRACTOR_VERSION / f"schema-{fingerprint}"


def extract_documents(
    documents: Sequence[Document],
    *,
    cache_dir: Path | None,
    workers: int = 0,
    progress: bool = False,
) -> BatchExtraction:
    """Mentions and facts of every document, sorted by document then char_start.

    ``workers``: 0 chooses (a process per core once ``workers.PARALLEL_MIN_JOBS``
    documents need extracting), 1 extracts in this process, N > 1 uses N processes.
    ``cache_dir`` None disables the cache.
    """
    keys = [extraction_key(doc) for doc in documents]
    store = version_dir(cache_dir) if cache_dir is not None else None
    hits = _read_cache(store, set(keys)) if store is not None else _Cached()

    # One extraction per distinct content: a second copy under another path is re-keyed.
    todo: dict[str, Document] = {}
    for doc, key in zip(documents, keys, strict=True):
        if key not in hits.extracted_as:
            todo.setdefault(key, doc)
    fresh = _run_extractor(list(todo.items()), workers=workers, progress=progress)
    failed = dict(zip(fresh["failed"]["key"].to_pylist(), fresh["failed"]["reason"].to_pylist(), strict=True))
    fresh_as = {key: doc.document for key, doc in todo.items()}
    if store is not None and todo:
        _write_partition(store, fresh_as, fresh)
        _compact(store)

    extracted_as = {**hits.extracted_as, **fresh_as}
    tables = {name: hits.tables[name] + ([fresh[name]] if todo else []) for name in ("mentions", "facts")}
    out = BatchExtraction()
    targets: dict[str, list[str]] = {}  # key -> the documents of this batch with that content
    for doc, key in zip(documents, keys, strict=True):
        if key in failed:
            out.failed.append((doc.document, failed[key]))
            log.warning("%s: %s", doc.document, failed[key])
        (out.extracted if todo.get(key) is doc else out.cached).append(doc.document)
        targets.setdefault(key, []).append(doc.document)
    out.mentions, out.facts = _rows_for(tables, targets, extracted_as)
    log.info(
        "extracted %d documents, %d from cache: %d mentions, %d facts",
        len(out.extracted),
        len(out.cached),
        out.mentions.num_rows,
        out.facts.num_rows,
    )
    return out


def _rows_for(
    tables: dict[str, list[pa.Table]], targets: dict[str, list[str]], extracted_as: dict[str, str]
) -> tuple[pa.Table, pa.Table]:
    """(mentions, facts) of every target document, each sorted by ``SORT_KEYS``.

    ``tables`` hold rows with a ``key`` column, each under the path its content was extracted as.
    Content served under that same path (nearly always) stays Arrow; content under another path,
    or under several, goes through ``_rekey`` as rows.
    """
    moved = [key for key, docs in targets.items() if docs != [extracted_as[key]]]
    moved_keys = pa.array(moved, pa.string())
    parts: dict[str, list[pa.Table]] = {}
    by_key: dict[str, dict[str, Rows]] = {}  # rows of the moved keys, per table
    for name in SORT_KEYS:
        empty = _empty(name)
        columns = ["key", *empty.schema.names]
        rows = pa.concat_tables(
            [empty.add_column(0, "key", pa.array([], pa.string()))] + [t.select(columns) for t in tables[name]],
            promote_options="permissive",
        )
        if moved:  # (the tables hold only the targets' keys, so with none moved every row stays as it is)
            is_moved = pc.is_in(rows["key"], value_set=moved_keys)
            by_key[name] = {}
            for row in rows.filter(is_moved).to_pylist():
                by_key[name].setdefault(row.pop("key"), []).append(row)
            rows = rows.filter(pc.invert(is_moved))
        parts[name] = [rows.drop_columns(["key"]).cast(empty.schema)]
    for key in moved:
        for document in targets[key]:
            mentions, facts = by_key["mentions"].get(key, []), by_key["facts"].get(key, [])
            if document != extracted_as[key]:
                mentions, facts = _rekey(mentions, facts, document)
            parts["mentions"].append(rows_to_arrow("mentions", mentions))
            parts["facts"].append(rows_to_arrow("facts", facts))
    return _sorted(pa.concat_tables(parts["mentions"]), "mentions"), _sorted(pa.concat_tables(parts["facts"]), "facts")


def _sorted(table: pa.Table, name: str) -> pa.Table:
    """The table in ``SORT_KEYS`` order; as it is if already in that order (no copy: a full run's rows are)."""
    order = pc.sort_indices(table, sort_keys=[(c, "ascending") for c in SORT_KEYS[name]])
    if pc.all(pc.equal(order, pa.array(range(table.num_rows), pa.uint64()))).as_py() is not False:
        return table
    return table.take(order)


# Running the extractor


def _extract_chunk(items: Sequence[tuple[str, Document]]) -> dict[str, pa.Table]:
    """Worker entry point: the mentions and facts of (key, document) pairs as Arrow tables with a key
    column (compact to send back, unlike rows). Module level so it pickles."""
    taxonomy = load_taxonomy()
    keys: dict[str, list[str]] = {"mentions": [], "facts": []}
    rows: dict[str, Rows] = {"mentions": [], "facts": []}
    failed: list[tuple[str, str, str]] = []
    for key, doc in items:
        try:  # one document's error or time-out is that document's, not the run's
            with time_budget(what="extracting it"):
                result = extract_document(doc, taxonomy)
                mentions = [m.to_row(doc.document) for m in result.mentions]
                facts = [f.to_row() for f in result.facts]
        except Exception as exc:  # noqa: BLE001
            failed.append((key, doc.document, _failure(exc)))
            continue
        rows["mentions"] += mentions
        rows["facts"] += facts
        keys["mentions"] += [key] * len(mentions)
        keys["facts"] += [key] * len(facts)
    try:
        out = {name: _keyed(name, rows[name], keys[name]) for name in rows}
    except (pa.ArrowException, OverflowError, ValueError, TypeError):  # a value no column can hold: find whose
        out = {name: _keyed(name, [], []) for name in rows}
        for key, doc in items:
            if any(key == k for k, _, _ in failed):
                continue
            try:
                mine = {name: _keyed(name, *_rows_of_key(rows[name], keys[name], key)) for name in rows}
            except (pa.ArrowException, OverflowError, ValueError, TypeError) as exc:
                failed.append((key, doc.document, _failure(exc)))
                continue
            out = {name: pa.concat_tables([out[name], mine[name]]) for name in rows}
    out["failed"] = pa.table(
        {name: pa.array([f[i] for f in failed], pa.string()) for i, name in enumerate(("key", "document", "reason"))}
    )
    return out


def _keyed(name: str, rows: Rows, keys: list[str]) -> pa.Table:
    return rows_to_arrow(name, rows).add_column(0, "key", pa.array(keys, pa.string()))


def _rows_of_key(rows: Rows, keys: list[str], key: str) -> tuple[Rows, list[str]]:
    mine = [row for row, k in zip(rows, keys, strict=True) if k == key]
    return mine, [key] * len(mine)


def _failure(exc: BaseException) -> str:
    from pipeline.documents import unexpected_reason
    from pipeline.workers import DocumentTimeout

    if isinstance(exc, DocumentTimeout):
        return f"extraction stopped: {exc}; the document has no facts"
    return f"extraction failed ({unexpected_reason(exc).removeprefix('cannot be read: ')}); the document has no facts"


def _chunks(items: Sequence[tuple[str, Document]], n_workers: int) -> list[Sequence[tuple[str, Document]]]:
    """About eight chunks per worker (to balance uneven documents), 10 to 200 documents each."""
    size = max(10, min(200, math.ceil(len(items) / (n_workers * 8))))
    return [items[i : i + size] for i in range(0, len(items), size)]


def _run_extractor(items: Sequence[tuple[str, Document]], *, workers: int, progress: bool) -> dict[str, pa.Table]:
    """Mentions and facts (with their content key) of the (key, document) pairs, in their order."""
    results: list[dict[str, pa.Table]] = []
    if items:
        n_workers = worker_count(len(items), workers)
        chunks = _chunks(items, n_workers)
        bar = _progress_bar(len(items), progress)
        try:
            if n_workers == 1:
                for chunk in chunks:
                    results.append(_extract_chunk(chunk))
                    bar.update(len(chunk))
            else:
                for chunk, tables in zip(chunks, ordered_map(_extract_chunk, chunks, workers=n_workers), strict=True):
                    results.append(tables)
                    bar.update(len(chunk))
        finally:
            bar.close()
    if not results:
        results = [_extract_chunk([])]
    return {name: pa.concat_tables([r[name] for r in results]) for name in (*SORT_KEYS, "failed")}


class _NoBar:
    def update(self, n: int) -> None:
        pass

    def close(self) -> None:
        pass


def _progress_bar(total: int, progress: bool) -> Any:
    if not progress:
        return _NoBar()
    from tqdm import tqdm

    return tqdm(total=total, desc="extracting", unit="doc", leave=False, delay=1.0)


def _rekey(mentions: Rows, facts: Rows, document: str) -> tuple[Rows, Rows]:
    """Rows of identical content cached under another path, moved to ``document``."""
    # fact_id hashes the content and span (records.make_fact_id), so only the path changes.
    return [{**m, "document": document} for m in mentions], [{**f, "document": document} for f in facts]


# The cache: immutable Parquet partitions


def _partitions(store: Path) -> list[Path]:
    if not store.is_dir():
        return []
    return sorted(p for p in store.iterdir() if p.is_dir() and not p.name.startswith("."))


@dataclass
class _Cached:
    """What the cache holds of the wanted keys."""

    extracted_as: dict[str, str] = field(default_factory=dict)  # key -> the path its rows were extracted under
    # "mentions"/"facts" -> rows with their key, one table a partition
    tables: dict[str, list[pa.Table]] = field(default_factory=lambda: {"mentions": [], "facts": []})


def _read_cache(store: Path, wanted: set[str]) -> _Cached:
    """The cached rows of the wanted keys that are present; the first partition holding a key wins."""
    found = _Cached()
    for part in _partitions(store):
        try:
            index = _read_parquet(part / "documents.parquet").to_pylist()
            keys = {row["key"]: row["document"] for row in index if row["key"] in wanted and row["key"] not in found.extracted_as}
            if not keys:
                continue
            key_set = pa.array(list(keys), pa.string())
            tables = {name: _read_keyed(part / f"{name}.parquet", key_set) for name in found.tables}
        except (FileNotFoundError, pa.ArrowInvalid) as exc:
            # A partition removed by compaction, or damaged: its documents are simply extracted again.
            log.warning("skipping cache partition %s: %s", part, exc)
            continue
        found.extracted_as.update(keys)
        for name, table in tables.items():
            found.tables[name].append(table)
    return found


def _read_parquet(path: Path) -> pa.Table:
    # ParquetFile rather than pq.read_table: reading one file needs no pyarrow.dataset (0.4 s to import)
    return pq.ParquetFile(path).read()


def _read_keyed(path: Path, keys: pa.Array) -> pa.Table:
    table = _read_parquet(path)
    return table.filter(pc.is_in(table["key"], value_set=keys))


def _partition_name(keys: Iterable[str]) -> str:
    return hashlib.sha256("\n".join(sorted(keys)).encode()).hexdigest()[:24]


def _write_partition(store: Path, extracted_as: dict[str, str], tables: dict[str, pa.Table]) -> Path:
    """Write one partition, named by the hash of its keys: the key -> path index, and the keyed rows."""
    index = pa.table({"key": pa.array(list(extracted_as), pa.string()), "document": pa.array(list(extracted_as.values()), pa.string())})
    return _write_tables(store, _partition_name(extracted_as), {"documents": index, **tables})


def _write_tables(store: Path, name: str, tables: dict[str, pa.Table]) -> Path:
    """Write a partition in a hidden folder and rename it into place; an existing one is kept."""
    final = store / name
    if final.exists():
        return final
    tmp = store / f".{name}.{uuid.uuid4().hex}.tmp"
    tmp.mkdir(parents=True)
    try:
        for file in PARTITION_FILES:
            pq.write_table(tables[file], tmp / f"{file}.parquet")
        try:
            os.rename(tmp, final)
        except OSError:
            if not final.exists():
                raise
            # Another process wrote the same partition first; its content is the same.
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final


def _compact(store: Path) -> None:
    """Merge the small partitions (one per incremental run) into one, so reads stay a few files.

    Only partitions under SMALL_PARTITION documents are merged: a full run's partitions stay as they
    are, so compacting never holds more than a few thousand documents' rows. Works on Arrow tables,
    not rows; the first partition holding a key wins, as in ``_read_cache``.
    """
    parts = _partitions(store)
    if len(parts) <= COMPACT_AFTER_PARTITIONS:
        return
    small = [p for p in parts if _partition_size(p) < SMALL_PARTITION]
    if len(small) < 2:
        return
    seen: set[str] = set()
    merged: dict[str, list[pa.Table]] = {name: [] for name in PARTITION_FILES}
    for part in small:
        new_keys = [k for k in _read_parquet(part / "documents.parquet")["key"].to_pylist() if k not in seen]
        seen.update(new_keys)
        mask = pa.array(new_keys, pa.string())
        for name, tables in merged.items():
            table = _read_parquet(part / f"{name}.parquet")
            tables.append(table.filter(pc.is_in(table["key"], mask)))
    final = _write_tables(store, _partition_name(seen), {f: pa.concat_tables(t) for f, t in merged.items()})
    for part in small:
        if part != final:
            shutil.rmtree(part, ignore_errors=True)
    log.info("compacted %d small cache partitions into %s", len(small), final.name)


def _partition_size(part: Path) -> int:
    """Documents in a partition, from the Parquet footer (no rows read); damaged counts as large (left alone)."""
    try:
        return pq.ParquetFile(part / "documents.parquet").metadata.num_rows
    except (OSError, pa.ArrowInvalid):
        return SMALL_PARTITION


# Extraction of an ingest manifest: references in, references out


@dataclass(frozen=True)
class Extractions:
    """Where the mentions and facts of an ingest manifest's documents are: cache partitions.

    What the extraction step hands on instead of the rows. ``partitions`` is a snapshot of the
    store's partition folders; every key of the manifest is in at least one of them (the first by
    name wins, as in ``_read_cache``), under the path it was extracted as.
    """

    store: str
    partitions: tuple[str, ...]
    manifest: str  # the ingest manifest folder (pipeline/manifest.py)
    extracted: int = 0  # documents run through the extractor by this step
    cached: int = 0  # documents served from the cache
    extracted_documents: tuple[str, ...] = ()  # the first few extracted ones
    facts_rows: int = -1  # facts of the manifest's documents (-1: not counted)
    mentions_rows: int = -1
    failed: tuple[tuple[str, str], ...] = ()  # (document, reason): extraction failed or ran out of time

    def files(self, name: str) -> list[str]:
        """The Parquet files of one kind ('documents' = the key index, 'mentions', 'facts')."""
        return [str(Path(self.store) / part / f"{name}.parquet") for part in self.partitions]


def extract_manifest(manifest_folder: str | Path, *, cache_dir: Path, workers: int = 0, progress: bool = False) -> Extractions:
    """Make sure every document of the ingest manifest has its rows in the cache; return where they are.

    Documents whose key no partition holds are read from the manifest a batch at a time, extracted
    (one worker pool for all batches) and written as one new partition per EXTRACT_BATCH documents,
    so memory holds one batch, never the archive's mentions or facts.
    """
    from pipeline.manifest import DOCUMENT_COLUMNS, DOCUMENTS_FILE

    manifest_path = Path(manifest_folder) / DOCUMENTS_FILE
    store = version_dir(cache_dir)
    store.mkdir(parents=True, exist_ok=True)
    wanted = pq.ParquetFile(manifest_path).read(columns=["document", "key"])
    cached_keys = []
    for part in _partitions(store):
        try:
            cached_keys.append(pq.ParquetFile(part / "documents.parquet").read(columns=["key"])["key"])
        except (OSError, pa.ArrowInvalid) as exc:  # removed by compaction, or damaged: not counted as cached
            log.warning("skipping cache partition %s: %s", part, exc)
    is_cached = (
        pc.is_in(wanted["key"], value_set=pa.concat_arrays([c.combine_chunks() for c in cached_keys]))
        if cached_keys
        else pa.array([False] * wanted.num_rows)
    )
    missing = pc.unique(wanted.filter(pc.invert(is_cached))["key"])
    extracted: list[str] = []
    failed: list[tuple[str, str]] = []
    if len(missing):
        n_workers = worker_count(len(missing), workers)
        written: set[str] = set()

        def batches() -> Iterable[list[tuple[str, Document]]]:
            batch: list[tuple[str, Document]] = []
            for chunk in pq.ParquetFile(manifest_path).iter_batches(batch_size=min(1000, EXTRACT_BATCH), columns=[*DOCUMENT_COLUMNS, "key"]):
                chunk = chunk.filter(pc.is_in(chunk.column("key"), value_set=missing))
                for row in chunk.to_pylist():
                    key = row.pop("key")
                    if key not in written:  # one extraction per distinct content
                        written.add(key)
                        batch.append((key, Document(**row)))
                if len(batch) >= EXTRACT_BATCH:
                    yield batch
                    batch = []
            if batch:
                yield batch

        for items, tables in _extract_batches(batches(), n_workers=n_workers, total=len(missing), progress=progress):
            # A document the extractor failed on (or ran out of time for) is said, and cached without
            # rows like any other: the same content would cost the same budget on every run.
            lost = dict(zip(tables["failed"]["key"].to_pylist(), tables["failed"]["reason"].to_pylist(), strict=True))
            for key, doc in items:
                if key in lost:
                    log.warning("%s: %s", doc.document, lost[key])
                    failed.append((doc.document, lost[key]))
            del tables["failed"]
            _write_partition(store, {key: doc.document for key, doc in items}, tables)
            extracted += [doc.document for _, doc in items]
        _compact(store)
    log.info("extracted %d documents, %d from the cache", len(extracted), wanted.num_rows - len(extracted))
    return Extractions(
        store=str(store),
        partitions=tuple(p.name for p in _partitions(store)),
        manifest=str(manifest_folder),
        extracted=len(extracted),
        cached=wanted.num_rows - len(extracted),
        extracted_documents=tuple(extracted[:50]),
        failed=tuple(failed),
    )


def _extract_batches(
    batches: Iterable[list[tuple[str, Document]]], *, n_workers: int, total: int, progress: bool
) -> Iterable[tuple[list[tuple[str, Document]], dict[str, pa.Table]]]:
    """Each batch with its mentions and facts (with key columns), extracted by one pool kept for all batches."""
    bar = _progress_bar(total, progress)
    pool = None

    def finished(items: list[tuple[str, Document]], chunks: list[Any], results: Iterable[dict[str, pa.Table]]) -> Any:
        done = []
        for chunk, tables in zip(chunks, results, strict=True):
            done.append(tables)
            bar.update(len(chunk))
        return items, {name: pa.concat_tables([r[name] for r in done]) for name in (*SORT_KEYS, "failed")}

    try:
        if n_workers <= 1:
            for items in batches:
                chunks = _chunks(items, n_workers)
                yield finished(items, chunks, map(_extract_chunk, chunks))
            return
        pool = process_pool(n_workers)
        # The next batch is read and queued before this one is collected and written, so the workers
        # never wait for the slowest chunk of a batch or for its partition to be written.
        queued: collections.deque[tuple[list[tuple[str, Document]], list[Any], list[Any]]] = collections.deque()
        for items in batches:
            chunks = _chunks(items, n_workers)
            queued.append((items, chunks, [pool.submit(_extract_chunk, c) for c in chunks]))
            if len(queued) > 1:
                items, chunks, futures = queued.popleft()
                yield finished(items, chunks, (f.result() for f in futures))
        while queued:
            items, chunks, futures = queued.popleft()
            yield finished(items, chunks, (f.result() for f in futures))
    finally:
        bar.close()
        if pool is not None:
            pool.shutdown(cancel_futures=True)
