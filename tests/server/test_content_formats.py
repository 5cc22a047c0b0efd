"""Each format recognised by its bytes, checked at the door, and read (server/content/).

Run on the reader itself; tests/server/test_content_api.py runs the same files through
the deposit route and checks that a refusal writes nothing."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from server.content.errors import REASONS, ContentRefused
from server.content.limits import Limits
from server.content.sniff import DECLARED, Kind, sniff
from server.content.understand import ocr_source, patient_may_deposit, understand
from tests.server import content_samples as samples

LIMITS = Limits()


def refused(data: bytes, declared: str, limits: Limits = LIMITS) -> str:
    with pytest.raises(ContentRefused) as caught:
        understand(data, declared, limits)
    assert caught.value.status == 422
    assert caught.value.reason in REASONS
    return caught.value.reason


# --- recognised by the bytes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (samples.text_pdf("x"), Kind.PDF),
        (samples.photo("JPEG"), Kind.JPEG),
        (samples.photo("PNG"), Kind.PNG),
        (samples.photo("TIFF", orientation=None), Kind.TIFF),
        (b"{\\rtf1\\ansi Bonjour}", Kind.RTF),
        (samples.CDA, Kind.XML),
        (b"\xef\xbb\xbf  <ClinicalDocument/>", Kind.XML),
        (samples.FHIR, Kind.JSON),
        (b"Compte rendu : tension 12/8.\n", Kind.TEXT),
        (b"\x00\x01\x02binary", Kind.UNKNOWN),
    ],
)
def test_each_format_is_recognised_by_its_bytes(data: bytes, kind: Kind) -> None:
    assert sniff(data) is kind


@pytest.mark.parametrize(
    ("data", "declared", "reason"),
    [
        (samples.text_pdf("x"), "image/png", "content_type_mismatch"),
        (samples.photo("PNG"), "application/pdf", "content_type_mismatch"),
        (samples.photo("JPEG"), "image/png", "content_type_mismatch"),
        (samples.CDA, "text/plain", "content_type_mismatch"),
        (samples.CDA, "application/fhir+json", "content_type_mismatch"),
        (samples.FHIR, "text/xml", "content_type_mismatch"),
        (b"Bonjour", "application/pdf", "content_type_mismatch"),
        (b"Bonjour", "text/rtf", "content_type_mismatch"),
        (b"\x00\x01\x02\x03", "text/plain", "text_binary"),
        ("Résumé".encode("latin-1"), "text/plain", "text_not_utf8"),
    ],
)
def test_the_declared_type_must_match_the_content(data: bytes, declared: str, reason: str) -> None:
    assert refused(data, declared) == reason


def test_every_declared_type_names_a_format_and_patients_may_not_send_structured_ones() -> None:
    allowed = {mime for mime in DECLARED if patient_may_deposit(mime)}
    assert allowed == {
        "application/pdf",
        "image/jpeg",
        "image/png",
        "image/tiff",
        "text/plain",
        "text/rtf",
        "application/rtf",
    }


# --- PDF ---------------------------------------------------------------------------------


def test_a_pdf_text_layer_is_read_page_by_page() -> None:
    data = samples.text_pdf("Compte rendu : hépatite B", "Créatinine 82 µmol/L")
    reading = understand(data, "application/pdf", LIMITS)
    assert (reading.text_status, reading.source, reading.body) == ("ready", "layer", data)
    assert reading.text is not None
    assert "hépatite B" in reading.text
    assert "Créatinine 82 µmol/L" in reading.text
    assert reading.sections == reading.entries == []


def test_a_scanned_pdf_is_left_to_the_ocr() -> None:
    reading = understand(samples.scanned_pdf(), "application/pdf", LIMITS)
    assert (reading.text, reading.text_status) == (None, "pending")


def test_a_long_text_is_cut_at_the_text_limit_not_refused() -> None:
    data = samples.text_pdf(*[f"Page {n} " + "mot " * 20 for n in range(5)])
    reading = understand(data, "application/pdf", Limits(max_text_chars=150))
    assert reading.text is not None
    assert len(reading.text) == 150
    assert reading.text.startswith("Page 0")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (samples.encrypted_pdf(), "pdf_encrypted"),
        (samples.text_pdf("Compte rendu")[:-200], "content_truncated"),
        (b"%PDF-1.7\n garbage garbage\n%%EOF\n", "content_corrupt"),
        (samples.bomb_pdf(), "content_bomb"),
        (samples.text_pdf(*"abc"), "too_many_pages"),
    ],
    ids=["encrypted", "truncated", "corrupt", "flate-bomb", "pages"],
)
def test_hostile_pdfs_are_refused_with_their_reason(data: bytes, reason: str) -> None:
    limits = Limits(max_pages=2)
    assert refused(data, "application/pdf", limits) == reason


def test_reading_time_is_bounded() -> None:
    data = samples.text_pdf("un", "deux")
    assert refused(data, "application/pdf", Limits(seconds=0)) == "content_too_complex"


# --- CDA ---------------------------------------------------------------------------------


def test_a_structured_cda_gives_sections_entries_and_text() -> None:
    reading = understand(samples.CDA, "text/xml", LIMITS)
    assert (reading.text_status, reading.source) == ("ready", "narrative")
    assert [s["code"] for s in reading.sections] == [
        "10160-0",
        "48765-2",
        "11450-4",
        "30954-2",
        "11369-6",
    ]
    assert reading.sections[0]["title"] == "Traitements"
    html = reading.sections[0]["html"]
    assert "<td>AMOXICILLINE 1 g</td>" in html
    for hostile in ("script", "alert", "onclick", "javascript", "href", "xmlns"):
        assert hostile not in html
    by_kind = {entry["kind"]: entry for entry in reading.entries}
    assert by_kind["medication"] == {
        "kind": "medication",
        "section": 0,
        "code": {
            "system": "urn:oid:1.2.250.1.213.2.3.1",
            "code": "60234871",
            "display": "AMOXICILLINE 1 g cp",
        },
        "name": "AMOXICILLINE 1 g",
        "dose": "1 g",
        "form": "comprimé",
        "quantity": "2 boîtes",
        "posology": "1 comprimé matin et soir pendant 7 jours",
    }
    assert by_kind["allergy"]["name"] == "Pénicillines"
    assert (by_kind["allergy"]["reaction"], by_kind["allergy"]["severity"]) == (
        "urticaire",
        "modérée",
    )
    assert (by_kind["problem"]["name"], by_kind["problem"]["onset"]) == (
        "Hypertension artérielle",
        "2019-03",
    )
    lab = by_kind["lab_result"]
    assert (lab["name"], lab["value"], lab["unit"], lab["reference_range"], lab["date"]) == (
        "Créatinine",
        "82",
        "µmol/L",
        "45-104",
        "2026-09-30",
    )
    vaccine = by_kind["vaccination"]
    assert (vaccine["name"], vaccine["date"], vaccine["lot"], vaccine["section"]) == (
        "Vaccin grippe",
        "2026-10-02",
        "X123",
        4,
    )
    assert reading.text is not None
    assert "Synthèse médicale de Marie DUPONT" in reading.text
    assert "AMOXICILLINE 1 g | 1 comprimé matin et soir pendant 7 jours" in reading.text
    assert "alert" not in reading.text


def test_a_cda_with_an_embedded_pdf_gives_the_pdf_text() -> None:
    data = samples.cda_with_pdf(samples.text_pdf("Sortie le 3 octobre, anticoagulants"))
    reading = understand(data, "application/xml", LIMITS)
    assert (reading.text_status, reading.source, reading.sections) == ("ready", "layer", [])
    assert reading.text is not None
    assert "Compte rendu d'hospitalisation" in reading.text
    assert "anticoagulants" in reading.text


def test_a_cda_with_an_embedded_rtf_gives_the_letters_text() -> None:
    rtf = b"{\\rtf1\\ansi Lettre de liaison : {\\b anticoagulants} arr\\'eat\\'e9s.}"
    reading = understand(samples.cda_with_pdf(rtf, "text/rtf"), "text/xml", LIMITS)
    assert (reading.text_status, reading.source) == ("ready", "plain")
    assert reading.text is not None
    assert "Compte rendu d'hospitalisation" in reading.text
    assert "Lettre de liaison : anticoagulants arrêtés." in reading.text


def test_a_cda_with_an_embedded_scan_is_left_to_the_ocr_which_reads_the_scan() -> None:
    scan = samples.scanned_pdf()
    data = samples.cda_with_pdf(scan)
    assert understand(data, "text/xml", LIMITS).text_status == "pending"
    assert ocr_source(data, "text/xml") == (scan, Kind.PDF)


def test_a_cda_with_embedded_text() -> None:
    encoded = base64.b64encode(b"Lettre de liaison : RAS.").decode()
    data = (
        samples.cda_with_pdf(b"")
        .replace(b'mediaType="application/pdf"', b"")
        .replace(b'representation="B64"></text>', f'representation="B64">{encoded}</text>'.encode())
    )
    reading = understand(data, "text/xml", LIMITS)
    assert reading.text is not None
    assert reading.text.endswith("Lettre de liaison : RAS.")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (samples.XXE, "xml_doctype"),
        (samples.BILLION_LAUGHS, "xml_doctype"),
        (samples.EXTERNAL_DTD, "xml_doctype"),
        (samples.DEEP_XML, "content_too_deep"),
        (b"<ClinicalDocument xmlns='urn:hl7-org:v3'><title>", "content_corrupt"),
        (b"<html><body>not a CDA</body></html>", "cda_invalid"),
        (b"<ClinicalDocument xmlns='urn:hl7-org:v3'/>", "cda_invalid"),
        (samples.cda_with_pdf(b"MZ\x90\x00", "application/x-msdownload"), "cda_body_unsupported"),
        (samples.cda_with_pdf(samples.photo("PNG")), "content_type_mismatch"),
        (samples.cda_with_pdf(samples.encrypted_pdf()), "pdf_encrypted"),
        (samples.cda_with_pdf(samples.bomb_pdf()), "content_bomb"),
        (samples.cda_with_pdf(samples.pixel_bomb_png(), "image/jpeg"), "content_type_mismatch"),
        (
            samples.cda_with_pdf(samples.photo("JPEG", (400, 300))[:-600], "image/jpeg"),
            "content_truncated",
        ),
    ],
    ids=[
        "xxe",
        "billion-laughs",
        "external-dtd",
        "nesting",
        "truncated",
        "not-cda",
        "no-body",
        "embedded-exe",
        "embedded-mismatch",
        "embedded-encrypted",
        "embedded-bomb",
        "embedded-png-as-jpeg",
        "embedded-truncated-jpeg",
    ],
)
def test_hostile_xml_is_refused_and_never_reaches_outside(data: bytes, reason: str) -> None:
    assert refused(data, "text/xml") == reason


# --- FHIR --------------------------------------------------------------------------------


def test_a_fhir_document_gives_sections_entries_and_text() -> None:
    reading = understand(samples.FHIR, "application/fhir+json", LIMITS)
    assert (reading.text_status, reading.source) == ("ready", "narrative")
    assert [s["title"] for s in reading.sections] == ["Médicaments délivrés", "Antécédents"]
    html = reading.sections[0]["html"]
    assert "<td>DOLIPRANE 1000 mg</td>" in html
    for hostile in ("script", "alert", "<a", "href", "<img", "onerror"):
        assert hostile not in html
    kinds = [(e["kind"], e["section"]) for e in reading.entries]
    assert kinds == [
        ("medication", 0),
        ("medication", 0),
        ("vaccination", 1),
        ("allergy", 1),
        ("problem", 1),
        ("lab_result", 1),
    ]
    dispensed, requested = reading.entries[0], reading.entries[1]
    assert dispensed["code"] == {
        "system": "https://data.esante.gouv.fr/ansm/medicament/codeCIS",
        "code": "60234100",
        "display": "DOLIPRANE 1000 mg, comprimé",
    }
    assert (dispensed["name"], dispensed["dose"], dispensed["quantity"]) == (
        "DOLIPRANE 1000 mg",
        "1000 mg",
        "2 boîtes",
    )
    assert dispensed["posology"] == "1 comprimé jusqu'à 3 fois par jour"
    assert (requested["name"], requested["quantity"]) == ("Ventoline 100 µg", "1.50 flacon")
    vaccine = reading.entries[2]
    assert (vaccine["date"], vaccine["lot"]) == ("2026-10-02", "X123")
    lab = reading.entries[5]
    assert (lab["value"], lab["unit"], lab["reference_range"]) == ("82", "µmol/L", "45-104")
    assert reading.text is not None
    assert "DOLIPRANE 1000 mg | 2 boîtes" in reading.text


def _bundle(**changes: Any) -> bytes:
    bundle = json.loads(samples.FHIR)
    bundle.update(changes)
    return json.dumps(bundle).encode()


def _with_div(div: str) -> bytes:
    bundle = json.loads(samples.FHIR)
    bundle["entry"][0]["resource"]["section"][0]["text"]["div"] = div
    return json.dumps(bundle).encode()


def _composition_second() -> bytes:
    bundle = json.loads(samples.FHIR)
    bundle["entry"][0], bundle["entry"][1] = bundle["entry"][1], bundle["entry"][0]
    return json.dumps(bundle).encode()


def _mislabelled_reference() -> bytes:
    # ".../MedicationRequest/rx1" now holds an Observation.
    bundle = json.loads(samples.FHIR)
    bundle["entry"][4]["resource"]["resourceType"] = "Observation"
    return json.dumps(bundle).encode()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (_bundle(resourceType="Patient"), "fhir_invalid"),
        (_bundle(type="collection"), "fhir_invalid"),
        (_bundle(entry=[]), "fhir_invalid"),
        (_bundle(entry="nothing"), "fhir_invalid"),
        (_composition_second(), "fhir_invalid"),
        (_mislabelled_reference(), "fhir_invalid"),
        (b'{"resourceType": "Bundle", ', "content_corrupt"),
        (b"[1, 2]", "content_type_mismatch"),
        (samples.DEEP_JSON, "content_too_deep"),
        # An HTML sanitiser takes minutes over 100,000 nested tags: the XHTML is parsed
        # (and its depth bounded) first.
        (_with_div("<div>" * 100_000 + "x" + "</div>" * 100_000), "content_too_deep"),
        (_with_div("<div>&nbsp;non XHTML<br></div>"), "fhir_invalid"),
        (
            _with_div("<!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><div>&e;</div>"),
            "xml_doctype",
        ),
    ],
    ids=[
        "not-a-bundle",
        "not-a-document",
        "empty",
        "entry-not-a-list",
        "composition-second",
        "mismatched-resource-type",
        "truncated",
        "array",
        "nesting",
        "narrative-nesting",
        "narrative-not-xhtml",
        "narrative-xxe",
    ],
)
def test_hostile_json_is_refused(data: bytes, reason: str) -> None:
    assert refused(data, "application/fhir+json") == reason


def test_fhir_values_of_the_wrong_type_are_read_as_absent() -> None:
    bundle = json.loads(samples.FHIR)
    dispense = bundle["entry"][3]["resource"]
    dispense["quantity"] = "beaucoup"
    dispense["dosageInstruction"] = [{"text": {"not": "a string"}}]
    bundle["entry"][0]["resource"]["section"][0]["text"] = ["not", "an", "object"]
    reading = understand(json.dumps(bundle).encode(), "application/json", LIMITS)
    assert (reading.entries[0]["quantity"], reading.entries[0]["posology"]) == (None, None)
    assert reading.sections[0]["html"] == ""


# --- plain text and RTF ------------------------------------------------------------------


def test_plain_text_is_its_own_text() -> None:
    data = "\ufeffCompte rendu\r\nTension 12/8\f\n".encode()
    reading = understand(data, "text/plain", LIMITS)
    assert (reading.text, reading.source, reading.body) == (
        "Compte rendu\nTension 12/8\f\n",
        "plain",
        data,
    )


def test_rtf_is_stored_as_sent_with_its_text() -> None:
    data = (
        b"{\\rtf1\\ansi\\ansicpg1252{\\fonttbl{\\f0 Arial;}}{\\*\\generator Word;}\\f0 "
        b"Compte rendu\\par H\\'e9patite B chronique, \\u233?t\\u233? 2024.\\par}"
    )
    reading = understand(data, "application/rtf", LIMITS)
    assert reading.body == data  # stored as sent
    assert reading.text_status == "ready"
    assert reading.source == "plain"
    # Escaped accents resolved; the font table and the generator are not text.
    assert reading.text is not None
    assert reading.text.split("\n")[:2] == ["Compte rendu", "Hépatite B chronique, été 2024."]
    assert "Arial" not in reading.text
    assert "Word" not in reading.text


def test_an_rtf_without_words_has_no_text() -> None:
    reading = understand(b"{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}}", "text/rtf", LIMITS)
    assert (reading.text, reading.text_status) == (None, "none")


def test_the_kiosks_structured_dispensation_is_read_line_by_line() -> None:
    # The bundle exactly as the kiosk builds it (kiosk/fhir_documents.py), read by the
    # server: each line keeps its name, strength, form, quantity and posology.
    import uuid
    from datetime import UTC, datetime

    from kiosk import fhir_documents as fd

    lines = [
        fd.MedicationLine(
            "AMOXICILLINE", "1 g", "comprimé", 2, "boîte", "1 matin et soir, 7 jours"
        ),
        fd.MedicationLine("Sirop maison <b>", posology="3 cuillères par jour"),
    ]
    bundle = fd.medication_bundle(
        fd.DISPENSATION,
        "Délivrance",
        lines,
        fd.Subject("279035121518989", "1.2.250.1.213.1.4.10", "DURAND", ("Marie",)),
        fd.Author("810003456786", "Paul", "Martin"),
        now=datetime(2026, 11, 28, 10, tzinfo=UTC),
        new_id=lambda: str(uuid.uuid4()),
    )
    reading = understand(json.dumps(bundle).encode(), "application/fhir+json", LIMITS)
    medications = [e for e in reading.entries if e["kind"] == "medication"]
    assert [(m["name"], m["dose"], m["form"], m["posology"]) for m in medications] == [
        ("AMOXICILLINE", "1 g", "comprimé", "1 matin et soir, 7 jours"),
        ("Sirop maison <b>", None, None, "3 cuillères par jour"),
    ]
    assert medications[0]["quantity"] == "2 boîte"
    assert reading.text is not None
    assert "AMOXICILLINE" in reading.text


def test_entries_add_to_the_text_only_what_the_narrative_does_not_say() -> None:
    """A structured document's text reads each thing once (snippets, diffs), and a coded
    entry written nowhere in the narrative stays searchable."""
    reading = understand(samples.FHIR, "application/fhir+json", LIMITS)
    assert reading.text is not None
    lines = reading.text.split("\n")
    assert reading.text.count("Asthme") == 1  # the narrative's, the entry adds nothing
    assert lines.count("DOLIPRANE 1000 mg | 2 boîtes") == 1
    assert not any(line.startswith("DOLIPRANE 1000 mg 2 boîtes") for line in lines)
    assert "Vaccin grippe 2026-10-02 X123" in lines  # in no narrative: kept whole
