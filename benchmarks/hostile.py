"""The worst-case documents of issue 16: what each one costs `pipeline extract`, time and memory.

Each case is built here (the builders the tests use) and run as its own `python -m pipeline extract
FILE` process, measured by procwatch: wall time, CPU time and peak RSS of the process tree. A case
the limits reject still costs the reading up to the limit, which is what is measured. Part of
`make bench` (run.py writes the figures under "hostile" in results.json); `python benchmarks/hostile.py`
runs it alone and prints the table.
"""

from __future__ import annotations

import shutil
import sys
from datetime import UTC
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(1, str(REPO))
sys.path.insert(1, str(REPO / "tests"))

import procwatch  # noqa: E402
from builders import make_docx_bomb, make_shared_stream_pdf  # noqa: E402

TOPIC = "Police recorded {} offences of sexual communication with a child on Instagram in 2023, the NSPCC said."
LINE = "Police recorded 1,234 offences of grooming on Facebook and Instagram in 2023 "


def cases() -> dict[str, bytes]:
    """file name -> content: the documents that used to crash, hang or blow up a run."""
    deep = "<html><body>" + "<div>" * 3000 + f"<p>{TOPIC.format('4,567')}</p>" + "</div>" * 3000 + "</body></html>"
    return {
        "one line 2 MB.txt": (LINE * (2_000_000 // len(LINE) + 1))[:2_000_000].encode(),
        "DOCX bomb 200 MB unpacked.docx": make_docx_bomb(200_000_000),
        "DOCX 20 MB of text.docx": make_docx_bomb(20_000_000),
        "PDF 300 pages one shared stream.pdf": make_shared_stream_pdf(300, 20_000),
        "PDF 60 pages one shared stream.pdf": make_shared_stream_pdf(60, 2_000),
        "HTML 3000 levels deep.html": deep.encode(),
        "25-digit numbers.txt": "\n".join(TOPIC.format("1" * n) for n in (20, 25, 400) for _ in range(300)).encode(),
    }


def measure(work: Path) -> list[dict[str, Any]]:
    folder = work / "hostile"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    out = []
    for name, raw in cases().items():
        path = folder / name
        path.write_bytes(raw)
        m = procwatch.run([sys.executable, "-m", "pipeline", "extract", "-j", "1", str(path)], cwd=REPO, keep_stdout=False)
        out.append(
            {
                "document": name,
                "bytes": len(raw),
                "wall_s": m.wall_s,
                "cpu_s": m.cpu_s,
                "peak_tree_rss_mb": m.peak_tree_rss / 2**20,
                "max_process_rss_mb": m.max_process_rss / 2**20,
                "facts": m.stdout_lines,
                "outcome": (m.stderr.strip().splitlines() or ["read"])[-1][:160],
            }
        )
    shutil.rmtree(folder, ignore_errors=True)
    return out


# One endless sentence, one endless paragraph, and numbers, periods and names only.
LONG_UNITS = (
    LINE,
    "Police recorded 1,234 offences of grooming on Facebook. ",
    "NSPCC 2023/24 Snapchat 12% Kent ",
)


def linearity(small: int = 100_000, large: int = 800_000) -> list[dict[str, Any]]:
    """CPU time of extract_document on one long line of repeated text at two lengths, in this process.

    Extraction must be linear in text length: 8x the text should cost about 8x (quadratic would be 64x;
    a 2 MB line once took minutes). A timing, so it lives here and not in the tests.
    """
    import time

    from pipeline.documents import document_from_bytes
    from pipeline.extractor import extract_document, prepare

    prepare()

    def seconds(n: int, unit: str) -> float:
        doc = document_from_bytes((unit * (n // len(unit) + 1))[:n].encode(), document="long.txt")
        started = time.process_time()
        extract_document(doc)
        return time.process_time() - started

    out = []
    for unit in LONG_UNITS:
        t_small = min(seconds(small, unit) for _ in range(2))
        t_large = seconds(large, unit)
        out.append({"unit": unit.strip(), "small_chars": small, "large_chars": large, "small_cpu_s": t_small,
                    "large_cpu_s": t_large, "ratio": t_large / t_small if t_small else None})
    return out


def linearity_table(rows: list[dict[str, Any]]) -> str:
    lines = [f"  {'repeated unit':<60} {'100 KB s':>9} {'800 KB s':>9} {'ratio':>6}  (8 = linear, 64 = quadratic)"]
    for r in rows:
        lines.append(f"  {r['unit'][:60]:<60} {r['small_cpu_s']:>9.2f} {r['large_cpu_s']:>9.2f} {r['ratio'] or 0:>6.1f}")
    return "\n".join(lines)


def table(rows: list[dict[str, Any]]) -> str:
    lines = [f"  {'worst-case document':<38} {'size':>10} {'wall s':>7} {'CPU s':>6} {'peak MB':>8}  outcome"]
    for r in rows:
        lines.append(
            f"  {r['document']:<38} {r['bytes']:>10,} {r['wall_s']:>7.1f} {r['cpu_s']:>6.1f} {r['peak_tree_rss_mb']:>8.0f}  "
            f"{r['facts']} facts; {r['outcome']}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    import json
    from datetime import datetime

    rows = measure(HERE / "work")
    print(table(rows))
    linear = linearity()
    print(linearity_table(linear))
    if "--update-results" in sys.argv:  # record these figures in results.json without the 3-minute rest
        results_path = HERE / "results.json"
        results = json.loads(results_path.read_text())
        results["hostile"] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "documents": rows,
                              "linearity": linear}
        results_path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
