"""In-process yardsticks for extraction throughput, and a flat profile of the extractor.

* quantulum3, the usual quantity extractor, on a sample of the corpus (it is too slow for all
  of it). It runs without its scikit-learn classifier (not installed here) and never touches
  the network: its unit and entity data ship in the wheel.
* the regex floor: ``re.finditer(r"\\d[\\d,.]*", text)`` over every file, the least any pass
  over the text can do. Timed with reading and decoding the files (as the pipeline's figure
  includes them) and without (the scan alone).
* the pipeline's own ``extract_document`` on the quantulum3 sample, in-process, so the
  comparison with quantulum3 can also be read like for like.
"""

from __future__ import annotations

import cProfile
import pstats
import re
import time
import warnings
from pathlib import Path
from typing import Any

FLOOR_RE = re.compile(r"\d[\d,.]*")
REGEX_METHODS = {"search", "match", "fullmatch", "finditer", "findall", "sub", "split"}


def sample(paths: list[Path], target_bytes: int) -> list[Path]:
    """The first files (in corpus order, so every original is represented) up to ``target_bytes``."""
    out, total = [], 0
    for p in paths:
        if total >= target_bytes:
            break
        out.append(p)
        total += p.stat().st_size
    return out


def regex_floor(paths: list[Path]) -> dict[str, Any]:
    started = time.perf_counter()
    texts = [p.read_bytes().decode("utf-8") for p in paths]
    read_s = time.perf_counter() - started
    started = time.perf_counter()
    numbers = 0
    for text in texts:
        for _ in FLOOR_RE.finditer(text):
            numbers += 1
    scan_s = time.perf_counter() - started
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    return {
        "pattern": FLOOR_RE.pattern,
        "documents": len(paths),
        "bytes": n_bytes,
        "numbers": numbers,
        "read_s": read_s,
        "scan_s": scan_s,
        "with_read_s": read_s + scan_s,
    }


def quantulum(paths: list[Path]) -> dict[str, Any]:
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Classifier dependencies not installed"
        import quantulum3
        from quantulum3 import classifier, parser
    import_s = time.perf_counter() - started
    texts = [p.read_text(encoding="utf-8") for p in paths]
    parser.parse(texts[0])  # first call loads its unit tables; not counted
    started = time.perf_counter()
    quantities = sum(len(parser.parse(t)) for t in texts)
    parse_s = time.perf_counter() - started
    return {
        "version": getattr(quantulum3, "__version__", "?"),
        "classifier": bool(getattr(classifier, "USE_CLF", False)),
        "documents": len(texts),
        "bytes": sum(len(t.encode("utf-8")) for t in texts),
        "quantities": quantities,
        "import_s": import_s,
        "parse_s": parse_s,
    }


def pipeline_in_process(paths: list[Path]) -> dict[str, Any]:
    """read_document + extract_document, warm (taxonomy and gazetteers loaded before timing)."""
    from pipeline.documents import read_document
    from pipeline.extractor import extract_document
    from pipeline.metadata.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    extract_document(read_document(paths[0]), taxonomy)
    started = time.perf_counter()
    facts = mentions = 0
    for p in paths:
        result = extract_document(read_document(p), taxonomy)
        facts += len(result.facts)
        mentions += len(result.mentions)
    return {
        "documents": len(paths),
        "bytes": sum(p.stat().st_size for p in paths),
        "facts": facts,
        "mentions": mentions,
        "seconds": time.perf_counter() - started,
    }


def copies_extract_like_originals(originals: list[tuple[str, bytes]], copies: list[Path]) -> bool:
    """Whether each copy (original + the trailing copy line) gives the same facts as its original."""
    from pipeline.documents import document_from_bytes, read_document
    from pipeline.extractor import extract_document
    from pipeline.metadata.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()

    def facts(doc: Any) -> list[tuple[Any, ...]]:
        return [
            (f.platform, f.count, f.share, f.year, f.region, f.offence, f.source, f.quote, f.char_start, f.char_end)
            for f in extract_document(doc, taxonomy).facts
        ]

    return all(
        facts(document_from_bytes(raw, document=name)) == facts(read_document(copy))
        for (name, raw), copy in zip(originals, copies, strict=True)
    )


def profile_extractor(paths: list[Path], top: int = 12) -> list[dict[str, Any]]:
    """Where extract_document spends its time, by pipeline function.

    ``self_pct``: time in the function's own code plus the regex calls it makes directly
    (``pattern.search`` etc. are C functions, so a plain profile would list them apart from
    the code that runs them); ``cumulative_pct`` includes everything it calls. Both are
    shares of the total time in extract_document, under cProfile (which slows pure-Python
    code more than regex matching, so regex shares read a little low).
    """
    from pipeline.documents import read_document
    from pipeline.extractor import extract_document
    from pipeline.metadata.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    docs = [read_document(p) for p in paths]
    extract_document(docs[0], taxonomy)
    profiler = cProfile.Profile()
    profiler.enable()
    for doc in docs:
        extract_document(doc, taxonomy)
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]

    def label(func: tuple[str, int, str]) -> str:
        file, line, name = func
        return f"{Path(file).parent.name}/{Path(file).name}:{line} {name}" if "/pipeline/" in file else name

    own: dict[tuple[str, int, str], float] = {}
    total = 0.0
    for func, (_, _, tottime, cumtime, callers) in stats.items():
        if func[2] == "extract_document" and func[0].endswith("extractor/document.py"):
            total = cumtime
        if "/pipeline/" in func[0]:
            own[func] = own.get(func, 0.0) + tottime
        elif func[0] == "~" and any(m in func[2] for m in REGEX_METHODS) and "re.Pattern" in func[2]:
            for caller, (_, _, caller_tt, _) in callers.items():
                if "/pipeline/" in caller[0]:
                    own[caller] = own.get(caller, 0.0) + caller_tt
    if not total:
        return []
    rows = [
        {
            "function": label(func),
            "self_pct": round(100 * t / total, 1),
            "cumulative_pct": round(100 * stats[func][3] / total, 1),
        }
        for func, t in own.items()
    ]
    rows.sort(key=lambda r: -r["self_pct"])
    return rows[:top]


def pyinstrument_tree(paths: list[Path], out: Path) -> bool:
    """A call tree of the same run from pyinstrument, if it is installed (``--profile``)."""
    try:
        from pyinstrument import Profiler
    except ImportError:
        return False
    from pipeline.documents import read_document
    from pipeline.extractor import extract_document
    from pipeline.metadata.taxonomy import load_taxonomy

    taxonomy = load_taxonomy()
    docs = [read_document(p) for p in paths]
    extract_document(docs[0], taxonomy)
    profiler = Profiler(interval=0.0005)
    profiler.start()
    for doc in docs:
        extract_document(doc, taxonomy)
    profiler.stop()
    out.write_text(profiler.output_text(unicode=True, show_all=False))
    return True
