"""Identity oracle for extractor refactors: dump everything the extractor says, to diff before/after.

For every document of the shared corpora (seeds, dev, dev2), read as a bare file and again with
its manifest metadata (title, date, outlet, url from index.jsonl or data/raw/sources.csv), and for
``--mixes`` documents made by shuffling those documents' paragraphs and sentences with a fixed
seed, it writes every mention row, every fact row and the ``explain`` text, one JSON line each.
The ``extractor_version`` column is masked: it hashes the extractor's code, so it changes with
any edit by design. A refactor that keeps behaviour leaves the dump byte-identical::

    .venv/bin/python benchmarks/oracle.py > /tmp/before.jsonl   # on the parent commit
    .venv/bin/python benchmarks/oracle.py > /tmp/after.jsonl    # on the change
    cmp /tmp/before.jsonl /tmp/after.jsonl
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.documents import Document, read_document  # noqa: E402

try:  # commits before the extractor package had its entry points in pipeline.facts
    from pipeline.facts import explain, extract_document  # type: ignore[import-not-found]
except ImportError:
    from pipeline.extractor import explain, extract_document

CORPORA = REPO.parent.parent / "shared" / "corpus"
DEFAULT_CORPORA = Path("/work/shared/corpus")
NAMES = ("seeds", "dev", "dev2")


def _metadata(folder: Path) -> dict[str, dict[str, str | None]]:
    """Manifest metadata per file name: index.jsonl of the corpus, else the seeds' data/raw/sources.csv."""
    index = folder / "index.jsonl"
    if index.exists():
        rows = [json.loads(line) for line in index.read_text(encoding="utf-8").splitlines() if line.strip()]
        return {r["file"]: {k: r.get(k) for k in ("url", "outlet", "title", "published")} for r in rows}
    sources = REPO / "data" / "raw" / "sources.csv"
    if sources.exists():
        with sources.open(newline="", encoding="utf-8") as fh:
            return {r["file"]: {k: (r.get(k) or None) for k in ("url", "outlet", "title", "published")} for r in csv.DictReader(fh)}
    return {}


def _with_meta(doc: Document, meta: dict[str, str | None]) -> Document:
    published = meta.get("published")
    return replace(
        doc,
        document="meta/" + doc.document,
        url=meta.get("url"),
        outlet=meta.get("outlet"),
        title=meta.get("title"),
        published=date.fromisoformat(published[:10]) if published else None,
    )


def corpus_documents(root: Path) -> list[Document]:
    docs = []
    for name in NAMES:
        folder = root / name
        meta = _metadata(folder)
        for path in sorted(folder.iterdir()):
            if path.name in {"gold.jsonl", "index.jsonl", "sources.csv"} or path.name.startswith("."):
                continue
            doc = read_document(path, document=f"{name}/{path.name}")
            docs.append(doc)
            if path.name in meta:
                docs.append(_with_meta(doc, meta[path.name]))
    return docs


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'‘“(])")


def mixes(docs: list[Document], n: int, seed: int) -> Iterator[Document]:
    """``n`` documents made of the corpora's paragraphs or sentences in a seeded random order."""
    rng = random.Random(seed)
    bases = [d for d in docs if not d.document.startswith("meta/")]
    dated = [d for d in docs if d.document.startswith("meta/")]
    paragraphs = [p for d in bases for p in re.split(r"\n\s*\n", d.text) if p.strip()]
    sentences = [s for p in paragraphs for s in _SENTENCE_END.split(p) if s.strip()]
    for i in range(n):
        kind = i % 3
        if kind == 0:  # whole paragraphs from several documents
            text = "\n\n".join(rng.sample(paragraphs, rng.randint(2, 8)))
        elif kind == 1:  # sentences run together into paragraphs
            picked = rng.sample(sentences, rng.randint(3, 25))
            text = "\n\n".join(" ".join(picked[j : j + 4]) for j in range(0, len(picked), 4))
        else:  # one document's paragraphs reordered, with a stranger's paragraph inserted
            own = [p for p in re.split(r"\n\s*\n", rng.choice(bases).text) if p.strip()]
            rng.shuffle(own)
            own.insert(rng.randint(0, len(own)), rng.choice(paragraphs))
            text = "\n\n".join(own)
        sha = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        doc = Document(document=f"mix/{i:04d}.txt", sha256=sha, bytes=len(text.encode()), media_type="text/plain", text=text)
        if rng.random() < 0.5 and dated:
            donor = rng.choice(dated)
            doc = replace(doc, published=donor.published, title=donor.title, outlet=donor.outlet, url=donor.url)
        yield doc


def _encode(row: dict[str, object]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, default=str)


def dump(doc: Document, out) -> None:  # type: ignore[no-untyped-def]
    result = extract_document(doc)
    for m in result.mentions:
        out.write("M " + _encode(m.to_row(doc.document)) + "\n")
    for f in result.facts:
        row = f.to_row()
        row["extractor_version"] = "*"
        out.write("F " + _encode(row) + "\n")
    out.write("E " + json.dumps(explain(doc), ensure_ascii=False) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpora", type=Path, default=CORPORA if CORPORA.is_dir() else DEFAULT_CORPORA)
    parser.add_argument("--mixes", type=int, default=300)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    docs = corpus_documents(args.corpora)
    out = sys.stdout
    for doc in docs:
        dump(doc, out)
    for doc in mixes(docs, args.mixes, args.seed):
        dump(doc, out)
    print(f"oracle: {len(docs)} corpus documents, {args.mixes} mixes (seed {args.seed})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
