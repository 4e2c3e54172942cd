"""Stage 5, publish: the curated tables as an immutable, checksummed, self-describing release.

A release is a folder ``releases/<version>/`` that is written once and never again:
Parquet files of every table, ``facts.csv``, a Frictionless ``datapackage.json``,
``CHANGES.md`` (facts added, removed and changed since the previous release) and
``SHA256SUMS`` over every other file. ``<version>`` is the calendar date plus the
first hex digits of a hash of the content, so a citation names exactly one set of rows.

Publishing is crash-safe: the release is built in a dot-folder beside the target
(``.tmp-*``, which never looks like a release and is swept by the next run), checked
with the checks of the ``verify`` users run (taking as known only the digests it computed while writing
the files, where ``verify`` reads and hashes every file again), then renamed into place; only after that is
``latest`` repointed, by an atomic rename. A kill at any moment leaves the earlier
releases and ``latest`` as they were.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import secrets
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pipeline import memory
from pipeline.corrections import changes_section
from pipeline.metadata import schema
from pipeline.metadata.licences import allows_redistribution
from pipeline.metadata.tables import TABLES, TAXONOMY_TABLES, Table
from pipeline.metadata.taxonomy import taxonomy_checksums
from pipeline.release_readme import release_readme
from pipeline.validate import constrained, field_errors, span_differs_sql

log = logging.getLogger(__name__)

LATEST_LINK = "latest"  # relative symlink to the newest release folder
LATEST_FILE = "LATEST"  # the same name as plain text, for platforms without symlinks
SUMS_FILE = "SHA256SUMS"
REPORT_DIR = "report"  # the static HTML report of the release (pipeline.report), listed in SHA256SUMS file by file
DESCRIPTOR_FILE = "datapackage.json"
CHANGES_FILE = "CHANGES.md"
README_FILE = "README.md"
_TMP_PREFIX = ".tmp-"  # release folders being built; a dot-folder is never a release
_LOCK_FILE = ".lock"
_HASH_DIGITS = 6

PACKAGE_NAME = "online-platforms-csa-statistics"
LICENSE = {
    "name": "CC-BY-4.0",
    "path": "https://creativecommons.org/licenses/by/4.0/",
    "title": "Creative Commons Attribution 4.0 International",
}
# Facts are sorted so that a figure's neighbours are the same body, year and place.
FACTS_ORDER = ("source", "year", "region", "platform", "fact_id")
PARQUET_OPTIONS: dict[str, Any] = {"compression": "zstd", "compression_level": 3, "use_dictionary": True}
# Rows read from the database at a time, and so rows per Parquet row group. A batch is Arrow memory DuckDB
# allocates outside its memory_limit: at 100,000 rows the facts' batches (with their sentences) held ~80 MB each
# and the release's peak grew by ~230 MB.
BATCH_ROWS = 25_000
FACT_CHUNK_ROWS = 100_000  # facts joined and sorted by one query (see _Tables._joined); read BATCH_ROWS at a time
RELEASE_MEMORY_LIMIT = "256MB"  # DuckDB's cap while the release reads the database; past it, it spills to the temp folder
CHECK_MEMORY_LIMIT = "128MB"  # DuckDB's cap in the release's self-check and `pipeline verify` (one thread)


class ShrinkRefused(RuntimeError):
    """A run would publish far fewer facts than the latest release; ``--allow-shrink`` lets it."""


def shrink_problem(releases_dir: Path, facts: int, *, max_shrink: float) -> str | None:
    """Why a dataset of ``facts`` facts must not replace the latest release, or None if it may.

    It may not when it drops more than ``max_shrink`` (a fraction) of the latest release's facts: a
    folder half unmounted or a limit set wrong would otherwise publish a near-empty dataset.
    """
    version = latest_version(Path(releases_dir)) if Path(releases_dir).is_dir() else None
    if version is None:
        return None
    try:
        previous = _rows_of(_load_json(Path(releases_dir) / version / DESCRIPTOR_FILE)).get("facts")
    except (OSError, ValueError):
        return None
    if not previous or facts >= previous * (1 - max_shrink):
        return None
    dropped = 1 - facts / previous
    return (
        f"refusing to replace the dataset: this run has {facts:,} facts, the latest release {version} has "
        f"{previous:,}; that drops {dropped:.0%}, more than PIPELINE_MAX_SHRINK={max_shrink:g}. If that is meant, "
        "run again with --allow-shrink (or PIPELINE_ALLOW_SHRINK=1)"
    )


RELEASED_STATE = ".released-state.json"  # the database state the latest release was made from


def release_if_unchanged(releases_dir: Path, database_state: str | None) -> ReleaseResult | None:
    """The latest release, if it was made from the database state ``database_state`` (see
    ``database.update_database``): then there is nothing to read, hash or write. None otherwise."""
    releases_dir = Path(releases_dir)
    if database_state is None:
        return None
    try:
        recorded = json.loads((releases_dir / RELEASED_STATE).read_text())
        version = latest_version(releases_dir)
        if version is None or recorded.get("database_state") != database_state or recorded.get("version") != version:
            return None
        folder = releases_dir / version
        return ReleaseResult(version, folder, False, 0, 0, 0, _rows_of(_load_json(folder / DESCRIPTOR_FILE)))
    except (OSError, ValueError, AttributeError):
        return None


def remember_release(releases_dir: Path, database_state: str | None, version: str) -> None:
    """Record that the release ``version`` holds the database state ``database_state`` (atomic replace)."""
    if database_state is None:
        return
    target = Path(releases_dir) / RELEASED_STATE
    tmp = target.with_name(f"{target.name}.{secrets.token_hex(4)}.tmp")
    tmp.write_text(json.dumps({"database_state": database_state, "version": version}) + "\n")
    os.replace(tmp, target)


class ReleaseNotFound(FileNotFoundError):
    """There is no release where one was asked for."""


@dataclass(frozen=True)
class ReleaseResult:
    version: str  # e.g. "2026.11.23-3fa9c1"
    path: Path  # the release folder (the existing one if nothing new was published)
    published: bool  # False when the output equals the latest release
    added: int  # facts vs the previous release, by fact_id
    removed: int
    changed: int
    rows: dict[str, int]  # rows per table in this release


@dataclass(frozen=True)
class _Resource:
    """One file of the release: which table it holds and which of its columns.

    A CSV resource repeats the Parquet resource named after its table (only facts has one).
    """

    name: str
    table: str
    path: str
    exclude: tuple[str, ...] = ()
    description: str | None = None
    # columns of the row's document (document_title, ...: documents.title, ...) placed after `quote`
    documents: tuple[str, ...] = ()
    # the fact's full sentence and where it starts in the text, placed right after `quote`
    context: bool = False
    # only the documents whose licence lets a release redistribute their text (documents_text)
    licensed_only: bool = False

    @property
    def is_csv(self) -> bool:
        return self.path.endswith(".csv")

    def columns(self) -> list[str]:
        own = [c for c in TABLES[self.table].columns if c not in self.exclude]
        at = own.index("quote") + 1 if "quote" in own else len(own)
        context = ["sentence", "sentence_start"] if self.context else []
        return own[:at] + context + list(self.documents) + own[at:]

    def table_def(self) -> Table:
        t = TABLES[self.table]
        return Table(t.name, t.description, tuple(self.columns()), t.primary_key)

    def arrow_schema(self) -> pa.Schema:
        return schema.arrow_schema(self.table_def())


def _all_but(table: str, keep: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(c for c in TABLES[table].columns if c not in keep)


# Beside each fact: its sentence, and what identifies its document, so a quote can be checked without the
# document's text, which the release carries only where its licence allows (see documents_text).
_FACT_DOCUMENT = ("document_sha256", "document_title", "document_outlet", "document_url", "document_published")

RESOURCES: tuple[_Resource, ...] = (
    _Resource(
        "facts",
        "facts",
        "facts.parquet",
        description=TABLES["facts"].description + " With the full sentence of each quote and its document's sha256, "
        "title, outlet, url and date.",
        documents=_FACT_DOCUMENT,
        context=True,
    ),
    _Resource(
        "facts_csv",
        "facts",
        "facts.csv",
        description=(
            "The facts table as CSV (UTF-8, header row, empty cell = null), with the sentence of each quote and the "
            "sha256, title, outlet, url and date of its document beside it."
        ),
        documents=_FACT_DOCUMENT,
        context=True,
    ),
    _Resource("documents", "documents", "documents.parquet", exclude=("text",)),
    _Resource(
        "documents_text",
        "documents",
        "documents_text.parquet",
        exclude=_all_but("documents", ("document", "sha256", "licence", "text")),
        description=(
            "Full text of the documents whose licence (sources.csv, documents.licence) lets the dataset redistribute "
            "them, such as OGL or CC-BY; facts.char_start/char_end index it. Other texts (news articles, under their "
            "publishers' copyright) stay out: their facts carry the sentence and the document's sha256 and url."
        ),
        licensed_only=True,
    ),
    _Resource("rejected_documents", "rejected_documents", "rejected_documents.parquet"),
    _Resource("mentions", "mentions", "mentions.parquet"),
    # the curated layer (pipeline/curate.py, pipeline/corrections.py)
    *(_Resource(name, name, f"{name}.parquet") for name in ("statistics", "citations", "conflicts", "review", "corrections")),
    _Resource(
        "statistics_csv",
        "statistics",
        "statistics.csv",
        description=(
            "The statistics table as CSV (UTF-8, header row, empty cell = null), with the sha256, title, outlet, url and "
            "date of the document of its primary citation beside its quote."
        ),
        documents=_FACT_DOCUMENT,
    ),
    *(_Resource(name, name, f"{name}.parquet") for name in TAXONOMY_TABLES),
)


# --------------------------------------------------------------------------- publish


def publish_release(
    database_path: Path,
    releases_dir: Path,
    *,
    today: date | None = None,
    extractor_version: str | None = None,
    include_text: bool = True,
    report_dir: Path | None = None,
) -> ReleaseResult:
    """Publish the tables of ``database_path`` as ``releases_dir/<version>/`` unless the latest release holds them.

    ``extractor_version`` defaults to the distinct ``facts.extractor_version`` values.
    ``include_text=False`` leaves out ``documents_text.parquet`` (the full document texts).
    ``published`` is False when the content equals the release ``latest`` names (or, with no
    ``latest``, the newest release); otherwise ``latest`` is moved to the release of this content.
    ``report_dir``: the working HTML report (``$PIPELINE_CURATED_DIR/report``). When given, the release's
    report is made of its pages (hard links), with only the pages that differ in a release rendered
    (pipeline.report.build_release_report); without it the release's report is built from scratch.
    """
    database_path, releases_dir = Path(database_path), Path(releases_dir)
    releases_dir.mkdir(parents=True, exist_ok=True)
    resources = [r for r in RESOURCES if include_text or r.name != "documents_text"]
    with _publish_lock(releases_dir):
        _remove_stale_temporaries(releases_dir)
        with _Tables(database_path) as tables:
            return _publish(tables, releases_dir, resources, today, extractor_version, report_dir)


def _publish(
    tables: _Tables, releases_dir: Path, resources: list[_Resource], today: date | None, extractor_version: str | None,
    report_dir: Path | None = None,
) -> ReleaseResult:
    """The body of ``publish_release``, run under its lock.

    Every table is read from the database once: its files are written into the temporary folder while its
    rows are hashed. The version is known only then, so each Parquet file is written with a stand-in version of
    the same length in its footer, which is then set (``_complete_parquet``)."""
    if extractor_version is None:
        versions = tables.sql('SELECT DISTINCT extractor_version FROM "facts" WHERE extractor_version IS NOT NULL')
        extractor_version = ", ".join(sorted(v for (v,) in versions)) or "unknown"
    descriptor = _descriptor(resources, tables, extractor_version)
    day = f"{(today or date.today()):%Y.%m.%d}"
    named = latest_version(releases_dir)
    previous = named or _newest_release_by_name(releases_dir)
    previous_dir = releases_dir / previous if previous else None
    previous_descriptor = _load_json(previous_dir / DESCRIPTOR_FILE) if previous_dir else None

    tmp = releases_dir / f"{_TMP_PREFIX}{day}-{secrets.token_hex(4)}"
    tmp.mkdir()
    renamed = False
    try:
        stand_in = f"{day}-{secrets.token_hex(_HASH_DIGITS // 2)}"  # as long as the version
        written = _write_tables(tmp, resources, tables, descriptor, extractor_version, stand_in)
        rows = written.rows_of(resources)
        content_hash = _content_hash(descriptor, written.content)
        version = f"{day}-{content_hash[:_HASH_DIGITS]}"
        if previous_dir and previous_descriptor and previous_descriptor.get("content_sha256") == content_hash:
            log.info("release: content equals the latest release %s; nothing published", previous)
            if named is None:
                _point_latest(releases_dir, previous_dir.name)
            return ReleaseResult(previous_dir.name, previous_dir, False, 0, 0, 0, _rows_of(previous_descriptor))
        diff = _diff_facts(tables, previous_dir / "facts.parquet" if previous_dir else None)
        target = releases_dir / version
        if target.exists():
            # This content is already released (earlier today before something else, or by a run killed
            # before it moved `latest`): it is the newest state again, so `latest` goes back to it.
            existing = _load_json(target / DESCRIPTOR_FILE)
            if existing.get("content_sha256") != content_hash:
                raise RuntimeError(f"{target} exists with different content (a {_HASH_DIGITS}-digit hash collision)")
            log.warning("release: content equals the existing release %s; pointing latest back at it", version)
        else:
            for r in resources:
                if not r.is_csv:
                    written.files[r.path] = _complete_parquet(tmp / r.path, stand_in, version)
            previous_rows = _rows_of(previous_descriptor) if previous_descriptor else None
            tables_changed = rejected = None
            if previous_dir and previous_descriptor:
                tables_changed = _tables_changed(previous_dir, previous_descriptor, written.content, rows)
                rejected_resource = next(r for r in resources if r.name == "rejected_documents")
                rejected = _rejected_diff(tables.batches(rejected_resource), previous_dir / rejected_resource.path)
            digests = _write_release(
                tmp, version, resources, tables, descriptor, content_hash, extractor_version,
                _changes_markdown(version, previous, diff, rows, previous_rows, tables_changed, rejected)
                + "\n" + changes_section(tables["corrections"].to_pylist()),
                report_dir, written,
            )
            # The one check that may trust digests instead of reading the files again: those of the files just
            # written (hashed as they were written, or, for a report page, when the report rendered it) and the
            # rows' hashes, taken from the very batches the Parquet files were written from. Everything else is
            # read back from disk as `pipeline verify` reads it, which trusts nothing and hashes every file.
            problems = _check_release(tmp, version, trusted=digests, content=written.content)
            if problems:
                raise RuntimeError("release failed its own verification:\n" + "\n".join(problems))
            _fsync_dir(tmp)
            os.rename(tmp, target)  # fails if the target appeared: a release is never overwritten
            renamed = True
            _fsync_dir(releases_dir)
            log.info(
                "release: published %s (%d facts; +%d -%d ~%d)",
                version, rows["facts"], diff.n_added, diff.n_removed, diff.n_changed,
            )
    finally:
        if not renamed:
            shutil.rmtree(tmp, ignore_errors=True)
    _point_latest(releases_dir, version)
    return ReleaseResult(version, target, True, diff.n_added, diff.n_removed, diff.n_changed, rows)


class _Tables:
    """The tables of the database, each sorted and cast to its documented Arrow schema.

    facts and sources, which the descriptor and the diff need whole, are read once and held;
    every other table is streamed in batches each time it is hashed or written, so a release
    of a large archive never holds its mentions or document texts in memory.
    """

    # small tables read whole: sources (the descriptor names the bodies cited), corrections (listed in CHANGES)
    PINNED = ("sources", "corrections")

    def __init__(self, database_path: Path) -> None:
        if not database_path.is_file():
            raise FileNotFoundError(f"no curated database at {database_path}; run the pipeline first")
        self.database_path = database_path
        self._con = duckdb.connect(str(database_path), read_only=True)
        # the joins and sorts of a large archive spill to disk past this, rather than take the machine's memory
        self._con.execute("SET enable_progress_bar = false")  # a long query would draw one into the run's log
        self._con.execute(f"SET memory_limit = '{RELEASE_MEMORY_LIMIT}'")
        self._con.execute(f"SET temp_directory = {_sql_string(str(database_path.parent / '.duckdb-tmp'))}")
        self._con.execute("SET preserve_insertion_order = false")
        self._con.execute("SET disabled_optimizers = 'build_side_probe_side'")  # see _FACT_CONTEXT_SQL
        present = {
            row[0] for row in self._con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main'").fetchall()
        }
        missing = [name for name in TABLES if name not in present]
        if missing:
            self._con.close()
            raise ValueError(f"{database_path}: missing table(s) {', '.join(missing)}")
        # the documents whose text a release may carry (their licence allows it)
        licensed = self._con.execute('SELECT document, licence FROM "documents" WHERE licence IS NOT NULL').fetchall()
        self.carried = sorted(d for d, licence in licensed if allows_redistribution(licence))
        self._con.register("carried_documents", pa.table({"document": pa.array(self.carried, pa.string())}))
        self._held: dict[str, pa.Table] = {}
        self._context_made = False
        self._fact_rows: int | None = None
        for name in self.PINNED:
            target = schema.arrow_schema(name)
            self._held[name] = pa.Table.from_batches(list(self._read(name, TABLES[name].columns, target)), target)

    def __getitem__(self, name: str) -> pa.Table:
        """A pinned table, whole."""
        return self._held[name]

    def sql(self, query: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        return self._con.execute(query, list(params)).fetchall()

    @property
    def connection(self) -> duckdb.DuckDBPyConnection:
        return self._con

    def whole(self, r: _Resource) -> pa.Table:
        """A resource's rows, whole (for small tables and tests; publishing streams ``batches``)."""
        return pa.Table.from_batches(list(self.batches(r)), r.arrow_schema())

    def batches(self, r: _Resource) -> Iterator[pa.RecordBatch]:
        """The rows of a resource in order, its columns only, a batch at a time."""
        if r.table in self._held:
            yield from self._held[r.table].select(r.columns()).cast(r.arrow_schema()).to_batches(max_chunksize=BATCH_ROWS)
        elif r.documents or r.context:
            yield from self._joined(r)
        else:
            yield from self._read(r.table, r.columns(), r.arrow_schema(), licensed_only=r.licensed_only)

    def _joined(self, r: _Resource) -> Iterator[pa.RecordBatch]:
        """A resource with columns of other tables, joined and sorted by DuckDB and streamed: its
        document's (the row's own, or a statistic's primary citation's) and a fact's sentence."""
        own = set(TABLES[r.table].columns)
        if "document" in own:
            joins = ' LEFT JOIN "documents" d ON d.document = t.document'
        else:  # a statistic's document is its primary citation's
            joins = ' LEFT JOIN "facts" pf ON pf.fact_id = t.primary_fact_id LEFT JOIN "documents" d ON d.document = pf.document'
        if r.context:
            joins += f" LEFT JOIN {self.fact_context()} c ON c.fact_id = t.fact_id"
        select = []
        for column in r.columns():
            if column in own:
                select.append(f"t.{_quote(column)}")
            elif column in ("sentence", "sentence_start"):
                select.append(f"c.{_quote(column)}")
            else:
                select.append(f"d.{_quote(column.removeprefix('document_'))} AS {_quote(column)}")
        if r.table == "facts":
            # FACT_CHUNK_ROWS facts at a time, by their place in FACTS_ORDER: joined and sorted whole, the facts
            # needed memory that grows with the archive (256 MB failed at 100,000 documents)
            queries = [
                f"SELECT {', '.join(select)} FROM temp.fact_order o JOIN {_quote(r.table)} t USING (fact_id){joins} "
                f"WHERE o.n BETWEEN {lo} AND {lo + FACT_CHUNK_ROWS - 1} ORDER BY o.n"
                for lo in range(1, self.fact_order() + 1, FACT_CHUNK_ROWS)
            ]
        else:
            order = ", ".join(f"t.{_quote(c)} ASC NULLS LAST" for c in TABLES[r.table].primary_key)
            queries = [f"SELECT {', '.join(select)} FROM {_quote(r.table)} t{joins} ORDER BY {order}"]
        target = r.arrow_schema()
        for sql in queries:
            for batch in self._con.sql(sql).to_arrow_reader(BATCH_ROWS):
                yield batch.cast(target)

    def fact_order(self) -> int:
        """Make the temporary table ``fact_order`` (fact_id, n: 1.. in FACTS_ORDER) once; return its rows."""
        if self._fact_rows is None:
            order = ", ".join(f"{_quote(c)} ASC NULLS LAST" for c in FACTS_ORDER)
            self._con.execute(
                f'CREATE TEMP TABLE fact_order AS SELECT fact_id, row_number() OVER (ORDER BY {order}) AS n FROM "facts"'
            )
            (self._fact_rows,) = self._con.execute("SELECT count(*) FROM temp.fact_order").fetchone()  # type: ignore[misc]
        return self._fact_rows

    def fact_context(self) -> str:
        """The name of a temporary table of each fact's sentence (_FACT_CONTEXT_SQL), made on first use."""
        if not self._context_made:
            self._con.execute("CREATE TEMP TABLE fact_context (fact_id VARCHAR, sentence VARCHAR, sentence_start BIGINT)")
            names = [d for (d,) in self._con.execute('SELECT DISTINCT document FROM "facts" ORDER BY document').fetchall()]
            for i in range(0, len(names), CONTEXT_DOCUMENTS):
                hi = names[min(i + CONTEXT_DOCUMENTS, len(names)) - 1]
                self._con.execute(f"INSERT INTO fact_context {_FACT_CONTEXT_SQL}", {"lo": names[i], "hi": hi})
            self._context_made = True
        return "temp.fact_context"

    def _read(
        self, name: str, columns: Sequence[str], target: pa.Schema, *, licensed_only: bool = False
    ) -> Iterator[pa.RecordBatch]:
        # only the columns asked for: documents.parquet leaves the texts in the database
        order = FACTS_ORDER if name == "facts" else TABLES[name].primary_key
        where = ' WHERE "document" IN (SELECT document FROM carried_documents)' if licensed_only else ""
        sql = (
            f"SELECT {', '.join(_quote(c) for c in columns)} FROM {_quote(name)}{where} "
            f"ORDER BY {', '.join(f'{_quote(c)} ASC NULLS LAST' for c in order)}"
        )
        for batch in self._con.sql(sql).to_arrow_reader(BATCH_ROWS):
            yield batch.cast(target)

    def __enter__(self) -> _Tables:
        return self

    def close(self) -> None:
        """Close the connection (idempotent): what DuckDB holds for it goes back to the system."""
        self._held.clear()
        self._con.close()
        memory.give_back()

    def __exit__(self, *exc: object) -> None:
        self.close()


# The sentence of a fact: of its mentions' sentences that hold the quote, the first; found again in the text
# in the window where it must start to cover [char_start, char_end). Without one, the quote stands for it.
# Run for a range of documents at a time (_Tables.fact_context): facts, mentions and texts are per document,
# and over a whole large archive DuckDB ran out of memory on it (its aggregate of sentences and its joins on
# the texts do not all spill). The texts are the probe side of the join, the facts its hash table (_Tables
# turns off the optimizer that would swap them).
_FACT_CONTEXT_SQL = """
WITH f AS (SELECT * FROM facts WHERE document BETWEEN $lo AND $hi),
m AS (SELECT fact_id, document, sentence, char_start FROM mentions WHERE document BETWEEN $lo AND $hi),
d AS (SELECT document, text FROM documents WHERE document BETWEEN $lo AND $hi),
s AS (
    SELECT f.fact_id, arg_min(m.sentence, m.char_start) FILTER (WHERE position(f.quote IN m.sentence) > 0) AS sentence
    FROM f LEFT JOIN m ON m.fact_id = f.fact_id AND m.document = f.document
    GROUP BY f.fact_id
), c AS (
    SELECT f.fact_id, f.char_start, f.quote, coalesce(s.sentence, f.quote) AS sentence, d.text,
           greatest(0, f.char_end - length(coalesce(s.sentence, f.quote))) AS w0
    FROM d JOIN (f JOIN s USING (fact_id)) USING (document)
), r AS (
    SELECT *, position(sentence IN substr(text, w0 + 1, char_start - w0 + length(sentence))) AS p FROM c
)
SELECT fact_id,
       CASE WHEN p > 0 THEN sentence ELSE quote END AS sentence,
       CASE WHEN p > 0 THEN w0 + p - 1 ELSE char_start END AS sentence_start
FROM r
"""
CONTEXT_DOCUMENTS = 5_000  # documents whose facts' sentences are found at a time


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


class _Sha256Sink(io.RawIOBase):
    """A file that keeps only the sha256 of what is written to it."""

    def __init__(self) -> None:
        self.hash = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.hash.update(data)
        return len(data)


def _csv_sha256(table_schema: pa.Schema, batches: Iterable[pa.RecordBatch]) -> tuple[str, int]:
    """(sha256 of the rows written as CSV, the number of rows), without holding the rows or the CSV.

    The bytes are those of ``pyarrow.csv.write_csv`` on the whole table: CSV is written row by row.
    """
    sink = _Sha256Sink()
    rows = 0
    with pa_csv.CSVWriter(sink, table_schema) as writer:
        for batch in batches:
            writer.write_batch(batch)
            rows += batch.num_rows
    return sink.hash.hexdigest(), rows


class _HashingFile(io.RawIOBase):
    """A file being written that keeps the sha256 of what is written to it."""

    def __init__(self, fh: io.BufferedWriter) -> None:
        self.fh = fh
        self.hash = hashlib.sha256()

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.fh.write(data)
        self.hash.update(data)
        return len(data)


@dataclass
class _Written:
    """What writing the tables' files found out."""

    rows: dict[str, int]  # resource -> rows
    content: dict[str, str]  # Parquet resource -> sha256 of its rows as CSV (what the content hash covers)
    files: dict[str, str]  # file -> sha256 (of a Parquet file, once its footer names the version)
    sizes: dict[str, int]  # CSV file -> bytes

    def rows_of(self, resources: list[_Resource]) -> dict[str, int]:
        """Rows per table (the Parquet resources), in the order of ``resources``."""
        return {r.name: self.rows[r.name] for r in resources if not r.is_csv}


def _parquet_metadata(r: _Resource, version: str, extractor_version: str, description: str) -> pa.Schema:
    """The Arrow schema of a Parquet file, with the metadata its footer carries."""
    metadata = {"release_version": version, "extractor_version": extractor_version, "table": r.name, "description": description}
    arrow = r.arrow_schema()
    return arrow.with_metadata({**schema.pandas_metadata(arrow), **{k.encode(): v.encode() for k, v in metadata.items()}})


def _write_tables(
    folder: Path, resources: list[_Resource], tables: _Tables, descriptor: dict[str, Any], extractor_version: str,
    stand_in: str,
) -> _Written:
    """Every table's files, each table read from the database once: a batch at a time, its rows hashed as CSV (for
    the content hash) and written to each file that holds them (facts.parquet and facts.csv share a read). The
    Parquet files name ``stand_in`` as their release_version until ``_complete_parquet``; they are not yet synced."""
    descriptions = {e["name"]: e["description"] for e in descriptor["resources"]}
    reads: dict[tuple[Any, ...], list[_Resource]] = {}
    for r in resources:  # resources of the same rows: same table, columns and selection
        reads.setdefault((r.table, tuple(r.columns()), r.licensed_only), []).append(r)
    written = _Written({}, {}, {}, {})
    for group in reads.values():
        opened: list[Any] = []
        try:
            sinks: list[tuple[_Resource, Any, Any]] = []  # (resource, writer, what it writes through)
            for r in group:
                fh = open(folder / r.path, "xb")
                opened.append(fh)
                if r.is_csv:
                    out = _HashingFile(fh)
                    sinks.append((r, pa_csv.CSVWriter(out, r.arrow_schema()), out))
                else:
                    content = _Sha256Sink()
                    sinks.append((r, pa_csv.CSVWriter(content, r.arrow_schema()), content))
                    arrow = _parquet_metadata(r, stand_in, extractor_version, descriptions[r.name])
                    sinks.append((r, pq.ParquetWriter(fh, arrow, **PARQUET_OPTIONS), None))
                opened.append(sinks[-1][1])
            rows = 0
            for batch in tables.batches(group[0]):
                for r, writer, _ in sinks:
                    if isinstance(writer, pq.ParquetWriter):
                        writer.write_batch(batch)  # a row group a batch
                    elif r.is_csv:  # the header once, then the rows as write_csv writes them
                        writer.write_table(csv_safe(pa.Table.from_batches([batch])))
                    else:  # the bytes are those of pyarrow.csv.write_csv on the whole table
                        writer.write_batch(batch)
                rows += batch.num_rows
            for r, writer, out in sinks:
                writer.close()
                written.rows[r.name] = rows
                if isinstance(out, _HashingFile):
                    out.fh.flush()
                    os.fsync(out.fh.fileno())
                    written.files[r.path] = out.hash.hexdigest()
                    written.sizes[r.path] = out.fh.tell()
                elif isinstance(out, _Sha256Sink):
                    written.content[r.name] = out.hash.hexdigest()
        finally:
            for thing in reversed(opened):
                with contextlib.suppress(Exception):
                    thing.close()
        memory.give_back()  # the allocators keep what a table's batches used, unless told
    return written


_ARROW_SCHEMA_FIELD = b"\x18\x0cARROW:schema\x18"  # Thrift compact: field 1 binary of 12 bytes, the key, field 2 binary


def _complete_parquet(path: Path, stand_in: str, version: str) -> str:
    """Name ``version`` in the footer of a Parquet file written with ``stand_in`` (as long), sync it; its sha256.

    The footer holds the name twice: as the value of the key release_version and inside the Arrow schema stored
    base64-encoded beside it (which pq.read_schema reads). Both are replaced in place, at the same length, so every
    offset stays and the file is byte for byte the one written with ``version`` from the start. A footer where the
    stand-in is not found exactly once in each is written again from the file's row groups instead."""
    old, new = stand_in.encode(), version.encode()
    assert len(old) == len(new), (stand_in, version)
    with open(path, "r+b") as fh:
        fh.seek(0, os.SEEK_END)
        size = fh.tell()
        fh.seek(size - 8)
        tail = fh.read(8)
        length = int.from_bytes(tail[:4], "little")
        footer_at = size - 8 - length
        fh.seek(footer_at)
        footer = fh.read(length)
        patched = _patched_footer(footer, old, new) if tail[4:] == b"PAR1" and footer_at >= 4 else None
        if patched is not None:
            fh.seek(footer_at)
            fh.write(patched)
            fh.flush()
            os.fsync(fh.fileno())
    if patched is None:
        log.warning("release: %s: footer rewritten the long way", path.name)
        _rewrite_parquet(path, version)
    actual = pq.ParquetFile(path).schema_arrow.metadata or {}
    if actual.get(b"release_version") != new:
        raise RuntimeError(f"{path.name}: the footer names {actual.get(b'release_version')!r}, not {version!r}")
    return _sha256_file(path)


def _patched_footer(footer: bytes, old: bytes, new: bytes) -> bytes | None:
    """The footer with ``old`` replaced by ``new`` in the key-value metadata and in the stored Arrow schema."""
    import base64

    if footer.count(_ARROW_SCHEMA_FIELD) != 1:
        return None
    at = footer.index(_ARROW_SCHEMA_FIELD) + len(_ARROW_SCHEMA_FIELD)
    length, shift = 0, 0  # a varint
    while at < len(footer):
        byte = footer[at]
        at += 1
        length |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            break
    encoded = footer[at : at + length]
    try:
        stored = base64.b64decode(encoded, validate=True)
    except ValueError:
        return None
    before, after = footer[:at], footer[at + length :]  # outside the schema, the stand-in is release_version's value
    if len(encoded) != length or base64.b64encode(stored) != encoded or stored.count(old) != 1:
        return None
    if before.count(old) + after.count(old) != 1:
        return None
    return before.replace(old, new) + base64.b64encode(stored.replace(old, new)) + after.replace(old, new)


def _rewrite_parquet(path: Path, version: str) -> None:
    """Write a Parquet file again, row group by row group, with ``version`` as its release_version."""
    again = path.with_name(f".{path.name}.again")
    with pq.ParquetFile(path) as source:
        metadata = dict(source.schema_arrow.metadata or {})
        metadata[b"release_version"] = version.encode()
        arrow = source.schema_arrow.with_metadata(metadata)
        with _open_synced(again) as fh, pq.ParquetWriter(fh, arrow, **PARQUET_OPTIONS) as writer:
            for i in range(source.num_row_groups):
                writer.write_table(source.read_row_group(i).replace_schema_metadata(metadata))
    os.replace(again, path)


def _descriptor(resources: list[_Resource], tables: _Tables, extractor_version: str) -> dict[str, Any]:
    """The parts of datapackage.json that follow from the content alone (they feed the content hash)."""
    cited = {source for (source,) in tables.sql('SELECT DISTINCT source FROM "facts" WHERE source IS NOT NULL')}
    bodies = [
        {"title": row["name"], **({"path": row["url"]} if row["url"] else {})}
        for row in tables["sources"].to_pylist()
        if row["slug"] in cited
    ]
    return {
        "name": PACKAGE_NAME,
        "title": "Online platforms in child sexual abuse crimes: sourced figures",
        "description": (
            "Statistical figures on how online platforms are used in child sexual abuse crimes, extracted from "
            "published documents. Every fact carries the exact quote and character span it was read from; "
            "documents, rejected inputs, every number seen (mentions) and the taxonomy are included so each "
            "figure can be traced and checked."
        ),
        "keywords": ["child sexual abuse", "online platforms", "crime statistics", "open data"],
        "licenses": [LICENSE],
        "sources": [
            {
                "title": "Published documents (reports, FOI responses, news articles); each one's url, outlet and "
                "title are in documents.parquet"
            },
            *bodies,
        ],
        "extractor_version": extractor_version,
        "taxonomy_sha256": taxonomy_checksums(),
        "resources": [
            {
                "name": r.name,
                "path": r.path,
                "title": r.name.replace("_", " "),
                "description": r.description or TABLES[r.table].description,
                "format": "csv" if r.is_csv else "parquet",
                "mediatype": "text/csv" if r.is_csv else "application/vnd.apache.parquet",
                **({"encoding": "utf-8"} if r.is_csv else {}),
                "schema": schema.frictionless_schema(r.table_def()),
            }
            for r in resources
        ],
    }


# The sha256 of each table's rows as CSV, the content hash's input (datapackage.json key): the next release
# compares its tables with these, and verify says which table's rows differ.
ROWS_SHA256 = "rows_sha256"
_AFTER_HASH = ("version", "created", "content_sha256", ROWS_SHA256, "git_commit")  # descriptor keys not hashed
_RESOURCE_AFTER_HASH = ("bytes", "hash", "rows")


def _content_descriptor(descriptor: dict[str, Any]) -> dict[str, Any]:
    """The part of a datapackage.json the content hash covers (what _descriptor built)."""
    part = {k: v for k, v in descriptor.items() if k not in _AFTER_HASH}
    part["resources"] = [
        {k: v for k, v in r.items() if k not in _RESOURCE_AFTER_HASH} for r in descriptor.get("resources", [])
    ]
    return part


def _content_hash(descriptor: dict[str, Any], csv_digests: dict[str, str]) -> str:
    """sha256 over the descriptor and the sorted rows of every table: no timestamps, no file layout."""
    h = hashlib.sha256(json.dumps(descriptor, sort_keys=True, ensure_ascii=False).encode())
    for name in sorted(csv_digests):
        h.update(f"\n{name}\n{csv_digests[name]}".encode())
    return h.hexdigest()


# --------------------------------------------------------------------------- spreadsheet safety

# A cell a spreadsheet would run as a formula (OWASP, "CSV Injection"): = + - @, tab and carriage return.
_FORMULA_START = r"^[=+\-@\t\r]"


def csv_safe(table: pa.Table) -> pa.Table:
    """The table for a CSV file: each text cell that starts like a formula gets a leading apostrophe.

    OWASP's advice: Excel, LibreOffice and Google Sheets show such a cell as text, without the
    apostrophe, instead of running ``=HYPERLINK(...)`` or ``+cmd|' /C calc'!A0``. Only string columns
    change (a count or a share is never text); the Parquet files hold every value as it is.
    """
    import pyarrow.compute as pc

    for i, field in enumerate(table.schema):
        if pa.types.is_string(field.type) or pa.types.is_large_string(field.type):
            column = table.column(i)
            risky = pc.fill_null(pc.match_substring_regex(column, _FORMULA_START), False)
            if pc.any(risky).as_py():
                fixed = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
                table = table.set_column(i, field, fixed.cast(field.type))
    return table


def _write_release(
    folder: Path,
    version: str,
    resources: list[_Resource],
    tables: _Tables,
    descriptor: dict[str, Any],
    content_hash: str,
    extractor_version: str,
    changes: str,
    report_dir: Path | None,
    written: _Written,
) -> dict[str, str]:
    """Everything but the tables' files (``_write_tables``): datapackage.json, CHANGES.md, README.md, the report
    and SHA256SUMS. Returns the sha256 of every file listed in SHA256SUMS."""
    descriptor = json.loads(json.dumps(descriptor))  # a copy to fill in
    digests: dict[str, str] = dict(written.files)
    for r, entry in zip(resources, descriptor["resources"], strict=True):
        if r.is_csv:  # Frictionless reads Parquet through pyarrow, counts no bytes, and fails any `bytes` it cannot count
            entry["bytes"] = written.sizes[r.path]
        entry["hash"] = "sha256:" + digests[r.path]
        entry["rows"] = written.rows[r.name]
    full = {
        **{k: v for k, v in descriptor.items() if k != "resources"},
        "version": version,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "content_sha256": content_hash,
        ROWS_SHA256: dict(sorted(written.content.items())),
        **({"git_commit": commit} if (commit := _git_commit()) else {}),
        "resources": descriptor["resources"],
    }
    # verify recomputes the content hash from the descriptor minus these keys: they must be all that was added
    assert _content_descriptor(full) == _content_descriptor(descriptor), "a key added after hashing is not in _AFTER_HASH"
    digests[DESCRIPTOR_FILE] = _write_bytes(folder / DESCRIPTOR_FILE, (json.dumps(full, indent=2, ensure_ascii=False) + "\n").encode())
    digests[CHANGES_FILE] = _write_bytes(folder / CHANGES_FILE, changes.encode())
    documents = written.rows.get("documents", 0)
    readme = release_readme(full, _texts_note(resources, len(tables.carried), documents))
    digests[README_FILE] = _write_bytes(folder / README_FILE, readme.encode())
    digests.update(_write_report(folder, tables, resources, report_dir))
    files = _release_files(folder)
    digests = {name: digests.get(name) or _sha256_file(folder / name) for name in files}
    _write_bytes(folder / SUMS_FILE, "".join(f"{digests[name]}  {name}\n" for name in files).encode())
    base = str(folder)
    for name in [*files, SUMS_FILE]:
        os.chmod(os.path.join(base, name), 0o444)
    return digests


def _write_report(folder: Path, tables: _Tables, resources: list[_Resource], report_dir: Path | None) -> dict[str, str]:
    """The HTML report inside the release. It shows a document's full text only where the release carries
    that text (documents_text.parquet); otherwise the sentences its figures were read from.

    With ``report_dir`` (the working report) its pages are hard-linked and only the document pages that
    differ are rendered; returns the sha256 of each page known without reading it ('report/<page>')."""
    from pipeline.report.build import INDEX_FILE, build_release_report, build_report

    carries_text = any(r.name == "documents_text" for r in resources)
    carried = set(tables.carried) if carries_text else set()
    # the tables are written: the report reads the database itself (in workers too), so the memory this
    # connection holds from writing them (up to RELEASE_MEMORY_LIMIT) is given back first
    tables.close()
    target = folder / REPORT_DIR
    if report_dir is None:
        build_report(tables.database_path, target, carry_text=carried)
        (target / INDEX_FILE).unlink(missing_ok=True)  # the release's report is never built on: no index
        return {}
    from pipeline.database import database_state_id

    state = database_state_id(tables.database_path)
    _result, digests = build_release_report(tables.database_path, target, carry_text=carried, working=report_dir, state=state)
    return {f"{REPORT_DIR}/{page}": sha for page, sha in digests.items()}


def _release_files(folder: Path) -> list[str]:
    """Every file of a release folder but SHA256SUMS, as '/'-separated paths relative to it, sorted.

    A file is what Path.is_file says (a link to a file too); links to folders are not followed."""
    names: list[str] = []
    pending = [("", str(folder))]
    while pending:
        prefix, path = pending.pop()
        with os.scandir(path) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    pending.append((f"{prefix}{entry.name}/", entry.path))
                elif entry.is_file():
                    names.append(prefix + entry.name)
    return sorted(name for name in names if name != SUMS_FILE)


def _texts_note(resources: list[_Resource], carried: int, documents: int) -> str:
    common = (
        "Each fact carries its quote, the full sentence the quote is in (`sentence`, starting at `sentence_start` "
        "in the document's text) and its document's sha256, title, outlet, url and date: anyone holding the "
        "document can check the quote by its sha256 and offsets. "
    )
    if any(r.name == "documents_text" for r in resources):
        return common + (
            f"`documents_text.parquet` holds the full text of {carried} of the {documents} documents: those whose "
            "licence (the `licence` column of sources.csv, kept in `documents.licence`) lets the dataset redistribute "
            "them, such as the Open Government Licence or CC-BY. The others, news articles above all, are their "
            "publishers' copyright: the release quotes them (a sentence per figure) but does not copy them."
        )
    return common + "This release carries no document texts."


@contextlib.contextmanager
def _open_synced(path: Path) -> Iterator[io.BufferedWriter]:
    with open(path, "xb") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def _write_bytes(path: Path, data: bytes) -> str:
    """Write a new file, synced; the sha256 of ``data``."""
    with _open_synced(path) as fh:
        fh.write(data)
    return hashlib.sha256(data).hexdigest()


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_file(path: Path | str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


@contextlib.contextmanager
def _publish_lock(releases_dir: Path) -> Iterator[None]:
    """One publisher at a time, so sweeping ``.tmp-*`` never removes a folder still being built."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; concurrent publishers are not supported there
        yield
        return
    with open(releases_dir / _LOCK_FILE, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_temporaries(releases_dir: Path) -> None:
    """Folders and links left by a publisher that was killed; they were never releases."""
    for entry in releases_dir.iterdir():
        if entry.name.startswith(_TMP_PREFIX) and entry.is_dir() and not entry.is_symlink():
            log.warning("release: removing %s left by an interrupted run", entry.name)
            shutil.rmtree(entry)
        elif entry.name.startswith((f".{LATEST_LINK}.tmp-", f".{LATEST_FILE}.tmp-")):
            entry.unlink()


def _point_latest(releases_dir: Path, version: str) -> None:
    """Repoint ``LATEST`` then ``latest``, each by an atomic rename of a finished temporary."""
    tmp_file = releases_dir / f".{LATEST_FILE}.tmp-{os.getpid()}"
    tmp_file.unlink(missing_ok=True)
    _write_bytes(tmp_file, f"{version}\n".encode())
    os.replace(tmp_file, releases_dir / LATEST_FILE)
    tmp_link = releases_dir / f".{LATEST_LINK}.tmp-{os.getpid()}"
    tmp_link.unlink(missing_ok=True)
    try:
        os.symlink(version, tmp_link, target_is_directory=True)
    except OSError as exc:  # e.g. Windows without the symlink privilege: LATEST alone names the release
        log.warning("release: cannot create the %s symlink (%s); %s names the newest release", LATEST_LINK, exc, LATEST_FILE)
    else:
        os.replace(tmp_link, releases_dir / LATEST_LINK)
    _fsync_dir(releases_dir)


def _load_json(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    return data


def _rows_of(descriptor: dict[str, Any]) -> dict[str, int]:
    return {r["name"]: r["rows"] for r in descriptor.get("resources", []) if r.get("format") != "csv" and "rows" in r}


# --------------------------------------------------------------------------- changes


@dataclass(frozen=True)
class _Diff:
    added: list[dict[str, Any]]  # rows of the new facts (the first CHANGES_LISTED of them)
    removed: list[dict[str, Any]]  # rows of the old facts (idem)
    changed: list[tuple[dict[str, Any], dict[str, Any], list[str]]]  # (old row, new row, the columns that differ)
    columns_added: list[str]
    columns_removed: list[str]
    n_added: int = 0  # how many there are in all
    n_removed: int = 0
    n_changed: int = 0
    changed_columns: dict[str, int] | None = None  # column -> facts it changed in (all of them)
    bookkeeping_only: int = 0  # changed facts whose only changes are _BOOKKEEPING columns


# Columns that say how a fact was made, not what it states: a change in them alone is summarised, not listed.
_BOOKKEEPING = ("extractor_version", "confidence")
# Facts listed per section of CHANGES.md; past it the section says how many more (the two releases' facts.parquet
# hold them all). A first release of a large archive would otherwise list half a million lines.
CHANGES_LISTED = 2000


def _diff_facts(tables: _Tables, old_path: Path | None) -> _Diff:
    """The facts of the database against the previous release's facts.parquet, by fact_id, compared in DuckDB:
    only the counts and the rows CHANGES.md lists come back to Python."""
    con = tables.connection
    columns = list(TABLES["facts"].columns)
    con.execute(f"CREATE OR REPLACE TEMP VIEW new_facts AS SELECT {', '.join(_quote(c) for c in columns)} FROM facts")

    def dicts(sql: str) -> list[dict[str, Any]]:
        result = con.execute(sql)
        names = [d[0] for d in result.description]
        return [dict(zip(names, row, strict=True)) for row in result.fetchall()]

    def count(sql: str) -> int:
        row = con.execute(f"SELECT count(*) FROM ({sql})").fetchone()
        return int(row[0]) if row else 0

    if old_path is None:  # a first release adds every fact
        return _Diff(dicts(f"SELECT * FROM new_facts ORDER BY fact_id LIMIT {CHANGES_LISTED}"), [], [], [], [],
                     n_added=count("SELECT fact_id FROM new_facts"))
    con.execute(f"CREATE OR REPLACE TEMP VIEW old_facts AS SELECT * FROM read_parquet({_sql_string(str(old_path))})")
    old_types = {name: kind for name, kind, *_ in con.execute("DESCRIBE old_facts").fetchall()}
    new_types = {name: kind for name, kind, *_ in con.execute("DESCRIBE new_facts").fetchall()}
    common = [c for c in columns if c in old_types and c != "fact_id"]
    tests = []
    for c in common:
        cast = "" if new_types[c] == old_types[c] else "::VARCHAR"  # a column whose type changed is compared as text
        n, o = f"n.{_quote(c)}{cast}", f"o.{_quote(c)}{cast}"
        tests.append(f"CASE WHEN {n} IS DISTINCT FROM {o} THEN '{c}' END")
    differ = f"concat_ws(', ', {', '.join(tests)})" if tests else "''"
    # One join of the two: each fact added, removed or changed (with the columns that changed), nothing else.
    con.execute(
        "CREATE OR REPLACE TEMP TABLE fact_changes AS SELECT * FROM ("
        "SELECT coalesce(n.fact_id, o.fact_id) AS fact_id, "
        "CASE WHEN o.fact_id IS NULL THEN 'added' WHEN n.fact_id IS NULL THEN 'removed' ELSE 'changed' END AS kind, "
        f"CASE WHEN n.fact_id IS NOT NULL AND o.fact_id IS NOT NULL THEN {differ} END AS cols "
        "FROM new_facts n FULL OUTER JOIN old_facts o ON n.fact_id = o.fact_id"
        ") WHERE kind <> 'changed' OR cols <> ''"
    )
    counts = dict(con.execute("SELECT kind, count(*) FROM fact_changes GROUP BY kind").fetchall())

    def listed(kind: str, facts: str) -> list[dict[str, Any]]:
        return dicts(
            f"SELECT f.* FROM {facts} f SEMI JOIN (SELECT fact_id FROM fact_changes WHERE kind = '{kind}' "
            f"ORDER BY fact_id LIMIT {CHANGES_LISTED}) USING (fact_id) ORDER BY fact_id"
        )

    changed: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = []
    by_column, bookkeeping_only = {}, 0
    if counts.get("changed"):
        by_column = dict(Counter(
            c for (cols, n) in con.execute("SELECT cols, count(*) FROM fact_changes WHERE kind = 'changed' GROUP BY cols").fetchall()
            for c in cols.split(", ") for _ in range(n)
        ))
        bookkeeping = f"list_bool_and(list_transform(string_split(cols, ', '), c -> list_contains([{', '.join(_sql_string(c) for c in _BOOKKEEPING)}], c)))"
        (bookkeeping_only,) = con.execute(
            f"SELECT count(*) FROM fact_changes WHERE kind = 'changed' AND {bookkeeping}"
        ).fetchone() or (0,)
        listed_ids = con.execute(
            f"SELECT fact_id, cols FROM fact_changes WHERE kind = 'changed' AND NOT {bookkeeping} "
            f"ORDER BY fact_id LIMIT {CHANGES_LISTED}"
        ).fetchall()
        if listed_ids:
            con.register("listed_ids", pa.table({"fact_id": [i for i, _ in listed_ids]}))
            olds = {r["fact_id"]: r for r in dicts("SELECT o.* FROM old_facts o SEMI JOIN listed_ids USING (fact_id)")}
            news = {r["fact_id"]: r for r in dicts("SELECT n.* FROM new_facts n SEMI JOIN listed_ids USING (fact_id)")}
            con.unregister("listed_ids")
            changed = [(olds[i], news[i], cols.split(", ")) for i, cols in listed_ids]
    diff = _Diff(
        listed("added", "new_facts"),
        listed("removed", "old_facts"),
        changed,
        [c for c in columns if c not in old_types],
        [c for c in old_types if c not in new_types],
        n_added=counts.get("added", 0), n_removed=counts.get("removed", 0), n_changed=counts.get("changed", 0),
        changed_columns=by_column, bookkeeping_only=bookkeeping_only,
    )
    con.execute("DROP TABLE fact_changes")
    return diff


_QUALIFIER_WORDS = {"more_than": "more than ", "at_least": "at least ", "less_than": "less than ", "about": "about ",
                    "up_to": "up to "}


def _value_text(row: dict[str, Any]) -> str:
    """The figure as a reader says it: 'more than 9,477', '27 (40.2%)', 'a share of 52%'."""
    count, share = row.get("count"), row.get("share")
    percent = f"{share * 100:.1f}".rstrip("0").rstrip(".") + "%" if share is not None else None
    value = f"{count:,}" + (f" ({percent})" if percent else "") if count is not None else (percent or "no value")
    return _QUALIFIER_WORDS.get(row.get("qualifier") or "", "") + value


def _attributes_text(row: dict[str, Any]) -> str:
    period = f"{row['period_start']} to {row['period_end']}" if row.get("period_start") and row.get("period_end") else None
    parts = [
        ("platform", row.get("platform")), ("region", row.get("region")), ("year", row.get("year")), ("period", period),
        ("offence", row.get("offence")), ("source", row.get("source")), ("measure", row.get("measure")),
        ("base", row.get("base")),
    ]
    return ", ".join(f"{name} {value}" for name, value in parts if value is not None)


def _quote_text(quote: Any) -> str:
    return "“" + " ".join(str(quote or "").split()) + "”"


def _figure_line(row: dict[str, Any]) -> str:
    return (
        f"- `{row['fact_id']}` ({row['document']}): **{_value_text(row)}**; {_attributes_text(row)}; "
        f"{_quote_text(row.get('quote'))}"
    )


def _change_line(old: dict[str, Any], new: dict[str, Any], columns: list[str]) -> str:
    what = "; ".join(f"{c} {_cell(old.get(c))} → {_cell(new.get(c))}" for c in columns)
    return (
        f"- `{new['fact_id']}` ({new['document']}): {what}. Now **{_value_text(new)}**; {_attributes_text(new)}; "
        f"{_quote_text(new.get('quote'))}"
    )


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str):
        return _quote_text(value) if " " in value.strip() else value
    return str(value)


@dataclass(frozen=True)
class _Rejected:
    """How the rejected inputs differ from the previous release's."""

    added: list[tuple[str, str]]  # (document, reason) rejected now, not before
    removed: list[tuple[str, str]]  # rejected before, not now
    changed: list[tuple[str, str, str]]  # (document, old reason, new reason)


def _rejected_diff(new: Iterable[pa.RecordBatch], old_path: Path | None) -> _Rejected:
    now = {r["document"]: r["reason"] for batch in new for r in batch.to_pylist()}
    before = {}
    if old_path is not None and old_path.is_file():
        before = {r["document"]: r["reason"] for r in pq.read_table(old_path, columns=["document", "reason"]).to_pylist()}
    return _Rejected(
        sorted((d, now[d]) for d in now.keys() - before.keys()),
        sorted((d, before[d]) for d in before.keys() - now.keys()),
        sorted((d, before[d], now[d]) for d in now.keys() & before.keys() if now[d] != before[d]),
    )


def _tables_changed(previous_dir: Path, previous_descriptor: dict[str, Any], csv_digests: dict[str, str],
                    rows: dict[str, int]) -> list[str]:
    """The tables whose rows differ from the previous release's, compared as publishing hashes them: by the
    previous release's rows_sha256 where it has them (and they are the ones its content hash was taken over),
    else by hashing its Parquet files."""
    old = {r["name"]: r for r in previous_descriptor.get("resources", []) if r.get("format") != "csv"}
    stored = previous_descriptor.get(ROWS_SHA256)
    if not isinstance(stored, dict) or not all(isinstance(v, str) for v in stored.values()) or (
        _content_hash(_content_descriptor(previous_descriptor), stored) != previous_descriptor.get("content_sha256")
    ):
        stored = None
    changed = []
    for name, digest in csv_digests.items():
        entry = old.get(name)
        if entry is None or entry.get("rows") != rows.get(name):
            changed.append(name)
            continue
        if stored is not None:
            if stored.get(name) != digest:
                changed.append(name)
            continue
        try:
            parquet = pq.ParquetFile(previous_dir / str(entry["path"]))
            before, _ = _csv_sha256(parquet.schema_arrow.with_metadata(None), parquet.iter_batches(batch_size=BATCH_ROWS))
        except (OSError, pa.ArrowException) as exc:
            log.warning("release: cannot compare %s with the previous release (%s)", name, exc)
            before = None
        if before != digest:
            changed.append(name)
    return changed


def _changes_markdown(
    version: str,
    previous: str | None,
    diff: _Diff,
    rows: dict[str, int],
    previous_rows: dict[str, int] | None,
    tables_changed: list[str] | None = None,
    rejected: _Rejected | None = None,
) -> str:
    """CHANGES.md: every figure added, removed or changed (up to CHANGES_LISTED a section), with its value,
    attributes and quote."""

    def listed(rows: list[dict[str, Any]], total: int) -> list[str]:
        out = [_figure_line(row) for row in rows] or ["None."]
        if total > len(rows):
            out.append(f"- and {total - len(rows)} more (compare the two releases' facts.parquet by fact_id).")
        return out

    lines = [f"# Release {version}", ""]
    if previous is None or previous_rows is None:
        lines += [f"First release: {rows['facts']} facts.", "", "| table | rows |", "|---|---:|"]
        lines += [f"| {name} | {n} |" for name, n in rows.items()]
        lines += ["", f"## Facts ({diff.n_added})", ""]
        lines += listed(diff.added, diff.n_added)
        return "\n".join(lines) + "\n"
    lines += [
        f"Previous release: {previous}",
        "",
        (f"Facts: {rows['facts']} (added {diff.n_added}, removed {diff.n_removed}, changed {diff.n_changed}), "
        "compared by `fact_id`."),
        "",
    ]
    if tables_changed is not None:
        if tables_changed == ["rejected_documents"]:
            lines += ["Only the rejected inputs changed: every fact and every other table is as in the previous release.", ""]
        elif not tables_changed:
            lines += ["No table's rows changed; the descriptor (schema, licence or sources) did.", ""]
        else:
            lines += ["Tables whose rows changed: " + ", ".join(tables_changed) + ".", ""]
    if diff.columns_added or diff.columns_removed:
        added, removed = ", ".join(diff.columns_added) or "none", ", ".join(diff.columns_removed) or "none"
        lines += [f"Columns of facts added: {added}; removed: {removed}.", ""]
    lines += ["| table | rows | previous |", "|---|---:|---:|"]
    lines += [f"| {name} | {n} | {previous_rows.get(name, '-')} |" for name, n in rows.items()]
    lines.append("")
    for title, items, total in (("Added", diff.added, diff.n_added), ("Removed", diff.removed, diff.n_removed)):
        lines += [f"## {title} ({total})", ""]
        lines += listed(items, total)
        lines.append("")
    lines += [f"## Changed ({diff.n_changed})", ""]
    if diff.n_changed:
        by_column = Counter(diff.changed_columns or {})
        lines += ["Columns that changed: " + ", ".join(f"{c} ({n})" for c, n in by_column.most_common()) + ".", ""]
    lines += [_change_line(o, n, cols) for o, n, cols in diff.changed]
    figures = diff.n_changed - diff.bookkeeping_only
    if figures > len(diff.changed):
        lines.append(f"- and {figures - len(diff.changed)} more (compare the two releases' facts.parquet by fact_id).")
    if diff.bookkeeping_only:
        lines.append(f"- {diff.bookkeeping_only} more fact(s) changed only in {' or '.join(_BOOKKEEPING)}.")
    if not diff.n_changed:
        lines.append("None.")
    if rejected is not None and (rejected.added or rejected.removed or rejected.changed):
        lines += ["", "## Rejected inputs", ""]
        lines += [f"- now rejected: `{d}`: {reason}" for d, reason in rejected.added]
        lines += [f"- no longer rejected: `{d}` (was: {reason})" for d, reason in rejected.removed]
        lines += [f"- `{d}`: {old} → {new}" for d, old, new in rejected.changed]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- find and verify


def latest_version(releases_dir: Path) -> str | None:
    """The name of the release ``latest`` (or, without symlinks, ``LATEST``) points at; None if neither does."""
    releases_dir = Path(releases_dir)
    link = releases_dir / LATEST_LINK
    if link.is_symlink() and link.is_dir():
        return Path(os.readlink(link)).name
    marker = releases_dir / LATEST_FILE
    if marker.is_file():
        name = marker.read_text(encoding="utf-8").strip()
        if name and "/" not in name and "\\" not in name and not name.startswith(".") and (releases_dir / name).is_dir():
            return name
    return None


def _release_names(releases_dir: Path) -> list[str]:
    """Release folders: not dot-folders, not ``latest``, holding a descriptor."""
    return sorted(
        p.name
        for p in releases_dir.iterdir()
        if not p.name.startswith(".") and not p.is_symlink() and p.is_dir() and (p / DESCRIPTOR_FILE).is_file()
    )


def _newest_release_by_name(releases_dir: Path) -> str | None:
    names = _release_names(releases_dir)
    if names:
        log.warning("release: %s names no release; comparing with %s, the newest by name", LATEST_LINK, names[-1])
    return names[-1] if names else None


def resolve_release(path: Path) -> Path:
    """A release folder as given, or the release a releases folder's ``latest``/``LATEST`` names."""
    path = Path(path)
    if not path.exists():
        raise ReleaseNotFound(
            f"{path} does not exist; no release has been published there yet (run `python -m pipeline run`)"
        )
    if (path / DESCRIPTOR_FILE).is_file() or (path / SUMS_FILE).is_file():
        return Path(os.path.realpath(path))
    if path.is_dir():
        version = latest_version(path)
        if version is not None:
            return Path(os.path.realpath(path / version))
        found = _release_names(path)
        hint = f" (it holds {', '.join(found)}, but no valid {LATEST_LINK} or {LATEST_FILE})" if found else ""
        raise ReleaseNotFound(f"no release under {path} yet{hint}; run `python -m pipeline run` to publish one")
    raise ReleaseNotFound(f"{path} is neither a release folder nor a folder of releases")


def verify_release(release_dir: Path) -> list[str]:
    """Re-check a release: checksums, schemas against datapackage.json, row counts, quotes. [] means OK."""
    real = Path(os.path.realpath(release_dir))
    return _check_release(real, real.name)


def _check_release(
    folder: Path, version: str, *, trusted: dict[str, str] | None = None, content: dict[str, str] | None = None
) -> list[str]:
    """Every check of ``verify``. ``trusted`` (file -> sha256) and ``content`` (table -> sha256 of its rows as CSV)
    are for publishing's own check alone, of what it has just written: they stand for hashing those files and
    those rows again. Anything else, ``pipeline verify`` above all, reads and hashes every file."""
    if not folder.is_dir():
        return [f"{folder}: not a folder"]
    problems, digests = _check_sums(folder, trusted)
    try:
        descriptor = _load_json(folder / DESCRIPTOR_FILE)
    except (OSError, ValueError) as exc:
        return problems + [f"{DESCRIPTOR_FILE}: cannot be read: {exc}"]
    if descriptor.get("version") != version:
        problems.append(f"{DESCRIPTOR_FILE}: version {descriptor.get('version')!r} but the folder is {version!r}")
    problems += _check_descriptor_with_frictionless(descriptor)
    with duckdb.connect() as con:
        # the primary-key checks group every key of a table: within a cap, spilling past it as the release's reads do
        con.execute(f"SET memory_limit = '{CHECK_MEMORY_LIMIT}'")
        con.execute("SET threads = 1")
        con.execute(f"SET temp_directory = {_sql_string(tempfile.gettempdir())}")
        problems += _check_resources(con, folder, version, descriptor, digests)
    if not problems:
        problems += _check_content_hash(folder, version, descriptor, content)
    return problems


def _check_content_hash(
    folder: Path, version: str, descriptor: dict[str, Any], content: dict[str, str] | None = None
) -> list[str]:
    """The version names the content: recompute the hash from the rows themselves, not from the file hashes.

    File checksums only prove the files are the ones datapackage.json lists; someone who edits a
    table and rewrites every checksum passes them. The content hash is taken again here exactly as
    publishing takes it (the descriptor's content part and every table's rows as CSV), and must equal
    ``content_sha256``, whose first digits must be the version's.
    """
    stated = descriptor.get("content_sha256")
    if not isinstance(stated, str) or len(stated) != 64:
        return [f"{DESCRIPTOR_FILE}: no content_sha256"]
    problems = []
    if version.rpartition("-")[2] != stated[:_HASH_DIGITS]:
        problems.append(f"{DESCRIPTOR_FILE}: content_sha256 {stated[:_HASH_DIGITS]}... does not match the version {version}")
    digests = {}
    for entry in descriptor.get("resources", []):
        if entry.get("format") == "csv":
            continue
        if content is not None:  # publishing's own check: the rows as hashed from the batches written
            digests[entry["name"]] = content.get(entry["name"], "")
            continue
        parquet = pq.ParquetFile(folder / str(entry["path"]))
        batches = parquet.iter_batches(batch_size=BATCH_ROWS)
        digests[entry["name"]], _ = _csv_sha256(parquet.schema_arrow.with_metadata(None), batches)
    stored = descriptor.get(ROWS_SHA256)  # releases before it have none
    if stored is not None and not isinstance(stored, dict):
        problems.append(f"{DESCRIPTOR_FILE}: {ROWS_SHA256} is not an object")
        stored = None
    differ = [] if stored is None else sorted(n for n in {*stored, *digests} if stored.get(n) != digests.get(n))
    actual = _content_hash(_content_descriptor(descriptor), digests)
    if actual != stated:
        problems.append(
            f"content: the rows and datapackage.json hash to {actual[:12]}..., not to content_sha256 {stated[:12]}... "
            f"of version {version}: the release was changed after it was published"
            + (f" (the rows of {', '.join(differ)} are not those of its {ROWS_SHA256})" if differ else "")
        )
    elif differ:
        problems.append(f"{DESCRIPTOR_FILE}: {ROWS_SHA256} of {', '.join(differ)} differ from the hash of their rows")
    return problems


def _check_resources(
    con: duckdb.DuckDBPyConnection, folder: Path, version: str, descriptor: dict[str, Any], digests: dict[str, str]
) -> list[str]:
    problems: list[str] = []
    paths = {}
    for entry in descriptor.get("resources", []):
        name, path = entry.get("name"), folder / str(entry.get("path"))
        if not path.is_file() or path.parent != folder:
            problems.append(f"{name}: file {entry.get('path')!r} missing")
            continue
        paths[name] = path
        if entry.get("format") == "csv" and entry.get("bytes") != path.stat().st_size:  # Parquet: its sha256 only
            problems.append(f"{entry['path']}: {path.stat().st_size} bytes, datapackage.json says {entry.get('bytes')}")
        if entry.get("hash") != "sha256:" + (digests.get(path.name) or _sha256_file(path)):
            problems.append(f"{entry['path']}: sha256 differs from datapackage.json")
        try:
            problems += _check_table(con, path, entry, version)
        except (OSError, pa.ArrowException, duckdb.Error, ValueError, KeyError) as exc:
            problems.append(f"{entry['path']}: cannot be read: {exc}")
        memory.give_back()  # what reading the table took, back before the next one
    if "facts" in paths and not problems:
        problems += _check_spans(con, paths["facts"], paths.get("documents_text"), paths.get("documents"))
    return problems


def _check_sums(folder: Path, trusted: dict[str, str] | None = None) -> tuple[list[str], dict[str, str]]:
    """Problems with SHA256SUMS, and the sha256 of each file it lists that matches.

    ``trusted``: the sha256 of files publishing has just written, taken instead of reading them (see _check_release)."""
    sums_path = folder / SUMS_FILE
    if not sums_path.is_file():
        return [f"{SUMS_FILE}: missing"], {}
    files = {*_release_files(folder), SUMS_FILE}
    trusted = trusted or {}
    base = str(folder)
    problems, listed, digests = [], set(), {}
    for number, line in enumerate(sums_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        parts = name.split("/")
        nested_ok = len(parts) == 1 or parts[0] == REPORT_DIR  # only the report has sub-folders
        if not sep or len(digest) != 64 or not nested_ok or any(part in ("", ".", "..") for part in parts):
            problems.append(f"{SUMS_FILE} line {number}: not '<sha256>  <file>': {line!r}")
            continue
        listed.add(name)
        if name not in files:
            problems.append(f"{name}: listed in {SUMS_FILE} but missing")
        elif (trusted.get(name) or _sha256_file(os.path.join(base, name))) != digest:
            problems.append(f"{name}: sha256 does not match {SUMS_FILE}")
        else:
            digests[name] = digest
    for extra in sorted(files - listed - {SUMS_FILE}):
        problems.append(f"{extra}: not listed in {SUMS_FILE}")
    return problems, digests


def _check_descriptor_with_frictionless(descriptor: dict[str, Any]) -> list[str]:
    try:
        import frictionless
    except ImportError:  # a dev dependency; the checks below do not need it
        log.info("release: frictionless not installed; datapackage.json checked by verify's own rules only")
        return []
    report = frictionless.Package.validate_descriptor(descriptor)
    return [f"{DESCRIPTOR_FILE}: {note}" for [note] in report.flatten(["note"])]


def _expected_arrow_schema(frictionless_schema: dict[str, Any]) -> pa.Schema:
    return pa.schema(
        [
            pa.field(f["name"], schema.arrow_type(f["type"]), nullable=not f.get("constraints", {}).get("required", False))
            for f in frictionless_schema["fields"]
        ]
    )


def _describe(s: pa.Schema) -> list[str]:
    return [f"{f.name} {f.type}{'' if f.nullable else ' not null'}" for f in s]


def _check_table(con: duckdb.DuckDBPyConnection, path: Path, entry: dict[str, Any], version: str) -> list[str]:
    problems = []
    expected = _expected_arrow_schema(entry["schema"])
    constraint_errors: list[str] | None = None  # a CSV file's, found while it is read
    if entry.get("format") == "csv":
        # read a block at a time (facts.csv is the largest file of a release), each block checked as it comes.
        # The reader holds some 36 blocks ahead (16 MB blocks held 270 MB); a row is a few kB (sentences are capped)
        options = pa_csv.ConvertOptions(column_types={f.name: f.type for f in expected}, strings_can_be_null=True)
        reader = pa_csv.open_csv(
            path, convert_options=options, read_options=pa_csv.ReadOptions(block_size=2 << 20, use_threads=False)
        )
        names = reader.schema.names
        if names != expected.names:
            problems.append(f"{path.name}: columns {names} but datapackage.json lists {expected.names}")
        actual_rows, formula = 0, False
        constraint_errors = []
        for batch in reader:
            block = pa.Table.from_batches([batch])
            actual_rows += block.num_rows
            formula = formula or csv_safe(block) is not block  # a cell a spreadsheet would run
            if names == expected.names and entry.get("name") in TABLES:
                constraint_errors += field_errors(str(entry["name"]), block)
        if formula:
            problems.append(f"{path.name}: a text cell starts with = + - @, tab or carriage return (a formula)")
    else:
        parquet = pq.ParquetFile(path)
        actual = parquet.schema_arrow
        if _describe(actual) != _describe(expected):
            wrong = sorted(set(_describe(actual)) ^ set(_describe(expected)))
            problems.append(f"{path.name}: schema differs from datapackage.json: {', '.join(wrong) or 'column order'}")
        metadata = {k.decode(): v.decode() for k, v in (actual.metadata or {}).items()}
        for key, want in (("release_version", version), ("table", entry.get("name"))):
            if metadata.get(key) != want:
                problems.append(f"{path.name}: {key} {metadata.get(key)!r} in the Parquet metadata, expected {want!r}")
        actual_rows = parquet.metadata.num_rows
        primary_key = entry["schema"].get("primaryKey") or []
        if primary_key and not problems:
            cols = ", ".join(_quote(c) for c in primary_key)
            [(dupes,)] = con.execute(
                f"SELECT count(*) FROM (SELECT {cols} FROM read_parquet(?) GROUP BY {cols} HAVING count(*) > 1)", [str(path)]
            ).fetchall()
            if dupes:
                problems.append(f"{path.name}: {dupes} value(s) of the primary key ({', '.join(primary_key)}) repeat")
    if actual_rows != entry.get("rows"):
        problems.append(f"{path.name}: {actual_rows} rows, datapackage.json says {entry.get('rows')}")
    if not problems and entry.get("name") in TABLES:
        if constraint_errors is not None:
            problems += _constraint_problems(path, constraint_errors)
        else:
            problems += _check_constraints(path, str(entry["name"]))
    return problems


def _check_spans(
    con: duckdb.DuckDBPyConnection, facts: Path, documents_text: Path | None, documents: Path | None = None
) -> list[str]:
    """The span invariant: every quote is its sentence at [char_start - sentence_start:...], and, where the
    release carries the document's text, the text at [char_start:char_end], the sentence at sentence_start too.

    A release from before facts carried their sentence shipped every text: there each quote needs its text.
    """
    problems: list[str] = []

    def report(sql: str, params: list[str], what: str) -> None:
        bad = con.execute(sql, params).fetchall()
        if bad:
            shown = ", ".join(row[0] for row in bad[:5]) + (", ..." if len(bad) > 5 else "")
            problems.append(f"facts.parquet: {len(bad)} fact(s) {what}: {shown}")

    with_sentence = "sentence" in pq.ParquetFile(facts).schema_arrow.names
    if with_sentence:
        report(
            """SELECT fact_id FROM read_parquet(?) WHERE sentence_start > char_start
               OR substring(sentence, char_start - sentence_start + 1, char_end - char_start) IS DISTINCT FROM quote
               ORDER BY fact_id""",
            [str(facts)],
            "whose quote is not their sentence at char_start - sentence_start",
        )
    if documents_text is None:
        if not with_sentence:
            problems.append("facts.parquet: neither the sentences nor the texts to check the quotes against")
        return problems
    join = "JOIN" if with_sentence else "LEFT JOIN"  # with sentences, only the texts the release carries
    report(
        f"""SELECT f.fact_id FROM read_parquet(?) f {join} read_parquet(?) d USING (document)
            WHERE {span_differs_sql("f", "d")}
            {"OR substring(d.text, f.sentence_start + 1, length(f.sentence)) IS DISTINCT FROM f.sentence" if with_sentence else ""}
            ORDER BY f.fact_id""",
        [str(facts), str(documents_text)],
        "whose quote is not the document text at its span (or sentence at sentence_start)",
    )
    columns = pq.ParquetFile(documents_text).schema_arrow.names
    if "licence" in columns:  # a release never carries a text its licence keeps out
        texts = con.execute("SELECT document, licence FROM read_parquet(?)", [str(documents_text)]).fetchall()
        barred = sorted(d for d, licence in texts if not allows_redistribution(licence))
        if barred:
            problems.append(
                f"documents_text.parquet: {len(barred)} text(s) whose licence does not allow redistribution: "
                + ", ".join(barred[:5])
            )
    return problems


def _check_constraints(path: Path, name: str) -> list[str]:
    """The column constraints of metadata/fields.py (validate.field_errors) on a released Parquet table."""
    errors: list[str] = []
    # only the columns field_errors reads: a rule's, a float's (NaN) and the primary key (its messages name it)
    parquet = pq.ParquetFile(path)
    arrow = parquet.schema_arrow
    t = TABLES[name]
    wanted = set(t.primary_key) | {
        f.name for f in t.fields
        if f.name in arrow.names and (constrained(name, f) or pa.types.is_floating(arrow.field(f.name).type))
    }
    columns = [c for c in arrow.names if c in wanted]
    if not columns:
        return []
    for batch in parquet.iter_batches(BATCH_ROWS, columns=columns):
        errors += field_errors(name, pa.Table.from_batches([batch]))
    return _constraint_problems(path, errors)


def _constraint_problems(path: Path, errors: list[str]) -> list[str]:
    if not errors:
        return []
    shown = "; ".join(errors[:5]) + ("; ..." if len(errors) > 5 else "")
    return [f"{path.name}: {len(errors)} value(s) break the constraints of metadata/fields.py: {shown}"]

