"""Run a command as a user would and measure it: wall time, peak memory of its process tree.

Peak memory is measured two ways:

* ``peak_tree_rss``: the sum of the RSS of the process and all its descendants (extraction
  workers, the forkserver), polled every 0.1 s with psutil. Pages shared between forked
  workers are counted once per process, so this errs high; a peak shorter than 0.1 s can be
  missed.
* ``max_process_rss``: the kernel's own high-water mark of the largest single process in the
  tree (``ru_maxrss`` from ``wait4``), exact but per process, not summed.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

POLL_SECONDS = 0.1


@dataclass
class Measured:
    returncode: int
    wall_s: float
    peak_tree_rss: int  # bytes
    peak_at: float  # time.time() of the poll that saw the peak
    samples: list[tuple[float, int]]  # (time.time(), tree RSS in bytes) of every poll: the peak of each step
    max_process_rss: int  # bytes
    max_processes: int  # most processes seen in the tree at once
    cpu_s: float  # user + system CPU time of the process and the descendants it waited for (its workers)
    stdout: str  # decoded, unless counted only
    stderr: str
    stdout_bytes: int
    stdout_lines: int


def _tree_rss(proc: psutil.Process) -> tuple[int, int]:
    total, count = 0, 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for p in members:
        try:
            total += p.memory_info().rss
            count += 1
        except psutil.Error:
            pass  # exited between the listing and the read
    return total, count


def run(
    cmd: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    keep_stdout: bool = True,
) -> Measured:
    """Run ``cmd`` to completion. With ``keep_stdout`` False, stdout is only counted (bytes, lines)."""
    counts = {"bytes": 0, "lines": 0}
    chunks: list[bytes] = []
    err: list[bytes] = []

    started = time.perf_counter()
    proc = subprocess.Popen(cmd, env=dict(env) if env else None, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def drain_stdout() -> None:
        assert proc.stdout is not None
        while chunk := proc.stdout.read(1 << 20):
            counts["bytes"] += len(chunk)
            counts["lines"] += chunk.count(b"\n")
            if keep_stdout:
                chunks.append(chunk)

    def drain_stderr() -> None:
        assert proc.stderr is not None
        while chunk := proc.stderr.read(1 << 16):
            err.append(chunk)

    waited: dict[str, object] = {}
    done = threading.Event()

    def wait() -> None:  # blocking wait4: the exit time is exact, and so is the child's ru_maxrss
        _, waited["status"], waited["usage"] = os.wait4(proc.pid, 0)
        waited["ended"] = time.perf_counter()
        done.set()

    watched = psutil.Process(proc.pid)
    threads = [threading.Thread(target=f) for f in (drain_stdout, drain_stderr, wait)]
    for t in threads:
        t.start()
    peak, peak_at, most = 0, 0.0, 0
    samples: list[tuple[float, int]] = []
    while True:
        rss, n = _tree_rss(watched)
        samples.append((time.time(), rss))
        if rss > peak:
            peak, peak_at = rss, samples[-1][0]
        most = max(most, n)
        if done.wait(POLL_SECONDS):
            break
    for t in threads:
        t.join()
    wall = float(waited["ended"]) - started  # type: ignore[arg-type]
    usage = waited["usage"]
    proc.returncode = os.waitstatus_to_exitcode(waited["status"])  # type: ignore[arg-type]  # reaped here; tell Popen
    return Measured(
        returncode=proc.returncode,
        wall_s=wall,
        peak_tree_rss=peak,
        peak_at=peak_at,
        samples=samples,
        max_process_rss=usage.ru_maxrss * 1024,  # type: ignore[attr-defined]  # Linux reports KiB
        max_processes=most,
        cpu_s=usage.ru_utime + usage.ru_stime,  # type: ignore[attr-defined]
        stdout=b"".join(chunks).decode("utf-8", "replace"),
        stderr=b"".join(err).decode("utf-8", "replace"),
        stdout_bytes=counts["bytes"],
        stdout_lines=counts["lines"],
    )
