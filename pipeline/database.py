"""Stage 4, load: documents, mentions and facts -> the DuckDB database ``stats.duckdb``.

Every table is created from ``metadata/`` (so column types and comments match the
release), filled in bulk from Arrow tables, and the whole file is built beside the
target and moved over it in one ``os.replace``: a reader holding the old database
open read-only keeps its consistent copy, and nobody ever opens a half-written file.

The rows are validated by ``pipeline/validate.py`` (primary keys here, at the load; the column
constraints, slugs and spans by the asset checks, before it).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.documents import Document, Rejected
from pipeline.manifest import fsync_file
from pipeline.metadata import schema
from pipeline.metadata.tables import CURATED_TABLES, TABLES, TAXONOMY_TABLES
from pipeline.metadata.taxonomy import Taxonomy, load_taxonomy_table
from pipeline.validate import DuplicateKeyError, duplicate_keys, span_differs_sql

log = logging.getLogger(__name__)

# Joins the names of every slug in; a combined platform such as 'instagram+whatsapp'
# reads 'Instagram + WhatsApp' (an unknown part is shown as its slug).
FACTS_NAMED_VIEW = """
CREATE VIEW facts_named AS
SELECT
    f.*,
    s.name AS source_name,
    r.name AS region_name,
    (
        SELECT string_agg(coalesce(p.name, u.part), ' + ' ORDER BY u.pos)
        FROM unnest(string_split(f.platform, '+')) WITH ORDINALITY AS u(part, pos)
        LEFT JOIN platforms p ON p.slug = u.part
    ) AS platform_name,
    o.name AS offence_name,
    d.title AS document_title,
    d.url AS document_url,
    d.published AS document_published
FROM facts f
LEFT JOIN sources s ON s.slug = f.source
LEFT JOIN regions r ON r.slug = f.region
LEFT JOIN offences o ON o.slug = f.offence
LEFT JOIN documents d ON d.document = f.document
"""
FACTS_NAMED_COMMENT = (
    "facts with the names of their source, region, platform (a combined platform reads as its names "
    "joined with ' + ') and offence, and the title, url and publication date of their document."
)


def rows_to_arrow(table: str, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows as an Arrow table with the table's metadata schema.

    A key that is not a column of the table is an error rather than dropped, so a
    field added to a record without a column in ``metadata/`` cannot vanish on the way.
    """
    columns = [f.name for f in TABLES[table].fields]
    known = set(columns)
    for row in rows:
        extra = row.keys() - known
        if extra:
            raise ValueError(f"{table}: row has fields that are not columns of the table: {sorted(extra)}")
    arrow_schema = schema.arrow_schema(table)
    data = {name: [row.get(name) for row in rows] for name in columns}
    return pa.Table.from_pydict(data, schema=arrow_schema.with_metadata(None))


def as_arrow(table: str, data: pa.Table | Sequence[Mapping[str, Any]]) -> pa.Table:
    """Rows, or an Arrow table with exactly the table's columns, as an Arrow table with its metadata schema."""
    if not isinstance(data, pa.Table):
        return rows_to_arrow(table, data)
    columns = [f.name for f in TABLES[table].fields]
    if data.column_names != columns:
        raise ValueError(f"{table}: columns {data.column_names} are not the table's {columns}")
    return data.cast(schema.arrow_schema(table).with_metadata(None))


def records_to_rows(records: Iterable[Any]) -> list[dict[str, Any]]:
    """Dataclass records (Document, Rejected) as column dicts."""
    return [{f.name: getattr(r, f.name) for f in dataclasses.fields(r)} for r in records]


def taxonomy_rows(taxonomy: Taxonomy | None = None) -> dict[str, list[dict[str, Any]]]:
    """Rows of each dimension table; empty CSV cells become NULL."""
    out = {}
    for name in TAXONOMY_TABLES:
        rows = list(getattr(taxonomy, name).values()) if taxonomy is not None else load_taxonomy_table(name)
        columns = [f.name for f in TABLES[name].fields]
        out[name] = [{c: (row.get(c) or None) for c in columns} for row in rows]
    return out


_LEGACY_TMP_AGE = 3600.0  # seconds: a temporary named without its writer's pid is that old before it goes


def sweep_stale_temporaries(path: Path) -> list[Path]:
    """Remove the ``.<name>.<pid>-<uuid>.tmp`` files (and their WALs) that a killed run left beside ``path``.

    A temporary belongs to a dead run when the pid in its name is no running process; one from before
    names held a pid is removed once an hour old. A live run's temporary is left alone.
    """
    removed = []
    prefix = f".{Path(path).name}."
    for entry in Path(path).parent.glob(f"{prefix}*.tmp*"):
        tag = entry.name[len(prefix):].split(".tmp", 1)[0]
        pid_text, dash, _ = tag.partition("-")
        if dash and pid_text.isdigit():
            if _alive(int(pid_text)):
                continue
        else:
            try:
                if time.time() - entry.stat().st_mtime < _LEGACY_TMP_AGE:
                    continue
            except OSError:
                continue
        log.warning("removing %s, left by an interrupted run", entry.name)
        entry.unlink(missing_ok=True)
        removed.append(entry)
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def load_database(
    path: Path,
    *,
    documents: Sequence[Document],
    rejected: Sequence[Rejected],
    mentions: pa.Table | Sequence[Mapping[str, Any]],
    facts: pa.Table | Sequence[Mapping[str, Any]],
    taxonomy: Taxonomy | None = None,
    curated: Mapping[str, pa.Table | Sequence[Mapping[str, Any]]] | None = None,
) -> dict[str, int]:
    """Build the database at ``path`` from scratch and swap it in; return the row count of each table.

    The new file is written next to ``path`` (same filesystem, so the final rename is
    atomic) and only replaces it once complete and closed; on any failure the old
    database is untouched and the temporary file is removed.
    """
    path = Path(path)
    data = {
        "documents": records_to_rows(documents),
        "rejected_documents": records_to_rows(rejected),
        "mentions": mentions if isinstance(mentions, pa.Table) else list(mentions),
        "facts": facts if isinstance(facts, pa.Table) else list(facts),
        **taxonomy_rows(taxonomy),
        **{name: (curated or {}).get(name, []) for name in CURATED_TABLES},
    }
    if curated is None:  # statistics, citations, conflicts, review of these facts (pipeline/curate.py), no corrections
        from pipeline.curate import curate

        try:
            facts_arrow = as_arrow("facts", data["facts"])
            column = facts_arrow.schema.get_field_index("corrected")
            facts_arrow = facts_arrow.set_column(column, "corrected", pc.fill_null(facts_arrow["corrected"], False))
            built = curate(facts_arrow, documents)
        except (pa.ArrowInvalid, ValueError) as exc:  # e.g. a required column with nulls
            raise ValueError(f"facts: {exc}") from exc
        data["facts"] = facts_arrow  # (no correction here: corrected is false, as the database step leaves it)
        data.update(statistics=built.statistics, citations=built.citations, conflicts=built.conflicts, review=built.review)
    for table, rows in data.items():
        dupes = duplicate_keys(table, rows)
        if dupes:
            key = ", ".join(TABLES[table].primary_key)
            shown = "; ".join(str(d[0] if len(d) == 1 else d) for d in dupes[:5])
            raise DuplicateKeyError(
                f"{table}: {len(dupes)} duplicate value(s) of the primary key ({key}), e.g. {shown}. "
                "Every row must have its own key; refusing to drop rows silently."
            )

    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")  # the pid: whose it is
    try:
        counts = _build(tmp, data)
        _swap_in(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise
    log.info("wrote %s: %s", path, counts)
    return counts


def _build(tmp: Path, data: Mapping[str, pa.Table | Sequence[Mapping[str, Any]]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    con = duckdb.connect(str(tmp))
    try:
        for table in TABLES:
            for statement in schema.duckdb_ddl(table):
                con.execute(statement)
        # Dimensions first, so the order mirrors what facts reference.
        for table in [*TAXONOMY_TABLES, *(t for t in TABLES if t not in TAXONOMY_TABLES)]:
            try:
                arrow = as_arrow(table, data[table])
            except (pa.ArrowInvalid, ValueError) as exc:  # a required column with nulls, say
                raise ValueError(f"{table}: {exc}") from exc
            con.register("arrow_rows", arrow)
            try:
                con.execute(f'INSERT INTO "{table}" SELECT * FROM arrow_rows')
            except duckdb.ConstraintException as exc:
                raise ValueError(f"{table}: {exc}") from exc
            finally:
                con.unregister("arrow_rows")
            counts[table] = arrow.num_rows
        con.execute(FACTS_NAMED_VIEW)
        con.execute("COMMENT ON VIEW facts_named IS '{}'".format(FACTS_NAMED_COMMENT.replace("'", "''")))
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts


def _swap_in(tmp: Path, path: Path) -> None:
    """Move the finished database over the old one in one rename, after it is on disk."""
    fsync_file(tmp)
    # A WAL beside the target belongs to the old file; replayed onto the new one it would corrupt it.
    Path(f"{path}.wal").unlink(missing_ok=True)
    os.replace(tmp, path)


# --------------------------------------------------------------------------------------------------
# Loading from Parquet references, incrementally (the pipeline's database step)
#
# The database records what it was built from in the schema ``pipeline_state``: ``loaded`` holds the
# (document, key) pairs whose rows it has (key = the extraction key, a hash of everything the
# extractor saw), ``info`` one row: a fingerprint of the tables' definitions and the taxonomy, the
# digest of the rejected rows, and ``state_id``, which changes whenever the content does (the release
# step compares it). A run compares the ingest manifest with ``loaded``: documents that are new or
# whose key changed are added, those gone or changed are removed. Nothing to do: the file is not
# touched. Otherwise the file is copied beside the target, changed there (in a few transactions, see
# commit_point), checkpointed, fsynced and moved over the target: a reader keeps the old file and never
# sees a half state, and a failure leaves the target as it was.
# Without a database (or with one of other definitions) the same code fills an empty file.

STATE_SCHEMA = "pipeline_state"
LOAD_FORMAT = "1"  # bump when the way rows are loaded changes: every database is then rebuilt
MEMORY_LIMIT = "256MB"  # DuckDB's working memory while loading; past it, it spills to the temp folder

# Called inside the loading transaction, after facts and documents are updated, with the connection and
# the paths of the documents added, changed or removed (curated tables derived from facts refresh here).
AFTER_LOAD: list[Any] = []


def commit_point(con: duckdb.DuckDBPyConnection) -> None:
    """Commit what ``update_database`` (or a hook of it) has written so far and go on in a new transaction.

    The file being written is a private copy, swapped in only after the last commit, so a reader still never
    sees a half state; committing frees what DuckDB holds until a transaction ends: the rows it has not yet
    written out and every Arrow table registered in it (an open transaction keeps them all alive, which
    made memory grow with the archive)."""
    con.execute("COMMIT")
    con.execute("BEGIN TRANSACTION")


@dataclasses.dataclass(frozen=True)
class LoadResult:
    counts: dict[str, int]  # rows per table after the load
    changed: bool  # False: nothing to do, the file was left as it was
    added: int  # documents added or changed
    removed: int  # documents removed or changed
    state_id: str  # changes with every change of content
    rebuilt: bool = False  # built from an empty file (no database, or one of other definitions)


def definitions_fingerprint(taxonomy: Taxonomy | None = None) -> str:
    """Changes with the tables' definitions, the taxonomy rows and the way rows are loaded."""
    h = hashlib.sha256(LOAD_FORMAT.encode())
    for table in TABLES:
        h.update("\n".join(schema.duckdb_ddl(table)).encode())
    h.update(FACTS_NAMED_VIEW.encode())
    h.update(json.dumps(taxonomy_rows(taxonomy), sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def _one(result: duckdb.DuckDBPyConnection) -> tuple[Any, ...]:
    """The one row a query gives (an aggregate always has one)."""
    row = result.fetchone()
    assert row is not None
    return row


def _sql_list(paths: Sequence[str | Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _lit(value: str | Path) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _configure(con: duckdb.DuckDBPyConnection, temp_dir: Path | None, memory_limit: str) -> None:
    con.execute(f"SET memory_limit = {_lit(memory_limit)}")
    con.execute("SET preserve_insertion_order = false")  # lets large inserts stream instead of buffering
    if temp_dir is not None:
        Path(temp_dir).mkdir(parents=True, exist_ok=True)
        con.execute(f"SET temp_directory = {_lit(temp_dir)}")


def extra_of(con: duckdb.DuckDBPyConnection, catalog: str | None = None) -> str:
    """The ``fingerprint_extra`` the database (``catalog``, or the connection's own) was last updated with ('' if none)."""
    prefix = f"{catalog}." if catalog else ""
    try:
        row = con.execute(f"SELECT value FROM {prefix}{STATE_SCHEMA}.extra").fetchone()
    except duckdb.Error:
        return ""
    return row[0] if row else ""


def _state_of(con: duckdb.DuckDBPyConnection, catalog: str) -> dict[str, Any] | None:
    """The ``info`` row of an attached database, if it has one of the current definitions."""
    try:
        row = con.execute(
            f"SELECT fingerprint, rejected_sha256, state_id FROM {catalog}.{STATE_SCHEMA}.info"
        ).fetchone()
    except duckdb.Error:
        return None
    if row is None:
        return None
    return {"fingerprint": row[0], "rejected_sha256": row[1], "state_id": row[2]}


def _plan(con: duckdb.DuckDBPyConnection, manifest_folder: str | Path, extractions: Any, loaded: str | None) -> None:
    """Temp tables ``added``, ``removed`` (document, key) and ``targets`` (document, key, extracted_as,
    part): the added documents with the cache partition holding their rows and the path they were
    extracted under. ``loaded`` names the table of what the database has (None: it has nothing)."""
    from pipeline.manifest import DOCUMENTS_FILE

    con.execute(
        "CREATE OR REPLACE TEMP TABLE current_docs AS SELECT document, key FROM read_parquet("
        + _lit(Path(manifest_folder) / DOCUMENTS_FILE) + ")"
    )
    source = loaded or "(SELECT ''::VARCHAR AS document, ''::VARCHAR AS key WHERE false)"
    con.execute(f"CREATE OR REPLACE TEMP TABLE loaded_docs AS SELECT document, key FROM {source}")
    con.execute("CREATE OR REPLACE TEMP TABLE added AS SELECT * FROM current_docs c ANTI JOIN loaded_docs l USING (document, key)")
    con.execute("CREATE OR REPLACE TEMP TABLE removed AS SELECT * FROM loaded_docs l ANTI JOIN current_docs c USING (document, key)")
    index = extractions.files("documents")
    if index:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE cache_index AS SELECT key, document AS extracted_as, "
            "regexp_replace(filename, '/[^/]*$', '') AS part "
            f"FROM read_parquet({_sql_list(index)}, filename = true) "
            "WHERE key IN (SELECT key FROM added) "
            "QUALIFY row_number() OVER (PARTITION BY key ORDER BY filename) = 1"
        )
    else:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE cache_index (key VARCHAR, extracted_as VARCHAR, part VARCHAR)"
        )
    con.execute("CREATE OR REPLACE TEMP TABLE targets AS SELECT a.document, a.key, i.extracted_as, i.part FROM added a JOIN cache_index i USING (key)")
    (n_added,) = _one(con.execute("SELECT count(*) FROM added"))
    (n_targets,) = _one(con.execute("SELECT count(*) FROM targets"))
    if n_added != n_targets:
        (example,) = _one(con.execute("SELECT document FROM added ANTI JOIN targets USING (document) LIMIT 1"))
        raise ValueError(
            f"{n_added - n_targets} document(s) of the ingest manifest have no rows in the extraction cache "
            f"(e.g. {example}); the extraction step must run first"
        )


def _select_rekeyed(table: str, extractions: Any, columns: Sequence[str] | None = None, moved: bool | None = None) -> str:
    """SELECT of the cached rows of ``table`` (facts or mentions) for the targets, moved to their path.

    ``moved`` None: every target; True/False: only targets extracted under another path / the same one.
    A moved target keeps its fact ids (they hash content and span, not the path).
    """
    files = extractions.files(table)
    wanted = list(columns or TABLES[table].columns)
    where = {None: "", True: " WHERE t.document <> t.extracted_as", False: " WHERE t.document = t.extracted_as"}[moved]
    source = (
        f"read_parquet({_sql_list(files)}, filename = true) r "
        "JOIN targets t ON r.key = t.key AND regexp_replace(r.filename, '/[^/]*$', '') = t.part"
    )
    out = []
    for c in wanted:
        if c == "document":
            out.append("t.document AS document")
        elif c == "fact_id":
            # fact_id hashes the document's content and the span (extractor.make_fact_id), not the path:
            # rows moved to another path keep theirs
            out.append("r.fact_id AS fact_id")
        else:
            out.append(f'r."{c}"')
    return f"SELECT {', '.join(out)} FROM {source}{where}"


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def update_database(
    path: Path,
    *,
    manifest_folder: str | Path,
    extractions: Any,
    taxonomy: Taxonomy | None = None,
    temp_dir: Path | None = None,
    memory_limit: str = MEMORY_LIMIT,
    after_load: Sequence[Any] = (),
    fingerprint_extra: str = "",
) -> LoadResult:
    """Bring the database at ``path`` to the ingest manifest and the cached extraction results.

    See the comment above: incremental, atomic (copy, change and commit there, swap), untouched when nothing
    changed. ``extractions`` is a ``pipeline.extractor.batch.Extractions``.
    ``after_load`` hooks run like those of ``AFTER_LOAD``, and may call ``commit_point`` between their steps.
    ``fingerprint_extra`` (the corrections file's digest and the curation code's, kept in
    ``pipeline_state.extra``): when it changed, the hooks run even with no document added or removed.
    """
    from pipeline.manifest import DOCUMENTS_FILE, REJECTED_FILE

    path = Path(path)
    manifest_folder = Path(manifest_folder)
    fingerprint = definitions_fingerprint(taxonomy)
    rejected_sha = _file_sha256(manifest_folder / REJECTED_FILE)
    temp_dir = Path(temp_dir) if temp_dir is not None else path.parent / ".duckdb-tmp"

    # What is there: read-only, so a run with nothing to do never writes.
    state = None
    if path.is_file():
        probe = duckdb.connect()
        try:
            _configure(probe, temp_dir, memory_limit)
            probe.execute(f"ATTACH {_lit(path)} AS db (READ_ONLY)")
            state = _state_of(probe, "db")
            if state is not None and state["fingerprint"] == fingerprint:
                _plan(probe, manifest_folder, extractions, f"db.{STATE_SCHEMA}.loaded")
                (n_added,) = _one(probe.execute("SELECT count(*) FROM added"))
                (n_removed,) = _one(probe.execute("SELECT count(*) FROM removed"))
                if n_added == 0 and n_removed == 0 and state["rejected_sha256"] == rejected_sha and extra_of(probe, "db") == fingerprint_extra:
                    counts = _counts(probe, "db")
                    return LoadResult(counts, False, 0, 0, state["state_id"])
            else:
                state = None
        finally:
            probe.close()

    path.parent.mkdir(parents=True, exist_ok=True)
    sweep_stale_temporaries(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{uuid.uuid4().hex}.tmp")  # the pid: whose it is
    try:
        if state is not None:
            shutil.copyfile(path, tmp)
        con = duckdb.connect(str(tmp))
        try:
            _configure(con, temp_dir, memory_limit)
            if state is None:
                _create(con, taxonomy)
            con.execute("BEGIN TRANSACTION")
            _plan(con, manifest_folder, extractions, f"{STATE_SCHEMA}.loaded")
            (n_added,) = _one(con.execute("SELECT count(*) FROM added"))
            (n_removed,) = _one(con.execute("SELECT count(*) FROM removed"))
            changed = [d for (d,) in con.execute("SELECT document FROM added UNION SELECT document FROM removed").fetchall()]
            for table in ("mentions", "facts", "documents"):
                con.execute(f'DELETE FROM "{table}" WHERE document IN (SELECT document FROM removed)')
            con.execute(
                f"DELETE FROM {STATE_SCHEMA}.loaded USING removed r "
                f"WHERE {STATE_SCHEMA}.loaded.document = r.document AND {STATE_SCHEMA}.loaded.key = r.key"
            )
            doc_columns = ", ".join(f'd."{c}"' for c in TABLES["documents"].columns)
            try:
                con.execute(
                    f"INSERT INTO documents SELECT {doc_columns} FROM read_parquet({_lit(manifest_folder / DOCUMENTS_FILE)}) d "
                    "SEMI JOIN added a ON d.document = a.document AND d.key = a.key"
                )
                commit_point(con)
                con.execute(f"INSERT INTO facts {_select_rekeyed('facts', extractions)}")
                commit_point(con)
                con.execute(f"INSERT INTO mentions {_select_rekeyed('mentions', extractions)}")
            except duckdb.ConstraintException as exc:
                raise DuplicateKeyError(f"loading the documents added this run: {exc}") from exc
            con.execute(f"INSERT INTO {STATE_SCHEMA}.loaded SELECT document, key FROM added")
            if state is None or state["rejected_sha256"] != rejected_sha:
                columns = ", ".join(f'"{c}"' for c in TABLES["rejected_documents"].columns)
                con.execute("DELETE FROM rejected_documents")
                con.execute(
                    f"INSERT INTO rejected_documents SELECT {columns} FROM read_parquet({_lit(manifest_folder / REJECTED_FILE)})"
                )
            commit_point(con)
            for hook in [*AFTER_LOAD, *after_load]:
                hook(con, changed)
            con.execute(f"CREATE TABLE IF NOT EXISTS {STATE_SCHEMA}.extra (value VARCHAR)")
            con.execute(f"DELETE FROM {STATE_SCHEMA}.extra")
            con.execute(f"INSERT INTO {STATE_SCHEMA}.extra VALUES (?)", [fingerprint_extra])
            state_id = uuid.uuid4().hex
            con.execute(f"DELETE FROM {STATE_SCHEMA}.info")
            con.execute(
                f"INSERT INTO {STATE_SCHEMA}.info VALUES (?, ?, ?, ?, now())",
                [fingerprint, rejected_sha, state_id, str(manifest_folder)],
            )
            con.execute("COMMIT")
            counts = _counts(con, None)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        _swap_in(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
        raise
    log.info("updated %s: +%d -%d documents, %s", path, n_added, n_removed, counts)
    return LoadResult(counts, True, n_added, n_removed, state_id, rebuilt=state is None)


def _create(con: duckdb.DuckDBPyConnection, taxonomy: Taxonomy | None) -> None:
    """The tables (with their comments), the taxonomy rows, the view and the state schema, in an empty file."""
    for table in TABLES:
        for statement in schema.duckdb_ddl(table):
            con.execute(statement)
    for table, rows in taxonomy_rows(taxonomy).items():
        arrow = rows_to_arrow(table, rows)
        con.register("arrow_rows", arrow)
        try:
            con.execute(f'INSERT INTO "{table}" SELECT * FROM arrow_rows')
        finally:
            con.unregister("arrow_rows")
    con.execute(FACTS_NAMED_VIEW)
    con.execute("COMMENT ON VIEW facts_named IS '{}'".format(FACTS_NAMED_COMMENT.replace("'", "''")))
    con.execute(f"CREATE SCHEMA {STATE_SCHEMA}")
    con.execute(f"CREATE TABLE {STATE_SCHEMA}.loaded (document VARCHAR NOT NULL, key VARCHAR NOT NULL)")
    con.execute(
        f"COMMENT ON TABLE {STATE_SCHEMA}.loaded IS 'The documents this database holds the rows of, with the "
        "extraction key (hash of what the extractor saw) they were loaded under; the next run loads only the difference.'"
    )
    con.execute(
        f"CREATE TABLE {STATE_SCHEMA}.info (fingerprint VARCHAR, rejected_sha256 VARCHAR, state_id VARCHAR, "
        "manifest VARCHAR, updated_at TIMESTAMP WITH TIME ZONE)"
    )
    con.execute(
        f"COMMENT ON TABLE {STATE_SCHEMA}.info IS 'How this database was loaded: the definitions fingerprint, the "
        "digest of the rejected rows, an id that changes with every change of content, the ingest manifest, when.'"
    )


def _counts(con: duckdb.DuckDBPyConnection, catalog: str | None) -> dict[str, int]:
    prefix = f"{catalog}." if catalog else ""
    return {t: _one(con.execute(f'SELECT count(*) FROM {prefix}"{t}"'))[0] for t in TABLES}


def database_state_id(path: Path) -> str | None:
    """The ``state_id`` of a database loaded by ``update_database`` (None if it has none)."""
    if not Path(path).is_file():
        return None
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH {_lit(path)} AS db (READ_ONLY)")
        state = _state_of(con, "db")
    except duckdb.Error:
        return None
    finally:
        con.close()
    return state["state_id"] if state else None


def _attach_loaded(con: duckdb.DuckDBPyConnection, database_path: Path) -> str | None:
    """Attach the database read-only as ``db``; the table of the (document, key)s it has loaded, or None
    when there is no database or one of other definitions (which the next update rebuilds)."""
    if not database_path.is_file():
        return None
    try:
        con.execute(f"ATTACH {_lit(database_path)} AS db (READ_ONLY)")
        state = _state_of(con, "db")
    except duckdb.Error:
        return None
    return f"db.{STATE_SCHEMA}.loaded" if state is not None and state["fingerprint"] == definitions_fingerprint() else None


def pending_documents(
    database_path: Path,
    *,
    manifest_folder: str | Path,
    columns: Sequence[str],
    temp_dir: Path | None = None,
    memory_limit: str = MEMORY_LIMIT,
    batch_rows: int = 10_000,
) -> Iterator[pa.RecordBatch]:
    """The ingest manifest's rows (``columns`` of them) that the next ``update_database`` will add: new or
    changed documents, a batch at a time. Every document in the database was checked when it was added."""
    from pipeline.manifest import DOCUMENTS_FILE

    database_path = Path(database_path)
    con = duckdb.connect()
    try:
        _configure(con, temp_dir or database_path.parent / ".duckdb-tmp", memory_limit)
        loaded = _attach_loaded(con, database_path)
        select = ", ".join(f'm."{c}"' for c in columns)
        sql = f"SELECT {select} FROM read_parquet({_lit(Path(manifest_folder) / DOCUMENTS_FILE)}) m"
        if loaded:
            sql += f" ANTI JOIN {loaded} l ON m.document = l.document AND m.key = l.key"
        yield from con.execute(sql).to_arrow_reader(batch_rows)
    finally:
        con.close()


def pending_facts(
    database_path: Path,
    *,
    manifest_folder: str | Path,
    extractions: Any,
    columns: Sequence[str] | None = None,
    with_text: bool = False,
    suspect_quotes: bool = False,
    temp_dir: Path | None = None,
    memory_limit: str = MEMORY_LIMIT,
    batch_rows: int = 50_000,
) -> Iterator[pa.RecordBatch]:
    """The facts the next ``update_database`` will add (as they will be stored), a batch at a time.

    What the asset checks test: every fact in the database was checked when it was added. With
    ``with_text`` each row also has its document's ``text`` (from the ingest manifest);
    ``suspect_quotes`` keeps only the facts whose quote DuckDB finds different from their span.
    """
    from pipeline.manifest import DOCUMENTS_FILE

    database_path = Path(database_path)
    con = duckdb.connect()
    try:
        _configure(con, temp_dir or database_path.parent / ".duckdb-tmp", memory_limit)
        _plan(con, manifest_folder, extractions, _attach_loaded(con, database_path))
        sql = _select_rekeyed("facts", extractions, columns)
        if with_text or suspect_quotes:
            sql = (
                f"SELECT f.*, d.text FROM ({sql}) f JOIN read_parquet({_lit(Path(manifest_folder) / DOCUMENTS_FILE)}) d "
                "USING (document)"
            )
        if suspect_quotes:  # only the facts whose quote may differ from its span (offsets in characters, as Python's)
            sql += f" WHERE {span_differs_sql('f', 'd')}"
        reader = con.execute(sql).to_arrow_reader(batch_rows)
        yield from reader
    finally:
        con.close()


def extraction_stats(
    manifest_folder: str | Path,
    extractions: Any,
    *,
    temp_dir: Path | None = None,
    memory_limit: str = MEMORY_LIMIT,
    preview_rows: int = 10,
    remember_in: Path | None = None,
) -> dict[str, Any]:
    """Counts of the mentions and facts of the manifest's documents, read from the cache partitions by DuckDB.

    With ``remember_in`` (a JSON file) the counts are kept there with what they were counted from: the
    manifest folder and the partitions, both immutable once written, so a run with nothing new reads
    them back instead of scanning every partition again."""
    key = json.dumps([str(manifest_folder), list(extractions.partitions), str(extractions.store), preview_rows])
    if remember_in is not None:
        try:
            kept_stats = json.loads(Path(remember_in).read_text())
            if kept_stats.get("key") == key:
                return dict(kept_stats["stats"])
        except (OSError, ValueError, AttributeError):
            pass  # none kept yet, or unreadable: counted again
    stats = _extraction_stats(manifest_folder, extractions, temp_dir, memory_limit, preview_rows)
    if remember_in is not None:
        remember_in = Path(remember_in)
        tmp = remember_in.with_name(f".{remember_in.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"key": key, "stats": stats}, default=str))
        os.replace(tmp, remember_in)
        return json.loads(json.dumps(stats, default=str))  # the same values a later read gives back
    return stats


def _extraction_stats(
    manifest_folder: str | Path, extractions: Any, temp_dir: Path | None, memory_limit: str, preview_rows: int
) -> dict[str, Any]:
    con = duckdb.connect()
    try:
        _configure(con, temp_dir, memory_limit)
        _plan(con, manifest_folder, extractions, None)
        mentions = _select_rekeyed("mentions", extractions, ["decision", "reason"])
        n_mentions, kept = _one(con.execute(f"SELECT count(*), count(*) FILTER (WHERE decision = 'fact') FROM ({mentions})"))
        dropped = con.execute(
            f"SELECT reason, count(*) AS n FROM ({mentions}) WHERE decision <> 'fact' GROUP BY reason ORDER BY n DESC, reason"
        ).fetchall()
        facts = _select_rekeyed("facts", extractions, ["document"])
        n_facts, with_facts = _one(con.execute(f"SELECT count(*), count(DISTINCT document) FROM ({facts})"))
        columns = ["document", "char_start", "platform", "count", "share", "year", "region", "source", "quote"]
        preview = con.execute(
            f"SELECT * FROM ({_select_rekeyed('facts', extractions, columns)}) ORDER BY document, char_start LIMIT {int(preview_rows)}"
        ).to_arrow_table().to_pylist()
    finally:
        con.close()
    return {
        "mentions": n_mentions,
        "kept": kept,
        "dropped_by_reason": dict(dropped),
        "facts": n_facts,
        "documents_with_facts": with_facts,
        "preview": preview,
    }
