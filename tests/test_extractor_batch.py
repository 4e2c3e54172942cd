"""Batch extraction: the incremental cache, re-keying by path, the process pool, deterministic order."""

from __future__ import annotations

import dataclasses
import os
from datetime import date
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from conftest import SEEDS

from pipeline.documents import Document, ingest
from pipeline.extractor import batch as extract
from pipeline.extractor import make_fact_id, records
from pipeline.extractor.batch import BatchExtraction, extract_documents, version_dir
from pipeline.workers import PARALLEL_MIN_JOBS, worker_count


@pytest.fixture(scope="module")
def seeds() -> list[Document]:
    return ingest(SEEDS, max_bytes=10_000_000).documents


def names(docs: list[Document]) -> list[str]:
    return [d.document for d in docs]


def edited(doc: Document, suffix: str = "\n\nA new closing paragraph.") -> Document:
    return dataclasses.replace(doc, text=doc.text + suffix)


def test_first_call_extracts_every_document(tmp_path: Path, seeds: list[Document]) -> None:
    batch = extract_documents(seeds, cache_dir=tmp_path, workers=1)
    assert batch.extracted == names(seeds)
    assert batch.cached == []


def test_second_call_re_extracts_nothing_and_returns_the_same_rows(tmp_path: Path, seeds: list[Document]) -> None:
    first = extract_documents(seeds, cache_dir=tmp_path, workers=1)
    second = extract_documents(seeds, cache_dir=tmp_path, workers=1)
    assert second.extracted == []
    assert second.cached == names(seeds)
    assert second.facts.equals(first.facts) and first.facts.num_rows > 0
    assert second.mentions.equals(first.mentions) and first.mentions.num_rows > 0


def test_a_changed_document_is_the_only_one_re_extracted(tmp_path: Path, seeds: list[Document]) -> None:
    extract_documents(seeds, cache_dir=tmp_path, workers=1)
    changed = [edited(seeds[2]) if i == 2 else d for i, d in enumerate(seeds)]
    batch = extract_documents(changed, cache_dir=tmp_path, workers=1)
    assert batch.extracted == [seeds[2].document]
    assert batch.cached == names(seeds[:2] + seeds[3:])


def test_a_changed_publication_date_is_re_extracted_because_years_fall_back_to_it(tmp_path: Path, seeds: list[Document]) -> None:
    extract_documents(seeds[:1], cache_dir=tmp_path, workers=1)
    redated = dataclasses.replace(seeds[0], published=date(2001, 1, 1))
    assert extract_documents([redated], cache_dir=tmp_path, workers=1).extracted == [seeds[0].document]


def test_a_new_extractor_version_re_extracts_everything(
    tmp_path: Path, seeds: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    extract_documents(seeds, cache_dir=tmp_path, workers=1)
    monkeypatch.setattr(records, "EXTRACTOR_VERSION", "99.0.0-test")
    batch = extract_documents(seeds, cache_dir=tmp_path, workers=1)
    assert batch.extracted == names(seeds)
    assert version_dir(tmp_path).parent.name == "99.0.0-test"


def test_the_cache_is_parquet_partitions_under_the_extractor_version(tmp_path: Path, seeds: list[Document]) -> None:
    extract_documents(seeds, cache_dir=tmp_path, workers=1)
    store = version_dir(tmp_path)
    assert store.is_relative_to(tmp_path / "extractions" / records.EXTRACTOR_VERSION)
    (partition,) = [p for p in store.iterdir() if not p.name.startswith(".")]
    assert sorted(p.name for p in partition.iterdir()) == ["documents.parquet", "facts.parquet", "mentions.parquet"]
    index = pq.read_table(partition / "documents.parquet").to_pylist()
    assert sorted(r["document"] for r in index) == names(seeds)
    assert "key" in pq.read_schema(partition / "facts.parquet").names


def test_the_same_content_under_a_new_path_is_served_from_the_cache_with_the_same_ids(tmp_path: Path, seeds: list[Document]) -> None:
    first = extract_documents(seeds, cache_dir=tmp_path, workers=1)
    moved = [dataclasses.replace(d, document="moved/" + d.document) for d in seeds]
    batch = extract_documents(moved, cache_dir=tmp_path, workers=1)
    assert batch.extracted == []
    assert batch.cached == names(moved)
    assert first.facts.num_rows, "the extractor finds facts in the seed documents"
    assert batch.facts.num_rows == first.facts.num_rows
    texts = {d.document: d.text for d in moved}
    facts = batch.facts.to_pylist()
    ids = {f["fact_id"] for f in facts}
    # fact_id hashes the content and span, not the path: a renamed file keeps every id
    assert [(f["fact_id"], f["quote"]) for f in facts] == [(f["fact_id"], f["quote"]) for f in first.facts.to_pylist()]
    shas = {d.document: d.sha256 for d in moved}
    spans = [(f["document"], f["char_start"], f["char_end"]) for f in facts]
    single = [f for f, span in zip(facts, spans, strict=True) if spans.count(span) == 1]  # (one span, two platforms: disambiguated)
    assert single and all(f["fact_id"] == make_fact_id(shas[f["document"]], f["char_start"], f["char_end"]) for f in single)
    for f in facts:
        assert f["document"].startswith("moved/")
        assert texts[f["document"]][f["char_start"] : f["char_end"]] == f["quote"]
    # The ids a fresh extraction under the new paths gives (make_fact_id of the content, and the
    # extractor's disambiguation of a second fact on one span), so no two facts share an id.
    fresh = extract_documents(moved, cache_dir=None, workers=1)
    assert sorted(f["fact_id"] for f in facts) == sorted(fresh.facts["fact_id"].to_pylist())
    assert len(ids) == len(facts)
    mentions = batch.mentions.to_pylist()
    assert len(mentions) == first.mentions.num_rows
    assert all(m["document"].startswith("moved/") for m in mentions)
    assert all(m["fact_id"] in ids for m in mentions if m["fact_id"] is not None)


def test_duplicate_content_in_one_batch_is_extracted_once(tmp_path: Path, seeds: list[Document]) -> None:
    copy = dataclasses.replace(seeds[0], document="zz_copy.txt")
    batch = extract_documents([seeds[0], copy], cache_dir=tmp_path, workers=1)
    assert batch.extracted == [seeds[0].document]
    assert batch.cached == ["zz_copy.txt"]
    facts = batch.facts.to_pylist()
    per_doc = {d: sum(1 for f in facts if f["document"] == d) for d in (seeds[0].document, "zz_copy.txt")}
    assert per_doc[seeds[0].document] == per_doc["zz_copy.txt"] > 0
    mentions = batch.mentions.to_pylist()
    per_doc = {d: sum(1 for m in mentions if m["document"] == d) for d in (seeds[0].document, "zz_copy.txt")}
    assert per_doc[seeds[0].document] == per_doc["zz_copy.txt"] > 0


def test_no_cache_dir_extracts_every_time(seeds: list[Document]) -> None:
    assert extract_documents(seeds, cache_dir=None, workers=1).extracted == names(seeds)
    assert extract_documents(seeds, cache_dir=None, workers=1).extracted == names(seeds)


def test_many_small_partitions_are_compacted_into_one(
    tmp_path: Path, seeds: list[Document], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(extract, "COMPACT_AFTER_PARTITIONS", 2)
    for i in range(4):  # each call adds a partition holding one edited document
        extract_documents([edited(seeds[0], f"\n\nEdit {i}.")], cache_dir=tmp_path, workers=1)
    partitions = [p for p in version_dir(tmp_path).iterdir() if not p.name.startswith(".")]
    assert len(partitions) <= 2
    again = [edited(seeds[0], f"\n\nEdit {i}.") for i in range(4)]
    assert extract_documents(again, cache_dir=tmp_path, workers=1).extracted == []


def test_the_process_pool_gives_the_same_rows_as_one_process(seeds: list[Document]) -> None:
    docs = seeds + [
        dataclasses.replace(d, document=f"copy{i}/{d.document}", text=d.text + f" {i}") for i, d in enumerate(seeds * 3)
    ]
    one = extract_documents(docs, cache_dir=None, workers=1)
    pool = extract_documents(docs, cache_dir=None, workers=2)
    assert pool.facts.num_rows > 0
    assert pool.facts.equals(one.facts)
    assert pool.mentions.equals(one.mentions)
    assert pool.extracted == one.extracted == names(docs)


def test_rows_are_sorted_by_document_then_position(seeds: list[Document]) -> None:
    batch: BatchExtraction = extract_documents(list(reversed(seeds)), cache_dir=None, workers=1)
    for rows in (batch.facts.to_pylist(), batch.mentions.to_pylist()):
        keys = [(r["document"], r["char_start"]) for r in rows]
        assert keys == sorted(keys)


@pytest.mark.parametrize(("uncached", "workers", "expected"), [(5, 0, 1), (10_000, 1, 1), (5, 3, 3)])
def test_small_batches_stay_in_process_unless_workers_are_given(uncached: int, workers: int, expected: int) -> None:
    assert worker_count(uncached, workers) == expected


def test_large_batches_use_every_core() -> None:
    assert worker_count(PARALLEL_MIN_JOBS, 0) == len(os.sched_getaffinity(0))


def test_extraction_counts_are_kept_for_a_run_with_nothing_new(seed_raw: Path, tmp_path: Path) -> None:
    """The counts the extraction step reports come back from the file they were kept in while the manifest
    and the partitions are the same ones (so a no-op run scans no partition); new partitions are counted."""
    from pipeline.database import extraction_stats
    from pipeline.manifest import ingest_to_manifest

    manifest = ingest_to_manifest(seed_raw, tmp_path / "ingest", max_bytes=10_000_000)
    found = extract.extract_manifest(manifest.folder, cache_dir=tmp_path / "cache", workers=1)
    kept = tmp_path / "ingest" / "extraction-stats.json"
    first = extraction_stats(manifest.folder, found, remember_in=kept)
    assert first["facts"] > 0 and first == extraction_stats(manifest.folder, found)  # the same counts as counted afresh
    for part in found.partitions:  # gone: a count that read them would now fail or differ
        os.remove(Path(found.store) / part / "facts.parquet")
    assert extraction_stats(manifest.folder, found, remember_in=kept) == first
    other = dataclasses.replace(found, partitions=())
    with pytest.raises(ValueError, match="no rows in the extraction cache"):  # other partitions: counted again
        extraction_stats(manifest.folder, other, remember_in=kept)


def test_batches_queued_ahead_in_the_pool_give_the_rows_of_one_batch(
    seed_raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two workers the next batch is extracted while the last is written: every batch still becomes
    its own partition, and the rows are those one batch in one process gives."""
    from pipeline.manifest import ingest_to_manifest

    manifest = ingest_to_manifest(seed_raw, tmp_path / "ingest", max_bytes=10_000_000)
    one = extract.extract_manifest(manifest.folder, cache_dir=tmp_path / "one", workers=1)
    monkeypatch.setattr(extract, "EXTRACT_BATCH", 16)
    monkeypatch.setattr(extract, "COMPACT_AFTER_PARTITIONS", 100)  # (keep the partitions to count them)
    many = extract.extract_manifest(manifest.folder, cache_dir=tmp_path / "many", workers=2)
    assert many.extracted == one.extracted == 61 and len(many.partitions) == 4 and len(one.partitions) == 1

    def rows(found: extract.Extractions, name: str) -> list[dict]:
        table = pq.read_table([str(Path(found.store) / p / f"{name}.parquet") for p in found.partitions])
        return sorted(table.to_pylist(), key=repr)

    for name in ("documents", "mentions", "facts"):
        assert rows(many, name) == rows(one, name)
