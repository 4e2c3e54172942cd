"""Command line: a thin shell over the stage modules.

Heavy imports (Dagster, DuckDB, pyarrow) happen inside the commands that need them,
so `pipeline extract` starts fast.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.workers import PARALLEL_MIN_JOBS

if TYPE_CHECKING:
    from pipeline.documents import Document


def cmd_run(args: argparse.Namespace) -> int:
    import dataclasses

    from pipeline.config import Settings
    from pipeline.defs.run import run_pipeline

    settings = Settings.from_env()
    if args.allow_shrink:
        settings = dataclasses.replace(settings, allow_shrink=True)
    return run_pipeline(settings, progress=not args.quiet)


_JSON = json.JSONEncoder(ensure_ascii=False)  # one encoder: json.dumps builds a new one per call when given options


def _read_inputs(files: Sequence[str], command: str, workers: int = 0) -> tuple[list[Document], int]:
    """The documents of FILEs read as ``pipeline run`` reads them (documents.read_paths), and the exit
    status so far: 1 if a file could not be read. A duplicate or a hidden file is skipped with a note."""
    from pipeline.config import Settings
    from pipeline.documents import HIDDEN_FILE_REASON, read_paths

    got = read_paths([Path(f) for f in files], max_bytes=Settings.from_env().max_bytes, workers=workers)
    status = 0
    for r in got.rejected:
        print(f"pipeline {command}: {r.document}: {r.reason}", file=sys.stderr)
        skipped = r.duplicate_of is not None or r.reason == HIDDEN_FILE_REASON or r.reason.startswith("in a hidden folder")
        status = status if skipped else 1
    for warning in got.warnings:
        print(f"pipeline {command}: warning: {warning}", file=sys.stderr)
    return got.documents, status


def _facts_json(doc: Document) -> tuple[str, str | None]:
    """(the document's facts as JSON Lines, None), or ("", why its extraction failed). Runs in workers."""
    from pipeline.extractor import extract_document
    from pipeline.workers import time_budget

    lines = []
    try:  # one file's failure is reported and the others still come out
        with time_budget(what="extracting it"):
            for fact in extract_document(doc, audit=False).facts:
                row = fact.to_row()
                for key in ("period_start", "period_end"):  # dates as ISO strings: json's C encoder, no default hook
                    if row[key] is not None:
                        row[key] = row[key].isoformat()
                lines.append(_JSON.encode(row) + "\n")
    except Exception as exc:  # noqa: BLE001
        return "", f"{doc.document}: {_failure(exc)}"
    return "".join(lines), None


def _failure(exc: BaseException) -> str:
    from pipeline.documents import unexpected_reason
    from pipeline.workers import DocumentTimeout

    if isinstance(exc, DocumentTimeout):
        return f"extraction stopped: {exc}"
    return f"extraction failed ({unexpected_reason(exc).removeprefix('cannot be read: ')})"


def _requested_workers(args: argparse.Namespace) -> int:
    if args.workers is not None:
        return int(args.workers)
    from pipeline.config import whole_number

    return whole_number(os.environ, "PIPELINE_WORKERS", 0, minimum=0, accepts="0 (one process per core) or a whole number of processes")


def cmd_extract(args: argparse.Namespace) -> int:
    from pipeline.extractor import prepare
    from pipeline.workers import ordered_map, worker_count

    requested = _requested_workers(args)
    documents, status = _read_inputs(args.files, "extract", requested)
    workers = worker_count(len(documents), requested)
    for lines, error in ordered_map(_facts_json, documents, workers=workers, chunksize=16, initializer=prepare):
        if error:
            print(f"pipeline extract: {error}", file=sys.stderr)
            status = 1
        else:
            sys.stdout.write(lines)
    return status


def cmd_explain(args: argparse.Namespace) -> int:
    from pipeline.extractor import explain
    from pipeline.workers import time_budget

    documents, status = _read_inputs(args.files, "explain")
    for doc in documents:
        try:
            with time_budget(what="extracting it"):
                text = explain(doc)
        except Exception as exc:  # noqa: BLE001 -- reported; the other files are still explained
            print(f"pipeline explain: {doc.document}: {_failure(exc)}", file=sys.stderr)
            status = 1
            continue
        print(text)
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


def cmd_publish(args: argparse.Namespace) -> int:
    from pipeline.config import Settings
    from pipeline.distribute import DistributionError, publish
    from pipeline.release import ReleaseNotFound

    dest = args.to or os.environ.get("PIPELINE_PUBLISH_TO")
    if not dest:
        print("pipeline publish: say where, with --to DEST or PIPELINE_PUBLISH_TO", file=sys.stderr)
        return 2
    try:
        done = publish(Path(args.release) if args.release else Settings.from_env().releases_dir, dest)
    except ReleaseNotFound as exc:
        print(f"pipeline publish: {exc}", file=sys.stderr)
        return 2
    except (DistributionError, OSError) as exc:
        print(f"pipeline publish: {exc}", file=sys.stderr)
        return 1
    what = f"{done.files} files copied" if done.uploaded else "already there, nothing copied"
    print(f"pipeline publish: {done.version} -> {done.url} ({what}); LATEST names it")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    from pipeline.config import whole_number
    from pipeline.distribute import MAX_DOWNLOAD_BYTES, DistributionError, download

    # a wrong value is a ConfigError: one line and exit 2, from main()
    limit = whole_number(os.environ, "PIPELINE_MAX_DOWNLOAD_BYTES", MAX_DOWNLOAD_BYTES, minimum=1,
                         accepts="a whole number of bytes, 1 or more")
    try:
        done = download(args.url, Path(args.dir), max_bytes=limit)
    except (DistributionError, OSError) as exc:
        print(f"pipeline download: {exc}", file=sys.stderr)
        return 1
    got = f"{done.files} files, {done.bytes:,} bytes" if done.bytes else "already here"
    print(f"pipeline download: {done.version} ({got}), verified: {done.path}")
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
        help=f"processes (default: PIPELINE_WORKERS, else one per core from {PARALLEL_MIN_JOBS} files on)",
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

    p = sub.add_parser(
        "publish",
        help="copy a release to a folder or fsspec URL (files first, then LATEST)",
        description="Copy a release to DEST: DEST/<version>/ with every file, SHA256SUMS last, then DEST/LATEST.",
    )
    p.add_argument("--to", metavar="DEST", help="a folder or fsspec URL (file://, s3://, gs://, ...)")
    p.add_argument("release", nargs="?", metavar="RELEASE_DIR", help="a release folder (default: the latest)")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser(
        "download",
        help="fetch a release over HTTP(S) or fsspec and verify it before keeping it",
        description=(
            "Fetch the release at URL (a release folder, or a folder of releases whose LATEST names one) into "
            "DIR/<version>/. Every file is checked against SHA256SUMS, then the whole release is verified; only then "
            "is it moved into place. Exit 1 on any failure, leaving nothing behind."
        ),
    )
    p.add_argument("url", metavar="URL", help="http(s)://, file://, s3://, ... or a folder")
    p.add_argument("dir", nargs="?", default=".", metavar="DIR", help="where the release folder goes (default: .)")
    p.set_defaults(func=cmd_download)
    summaries = {action.dest: action.help for action in sub._choices_actions}
    for name, choice in sub.choices.items():
        _document(choice, name, summaries.get(name))
    return parser


# What each command reads from the environment, and an example; appended to its --help.
_INPUTS = "PIPELINE_RAW_DIR (the input documents, default data/raw)"
_CURATED = "PIPELINE_CURATED_DIR (database, caches, releases; default data/curated)"
_HELP: dict[str, tuple[list[str], str]] = {
    "run": (
        [
            _INPUTS, _CURATED, "PIPELINE_MAX_BYTES (larger inputs are quarantined; default 52428800)",
            "PIPELINE_WORKERS (extraction processes; 0 = one per core)",
            "PIPELINE_DOC_SECONDS (time budget of one document)",
            "PIPELINE_ALLOW_SHRINK, PIPELINE_MAX_SHRINK (publish a release with far fewer facts)",
            "DAGSTER_HOME (the Dagster instance that records the run; unset: a throwaway one)",
        ],
        "PIPELINE_RAW_DIR=/path/to/docs PIPELINE_CURATED_DIR=/path/to/out pipeline run",
    ),
    "extract": (["PIPELINE_WORKERS (processes, when -j is not given)", "PIPELINE_DOC_SECONDS"],
                "pipeline extract -j 2 data/raw > facts.jsonl"),
    "explain": (["PIPELINE_DOC_SECONDS (time budget of one document)"], "pipeline explain data/raw/004_0794442cf60a5a44.txt"),
    "eval": (["none"], "pipeline eval --show eval/seeds eval/dev eval/dev2"),
    "report": ([_CURATED], "pipeline report --open"),
    "verify": ([_CURATED + "; the latest release is looked for under its releases/"], "pipeline verify data/curated/releases/latest"),
    "publish": (
        [
            "PIPELINE_PUBLISH_TO (DEST when --to is not given)", _CURATED + "; the latest release is taken from it",
            ("s3:// and gs:// need s3fs or gcsfs, with their usual credentials (AWS_PROFILE, AWS_ACCESS_KEY_ID, ..., "
            "GOOGLE_APPLICATION_CREDENTIALS)"),
        ],
        "pipeline publish --to s3://my-bucket/csa-releases",
    ),
    "download": (
        ["PIPELINE_MAX_DOWNLOAD_BYTES (the most a download may fetch; default 10 GiB)",
         "s3:// and gs:// URLs: as for publish"],
        "pipeline download https://example.org/csa-releases/ data/downloads",
    ),
}


def _document(parser: argparse.ArgumentParser, name: str, summary: str | None) -> None:
    """Give ``pipeline NAME --help`` what the command does, the environment variables it reads and an example."""
    variables, example = _HELP[name]  # a command without an entry fails tests/test_cli_help.py
    parser.epilog = "environment:\n" + "".join(f"  {v}\n" for v in variables) + f"\nexample:\n  {example}"
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.description = parser.description or summary


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
