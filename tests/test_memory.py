"""pipeline.memory: what a step freed goes back to the system."""

from __future__ import annotations

import os
import sys

import pytest

from pipeline import memory


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not sys.platform.startswith("linux") or memory._malloc_trim() is None, reason="glibc's malloc_trim")
def test_freed_heap_below_a_live_chunk_is_given_back() -> None:
    # 600-byte objects come from malloc (pymalloc stops at 512): ~180 MB of heap, and one small object after
    # them that stays alive, so free() alone cannot shrink the heap from its top
    chunks = [bytes(600) + i.to_bytes(4, "little") for i in range(300_000)]
    pin = bytes(600) + b"pin"
    del chunks
    before = _rss_mb()
    memory.give_back()
    after = _rss_mb()
    assert pin  # alive through the give-back
    assert before - after > 100, f"RSS {before:.0f} -> {after:.0f} MB"
