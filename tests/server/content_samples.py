"""Real sample files for the content tests, built in code: PDFs with and without a text
layer (reportlab), an encrypted PDF (pypdf), images with EXIF and GPS (Pillow's Exif
API), and hostile files (truncated, zip-bomb stream, XXE, pixel bomb...). The CDA and
FHIR samples are hand-written files in samples/."""

from __future__ import annotations

import base64
import io
import zlib
from pathlib import Path

from PIL import ExifTags, Image
from PIL.PngImagePlugin import PngInfo
from pypdf import PdfReader, PdfWriter
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas

SAMPLES = Path(__file__).parent / "samples"
CDA = (SAMPLES / "cda_structured.xml").read_bytes()
FHIR = (SAMPLES / "fhir_dispensation.json").read_bytes()
GPS = {
    ExifTags.GPS.GPSLatitudeRef: "N",
    ExifTags.GPS.GPSLatitude: (48.0, 51.0, 24.0),
    ExifTags.GPS.GPSLongitudeRef: "E",
    ExifTags.GPS.GPSLongitude: (2.0, 21.0, 7.0),
}


def text_pdf(*pages: str) -> bytes:
    """A PDF whose pages carry these lines in their text layer."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    for page in pages:
        y = 780
        for line in page.splitlines():
            pdf.drawString(72, y, line)
            y -= 16
        pdf.showPage()
    pdf.save()
    return out.getvalue()


def scanned_pdf() -> bytes:
    """A PDF with a picture of a page and no text layer, as a scanner makes."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    pdf.drawImage(ImageReader(Image.new("L", (60, 80), 200)), 72, 500, 120, 160)
    pdf.showPage()
    pdf.save()
    return out.getvalue()


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(text_pdf("Secret"))))
    writer.encrypt("motdepasse")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def raw_pdf(*objects: bytes) -> bytes:
    """A PDF written by hand, object by object, with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def bomb_pdf(inflated: int = 200_000_000) -> bytes:
    """One page whose content stream is a few hundred kB of FlateDecode inflating to
    `inflated` bytes of text operators."""
    operators = b"BT (a) Tj ET "
    stream = zlib.compress(operators * (inflated // len(operators)), 9)
    return raw_pdf(
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200]"
        b" /Resources << /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"
        b" >> >> /Contents 4 0 R >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    )


def photo(
    kind: str = "JPEG", size: tuple[int, int] = (40, 20), *, orientation: int | None = 6
) -> bytes:
    """A phone photograph: EXIF with its maker, an orientation and a GPS position, and a
    comment (JPEG) or text chunk (PNG)."""
    image = Image.new("RGB", size, (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "PhoneMaker"
    if orientation is not None:
        exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.IFD.GPSInfo] = GPS
    out = io.BytesIO()
    extra: dict[str, object] = {"exif": exif}
    if kind == "TIFF":
        # Pillow writes no GPS directory into a TIFF: its maker, orientation and
        # description (where people write where they are) stand for the metadata.
        extra = {"tiffinfo": {271: "PhoneMaker", 270: "chez moi, 12 rue des Lilas"}}
        if orientation is not None:
            extra["tiffinfo"][274] = orientation  # type: ignore[index]
    if kind == "JPEG":
        extra["comment"] = b"chez moi, 12 rue des Lilas"
    if kind == "PNG":
        info = PngInfo()
        info.add_text("Comment", "chez moi, 12 rue des Lilas")
        extra["pnginfo"] = info
    image.save(out, kind, **extra)
    return out.getvalue()


def pixel_bomb_png(side: int = 20_000) -> bytes:
    """A small PNG declaring side x side pixels (one colour compresses to almost nothing)."""
    out = io.BytesIO()
    Image.new("1", (side, side), 0).save(out, "PNG", optimize=True)
    return out.getvalue()


def cda_with_pdf(pdf: bytes, media_type: str = "application/pdf") -> bytes:
    encoded = base64.b64encode(pdf).decode()
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <title>Compte rendu d'hospitalisation</title>
  <component>
    <nonXMLBody>
      <text mediaType="{media_type}" representation="B64">{encoded}</text>
    </nonXMLBody>
  </component>
</ClinicalDocument>
""".encode()


XXE = b"""<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument [<!ENTITY secret SYSTEM "file:///etc/passwd">]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&secret;</title></ClinicalDocument>
"""
BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>&lol9;</title></ClinicalDocument>
"""
EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE ClinicalDocument SYSTEM "http://127.0.0.1:9/cda.dtd">
<ClinicalDocument xmlns="urn:hl7-org:v3"><title>t</title></ClinicalDocument>
"""
DEEP_XML = (
    b'<ClinicalDocument xmlns="urn:hl7-org:v3">'
    + b"<a>" * 10_000
    + b"</a>" * 10_000
    + (b"</ClinicalDocument>")
)
DEEP_JSON = (
    b'{"resourceType": "Bundle", "type": "document", "entry": '
    + b"[" * 50_000
    + b"]" * 50_000
    + b"}"
)


def bad_crc_png() -> bytes:
    """A PNG whose pixels decode but whose last data chunk's checksum is wrong (one bit of
    it flipped): a damaged file, not the one the patient took. Decoding alone accepts it."""
    data = bytearray(photo("PNG", (60, 40), orientation=None))
    # The file ends with IEND (12 bytes); the byte before it is the last IDAT's CRC.
    data[-13] ^= 0x01
    return bytes(data)
