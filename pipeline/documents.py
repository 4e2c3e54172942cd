"""Stage 1, ingest: files under the raw folder -> Document records (or Rejected ones, with the reason).

Every input path ends in exactly one of ``IngestResult.documents`` or ``IngestResult.rejected``.

What a file is comes from its bytes, never its extension:

* plain text (UTF-8 with or without BOM, UTF-16/32 with BOM, UTF-16 without BOM, legacy single-byte
  encodings such as cp1252) -> ``text/plain``; the text is the decoded file, untouched, so a span in a
  UTF-8 ``.txt`` file indexes exactly the file's content;
* HTML -> ``text/html``; the main article text (trafilatura, reader comments, scripts and navigation
  dropped), with title, date and canonical URL from the page metadata;
* PDF -> ``application/pdf``; the text layer, pages joined with form feeds so that the page of a span is
  ``text[:char_start].count("\\f") + 1``, and lines the layout wrapped mid-sentence joined; no OCR;
* DOCX -> the paragraphs of ``word/document.xml`` (stdlib zipfile + ElementTree).

Everything else (empty or blank files, archives, images, executables, other binaries, corrupt or
encrypted PDFs, undecodable text, files over the size limit, symbolic links, hidden files and each
file in a hidden folder, special files) becomes a ``Rejected`` row whose ``reason`` says what it is.
An exact duplicate (same sha256) of an earlier path in sorted order is rejected with
``duplicate_of`` set to the kept path.

Heavy libraries (trafilatura, pypdf, charset-normalizer) are imported inside the functions that need
them, so reading a plain-text file costs a read, a hash and a decode.
"""

from __future__ import annotations

import builtins
import codecs
import hashlib
import logging
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pipeline.workers import cores, process_pool, worker_count

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor

log = logging.getLogger(__name__)

MANIFEST = "sources.csv"
MANIFEST_COLUMNS = ("file", "url", "outlet", "title", "published", "licence")

TEXT = "text/plain"
HTML = "text/html"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

SYMLINK_REASON = "symbolic link; links are not followed"
HIDDEN_FILE_REASON = "hidden file (name starts with '.'); not ingested"
NO_TEXT_LAYER_REASON = "PDF has no text layer (scanned?); OCR is not supported"

_SNIFF = 8192  # bytes (or characters) looked at to decide what a file is
# Limits on what a file becomes, not only on its size: a 1 MB DOCX can unpack to 200 million characters,
# a 300 KB PDF can make every page parse one huge shared stream. Past a limit the file is rejected.
MAX_CHARS = 3_000_000  # characters of text of one document (some 1,500 pages; a dense one costs ~1 GB to extract)
MAX_PAGES = 2_000  # pages of one PDF
MAX_UNPACKED = 32 * 1024 * 1024  # bytes of a DOCX part, or of the page content streams of a PDF, decompressed


class DocumentError(Exception):
    """A file that cannot become a document; ``str(exc)`` is the reason recorded in rejected_documents.

    ``bytes`` is the file's size when it is known without reading it (e.g. a file over the limit).
    """

    def __init__(self, reason: str, *, bytes: int | None = None) -> None:
        super().__init__(reason)
        self.bytes = bytes


@dataclass(frozen=True)
class Document:
    document: str  # path relative to the raw folder, '/' separated
    sha256: str
    bytes: int
    media_type: str
    text: str  # what the extractor sees; fact spans index this
    encoding: str | None = None
    pages: int | None = None
    published: date | None = None
    url: str | None = None
    outlet: str | None = None
    title: str | None = None
    licence: str | None = None  # sources.csv: the terms the publisher lets the text be redistributed under


@dataclass(frozen=True)
class Rejected:
    document: str
    reason: str
    sha256: str | None = None
    bytes: int | None = None
    duplicate_of: str | None = None


@dataclass
class IngestResult:
    documents: list[Document] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # e.g. a manifest row naming a missing file


# --------------------------------------------------------------------------------------------------
# Reading one file


def read_document(path: Path, *, document: str | None = None, max_bytes: int | None = None) -> Document:
    """Read one file into a Document; raise DocumentError with the reason if it cannot be read.

    A symbolic link is refused rather than followed, and the size limit is checked on the open file
    before a byte is read, so a huge file costs nothing.
    """
    raw = _read_bytes(Path(path), max_bytes)
    doc, notes = _parse(raw, document or Path(path).name)
    for note in notes:
        log.warning("%s", note)
    return doc


def document_from_bytes(raw: bytes, *, document: str) -> Document:
    """The Document for file content ``raw`` named ``document``; DocumentError if it is not one."""
    return _parse(raw, document)[0]


_FILE_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
_DIR_FLAGS = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def _read_bytes(path: Path, max_bytes: int | None) -> bytes:
    """The bytes of one file named by a path (the command line); ingest reads by folder handle instead."""
    # O_NOFOLLOW: a link swapped in after the folder walk is still not followed.
    # O_NONBLOCK: opening a named pipe must not hang the run; it has no effect on regular files.
    try:
        fd = os.open(path, _FILE_FLAGS | _CLOEXEC)
    except OSError as exc:
        if path.is_symlink():
            raise DocumentError(SYMLINK_REASON) from exc
        raise DocumentError(f"cannot read file: {_os_error(exc)}") from exc
    return _read_fd(fd, max_bytes)


def _read_fd(fd: int, max_bytes: int | None) -> bytes:
    """Read an open file (and close it): refused unless regular, and the size limit checked before reading."""
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise DocumentError(_special_file_reason(st.st_mode))
        if max_bytes is not None and st.st_size > max_bytes:
            raise DocumentError(_too_large_reason(st.st_size, max_bytes), bytes=st.st_size)
        with os.fdopen(fd, "rb", closefd=False) as fh:
            raw = fh.read() if max_bytes is None else fh.read(max_bytes + 1)
    except OSError as exc:
        raise DocumentError(f"cannot read file: {_os_error(exc)}") from exc
    finally:
        os.close(fd)
    if max_bytes is not None and len(raw) > max_bytes:  # grew between stat and read
        raise DocumentError(_too_large_reason(len(raw), max_bytes))
    return raw


class _RawTree:
    """The raw folder as an open directory handle; every file is reached from it one name at a time.

    Each folder on the way is opened relative to its parent's handle with O_NOFOLLOW | O_DIRECTORY, and
    the file relative to its folder's handle with O_NOFOLLOW: a folder swapped for a symbolic link after
    the walk (to /etc, say) is refused instead of followed. A path string is never opened, so nothing
    outside the raw folder can be read. Handles of the folders of the last file are kept, as files are
    read in sorted order and neighbours share folders.
    """

    def __init__(self, raw_dir: Path) -> None:
        # The raw folder itself is configuration and may be a link (a mounted share); below it nothing is followed.
        try:
            self.fd = os.open(raw_dir, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | _CLOEXEC)
        except OSError as exc:
            raise OSError(exc.errno, f"cannot open the raw folder {raw_dir}: {_os_error(exc)}") from exc
        self._chain: list[tuple[str, int]] = []  # (folder name, handle) from the root down

    def close(self) -> None:
        self._trim(0)
        os.close(self.fd)

    def __enter__(self) -> _RawTree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _trim(self, depth: int) -> None:
        while len(self._chain) > depth:
            os.close(self._chain.pop()[1])

    def folder(self, parts: tuple[str, ...]) -> int:
        """The handle of the folder ``parts`` below the root (owned by the tree); DocumentError if it is gone."""
        same = 0
        while same < min(len(parts), len(self._chain)) and self._chain[same][0] == parts[same]:
            same += 1
        self._trim(same)
        for i in range(same, len(parts)):
            parent = self._chain[-1][1] if self._chain else self.fd
            try:
                fd = open_folder(parts[i], parent)
            except OSError as exc:
                raise DocumentError(_folder_error(parts[: i + 1], parts[i], parent, exc)) from exc
            self._chain.append((parts[i], fd))
        return self._chain[-1][1] if self._chain else self.fd

    def read(self, parts: tuple[str, ...], max_bytes: int | None) -> bytes:
        """The bytes of the file ``parts`` (names below the root, the last one the file's)."""
        folder = self.folder(parts[:-1])
        try:
            fd = os.open(parts[-1], _FILE_FLAGS | _CLOEXEC, dir_fd=folder)
        except OSError as exc:
            if _is_link(parts[-1], folder):
                raise DocumentError(SYMLINK_REASON) from exc
            raise DocumentError(f"cannot read file: {_os_error(exc)}") from exc
        return _read_fd(fd, max_bytes)


def open_folder(name: str, parent: int) -> int:
    """A sub-folder's handle, opened relative to its parent's; OSError (ELOOP/ENOTDIR) if it is a link."""
    return os.open(name, _DIR_FLAGS | _CLOEXEC, dir_fd=parent)


def _is_link(name: str, parent: int) -> bool:
    try:
        return stat.S_ISLNK(os.lstat(name, dir_fd=parent).st_mode)
    except OSError:
        return False


def _folder_error(parts: tuple[str, ...], name: str, parent: int, exc: OSError) -> str:
    import errno

    folder = _printable("/".join(parts))
    # ELOOP: a link; ENOTDIR: a link (O_DIRECTORY | O_NOFOLLOW) or a file. It was a folder at the walk.
    if exc.errno in (errno.ELOOP, errno.ENOTDIR) or _is_link(name, parent):
        return f"folder {folder} was replaced during the run (by a symbolic link or a file); links are not followed"
    return f"cannot read folder {folder}: {_os_error(exc)}"


def _too_large_reason(size: int, limit: int) -> str:
    return f"file too large: {size:,} bytes, over the limit of {limit:,} bytes (PIPELINE_MAX_BYTES)"


def _os_error(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _special_file_reason(mode: int) -> str:
    kind = (
        "named pipe" if stat.S_ISFIFO(mode)
        else "socket" if stat.S_ISSOCK(mode)
        else "device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "folder" if stat.S_ISDIR(mode)
        else "special file"
    )
    return f"not a regular file ({kind})"


def _parse(raw: bytes, name: str) -> tuple[Document, list[str]]:
    """Document for ``raw`` plus notes worth a warning (e.g. a PDF page whose text could not be read)."""
    try:
        prepared = _prepare(raw, name)
    except DocumentError:
        raise
    except Exception as exc:  # noqa: BLE001 -- e.g. a codec error no rule foresaw: this file's reason
        raise DocumentError(unexpected_reason(exc)) from exc
    if isinstance(prepared, Document):
        return prepared, []
    doc, notes, reason = _finish_in_worker(prepared)
    if doc is None:
        raise DocumentError(reason or "cannot be read")
    return doc, notes


@dataclass(frozen=True)
class _Job:
    """A file whose type is known and whose text needs a heavy library (trafilatura, pypdf, XML)."""

    document: str
    sha256: str
    bytes: int
    kind: str  # 'html' (payload: decoded text), 'pdf' or 'docx' (payload: the file's bytes)
    payload: str | builtins.bytes  # builtins: the field above is named bytes
    encoding: str | None = None


def _prepare(raw: bytes, name: str) -> Document | _Job:
    """Everything cheap: type by content, decoding; a plain-text file is finished here."""
    if not raw:
        raise DocumentError("empty file (0 bytes)")
    sha = hashlib.sha256(raw).hexdigest()
    kind = _sniff_binary(raw)
    if kind is not None:
        return _Job(name, sha, len(raw), kind, raw)
    text, encoding = _decode(raw)
    if not text or text.isspace():
        raise DocumentError("blank file (only whitespace)")
    _check_chars(len(text))
    head = text[:_SNIFF]
    if _looks_binary(head):
        raise DocumentError("binary file (unknown type) is not supported")
    if _HTML_START.match(head):
        return _Job(name, sha, len(raw), "html", text, encoding)
    _refuse_markup(head)
    return Document(document=name, sha256=sha, bytes=len(raw), media_type=TEXT, text=text, encoding=encoding)


def _finish(job: _Job) -> tuple[Document, list[str]]:
    notes: list[str] = []
    pages = None
    if job.kind == "pdf":
        assert isinstance(job.payload, bytes)
        media, text, pages, meta = PDF, *_pdf_text(job.payload, job.document, notes)
    elif job.kind == "docx":
        assert isinstance(job.payload, bytes)
        media, (text, meta) = DOCX, _docx_text(job.payload)
    else:
        assert isinstance(job.payload, str)
        media, (text, meta) = HTML, _html_text(job.payload, job.document, notes)
    doc = Document(
        document=job.document, sha256=job.sha256, bytes=job.bytes, media_type=media, text=text,
        encoding=job.encoding, pages=pages, published=meta.published, url=meta.url, title=meta.title,
    )
    return doc, notes


def _finish_in_worker(job: _Job) -> tuple[Document | None, list[str], str | None]:
    """_finish for a worker process: the reason travels back as a string, not an exception.

    Any error of a parser (a bug, a recursion, memory) rejects this file with the cause, never the run;
    so does a file that takes longer than the time budget (``pipeline.workers.time_budget``).
    """
    from pipeline.workers import DocumentTimeout, time_budget

    try:
        with time_budget():
            doc, notes = _finish(job)
    except DocumentError as exc:
        return None, [], str(exc)
    except DocumentTimeout as exc:
        return None, [], str(exc)
    except Exception as exc:  # noqa: BLE001 -- the point: one file's failure is that file's reason
        return None, [], unexpected_reason(exc)
    return doc, notes, None


def unexpected_reason(exc: BaseException) -> str:
    """The reason for a file whose reading failed in a way no rule foresaw: the error, named."""
    kind = "not enough memory" if isinstance(exc, MemoryError) else type(exc).__name__
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"cannot be read: {kind}{': ' + detail if detail else ''}"


def _check_chars(n: int, what: str = "text") -> None:
    if n > MAX_CHARS:
        raise DocumentError(f"{what} too long: more than {MAX_CHARS:,} characters (a decompression bomb?)")


@dataclass(frozen=True)
class _Meta:
    title: str | None = None
    published: date | None = None
    url: str | None = None
    too_deep: bool = False  # an HTML page nested past lxml's depth limit


# --------------------------------------------------------------------------------------------------
# Type by content


def _archive(kind: str) -> str:
    return f"archive ({kind}) is not supported; unpack it into the raw folder"


def _binary(kind: str) -> str:
    return f"binary file ({kind}) is not supported"


# (magic bytes at offset 0, reason). Checked in order; the first match wins.
_MAGIC: list[tuple[bytes, str]] = [
    (b"\x1f\x8b", _archive("gzip")),
    (b"\xfd7zXZ\x00", _archive("xz")),
    (b"7z\xbc\xaf\x27\x1c", _archive("7z")),
    (b"Rar!\x1a\x07", _archive("rar")),
    (b"\x28\xb5\x2f\xfd", _archive("zstd")),
    (b"MSCF\x00\x00\x00\x00", _archive("cab")),
    (b"\x89PNG\r\n\x1a\n", _binary("PNG image")),
    (b"\xff\xd8\xff", _binary("JPEG image")),
    (b"GIF87a", _binary("GIF image")),
    (b"GIF89a", _binary("GIF image")),
    (b"II*\x00", _binary("TIFF image")),
    (b"MM\x00*", _binary("TIFF image")),
    (b"\x00\x00\x01\x00", _binary("icon image")),
    (b"\x7fELF", _binary("ELF executable")),
    (b"\xfe\xed\xfa\xce", _binary("Mach-O executable")),
    (b"\xfe\xed\xfa\xcf", _binary("Mach-O executable")),
    (b"\xce\xfa\xed\xfe", _binary("Mach-O executable")),
    (b"\xcf\xfa\xed\xfe", _binary("Mach-O executable")),
    (b"\xca\xfe\xba\xbe", _binary("Java class or Mach-O executable")),
    (b"\x00asm", _binary("WebAssembly module")),
    (b"SQLite format 3\x00", _binary("SQLite database")),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Microsoft Office document (DOC/XLS/PPT) is not supported; save it as DOCX or PDF"),
    (b"{\\rtf", "RTF document is not supported; save it as DOCX, PDF or plain text"),
    (b"%!PS", _binary("PostScript document")),
    (b"ID3", _binary("MP3 audio")),
    (b"OggS", _binary("Ogg audio/video")),
    (b"fLaC", _binary("FLAC audio")),
    (b"\x1aE\xdf\xa3", _binary("Matroska/WebM video")),
    (b"wOFF", _binary("WOFF font")),
    (b"wOF2", _binary("WOFF2 font")),
    (b"\x00\x01\x00\x00\x00", _binary("TrueType font")),
    (b"OTTO", _binary("OpenType font")),
]
# Signatures made of letters: a text file could start with them, so they count only with a zero byte near.
_WORDLIKE = frozenset({b"ID3", b"OggS", b"fLaC", b"wOFF", b"wOF2", b"OTTO"})
_RIFF = {b"WEBP": _binary("WebP image"), b"WAVE": _binary("WAV audio"), b"AVI ": _binary("AVI video")}


def _sniff_binary(raw: bytes) -> str | None:
    """'pdf' or 'docx' for the binary formats we read, None for (possibly) text; DocumentError otherwise."""
    pdf_at = raw.find(b"%PDF-", 0, 1024)
    if pdf_at == 0 or (pdf_at > 0 and (not raw[:pdf_at].strip() or b"\x00" in raw[:pdf_at])):
        return "pdf"
    if raw.startswith((b"PK\x03\x04", b"PK\x05\x06", b"PK\x07\x08")):
        return _sniff_zip(raw)
    for magic, reason in _MAGIC:
        if raw.startswith(magic) and (magic not in _WORDLIKE or b"\x00" in raw[:64]):
            raise DocumentError(reason)
    if raw.startswith(b"RIFF") and raw[8:12] in _RIFF:
        raise DocumentError(_RIFF[raw[8:12]])
    if raw[4:8] == b"ftyp":
        brand = raw[8:12]
        what = "HEIC/AVIF image" if brand in {b"heic", b"heix", b"mif1", b"avif"} else "MP4/QuickTime video"
        raise DocumentError(_binary(what))
    if raw[257:262] == b"ustar":
        raise DocumentError(_archive("tar"))
    if raw.startswith(b"BZh") and raw[4:10] == b"1AY&SY":
        raise DocumentError(_archive("bzip2"))
    if raw.startswith(b"BM") and b"\x00" in raw[:32]:
        raise DocumentError(_binary("BMP image"))
    if raw.startswith(b"MZ") and b"\x00" in raw[:64]:
        raise DocumentError(_binary("Windows executable"))
    return None


def _sniff_zip(raw: bytes) -> str:
    import io
    import zipfile

    try:
        names = zipfile.ZipFile(io.BytesIO(raw)).namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise DocumentError(f"corrupt zip archive: {exc}") from exc
    if "word/document.xml" in names:
        return "docx"
    if "[Content_Types].xml" in names and any(n.startswith("xl/") for n in names):
        raise DocumentError("office document (XLSX spreadsheet) is not supported; save it as PDF or CSV")
    if "[Content_Types].xml" in names and any(n.startswith("ppt/") for n in names):
        raise DocumentError("office document (PPTX presentation) is not supported; save it as PDF")
    if "mimetype" in names:
        mimetype = raw[30:90]
        if b"opendocument" in mimetype:
            raise DocumentError("office document (OpenDocument) is not supported; save it as DOCX or PDF")
        if b"epub" in mimetype:
            raise DocumentError("e-book (EPUB) is not supported")
    raise DocumentError(_archive("zip"))


# Control characters that do not occur in text (tab, newlines, form feed and escape are allowed).
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f]")


def _looks_binary(head: str) -> bool:
    return len(_CONTROL.findall(head)) > max(4, len(head) // 100)


# The text starts (after blanks, comments and an XML declaration) with a tag only HTML has.
_HTML_START = re.compile(
    r"\A\ufeff?(?:\s+|<!--.*?-->|<\?xml[^>]*>)*"
    r"<(?:!doctype\s+html|html|head|body|meta|title|link|base|script|style|div|p|article|section|main|"
    r"header|nav|h[1-6]|table|ul|ol|span|a|b|i|strong|em|br|img|font|center|form|iframe|noscript)\b",
    re.IGNORECASE | re.DOTALL,
)
_XML_START = re.compile(r"\A\ufeff?\s*(?:<\?xml[^>]*>\s*)?(?:<!--.*?-->\s*)*<(?:!DOCTYPE\s+)?([A-Za-z][\w:.-]*)", re.DOTALL)


def _refuse_markup(head: str) -> None:
    """XML that is not HTML (SVG, RSS, data files) is markup the extractor cannot read."""
    if not head.lstrip("\ufeff \t\r\n").startswith("<?xml"):
        return
    match = _XML_START.match(head)
    root = match.group(1).lower() if match else ""
    if root.endswith("svg"):
        raise DocumentError("image (SVG) is not supported")
    raise DocumentError(f"XML data{f' (<{root}>)' if root else ''} is not supported; only HTML pages are read")


# --------------------------------------------------------------------------------------------------
# Encodings


def _decode(raw: bytes) -> tuple[str, str]:
    """Text and encoding name. Byte-order marks decide first, then strict UTF-8, then a declared
    HTML charset, then legacy encodings (cp1252 for Western text, charset-normalizer for the rest)."""
    for bom, enc, name in (
        (codecs.BOM_UTF8, "utf-8", "utf-8-sig"),
        (codecs.BOM_UTF32_LE, "utf-32-le", "utf-32"),
        (codecs.BOM_UTF32_BE, "utf-32-be", "utf-32"),
        (codecs.BOM_UTF16_LE, "utf-16-le", "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16-be", "utf-16"),
    ):
        if raw.startswith(bom):
            try:
                return raw[len(bom):].decode(enc), name
            except UnicodeDecodeError as exc:
                raise DocumentError(
                    f"undecodable text: starts with a {name.upper()} byte-order mark but is not valid {name.upper()} "
                    f"({exc.reason} at byte {exc.start + len(bom)})"
                ) from exc
    head = raw[:_SNIFF]
    if b"\x00" in head:
        return _decode_utf16_without_bom(raw)
    try:
        return raw.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    declared = _declared_charset(head)
    if declared:
        try:
            return raw.decode(declared), declared
        except (UnicodeDecodeError, LookupError):
            pass
    return _decode_legacy(raw)


def _decode_utf16_without_bom(raw: bytes) -> tuple[str, str]:
    """Text saved as UTF-16 without a BOM has a zero in every other byte; anything else with zeros is binary."""
    head = raw[: _SNIFF - _SNIFF % 2]
    half = max(1, len(head) // 2)
    for enc, zeros in (("utf-16-le", head[1::2]), ("utf-16-be", head[0::2])):
        if zeros.count(0) >= 0.9 * half and len(raw) % 2 == 0:
            try:
                text = raw.decode(enc)
            except UnicodeDecodeError:
                break
            if not _looks_binary(text[:_SNIFF]):
                return text, enc
    raise DocumentError(_binary("unknown type"))


_META_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def _declared_charset(head: bytes) -> str | None:
    match = _META_CHARSET.search(head)
    if not match:
        return None
    try:
        info = codecs.lookup(match.group(1).decode("ascii"))
    except (LookupError, UnicodeDecodeError):
        return None
    if not getattr(info, "_is_text_encoding", True):  # rot13, base64, zlib, ...: codecs, not charsets
        return None
    name = info.name
    if name in {"iso8859-1", "ascii", "latin-1"}:  # browsers read these labels as windows-1252
        name = "cp1252"
    return None if name.startswith("utf") else name


def _decode_legacy(raw: bytes) -> tuple[str, str]:
    """Decode text that is not UTF-8.

    cp1252 first, when it reads the bytes and the result is Latin text with a few accents and
    typographic quotes: charset-normalizer alone names cp1250 or hp_roman8 for short English
    pages, because those decode the same bytes with equal 'chaos'. Text where most letters come
    out accented (Cyrillic, Greek, ... read as cp1252) goes to charset-normalizer.
    """
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        text = None
    if text is not None and _mostly_latin(text):
        return text, "cp1252"
    from charset_normalizer import from_bytes

    best = from_bytes(raw).best()
    if best is not None and best.chaos < 0.3:
        name = codecs.lookup(best.encoding).name
        try:
            return raw.decode(name), name
        except UnicodeDecodeError:
            pass
    raise DocumentError("undecodable text: not UTF-8, UTF-16 or a recognised legacy encoding")


def _mostly_latin(text: str) -> bool:
    sample = text[:100_000]
    letters = sum(1 for c in sample if c.isalpha())
    accented = sum(1 for c in sample if c.isalpha() and ord(c) > 0x7F)
    return letters > 0 and accented <= 0.25 * letters and not _looks_binary(sample[:_SNIFF])


# --------------------------------------------------------------------------------------------------
# HTML


_XML_DECL = re.compile(r"\A\ufeff?\s*<\?xml[^>]*\?>", re.IGNORECASE)
_SAVED_FROM = re.compile(r"<!--\s*saved from url=\(\d+\)(\S+?)\s*-->", re.IGNORECASE)
_TRAFILATURA = None


def _trafilatura():  # noqa: ANN202 - the module, imported on first use
    """trafilatura, imported on first use and set up for our pages.

    trafilatura drops any text element that is exactly a social-media name ('Facebook', 'Instagram',
    'WhatsApp', ...) to remove share buttons (``utils.RE_FILTER``). In our documents those names are
    the data: a table cell 'Instagram' next to its count would vanish. Share buttons are still removed
    by trafilatura's class/id rules; here only the platform names are taken out of that filter.
    """
    global _TRAFILATURA
    if _TRAFILATURA is None:
        import trafilatura
        import trafilatura.utils as tutils

        if hasattr(tutils, "RE_FILTER"):
            tutils.RE_FILTER = re.compile(
                r"\W*(Drucken|E-?Mail|Flipboard|Mail|PDF|Pocket|Print|Mehr zum Thema:?|More on this.{,8}$)$",
                flags=re.IGNORECASE,
            )
        _TRAFILATURA = trafilatura
    return _TRAFILATURA


def _html_text(html: str, name: str = "", notes: list[str] | None = None) -> tuple[str, _Meta]:
    """Main text of a page, reader comments excluded, with title/date/URL from its metadata.

    trafilatura's own metadata pass (author, licence, categories, ...) costs twice its text
    extraction; we need three fields, read by _page_meta.
    """
    trafilatura = _trafilatura()
    source = _XML_DECL.sub("", html, count=1)  # lxml refuses a str that declares its encoding
    meta = _page_meta(source, html)
    if meta.too_deep:
        # lxml (under trafilatura too) drops everything nested past 255 levels without a word; the
        # flat parser below has no depth, so the text is kept, and the warning says how it was read.
        if notes is not None:
            notes.append(f"{name}: HTML nested deeper than lxml's limit of 255 levels; its text was read without the page layout")
        text = _flat_html_text(source)
        if not text.strip():
            raise DocumentError("HTML page has no text (nested deeper than 255 levels)")
        return text, meta
    try:
        result = trafilatura.bare_extraction(source, include_comments=False, include_tables=True)
    except Exception:  # a parser bug must not stop the run; the fallback below still reads the page
        log.debug("trafilatura failed", exc_info=True)
        result = None
    text = (getattr(result, "text", None) or "") if result is not None else ""
    if not text.strip():
        text = _html_fallback_text(source)
    if not text.strip():
        raise DocumentError("HTML page has no text")
    return text, meta


# <meta> names and properties (lower case) that carry the publication date, best first.
_DATE_META = (
    "article:published_time", "og:article:published_time", "og:published_time", "datepublished",
    "citation_publication_date", "dc.date.issued", "dcterms.issued", "dc.date", "dcterms.date", "date",
    "pubdate", "publishdate", "publish-date", "publish_date", "publication_date", "sailthru.date",
    "parsely-pub-date", "article.published", "originalpublicationdate", "dc.date.created", "dcterms.created",
)
_JSONLD_DATE = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')


def _page_meta(source: str, html: str) -> _Meta:
    """Title, publication date and canonical URL from a page's metadata; never from its visible text
    (a copyright line or a date in a sidebar is not the publication date)."""
    import lxml.html
    from lxml.etree import ParserError

    parser = lxml.html.HTMLParser()
    try:
        root = lxml.html.document_fromstring(source, parser=parser)
    except (ParserError, ValueError):
        return _Meta()
    too_deep = any("Excessive depth" in e.message for e in parser.error_log)
    metas: dict[str, str] = {}
    for el in root.iter("meta"):
        key = (el.get("property") or el.get("name") or el.get("itemprop") or "").strip().lower()
        content = el.get("content")
        if key and content and key not in metas:
            metas[key] = content
    title = _clean(metas.get("og:title") or metas.get("twitter:title") or metas.get("dc.title"))
    if title is None:
        node = root.find(".//title")
        title = _clean(node.text_content() if node is not None else None)
    url = None
    for link in root.iter("link"):
        if (link.get("rel") or "").strip().lower() == "canonical" and (link.get("href") or "").startswith("http"):
            url = link.get("href", "").strip()
            break
    if url is None and (metas.get("og:url") or "").startswith("http"):
        url = metas["og:url"].strip()
    if url is None:
        saved = _SAVED_FROM.search(html[:_SNIFF])
        url = saved.group(1) if saved else None
    published = None
    for key in _DATE_META:
        published = _parse_date(metas.get(key))
        if published:
            break
    if published is None:
        for script in root.iter("script"):
            if (script.get("type") or "").lower() == "application/ld+json" and script.text:
                match = _JSONLD_DATE.search(script.text)
                if match and (published := _parse_date(match.group(1))):
                    break
    if published is None:
        for el in root.iter("time"):
            dated = el.get("itemprop") == "datePublished" or el.get("pubdate") is not None
            if dated and (published := _parse_date(el.get("datetime"))):
                break
    if published is None and metas.keys() & set(_DATE_META):  # a date in a format of its own
        published = _htmldate(root)
    return _Meta(title=title, published=published, url=url, too_deep=too_deep)


def _htmldate(root: object) -> date | None:
    try:
        from htmldate import find_date

        return _parse_date(find_date(root, extensive_search=False, original_date=True, outputformat="%Y-%m-%d"))
    except Exception:  # htmldate is an optional helper here: no date is better than a failed run
        return None


_DROP_TAGS = ("script", "style", "noscript", "template", "nav", "footer", "header", "aside", "form", "iframe", "svg", "button")
_BLOCK_TAGS = frozenset(
    "address article blockquote br dd div dl dt figcaption figure h1 h2 h3 h4 h5 h6 hr li main ol p pre "
    "section table td th tr ul".split()
)
_COMMENTS_ATTR = re.compile(r"(?:^|[\s_-])(?:comments?|commentlist|disqus|respond|replies|discussion)(?:$|[\s_-])", re.IGNORECASE)


def _html_fallback_text(html: str) -> str:
    """Visible text of <body> minus scripts, navigation, footers and comment sections.

    For short pages (a two-line press release) where trafilatura finds no 'main content'.
    """
    import lxml.html
    from lxml.etree import ParserError

    try:
        root = lxml.html.document_fromstring(html)
    except (ParserError, ValueError):
        return ""
    drop = list(root.iter(*_DROP_TAGS))
    drop += [
        el for el in root.iter()
        if isinstance(el.tag, str) and _COMMENTS_ATTR.search(f"{el.get('class', '')} {el.get('id', '')}")
    ]
    for el in drop:
        if el.getparent() is not None:
            el.drop_tree()
    body = root.find("body")
    body = root if body is None else body
    for el in body.iter():
        if isinstance(el.tag, str) and el.tag in _BLOCK_TAGS:
            el.tail = "\n" + (el.tail or "")
    lines = (" ".join(line.split()) for line in body.text_content().splitlines())
    return "\n".join(line for line in lines if line)


def _flat_html_text(html: str) -> str:
    """Visible text of a page read as a stream of tags (stdlib html.parser: no tree, so no depth limit).

    Scripts, styles, navigation, footers and elements whose class or id names a comment section are
    skipped with everything inside them; block elements end lines.
    """
    from html.parser import HTMLParser

    drop = set(_DROP_TAGS) | {"head", "title"}

    class Flat(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.parts: list[str] = []
            self.skipping: str | None = None  # the tag being skipped, and how deep in it we are
            self.depth = 0

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if self.skipping is not None:
                self.depth += tag == self.skipping
                return
            names = " ".join(v or "" for k, v in attrs if k in ("class", "id"))
            if tag in drop or (names and _COMMENTS_ATTR.search(names)):
                self.skipping, self.depth = tag, 1
            elif tag in _BLOCK_TAGS:
                self.parts.append("\n")

        def handle_endtag(self, tag: str) -> None:
            if self.skipping is not None:
                if tag == self.skipping:
                    self.depth -= 1
                    if self.depth == 0:
                        self.skipping = None
            elif tag in _BLOCK_TAGS:
                self.parts.append("\n")

        def handle_data(self, data: str) -> None:
            if self.skipping is None:
                self.parts.append(data)

    flat = Flat()
    flat.feed(html)
    flat.close()
    lines = (" ".join(line.split()) for line in "".join(flat.parts).splitlines())
    return "\n".join(line for line in lines if line)


def _clean(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    value = " ".join(value.split())
    return value or None


_ISO_DATE = re.compile(r"\A\s*(\d{4})-(\d{2})-(\d{2})")


def _parse_date(value: object) -> date | None:
    if not isinstance(value, str):
        return None
    match = _ISO_DATE.match(value)
    if not match:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


# --------------------------------------------------------------------------------------------------
# PDF and DOCX


def _pdf_text(raw: bytes, name: str, notes: list[str]) -> tuple[str, int, _Meta]:
    """The text layer, one form feed between pages, so pages can be counted back from a span."""
    import io

    import pypdf

    logging.getLogger("pypdf").addHandler(logging.NullHandler())  # reasons go to rejected_documents, not stderr
    try:
        reader = pypdf.PdfReader(io.BytesIO(raw))
        if reader.is_encrypted:
            try:
                opened = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types, e.g. when a crypto library is missing
                raise DocumentError(f"encrypted PDF cannot be opened: {exc}") from exc
            if not opened:
                raise DocumentError("encrypted PDF (password required) is not supported")
        page_list = list(reader.pages)
    except DocumentError:
        raise
    except Exception as exc:  # pypdf signals a damaged file with many exception types
        raise DocumentError(f"corrupt PDF: {type(exc).__name__}: {exc}") from exc
    if not page_list:
        raise DocumentError("PDF has no pages")
    if len(page_list) > MAX_PAGES:
        raise DocumentError(f"PDF too long: {len(page_list):,} pages, over the limit of {MAX_PAGES:,}")
    _check_pdf_contents(page_list)
    texts = []
    errors = []
    chars = 0
    for number, page in enumerate(page_list, 1):
        try:
            page_text = page.extract_text() or ""
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            notes.append(f"{name}: text of PDF page {number} could not be read ({errors[-1]}); page left empty")
            page_text = ""
        texts.append(_unwrap(page_text.replace("\f", "\n").replace("\x00", "")))
        chars += len(texts[-1]) + 1
        _check_chars(chars, "PDF text")
    if len(errors) == len(page_list):
        raise DocumentError(f"corrupt PDF: no page could be read ({errors[0]})")
    text = "\f".join(texts)
    if text.isspace() or not text.replace("\f", ""):
        raise DocumentError(NO_TEXT_LAYER_REASON)
    title = None
    try:
        title = _clean(reader.metadata.title if reader.metadata else None)
    except Exception:
        title = None
    if title and title.startswith("Microsoft Word - "):
        title = title[len("Microsoft Word - "):] or None
    return text, len(page_list), _Meta(title=title)


def _check_pdf_contents(pages: list[Any]) -> None:
    """Refuse a PDF whose pages' content streams, decompressed, add up to more than MAX_UNPACKED bytes.

    Every page's text is parsed from its streams, so 500 pages sharing one 10 MB stream cost 5 GB of
    parsing: shared streams count once per page that uses them (each is decompressed once here).
    """
    from pypdf.generic import ArrayObject, IndirectObject

    sizes: dict[tuple[int, int], int] = {}
    total = 0
    for page in pages:
        try:
            contents = page.get("/Contents")
            refs = contents if isinstance(contents, ArrayObject) else [contents] if contents is not None else []
            for ref in refs:
                key = (ref.idnum, ref.generation) if isinstance(ref, IndirectObject) else (id(ref), -1)
                if key not in sizes:
                    sizes[key] = len(ref.get_object().get_data())
                total += sizes[key]
        except Exception:  # noqa: BLE001 -- a damaged stream: the page's own text extraction reports it
            continue
        if total > MAX_UNPACKED:
            raise DocumentError(
                f"PDF too large when unpacked: its pages' content streams expand to more than {MAX_UNPACKED:,} bytes"
            )


# A PDF line break inside a sentence: the line does not end a sentence and the next starts in lower case.
_SOFT_BREAK = re.compile(r"(?<=[^\s.!?:;])([ \t]*)\n(?=[ \t]*\w)")


_LINKING_WORDS = frozenset("a an and as at by for from in into of on or per than that the to via with".split())


def _unwrap(page: str) -> str:
    """Join lines that a PDF wrapped mid-sentence, so 'offences of\\nsexual communication' reads as one
    phrase; headings, list items and table rows (next line capitalised or a number) keep their breaks.
    A word hyphenated across lines keeps its hyphen and loses the break ('well-\\nknown' -> 'well-known')."""

    def join(match: re.Match[str]) -> str:
        following = page[match.end():match.end() + 64].lstrip(" \t")
        if not following[:1].islower():
            last_word = page[max(0, match.start() - 8):match.start()].rsplit(None, 1)[-1:]
            if not (last_word and last_word[0] in _LINKING_WORDS):  # 'in England and\\nWales' still joins
                return match.group(0)
        before = page[match.start() - 1] if match.start() else ""
        return "" if before == "-" and not match.group(1) else match.group(1) or " "

    return _SOFT_BREAK.sub(join, page)


_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def _docx_text(raw: bytes) -> tuple[str, _Meta]:
    """Paragraphs of the main story, one per line (tables included, tracked deletions and field codes not)."""
    import io
    import xml.etree.ElementTree as ET
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as zf:
            info = zf.getinfo("word/document.xml")
            if info.file_size > MAX_UNPACKED:  # the size stated in the zip; zipfile reads no more than that
                raise DocumentError(f"DOCX too large when unpacked ({info.file_size:,} bytes, over {MAX_UNPACKED:,})")
            parts: list[str] = []
            chars = 0
            for _event, el in ET.iterparse(zf.open(info), events=("end",)):
                tag = el.tag
                if tag == _W + "t":
                    parts.append(el.text or "")
                    chars += len(parts[-1])
                    if chars > MAX_CHARS:
                        _check_chars(chars, "DOCX text")
                elif tag == _W + "tab":
                    parts.append("\t")
                elif tag in (_W + "br", _W + "cr"):
                    parts.append("\n")
                elif tag == _W + "p":
                    parts.append("\n")
                    el.clear()
            title = None
            if "docProps/core.xml" in zf.namelist() and zf.getinfo("docProps/core.xml").file_size <= 1 << 20:
                core = ET.fromstring(zf.read("docProps/core.xml"))
                node = core.find("{http://purl.org/dc/elements/1.1/}title")
                title = _clean(node.text if node is not None else None)
    except DocumentError:
        raise
    except (zipfile.BadZipFile, KeyError, ET.ParseError, OSError, ValueError, EOFError) as exc:
        raise DocumentError(f"corrupt DOCX: {exc}") from exc
    text = "".join(parts).rstrip("\n")
    if not text.strip():
        raise DocumentError("DOCX has no text")
    return text, _Meta(title=title)


# --------------------------------------------------------------------------------------------------
# The raw folder


@dataclass(frozen=True)
class _Entry:
    document: str  # relative path, '/' separated
    parts: tuple[str, ...]  # the names from the raw folder down, the file's last
    size: int = -1  # from the walk's lstat: with mtime_ns, what decides whether a file changed
    mtime_ns: int = 0


@dataclass(frozen=True)
class Known:
    """What an earlier ingest learnt, so that unchanged files are not read again (see ``ingest_stream``)."""

    files: Mapping[str, tuple[int, int, str]]  # path -> (size, mtime_ns, sha256) of files whose stat can be trusted
    outcomes: Mapping[str, str | None]  # sha256 -> None (it became a document) or the reason it was rejected


@dataclass
class IngestSummary:
    """What ``ingest_stream`` returns; the documents themselves went to its callbacks."""

    rejected: list[Rejected] = field(default_factory=list)
    rejected_mtime_ns: dict[str, int] = field(default_factory=dict)  # path -> mtime_ns, for the stat cache
    warnings: list[str] = field(default_factory=list)
    files_read: int = 0  # files whose content was read (hashed, sniffed)
    files_reused: int = 0  # files not opened: size and mtime equal to the earlier ingest's


MAX_DEPTH = 64  # folders nested deeper are one rejected row each, not walked (bounds open handles)


_WINDOW_JOBS = 512  # jobs held in memory at once in parallel mode
_WINDOW_BYTES = 256 * 1024 * 1024


def ingest(raw_dir: Path, *, max_bytes: int, workers: int = 0) -> IngestResult:
    """Walk raw_dir and read every file; see the module docstring.

    Paths are processed in sorted order, so the first copy of duplicated content is the one kept and
    the result does not depend on the file system's listing order.

    ``workers``: 1 reads everything in this process; N > 1 parses HTML, PDF and DOCX files in N
    worker processes; 0 (the default) uses a process per core once workers.PARALLEL_MIN_JOBS such files are
    waiting, so a folder of plain text never starts a pool. Reading, hashing, duplicate detection and
    plain text always happen here, in order.

    This holds every document in memory; ``ingest_stream`` hands them on one at a time instead.
    """
    raw_dir = Path(raw_dir)
    documents: list[Document] = []
    notes: list[str] = []

    def keep(doc: Document, doc_notes: list[str], _mtime_ns: int) -> None:
        documents.append(doc)
        notes.extend(doc_notes)

    summary = ingest_stream(raw_dir, max_bytes=max_bytes, workers=workers, on_document=keep)
    rows, warnings = load_sources(raw_dir, max_bytes)
    result = IngestResult(rejected=summary.rejected, warnings=[*summary.warnings, *notes, *warnings])
    result.documents = sorted((apply_sources(d, rows) for d in documents), key=lambda d: d.document)
    result.warnings += missing_sources_warnings(rows, [d.document for d in result.documents] + [r.document for r in result.rejected])
    return result


def ingest_stream(
    raw_dir: Path,
    *,
    max_bytes: int,
    workers: int = 0,
    known: Known | None = None,
    on_document: Callable[[Document, list[str], int], None],
    on_reused: Callable[[str, str, int], None] | None = None,
) -> IngestSummary:
    """Walk raw_dir like ``ingest``, handing each document to ``on_document(doc, notes, mtime_ns)`` as it
    is read (sources.csv not applied), so that no more than a window of documents is held at once.

    With ``known`` (from the previous ingest), a file whose size and mtime equal those recorded is not
    opened: its sha256 comes from ``known.files``. Content whose outcome is in ``known.outcomes`` is
    not parsed again: a document is handed to ``on_reused(path, sha256, mtime_ns)`` instead (the caller
    has its row), a rejection gets the same reason. The sha256 stays the key: duplicates are found as
    before. ``files_read`` and ``files_reused`` of the summary count the two kinds of file.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise FileNotFoundError(f"raw folder not found: {raw_dir}")
    if known is not None and on_reused is None:
        raise ValueError("ingest_stream: `known` needs `on_reused`")
    summary = IngestSummary()
    first: dict[str, str | Rejected] = {}  # sha256 -> its first path (a document) or what it became
    copies: dict[str, list[_Entry]] = {}  # sha256 -> later paths with the same content
    mtimes: dict[str, int] = {}  # sha256 -> mtime of the first path, while its job is pending

    def rejected(entry: _Entry, reason: str, sha: str | None, size: int | None, duplicate_of: str | None = None) -> None:
        summary.rejected.append(Rejected(entry.document, reason, sha, size, duplicate_of))
        summary.rejected_mtime_ns[entry.document] = entry.mtime_ns

    def finished(job: _Job, doc: Document | None, notes: list[str], reason: str | None) -> None:
        mtime = mtimes.pop(job.sha256)
        if doc is None:
            first[job.sha256] = Rejected(job.document, reason or "", job.sha256, job.bytes)
        else:
            on_document(doc, notes, mtime)

    with _RawTree(raw_dir) as tree, _Finisher(workers, on_done=finished) as finisher:
        entries = list(_walk(tree.fd, (), summary.rejected))
        entries.sort(key=lambda e: e.document)
        _name_rejected(summary.rejected, entries)
        for entry in entries:
            hit = known.files.get(entry.document) if known is not None else None
            raw: bytes | None = None
            if hit is not None and hit[0] == entry.size and hit[1] == entry.mtime_ns:
                sha, size = hit[2], entry.size
                summary.files_reused += 1
            else:
                try:
                    raw = tree.read(entry.parts, max_bytes)
                except DocumentError as exc:
                    rejected(entry, str(exc), None, exc.bytes)
                    continue
                summary.files_read += 1
                sha, size = (hashlib.sha256(raw).hexdigest() if raw else ""), len(raw)
            if sha in copies:
                copies[sha].append(replace(entry, size=size))
                continue
            copies[sha] = []
            if known is not None and sha in known.outcomes:
                reason = known.outcomes[sha]
                if reason is None:
                    first[sha] = entry.document
                    assert on_reused is not None
                    on_reused(entry.document, sha, entry.mtime_ns)
                else:
                    first[sha] = Rejected(entry.document, reason, sha or None, size)
                continue
            if raw is None:  # a known file whose content has no known outcome: read it after all
                summary.files_reused -= 1
                summary.files_read += 1
                try:
                    raw = tree.read(entry.parts, max_bytes)
                except DocumentError as exc:
                    rejected(entry, str(exc), None, exc.bytes)
                    continue
                sha = hashlib.sha256(raw).hexdigest() if raw else ""
            try:
                prepared = _prepare(raw, entry.document)
            except DocumentError as exc:
                first[sha] = Rejected(entry.document, str(exc), sha or None, len(raw))
                continue
            except Exception as exc:  # noqa: BLE001 -- one file's failure is that file's reason, not the run's
                first[sha] = Rejected(entry.document, unexpected_reason(exc), sha or None, len(raw))
                continue
            first[sha] = entry.document
            if isinstance(prepared, Document):
                on_document(prepared, [], entry.mtime_ns)
            else:
                mtimes[sha] = entry.mtime_ns
                finisher.submit(prepared)
        finisher.results()
    mtime_of = {e.document: e.mtime_ns for e in entries}
    for sha, outcome in first.items():
        if isinstance(outcome, str):
            for e in copies[sha]:
                rejected(e, f"duplicate of {outcome}", sha, e.size, duplicate_of=outcome)
        else:  # same content, same reason; there is no kept document to point to
            summary.rejected.append(outcome)
            summary.rejected_mtime_ns[outcome.document] = mtime_of[outcome.document]
            for e in copies[sha]:
                summary.rejected.append(replace(outcome, document=e.document, bytes=e.size))
                summary.rejected_mtime_ns[e.document] = e.mtime_ns
    summary.rejected.sort(key=lambda r: r.document)
    return summary


class _Finisher:
    """Runs _finish on jobs, here or in a process pool, holding a bounded window of jobs in memory."""

    def __init__(self, workers: int, on_done: Callable[[_Job, Document | None, list[str], str | None], None]) -> None:
        self.workers = workers
        self.pending: list[_Job] = []
        self.pending_bytes = 0
        self.on_done = on_done  # called with each finished job, in submission order
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> _Finisher:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)

    def submit(self, job: _Job) -> None:
        self.pending.append(job)
        self.pending_bytes += len(job.payload)
        if len(self.pending) >= _WINDOW_JOBS or self.pending_bytes >= _WINDOW_BYTES:
            self._flush()

    def results(self) -> None:
        """Finish every pending job."""
        self._flush()

    def _parallel(self, n_jobs: int) -> bool:
        if self.workers != 0:
            return self.workers > 1
        return self.pool is not None or worker_count(n_jobs) > 1

    def _flush(self) -> None:
        jobs, self.pending, self.pending_bytes = self.pending, [], 0
        if not jobs:
            return
        outputs = self._in_pool(jobs) if self._parallel(len(jobs)) else None
        if outputs is None:
            outputs = [_finish_in_worker(job) for job in jobs]
        for job, out in zip(jobs, outputs, strict=False):
            self.on_done(job, *out)

    def _in_pool(self, jobs: list[_Job]) -> list[tuple[Document | None, list[str], str | None]] | None:
        from concurrent.futures.process import BrokenProcessPool

        n = self.workers if self.workers > 1 else cores()
        if self.pool is None:
            self.pool = process_pool(n)
        try:
            return list(self.pool.map(_finish_in_worker, jobs, chunksize=max(1, len(jobs) // (n * 4))))
        except BrokenProcessPool:  # a worker died (out of memory, a crash in a parser): read here instead
            log.warning("ingest worker pool failed; reading %d files in the main process", len(jobs))
            self.pool.shutdown(cancel_futures=True)
            self.pool = None
            self.workers = 1
            return None


def _walk(
    fd: int, parts: tuple[str, ...], rejected: list[Rejected], *, hidden: str | None = None
) -> Iterable[_Entry]:
    """Regular files below the folder open as ``fd``; links, hidden and special entries are rejected, never followed.

    Sub-folders are opened relative to ``fd`` (O_NOFOLLOW | O_DIRECTORY), never by path, so a folder
    swapped for a link during the walk is refused. Each file inside a hidden folder gets its own row,
    so that every file under the raw folder is accounted for one by one; ``hidden`` is the name of the
    hidden folder above, if any. Rejected rows carry the names as the OS gave them; _name_rejected
    escapes the undecodable ones afterwards.
    """
    prefix = "".join(p + "/" for p in parts)
    try:
        with os.scandir(fd) as it:
            listing = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        if not parts:  # the raw folder itself: nothing can be ingested, which is the run's failure
            raise OSError(exc.errno, f"cannot list the raw folder: {_os_error(exc)}") from exc
        rejected.append(Rejected(prefix.rstrip("/"), f"cannot read folder: {_os_error(exc)}"))
        return
    for entry in listing:
        rel = prefix + entry.name
        try:
            if not parts and entry.name == MANIFEST:
                continue  # not an input, whatever it is; load_sources reads (or refuses) it
            if entry.is_symlink():
                rejected.append(Rejected(rel, SYMLINK_REASON))
            elif entry.is_dir(follow_symlinks=False):
                if len(parts) + 1 >= MAX_DEPTH:
                    rejected.append(Rejected(rel, f"folder nested deeper than {MAX_DEPTH} levels; not walked"))
                    continue
                try:
                    sub = open_folder(entry.name, fd)
                except OSError as exc:  # e.g. swapped for a link since it was listed
                    rejected.append(Rejected(rel, _walk_folder_error(entry.name, fd, exc)))
                    continue
                try:
                    below = hidden or (entry.name if entry.name.startswith(".") else None)
                    yield from _walk(sub, (*parts, entry.name), rejected, hidden=below)
                finally:
                    os.close(sub)
            elif entry.is_file(follow_symlinks=False):
                if not _valid_name(rel):
                    rejected.append(Rejected(rel, "file name is not valid UTF-8; rename the file"))
                elif hidden:
                    rejected.append(Rejected(rel, hidden_folder_reason(hidden)))
                elif entry.name.startswith("."):
                    rejected.append(Rejected(rel, HIDDEN_FILE_REASON))
                else:
                    st = entry.stat(follow_symlinks=False)
                    yield _Entry(rel, (*parts, entry.name), st.st_size, st.st_mtime_ns)
            else:
                rejected.append(Rejected(rel, _special_file_reason(entry.stat(follow_symlinks=False).st_mode)))
        except OSError as exc:
            rejected.append(Rejected(rel, f"cannot read file: {_os_error(exc)}"))


def _walk_folder_error(name: str, parent: int, exc: OSError) -> str:
    import errno

    if _is_link(name, parent):
        return SYMLINK_REASON
    if exc.errno in (errno.ELOOP, errno.ENOTDIR):
        return "folder replaced during the run (by a symbolic link or a file); links are not followed"
    return f"cannot read folder: {_os_error(exc)}"


def _name_rejected(rejected: list[Rejected], entries: list[_Entry]) -> None:
    """Give the walk's rejected rows their stored names (see _stored_names), in place."""
    names = _stored_names([r.document for r in rejected] + [e.document for e in entries])
    rejected[:] = [replace(r, document=names[r.document]) for r in rejected]


def input_paths(raw_dir: Path) -> set[str]:
    """Every path ingest() must account for: each entry under raw_dir that is not a real folder.

    That is regular files, links (to files or folders, dangling or not) and special files, but not
    the manifest at the root; a folder that cannot be listed, or is nested deeper than MAX_DEPTH,
    counts as one input. Written with os.walk, apart from the ingest walk, so a check can compare
    the two: ``input_paths(raw) == {d.document for d in documents} | {r.document for r in rejected}``.
    """
    raw_dir = Path(raw_dir)
    found: set[str] = set()

    def unreadable(exc: OSError) -> None:
        if exc.filename is not None and Path(exc.filename) != raw_dir:
            found.add(Path(os.fsdecode(exc.filename)).relative_to(raw_dir).as_posix())

    for folder, dirs, files in os.walk(raw_dir, followlinks=False, onerror=unreadable):
        base = Path(folder).relative_to(raw_dir)
        prefix = "" if base.as_posix() == "." else base.as_posix() + "/"
        links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
        found.update(prefix + name for name in files + links)
        if len(base.parts) + 1 >= MAX_DEPTH:
            found.update(prefix + d for d in dirs if d not in links)
            dirs.clear()
    found.discard(MANIFEST)
    return set(_stored_names(found).values())


def hidden_folder_reason(folder: str) -> str:
    return f"in a hidden folder ({folder}); not ingested"


def _printable(rel: str) -> str:
    """A path as shown: undecodable bytes in a name (lone surrogates from the OS) become \\xNN escapes."""
    if _valid_name(rel):
        return rel
    return rel.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _stored_names(names: Iterable[str]) -> dict[str, str]:
    """The stored name of each path: itself if it is valid UTF-8, else its \\xNN escape (_printable).

    An escape can equal another path (b'a\\xff' and a file literally named 'a\\xff'), and a name must
    stay a key; an escape already taken gets ' (undecodable name N)' appended. Deterministic for a
    given set of names, so the ingest walk and input_paths agree.
    """
    names = set(names)
    taken = {n for n in names if _valid_name(n)}
    stored = {n: n for n in taken}
    for name in sorted(names - taken, key=lambda n: n.encode("utf-8", "surrogateescape")):
        base = candidate = _printable(name)
        number = 1
        while candidate in taken:
            number += 1
            candidate = f"{base} (undecodable name {number})"
        taken.add(candidate)
        stored[name] = candidate
    return stored


def _valid_name(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes come back from the OS as lone surrogates
        return False
    return True


# --------------------------------------------------------------------------------------------------
# The manifest, sources.csv


@dataclass(frozen=True)
class ManifestRow:
    file: str
    url: str | None = None
    outlet: str | None = None
    title: str | None = None
    published: date | None = None
    licence: str | None = None


def read_manifest(path: Path, *, max_bytes: int | None = None) -> tuple[dict[str, ManifestRow], list[str]]:
    """Rows of sources.csv keyed by the file path they describe (NFC, '/' separated), and warnings.

    Any column may be blank; a row with a malformed date keeps its other fields and its date is
    ignored (with a warning), so it falls back to the document's own metadata.
    """
    try:
        raw = _read_bytes(Path(path), max_bytes)
    except DocumentError as exc:
        return {}, [f"{MANIFEST} ignored: {exc}"]
    return _parse_manifest(raw)


def _parse_manifest(raw: bytes) -> tuple[dict[str, ManifestRow], list[str]]:
    import csv
    import io

    warnings: list[str] = []
    try:
        text, _ = _decode(raw) if raw else ("", "utf-8")
    except DocumentError as exc:
        return {}, [f"{MANIFEST} ignored: {exc}"]
    # csv.reader, not DictReader: 100,000 rows are parsed on every run that changes a document. The same
    # reading as DictReader's: a column named twice gives its last value, blank lines are no records.
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None) or []
    index = {str(c).strip().lower(): i for i, c in enumerate(header)}
    if "file" not in index:
        return {}, [f"{MANIFEST} ignored: it has no 'file' column (expected columns {', '.join(MANIFEST_COLUMNS)})"]
    rows: dict[str, ManifestRow] = {}
    wanted = {c: index.get(c) for c in ("file", "url", "outlet", "title", "published", "licence", "license")}
    records = (record for record in reader if record)
    for line, record in enumerate(records, 2):
        def value(column: str, record: list[str] = record) -> str | None:
            i = wanted[column]
            return _clean(record[i]) if i is not None and i < len(record) else None

        name = value("file")
        if not name:
            if any(v.strip() for v in record[: len(header)]):
                warnings.append(f"{MANIFEST} line {line} has no file name; row ignored")
            continue
        key = _manifest_key(name)
        published = None
        stated = value("published")
        if stated:
            published = _parse_manifest_date(stated)
            if published is None:
                warnings.append(f"{MANIFEST} line {line}: malformed published date {stated!r} for {name} (expected YYYY-MM-DD); ignored")
        if key in rows:
            warnings.append(f"{MANIFEST} line {line}: second row for {name}; the first row is used")
            continue
        rows[key] = ManifestRow(
            file=name, url=value("url"), outlet=value("outlet"), title=value("title"), published=published,
            licence=value("licence") or value("license"),
        )
    return rows, warnings


def _manifest_key(name: str) -> str:
    key = name.replace("\\", "/")
    while key.startswith("./"):
        key = key[2:]
    return unicodedata.normalize("NFC", key)


def _parse_manifest_date(value: str) -> date | None:
    text = value.strip()
    try:
        return date.fromisoformat(text[:10]) if re.fullmatch(r"\d{4}-\d{2}-\d{2}([T ].*)?", text) else None
    except ValueError:
        return None


def _read_manifest_at(tree: _RawTree, max_bytes: int) -> tuple[dict[str, ManifestRow], list[str]]:
    """The manifest at the root of the tree. Not an input, so never a rejected row: a link, a named
    pipe or an unreadable file is a warning naming it."""
    try:
        fd = os.open(MANIFEST, _FILE_FLAGS | _CLOEXEC, dir_fd=tree.fd)
    except FileNotFoundError:
        return {}, []
    except OSError as exc:
        reason = SYMLINK_REASON if _is_link(MANIFEST, tree.fd) else f"cannot read file: {_os_error(exc)}"
        return {}, [f"{MANIFEST} ignored: {reason}"]
    try:
        return _parse_manifest(_read_fd(fd, max_bytes))
    except DocumentError as exc:
        return {}, [f"{MANIFEST} ignored: {exc}"]


def load_sources(raw_dir: Path, max_bytes: int) -> tuple[dict[str, ManifestRow], list[str]]:
    """The rows of raw_dir/sources.csv (none if it is missing) and the warnings reading it gave."""
    with _RawTree(Path(raw_dir)) as tree:
        return _read_manifest_at(tree, max_bytes)


def missing_sources_warnings(rows: Mapping[str, ManifestRow], paths: Iterable[str]) -> list[str]:
    """A warning for each row of sources.csv naming a file that is not under the raw folder."""
    if not rows:
        return []
    known = {_manifest_key(p) for p in paths}
    return [f"{MANIFEST} names missing file {row.file}" for key, row in rows.items() if key not in known]


def apply_sources(doc: Document, rows: Mapping[str, ManifestRow]) -> Document:
    """The document with the metadata its sources.csv row gives (the row's values win)."""
    row = rows.get(_manifest_key(doc.document))
    if row is None:
        return doc
    return replace(doc, **sourced({f: getattr(doc, f) for f in SOURCED_FIELDS}, row))


SOURCED_FIELDS = ("url", "outlet", "title", "published", "licence")  # what a sources.csv row may set


def sources_row(rows: Mapping[str, ManifestRow], document: str) -> ManifestRow | None:
    """The row of sources.csv that names ``document`` (a path relative to the raw folder), if any."""
    return rows.get(_manifest_key(document))


def sourced(own: Mapping[str, Any], row: ManifestRow | None) -> dict[str, Any]:
    """``SOURCED_FIELDS`` of a document whose own values are ``own`` once its sources.csv ``row`` is applied:
    the row's values win where it gives one."""
    if row is None:
        return {f: own[f] for f in SOURCED_FIELDS}
    return {f: getattr(row, f) or own[f] for f in SOURCED_FIELDS}


EVAL_SIDECARS = frozenset({"gold.jsonl", "index.jsonl"})  # beside an eval corpus's documents, not documents


def read_paths(paths: Iterable[Path], *, max_bytes: int, workers: int = 0) -> IngestResult:
    """The documents of files and folders named on a command line, read as ``pipeline run`` reads its
    raw folder, so a document has the same name, text and metadata (sources.csv) wherever it is read.

    A folder is ingested like the raw folder, with its sources.csv (its eval sidecars, gold.jsonl and
    index.jsonl at the top, are skipped); its documents are named relative to it and its rejected
    files by their path. A file gets the row of the nearest sources.csv above it that names it, and
    is then named relative to that folder, as a run on that folder names it.
    """
    out = IngestResult()
    for path in map(Path, paths):
        if path.is_dir():
            got = ingest(path, max_bytes=max_bytes, workers=workers)
            out.documents += [d for d in got.documents if d.document not in EVAL_SIDECARS]
            out.rejected += [replace(r, document=str(path / r.document)) for r in got.rejected]
            out.warnings += got.warnings
            continue
        try:
            out.documents.append(_read_named_file(path, max_bytes))
        except (DocumentError, OSError) as exc:
            out.rejected.append(Rejected(document=str(path), reason=str(exc)))
    return out


def _read_named_file(path: Path, max_bytes: int) -> Document:
    doc = read_document(path, document=path.name, max_bytes=max_bytes)
    absolute = path.absolute()
    for folder in absolute.parents:
        if (folder / MANIFEST).is_file():
            rows, _ = read_manifest(folder / MANIFEST, max_bytes=max_bytes)
            name = absolute.relative_to(folder).as_posix()
            if _manifest_key(name) in rows:
                return apply_sources(replace(doc, document=name), rows)
    return doc
