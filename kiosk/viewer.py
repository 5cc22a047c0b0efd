"""Documents made readable on the kiosk's screen, in memory only (issue 11).

Pure functions over the bytes the server sent: PDF pages rendered to PNG with pdfium,
images checked and scaled to something a browser shows, text decoded, a structured
document's narrative sanitised again. Nothing here reads or writes a file, nor reaches
the network; the bytes live in the session's memory (`Dossier.viewed`, dropped with the
session) and every answer built from them is `no-store`.
"""

from __future__ import annotations

import base64
import binascii
import io
import threading
from collections import OrderedDict
from dataclasses import dataclass, field

import nh3
import pypdfium2 as pdfium
from lxml import etree
from PIL import Image
from striprtf.striprtf import rtf_to_text

# A kiosk shows a document, it is not a PDF reader: beyond this the page says so.
MAX_PAGES = 30
# Width in pixels of a rendered page: sharp on a 1080 px wide kiosk screen.
PAGE_WIDTH = 1100
# A page larger than this (in points, 1/72 inch) is not a document page: refused.
MAX_PAGE_POINTS = 14400
# Images beyond this many pixels are not shown (a decompression bomb, or a poster).
MAX_IMAGE_PIXELS = 40_000_000
# How many documents a session keeps fetched (the last ones opened): bounded memory.
KEPT_DOCUMENTS = 3

XML = frozenset({"text/xml", "application/xml"})
STRUCTURED = frozenset({"application/fhir+json", "application/json"}) | XML
IMAGES = frozenset({"image/jpeg", "image/png", "image/tiff"})
RTF = frozenset({"text/rtf", "application/rtf"})
# What a browser shows as it is; TIFF is converted to PNG.
BROWSER_IMAGES = {"JPEG": "image/jpeg", "PNG": "image/png"}

# The narrative the server sends is already sanitised (nh3, docs/documents.md); the
# kiosk renders it in its own pages, so it checks again with the same allow-list rather
# than trust another process: no script, style, link, image or attribute beyond spans.
# The same list, not a narrower one: a tag dropped here keeps its text but loses its
# break, and a definition list read "Poids62 kgTaille1,68 m" (tests/kiosk/test_viewer.py
# holds the two lists equal).
NARRATIVE_TAGS = {
    "p", "br", "div", "span", "pre", "blockquote", "h1", "h2", "h3", "h4", "h5", "h6",
    "ul", "ol", "li", "dl", "dt", "dd", "table", "caption", "colgroup", "col", "thead",
    "tbody", "tfoot", "tr", "th", "td", "b", "strong", "i", "em", "u", "sub", "sup", "small",
}  # fmt: skip
NARRATIVE_ATTRIBUTES = {
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
    "ol": {"start"},
}

# A non-structured CDA R2 body (CI-SIS "corps non structuré"): the document it embeds is
# what the page shows, by that document's own type.
CDA_BODY = "{urn:hl7-org:v3}component/{urn:hl7-org:v3}nonXMLBody/{urn:hl7-org:v3}text"
CDA_ROOT = "{urn:hl7-org:v3}ClinicalDocument"
# The server refused any DTD at deposit (docs/documents.md, "xml_doctype"); the kiosk's
# own parser still loads none, resolves no entity and reaches no network.
_XML_OPTIONS = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    "remove_comments": True,
    "remove_pis": True,
}

# pdfium is not thread-safe; the kiosk's server answers page images in parallel.
_PDFIUM = threading.Lock()


class Unreadable(Exception):
    """The document cannot be shown on the kiosk (corrupt, encrypted, too large)."""


def kind_of(mime_type: str) -> str:
    """How the document page shows a type: pdf, image, text, structured or none."""
    if mime_type == "application/pdf":
        return "pdf"
    if mime_type in IMAGES:
        return "image"
    if mime_type == "text/plain":
        return "text"
    if mime_type in RTF:
        return "rtf"
    if mime_type in STRUCTURED:
        return "structured"
    return "none"


@dataclass
class Fetched:
    """One document's content, fetched for this session and shown from memory."""

    mime_type: str
    body: bytes
    pages: int = 0  # PDF: how many pages there are (only MAX_PAGES are shown)
    image: tuple[bytes, str] | None = None  # an image ready for the browser, and its type
    frames: int = 1  # an image's pages: a multi-page TIFF scan has several
    rendered: dict[int, bytes] = field(default_factory=dict)


class Shelf:
    """The documents a session has opened, the most recent last, at most KEPT_DOCUMENTS."""

    def __init__(self) -> None:
        self._items: OrderedDict[str, Fetched] = OrderedDict()

    def put(self, logical_id: str, fetched: Fetched) -> None:
        self._items[logical_id] = fetched
        self._items.move_to_end(logical_id)
        while len(self._items) > KEPT_DOCUMENTS:
            self._items.popitem(last=False)

    def get(self, logical_id: str) -> Fetched | None:
        return self._items.get(logical_id)

    def __len__(self) -> int:
        return len(self._items)


def text_of(body: bytes) -> str | None:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        return None


def rtf_text(body: bytes) -> str | None:
    """An RTF letter's text, shown as text (RTF is 7-bit: its bytes decode as Latin-1 and
    striprtf resolves the escaped accents); None when it holds none."""
    found = str(rtf_to_text(body.decode("latin-1"), errors="replace")).strip()  # type: ignore[no-untyped-call]
    return found or None


def pdf_page_count(body: bytes) -> int:
    with _PDFIUM:
        pdf = _open_pdf(body)
        try:
            return len(pdf)
        finally:
            pdf.close()


def render_pdf_page(body: bytes, index: int, width: int = PAGE_WIDTH) -> bytes:
    """Page `index` (from 0) as a PNG `width` pixels wide, built in memory."""
    if not 0 <= index < MAX_PAGES:
        raise Unreadable("page out of range")
    with _PDFIUM:
        pdf = _open_pdf(body)
        try:
            if index >= len(pdf):
                raise Unreadable("page out of range")
            page = pdf[index]
            try:
                page_width, page_height = page.get_size()
                if not (0 < page_width <= MAX_PAGE_POINTS and 0 < page_height <= MAX_PAGE_POINTS):
                    raise Unreadable("page size")
                bitmap = page.render(scale=width / page_width)
                picture = bitmap.to_pil()
            finally:
                page.close()
        except pdfium.PdfiumError as exc:
            raise Unreadable("render") from exc
        finally:
            pdf.close()
    out = io.BytesIO()
    picture.save(out, format="PNG")
    return out.getvalue()


def _open_pdf(body: bytes) -> pdfium.PdfDocument:
    try:
        # Bytes, never a path: pdfium reads from memory and the kiosk writes no file.
        return pdfium.PdfDocument(body)
    except pdfium.PdfiumError as exc:  # corrupt, or encrypted with a password
        raise Unreadable("open") from exc


def image_frames(body: bytes) -> int:
    """How many pages an image has: a TIFF scan of a letter has one frame a page (the
    server keeps them all), JPEG and PNG one."""
    try:
        with Image.open(io.BytesIO(body)) as picture:
            return max(1, int(getattr(picture, "n_frames", 1)))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise Unreadable("image") from exc


def image_for_screen(body: bytes, frame: int = 0) -> tuple[bytes, str]:
    """The image as a browser shows it: JPEG and PNG as they are, once checked to be one;
    TIFF (scans) converted to PNG, page `frame` (from 0)."""
    try:
        with Image.open(io.BytesIO(body)) as picture:
            if frame:
                if picture.format != "TIFF":
                    raise Unreadable("one page only")
                picture.seek(frame)
            width, height = picture.size
            if width * height > MAX_IMAGE_PIXELS:
                raise Unreadable("too many pixels")
            kind = picture.format or ""
            if kind in BROWSER_IMAGES:
                picture.verify()
                return body, BROWSER_IMAGES[kind]
            if kind != "TIFF":
                raise Unreadable("not an image the kiosk shows")
            out = io.BytesIO()
            picture.convert("RGB").save(out, format="PNG")
            return out.getvalue(), "image/png"
    except (OSError, ValueError, EOFError, Image.DecompressionBombError) as exc:
        raise Unreadable("image") from exc


def cda_embedded(body: bytes) -> tuple[str, bytes] | None:
    """The media type and bytes of the document a non-structured CDA carries (base64 or
    text), or None when `body` is not one (a structured CDA). The bytes are then shown
    like a deposit of that type: its checks (pdfium, Pillow, UTF-8) apply to them."""
    try:
        # A parser per call: page requests are answered in parallel threads.
        root = etree.fromstring(body, etree.XMLParser(**_XML_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise Unreadable("xml") from exc
    if root.getroottree().docinfo.doctype:
        raise Unreadable("doctype")
    if root.tag != CDA_ROOT:
        return None
    text = root.find(CDA_BODY)
    if text is None:
        return None
    media_type = (text.get("mediaType") or "text/plain").strip().lower()
    content = "".join(text.itertext())
    if (text.get("representation") or "TXT").upper() != "B64":
        return media_type, content.encode()
    try:
        return media_type, base64.b64decode("".join(content.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Unreadable("base64") from exc


def safe_narrative(html: str) -> str:
    return nh3.clean(
        html,
        tags=NARRATIVE_TAGS,
        attributes=NARRATIVE_ATTRIBUTES,
        url_schemes=set(),
        strip_comments=True,
    )
