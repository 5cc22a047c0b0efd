"""Formats through the API: deposits checked at the door (a 4xx with its reason, nothing
written), text and structure sealed at deposit, GET .../structure decided as a read of
the document, images stored without their metadata, the purge deleting it all."""

from __future__ import annotations

import base64
import hashlib
import io
import json
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from PIL import ExifTags, Image
from sqlalchemy import func, select

from server.models import (
    Document,
    DocumentContent,
    DocumentEntry,
    DocumentStructure,
    DocumentText,
    Dossier,
)
from server.purge import purge_due
from server.services import document_text
from tests.server import content_samples as samples
from tests.server.conftest import World, doc

STORED = (Document, DocumentContent, DocumentEntry, DocumentText, DocumentStructure)


def counts(world: World) -> dict[str, int]:
    with world.rt.sessions() as s:
        return {
            model.__name__: int(s.scalar(select(func.count()).select_from(model)) or 0)
            for model in STORED
        }


def deposit(world: World, who: str, dossier_id: int, data: bytes, mime: str, **extra: Any) -> Any:
    category = "depose_patient" if who == "marie" else "compte_rendu"
    body = doc(category, content=data, mime_type=mime, **extra)
    return world.call("POST", who, f"/dossiers/{dossier_id}/documents", body)


def structure(world: World, who: str, dossier_id: int, logical_id: str) -> Any:
    return world.call("GET", who, f"/dossiers/{dossier_id}/documents/{logical_id}/structure")


def sealed_rows(world: World, logical_id: str) -> tuple[DocumentText | None, Any, Any]:
    with world.rt.sessions() as s:
        found = s.execute(
            select(Document, Dossier).join(Dossier).where(Document.logical_id == logical_id)
        ).one()
        document, dossier = found
        return s.get(DocumentText, document.id), s.get(DocumentStructure, document.id), dossier


@pytest.mark.parametrize(
    ("data", "mime", "status", "source", "words", "sections", "entries"),
    [
        (
            samples.text_pdf("Compte rendu : hépatite B"),
            "application/pdf",
            "ready",
            "layer",
            "hépatite B",
            0,
            0,
        ),
        (samples.scanned_pdf(), "application/pdf", "pending", None, None, 0, 0),
        (samples.CDA, "text/xml", "ready", "narrative", "AMOXICILLINE", 5, 5),
        (samples.FHIR, "application/fhir+json", "ready", "narrative", "DOLIPRANE", 2, 6),
        ("Tension 12/8, créatinine".encode(), "text/plain", "ready", "plain", "créatinine", 0, 0),
        (b"{\\rtf1 Compte rendu d\\'e9taill\\'e9}", "text/rtf", "ready", "plain", "détaillé", 0, 0),
    ],
    ids=["pdf", "scan", "cda", "fhir", "text", "rtf"],
)
def test_each_format_is_stored_with_its_sealed_text_and_structure(
    world: World,
    marie_dossier: int,
    data: bytes,
    mime: str,
    status: str,
    source: str | None,
    words: str | None,
    sections: int,
    entries: int,
) -> None:
    r = deposit(world, "gp", marie_dossier, data, mime)
    assert r.status_code == 201, r.get_json()
    logical_id = r.get_json()["logical_id"]
    answer = structure(world, "gp", marie_dossier, logical_id).get_json()
    assert answer["text_status"] == status
    assert (len(answer["sections"]), len(answer["entries"])) == (sections, entries)
    text_row, structure_row, dossier = sealed_rows(world, logical_id)
    if status == "none":
        assert text_row is None
        return
    assert text_row is not None
    assert (text_row.status, text_row.source) == (status, source)
    keyring = world.rt.keyring
    if words is None:
        assert text_row.ciphertext is None
        assert text_row.next_attempt_at is not None  # due for the OCR worker
        return
    assert text_row.ciphertext is not None
    assert text_row.nonce is not None
    assert words.encode() not in text_row.ciphertext
    opened = keyring.decrypt(
        dossier.wrapped_key, text_row.nonce, text_row.ciphertext, f"{logical_id}:text"
    )
    assert words in opened.decode()
    with world.rt.sessions() as s:
        document = s.scalars(select(Document).where(Document.logical_id == logical_id)).one()
        assert document_text.text_of(world.rt.ctx(s), dossier, document) == (
            "ready",
            opened.decode(),
        )
    # Bound to its document and part: the same ciphertext under another name fails.
    with pytest.raises(InvalidTag):
        keyring.decrypt(
            dossier.wrapped_key, text_row.nonce, text_row.ciphertext, f"{logical_id}:structure"
        )
    if sections:
        assert structure_row is not None
        assert words.encode() not in structure_row.ciphertext
        plain = keyring.decrypt(
            dossier.wrapped_key,
            structure_row.nonce,
            structure_row.ciphertext,
            f"{logical_id}:structure",
        )
        assert json.loads(plain) == {
            "sections": answer["sections"],
            "entries": answer["entries"],
        }
    else:
        assert structure_row is None


def test_the_structure_answer_follows_the_contract(world: World, marie_dossier: int) -> None:
    r = deposit(world, "pharmacien", marie_dossier, samples.FHIR, "application/fhir+json")
    assert r.status_code == 403  # a pharmacist needs the patient's consent first
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/consents",
        {"national_id": world.nid("pharmacien")},
    )
    body = doc("dispensation", content=samples.FHIR, mime_type="application/fhir+json")
    r = world.call("POST", "pharmacien", f"/dossiers/{marie_dossier}/documents", body)
    assert r.status_code == 201, r.get_json()
    answer = structure(world, "marie", marie_dossier, r.get_json()["logical_id"]).get_json()
    assert answer["sections"][0]["title"] == "Médicaments délivrés"
    assert "<script" not in answer["sections"][0]["html"]
    first = answer["entries"][0]
    assert first == {
        "kind": "medication",
        "section": 0,
        "code": {
            "system": "https://data.esante.gouv.fr/ansm/medicament/codeCIS",
            "code": "60234100",
            "display": "DOLIPRANE 1000 mg, comprimé",
        },
        "name": "DOLIPRANE 1000 mg",
        "dose": "1000 mg",
        "form": None,
        "quantity": "2 boîtes",
        "posology": "1 comprimé jusqu'à 3 fois par jour",
    }


def test_the_structure_route_is_in_the_api_description(world: World) -> None:
    paths = world.client.get("/openapi.json").get_json()["paths"]
    route = paths["/api/v1/dossiers/{dossier_id}/documents/{logical_id}/structure"]
    schema = route["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert schema["required"] == ["text_status", "sections", "entries"]


def test_reading_the_structure_is_decided_and_traced_as_a_read(
    world: World, marie_dossier: int
) -> None:
    masked = deposit(world, "gp", marie_dossier, samples.CDA, "text/xml", masked_ps=True)
    logical_id = masked.get_json()["logical_id"]
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/consents",
        {"national_id": world.nid("specialist")},
    )
    # Masked from professionals other than the médecin traitant: answered as missing,
    # exactly like its metadata.
    path = f"/dossiers/{marie_dossier}/documents/{logical_id}"
    meta = world.call("GET", "specialist", path)
    r = structure(world, "specialist", marie_dossier, logical_id)
    assert (r.status_code, r.get_json()) == (meta.status_code, meta.get_json())
    assert r.status_code == 404
    assert structure(world, "mutuelle", marie_dossier, logical_id).status_code == 403
    r = structure(world, "marie", marie_dossier, logical_id)
    assert r.status_code == 200
    read = world.trace("marie")[-1]
    assert (read.action, read.outcome) == ("document:read", "allowed")
    assert read.target == f"document:{logical_id}"
    assert json.loads(read.detail or "{}")["part"] == "structure"


def test_a_patient_photo_loses_its_gps_before_storage(world: World, marie_dossier: int) -> None:
    original = samples.photo("JPEG", (40, 20), orientation=6)
    r = deposit(world, "marie", marie_dossier, original, "image/jpeg")
    assert r.status_code == 201, r.get_json()
    meta = r.get_json()
    content = world.call(
        "GET", "marie", f"/dossiers/{marie_dossier}/documents/{meta['logical_id']}/content"
    )
    stored = content.data
    assert stored != original
    assert b"PhoneMaker" not in stored
    assert b"12 rue des Lilas" not in stored
    image = Image.open(io.BytesIO(stored))
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert image.size == (20, 40)
    # Size and digest describe what is stored, not what was sent.
    assert meta["size"] == len(stored)
    digest = base64.b64encode(hashlib.sha256(stored).digest()).decode()
    assert content.headers["Digest"] == f"sha-256={digest}"
    answer = structure(world, "marie", marie_dossier, meta["logical_id"]).get_json()
    assert answer == {"text_status": "pending", "sections": [], "entries": []}


@pytest.mark.parametrize(
    ("who", "data", "mime", "reason"),
    [
        ("marie", samples.CDA, "text/xml", "mime_type_not_allowed"),
        ("marie", samples.FHIR, "application/fhir+json", "mime_type_not_allowed"),
        ("marie", samples.CDA, "text/plain", "content_type_mismatch"),
        ("marie", samples.text_pdf("x"), "image/jpeg", "content_type_mismatch"),
        ("marie", samples.pixel_bomb_png(), "image/png", "image_too_large"),
        ("marie", samples.photo("JPEG", (400, 300))[:-600], "image/jpeg", "content_truncated"),
        # Cut after its last pixels: it decodes whole, but the file is not (no end marker).
        ("marie", samples.photo("PNG", (400, 300))[:-12], "image/png", "content_truncated"),
        ("marie", samples.bad_crc_png(), "image/png", "content_corrupt"),
        ("gp", samples.text_pdf("x")[:-100], "application/pdf", "content_truncated"),
        ("gp", samples.encrypted_pdf(), "application/pdf", "pdf_encrypted"),
        ("gp", samples.bomb_pdf(), "application/pdf", "content_bomb"),
        ("gp", samples.XXE, "text/xml", "xml_doctype"),
        ("gp", samples.BILLION_LAUGHS, "application/xml", "xml_doctype"),
        ("gp", samples.DEEP_JSON, "application/json", "content_too_deep"),
        (
            "gp",
            samples.FHIR.replace(b'"resourceType": "Composition"', b'"resourceType": "Patient"', 1),
            "application/fhir+json",
            "fhir_invalid",
        ),
        ("gp", b"\x00\x01binary", "text/plain", "text_binary"),
    ],
    ids=[
        "patient-cda",
        "patient-fhir",
        "patient-mismatch",
        "pdf-as-jpeg",
        "pixel-bomb",
        "truncated-jpeg",
        "png-without-end",
        "png-bad-checksum",
        "truncated-pdf",
        "encrypted-pdf",
        "flate-bomb",
        "xxe",
        "billion-laughs",
        "json-nesting",
        "composition-missing",
        "binary-text",
    ],
)
def test_refused_contents_get_their_reason_and_write_nothing(
    world: World, marie_dossier: int, who: str, data: bytes, mime: str, reason: str
) -> None:
    before = counts(world)
    r = deposit(world, who, marie_dossier, data, mime)
    assert (r.status_code, r.get_json()["reason"]) == (422, reason)
    assert r.get_json()["message"]  # the French sentence the kiosk shows
    assert counts(world) == before


def test_a_refused_content_is_traced_as_not_carried_out(world: World, marie_dossier: int) -> None:
    r = deposit(world, "gp", marie_dossier, samples.XXE, "text/xml")
    assert r.status_code == 422
    last = world.trace("marie")[-1]
    assert (last.action, last.outcome, last.reason) == ("document:deposit", "denied", "xml_doctype")


def test_a_refused_caller_learns_nothing_about_the_file(world: World, marie_dossier: int) -> None:
    # The decision comes first: the mutuelle is refused whatever it sends.
    r = deposit(world, "mutuelle", marie_dossier, samples.XXE, "text/xml")
    assert r.status_code == 403
    assert r.get_json()["reason"] != "xml_doctype"


def test_a_replacement_is_read_like_a_deposit(world: World, marie_dossier: int) -> None:
    first = deposit(world, "gp", marie_dossier, samples.text_pdf("version un"), "application/pdf")
    logical_id = first.get_json()["logical_id"]
    path = f"/dossiers/{marie_dossier}/documents/{logical_id}/replace"
    before = counts(world)
    bad = doc("compte_rendu", content=samples.encrypted_pdf(), mime_type="application/pdf")
    r = world.call("POST", "gp", path, bad)
    assert (r.status_code, r.get_json()["reason"]) == (422, "pdf_encrypted")
    assert counts(world) == before
    good = doc("compte_rendu", content=samples.CDA, mime_type="text/xml")
    r = world.call("POST", "gp", path, good)
    assert r.status_code == 201, r.get_json()
    new = r.get_json()["logical_id"]
    assert structure(world, "gp", marie_dossier, new).get_json()["entries"]
    # The first version keeps its own text.
    old_text, old_structure, _ = sealed_rows(world, logical_id)
    assert old_text is not None
    assert old_text.source == "layer"
    assert old_structure is None


def test_the_purge_deletes_sealed_text_and_structure(world: World, marie_dossier: int) -> None:
    deposit(world, "gp", marie_dossier, samples.CDA, "text/xml")
    deposit(world, "gp", marie_dossier, samples.scanned_pdf(), "application/pdf")
    assert counts(world)["DocumentText"] == 2
    world.call(
        "POST", "marie", f"/dossiers/{marie_dossier}/close", {"confirm": True, "delete": True}
    )
    assert purge_due(world.rt.settings) == 1
    assert counts(world) == dict.fromkeys(counts(world), 0)


def test_patient_size_limit_still_applies_before_reading(world: World, marie_dossier: int) -> None:
    limit = world.rt.settings["MAX_PATIENT_UPLOAD_BYTES"]
    r = deposit(world, "marie", marie_dossier, b"x" * (limit + 1), "text/plain")
    assert (r.status_code, r.get_json()["reason"]) == (413, "content_too_large")


def test_the_pixel_limit_is_a_setting(world: World, marie_dossier: int) -> None:
    world.rt.settings["MAX_IMAGE_PIXELS"] = 799
    r = deposit(world, "marie", marie_dossier, samples.photo("PNG", (40, 20)), "image/png")
    assert (r.status_code, r.get_json()["reason"]) == (422, "image_too_large")
    world.rt.settings["MAX_IMAGE_PIXELS"] = 800
    r = deposit(world, "marie", marie_dossier, samples.photo("PNG", (40, 20)), "image/png")
    assert r.status_code == 201


@pytest.mark.parametrize(
    ("rtf", "status", "words"),
    [
        # Word writes a character beyond the basic plane as a UTF-16 surrogate pair.
        (b"{\\rtf1\\ansi\\uc1 Vaccin \\u-10179?\\u-8704? fait}", 201, "Vaccin \U0001f600 fait"),
        # Out of range, overflowing, a lone half: the replacement character, not a 500.
        (b"{\\rtf1\\ansi Dose \\u1114112? \\u99999999999? \\u55296? ok}", 201, "Dose \ufffd"),
        # A control word striprtf cannot take without its number: an unreadable file.
        (b"{\\rtf1\\ansi \\uc\\u\\u1252 ok}", 422, None),
    ],
    ids=["surrogate-pair", "out-of-range", "malformed"],
)
def test_an_rtfs_unicode_escapes_never_crash_the_deposit(
    world: World, marie_dossier: int, rtf: bytes, status: int, words: str | None
) -> None:
    """Found by an outside review: these escapes were 500s, the allowed deposit untraced."""
    before = counts(world)
    r = deposit(world, "gp", marie_dossier, rtf, "text/rtf")
    assert r.status_code == status, r.get_json()
    last = world.trace("marie")[-1]
    assert last.action == "document:deposit"
    if words is None:
        assert r.get_json()["reason"] == "content_corrupt"
        assert counts(world) == before
        assert (last.outcome, last.reason) == ("denied", "content_corrupt")
        return
    logical_id = r.get_json()["logical_id"]
    stored, _, dossier = sealed_rows(world, logical_id)
    assert stored is not None
    assert stored.nonce is not None
    assert stored.ciphertext is not None
    opened = world.rt.keyring.decrypt(
        dossier.wrapped_key, stored.nonce, stored.ciphertext, f"{logical_id}:text"
    )
    assert words in opened.decode()
