"""Issue 11 at the counter, in Chromium: documents read in the page, the whole row opens
a document, structured dispensation lines, an unsaved deposit when a card is pulled, and
a replacement offered only to those the server lets replace."""

from __future__ import annotations

import base64
import html
import http.client
import io
import json
from typing import Any
from urllib.parse import urlsplit

from PIL import Image
from reportlab.pdfgen import canvas

from tests.kiosk.conftest import READER_PATIENT, READER_PRO, Kiosk

PHARMACIST, MARIE = "pharmacien-moreau", "patient-marie-durand"


def api(at: Kiosk, method: str, path: str, body: Any = None, *, raw: bool = False) -> Any:
    """The records server's API on behalf of whoever is signed in at the kiosk (its own
    signed client and token), as another part of the system would see the dossier."""
    t = at.running.terminal
    token = t.token()
    assert token is not None
    return t.client.call(method, path, body, token=token, raw=raw)


def dossier_id(at: Kiosk) -> int:
    dossier = at.running.terminal.dossier
    assert dossier is not None
    return dossier.dossier_id


def deposit(at: Kiosk, title: str, mime_type: str, content: bytes) -> str:
    r = api(
        at,
        "POST",
        f"/dossiers/{dossier_id(at)}/documents",
        {
            "category": "dispensation",
            "type_code": "60593-1",
            "title": title,
            "mime_type": mime_type,
            "content_base64": base64.b64encode(content).decode(),
        },
    )
    assert r.status == 201, r.body
    return str(r.body["logical_id"])


def a_pdf(pages: int) -> bytes:
    out = io.BytesIO()
    c = canvas.Canvas(out, pagesize=(595, 842))
    for n in range(1, pages + 1):
        c.drawString(72, 720, f"Ordonnance scannée, page {n}")
        c.showPage()
    c.save()
    return out.getvalue()


def a_png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 90, 200)).save(out, format="PNG")
    return out.getvalue()


def loaded(page: Any, selector: str) -> int:
    """The natural width of an image once the browser has it (0: not shown)."""
    page.wait_for_function(
        "s => { const i = document.querySelector(s); return i && i.complete; }", arg=selector
    )
    return int(page.eval_on_selector(selector, "i => i.naturalWidth"))


def stranger_get(at: Kiosk, path: str) -> int:
    """Another program on the kiosk's machine asks for the same URL."""
    where = urlsplit(at.running.kiosk_url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
    conn.request("GET", path, headers={"Host": where.netloc})
    status = conn.getresponse().status
    conn.close()
    return status


def test_pdf_image_and_text_open_in_the_page_itself(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    deposit(at, "Ordonnance scannée", "application/pdf", a_pdf(2))
    deposit(at, "Photo de la boîte", "image/png", a_png())
    page.reload()
    # The whole row opens the document: a tap on its right end, far from the title.
    row = page.locator("[data-testid=documents] a.row", has_text="Ordonnance scannée")
    box = row.bounding_box()
    assert box["height"] >= 48  # a finger's target
    row.click(position={"x": box["width"] - 10, "y": box["height"] / 2})
    page.wait_for_url("**/pro/dossier/documents/*")
    assert "2 page(s)" in page.inner_text("[data-testid=reader]")
    assert loaded(page, "[data-testid=page-1]") == 1100  # page 1, rendered by the kiosk
    assert page.locator("[data-testid=page-2]").count() == 1
    assert len(page.context.pages) == 1  # no new tab, no download, no PDF viewer
    at.shot("documents", "pdf")
    src = page.get_attribute("[data-testid=page-1]", "src")
    png = page.request.get(at.running.kiosk_url + src)
    assert png.headers["content-type"] == "image/png"
    assert png.headers["cache-control"] == "no-store"
    assert png.body().startswith(b"\x89PNG")
    assert stranger_get(at, src) == 403  # only the kiosk's own browser is served
    assert page.request.get(at.running.kiosk_url + src.replace("/1.png", "/9.png")).status == 404
    # An image, shown scaled in the page.
    page.click("[data-testid=back]")
    page.locator("[data-testid=documents] a.row", has_text="Photo de la boîte").focus()
    page.keyboard.press("Enter")  # the row is keyboard accessible too
    page.wait_for_url("**/pro/dossier/documents/*")
    assert loaded(page, "[data-testid=picture]") == 300
    image = page.request.get(
        at.running.kiosk_url + page.get_attribute("[data-testid=picture]", "src")
    )
    assert image.headers["cache-control"] == "no-store"
    # Text, as text (the demo's prescription).
    page.click("[data-testid=back]")
    page.click('[data-testid=documents] a.row >> text="Ordonnance"')
    assert "Amlodipine 5 mg" in page.inner_text("[data-testid=content]")
    assert len(page.context.pages) == 1
    # The session ends: what was fetched goes with it.
    at.pull(READER_PATIENT)
    page.wait_for_url("**/pro/")
    assert at.running.terminal.dossier is None
    assert page.request.get(at.running.kiosk_url + src).status == 404


def test_the_pharmacist_records_a_dispensation_as_structured_lines(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit-dispensation]")
    # The list of common medicines is offered as the browser's own suggestions.
    assert page.locator("datalist#medicines option").count() > 300
    assert page.locator("datalist#medicines option[value='Amoxicilline 1 g, comprimé']").count()
    page.fill("#title", "Délivrance du 22 novembre")
    page.fill("#line-0-name", "Amoxicilline 1 g, comprimé")  # from the list
    page.fill("#line-0-quantity", "2 boîtes")
    page.fill("#line-0-posology", "1 comprimé matin et soir pendant 7 jours")
    page.click("[data-testid=add-line]")
    page.wait_for_selector("[data-testid=line-1]")
    assert page.input_value("#line-0-name") == "Amoxicilline 1 g, comprimé"  # kept as typed
    page.fill("#line-1-name", "Préparation magistrale <vaseline> 50 g")  # free entry
    page.fill("#line-1-quantity", "1")
    page.click("[data-testid=add-line]")
    page.wait_for_selector("[data-testid=line-2]")
    page.click("[data-testid=remove-line-2]")  # an empty line too many, removed
    page.wait_for_selector("[data-testid=line-1]")
    assert page.locator("[data-testid=line-2]").count() == 0
    at.shot("documents", "dispensation-lignes")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    assert "Délivrance du 22 novembre" in page.inner_text("[data-testid=documents]")
    # What the server stored: a FHIR document with the two dispensed lines.
    listed = api(at, "GET", f"/dossiers/{dossier_id(at)}/documents").body["documents"]
    saved = next(d for d in listed if d["title"] == "Délivrance du 22 novembre")
    assert (saved["mime_type"], saved["category"]) == ("application/fhir+json", "dispensation")
    content = api(
        at, "GET", f"/dossiers/{dossier_id(at)}/documents/{saved['logical_id']}/content", raw=True
    )
    bundle = json.loads(content.body)
    assert (bundle["resourceType"], bundle["type"]) == ("Bundle", "document")
    assert bundle["entry"][0]["resource"]["resourceType"] == "Composition"
    dispensed = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationDispense"
    ]
    assert len(dispensed) == 2
    first, second = dispensed
    assert first["medicationCodeableConcept"]["text"] == "Amoxicilline 1 g, comprimé"
    # Dose and form come from the list when the line left them empty.
    assert {x["valueString"] for x in first["extension"]} == {"1 g", "comprimé"}
    assert first["quantity"] == {"value": 2, "unit": "boîtes"}
    assert second["medicationCodeableConcept"] == {"text": "Préparation magistrale <vaseline> 50 g"}
    div = bundle["entry"][0]["resource"]["section"][0]["text"]["div"]
    assert "&lt;vaseline&gt;" in div
    assert "<vaseline>" not in div
    # Opened on the kiosk: the server read the bundle, the kiosk shows its lines as a
    # table of medicines, the free entry as text on screen, never as markup.
    page.click("[data-testid=documents] a.row >> text=Délivrance du 22 novembre")
    page.wait_for_selector("[data-testid=structure]")
    rows = page.locator("[data-testid=medications] tbody tr")
    assert rows.count() == 2
    assert "1 comprimé matin et soir pendant 7 jours" in rows.nth(0).inner_text()
    assert "<vaseline>" in rows.nth(1).inner_text()
    assert page.locator("vaseline").count() == 0


STRUCTURE = {
    "text_status": "pending",
    "sections": [
        {
            "title": "Médicaments délivrés",
            "html": (
                "<table><tr><td>Amlodipine</td></tr></table><script>document.title='x'</script>"
            ),
        }
    ],
    "entries": [
        {
            "kind": "medication",
            "name": "Amlodipine 5 mg, gélule",
            "dose": "5 mg",
            "form": "gélule",
            "quantity": "1 boîte",
            "posology": "1 gélule le matin",
        }
    ],
}


def test_a_structured_document_reads_as_sections_and_a_table_of_medicines(
    at: Kiosk, monkeypatch: Any
) -> None:
    """A hostile or faulty structure answer (a script in a narrative, a text still being
    read) is played here: the kiosk sanitises again and says the text is pending."""
    from kiosk.client import ApiResponse, SessionClient

    asked: list[str] = []

    def structure(self: SessionClient, dossier: int, logical_id: str) -> ApiResponse:
        asked.append(logical_id)
        return ApiResponse(200, STRUCTURE)

    monkeypatch.setattr(SessionClient, "document_structure", structure)
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click('[data-testid=documents] a.row >> text="Délivrance"')
    page.wait_for_selector("[data-testid=structure]")
    assert asked
    assert "Médicaments délivrés" in page.inner_text("[data-testid=structure] h2")
    rows = page.locator("[data-testid=medications] tbody tr")
    assert rows.count() == 1
    assert "1 gélule le matin" in rows.inner_text()
    assert page.title() != "x"  # the narrative's script was removed, never run
    assert page.locator("[data-testid=structure] script").count() == 0
    assert "Texte en cours de lecture" in page.inner_text("[data-testid=text-pending]")
    at.shot("documents", "structure")


def test_bad_lines_get_a_french_message_and_come_back_as_typed(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit-dispensation]")
    page.fill("#line-0-name", "Doliprane 1000 mg, comprimé")
    page.fill("#line-0-quantity", "beaucoup")
    page.click("[data-testid=save]")
    assert "Ligne 1 : la quantité est un nombre" in page.inner_text("[data-testid=error]")
    assert page.input_value("#line-0-name") == "Doliprane 1000 mg, comprimé"


def test_a_pulled_card_tells_what_was_not_saved_and_the_next_session_sees_none(
    at: Kiosk,
) -> None:
    page: Any = at.page
    t = at.running.terminal
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit-dispensation]")
    page.fill("#title", "Délivrance urgente")
    page.fill("#line-0-name", "Doliprane 1000 mg, comprimé")
    page.click("[data-testid=add-line]")
    page.wait_for_selector("[data-testid=line-1]")
    page.fill("#line-1-name", "Smecta 3 g, sachet")
    deadline = page.evaluate("Date.now()") + 5000
    while (t.draft is None or t.draft.lines != 2) and page.evaluate("Date.now()") < deadline:
        page.wait_for_timeout(50)
    assert t.draft is not None
    assert t.draft.lines == 2
    at.pull(READER_PRO)
    page.wait_for_selector("[data-testid=welcome], [data-testid=stale]")
    lost = page.inner_text("[data-testid=lost-draft]")
    assert "Délivrance urgente" in lost
    assert "Dispensation" in lost
    assert "2 ligne(s)" in lost
    assert "Doliprane" not in page.content()  # what it was, never what was typed
    at.shot("documents", "saisie-perdue")
    # Nothing in the browser's storage, nothing left at the kiosk.
    assert page.evaluate("() => [localStorage.length, sessionStorage.length]") == [0, 0]
    assert t.draft is None  # the note (title, category, count) lives a few seconds more
    # The next session shows nothing of it.
    at.pull(READER_PATIENT)
    at.at_counter(PHARMACIST, MARIE)
    assert t.lost is None
    assert page.locator("[data-testid=lost-draft]").count() == 0
    page.click("[data-testid=deposit-dispensation]")
    assert page.input_value("#line-0-name") == ""
    assert page.input_value("#title") != "Délivrance urgente"
    page.goto(at.running.kiosk_url + "/")
    assert "Délivrance urgente" not in page.content()


def test_a_patient_card_pulled_at_the_counter_also_tells_what_was_lost(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit-vaccination]")
    page.fill("#vaccine", "Vaxigrip Tetra (grippe)")
    t = at.running.terminal
    deadline = page.evaluate("Date.now()") + 5000
    while t.draft is None and page.evaluate("Date.now()") < deadline:
        page.wait_for_timeout(50)
    at.pull(READER_PATIENT)
    page.wait_for_url("**/pro/")
    lost = page.inner_text("[data-testid=lost-draft]")
    assert "Vaccination du" in lost
    assert "Traitement administré" in lost


def test_replace_is_offered_only_when_the_server_allows_and_starts_from_the_current(
    at: Kiosk,
) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    # The doctor's prescription: the pharmacist reads it and may not replace it.
    page.click('[data-testid=documents] a.row >> text="Ordonnance"')
    page.wait_for_selector("[data-testid=content]")
    assert page.locator("[data-testid=replace]").count() == 0
    refused = page.request.get(page.url + "/replace")
    assert refused.status == 403
    assert "Seul l'auteur" in html.unescape(refused.text())
    # Her own dispensation (a structured FHIR document): she may.
    page.click("[data-testid=back]")
    page.click('[data-testid=documents] a.row >> text="Délivrance"')
    page.click("[data-testid=replace]")
    assert page.input_value("#title") == "Délivrance"  # starts from the current version
    # Its medication line, as the server read it, is the form's first line.
    assert page.input_value("#line-0-name") == "Amlodipine 5 mg, comprimé"
    page.fill("#line-0-name", "Amlodipine 5 mg, gélule")
    page.fill("#line-0-quantity", "1 boîte")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    listed = api(at, "GET", f"/dossiers/{dossier_id(at)}/documents").body["documents"]
    current = next(d for d in listed if d["title"] == "Délivrance")
    assert (current["version"], current["mime_type"]) == (2, "application/fhir+json")


def test_a_text_document_is_replaced_from_its_current_text(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("medecin_generaliste-dupont", MARIE)
    page.click("[data-testid=documents] a.row >> text=Consultation du 3 mars")
    page.click("[data-testid=replace]")
    assert page.input_value("#title") == "Consultation du 3 mars"
    assert page.input_value("#text").startswith("Consultation de suivi. Tension 12/8.")
    assert page.input_value("#type_code") == "11488-4"


def test_structured_lines_survive_a_server_outage_and_are_saved_once(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit-dispensation]")
    # Every control of the form is named for a screen reader (labels, button texts).
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll(
                   'main input:not([type=hidden]), main select, main textarea, main button')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                           && !(e.innerText || '').trim())
              .map(e => e.outerHTML)"""
    )
    assert unnamed == []
    page.fill("#title", "Délivrance pendant la panne")
    page.fill("#line-0-name", "Kardégic 75 mg, sachet")
    page.fill("#line-0-posology", "1 sachet par jour")
    before = len(api(at, "GET", f"/dossiers/{dossier_id(at)}/documents").body["documents"])
    at.running.stop_server()
    page.click("[data-testid=save]")
    assert "injoignable" in page.inner_text("[data-testid=error]")
    assert page.input_value("#line-0-name") == "Kardégic 75 mg, sachet"  # as typed
    assert page.input_value("#line-0-posology") == "1 sachet par jour"
    at.running.start_server()
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    after = api(at, "GET", f"/dossiers/{dossier_id(at)}/documents").body["documents"]
    assert len(after) == before + 1
    assert [d["title"] for d in after].count("Délivrance pendant la panne") == 1


def test_replacing_a_structured_document_starts_from_its_lines(at: Kiosk) -> None:
    """The lines come from the server's structure of the current version."""
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit-dispensation]")
    page.fill("#title", "Délivrance à corriger")
    page.fill("#line-0-name", "Amlodipine 5 mg, gélule")
    page.fill("#line-0-posology", "1 gélule le matin")
    page.click("[data-testid=add-line]")
    page.wait_for_selector("[data-testid=line-1]")
    page.fill("#line-1-name", "Smecta 3 g, sachet")
    page.fill("#line-1-quantity", "2")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    page.click("[data-testid=documents] a.row >> text=Délivrance à corriger")
    page.click("[data-testid=replace]")
    assert page.input_value("#title") == "Délivrance à corriger"
    assert page.input_value("#line-0-name") == "Amlodipine 5 mg, gélule"
    assert page.input_value("#line-0-posology") == "1 gélule le matin"
    assert page.input_value("#line-1-name") == "Smecta 3 g, sachet"
    assert page.input_value("#line-1-quantity") == "2"
    page.fill("#line-1-quantity", "3 sachets")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    listed = api(at, "GET", f"/dossiers/{dossier_id(at)}/documents").body["documents"]
    assert next(d for d in listed if d["title"] == "Délivrance à corriger")["version"] == 2
