"""``make bench``: extraction throughput, end to end over 10,000 documents, and one added document.

Prints a table and writes benchmarks/results.json (figures, goals, pass/fail, machine).
``--quick`` runs a small version (5 MiB, 1,000 documents) for checking the harness; it writes
benchmarks/work/results-quick.json instead. See benchmarks/README.md for the method.

1. Extraction: ``python -m pipeline extract`` over >= 50 MiB of replicated seed and dev
   documents, timed as one whole process (start-up and file reading included), stdout
   counted and dropped. The corpus is split into a few folders that are passed on one command
   line: the CLI walks folders, so the OS argument-length limit never applies, and one
   process is what a user would run. quantulum3 and a bare regex scan are measured
   in-process (benchmarks/peers.py).
2. End to end: ``python -m pipeline run --quiet`` on 10,000 documents with fresh curated
   and DAGSTER_HOME folders under benchmarks/work/; wall time and peak RSS of the process tree.
3. Incremental: one document added to that folder (and to its sources.csv), run again.
   Dagster's start-up is measured as a run over a one-document folder with nothing to do.
4. Worst-case documents (benchmarks/hostile.py): time and peak memory of each hostile document
   of issue 16 (bombs, a 2 MB line, deep HTML, huge numbers), one extract process each.
5. Report: ``python -m pipeline report --out ...`` on the database of the 10,000-document run
   (no pipeline run): wall time, peak RSS, pages and bytes of the site. ``--report-only``
   builds the 10,000-document folder, runs the pipeline once and measures only this.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORK = HERE / "work"
CORPUS = HERE / "corpus"
sys.path.insert(1, str(REPO))

import corpus_builder  # noqa: E402
import hostile  # noqa: E402
import peers  # noqa: E402
import procwatch  # noqa: E402

MB = 1_000_000  # figures are in decimal megabytes (MB/s); the corpus target is 50 MiB
# Runs of each side of the extraction ratios; the best of each is used (see extraction()).
EXTRACT_RUNS = 2
FLOOR_RUNS = 3
QUANTULUM_RUNS = 2


@dataclass(frozen=True)
class Scale:
    extract_bytes: int
    extract_parts: int
    e2e_documents: int
    sample_bytes: int  # quantulum3 and the in-process profile
    archive_sizes: tuple[int, ...]  # full runs over archives of these sizes; the last gets the no-op and one-document runs
    archive_folder: int  # documents per sub-folder of the archive


FULL = Scale(
    extract_bytes=50 * 2**20, extract_parts=8, e2e_documents=10_000, sample_bytes=240_000,
    archive_sizes=(10_000, 30_000, 100_000), archive_folder=10_000,
)
QUICK = Scale(
    extract_bytes=5 * 2**20, extract_parts=4, e2e_documents=1_000, sample_bytes=60_000,
    archive_sizes=(1_000, 3_000, 10_000), archive_folder=1_000,
)

GOALS = {
    "extract_vs_quantulum3": (">=", 100.0, "extraction throughput at least 100x quantulum3's"),
    "regex_floor_vs_extract": ("<=", 10.0, "extraction within 10x of the regex floor (floor MB/s / pipeline MB/s)"),
    "e2e_wall_s": ("<=", 180.0, "10,000 documents end to end in under 3 minutes"),
    "e2e_peak_rss_mb": ("<=", 2000.0, "end-to-end peak RSS (process tree) under 2 GB"),
    "incremental_re_extracted": ("==", 1, "adding one document re-extracts only that document"),
    "incremental_minus_startup_s": ("<=", 15.0, "adding one document: under 15 s plus Dagster's start-up"),
    "archive_full_wall_s": ("<=", 300.0, "the largest archive (100,000 documents) from scratch in under 5 minutes"),
    "archive_peak_rss_mb": ("<=", 1500.0, "peak memory (process tree) of that run under 1.5 GB"),
    "archive_peak_vs_smallest": ("<=", 1.25, "that peak within 1.25x of the smallest archive's (10,000 documents)"),
    "archive_noop_s": ("<=", 10.0, "a run with nothing to do on the largest archive in under 10 s"),
    "archive_one_document_s": ("<=", 20.0, "one added document on the largest archive in under 20 s"),
    "bench_wall_s": ("<=", 900.0, "make bench in under 15 minutes"),
}


def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def pipeline_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "pipeline", *args]


def clean_env(**overrides: str) -> dict[str, str]:
    """The caller's environment without PIPELINE_* / DAGSTER_HOME, plus ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPELINE_") and k != "DAGSTER_HOME"}
    env.update(overrides)
    return env


def git_info() -> dict[str, Any]:
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=30).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "pipeline_dirty": bool(git("status", "--porcelain", "--", "pipeline")),
    }


def machine_info() -> dict[str, Any]:
    import psutil

    cpu = ""
    with contextlib.suppress(OSError):
        cpu = next(
            (
                line.split(":", 1)[1].strip()
                for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")
            ),
            "",
        )
    return {
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "cpu": cpu,
        "memory_gb": round(psutil.virtual_memory().total / 1e9, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


# ---------------------------------------------------------------------------------------- extraction


def extraction(scale: Scale, originals: list[corpus_builder.Original]) -> dict[str, Any]:
    folder = CORPUS / "extract"
    log(f"building the extraction corpus ({scale.extract_bytes / MB:.1f} MB) in {folder.relative_to(REPO)}")
    started = time.perf_counter()
    parts = corpus_builder.build_extract_corpus(folder, originals, scale.extract_bytes, scale.extract_parts)
    files = corpus_builder.files_under(parts)
    n_bytes = sum(p.stat().st_size for p in files)
    build_s = time.perf_counter() - started

    # Start-up: one small file, best of three (the first also compiles any changed .pyc).
    one = [procwatch.run(pipeline_cmd("extract", str(files[0])), cwd=REPO, env=clean_env()) for _ in range(3)]
    startup_s = min(m.wall_s for m in one)

    # The machine is shared and its speed drifts, so each side of a ratio is its best of a few runs.
    log(
        f"python -m pipeline extract over {len(files):,} files in {len(parts)} folders "
        f"(one command, a worker per core; best of {EXTRACT_RUNS})"
    )
    extract_walls = []
    m: procwatch.Measured | None = None
    for _ in range(EXTRACT_RUNS):
        run = procwatch.run(pipeline_cmd("extract", *map(str, parts)), cwd=REPO, env=clean_env(), keep_stdout=False)
        if run.returncode != 0:
            raise SystemExit(f"pipeline extract failed ({run.returncode}):\n{run.stderr[-3000:]}")
        extract_walls.append(round(run.wall_s, 2))
        if m is None or run.wall_s < m.wall_s:
            m = run
    assert m is not None
    pipeline = {
        "command": "python -m pipeline extract " + " ".join(str(p.relative_to(REPO)) for p in parts) + " > (counted, dropped)",
        "documents": len(files),
        "bytes": n_bytes,
        "wall_s": round(m.wall_s, 2),
        "wall_s_of_each_run": extract_walls,
        "mb_per_s": n_bytes / MB / m.wall_s,
        "docs_per_s": len(files) / m.wall_s,
        "facts": m.stdout_lines,
        "facts_per_s": m.stdout_lines / m.wall_s,
        "max_rss_mb": round(m.max_process_rss / MB, 1),
        "startup_one_file_s": round(startup_s, 3),
        "cpu_s": round(m.cpu_s, 2),
        "cores_used": round(m.cpu_s / m.wall_s, 2),
        "mb_per_cpu_s": n_bytes / MB / m.cpu_s,
        "cpu_ms_per_doc": 1000 * m.cpu_s / len(files),
    }

    log(f"regex floor over the same files (best of {FLOOR_RUNS})")
    floors = [peers.regex_floor(files) for _ in range(FLOOR_RUNS)]
    floor = {**min(floors, key=lambda f: f["with_read_s"]), "with_read_s_of_each_run": [round(f["with_read_s"], 3) for f in floors]}
    sample = peers.sample(files, scale.sample_bytes)
    log(
        f"quantulum3 on a {sum(p.stat().st_size for p in sample) / 1000:.0f} KB sample ({len(sample)} documents; "
        f"best of {QUANTULUM_RUNS})"
    )
    quantulums = [peers.quantulum(sample) for _ in range(QUANTULUM_RUNS)]
    quantulum = {**min(quantulums, key=lambda q: q["parse_s"]), "parse_s_of_each_run": [round(q["parse_s"], 2) for q in quantulums]}
    log("pipeline in-process on the same sample, and a profile of it")
    in_process = peers.pipeline_in_process(sample)
    profile = peers.profile_extractor(sample)

    per_set = len(originals)
    sets = len(files) // per_set
    one_set = peers.pipeline_in_process(files[:per_set])
    q_rate = quantulum["bytes"] / MB / quantulum["parse_s"]
    floor_read_rate = floor["bytes"] / MB / floor["with_read_s"]
    floor_scan_rate = floor["bytes"] / MB / floor["scan_s"]
    in_rate = in_process["bytes"] / MB / in_process["seconds"]
    return {
        "corpus": {
            "folder": str(folder.relative_to(REPO)),
            "documents": len(files),
            "bytes": n_bytes,
            "copies_of_each_original": sets,
            "build_s": round(build_s, 1),
            "facts_as_expected": m.stdout_lines == sets * one_set["facts"],
            "copies_extract_like_originals": peers.copies_extract_like_originals(
                [(o.name, o.raw) for o in originals], files[:per_set]
            ),
            "facts_per_set_of_originals": one_set["facts"],
        },
        "pipeline": pipeline,
        "quantulum3": {
            **quantulum,
            "mb_per_s": q_rate,
            "docs_per_s": quantulum["documents"] / quantulum["parse_s"],
        },
        "regex_floor": {
            **floor,
            "mb_per_s_with_read": floor_read_rate,
            "mb_per_s_scan_only": floor_scan_rate,
            "docs_per_s_with_read": floor["documents"] / floor["with_read_s"],
        },
        "pipeline_in_process_on_sample": {
            **in_process,
            "mb_per_s": in_rate,
            "docs_per_s": in_process["documents"] / in_process["seconds"],
        },
        "ratios": {
            "extract_vs_quantulum3": pipeline["mb_per_s"] / q_rate,
            "extract_in_process_vs_quantulum3": in_rate / q_rate,
            "regex_floor_vs_extract": floor_read_rate / pipeline["mb_per_s"],
            "regex_scan_only_vs_extract": floor_scan_rate / pipeline["mb_per_s"],
        },
        "profile": profile,
    }


# ---------------------------------------------------------------------------------------- pipeline run

SUMMARY = {
    "run_s": re.compile(r"pipeline run: (\w+) in ([\d.]+)s"),
    "documents": re.compile(r"documents: (\d+) documents, (\d+) rejected"),
    "facts": re.compile(r"facts: (\d+) from (\d+) documents \(extractor ([^:]+): (\d+) re-extracted, (\d+) cached\)"),
    "checks": re.compile(r"checks: (\d+) of (\d+) passed"),
    "release": re.compile(r"release: (\S+) \((published|unchanged)"),
}


def parse_summary(text: str) -> dict[str, Any]:
    """The figures of the run summary printed by pipeline/defs/run.py."""
    out: dict[str, Any] = {}
    if m := SUMMARY["run_s"].search(text):
        out["status"], out["in_process_s"] = m.group(1), float(m.group(2))
    if m := SUMMARY["documents"].search(text):
        out["documents"], out["rejected"] = int(m.group(1)), int(m.group(2))
    if m := SUMMARY["facts"].search(text):
        out["facts"] = int(m.group(1))
        out["extractor_version"] = m.group(3)
        out["re_extracted"], out["cached"] = int(m.group(4)), int(m.group(5))
    if m := SUMMARY["checks"].search(text):
        out["checks_passed"], out["checks"] = int(m.group(1)), int(m.group(2))
    if m := SUMMARY["release"].search(text):
        out["release"], out["release_state"] = m.group(1), m.group(2)
    return out


def pipeline_run(name: str, home: Path, raw: Path) -> dict[str, Any]:
    env = clean_env(
        PIPELINE_RAW_DIR=str(raw), PIPELINE_CURATED_DIR=str(home / "curated"), DAGSTER_HOME=str(home / "dagster_home")
    )
    m = procwatch.run(pipeline_cmd("run", "--quiet"), cwd=REPO, env=env)
    summary = parse_summary(m.stdout)
    if m.returncode != 0 or summary.get("status") != "done":
        raise SystemExit(f"{name}: pipeline run failed ({m.returncode}):\n{m.stdout[-3000:]}\n{m.stderr[-3000:]}")
    return {
        "wall_s": round(m.wall_s, 2),
        "peak_tree_rss_mb": round(m.peak_tree_rss / MB, 1),
        "peak_at": m.peak_at,
        "samples": m.samples,
        "max_process_rss_mb": round(m.max_process_rss / MB, 1),
        "max_processes": m.max_processes,
        **summary,
    }


def dagster_steps(home: Path) -> list[dict[str, Any]]:
    out = subprocess.run(
        [sys.executable, str(HERE / "dagster_steps.py"), str(home / "dagster_home")],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=clean_env(),
    )
    try:
        return json.loads(out.stdout)
    except json.JSONDecodeError:
        log(f"could not read step timings from {home}: {out.stderr[-500:]}")
        return []


def runs(scale: Scale, originals: list[corpus_builder.Original]) -> dict[str, Any]:
    # Dagster's start-up: a one-document folder, run twice; the second run has nothing to do.
    home = WORK / "startup"
    shutil.rmtree(home, ignore_errors=True)
    corpus_builder.build_raw_folder(home / "raw", originals, 1)
    log("Dagster start-up: python -m pipeline run on a one-document folder (twice)")
    first = pipeline_run("startup (fresh)", home, home / "raw")
    again = pipeline_run("startup (nothing to do)", home, home / "raw")

    home = WORK / "e2e"
    shutil.rmtree(home, ignore_errors=True)
    started = time.perf_counter()
    corpus_builder.build_raw_folder(home / "raw", originals, scale.e2e_documents)
    build_s = time.perf_counter() - started
    raw_bytes = sum(p.stat().st_size for p in (home / "raw").iterdir())
    log(f"end to end: python -m pipeline run --quiet on {scale.e2e_documents:,} documents")
    e2e = pipeline_run("end to end", home, home / "raw")
    added = corpus_builder.add_document(home / "raw", originals, scale.e2e_documents)
    log(f"incremental: added {added}, run again")
    incremental = pipeline_run("incremental", home, home / "raw")
    incremental["added"] = added

    steps = dagster_steps(home)
    if len(steps) == 2:
        for run, recorded in zip((e2e, incremental), steps, strict=True):
            run["steps_s"] = recorded["steps_s"]
            _where_the_peak_was(run, recorded["step_spans"])
    for run in (e2e, incremental, first, again):
        del run["peak_at"]
        run.pop("samples", None)
    startup_steps = dagster_steps(WORK / "startup")
    if len(startup_steps) == 2:
        again["steps_s"] = startup_steps[1]["steps_s"]
    e2e["raw_folder"] = {"documents": scale.e2e_documents, "bytes": raw_bytes, "build_s": round(build_s, 1)}
    log(f"report: python -m pipeline report on the {scale.e2e_documents:,}-document database")
    report = report_build(home)
    e2e["docs_per_s"] = scale.e2e_documents / e2e["wall_s"]
    incremental["minus_startup_s"] = round(incremental["wall_s"] - again["wall_s"], 2)
    return {
        "dagster_startup": {"fresh_instance": first, "nothing_to_do": again},
        "end_to_end": e2e,
        "incremental": incremental,
        "report": report,
    }


REPORT_SUMMARY = re.compile(r"pipeline report: (\d+) pages, [\d.]+ MB, (\d+) statistics from (.+?), (\d+) documents, in ([\d.]+)s")


def report_build(home: Path, runs: int = 2) -> dict[str, Any]:
    """``pipeline report`` over the database in ``home/curated``, best of ``runs``; the site's pages and bytes."""
    out = home / "report-bench"
    env = clean_env(PIPELINE_CURATED_DIR=str(home / "curated"))
    measured = []
    for _ in range(runs):
        m = procwatch.run(pipeline_cmd("report", "--out", str(out)), cwd=REPO, env=env)
        found = REPORT_SUMMARY.search(m.stdout)
        if m.returncode != 0 or not found:
            raise SystemExit(f"pipeline report failed ({m.returncode}):\n{m.stdout[-2000:]}\n{m.stderr[-2000:]}")
        measured.append((m.wall_s, m.peak_tree_rss, found))
    wall, rss, found = min(measured, key=lambda x: x[0])
    files = [p for p in out.rglob("*") if p.is_file()]
    return {
        "wall_s": round(wall, 2),
        "wall_s_of_each_run": [round(w, 2) for w, _, _ in measured],
        "build_s": float(found.group(5)),  # inside the process, without Python's start-up
        "peak_tree_rss_mb": round(rss / MB, 1),
        "pages": len(files),
        "bytes": sum(p.stat().st_size for p in files),
        "statistics": int(found.group(2)),
        "documents": int(found.group(4)),
        "statistics_from": found.group(3),
        "largest_page_bytes": max(p.stat().st_size for p in files),
    }


def _where_the_peak_was(run: dict[str, Any], spans: dict[str, list[float]]) -> None:
    """Set the step of the run's memory peak and the peak of the process tree during each step (MB)."""
    run["peak_rss_during"] = _step_at(spans, run["peak_at"])
    peaks: dict[str, float] = {}
    for when, rss in run.get("samples", []):
        step = _step_at(spans, when)
        if step in spans:
            peaks[step] = max(peaks.get(step, 0.0), round(rss / MB, 1))
    run["peak_mb_by_step"] = peaks


def _step_at(spans: dict[str, list[float]], when: float) -> str:
    """The step running at ``when`` (the memory peak), or where the run was between steps."""
    for step, (a, b) in spans.items():
        if a <= when <= b:
            return step
    if spans and when < min(a for a, _ in spans.values()):
        return "start-up (before the first step)"
    if spans and when > max(b for _, b in spans.values()):
        return "after the last step"
    return "between steps"


# ---------------------------------------------------------------------------------------- archive


def archive(scale: Scale, originals: list[corpus_builder.Original]) -> dict[str, Any]:
    """Full runs over archives of growing size (the smaller ones hard links of the largest's first
    sub-folders), then on the largest a run with nothing to do and a run with one added document."""
    base = WORK / "archive"
    shutil.rmtree(base, ignore_errors=True)
    largest = max(scale.archive_sizes)
    source = base / f"raw-{largest}"
    log(f"archive: writing {largest:,} distinct documents in sub-folders of {scale.archive_folder:,}")
    started = time.perf_counter()
    parts = corpus_builder.build_archive(source, originals, largest, scale.archive_folder)
    build_s = time.perf_counter() - started
    out: dict[str, Any] = {"build_s": round(build_s, 1), "bytes": sum(f.stat().st_size for p in parts for f in p.iterdir()), "full": {}}
    for size in scale.archive_sizes:
        raw = source
        if size != largest:
            raw = base / f"raw-{size}"
            corpus_builder.link_archive(source, raw, parts[: size // scale.archive_folder])
        home = base / f"run-{size}"
        log(f"archive: python -m pipeline run --quiet on {size:,} documents (fresh cache and database)")
        run = pipeline_run(f"archive {size}", home, raw)
        steps = dagster_steps(home)
        if steps:
            run["steps_s"] = steps[-1]["steps_s"]
            _where_the_peak_was(run, steps[-1]["step_spans"])
        del run["peak_at"]
        run.pop("samples", None)
        run["database_bytes"] = (home / "curated" / "stats.duckdb").stat().st_size
        out["full"][str(size)] = run
        if size != largest:
            shutil.rmtree(home, ignore_errors=True)  # (the disk holds one large run at a time)
            shutil.rmtree(raw, ignore_errors=True)
    home = base / f"run-{largest}"
    log(f"archive: nothing to do, {largest:,} documents")
    noop = pipeline_run("archive no-op", home, source)
    added = corpus_builder.add_archive_document(source, parts[-1].name, originals, largest)
    log(f"archive: one document added ({added}), run again")
    one = pipeline_run("archive one document", home, source)
    one["added"] = added
    steps = dagster_steps(home)
    for run, recorded in zip((noop, one), steps[-2:], strict=False):
        run["steps_s"] = recorded["steps_s"]
        _where_the_peak_was(run, recorded["step_spans"])
    for run in (noop, one):
        run.pop("peak_at", None)
        run.pop("samples", None)
    release = home / "curated" / "releases" / "latest"
    full = out["full"][str(largest)]
    out.update(
        noop=noop,
        one_document=one,
        release={
            "seconds": full.get("steps_s", {}).get("release"),
            "bytes": sum(f.stat().st_size for f in release.resolve().iterdir()) if release.exists() else None,
        },
        report={
            "seconds": full.get("steps_s", {}).get("report"),
            "bytes": sum(f.stat().st_size for f in (home / "curated" / "report").rglob("*") if f.is_file())
            if (home / "curated" / "report").is_dir() else None,
        },
    )
    smallest = out["full"][str(min(scale.archive_sizes))]
    out["peak_vs_smallest"] = full["peak_tree_rss_mb"] / smallest["peak_tree_rss_mb"]
    return out


# ---------------------------------------------------------------------------------------- report


def goals(results: dict[str, Any]) -> list[dict[str, Any]]:
    a = results["archive"]
    largest = a["full"][max(a["full"], key=int)]
    values: dict[str, Any] = {
        "archive_full_wall_s": largest["wall_s"],
        "archive_peak_rss_mb": largest["peak_tree_rss_mb"],
        "archive_peak_vs_smallest": a["peak_vs_smallest"],
        "archive_noop_s": a["noop"]["wall_s"],
        "archive_one_document_s": a["one_document"]["wall_s"],
        "bench_wall_s": results["bench_wall_s"],
    }
    if "extraction" in results:  # (not with --archive-only)
        x, e2e, inc = results["extraction"], results["end_to_end"], results["incremental"]
        values.update(
            extract_vs_quantulum3=x["ratios"]["extract_vs_quantulum3"],
            regex_floor_vs_extract=x["ratios"]["regex_floor_vs_extract"],
            e2e_wall_s=e2e["wall_s"],
            e2e_peak_rss_mb=e2e["peak_tree_rss_mb"],
            incremental_re_extracted=inc.get("re_extracted"),
            incremental_minus_startup_s=inc["minus_startup_s"],
        )
    out = []
    for key, (op, target, text) in GOALS.items():
        if key not in values:
            continue
        value = values[key]
        ok = value is not None and {"<=": value <= target, ">=": value >= target, "==": value == target}[op]
        out.append({"goal": key, "description": text, "target": f"{op} {target}", "value": _round(value), "pass": ok})
    return out


def _round(v: Any) -> Any:
    if not isinstance(v, float):
        return v
    return round(v, 1) if abs(v) >= 100 else float(f"{v:.4g}")


def _rounded(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return _round(obj)


STEP_NAMES = ("documents", "extractions", "database", "release", "report")


def _archive_lines(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    a = results["archive"]
    lines += ["", f"Archive (python -m pipeline run --quiet; {a['bytes'] / MB:.0f} MB at the largest size, written in {a['build_s']:.0f} s)"]
    for size, run in a["full"].items():
        steps = ", ".join(f"{k} {v:.0f}" for k, v in run.get("steps_s", {}).items() if k in STEP_NAMES)
        lines.append(
            f"  {int(size):>7,} documents, from scratch: wall {run['wall_s']:7.1f} s   peak RSS {run['peak_tree_rss_mb']:6.0f} MB"
            f" (in {run.get('peak_rss_during') or '?'})   database {run['database_bytes'] / MB:.0f} MB   ({steps})"
        )
        if peaks := run.get("peak_mb_by_step"):
            lines.append("           peak RSS by step (MB): " + ", ".join(f"{k} {v:.0f}" for k, v in peaks.items() if k in STEP_NAMES))
    for label, run in (("nothing to do", a["noop"]), ("one document added", a["one_document"])):
        steps = ", ".join(f"{k} {v:.1f}" for k, v in run.get("steps_s", {}).items() if k in STEP_NAMES)
        lines.append(
            f"  {label + ':':<27} wall {run['wall_s']:7.1f} s   peak RSS {run['peak_tree_rss_mb']:6.0f} MB"
            f" (in {run.get('peak_rss_during') or '?'})   re-extracted {run.get('re_extracted')}   ({steps})"
        )
    lines.append(
        f"  release at the largest size: {a['release']['seconds']} s, {(a['release']['bytes'] or 0) / MB:.0f} MB on disk; "
        f"report: {a['report']['seconds']} s, {(a['report']['bytes'] or 0) / MB:.0f} MB on disk; "
        f"peak vs the smallest archive: {a['peak_vs_smallest']:.2f}x"
    )
    return lines


def _goal_lines(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    lines += [
        "",
        "Goals" + (" (quick mode: smaller corpus; the goals are for the full run)" if results["mode"] == "quick" else ""),
    ]
    for g in results["goals"]:
        lines.append(f"  {'PASS' if g['pass'] else 'FAIL'}  {g['description']}: {g['value']} ({g['target']})")
    return lines




def table(results: dict[str, Any]) -> str:
    if "extraction" not in results:
        return "\n".join(_archive_lines(results) + _goal_lines(results))
    x = results["extraction"]
    p, q, f, ip = x["pipeline"], x["quantulum3"], x["regex_floor"], x["pipeline_in_process_on_sample"]
    r, e2e, inc = x["ratios"], results["end_to_end"], results["incremental"]
    st = results["dagster_startup"]
    rows = [
        ("Extraction throughput", "MB/s", "docs/s", "measured on"),
        (
            "pipeline extract (whole process)",
            f"{p['mb_per_s']:.3f}",
            f"{p['docs_per_s']:.0f}",
            f"{p['bytes'] / MB:.1f} MB, {p['documents']:,} docs, {p['wall_s']:.1f} s, {p['facts']:,} facts ({p['facts_per_s']:.0f}/s)",
        ),
        (
            "pipeline in-process (sample)",
            f"{ip['mb_per_s']:.3f}",
            f"{ip['docs_per_s']:.0f}",
            f"{ip['bytes'] / 1000:.0f} KB sample, extract_document only",
        ),
        (
            "quantulum3 in-process (sample)",
            f"{q['mb_per_s']:.4f}",
            f"{q['docs_per_s']:.1f}",
            f"{q['bytes'] / 1000:.0f} KB sample, classifier={'on' if q['classifier'] else 'off'}",
        ),
        (
            "regex floor, read+scan",
            f"{f['mb_per_s_with_read']:.1f}",
            f"{f['docs_per_s_with_read']:.0f}",
            f"{f['bytes'] / MB:.1f} MB, {f['numbers']:,} numbers, in-process",
        ),
        ("regex floor, scan only", f"{f['mb_per_s_scan_only']:.1f}", "", "texts already in memory"),
    ]
    lines = _columns(rows)
    lines += [
        "",
        f"  pipeline / quantulum3:          {r['extract_vs_quantulum3']:8.1f}x   (in-process, like for like: {r['extract_in_process_vs_quantulum3']:.1f}x)",
        f"  regex floor / pipeline:         {r['regex_floor_vs_extract']:8.1f}x   (scan only: {r['regex_scan_only_vs_extract']:.0f}x)",
        "  (each the best of its runs: pipeline extract "
        + ", ".join(f"{w:.1f}" for w in p.get("wall_s_of_each_run", [p["wall_s"]]))
        + " s; floor "
        + ", ".join(f"{w:.2f}" for w in f.get("with_read_s_of_each_run", [f["with_read_s"]]))
        + " s; quantulum3 "
        + ", ".join(f"{w:.1f}" for w in q.get("parse_s_of_each_run", [q["parse_s"]]))
        + " s)",
        f"  pipeline extract start-up:      {p['startup_one_file_s']:8.2f} s  (one small file)",
        (f"  pipeline extract CPU time:      {p['cpu_s']:8.1f} s  ({p['cores_used']:.2f} cores busy): "
        f"{p['cpu_ms_per_doc']:.2f} ms a document, {p['mb_per_cpu_s']:.2f} MB per CPU-second"),
        "",
        "End to end and incremental (python -m pipeline run --quiet)",
        (f"  {e2e['documents']:,} documents:           wall {e2e['wall_s']:7.1f} s   peak RSS {e2e['peak_tree_rss_mb']:7.0f} MB "
        f"(process tree; largest process {e2e['max_process_rss_mb']:.0f} MB; peak during {e2e.get('peak_rss_during', '?')})"),
        f"  {'':31} {e2e['facts']:,} facts, {e2e['re_extracted']:,} documents extracted, {e2e['docs_per_s']:.0f} documents/s overall",
        (f"  + 1 document:                   wall {inc['wall_s']:7.1f} s   re-extracted {inc['re_extracted']}, cached {inc['cached']:,}"
        f"   ({inc['minus_startup_s']:.1f} s over start-up)"),
        f"  Dagster start-up (1-doc, no-op): wall {st['nothing_to_do']['wall_s']:6.1f} s   (fresh instance: {st['fresh_instance']['wall_s']:.1f} s)",
        "",
        report_line(results["report"]),
    ]
    for label, run in (("end to end", e2e), ("incremental", inc)):
        if run.get("steps_s"):
            steps = ", ".join(
                f"{k} {v:.1f}" for k, v in run["steps_s"].items() if k in ("documents", "extractions", "database", "release", "report")
            )
            checks = sum(v for k, v in run["steps_s"].items() if k not in ("documents", "extractions", "database", "release", "report"))
            lines.append(f"    steps ({label}), s: {steps}, checks {checks:.1f}; in-process total {run['in_process_s']:.1f}")
    lines += _archive_lines(results) + _goal_lines(results)
    if x["profile"]:
        lines += ["", "Where extract_document spends its time (cProfile, share of total; self includes its direct regex calls)"]
        for row in x["profile"][:8]:
            lines.append(f"  {row['self_pct']:5.1f}% self  {row['cumulative_pct']:5.1f}% cum  {row['function']}")
    return "\n".join(lines)


def report_line(r: dict[str, Any]) -> str:
    return (
        f"Report (python -m pipeline report, {r['documents']:,} documents, {r['statistics']:,} statistics): wall {r['wall_s']:.1f} s "
        f"(build {r['build_s']:.1f} s), {r['pages']:,} pages, {r['bytes'] / MB:.1f} MB, largest page {r['largest_page_bytes'] / 1000:.0f} KB, "
        f"peak RSS {r['peak_tree_rss_mb']:.0f} MB"
    )


def report_only(scale: Scale, output: Path) -> int:
    """``--report-only``: the 10,000-document folder, one pipeline run, then the report measured alone."""
    originals, _ = corpus_builder.load_originals()
    home = WORK / "e2e"
    shutil.rmtree(home, ignore_errors=True)
    corpus_builder.build_raw_folder(home / "raw", originals, scale.e2e_documents)
    log(f"report only: python -m pipeline run --quiet on {scale.e2e_documents:,} documents, then pipeline report")
    run = pipeline_run("end to end", home, home / "raw")
    del run["peak_at"]
    results = _rounded({"date": datetime.now(UTC).isoformat(timespec="seconds"), "git": git_info(),
                        "machine": machine_info(), "end_to_end": run, "report": report_build(home)})
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(report_line(results["report"]))
    print(f"(the pipeline run, report step included: wall {run['wall_s']:.1f} s); results in {output}")
    return 0


def _columns(rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    out = []
    for n, r in enumerate(rows):
        cells = [r[0].ljust(widths[0]), r[1].rjust(widths[1]), r[2].rjust(widths[2]), r[3]]
        out.append("  ".join(cells))
        if n == 0:
            out.append("-" * (sum(widths) + 6 + 20))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small corpus, to check the harness (not the goals)")
    parser.add_argument("--profile", action="store_true", help="also save a pyinstrument tree to benchmarks/work/profile.txt")
    parser.add_argument("--output", type=Path, help="where to write the results JSON")
    parser.add_argument("--report-only", action="store_true", help="measure only the HTML report (10,000 documents)")
    parser.add_argument("--archive-only", action="store_true", help="only the archive runs (no extraction ratios, no 10,000-document runs)")
    args = parser.parse_args(argv)
    scale = QUICK if args.quick else FULL
    if args.report_only:
        return report_only(scale, args.output or WORK / ("results-report-quick.json" if args.quick else "results-report.json"))
    output = args.output or (
        WORK / "results-quick.json" if args.quick else WORK / "results-archive.json" if args.archive_only else HERE / "results.json"
    )

    started = time.perf_counter()
    WORK.mkdir(parents=True, exist_ok=True)
    originals, note = corpus_builder.load_originals()
    log(f"originals: {note}")
    results: dict[str, Any] = {
        "benchmark": "make bench (benchmarks/run.py)",
        "mode": "quick" if args.quick else "full",
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "git": git_info(),
        "originals": {"documents": len(originals), "bytes": sum(len(o.raw) for o in originals), "note": note},
    }
    if not args.archive_only:
        results["extraction"] = extraction(scale, originals)
        results.update(runs(scale, originals))
        log("worst-case documents (benchmarks/hostile.py)")
        results["hostile"] = {"date": datetime.now(UTC).isoformat(timespec="seconds"), "documents": hostile.measure(WORK),
                              "linearity": hostile.linearity()}
    results["archive"] = archive(scale, originals)
    if args.profile:
        sample = peers.sample(corpus_builder.files_under(sorted((CORPUS / "extract").iterdir())), scale.sample_bytes)
        if peers.pyinstrument_tree(sample, WORK / "profile.txt"):
            log(f"pyinstrument tree in {(WORK / 'profile.txt').relative_to(REPO)}")
        else:
            log("pyinstrument is not installed; --profile skipped")
    results["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["bench_wall_s"] = round(time.perf_counter() - started, 1)
    results["goals"] = goals(results)
    results = _rounded(results)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(table(results))
    if "hostile" in results:  # (not with --archive-only)
        print("\nWorst-case documents (issue 16), each one `pipeline extract -j 1 FILE` process\n" + hostile.table(results["hostile"]["documents"]))
    if results.get("hostile", {}).get("linearity"):
        print("\nOne long line of repeated text, extract_document CPU time\n" + hostile.linearity_table(results["hostile"]["linearity"]))
    print(
        f"\n{sum(g['pass'] for g in results['goals'])} of {len(results['goals'])} goals met; "
        f"bench took {results['bench_wall_s']:.0f} s; results in {output.relative_to(REPO) if output.is_relative_to(REPO) else output}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
