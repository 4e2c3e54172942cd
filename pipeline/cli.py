"""Command line: a thin shell over the stage modules.

Heavy imports (Dagster, DuckDB, pyarrow) happen inside the commands that need them,
so `pipeline extract` starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path


def _expand(paths: Sequence[str]) -> Iterator[tuple[Path, str]]:
    """Files named on the command line; a folder stands for every file below it."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for sub in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                if sub.name in {"sources.csv", "gold.jsonl", "index.jsonl"}:
                    continue
                yield sub, sub.relative_to(path).as_posix()
        else:
            yield path, path.name


def cmd_run(args: argparse.Namespace) -> int:
    import dataclasses

    from pipeline.config import Settings
    from pipeline.defs.run import run_pipeline

    settings = Settings.from_env()
    if args.allow_shrink:
        settings = dataclasses.replace(settings, allow_shrink=True)
    return run_pipeline(settings, progress=not args.quiet)


PARALLEL_MIN_FILES = 64  # below this, starting worker processes costs more than it saves
_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps builds a new one per call when given options


def _extract_file(item: tuple[Path, str]) -> tuple[str, str | None]:
    """(the file's facts as JSON Lines, None), or ("", the reason it could not be read). Runs in workers."""
    from pipeline.documents import DocumentError, read_document
    from pipeline.extractor import extract_document

    path, name = item
    try:
        doc = read_document(path, document=name)
    except (DocumentError, OSError) as exc:
        return "", f"pipeline extract: {path}: {exc}"
    lines = []
    for fact in extract_document(doc, audit=False).facts:
        row = fact.to_row()
        for key in ("period_start", "period_end"):  # dates as ISO strings: json's C encoder, no default hook
            if row[key] is not None:
                row[key] = row[key].isoformat()
        lines.append(_JSON.encode(row) + "\n")
    return "".join(lines), None


def _worker_count(n_files: int, requested: int) -> int:
    if requested > 0:
        return requested
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return cores if n_files >= PARALLEL_MIN_FILES else 1


def cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.extractor import prepare

    items = list(_expand(args.files))
    requested = args.workers
    if requested is None:
        from pipeline.config import whole_number

        requested = whole_number(
            os.environ, "PIPELINE_WORKERS", 0, minimum=0, accepts="0 (one process per core) or a whole number of processes"
        )
    workers = _worker_count(len(items), requested)
    prepare()  # build the gazetteers and the scanner once; forked workers inherit them
    if workers == 1:
        results: Iterable[tuple[str, str | None]] = map(_extract_file, items)
        return _write_extracted(results)
    # fork: this process runs no threads, and the children start with everything loaded
    context = get_context("fork" if "fork" in get_all_start_methods() else "spawn")
    with context.Pool(workers) as pool:
        return _write_extracted(pool.imap(_extract_file, items, chunksize=16))


def _write_extracted(results: Iterable[tuple[str, str | None]]) -> int:
    """Facts to stdout in input order, reasons to stderr; 1 if any file could not be read."""
    failed = 0
    for lines, error in results:
        if error:
            print(error, file=sys.stderr)
            failed += 1
        else:
            sys.stdout.write(lines)
    return 1 if failed else 0


def cmd_explain(args: argparse.Namespace) -> int:
    from pipeline.documents import DocumentError, read_document
    from pipeline.extractor import explain

    status = 0
    for path, name in _expand(args.files):
        try:
            doc = read_document(path, document=name)
        except (DocumentError, OSError) as exc:
            print(f"pipeline explain: {path}: {exc}", file=sys.stderr)
            status = 1
            continue
        print(explain(doc))
    return status


def cmd_eval(args: argparse.Namespace) -> int:
    from pipeline.evaluate import evaluate_dirs, format_report

    try:
        reports = evaluate_dirs([Path(d) for d in args.dirs])
    except (FileNotFoundError, ValueError) as exc:
        print(f"pipeline eval: {exc}", file=sys.stderr)
        return 2
    print(format_report(reports, show=args.show))
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    from pipeline.config import Settings
    from pipeline.release import resolve_release, verify_release

    try:
        target = resolve_release(Path(args.release) if args.release else Settings.from_env().releases_dir)
    except FileNotFoundError as exc:
        print(f"pipeline verify: {exc}", file=sys.stderr)
        return 2
    problems = verify_release(target)
    for problem in problems:
        print(f"FAIL {problem}")
    if problems:
        print(f"{target}: {len(problems)} problem(s)")
        return 1
    print(f"{target}: OK")
    return 0


def _workers_option(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        number = -1
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r}: expected 0 (one process per core) or a whole number of processes")
    return number


def cmd_report(args: argparse.Namespace) -> int:
    import webbrowser

    from pipeline.config import Settings
    from pipeline.report import build_report

    settings = Settings.from_env()
    out = Path(args.out) if args.out else settings.report_dir
    try:
        result = build_report(settings.database_path, out)
    except (FileNotFoundError, ValueError) as exc:
        print(f"pipeline report: {exc}", file=sys.stderr)
        return 2
    origin = "curated tables" if result.curated else "facts (no curated tables in the database)"
    print(
        f"pipeline report: {result.pages} pages, {result.bytes / 1e6:.1f} MB, {result.statistics} statistics "
        f"from {origin}, {result.documents} documents, in {result.seconds:.1f}s"
    )
    print(f"  {result.index}")
    if args.open:
        webbrowser.open(result.index.resolve().as_uri())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Build and query the dataset of figures on online platforms in child sexual abuse crimes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="materialise every asset: ingest, extract, DuckDB, Parquet release")
    p.add_argument("--quiet", action="store_true", help="no progress display, only the summary")
    p.add_argument(
        "--allow-shrink",
        action="store_true",
        help="publish even if the release drops more than PIPELINE_MAX_SHRINK (default half) of the latest release's facts",
    )
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("extract", help="print the facts of FILEs (or folders) as JSON Lines")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument(
        "-j",
        "--workers",
        type=_workers_option,
        default=None,
        metavar="N",
        help=f"processes (default: PIPELINE_WORKERS, else one per core from {PARALLEL_MIN_FILES} files on)",
    )
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("explain", help="print every number in FILEs with the decision taken and why")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("eval", help="score extraction against gold.jsonl in each DIR (rules of ANNOTATION.md)")
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("--show", action="store_true", help="list every miss and false positive with its quote")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("report", help="build the static HTML report from the current database (no pipeline run)")
    p.add_argument("--open", action="store_true", help="open the report in the default web browser")
    p.add_argument("--out", metavar="DIR", help="write the report to DIR (default: $PIPELINE_CURATED_DIR/report)")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("verify", help="re-check a release: checksums, schema, row counts")
    p.add_argument("release", nargs="?", metavar="RELEASE_DIR", help="a release folder (default: the latest)")
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from pipeline.config import ConfigError

    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:  # one line naming the variable and what it accepts
        print(f"pipeline {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
