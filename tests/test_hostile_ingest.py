"""Hostile raw folders: races, odd manifests, unreadable folders and names that escape alike.

Every case is built here, on the real file system; ingest() must never read outside the raw folder,
never fail the run, and account for every input exactly once.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from conftest import REPO

from pipeline.documents import MANIFEST, SYMLINK_REASON, ingest, input_paths
from pipeline.validate import input_errors

SECRET = "Police outside recorded 987,654 offences."
posix_only = pytest.mark.skipif(os.name != "posix", reason="symbolic links, named pipes and dir_fd are POSIX")


def text_of(result) -> str:  # type: ignore[no-untyped-def]
    return "\n".join(d.text for d in result.documents)


@posix_only
def test_a_folder_swapped_for_a_link_to_outside_during_ingest_is_never_followed(tmp_path: Path) -> None:
    """A thread swaps raw/sub for a link to a folder outside (with files of the same names) and back,
    as fast as it can, while ingest runs again and again; not one byte from outside may be read."""
    outside = tmp_path / "outside"
    outside.mkdir()
    raw = tmp_path / "raw"
    sub = raw / "sub"
    sub.mkdir(parents=True)
    for i in range(300):
        (sub / f"f{i:03}.txt").write_text(f"Police recorded {i + 1000} offences of grooming in report {i}.\n")
        (outside / f"f{i:03}.txt").write_text(SECRET + "\n")
    park = tmp_path / "park"  # where the real folder waits while the link stands in for it
    stop = threading.Event()

    def swap() -> None:
        while not stop.is_set():
            os.rename(sub, park)
            os.symlink(outside, sub)
            time.sleep(0.0005)
            os.unlink(sub)
            os.rename(park, sub)
            time.sleep(0.0005)

    swapper = threading.Thread(target=swap)
    swapper.start()
    raced = runs = 0
    try:
        deadline = time.monotonic() + 60
        # Until the swap has landed between the walk and a read several times (at least 20 runs).
        while (raced < 3 or runs < 20) and time.monotonic() < deadline:
            result = ingest(raw, max_bytes=1 << 20, workers=1)
            runs += 1
            assert "987,654" not in text_of(result)
            reasons = {r.reason for r in result.rejected}
            raced += any("replaced during the run" in reason for reason in reasons)
            for r in result.rejected:
                assert r.document == "sub" or r.document.startswith("sub/"), r
                # the true reason: a link, a folder replaced by one, or the folder gone for a moment
                assert r.reason == SYMLINK_REASON or "replaced during the run" in r.reason or (
                    r.reason.endswith("No such file or directory")
                ), r
    finally:
        stop.set()
        swapper.join()
    assert raced >= 3, f"the swap never landed between walk and read in {runs} runs; the test proved nothing"


@posix_only
def test_a_symlinked_or_fifo_manifest_is_a_warning_not_an_input(tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text("file,title\na.txt,Stolen title\n")
    for kind in ("link", "fifo"):
        raw = tmp_path / kind
        raw.mkdir()
        (raw / "a.txt").write_text("Police recorded 1,234 offences of grooming.\n")
        if kind == "link":
            os.symlink(outside, raw / MANIFEST)
        else:
            os.mkfifo(raw / MANIFEST)  # nobody writes to it: reading it must not hang
        result = ingest(raw, max_bytes=1 << 20, workers=1)
        assert [d.document for d in result.documents] == ["a.txt"]
        assert result.documents[0].title is None
        assert result.rejected == []
        assert input_errors(input_paths(raw), result) == []
        (warning,) = result.warnings
        assert warning.startswith(f"{MANIFEST} ignored: ")
        assert ("symbolic link" if kind == "link" else "named pipe") in warning


@posix_only
@pytest.mark.skipif(sys.platform == "darwin", reason="macOS refuses file names that are not UTF-8")
def test_names_that_escape_to_the_same_string_stay_distinct(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    body = b"Police recorded 1,234 offences of grooming.\n"
    (raw / "a\\xff.txt").write_bytes(body)  # a real name with a backslash: 'a\xff.txt'
    with open(os.path.join(os.fsencode(raw), b"a\xff.txt"), "wb") as fh:  # an undecodable byte
        fh.write(body + b"x")
    with open(os.path.join(os.fsencode(raw), b"a\\xff.txt\xfe"), "wb") as fh:
        fh.write(body + b"y")
    result = ingest(raw, max_bytes=1 << 20, workers=1)
    names = [d.document for d in result.documents] + [r.document for r in result.rejected]
    assert len(names) == len(set(names)) == 3
    assert [d.document for d in result.documents] == ["a\\xff.txt"]
    assert sorted(r.document for r in result.rejected) == ["a\\xff.txt (undecodable name 2)", "a\\xff.txt\\xfe"]
    assert {r.reason for r in result.rejected} == {"file name is not valid UTF-8; rename the file"}
    assert input_errors(input_paths(raw), result) == []


@posix_only
def test_an_unreadable_sub_folder_is_one_rejected_row_and_the_rest_is_read() -> None:
    """Run as an unprivileged user (root reads any folder): the folder becomes a row with the OS error."""
    if os.geteuid() == 0:
        pytest.importorskip("pwd")
    base = Path(tempfile.mkdtemp(prefix="hostile-"))
    try:
        base.chmod(0o755)
        raw = base / "raw"
        (raw / "locked").mkdir(parents=True)
        (raw / "locked" / "inside.txt").write_text("Police recorded 4,321 offences of grooming.\n")
        (raw / "open.txt").write_text("Police recorded 1,234 offences of grooming.\n")
        for p in (raw, raw / "open.txt", raw / "locked" / "inside.txt"):
            p.chmod(0o755 if p.is_dir() else 0o644)
        (raw / "locked").chmod(0)
        code = (
            "import json, os, sys\n"
            "from pipeline.documents import ingest, input_paths\n"
            "from pipeline.validate import input_errors\n"
            "if os.geteuid() == 0:  # imported first: the interpreter's files may be root's only\n"
            "    os.setgid(65534); os.setuid(65534)\n"
            "raw = sys.argv[1]\n"
            "r = ingest(raw, max_bytes=1 << 20, workers=1)\n"
            "print(json.dumps({'documents': [d.document for d in r.documents],\n"
            "  'rejected': [[x.document, x.reason] for x in r.rejected],\n"
            "  'errors': input_errors(input_paths(raw), r)}))\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(raw)], cwd=REPO, capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, proc.stderr
        out = json.loads(proc.stdout)
        assert out == {
            "documents": ["open.txt"],
            "rejected": [["locked", "cannot read folder: Permission denied"]],
            "errors": [],
        }
    finally:
        (base / "raw" / "locked").chmod(0o755)
        shutil.rmtree(base)


@posix_only
def test_folders_nested_past_the_depth_limit_are_one_row_and_do_not_exhaust_handles(tmp_path: Path) -> None:
    from pipeline.documents import MAX_DEPTH

    raw = tmp_path / "raw"
    deep = raw
    for _ in range(MAX_DEPTH + 20):
        deep = deep / "d"
    deep.mkdir(parents=True)
    (deep / "bottom.txt").write_text("Police recorded 1,234 offences.\n")
    (raw / "top.txt").write_text("Police recorded 4,321 offences.\n")
    result = ingest(raw, max_bytes=1 << 20, workers=1)
    assert [d.document for d in result.documents] == ["top.txt"]
    (row,) = result.rejected
    assert row.document == "/".join(["d"] * MAX_DEPTH)
    assert "deeper than" in row.reason
    assert input_errors(input_paths(raw), result) == []
