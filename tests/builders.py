"""Files the tests write themselves: small real PDFs, DOCX packages and images, made at test time."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib


def make_pdf(pages: list[str], *, title: str | None = None, user_password: str | None = None) -> bytes:
    """A real PDF with one page per string; an empty string makes a page with a drawing and no text, like a scan."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=12)
    if title:
        pdf.set_title(title)
    for text in pages:
        pdf.add_page()
        if text:
            pdf.multi_cell(0, 8, text)
        else:
            pdf.rect(20, 20, 100, 60)
    if user_password:
        pdf.set_encryption(owner_password="owner", user_password=user_password)
    return bytes(pdf.output())


def make_docx(paragraphs: list[str], *, title: str | None = None) -> bytes:
    """A minimal Word package: the parts a reader needs, one <w:p> per paragraph."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{p}</w:t></w:r></w:p>' for p in paragraphs)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types xmlns='http://schemas.openxmlformats.org/package/2006/content-types'/>")
        zf.writestr("word/document.xml", f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>')
        if title:
            zf.writestr(
                "docProps/core.xml",
                "<cp:coreProperties xmlns:cp='http://schemas.openxmlformats.org/package/2006/metadata/core-properties' "
                f"xmlns:dc='http://purl.org/dc/elements/1.1/'><dc:title>{title}</dc:title></cp:coreProperties>",
            )
    return buf.getvalue()


def make_zip(files: dict[str, str]) -> bytes:
    """A zip archive holding the given names and contents."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content in files.items():
            zf.writestr(name, content)
    return buf.getvalue()


def tiny_png() -> bytes:
    """A valid 1x1 PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 0, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(b"\x00\x00"))
        + chunk(b"IEND", b"")
    )


def make_shared_stream_pdf(pages: int, stream_repeats: int) -> bytes:
    """A PDF whose pages all draw one content stream: small on disk (deflated), huge to parse page by page."""
    line = b"BT /F1 12 Tf 72 720 Td (Police recorded 1,234 offences of grooming on Facebook.) Tj ET\n"
    content = zlib.compress(line * stream_repeats, 9)
    kids = " ".join(f"{4 + i} 0 R" for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(content) + content + b"\nendstream",
    ]
    font = 4 + pages
    for _ in range(pages):
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R "
            f"/Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def make_docx_bomb(unpacked_bytes: int) -> bytes:
    """A DOCX whose document.xml is one long run of text: deflated to about a thousandth of its size."""
    w = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    paragraph = "<w:p><w:r><w:t>" + "Police recorded 1,234 offences. " * 30 + "</w:t></w:r></w:p>"
    body = paragraph * (unpacked_bytes // len(paragraph) + 1)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        zf.writestr("[Content_Types].xml", "<Types xmlns='http://schemas.openxmlformats.org/package/2006/content-types'/>")
        zf.writestr("word/document.xml", f'<w:document xmlns:w="{w}"><w:body>{body}</w:body></w:document>')
    return buf.getvalue()
