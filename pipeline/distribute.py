"""Publish a release to a remote location, and download one from it, verified before it counts.

A published location holds release folders and a ``LATEST`` file naming the newest, the layout of
``data/curated/releases`` (less the ``latest`` symlink, which object stores lack)::

    DEST/2026.12.03-d46660/facts.parquet ... SHA256SUMS
    DEST/LATEST

``publish`` copies every file of the release, ``SHA256SUMS`` last, and only then replaces ``LATEST``,
so a reader never finds a ``LATEST`` naming a release that is not all there. A destination is a
folder or any fsspec URL (``file://``, ``s3://``, ``gs://``, ...; the matching fsspec package, such as
s3fs or gcsfs, and its usual credentials from the environment).

``download`` fetches over HTTP(S) with the standard library, or through fsspec for any other URL,
into a hidden folder beside the target; it checks every file against ``SHA256SUMS`` as it arrives,
then runs the full ``verify`` on the whole release, and only a release that passes is renamed into
place. A tampered or truncated file leaves nothing behind but the error.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from pipeline.release import LATEST_FILE, SUMS_FILE, _check_release, resolve_release

CHUNK = 1 << 20
MAX_DOWNLOAD_BYTES = 10 << 30  # a server that never stops sending is cut off here (PIPELINE_MAX_DOWNLOAD_BYTES)
TIMEOUT = 60  # seconds without a byte before an HTTP download gives up
USER_AGENT = "pipeline-download/1"


class DistributionError(RuntimeError):
    """A publish or a download that did not complete; the message says why."""


@dataclass(frozen=True)
class Published:
    version: str
    url: str  # where the release folder is now
    files: int
    uploaded: bool  # False when the destination already held this release


@dataclass(frozen=True)
class Downloaded:
    version: str
    path: Path
    files: int
    bytes: int


# --------------------------------------------------------------------------- publish


def _filesystem(dest: str):  # -> (fsspec filesystem, root path in it)
    import fsspec

    try:
        return fsspec.core.url_to_fs(dest)
    except (ImportError, ValueError) as exc:  # e.g. s3:// without s3fs installed
        raise DistributionError(f"cannot open {dest}: {exc}") from exc


def _sums(text: str) -> list[tuple[str, str]]:
    """(sha256, file name) of each SHA256SUMS line; refuses names that leave the folder."""
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, name = line.partition("  ")
        if not sep or len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
            raise DistributionError(f"{SUMS_FILE} line {number}: not '<sha256>  <file>': {line[:80]!r}")
        parts = name.split("/")  # a release may have sub-folders (report/...), never a way out of itself
        if "\\" in name or any(not part or part.startswith(".") for part in parts) or name in (SUMS_FILE, LATEST_FILE):
            raise DistributionError(f"{SUMS_FILE} line {number}: refusing the file name {name[:80]!r}")
        entries.append((digest, name))
    if not entries:
        raise DistributionError(f"{SUMS_FILE} lists no file")
    return entries


def publish(release: Path, dest: str) -> Published:
    """Copy ``release`` (a release folder, or a releases folder whose latest is taken) to ``dest``, then point
    ``dest/LATEST`` at it. A version already at ``dest`` with the same ``SHA256SUMS`` is not copied again; one
    with different files is an error (a release is never overwritten)."""
    folder = resolve_release(Path(release))
    version = folder.name
    problems = _check_release(folder, version)
    if problems:
        raise DistributionError(f"{folder} fails verification, not publishing it:\n" + "\n".join(problems))
    sums = (folder / SUMS_FILE).read_bytes()
    files = [name for _, name in _sums(sums.decode("utf-8"))]
    fs, root = _filesystem(dest)
    root = root.rstrip("/")
    target = f"{root}/{version}"
    uploaded = True
    if fs.exists(f"{target}/{SUMS_FILE}"):
        if fs.cat_file(f"{target}/{SUMS_FILE}") != sums:
            raise DistributionError(f"{dest} already holds a release {version} with other files; not overwriting it")
        uploaded = False
    else:
        fs.makedirs(target, exist_ok=True)
        for name in files:  # each file complete before the checksums that vouch for it, and those before LATEST
            _put(fs, folder / name, f"{target}/{name}")
        _put(fs, folder / SUMS_FILE, f"{target}/{SUMS_FILE}")
    _put_bytes(fs, f"{version}\n".encode(), f"{root}/{LATEST_FILE}")
    return Published(version, fs.unstrip_protocol(target), len(files) + 1, uploaded)


def _put(fs, source: Path, path: str) -> None:
    if _is_local(fs):  # a half-copied file must never carry the final name
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        tmp = f"{path}.tmp-{secrets.token_hex(4)}"
        fs.put_file(str(source), tmp)
        fs.mv(tmp, path)
    else:  # an object store makes an object visible only once it is whole
        fs.put_file(str(source), path)


def _put_bytes(fs, data: bytes, path: str) -> None:
    if _is_local(fs):
        tmp = f"{path}.tmp-{secrets.token_hex(4)}"
        fs.pipe_file(tmp, data)
        os.replace(tmp, path)
    else:
        fs.pipe_file(path, data)


def _is_local(fs) -> bool:
    from fsspec.implementations.local import LocalFileSystem

    return isinstance(fs, LocalFileSystem)


# --------------------------------------------------------------------------- download


def _is_http(url: str) -> bool:
    return urllib.parse.urlsplit(url).scheme in ("http", "https")


class _NotFound(Exception):
    pass


def _open(url: str) -> Iterator[bytes]:
    """The bytes at ``url``, a chunk at a time."""
    if _is_http(url):
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT)  # noqa: S310 (the scheme is checked above)
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                raise _NotFound(url) from exc
            raise DistributionError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise DistributionError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
        with response:
            while chunk := response.read(CHUNK):
                yield chunk
        return
    fs, path = _filesystem(url)
    try:
        handle = fs.open(path, "rb")
    except FileNotFoundError as exc:
        raise _NotFound(url) from exc
    with handle:
        while chunk := handle.read(CHUNK):
            yield chunk


def _read_small(url: str, limit: int = 1 << 20) -> bytes:
    data = b""
    for chunk in _open(url):
        data += chunk
        if len(data) > limit:
            raise DistributionError(f"{url}: more than {limit} bytes, not a release index")
    return data


def _join(base: str, name: str) -> str:
    return base.rstrip("/") + "/" + urllib.parse.quote(name) if _is_http(base) else base.rstrip("/") + "/" + name


def _release_base(url: str) -> tuple[str, str, bytes]:
    """(the release folder's URL, its version, its SHA256SUMS) for a release URL or a releases URL with LATEST."""
    try:
        return url.rstrip("/"), url.rstrip("/").rsplit("/", 1)[-1], _read_small(_join(url, SUMS_FILE))
    except _NotFound:
        pass
    try:
        version = _read_small(_join(url, LATEST_FILE)).decode("utf-8", "replace").strip()
    except _NotFound:
        raise DistributionError(f"{url}: neither a release ({SUMS_FILE}) nor a folder of releases ({LATEST_FILE})") from None
    if not version or "/" in version or "\\" in version or version.startswith(".") or len(version) > 100:
        raise DistributionError(f"{url}/{LATEST_FILE} does not name a release: {version[:80]!r}")
    base = _join(url, version)
    try:
        return base, version, _read_small(_join(base, SUMS_FILE))
    except _NotFound:
        raise DistributionError(f"{LATEST_FILE} names {version}, but {base}/{SUMS_FILE} is missing") from None


def download(url: str, into: Path | str = ".", *, max_bytes: int = MAX_DOWNLOAD_BYTES) -> Downloaded:
    """Fetch the release at ``url`` (a release folder, or a folder of releases whose ``LATEST`` is taken) into
    ``into/<version>``, verified. An existing ``into/<version>`` that verifies is kept as it is. More than
    ``max_bytes`` in all is an error."""
    base, version, sums = _release_base(url)
    if not version or version.startswith(".") or "/" in version:
        raise DistributionError(f"{url}: cannot tell the release version from the URL")
    entries = _sums(sums.decode("utf-8", "replace"))
    into = Path(into)
    into.mkdir(parents=True, exist_ok=True)
    target = into / version
    if target.exists():
        problems = _check_release(target, version)
        if problems:
            raise DistributionError(f"{target} exists and fails verification; move it away first:\n" + "\n".join(problems))
        return Downloaded(version, target, len(entries) + 1, 0)
    tmp = into / f".download-{version}-{secrets.token_hex(4)}"
    tmp.mkdir()
    try:
        total = 0
        for digest, name in entries:
            total += _fetch(_join(base, name), tmp / name, digest, max_bytes - total)
        (tmp / SUMS_FILE).write_bytes(sums)
        problems = _check_release(tmp, version)
        if problems:
            raise DistributionError(f"{url}: the release fails verification:\n" + "\n".join(problems))
        for p in tmp.rglob("*"):
            if p.is_file():
                p.chmod(0o444)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return Downloaded(version, target, len(entries) + 1, total)


def _fetch(url: str, path: Path, digest: str, budget: int) -> int:
    h, size = hashlib.sha256(), 0
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open(path, "xb") as fh:
            for chunk in _open(url):
                h.update(chunk)
                size += len(chunk)
                if size > budget:
                    raise DistributionError(f"{url}: the release is larger than the download limit; set "
                                            "PIPELINE_MAX_DOWNLOAD_BYTES to allow more")
                fh.write(chunk)
    except _NotFound:
        raise DistributionError(f"{url}: listed in {SUMS_FILE} but missing") from None
    if h.hexdigest() != digest:
        raise DistributionError(f"{url}: sha256 {h.hexdigest()[:12]}... does not match {SUMS_FILE} ({digest[:12]}...)")
    return size
