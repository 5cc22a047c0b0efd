"""Reading documents on the kiosk (kiosk/viewer.py, kiosk/pages/reading.py), without a
browser: PDF pages rendered in memory, images checked, the structure and its template."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from flask import render_template
from PIL import Image
from reportlab.pdfgen import canvas

from kiosk import viewer
from kiosk.app import create_kiosk_app
from kiosk.client import ServerClient
from kiosk.pages.reading import structure_of
from kiosk.readers import DemoReaders
from kiosk.terminal import Terminal
from kiosk.viewer import Fetched, Shelf, Unreadable

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def pdf(pages: int = 2, **options: Any) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(595, 842), **options)
    for n in range(1, pages + 1):
        c.drawString(72, 720, f"Compte rendu, page {n}")
        c.showPage()
    c.save()
    return out.getvalue()


def picture(fmt: str, size: tuple[int, int] = (40, 30)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (200, 10, 10)).save(out, format=fmt)
    return out.getvalue()


def test_a_pdf_page_is_rendered_to_a_png_of_the_screens_width() -> None:
    body = pdf(3)
    assert viewer.pdf_page_count(body) == 3
    png = viewer.render_pdf_page(body, 1)
    assert png.startswith(PNG_MAGIC)
    with Image.open(io.BytesIO(png)) as page:
        assert page.width == viewer.PAGE_WIDTH
        assert page.height == round(viewer.PAGE_WIDTH * 842 / 595)
        # The page is drawn, not blank: some dark pixels (the line of text).
        assert page.convert("L").getextrema()[0] < 100


@pytest.mark.parametrize("index", [-1, 3, viewer.MAX_PAGES])
def test_a_page_out_of_range_is_refused(index: int) -> None:
    with pytest.raises(Unreadable):
        viewer.render_pdf_page(pdf(3), index)


@pytest.mark.parametrize(
    "body",
    [b"%PDF-1.7 truncated", b"not a pdf at all", pdf(1)[:200]],
)
def test_a_corrupt_pdf_is_unreadable_not_an_error(body: bytes) -> None:
    with pytest.raises(Unreadable):
        viewer.pdf_page_count(body)


def test_a_password_protected_pdf_is_unreadable() -> None:
    with pytest.raises(Unreadable):
        viewer.pdf_page_count(pdf(1, encrypt="secret"))


@pytest.mark.parametrize(("fmt", "mime"), [("PNG", "image/png"), ("JPEG", "image/jpeg")])
def test_png_and_jpeg_are_shown_as_they_are(fmt: str, mime: str) -> None:
    body = picture(fmt)
    assert viewer.image_for_screen(body) == (body, mime)


def test_a_tiff_scan_is_shown_as_png() -> None:
    shown, mime = viewer.image_for_screen(picture("TIFF"))
    assert mime == "image/png"
    assert shown.startswith(PNG_MAGIC)


def tiff_pages(*colours: tuple[int, int, int]) -> bytes:
    frames = [Image.new("RGB", (40, 30), colour) for colour in colours]
    out = io.BytesIO()
    frames[0].save(out, format="TIFF", save_all=True, append_images=frames[1:])
    return out.getvalue()


def test_every_page_of_a_tiff_scan_is_shown() -> None:
    body = tiff_pages((255, 0, 0), (0, 0, 255))
    assert viewer.image_frames(body) == 2
    for frame, colour in ((0, (255, 0, 0)), (1, (0, 0, 255))):
        shown, mime = viewer.image_for_screen(body, frame)
        assert mime == "image/png"
        with Image.open(io.BytesIO(shown)) as page:
            assert page.getpixel((5, 5)) == colour  # that page, not the first again
    with pytest.raises(Unreadable):
        viewer.image_for_screen(body, 2)
    assert viewer.image_frames(picture("PNG")) == 1
    with pytest.raises(Unreadable):
        viewer.image_for_screen(picture("PNG"), 1)  # a PNG has one page


def test_images_that_are_not_are_unreadable(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(Unreadable):
        viewer.image_for_screen(b"GIF89a garbage")
    with pytest.raises(Unreadable):
        viewer.image_for_screen(picture("GIF"))  # a type the kiosk does not show
    monkeypatch.setattr(viewer, "MAX_IMAGE_PIXELS", 100)
    with pytest.raises(Unreadable):
        viewer.image_for_screen(picture("PNG", (20, 20)))


def test_the_session_keeps_only_the_last_documents_opened() -> None:
    shelf = Shelf()
    for n in range(viewer.KEPT_DOCUMENTS + 2):
        shelf.put(f"d{n}", Fetched("application/pdf", b"%PDF"))
    assert len(shelf) == viewer.KEPT_DOCUMENTS
    assert shelf.get("d0") is None
    assert shelf.get(f"d{viewer.KEPT_DOCUMENTS + 1}") is not None


def test_the_narrative_keeps_tables_and_loses_anything_active() -> None:
    dirty = (
        '<table onclick="x()"><tr><td colspan="2" style="color:red">Amlodipine</td></tr></table>'
        "<script>alert(1)</script><img src=x onerror=alert(1)><a href='javascript:x'>lien</a>"
        "<style>body{}</style><p>Fin</p>"
    )
    clean = viewer.safe_narrative(dirty)
    assert '<td colspan="2">Amlodipine</td>' in clean
    assert "<p>Fin</p>" in clean
    for gone in ("script", "onclick", "onerror", "style", "<img", "<a", "javascript"):
        assert gone not in clean


def test_the_narrative_keeps_every_block_the_server_keeps() -> None:
    """The kiosk's second pass drops no tag the server kept: a dropped tag keeps its text
    but loses its break, gluing a definition list's words together."""
    from server.content import narrative

    assert viewer.NARRATIVE_TAGS == narrative.ALLOWED_TAGS
    assert viewer.NARRATIVE_ATTRIBUTES == narrative.ALLOWED_ATTRIBUTES
    served = narrative.sanitise(
        '<div xmlns="http://www.w3.org/1999/xhtml"><h5>Examen</h5><dl><dt>Poids</dt>'
        "<dd>62 kg</dd></dl><pre>TA  12/8\nFC  72</pre><ol start='3'><li>c</li></ol></div>"
    )
    assert viewer.safe_narrative(served) == served


# ---- a non-structured CDA: the document it carries --------------------------------------


def cda(body: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">'
        f"<title>Lettre</title><component>{body}</component></ClinicalDocument>"
    ).encode()


def test_a_non_structured_cda_gives_its_embedded_pdf() -> None:
    inner = pdf(2)
    encoded = base64.encodebytes(inner).decode()  # wrapped in lines, as many writers do
    body = cda(
        f'<nonXMLBody><text mediaType="application/pdf" representation="B64">{encoded}'
        "</text></nonXMLBody>"
    )
    assert viewer.cda_embedded(body) == ("application/pdf", inner)


def test_an_embedded_text_is_its_characters_not_its_markup() -> None:
    body = cda("<nonXMLBody><text>Sortie le 4/10, &lt;traitement&gt; inchangé.</text></nonXMLBody>")
    # No mediaType: text/plain, CDA R2's default for ED.
    assert viewer.cda_embedded(body) == (
        "text/plain",
        "Sortie le 4/10, <traitement> inchangé.".encode(),
    )


@pytest.mark.parametrize(
    "body",
    [
        cda("<structuredBody><component><section/></component></structuredBody>"),
        b'<Bundle xmlns="http://hl7.org/fhir"/>',  # XML, but not a CDA
    ],
)
def test_a_structured_or_foreign_xml_carries_nothing(body: bytes) -> None:
    assert viewer.cda_embedded(body) is None


@pytest.mark.parametrize(
    "body",
    [
        cda(
            '<nonXMLBody><text mediaType="application/pdf" representation="B64">%%%</text>'
            "</nonXMLBody>"
        ),
        b"<ClinicalDocument xmlns='urn:hl7-org:v3'><component>",  # truncated
        b'<?xml version="1.0"?><!DOCTYPE ClinicalDocument [<!ENTITY x SYSTEM '
        b'"file:///etc/passwd">]><ClinicalDocument xmlns="urn:hl7-org:v3"><component>'
        b"<nonXMLBody><text>&x;</text></nonXMLBody></component></ClinicalDocument>",
    ],
)
def test_a_broken_or_hostile_cda_is_unreadable(body: bytes) -> None:
    with pytest.raises(Unreadable):
        viewer.cda_embedded(body)


# ---- the structure's template ---------------------------------------------------------

STRUCTURE = {
    "text_status": "ready",
    "sections": [
        {
            "title": "Traitements",
            "code": "10160-0",
            "html": "<table><tr><td>AMOX</td></tr></table>",
        },
        {
            "title": "Allergies",
            "html": "<ul><li>Pénicilline</li></ul><script>alert(1)</script><img src=x>",
        },
    ],
    "entries": [
        {
            "kind": "medication",
            "section": 0,
            "name": "AMOXICILLINE 1 g",
            "dose": "1 g",
            "form": "comprimé",
            "quantity": "2 boîtes",
            "posology": "1 comprimé matin et soir pendant 7 jours",
        },
        {"kind": "medication", "section": 0, "name": "<b>Hostile</b>", "dose": 5, "form": None},
        {
            "kind": "vaccination",
            "section": 7,
            "name": "Vaccin grippe",
            "date": "2026-10-02",
            "lot": "X123",
        },
        {"kind": "allergy", "section": 1, "name": "Pénicillines"},
        "not an entry",
    ],
}


@pytest.fixture
def app() -> Any:
    client = ServerClient("http://127.0.0.1:9", "borne", ec.generate_private_key(ec.SECP256R1()))
    return create_kiosk_app(
        Terminal(DemoReaders(), client),
        {"COOKIE_SECURE": True, "DEFAULT_LANG": "fr", "HOST": "127.0.0.1"},
    )


def render(app: Any, raw: Any, lang: str = "fr") -> str:
    with app.test_request_context("/", headers={"Host": "127.0.0.1"}):
        from flask import g

        g.lang = lang
        return render_template("_structure.html", structure=structure_of(raw))


def test_sections_are_headings_and_medicines_a_table_in_their_section(app: Any) -> None:
    html = render(app, STRUCTURE)
    traitements, rest = html.split("<h2>Traitements</h2>")[1].split("<h2>Allergies</h2>")
    # The section's medicines as a table, in place of its narrative (the same lines).
    assert "AMOX</td>" not in traitements
    table = traitements.split('data-testid="medications"')[1].split("</table>")[0]
    assert table.count("<tr>") == 3  # the header and two medicines
    for value in ("AMOXICILLINE 1 g", "comprimé", "2 boîtes", "1 comprimé matin et soir"):
        assert value in table
    assert "&lt;b&gt;Hostile&lt;/b&gt;" in table  # an entry's text is text, never markup
    assert '<th scope="col">Posologie</th>' in table
    # A section without such entries: its narrative, sanitised again by the kiosk.
    assert "<li>Pénicilline</li>" in rest
    assert "<script" not in html
    assert "<img" not in html
    assert "Pénicillines" not in html  # an allergy entry is not a medicine
    # An entry pointing to no section still shows, at the end.
    assert "<h2>Vaccinations</h2>" in rest
    vaccines = rest.split('data-testid="vaccinations"')[1].split("</table>")[0]
    assert "Vaccin grippe" in vaccines
    assert "02/10/2026" in vaccines
    assert "X123" in vaccines


def test_the_structure_reads_in_english_too(app: Any) -> None:
    html = render(app, STRUCTURE, "en")
    assert '<th scope="col">Dosage instructions</th>' in html
    assert "Vaccine" in html


@pytest.mark.parametrize("raw", [None, [], {"sections": "x", "entries": None}, {}])
def test_a_malformed_structure_shows_nothing(raw: Any) -> None:
    assert not structure_of(raw)


def test_an_rtf_letter_reads_as_its_text() -> None:
    body = (
        b"{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0 Ordonnance :\\par Amlodipine 5 mg, 1/j.\\par}"
    )
    assert viewer.kind_of("text/rtf") == viewer.kind_of("application/rtf") == "rtf"
    assert viewer.rtf_text(body) == "Ordonnance :\nAmlodipine 5 mg, 1/j."
    assert viewer.rtf_text(b"{\\rtf1{\\fonttbl{\\f0 Arial;}}}") is None
