"""Benchmark corpora: the seed and dev documents replicated, each copy with distinct content.

Every copy gets one trailing line, ``Benchmark copy <code>``, where the code spells the copy's
index in letters ("baaa"). Letters rather than digits keep the line from adding a number
mention, so a copy costs the extractor what its original costs; the line makes every copy's
sha256 different, so neither ingest's duplicate detection nor the extraction cache can
short-circuit the end-to-end run. The line goes at the end, not the top, so that the title,
the lead sentences and the publication date the extractor reads are those of the original.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# The eval corpora, not data/raw, so the benchmark corpus stays the same when data/raw grows.
SEED_DIR = REPO / "eval" / "seeds"
SEED_MANIFEST = REPO / "data" / "raw" / "sources.csv"  # the seeds' titles and dates
DEV_DIR = REPO / "eval" / "dev"
MANIFEST_COLUMNS = ("file", "url", "outlet", "title", "published")


@dataclass(frozen=True)
class Original:
    name: str
    raw: bytes
    meta: dict[str, str]  # sources.csv columns but "file"


def _seed_meta() -> dict[str, dict[str, str]]:
    path = SEED_MANIFEST
    if not path.exists():
        return {}
    with path.open(newline="", encoding="utf-8") as fh:
        return {row["file"]: {c: row.get(c) or "" for c in MANIFEST_COLUMNS[1:]} for row in csv.DictReader(fh)}


def _dev_meta() -> dict[str, dict[str, str]]:
    path = DEV_DIR / "index.jsonl"
    if not path.exists():
        return {}
    out = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            out[row["file"]] = {c: row.get(c) or "" for c in MANIFEST_COLUMNS[1:]}
    return out


def load_originals() -> tuple[list[Original], str]:
    """The documents to replicate, and a note saying which folders they came from."""
    originals = []
    meta = _seed_meta()
    for path in sorted(SEED_DIR.glob("*.txt")):
        originals.append(Original(path.name, path.read_bytes(), meta.get(path.name, {})))
    note = f"{len(originals)} seed documents from eval/seeds"
    if DEV_DIR.is_dir():
        meta = _dev_meta()
        dev = [Original(p.name, p.read_bytes(), meta.get(p.name, {})) for p in sorted(DEV_DIR.glob("*.txt"))]
        originals += dev
        note += f" + {len(dev)} dev documents from eval/dev"
    else:
        note += f"; {DEV_DIR} is absent, so the seeds only"
    if not originals:
        raise SystemExit(f"benchmarks: no *.txt documents in {SEED_DIR}")
    return originals, note


def copy_code(index: int) -> str:
    """0 -> 'aaaa', 1 -> 'aaab': the copy index in letters (no digits, so no number mention)."""
    letters = []
    for _ in range(4):
        index, r = divmod(index, 26)
        letters.append(chr(ord("a") + r))
    if index:
        raise ValueError("more than 26**4 copies")
    return "".join(reversed(letters))


def make_copy(originals: list[Original], index: int) -> tuple[str, bytes, Original]:
    """File name and content of copy ``index`` (the originals are taken in turn)."""
    original = originals[index % len(originals)]
    raw = original.raw.rstrip(b"\n") + f"\n\nBenchmark copy {copy_code(index)}\n".encode()
    return f"c{index:05d}-{original.name}", raw, original


def _fresh(folder: Path) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)


def build_extract_corpus(folder: Path, originals: list[Original], min_bytes: int, parts: int) -> list[Path]:
    """At least ``min_bytes`` of copies, spread over ``parts`` sub-folders; returns the sub-folders."""
    _fresh(folder)
    dirs = [folder / f"part-{i:02d}" for i in range(parts)]
    for d in dirs:
        d.mkdir()
    total = index = 0
    per_set = sum(len(o.raw) for o in originals)
    n_files = len(originals) * (-(-min_bytes // per_set))  # whole sets of originals, rounded up
    per_part = -(-n_files // parts)
    while total < min_bytes or index % len(originals):
        name, raw, _ = make_copy(originals, index)
        (dirs[min(index // per_part, parts - 1)] / name).write_bytes(raw)
        total += len(raw)
        index += 1
    return dirs


def build_raw_folder(folder: Path, originals: list[Original], n_docs: int) -> None:
    """A raw folder of ``n_docs`` copies with a sources.csv describing each (as a user would keep it)."""
    _fresh(folder)
    rows = []
    for index in range(n_docs):
        name, raw, original = make_copy(originals, index)
        (folder / name).write_bytes(raw)
        rows.append({"file": name, **original.meta})
    _write_manifest(folder, rows)


def add_document(folder: Path, originals: list[Original], index: int) -> str:
    """Add copy ``index`` to a raw folder and its sources.csv row; returns its file name."""
    name, raw, original = make_copy(originals, index)
    (folder / name).write_bytes(raw)
    with (folder / "sources.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.DictWriter(fh, MANIFEST_COLUMNS).writerow({"file": name, **original.meta})
    return name


def _write_manifest(folder: Path, rows: list[dict[str, str]]) -> None:
    with (folder / "sources.csv").open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, MANIFEST_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def files_under(folders: list[Path]) -> list[Path]:
    return sorted(p for d in folders for p in d.iterdir() if p.is_file())


def build_archive(folder: Path, originals: list[Original], n_docs: int, per_folder: int = 10_000) -> list[Path]:
    """An archive of ``n_docs`` distinct copies in sub-folders of ``per_folder`` (part-00, part-01, ...),
    with a sources.csv at the top describing each; returns the sub-folders."""
    _fresh(folder)
    rows = []
    parts: list[Path] = []
    for index in range(n_docs):
        if index % per_folder == 0:
            parts.append(folder / f"part-{index // per_folder:02d}")
            parts[-1].mkdir()
        name, raw, original = make_copy(originals, index)
        (parts[-1] / name).write_bytes(raw)
        rows.append({"file": f"{parts[-1].name}/{name}", **original.meta})
    _write_manifest(folder, rows)
    return parts


def link_archive(source: Path, folder: Path, parts: list[Path]) -> None:
    """A raw folder holding the given sub-folders of an archive as hard links (no copy), and their
    sources.csv rows."""
    _fresh(folder)
    names = {p.name for p in parts}
    for part in parts:
        (folder / part.name).mkdir()
        for file in part.iterdir():
            os.link(file, folder / part.name / file.name)
    with (source / "sources.csv").open(newline="", encoding="utf-8") as fh:
        rows = [row for row in csv.DictReader(fh) if row["file"].split("/", 1)[0] in names]
    _write_manifest(folder, rows)


def add_archive_document(folder: Path, part: str, originals: list[Original], index: int) -> str:
    """Add copy ``index`` to sub-folder ``part`` of an archive, with its sources.csv row; returns its path."""
    name, raw, original = make_copy(originals, index)
    (folder / part / name).write_bytes(raw)
    with (folder / "sources.csv").open("a", newline="", encoding="utf-8") as fh:
        csv.DictWriter(fh, MANIFEST_COLUMNS).writerow({"file": f"{part}/{name}", **original.meta})
    return f"{part}/{name}"
