"""Scans and photographs for the OCR tests: French text drawn with a real font (Debian's
fonts-dejavu-core), as a photograph (PNG/JPEG/TIFF) or a scanned PDF (an image in a PDF,
no text layer)."""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
A4_POINTS = (595, 842)
REPORT = [
    "Compte rendu de consultation",
    "Hypertension artérielle sévère",
    "Traitement : amlodipine 5 mg le matin",
    "Créatinine élevée, contrôle dans un mois",
]


def font(size: int) -> ImageFont.FreeTypeFont:
    assert FONT.exists(), f"{FONT} missing: apt-get install fonts-dejavu-core"
    return ImageFont.truetype(str(FONT), size)


def page(lines: list[str], size: tuple[int, int] = (1654, 2339)) -> Image.Image:
    """A white page (A4 at 200 DPI by default) with `lines` typed on it."""
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    typeface = font(40)
    for i, line in enumerate(lines):
        draw.text((120, 150 + i * 90), line, fill=0, font=typeface)
    return image


def photo(lines: list[str] = REPORT, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    page(lines, (1500, 120 + 90 * len(lines))).save(out, fmt)
    return out.getvalue()


def scanned_pdf(pages: list[list[str]]) -> bytes:
    """A PDF whose pages are images only, as a scanner makes them: no text layer."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4_POINTS)
    for lines in pages:
        png = io.BytesIO()
        page(lines).save(png, "PNG")
        pdf.drawImage(ImageReader(png), 0, 0, width=A4_POINTS[0], height=A4_POINTS[1])
        pdf.showPage()
    pdf.save()
    return out.getvalue()
