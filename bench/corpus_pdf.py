"""PDFs of the corpus: text-layer reports, reportlab ordonnances, image-only scans.

A population holds about a million PDFs, so the usual producer (reportlab, about 2 ms a
page here) would dominate its generation. Reports are written by a small direct writer
instead (PDF 1.4, standard Helvetica in WinAnsiEncoding, Flate content streams: a real
text layer that pypdf and pdftotext read, accents included) at a fraction of that cost;
ordonnances and certificates, one page each, come from reportlab so that the population
also holds another producer's object layout. Scans are PDFs that only embed JPEG pages
(DCTDecode, passed through untouched): no font, no text layer.
"""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from bench.corpus_text import WRAP, Report, fr_date, patient_line, wrap

PAGE_W, PAGE_H = 595, 842  # A4 in points
MARGIN = 56
BOTTOM = 60
PRODUCER = "dmp-kiosk bench corpus"


@dataclass(frozen=True, slots=True)
class Run:
    """One piece of text placed on a page."""

    x: float
    font: str  # "F1" Helvetica, "F2" Helvetica-Bold
    size: float
    text: str


Line = tuple[float, list[Run]]  # (leading before the line, its runs)

# Column starts (fractions of the text width) by number of table columns.
COLUMNS = {
    2: (0.0, 0.5),
    3: (0.0, 0.45, 0.85),
    4: (0.0, 0.42, 0.6, 0.75),
    5: (0.0, 0.3, 0.5, 0.65, 0.8),
}
TEXT_W = PAGE_W - 2 * MARGIN


def _table_lines(cells: Sequence[str], font: str) -> list[list[Run]]:
    """A table row as one or more lines: a long cell wraps within its column."""
    starts = COLUMNS.get(len(cells)) or tuple(i / len(cells) for i in range(len(cells)))
    columns = []
    for i, cell in enumerate(cells):
        end = starts[i + 1] if i + 1 < len(starts) else 1.0
        # 9 pt Helvetica: about 5 pt a character, capitals included, and a gap.
        chars = max(int((end - starts[i]) * TEXT_W / 5.0) - 2, 4)
        columns.append(wrap(cell, chars))
    return [
        [
            Run(MARGIN + starts[i] * TEXT_W, font, 9, parts[k])
            for i, parts in enumerate(columns)
            if k < len(parts)
        ]
        for k in range(max(len(parts) for parts in columns))
    ]


def layout(report: Report) -> list[Line]:
    """The report as positioned lines, top to bottom (pages are cut by the writer)."""
    lines: list[Line] = []
    for i, head in enumerate(report.letterhead):
        lines.append(
            (
                14 if i == 0 else 11,
                [Run(MARGIN, "F2" if i == 0 else "F1", 11 if i == 0 else 9, head)],
            )
        )
    lines.append((30, [Run(MARGIN, "F2", 14, report.title)]))
    lines.append((18, [Run(MARGIN, "F1", 9, patient_line(report.ctx))]))
    lines.append((11, [Run(MARGIN, "F1", 9, f"Date : {fr_date(report.ctx.when)}")]))
    for section in report.sections:
        lines.append((22, [Run(MARGIN, "F2", 11, section.title)]))
        for para in section.paragraphs:
            for k, part in enumerate(wrap(para, WRAP)):
                lines.append((16 if k == 0 else 12.5, [Run(MARGIN, "F1", 10, part)]))
        if section.header:
            for k, runs in enumerate(_table_lines(section.header, "F2")):
                lines.append((16 if k == 0 else 11, runs))
            for row in section.rows:
                for k, runs in enumerate(_table_lines(row, "F1")):
                    lines.append((12 if k == 0 else 10.5, runs))
    if report.signature:
        lines.append((30, [Run(PAGE_W - MARGIN - 180, "F2", 10, report.signature)]))
    return lines


def paginate(lines: list[Line]) -> list[list[tuple[float, list[Run]]]]:
    """Lines with absolute y positions, cut into pages."""
    pages: list[list[tuple[float, list[Run]]]] = [[]]
    y = float(PAGE_H - MARGIN + 14)
    for leading, runs in lines:
        y -= leading
        if y < BOTTOM:
            pages.append([])
            y = PAGE_H - MARGIN
        pages[-1].append((y, runs))
    return pages


def _pdf_string(text: str) -> bytes:
    """A PDF literal string in WinAnsiEncoding (Windows-1252: French accents, œ, €)."""
    raw = text.encode("cp1252", "replace")
    if b"\\" in raw:
        raw = raw.replace(b"\\", b"\\\\")
    if b"(" in raw or b")" in raw:
        raw = raw.replace(b"(", b"\\(").replace(b")", b"\\)")
    return b"(" + raw + b")"


def _pdf_date(when: datetime) -> bytes:
    return f"D:{when:%Y%m%d%H%M%S}+00'00'".encode()


class _Writer:
    """Objects numbered in order of creation; the xref is built from their offsets."""

    def __init__(self) -> None:
        self.objects: list[bytes] = []

    def reserve(self) -> int:
        self.objects.append(b"")
        return len(self.objects)

    def set(self, number: int, body: bytes) -> None:
        self.objects[number - 1] = body

    def add(self, body: bytes) -> int:
        self.objects.append(body)
        return len(self.objects)

    def stream(self, head: bytes, data: bytes) -> int:
        return self.add(
            b"<<"
            + head
            + b"/Length "
            + str(len(data)).encode()
            + b">>\nstream\n"
            + data
            + b"\nendstream"
        )

    def finish(self, root: int, info: int) -> bytes:
        out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
        offsets = []
        for i, body in enumerate(self.objects, start=1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(self.objects) + 1)
        out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
        # A stable document id: the same document is the same bytes.
        doc_id = hashlib.md5(bytes(out), usedforsecurity=False).hexdigest().encode()
        out += b"trailer\n<</Size %d/Root %d 0 R/Info %d 0 R/ID[<%s><%s>]>>\n" % (
            len(self.objects) + 1,
            root,
            info,
            doc_id,
            doc_id,
        )
        out += b"startxref\n%d\n%%%%EOF\n" % xref
        return bytes(out)


def _info(w: _Writer, title: str, when: datetime) -> int:
    return w.add(
        b"<</Title" + _pdf_string(title) + b"/Producer" + _pdf_string(PRODUCER)
        + b"/CreationDate(" + _pdf_date(when) + b")>>"
    )  # fmt: skip


def report_pdf(report: Report) -> tuple[bytes, int]:
    """(PDF bytes, page count): the report with a real text layer."""
    pages = paginate(layout(report))
    w = _Writer()
    catalog = w.reserve()
    pages_obj = w.reserve()
    regular = w.add(b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica/Encoding/WinAnsiEncoding>>")
    bold = w.add(b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica-Bold/Encoding/WinAnsiEncoding>>")
    resources = b"<</Font<</F1 %d 0 R/F2 %d 0 R>>>>" % (regular, bold)
    kids = []
    total = len(pages)
    for number, page in enumerate(pages, start=1):
        ops = [b"BT"]
        font: tuple[str, float] | None = None
        for y, runs in page:
            for run in runs:
                if font != (run.font, run.size):
                    font = (run.font, run.size)
                    ops.append(b"/%s %g Tf" % (run.font.encode(), run.size))
                ops.append(b"1 0 0 1 %.1f %.1f Tm %s Tj" % (run.x, y, _pdf_string(run.text)))
        ops.append(
            b"/F1 8 Tf 1 0 0 1 %d 30 Tm (Page %d/%d) Tj" % (PAGE_W - MARGIN - 40, number, total)
        )
        ops.append(b"ET")
        content = w.stream(b"/Filter/FlateDecode", zlib.compress(b"\n".join(ops), 6))
        kids.append(
            w.add(
                b"<</Type/Page/Parent %d 0 R/MediaBox[0 0 %d %d]/Resources %s/Contents %d 0 R>>"
                % (pages_obj, PAGE_W, PAGE_H, resources, content)
            )
        )
    w.set(
        pages_obj,
        b"<</Type/Pages/Kids[%s]/Count %d>>" % (b" ".join(b"%d 0 R" % k for k in kids), total),
    )
    w.set(catalog, b"<</Type/Catalog/Pages %d 0 R>>" % pages_obj)
    return w.finish(catalog, _info(w, report.title, report.ctx.when)), total


@dataclass(frozen=True, slots=True)
class ScanPage:
    """A JPEG of a scanned page, embedded as is."""

    jpeg: bytes
    width: int
    height: int
    gray: bool


def image_pdf(pages: Sequence[ScanPage], title: str, when: datetime) -> bytes:
    """A scanner's PDF: one full-page image per page, no text layer."""
    w = _Writer()
    catalog = w.reserve()
    pages_obj = w.reserve()
    kids = []
    for page in pages:
        space = b"/DeviceGray" if page.gray else b"/DeviceRGB"
        image = w.stream(
            b"/Type/XObject/Subtype/Image/Width %d/Height %d/ColorSpace%s/BitsPerComponent 8"
            b"/Filter/DCTDecode" % (page.width, page.height, space),
            page.jpeg,
        )
        content = w.stream(b"", b"q %d 0 0 %d 0 0 cm /Im0 Do Q" % (PAGE_W, PAGE_H))
        kids.append(
            w.add(
                b"<</Type/Page/Parent %d 0 R/MediaBox[0 0 %d %d]"
                b"/Resources<</XObject<</Im0 %d 0 R>>>>/Contents %d 0 R>>"
                % (pages_obj, PAGE_W, PAGE_H, image, content)
            )
        )
    w.set(
        pages_obj,
        b"<</Type/Pages/Kids[%s]/Count %d>>" % (b" ".join(b"%d 0 R" % k for k in kids), len(kids)),
    )
    w.set(catalog, b"<</Type/Catalog/Pages %d 0 R>>" % pages_obj)
    return w.finish(catalog, _info(w, title, when))


def reportlab_pdf(report: Report) -> tuple[bytes, int]:
    """A one-page document laid out by reportlab (ordonnances, certificates).

    `invariant` fixes the dates and ids reportlab would otherwise take from the clock.
    """
    from reportlab import rl_config
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    buf = io.BytesIO()
    # ASCII85 on top of Flate costs a third of the time without the C accelerator (which
    # is an optional package) and makes streams bigger: binary streams, like most PDFs.
    previous, rl_config.useA85 = rl_config.useA85, 0
    try:
        c = canvas.Canvas(buf, pagesize=A4, invariant=1, pageCompression=1)
        c.setTitle(report.title)
        c.setProducer(PRODUCER)
        pages = paginate(layout(report))
        for number, page in enumerate(pages, start=1):
            # A rule under the letterhead, as practice software prints it.
            c.setLineWidth(0.6)
            c.line(MARGIN, PAGE_H - MARGIN - 40, PAGE_W - MARGIN, PAGE_H - MARGIN - 40)
            for y, runs in page:
                for run in runs:
                    c.setFont("Helvetica-Bold" if run.font == "F2" else "Helvetica", run.size)
                    c.drawString(run.x, y, run.text)
            c.setFont("Helvetica", 8)
            c.drawString(PAGE_W - MARGIN - 40, 30, f"Page {number}/{len(pages)}")
            c.showPage()
        c.save()
    finally:
        rl_config.useA85 = previous  # a process-wide setting: leave it as found
    return buf.getvalue(), len(pages)
