"""Command line: a thin shell over the stage modules.

Heavy imports (Dagster, DuckDB, pyarrow) happen inside the commands that need them,
so `pipeline extract` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Sequence
from datetime import date
from pathlib import Path


def _json_default(value: object) -> str:
    if isinstance(value, date):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {value!r}")


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
    from pipeline.config import Settings
    from pipeline.defs.run import run_pipeline

    return run_pipeline(Settings.from_env(), progress=not args.quiet)


def cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.documents import DocumentError, read_document
    from pipeline.facts import extract_document

    failed = 0
    out = sys.stdout
    for path, name in _expand(args.files):
        try:
            doc = read_document(path, document=name)
        except (DocumentError, OSError) as exc:
            print(f"pipeline extract: {path}: {exc}", file=sys.stderr)
            failed += 1
            continue
        for fact in extract_document(doc).facts:
            out.write(json.dumps(fact.to_row(), default=_json_default, ensure_ascii=False) + "\n")
    return 1 if failed else 0


def cmd_explain(args: argparse.Namespace) -> int:
    from pipeline.documents import DocumentError, read_document
    from pipeline.facts import explain

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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pipeline",
        description="Build and query the dataset of figures on online platforms in child sexual abuse crimes.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="materialise every asset: ingest, extract, DuckDB, Parquet release")
    p.add_argument("--quiet", action="store_true", help="no progress display, only the summary")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("extract", help="print the facts of FILEs (or folders) as JSON Lines")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_extract)

    p = sub.add_parser("explain", help="print every number in FILEs with the decision taken and why")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.set_defaults(func=cmd_explain)

    p = sub.add_parser("eval", help="score extraction against gold.jsonl in each DIR (rules of ANNOTATION.md)")
    p.add_argument("dirs", nargs="+", metavar="DIR")
    p.add_argument("--show", action="store_true", help="list every miss and false positive with its quote")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("verify", help="re-check a release: checksums, schema, row counts")
    p.add_argument("release", nargs="?", metavar="RELEASE_DIR", help="a release folder (default: the latest)")
    p.set_defaults(func=cmd_verify)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
