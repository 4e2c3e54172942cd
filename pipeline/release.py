"""Stage 5, publish: the curated tables as an immutable, checksummed, self-describing release.

A release is a folder ``releases/<version>/`` that is written once and never again:
Parquet files of every table, ``facts.csv``, a Frictionless ``datapackage.json``,
``CHANGES.md`` (facts added, removed and changed since the previous release) and
``SHA256SUMS`` over every other file. ``<version>`` is the calendar date plus the
first hex digits of a hash of the content, so a citation names exactly one set of rows.

Publishing is crash-safe: the release is built in a dot-folder beside the target
(``.tmp-*``, which never looks like a release and is swept by the next run), checked
with the same ``verify`` users run, then renamed into place; only after that is
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

from pipeline.corrections import changes_section
from pipeline.database import MEMORY_LIMIT
from pipeline.metadata import schema
from pipeline.metadata.licences import allows_redistribution
from pipeline.metadata.tables import TABLES, TAXONOMY_TABLES, Table
from pipeline.metadata.taxonomy import taxonomy_checksums
from pipeline.release_readme import release_readme
from pipeline.validate import field_errors, span_differs_sql

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
BATCH_ROWS = 100_000  # rows read from the database at a time, and so rows per Parquet row group


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
    """The body of ``publish_release``, run under its lock."""
    if extractor_version is None:
        versions = tables.sql('SELECT DISTINCT extractor_version FROM "facts" WHERE extractor_version IS NOT NULL')
        extractor_version = ", ".join(sorted(v for (v,) in versions)) or "unknown"
    csv_digests, rows = {}, {}
    for r in resources:
        if not r.is_csv:
            csv_digests[r.name], rows[r.name] = _csv_sha256(r.arrow_schema(), tables.batches(r))
    descriptor = _descriptor(resources, tables, extractor_version)
    content_hash = _content_hash(descriptor, csv_digests)
    version = f"{(today or date.today()):%Y.%m.%d}-{content_hash[:_HASH_DIGITS]}"

    named = latest_version(releases_dir)
    previous = named or _newest_release_by_name(releases_dir)
    previous_dir = releases_dir / previous if previous else None
    previous_descriptor = _load_json(previous_dir / DESCRIPTOR_FILE) if previous_dir else None
    if previous_dir and previous_descriptor and previous_descriptor.get("content_sha256") == content_hash:
        log.info("release: content equals the latest release %s; nothing published", previous)
        if named is None:
            _point_latest(releases_dir, previous_dir.name)
        return ReleaseResult(previous_dir.name, previous_dir, False, 0, 0, 0, _rows_of(previous_descriptor))
    diff = _diff_facts(tables, previous_dir / "facts.parquet" if previous_dir else None)
    previous_rows = _rows_of(previous_descriptor) if previous_descriptor else None
    tables_changed = rejected = None
    if previous_dir and previous_descriptor:
        tables_changed = _tables_changed(previous_dir, previous_descriptor, csv_digests, rows)
        rejected_resource = next(r for r in resources if r.name == "rejected_documents")
        rejected = _rejected_diff(tables.batches(rejected_resource), previous_dir / rejected_resource.path)

    target = releases_dir / version
    if target.exists():
        # This content is already released (earlier today before something else, or by a run killed
        # before it moved `latest`): it is the newest state again, so `latest` goes back to it.
        existing = _load_json(target / DESCRIPTOR_FILE)
        if existing.get("content_sha256") != content_hash:
            raise RuntimeError(f"{target} exists with different content (a {_HASH_DIGITS}-digit hash collision)")
        log.warning("release: content equals the existing release %s; pointing latest back at it", version)
    else:
        tmp = releases_dir / f"{_TMP_PREFIX}{version}-{secrets.token_hex(4)}"
        tmp.mkdir()
        try:
            _write_release(
                tmp, version, resources, tables, descriptor, content_hash, extractor_version,
                _changes_markdown(version, previous, diff, rows, previous_rows, tables_changed, rejected)
                + "\n" + changes_section(tables["corrections"].to_pylist()),
                report_dir,
            )
            problems = _check_release(tmp, version)
            if problems:
                raise RuntimeError("release failed its own verification:\n" + "\n".join(problems))
            _fsync_dir(tmp)
            os.rename(tmp, target)  # fails if the target appeared: a release is never overwritten
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        _fsync_dir(releases_dir)
        log.info(
            "release: published %s (%d facts; +%d -%d ~%d)",
            version, rows["facts"], diff.n_added, diff.n_removed, diff.n_changed,
        )
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
        self._con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
        self._con.execute(f"SET temp_directory = {_sql_string(str(database_path.parent / '.duckdb-tmp'))}")
        self._con.execute("SET preserve_insertion_order = false")
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
            joins += f" LEFT JOIN ({_FACT_CONTEXT_SQL}) c ON c.fact_id = t.fact_id"
        select = []
        for column in r.columns():
            if column in own:
                select.append(f"t.{_quote(column)}")
            elif column in ("sentence", "sentence_start"):
                select.append(f"c.{_quote(column)}")
            else:
                select.append(f"d.{_quote(column.removeprefix('document_'))} AS {_quote(column)}")
        order = FACTS_ORDER if r.table == "facts" else TABLES[r.table].primary_key
        sql = (
            f"SELECT {', '.join(select)} FROM {_quote(r.table)} t{joins} "
            f"ORDER BY {', '.join(f't.{_quote(c)} ASC NULLS LAST' for c in order)}"
        )
        target = r.arrow_schema()
        for batch in self._con.sql(sql).to_arrow_reader(BATCH_ROWS):
            yield batch.cast(target)

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

    def __exit__(self, *exc: object) -> None:
        self._held.clear()
        self._con.close()


# The sentence of a fact: of its mentions' sentences that hold the quote, the first; found again in the text
# in the window where it must start to cover [char_start, char_end). Without one, the quote stands for it.
_FACT_CONTEXT_SQL = """
WITH s AS (
    SELECT f.fact_id, arg_min(m.sentence, m.char_start) FILTER (WHERE position(f.quote IN m.sentence) > 0) AS sentence
    FROM facts f LEFT JOIN mentions m ON m.fact_id = f.fact_id AND m.document = f.document
    GROUP BY f.fact_id
), c AS (
    SELECT f.fact_id, f.char_start, f.quote, coalesce(s.sentence, f.quote) AS sentence, d.text,
           greatest(0, f.char_end - length(coalesce(s.sentence, f.quote))) AS w0
    FROM facts f JOIN s USING (fact_id) JOIN documents d USING (document)
), r AS (
    SELECT *, position(sentence IN substr(text, w0 + 1, char_start - w0 + length(sentence))) AS p FROM c
)
SELECT fact_id,
       CASE WHEN p > 0 THEN sentence ELSE quote END AS sentence,
       CASE WHEN p > 0 THEN w0 + p - 1 ELSE char_start END AS sentence_start
FROM r
"""


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


_AFTER_HASH = ("version", "created", "content_sha256", "git_commit")  # descriptor keys not hashed
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
    report_dir: Path | None = None,
) -> None:
    descriptor = json.loads(json.dumps(descriptor))  # a copy to fill in
    digests: dict[str, str] = {}
    for r, entry in zip(resources, descriptor["resources"], strict=True):
        path = folder / r.path
        rows = 0
        if r.is_csv:
            with _open_synced(path) as fh, pa_csv.CSVWriter(fh, r.arrow_schema()) as writer:
                for batch in tables.batches(r):  # the header once, then the rows as write_csv writes them
                    writer.write_table(csv_safe(pa.Table.from_batches([batch])))
                    rows += batch.num_rows
        else:
            metadata = {
                "release_version": version,
                "extractor_version": extractor_version,
                "table": r.name,
                "description": entry["description"],
            }
            arrow = r.arrow_schema()
            arrow = arrow.with_metadata({**schema.pandas_metadata(arrow), **{k.encode(): v.encode() for k, v in metadata.items()}})
            with _open_synced(path) as fh, pq.ParquetWriter(fh, arrow, **PARQUET_OPTIONS) as writer:
                for batch in tables.batches(r):  # a row group a batch
                    writer.write_batch(batch)
                    rows += batch.num_rows
        digests[r.path] = _sha256_file(path)
        if r.is_csv:  # Frictionless reads Parquet through pyarrow, counts no bytes, and fails any `bytes` it cannot count
            entry["bytes"] = path.stat().st_size
        entry["hash"] = "sha256:" + digests[r.path]
        entry["rows"] = rows
    full = {
        **{k: v for k, v in descriptor.items() if k != "resources"},
        "version": version,
        "created": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "content_sha256": content_hash,
        **({"git_commit": commit} if (commit := _git_commit()) else {}),
        "resources": descriptor["resources"],
    }
    # verify recomputes the content hash from the descriptor minus these keys: they must be all that was added
    assert _content_descriptor(full) == _content_descriptor(descriptor), "a key added after hashing is not in _AFTER_HASH"
    _write_bytes(folder / DESCRIPTOR_FILE, (json.dumps(full, indent=2, ensure_ascii=False) + "\n").encode())
    _write_bytes(folder / CHANGES_FILE, changes.encode())
    documents = next((e["rows"] for e in descriptor["resources"] if e["name"] == "documents"), 0)
    _write_bytes(folder / README_FILE, release_readme(full, _texts_note(resources, len(tables.carried), documents)).encode())
    digests.update(_write_report(folder, tables, resources, report_dir))
    files = _release_files(folder)
    sums = "".join(f"{digests.get(name) or _sha256_file(folder / name)}  {name}\n" for name in files)
    _write_bytes(folder / SUMS_FILE, sums.encode())
    for name in [*files, SUMS_FILE]:
        (folder / name).chmod(0o444)


def _write_report(folder: Path, tables: _Tables, resources: list[_Resource], report_dir: Path | None) -> dict[str, str]:
    """The HTML report inside the release. It shows a document's full text only where the release carries
    that text (documents_text.parquet); otherwise the sentences its figures were read from.

    With ``report_dir`` (the working report) its pages are hard-linked and only the document pages that
    differ are rendered; returns the sha256 of each page known without reading it ('report/<page>')."""
    from pipeline.report.build import INDEX_FILE, build_release_report, build_report

    carries_text = any(r.name == "documents_text" for r in resources)
    carried = set(tables.carried) if carries_text else set()
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
    """Every file of a release folder but SHA256SUMS, as '/'-separated paths relative to it, sorted."""
    names = (p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
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


def _write_bytes(path: Path, data: bytes) -> None:
    with _open_synced(path) as fh:
        fh.write(data)


def _fsync_dir(path: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _sha256_file(path: Path) -> str:
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
    only_in = "SELECT * FROM {} ANTI JOIN {} USING (fact_id)"
    added_sql, removed_sql = only_in.format("new_facts", "old_facts"), only_in.format("old_facts", "new_facts")
    changed: list[tuple[dict[str, Any], dict[str, Any], list[str]]] = []
    n_changed, by_column, bookkeeping_only = 0, {}, 0
    if common:
        tests = []
        for c in common:
            cast = "" if new_types[c] == old_types[c] else "::VARCHAR"  # a column whose type changed is compared as text
            n, o = f"n.{_quote(c)}{cast}", f"o.{_quote(c)}{cast}"
            tests.append(f"CASE WHEN {n} IS DISTINCT FROM {o} THEN '{c}' END")
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE changed_ids AS SELECT fact_id, cols FROM (SELECT fact_id, "
            f"concat_ws(', ', {', '.join(tests)}) AS cols FROM new_facts n JOIN old_facts o USING (fact_id)) WHERE cols <> ''"
        )
        n_changed = count("SELECT * FROM changed_ids")
        by_column = dict(Counter(
            c for (cols, n) in con.execute("SELECT cols, count(*) FROM changed_ids GROUP BY cols").fetchall()
            for c in cols.split(", ") for _ in range(n)
        ))
        bookkeeping = f"list_contains([{', '.join(_sql_string(c) for c in _BOOKKEEPING)}], c)"
        (bookkeeping_only,) = con.execute(
            f"SELECT count(*) FROM changed_ids WHERE list_bool_and(list_transform(string_split(cols, ', '), c -> {bookkeeping}))"
        ).fetchone() or (0,)
        listed = con.execute(
            f"SELECT fact_id, cols FROM changed_ids WHERE NOT list_bool_and(list_transform(string_split(cols, ', '), "
            f"c -> {bookkeeping})) ORDER BY fact_id LIMIT {CHANGES_LISTED}"
        ).fetchall()
        if listed:
            con.register("listed_ids", pa.table({"fact_id": [i for i, _ in listed]}))
            olds = {r["fact_id"]: r for r in dicts("SELECT o.* FROM old_facts o SEMI JOIN listed_ids USING (fact_id)")}
            news = {r["fact_id"]: r for r in dicts("SELECT n.* FROM new_facts n SEMI JOIN listed_ids USING (fact_id)")}
            con.unregister("listed_ids")
            changed = [(olds[i], news[i], cols.split(", ")) for i, cols in listed]
    return _Diff(
        dicts(f"{added_sql} ORDER BY fact_id LIMIT {CHANGES_LISTED}"),
        dicts(f"{removed_sql} ORDER BY fact_id LIMIT {CHANGES_LISTED}"),
        changed,
        [c for c in columns if c not in old_types],
        [c for c in old_types if c not in new_types],
        n_added=count(added_sql), n_removed=count(removed_sql), n_changed=n_changed,
        changed_columns=by_column, bookkeeping_only=bookkeeping_only,
    )


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
    """The tables whose rows differ from the previous release's, compared as publishing hashes them."""
    old = {r["name"]: r for r in previous_descriptor.get("resources", []) if r.get("format") != "csv"}
    changed = []
    for name, digest in csv_digests.items():
        entry = old.get(name)
        if entry is None or entry.get("rows") != rows.get(name):
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


def _check_release(folder: Path, version: str) -> list[str]:
    if not folder.is_dir():
        return [f"{folder}: not a folder"]
    problems, digests = _check_sums(folder)
    try:
        descriptor = _load_json(folder / DESCRIPTOR_FILE)
    except (OSError, ValueError) as exc:
        return problems + [f"{DESCRIPTOR_FILE}: cannot be read: {exc}"]
    if descriptor.get("version") != version:
        problems.append(f"{DESCRIPTOR_FILE}: version {descriptor.get('version')!r} but the folder is {version!r}")
    problems += _check_descriptor_with_frictionless(descriptor)
    with duckdb.connect() as con:
        problems += _check_resources(con, folder, version, descriptor, digests)
    if not problems:
        problems += _check_content_hash(folder, version, descriptor)
    return problems


def _check_content_hash(folder: Path, version: str, descriptor: dict[str, Any]) -> list[str]:
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
        parquet = pq.ParquetFile(folder / str(entry["path"]))
        batches = parquet.iter_batches(batch_size=BATCH_ROWS)
        digests[entry["name"]], _ = _csv_sha256(parquet.schema_arrow.with_metadata(None), batches)
    actual = _content_hash(_content_descriptor(descriptor), digests)
    if actual != stated:
        problems.append(
            f"content: the rows and datapackage.json hash to {actual[:12]}..., not to content_sha256 {stated[:12]}... "
            f"of version {version}: the release was changed after it was published"
        )
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
    if "facts" in paths and not problems:
        problems += _check_spans(con, paths["facts"], paths.get("documents_text"), paths.get("documents"))
    return problems


def _check_sums(folder: Path) -> tuple[list[str], dict[str, str]]:
    """Problems with SHA256SUMS, and the sha256 of each file it lists that matches."""
    sums_path = folder / SUMS_FILE
    if not sums_path.is_file():
        return [f"{SUMS_FILE}: missing"], {}
    problems, listed, digests = [], set(), {}
    for number, line in enumerate(sums_path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
        digest, sep, name = line.partition("  ")
        parts = name.split("/")
        nested_ok = len(parts) == 1 or parts[0] == REPORT_DIR  # only the report has sub-folders
        if not sep or len(digest) != 64 or not nested_ok or any(part in ("", ".", "..") for part in parts):
            problems.append(f"{SUMS_FILE} line {number}: not '<sha256>  <file>': {line!r}")
            continue
        listed.add(name)
        path = folder / name
        if not path.is_file():
            problems.append(f"{name}: listed in {SUMS_FILE} but missing")
        elif _sha256_file(path) != digest:
            problems.append(f"{name}: sha256 does not match {SUMS_FILE}")
        else:
            digests[name] = digest
    for extra in sorted(set(_release_files(folder)) - listed - {SUMS_FILE}):
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
    if entry.get("format") == "csv":
        options = pa_csv.ConvertOptions(column_types={f.name: f.type for f in expected}, strings_can_be_null=True)
        table = pa_csv.read_csv(path, convert_options=options)
        if table.column_names != expected.names:
            problems.append(f"{path.name}: columns {table.column_names} but datapackage.json lists {expected.names}")
        if csv_safe(table) is not table:  # a cell a spreadsheet would run
            problems.append(f"{path.name}: a text cell starts with = + - @, tab or carriage return (a formula)")
        actual_rows = table.num_rows
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
        problems += _check_constraints(path, str(entry["name"]), table if entry.get("format") == "csv" else None)
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


def _check_constraints(path: Path, name: str, table: pa.Table | None) -> list[str]:
    """The column constraints of metadata/fields.py (validate.field_errors) on a released table."""
    errors: list[str] = []
    batches = [table] if table is not None else (pa.Table.from_batches([b]) for b in pq.ParquetFile(path).iter_batches(BATCH_ROWS))
    for data in batches:
        errors += field_errors(name, data)
    if not errors:
        return []
    shown = "; ".join(errors[:5]) + ("; ..." if len(errors) > 5 else "")
    return [f"{path.name}: {len(errors)} value(s) break the constraints of metadata/fields.py: {shown}"]

