"""The ingest manifest: a second ingest of unchanged files opens none of them, and still gives what a full read gives."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from pipeline.documents import ingest
from pipeline.extractor.batch import extraction_key
from pipeline.manifest import current, ingest_to_manifest

MB = 1_000_000


def age(*paths: Path, seconds: float = 60) -> None:
    """Set the files' mtime back (every file under a folder): a file modified just before a scan is
    (rightly) read again by the next one."""
    past = time.time() - seconds
    for top in paths:
        for path in [top, *top.rglob("*")] if top.is_dir() else [top]:
            if path.is_file() and not path.is_symlink():
                os.utime(path, (past, past))


def as_rows(manifest) -> tuple[list, list]:  # type: ignore[no-untyped-def]
    docs = sorted((d for batch in manifest.iter_documents() for d in batch), key=lambda d: d.document)
    return docs, manifest.read_rejected()


def test_a_second_ingest_of_unchanged_files_reads_none_of_them(seed_raw: Path, tmp_path: Path) -> None:
    (seed_raw / "sub").mkdir()
    shutil.copy(next(seed_raw.glob("*.txt")), seed_raw / "sub" / "copy.txt")  # a duplicate
    (seed_raw / "empty.txt").write_bytes(b"")
    (seed_raw / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(100))
    age(seed_raw)
    out = tmp_path / "ingest"
    first = ingest_to_manifest(seed_raw, out, max_bytes=MB)
    n_inputs = first.documents + first.rejected
    assert first.files_read == n_inputs and first.files_reused == 0

    second = ingest_to_manifest(seed_raw, out, max_bytes=MB)
    assert (second.files_read, second.files_reused) == (0, n_inputs)
    assert not second.written and second.folder == first.folder
    assert first.sources_read and not second.sources_read  # the unchanged sources.csv is not parsed again
    assert as_rows(second) == as_rows(first)

    # The same as a full read, keys included.
    full = ingest(seed_raw, max_bytes=MB)
    docs, rejected = as_rows(second)
    assert docs == full.documents and rejected == full.rejected
    keys = {row["document"]: row["key"] for row in _rows(second)}
    assert keys == {d.document: extraction_key(d) for d in full.documents}


def _rows(manifest):  # type: ignore[no-untyped-def]
    import pyarrow.parquet as pq

    return pq.read_table(manifest.documents_path).to_pylist()


def test_only_changed_files_are_read_and_sources_csv_is_applied_anew(seed_raw: Path, tmp_path: Path) -> None:
    age(seed_raw)
    out = tmp_path / "ingest"
    first = ingest_to_manifest(seed_raw, out, max_bytes=MB)
    names = sorted(d.document for batch in first.iter_documents() for d in batch)
    changed, added = seed_raw / names[0], seed_raw / "new.txt"
    changed.write_text(changed.read_text() + "\nOne more line.\n")
    added.write_text("Police recorded 1,234 offences of sexual communication with a child in 2023/24.\n")
    with open(seed_raw / "sources.csv", "a") as fh:
        fh.write("new.txt,https://example.org/new,Example,A new story,2024-05-01\n")
    age(changed, added)

    second = ingest_to_manifest(seed_raw, out, max_bytes=MB)
    assert second.written and second.files_read == 2 and second.sources_read
    assert second.files_reused == first.documents + first.rejected - 1
    full = ingest(seed_raw, max_bytes=MB)
    assert as_rows(second) == (full.documents, full.rejected)
    assert list(second.warnings) == full.warnings
    new = next(d for d in full.documents if d.document == "new.txt")
    assert (new.title, new.url) == ("A new story", "https://example.org/new")
    # Editing sources.csv alone reads no document, and changes the metadata (and so the key).
    text = (seed_raw / "sources.csv").read_text().replace("A new story", "A renamed story")
    (seed_raw / "sources.csv").write_text(text)
    third = ingest_to_manifest(seed_raw, out, max_bytes=MB)
    assert third.files_read == 0 and third.written
    renamed = next(d for batch in third.iter_documents() for d in batch if d.document == "new.txt")
    assert renamed.title == "A renamed story"
    keys = {row["document"]: row["key"] for row in _rows(third)}
    assert keys["new.txt"] == extraction_key(renamed)
    assert current(out) == Path(third.folder)
    assert len([p for p in out.iterdir() if p.is_dir()]) == 2  # the current manifest and the one before


def test_a_file_changed_within_the_second_of_the_scan_is_read_again(seed_raw: Path, tmp_path: Path) -> None:
    """Same size, same mtime, new content: only the racy-mtime rule can catch it; it must."""
    out = tmp_path / "ingest"
    target = sorted(seed_raw.glob("*.txt"))[0]
    stamp = time.time_ns()
    os.utime(target, ns=(stamp, stamp))  # modified "now", during the scan of the first ingest
    ingest_to_manifest(seed_raw, out, max_bytes=MB)
    content = target.read_bytes()
    target.write_bytes(content.replace(b"0", b"1", 1) if b"0" in content else content[::-1])
    os.utime(target, ns=(stamp, stamp))
    second = ingest_to_manifest(seed_raw, out, max_bytes=MB)
    assert second.files_read >= 1
    docs, _ = as_rows(second)
    assert next(d for d in docs if d.document == target.name).text == ingest(seed_raw, max_bytes=MB).documents[
        [d.document for d in ingest(seed_raw, max_bytes=MB).documents].index(target.name)
    ].text


def test_a_new_size_limit_reads_everything_again(seed_raw: Path, tmp_path: Path) -> None:
    age(seed_raw)
    out = tmp_path / "ingest"
    ingest_to_manifest(seed_raw, out, max_bytes=MB)
    again = ingest_to_manifest(seed_raw, out, max_bytes=MB - 1)
    assert again.files_reused == 0 and again.files_read > 0


@pytest.mark.parametrize("workers", [1])
def test_manifest_ingest_handles_html_pdf_and_docx(tmp_path: Path, workers: int) -> None:
    from tests.builders import make_docx, make_pdf

    raw = tmp_path / "raw"
    raw.mkdir()
    (raw / "a.html").write_text("<html><head><title>T</title></head><body><p>Police recorded 1,234 offences of "
                                "sexual communication with a child in 2023.</p></body></html>")
    (raw / "b.pdf").write_bytes(make_pdf(["Police recorded 2,345 offences in 2023."]))
    (raw / "c.docx").write_bytes(make_docx(["Police recorded 3,456 offences in 2023."]))
    age(raw)
    out = tmp_path / "ingest"
    first = ingest_to_manifest(raw, out, max_bytes=MB, workers=workers)
    second = ingest_to_manifest(raw, out, max_bytes=MB, workers=workers)
    assert second.files_read == 0
    full = ingest(raw, max_bytes=MB, workers=workers)
    assert as_rows(first) == as_rows(second) == (full.documents, full.rejected)
