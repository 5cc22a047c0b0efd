"""Issue 11 at the counter, in Chromium: the formats other software deposits, opened in
the kiosk page itself. A CDA R2 structured body (a lab report with its tables, lists and
coded entries, and a hostile narrative), CDA R2 non-structured bodies (an embedded PDF,
an embedded text), a FHIR R4 document bundle written by another vendor, and a patient's
photographed page as a TIFF. Each is deposited through the records server's API, as
that software would, then read on the kiosk."""

from __future__ import annotations

import base64
import io
import json
from typing import Any
from xml.sax.saxutils import escape

from PIL import Image

from tests.kiosk.conftest import READER_PATIENT, Kiosk
from tests.kiosk.test_journey_documents import a_pdf, api, dossier_id, loaded, stranger_get

GP, MARIE = "medecin_generaliste-dupont", "patient-marie-durand"

# What the hostile narratives would do if anything of them ran: set a flag the test reads.
PWNED = "window.__pwned = 1"

LAB_REPORT = f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
                  xmlns:pharm="urn:ihe:pharm:medication">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <id root="1.2.250.1.999.7" extension="cr-bio-2026-118"/>
  <code code="11502-2" codeSystem="2.16.840.1.113883.6.1" displayName="CR d'examens biologiques"/>
  <title>Compte rendu de biologie du 30 septembre</title>
  <effectiveTime value="20260930101500+0200"/>
  <component>
    <structuredBody>
      <component>
        <section>
          <code code="18719-5" codeSystem="2.16.840.1.113883.6.1" displayName="Biochimie"/>
          <title>Biochimie sanguine</title>
          <text>
            <table border="1" onclick="{PWNED}">
              <caption>Prélèvement du 30/09/2026</caption>
              <thead>
                <tr><th>Examen</th><th>Résultat</th><th>Unité</th><th>Valeurs de référence</th></tr>
              </thead>
              <tbody>
                <tr><td>Créatinine</td><td>82</td><td>µmol/L</td><td>45-104</td></tr>
                <tr><td onmouseover="{PWNED}">Potassium</td><td>4,1</td><td>mmol/L</td>
                    <td>3,5-5,0</td></tr>
              </tbody>
            </table>
            <script>{PWNED}</script>
            <style>body {{ display: none }}</style>
          </text>
          <entry>
            <organizer classCode="BATTERY" moodCode="EVN">
              <component>
                <observation classCode="OBS" moodCode="EVN">
                  <code code="14682-9" codeSystem="2.16.840.1.113883.6.1" displayName="Créatinine"/>
                  <effectiveTime value="20260930"/>
                  <value xsi:type="PQ" value="82" unit="umol/L"/>
                  <referenceRange><observationRange><text>45-104</text></observationRange></referenceRange>
                </observation>
              </component>
              <component>
                <observation classCode="OBS" moodCode="EVN">
                  <code code="2823-3" codeSystem="2.16.840.1.113883.6.1" displayName="Potassium"/>
                  <effectiveTime value="20260930"/>
                  <value xsi:type="PQ" value="4.1" unit="mmol/L"/>
                </observation>
              </component>
            </organizer>
          </entry>
          <component>
            <section>
              <title>Commentaire du biologiste</title>
              <text>
                <paragraph onclick="{PWNED}">Fonction rénale normale.</paragraph>
                <list listType="ordered">
                  <item>Contrôle dans <content styleCode="Bold">six mois</content></item>
                  <item><linkHtml href="javascript:{PWNED}">Voir les antériorités</linkHtml></item>
                </list>
              </text>
            </section>
          </component>
        </section>
      </component>
      <component>
        <section>
          <code code="10160-0" codeSystem="2.16.840.1.113883.6.1" displayName="Traitements"/>
          <title>Traitement en cours</title>
          <text><list><item ID="poso1">1 comprimé le matin</item></list></text>
          <entry>
            <substanceAdministration classCode="SBADM" moodCode="INT">
              <text><reference value="#poso1"/></text>
              <doseQuantity value="5" unit="mg"/>
              <consumable>
                <manufacturedProduct>
                  <manufacturedMaterial>
                    <code code="3400936584720" codeSystem="1.2.250.1.213.2.3.1"
                          displayName="AMLODIPINE 5 mg cp"/>
                    <name>AMLODIPINE 5 mg</name>
                    <pharm:formCode code="10219000" displayName="comprimé"/>
                  </manufacturedMaterial>
                </manufacturedProduct>
              </consumable>
            </substanceAdministration>
          </entry>
        </section>
      </component>
    </structuredBody>
  </component>
</ClinicalDocument>
""".encode()


def cda_non_structured(media_type: str, content: bytes, *, b64: bool = True) -> bytes:
    """A CDA R2 whose body is one embedded document (CI-SIS "non structuré")."""
    if b64:
        text = f'<text mediaType="{media_type}" representation="B64">'
        text += base64.b64encode(content).decode() + "</text>"
    else:
        text = f'<text mediaType="{media_type}">{escape(content.decode())}</text>'
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3">
  <typeId root="2.16.840.1.113883.1.3" extension="POCD_HD000040"/>
  <code code="11490-0" codeSystem="2.16.840.1.113883.6.1" displayName="Lettre de sortie"/>
  <title>Lettre de liaison</title>
  <component>
    <nonXMLBody>
      {text}
    </nonXMLBody>
  </component>
</ClinicalDocument>
""".encode()


def div(body: str) -> str:
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{body}</div>'


def vendor_bundle() -> bytes:
    """A FHIR R4 document as a hospital's software writes it (not the kiosk's shape):
    `Resource/id` references, a nested section, resources of several kinds."""
    pid = "Patient/p1"
    composition = {
        "resourceType": "Composition",
        "id": "c1",
        "status": "final",
        "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5"}]},
        "subject": {"reference": pid},
        "date": "2026-10-05T16:00:00+02:00",
        "author": [{"reference": "Practitioner/dr1"}],
        "title": "Compte rendu de consultation de cardiologie",
        "section": [
            {
                "title": "Motif et conclusion",
                "code": {"coding": [{"system": "http://loinc.org", "code": "29299-5"}]},
                "text": {
                    "status": "generated",
                    "div": div(
                        f'<p onclick="{PWNED}">Palpitations à l\'effort.</p>'
                        "<ul><li>ECG sans anomalie</li><li>Échographie normale</li></ul>"
                        f"<script>{PWNED}</script>"
                        f'<a href="javascript:{PWNED}">Dossier complet</a>'
                    ),
                },
                "section": [
                    {
                        "title": "Antécédents",
                        "code": {"coding": [{"system": "http://loinc.org", "code": "11348-0"}]},
                        "text": {
                            "status": "generated",
                            "div": div("<p>Hypertension artérielle depuis 2019.</p>"),
                        },
                        "entry": [{"reference": "Condition/hta"}],
                    }
                ],
            },
            {
                "title": "Mesures",
                "code": {"coding": [{"system": "http://loinc.org", "code": "8716-3"}]},
                "text": {
                    "status": "generated",
                    "div": div(
                        "<dl><dt>Poids</dt><dd>62 kg</dd><dt>Taille</dt><dd>1,68 m</dd></dl>"
                        "<table><thead><tr><th>Mesure</th><th>Valeur</th></tr></thead>"
                        "<tbody><tr><td>Fréquence cardiaque</td><td>72 /min</td></tr>"
                        "<tr><td>Pression artérielle</td><td>128/82 mmHg</td></tr></tbody>"
                        "</table>"
                    ),
                },
                "entry": [{"reference": "Observation/fc"}],
            },
            {
                "title": "Prescriptions",
                "code": {"coding": [{"system": "http://loinc.org", "code": "10160-0"}]},
                "text": {
                    "status": "generated",
                    "div": div("<p>Bisoprolol 2,5 mg, un le matin.</p>"),
                },
                "entry": [{"reference": "MedicationRequest/rx1"}],
            },
        ],
    }
    resources: list[dict[str, Any]] = [
        composition,
        {
            "resourceType": "Patient",
            "id": "p1",
            "name": [{"family": "DURAND", "given": ["Marie"]}],
        },
        {
            "resourceType": "Practitioner",
            "id": "dr1",
            "name": [{"family": "LEROY", "given": ["Anne"]}],
        },
        {
            "resourceType": "Condition",
            "id": "hta",
            "code": {"text": "Hypertension artérielle"},
            "subject": {"reference": pid},
            "onsetDateTime": "2019-03",
        },
        {
            "resourceType": "Observation",
            "id": "fc",
            "status": "final",
            "code": {"text": "Fréquence cardiaque"},
            "subject": {"reference": pid},
            "valueQuantity": {"value": 72, "unit": "/min"},
        },
        {
            "resourceType": "MedicationRequest",
            "id": "rx1",
            "status": "active",
            "intent": "order",
            "subject": {"reference": pid},
            "medicationCodeableConcept": {"text": "Bisoprolol 2,5 mg, comprimé"},
            "dosageInstruction": [{"text": "1 comprimé le matin"}],
            "dispenseRequest": {"quantity": {"value": 1, "unit": "boîte"}},
        },
    ]
    bundle = {
        "resourceType": "Bundle",
        "id": "b1",
        "type": "document",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": "urn:uuid:0c3151bd-1cbf-4d64"},
        "timestamp": "2026-10-05T16:00:00+02:00",
        "entry": [
            {
                "fullUrl": f"https://his.example.org/fhir/{r['resourceType']}/{r['id']}",
                "resource": r,
            }
            for r in resources
        ],
    }
    return json.dumps(bundle, ensure_ascii=False).encode()


def deposit(at: Kiosk, title: str, mime_type: str, content: bytes, *, category: str) -> str:
    r = api(
        at,
        "POST",
        f"/dossiers/{dossier_id(at)}/documents",
        {
            "category": category,
            "type_code": "11488-4",
            "title": title,
            "mime_type": mime_type,
            "content_base64": base64.b64encode(content).decode(),
        },
    )
    assert r.status == 201, r.body
    return str(r.body["logical_id"])


def open_document(page: Any, title: str) -> None:
    page.click(f'[data-testid=documents] a.row >> text="{title}"')
    page.wait_for_url("**/documents/*")
    page.wait_for_selector("[data-testid=reader]")


def console(page: Any) -> list[str]:
    """What the browser says from now on: Chromium reports every inline script, style
    or handler the kiosk's CSP blocks, so a narrative's code left in the page shows here."""
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    return said


def nothing_hostile_ran(page: Any, said: list[str]) -> None:
    """No element of a narrative's script, style, event handler or javascript: link
    reached the page, and nothing of them ran, nor even knocked on the CSP."""
    structure = page.locator("[data-testid=structure]")
    assert structure.locator("script, style, a, [onclick], [onmouseover], [style]").count() == 0
    assert "__pwned" not in structure.inner_html()
    assert "display: none" not in structure.inner_html()
    assert page.evaluate("window.__pwned") is None
    assert not [s for s in said if "Content Security Policy" in s], said


def test_a_structured_cda_lab_report_reads_as_sections_and_tables(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(GP, MARIE)
    deposit(at, "Biologie du 30 septembre", "text/xml", LAB_REPORT, category="compte_rendu")
    page.reload()
    said = console(page)
    open_document(page, "Biologie du 30 septembre")
    here = page.url
    page.wait_for_selector("[data-testid=structure]")
    titles = page.locator("[data-testid=structure] h2").all_inner_texts()
    # Nested sections follow their parent, in document order.
    assert titles == ["Biochimie sanguine", "Commentaire du biologiste", "Traitement en cours"]
    # The narrative's table, with its units, in the page.
    table = page.locator("[data-testid=structure] section", has_text="Biochimie sanguine")
    row = table.locator("tbody tr", has_text="Créatinine")
    assert row.locator("td").all_inner_texts() == ["Créatinine", "82", "µmol/L", "45-104"]
    assert table.locator("caption").inner_text() == "Prélèvement du 30/09/2026"
    assert "Potassium" in table.locator("tbody").inner_text()
    # Lists and paragraphs keep their shape; the javascript: link is left as its words.
    comment = page.locator("[data-testid=structure] section", has_text="Commentaire")
    assert comment.locator("p").inner_text() == "Fonction rénale normale."
    assert comment.locator("ol li").all_inner_texts() == [
        "Contrôle dans six mois",
        "Voir les antériorités",
    ]
    # A coded medication reads as a table of medicines, from its entry.
    medicines = page.locator("[data-testid=medications] tbody tr")
    assert medicines.count() == 1
    assert medicines.locator("td").all_inner_texts() == [
        "AMLODIPINE 5 mg",
        "5 mg",
        "comprimé",
        "",
        "1 comprimé le matin",
    ]
    # A tap on the hostile elements does nothing either.
    page.click("text=Fonction rénale normale.")
    page.click("text=Voir les antériorités")
    page.hover("text=Potassium")
    nothing_hostile_ran(page, said)
    assert page.url == here  # the link led nowhere
    assert len(page.context.pages) == 1  # no new tab
    assert "Compte rendu" in page.inner_text("main")  # its category, in French
    at.shot("formats", "cda-structure")


def test_non_structured_cdas_show_their_embedded_pdf_and_text(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(GP, MARIE)
    pdf = cda_non_structured("application/pdf", a_pdf(2))
    deposit(at, "Lettre de liaison (PDF)", "text/xml", pdf, category="compte_rendu")
    letter = "Lettre de liaison.\nPatiente sortie le 4 octobre, <traitement> inchangé.\n"
    for b64, title in ((True, "Lettre de liaison (texte)"), (False, "Lettre de liaison (TXT)")):
        text = cda_non_structured("text/plain", letter.encode(), b64=b64)
        deposit(at, title, "text/xml", text, category="compte_rendu")
    page.reload()
    # The embedded PDF, its pages rendered as images like a PDF deposit.
    open_document(page, "Lettre de liaison (PDF)")
    assert "2 page(s)" in page.inner_text("[data-testid=reader]")
    assert loaded(page, "[data-testid=page-1]") == 1100
    assert page.locator("[data-testid=page-2]").count() == 1
    src = page.get_attribute("[data-testid=page-1]", "src")
    png = page.request.get(at.running.kiosk_url + src)
    assert png.headers["cache-control"] == "no-store"
    assert png.body().startswith(b"\x89PNG")
    assert len(page.context.pages) == 1
    at.shot("formats", "cda-pdf")
    # The embedded text, as text: never the XML around it nor its base64.
    for title in ("Lettre de liaison (texte)", "Lettre de liaison (TXT)"):
        page.click("[data-testid=back]")
        open_document(page, title)
        shown = page.inner_text("[data-testid=content]")
        assert shown.strip() == letter.strip()
        assert "ClinicalDocument" not in page.content()
    at.shot("formats", "cda-texte")


def test_a_non_structured_cda_shows_its_scan_and_its_rtf_letter_as_text(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(GP, MARIE)
    scan = io.BytesIO()
    Image.new("RGB", (640, 900), (240, 240, 235)).save(scan, format="JPEG")
    cda = cda_non_structured("image/jpeg", scan.getvalue())
    deposit(at, "Courrier scanné", "text/xml", cda, category="compte_rendu")
    rtf = cda_non_structured("text/rtf", rb"{\rtf1\ansi Courrier {\b important} \'e0 lire.}")
    deposit(at, "Courrier RTF", "text/xml", rtf, category="compte_rendu")
    page.reload()
    open_document(page, "Courrier scanné")
    assert loaded(page, "[data-testid=picture]") == 640  # the scan, not its CDA
    page.click("[data-testid=back]")
    open_document(page, "Courrier RTF")
    # Its text, accents resolved, never its markup.
    assert page.inner_text("[data-testid=content]").strip() == "Courrier important à lire."
    assert "rtf1" not in page.content()
    assert "ClinicalDocument" not in page.content()


def test_a_fhir_document_from_other_software_reads_as_sections(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(GP, MARIE)
    deposit(at, "Consultation de cardiologie", "application/fhir+json", vendor_bundle(),
            category="compte_rendu")  # fmt: skip
    page.reload()
    said = console(page)
    open_document(page, "Consultation de cardiologie")
    page.wait_for_selector("[data-testid=structure]")
    titles = page.locator("[data-testid=structure] h2").all_inner_texts()
    assert titles == ["Motif et conclusion", "Antécédents", "Mesures", "Prescriptions"]
    first = page.locator("[data-testid=structure] section", has_text="Motif et conclusion")
    assert first.locator("p").inner_text() == "Palpitations à l'effort."
    assert first.locator("ul li").all_inner_texts() == ["ECG sans anomalie", "Échographie normale"]
    assert "Dossier complet" in first.inner_text()  # the link's words, no link
    measures = page.locator("[data-testid=structure] section", has_text="Mesures")
    row = measures.locator("tbody tr", has_text="Pression artérielle")
    assert row.locator("td").all_inner_texts() == ["Pression artérielle", "128/82 mmHg"]
    # A definition list stays one: terms and values apart, not glued into one word.
    assert measures.locator("dl dt").all_inner_texts() == ["Poids", "Taille"]
    assert measures.locator("dl dd").all_inner_texts() == ["62 kg", "1,68 m"]
    assert "Poids62" not in measures.inner_text()
    assert "Hypertension artérielle depuis 2019." in page.inner_text("[data-testid=structure]")
    medicines = page.locator("[data-testid=medications] tbody tr")
    assert medicines.count() == 1
    assert "Bisoprolol 2,5 mg, comprimé" in medicines.inner_text()
    assert "1 comprimé le matin" in medicines.inner_text()
    page.click("text=Palpitations à l'effort.")
    page.click("text=Dossier complet")
    nothing_hostile_ran(page, said)
    assert len(page.context.pages) == 1
    at.shot("formats", "fhir-sections")


def a_tiff(size: tuple[int, int], pages: int = 1) -> bytes:
    """A photographed or scanned page (or several): light paper, a dark band of 'text'
    across it, lower on each page."""
    frames = []
    for n in range(pages):
        picture = Image.new("RGB", size, (245, 242, 235))
        top = size[1] * (n + 1) // 5
        picture.paste((30, 30, 30), (size[0] // 10, top, size[0] * 9 // 10, top + size[1] // 20))
        frames.append(picture)
    out = io.BytesIO()
    frames[0].save(
        out, format="TIFF", compression="tiff_deflate", save_all=True, append_images=frames[1:]
    )
    return out.getvalue()


def test_a_patients_tiff_scans_are_shown_scaled_page_by_page(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    width, height = 2480, 3508  # an A4 page at 300 dpi, larger than the screen
    deposit(at, "Photo de l'ordonnance", "image/tiff", a_tiff((width, height)),
            category="depose_patient")  # fmt: skip
    page.click("[data-testid=tile-documents]")
    open_document(page, "Photo de l'ordonnance")
    assert loaded(page, "[data-testid=picture]") == width  # every pixel sent, as PNG
    src = page.get_attribute("[data-testid=picture]", "src")
    image = page.request.get(at.running.kiosk_url + src)
    assert image.headers["content-type"] == "image/png"
    assert image.headers["cache-control"] == "no-store"
    box = page.locator("[data-testid=picture]").bounding_box()
    viewport = page.viewport_size
    # Shown whole on the screen, scaled down with its proportions.
    assert box["width"] <= viewport["width"]
    assert box["height"] <= viewport["height"] * 0.8 + 1
    assert abs(box["width"] / box["height"] - width / height) < 0.01
    assert len(page.context.pages) == 1
    at.shot("formats", "tiff")
    # A two-page letter scanned to one TIFF: both pages, not the first alone.
    deposit(at, "Courrier en deux pages", "image/tiff", a_tiff((850, 1100), pages=2),
            category="depose_patient")  # fmt: skip
    page.click("[data-testid=back]")
    open_document(page, "Courrier en deux pages")
    assert "2 page(s)" in page.inner_text("[data-testid=reader]")
    firsts = []
    for n in (1, 2):
        assert loaded(page, f"[data-testid=picture-{n}]") == 850
        src = page.get_attribute(f"[data-testid=picture-{n}]", "src")
        shown = page.request.get(at.running.kiosk_url + src)
        assert shown.headers["cache-control"] == "no-store"
        assert stranger_get(at, src) == 403  # only the kiosk's own browser is served
        with Image.open(io.BytesIO(shown.body())) as scan:
            # Where the dark band is: each page is its own.
            firsts.append(next(y for y in range(0, 1100, 5) if scan.getpixel((425, y))[0] < 100))
    assert firsts == [220, 440]
    assert page.get_attribute("[data-testid=picture-2]", "alt") == "Page 2 sur 2"
    assert page.request.get(at.running.kiosk_url + src.replace("/2.png", "/3.png")).status == 404
    at.pull(READER_PATIENT)
    page.wait_for_selector("[data-testid=welcome]")
    assert page.request.get(at.running.kiosk_url + src).status == 404
