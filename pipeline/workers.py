"""The project's one worker pool: ingest, batch extraction and ``pipeline extract`` all run their
parallel work through it, with one rule for when it is worth starting.

Workers start from a fresh interpreter (forkserver; spawn where there is no fork), never as a fork of a
threaded parent such as a Dagster run. Like any multiprocessing code, a script that asks for more than
one worker must guard its entry point with ``if __name__ == "__main__":``.
"""

from __future__ import annotations

import os
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
    """A pool of ``workers`` processes, each started clean and set up by ``initializer``."""
    context = get_context("forkserver" if os.name == "posix" else "spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=initializer)


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
