"""The project's one worker pool: ingest, batch extraction and ``pipeline extract`` all run their
parallel work through it, with one rule for when it is worth starting.

* ``time_budget()``: one document may take at most ``PIPELINE_DOC_SECONDS`` (default 120 s of CPU) to
  read or extract; past that the work is interrupted (SIGPROF) and the document is rejected or left without
  facts with the reason, so a hostile file costs a bounded time and the run goes on. Only where
  signals can be delivered: the main thread of a process, where pool workers and the in-process run
  handle documents.
* Every worker exits when the process that started the pool is gone (killed, crashed).

Workers start from a fresh interpreter (forkserver; spawn where there is no fork), never as a fork of a
threaded parent such as a Dagster run. Like any multiprocessing code, a script that asks for more than
one worker must guard its entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import TypeVar

PARALLEL_MIN_JOBS = 64  # below this many jobs, starting worker processes costs more than it saves

T = TypeVar("T")
R = TypeVar("R")


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def worker_count(n_jobs: int, requested: int = 0) -> int:
    """``requested`` processes if given (> 0); else one per core once there are PARALLEL_MIN_JOBS jobs, else 1."""
    if requested > 0:
        return requested
    return cores() if n_jobs >= PARALLEL_MIN_JOBS else 1


def process_pool(workers: int, initializer: Callable[[], object] | None = None) -> ProcessPoolExecutor:
    """A pool of ``workers`` processes, each started clean and set up by ``initializer``; each worker
    exits when this process is gone (worker_initializer), instead of lingering as an orphan."""
    context = get_context("forkserver" if os.name == "posix" else "spawn")
    setup = functools.partial(worker_initializer, os.getpid(), initializer)
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=setup)


def ordered_map(
    fn: Callable[[T], R],
    items: Iterable[T],
    *,
    workers: int,
    chunksize: int = 1,
    initializer: Callable[[], object] | None = None,
) -> Iterator[R]:
    """``map(fn, items)`` in ``workers`` processes (here, if 1), results in the order of the items."""
    if workers <= 1:
        if initializer is not None:
            initializer()
        yield from map(fn, items)
        return
    with process_pool(workers, initializer) as pool:
        yield from pool.map(fn, items, chunksize=chunksize)


# Time budget per document, and workers that die with their parent

DEFAULT_DOC_SECONDS = 120.0


class DocumentTimeout(Exception):
    """A document took longer than its budget; ``str(exc)`` is the reason."""


def doc_seconds() -> float:
    """The budget per document (PIPELINE_DOC_SECONDS; config.Settings.from_env has checked the value)."""
    try:
        value = float(os.environ.get("PIPELINE_DOC_SECONDS") or DEFAULT_DOC_SECONDS)
    except ValueError:
        return DEFAULT_DOC_SECONDS
    return value if value > 0 else DEFAULT_DOC_SECONDS


@contextlib.contextmanager
def time_budget(seconds: float | None = None, what: str = "reading it") -> Iterator[None]:
    """Raise DocumentTimeout in the block once ``seconds`` have passed (nested budgets keep the outer one)."""
    seconds = doc_seconds() if seconds is None else seconds
    # CPU time of this process (ITIMER_PROF, SIGPROF), not wall time: on a loaded machine a good
    # document must not run out of budget while it waits for a core.
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable or signal.getitimer(signal.ITIMER_PROF)[0] > 0:
        yield
        return

    def expired(_signum: int, _frame: object) -> None:
        raise DocumentTimeout(f"took more than {seconds:g} s of CPU {what} (PIPELINE_DOC_SECONDS); stopped")

    previous = signal.signal(signal.SIGPROF, expired)
    # then again every 50 ms of CPU: a raise that lands in a garbage-collector callback is printed and
    # swallowed ("Exception ignored in ..."), and a one-shot timer would let the document run on
    signal.setitimer(signal.ITIMER_PROF, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def worker_initializer(parent_pid: int, then: Callable[[], object] | None = None) -> None:
    """Pool initializer: exit as soon as ``parent_pid`` is gone; then run ``then``, the pool's own setup.

    On Linux the kernel kills the worker when its parent dies (PR_SET_PDEATHSIG); with the forkserver
    start method that parent is the fork server, so a watcher thread also polls the pool's owner.
    """
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent_pid, 0)
            except ProcessLookupError:
                os._exit(1)
            except PermissionError:  # the pid now belongs to another user's process: ours is gone
                os._exit(1)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()
    if then is not None:
        then()
