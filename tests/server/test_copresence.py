"""Co-presence (docs/receipts.md): a consent given in person is signed by the patient's card
and the professional's card over the consent's own draft, and the receipt carries both.

Every part is forged in turn (the patient card, the professional card, the content, a
replay, the expiry, the dossier, the PKI, the revocation): each is refused with the one
generic answer outward, and the check that failed is in the trace."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from cardreader.emulator.demo import DEMO_PIN, DEMO_PUK
from cardreader.emulator.pki import Pki
from cardreader.session import CardAuthentication
from cardreader.signature import copresence_challenge
from server import receipt_pdf
from server.models import AuditEntry, ConsultationConsent, Receipt, RepresentativeLink
from tests.server.cardkit import CERT_TIME, CardPki, KioskClient, read_card
from tests.server.conftest import World, identity

SPECIALIST_CARD = "medecin_specialiste-girard"  # World's "specialist"
GP_CARD = "medecin_generaliste-dupont"  # World's "gp"
DESK_CARD = "infirmier-petit"  # its national id is World's "admissions"
MARIE_CARD = "patient-sophie-lefebvre"  # the INS of World's "marie"
LUCIA_CARD = "patient-lucia-santoni"  # World's "lucia"
DER = Encoding.DER
REFUSED = {"error": "forbidden", "reason": "copresence_refused"}


def sign_in(borne: KioskClient, test_pki: CardPki, card: str) -> str:
    r = borne.sign_in(test_pki.card(card))
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["token"])


def draft(borne: KioskClient, token: str, path: str, body: Any = None) -> dict[str, Any]:
    r = borne.call("POST", path, body, token=token)
    assert r.status_code == 201, r.get_json()
    out: dict[str, Any] = r.get_json()
    # The kiosk need not trust the server's challenge: it is derived from the draft.
    assert base64.b64decode(out["challenge"]) == copresence_challenge(
        base64.b64decode(out["draft"])
    )
    return out


def card_part(auth: CardAuthentication) -> dict[str, str]:
    return {
        "serial": auth.serial.hex(),
        "certificate": base64.b64encode(auth.certificate_der).decode(),
        "signature": base64.b64encode(auth.signature).decode(),
    }


def signed(
    test_pki: CardPki,
    made: dict[str, Any],
    patient: Any = MARIE_CARD,
    pro: Any = SPECIALIST_CARD,
    challenge: bytes | None = None,
) -> dict[str, Any]:
    """Both cards sign the draft's challenge (or `challenge`, to forge)."""
    value = challenge or copresence_challenge(base64.b64decode(made["draft"]))
    patient_card = test_pki.card(patient) if isinstance(patient, str) else patient
    pro_card = test_pki.card(pro) if isinstance(pro, str) else pro
    return {
        "draft": made["draft"],
        "tag": made["tag"],
        "patient_card": card_part(read_card(patient_card, value)),
        "professional_card": card_part(read_card(pro_card, value)),
    }


def reasons(world: World) -> list[str]:
    with world.rt.sessions() as s:
        rows = s.scalars(
            select(AuditEntry).where(AuditEntry.outcome == "denied").order_by(AuditEntry.id)
        )
        return [e.reason for e in rows]


def refused(world: World, r: Any, reason: str) -> None:
    assert r.status_code == 403, r.get_json()
    assert {k: r.get_json()[k] for k in REFUSED} == REFUSED
    assert reasons(world)[-1] == reason


def consents(world: World, dossier_id: int) -> int:
    with world.rt.sessions() as s:
        found = s.scalars(
            select(ConsultationConsent).where(ConsultationConsent.dossier_id == dossier_id)
        )
        return len(list(found))


def receipt_change(world: World, receipt_id: str) -> dict[str, Any]:
    with world.rt.sessions() as s:
        row = s.scalars(select(Receipt).where(Receipt.receipt_id == receipt_id)).one()
        change: dict[str, Any] = json.loads(row.content)["change"]
        return change


@pytest.fixture
def specialist(borne: KioskClient, test_pki: CardPki) -> str:
    return sign_in(borne, test_pki, SPECIALIST_CARD)


def consent_path(dossier_id: int) -> str:
    return f"/dossiers/{dossier_id}/consents/in-person"


# ---- the consent at the counter --------------------------------------------------------


def test_both_cards_sign_the_consent_and_the_receipt_carries_them(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    path = consent_path(marie_dossier)
    made = draft(borne, specialist, path + "/draft")
    content = json.loads(base64.b64decode(made["draft"]))
    assert content["operation"] == "access:grant"
    assert content["dossier_id"] == marie_dossier
    assert content["professional"]["national_id"] == "810001234565"
    assert content["terminal"]["name"] == "borne-1"
    r = borne.call("POST", path, signed(test_pki, made), token=specialist)
    assert r.status_code == 201, r.get_json()
    listing = borne.call("GET", f"/dossiers/{marie_dossier}/documents", token=specialist)
    assert listing.status_code == 200
    change = receipt_change(world, r.get_json()["receipt_id"])
    assert change["consent"]["in_person"] is True
    said = receipt_pdf.describe({"change": change})  # the PDF's reading of it
    assert any(line.startswith("Signé en personne par la carte du patient") for line in said)
    part = change["copresence"]
    assert part["draft"] == made["draft"]
    assert part["challenge"] == made["challenge"]
    assert set(part["patient_card"]) == {"serial", "certificate", "issuer", "signature"}
    marie = x509.load_pem_x509_certificate(test_pki.card(MARIE_CARD).certificate_pem)
    assert base64.b64decode(part["patient_card"]["certificate"]) == marie.public_bytes(DER)


def test_another_patients_card_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    world.create("admissions", "lucia")
    path = consent_path(marie_dossier)
    made = draft(borne, specialist, path + "/draft")
    r = borne.call("POST", path, signed(test_pki, made, patient=LUCIA_CARD), token=specialist)
    refused(world, r, "patient_card_other_person")
    assert consents(world, marie_dossier) == 0
    # The refusal is on Marie's chain, naming the professional who tried.
    marie_trace = [e for e in world.trace("marie") if e.outcome == "denied"]
    assert marie_trace[-1].reason == "patient_card_other_person"
    assert marie_trace[-1].actor_kind == "professional"
    # The evidence is refused, not the professional's session.
    assert borne.call("GET", "/session", token=specialist).status_code == 200


def test_another_professionals_card_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    path = consent_path(marie_dossier)
    made = draft(borne, specialist, path + "/draft")
    r = borne.call("POST", path, signed(test_pki, made, pro=GP_CARD), token=specialist)
    refused(world, r, "professional_card_not_the_sessions")
    assert consents(world, marie_dossier) == 0


def test_a_draft_made_for_another_professional_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    path = consent_path(marie_dossier)
    gp = sign_in(borne, test_pki, GP_CARD)
    made = draft(borne, gp, path + "/draft")
    body = signed(test_pki, made, pro=GP_CARD)
    refused(
        world,
        borne.call("POST", path, body, token=specialist),
        "copresence_draft_other_professional",
    )


@pytest.mark.parametrize("part", ["patient_card", "professional_card"])
def test_a_signature_over_other_content_is_refused(
    world: World,
    test_pki: CardPki,
    borne: KioskClient,
    marie_dossier: int,
    specialist: str,
    part: str,
) -> None:
    path = consent_path(marie_dossier)
    made = draft(borne, specialist, path + "/draft")
    other = draft(borne, specialist, path + "/draft")
    body = signed(test_pki, made)
    body[part] = signed(test_pki, other)[part]  # that card signed another draft
    refused(world, borne.call("POST", path, body, token=specialist), "signature_invalid")
    assert consents(world, marie_dossier) == 0


def test_an_altered_draft_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    path = consent_path(marie_dossier)
    made = draft(borne, specialist, path + "/draft")
    content = json.loads(base64.b64decode(made["draft"]))
    content["terms"]["duration_seconds"] *= 100
    forged = json.dumps(content, sort_keys=True, separators=(",", ":")).encode()
    made["draft"] = base64.b64encode(forged).decode()
    # Both cards really signed the altered content: only the server's tag is missing.
    r = borne.call("POST", path, signed(test_pki, made), token=specialist)
    refused(world, r, "copresence_draft_unknown")


def test_a_replayed_draft_and_its_signatures_are_refused(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    path = consent_path(marie_dossier)
    made = draft(borne, specialist, path + "/draft")
    body = signed(test_pki, made)
    assert borne.call("POST", path, body, token=specialist).status_code == 201
    refused(world, borne.call("POST", path, body, token=specialist), "copresence_draft_replayed")
    assert consents(world, marie_dossier) == 1
    # A failed attempt spends the draft too: it cannot be tried again with other cards.
    made = draft(borne, specialist, path + "/draft")
    bad = signed(test_pki, made, patient=LUCIA_CARD)
    borne.call("POST", path, bad, token=specialist)
    again = signed(test_pki, made)
    refused(world, borne.call("POST", path, again, token=specialist), "copresence_draft_replayed")


def test_an_expired_draft_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    path = consent_path(marie_dossier)
    made = draft(borne, specialist, path + "/draft")
    body = signed(test_pki, made)
    world.clock.advance(seconds=61)
    refused(world, borne.call("POST", path, body, token=specialist), "copresence_draft_expired")


def test_a_draft_for_another_dossier_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    lucia = world.create("admissions", "lucia")
    made = draft(borne, specialist, consent_path(lucia) + "/draft")
    body = signed(test_pki, made)
    r = borne.call("POST", consent_path(marie_dossier), body, token=specialist)
    refused(world, r, "copresence_draft_other_dossier")


def test_a_draft_for_another_operation_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int, specialist: str
) -> None:
    made = draft(
        borne,
        specialist,
        f"/dossiers/{marie_dossier}/representatives/in-person/draft",
        {"ins": identity("jean")["ins"]},
    )
    r = borne.call("POST", consent_path(marie_dossier), signed(test_pki, made), token=specialist)
    refused(world, r, "copresence_draft_other_operation")


def test_a_draft_relayed_by_another_kiosk_is_refused(
    world: World,
    test_pki: CardPki,
    kiosks: dict[str, KioskClient],
    marie_dossier: int,
) -> None:
    borne, other = kiosks["borne-1"], kiosks["borne-2"]
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    made = draft(borne, token, consent_path(marie_dossier) + "/draft")
    elsewhere = sign_in(other, test_pki, SPECIALIST_CARD)
    body = signed(test_pki, made)
    r = other.call("POST", consent_path(marie_dossier), body, token=elsewhere)
    refused(world, r, "copresence_draft_other_kiosk")


def test_a_revoked_card_and_a_card_of_another_pki_are_refused(
    world: World,
    test_pki: CardPki,
    borne: KioskClient,
    marie_dossier: int,
    specialist: str,
    tmp_path: Path,
) -> None:
    path = consent_path(marie_dossier)
    marie = test_pki.card(MARIE_CARD).identity
    revoked = test_pki.pki.issue_card(marie, now=CERT_TIME)
    test_pki.pki.revoke(
        x509.load_pem_x509_certificate(revoked.certificate_pem), now=CERT_TIME + timedelta(days=1)
    )
    made = draft(borne, specialist, path + "/draft")
    r = borne.call("POST", path, signed(test_pki, made, patient=revoked), token=specialist)
    refused(world, r, "certificate_revoked")
    rogue = Pki.init(tmp_path / "rogue", now=CERT_TIME).issue_card(marie, now=CERT_TIME)
    made = draft(borne, specialist, path + "/draft")
    r = borne.call("POST", path, signed(test_pki, made, patient=rogue), token=specialist)
    refused(world, r, "certificate_untrusted")
    # The same for the professional's card: another PKI's copy of the specialist's card.
    rogue_pro = Pki.init(tmp_path / "rogue-pro", now=CERT_TIME).issue_card(
        test_pki.card(SPECIALIST_CARD).identity, pin=DEMO_PIN, puk=DEMO_PUK, now=CERT_TIME
    )
    made = draft(borne, specialist, path + "/draft")
    r = borne.call("POST", path, signed(test_pki, made, pro=rogue_pro), token=specialist)
    refused(world, r, "certificate_untrusted")
    assert consents(world, marie_dossier) == 0


def test_a_draft_needs_a_card_session_at_a_kiosk(world: World, marie_dossier: int) -> None:
    r = world.call("POST", "specialist", consent_path(marie_dossier) + "/draft")
    assert r.status_code == 401


# ---- a dossier opened at the desk ------------------------------------------------------


def creation_request() -> dict[str, Any]:
    return {
        "patient": identity("lucia"),
        "consent": {"given": True, "terminal": "Accueil"},
        "emergency": {"bris_de_glace": True, "centre_15": False},
    }


def test_a_dossier_opened_at_the_desk_carries_both_cards(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    desk = sign_in(borne, test_pki, DESK_CARD)
    request = creation_request()
    made = draft(borne, desk, "/dossiers/in-person/draft", request)
    terms = json.loads(base64.b64decode(made["draft"]))["terms"]
    assert terms["patient"]["ins"] == identity("lucia")["ins"]
    assert "email" not in json.dumps(terms)  # contact details are in no receipt
    body = {"request": request, **signed(test_pki, made, patient=LUCIA_CARD, pro=DESK_CARD)}
    r = borne.call("POST", "/dossiers/in-person", body, token=desk)
    assert r.status_code == 201, r.get_json()
    change = receipt_change(world, r.get_json()["receipt_id"])
    assert change["consent"]["given"] is True
    assert change["copresence"]["draft"] == made["draft"]


def test_a_creation_request_other_than_the_signed_one_is_refused(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    desk = sign_in(borne, test_pki, DESK_CARD)
    request = creation_request()
    made = draft(borne, desk, "/dossiers/in-person/draft", request)
    request["emergency"]["centre_15"] = True  # not what the patient's card signed
    body = {"request": request, **signed(test_pki, made, patient=LUCIA_CARD, pro=DESK_CARD)}
    refused(
        world,
        borne.call("POST", "/dossiers/in-person", body, token=desk),
        "copresence_draft_other_terms",
    )
    assert (
        world.call(
            "POST", "admissions", "/dossiers/lookup", {"ins": identity("lucia")["ins"]}
        ).status_code
        == 404
    )


def test_a_dossier_is_not_opened_with_someone_elses_card(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    desk = sign_in(borne, test_pki, DESK_CARD)
    request = creation_request()
    made = draft(borne, desk, "/dossiers/in-person/draft", request)
    body = {"request": request, **signed(test_pki, made, patient=MARIE_CARD, pro=DESK_CARD)}
    r = borne.call("POST", "/dossiers/in-person", body, token=desk)
    refused(world, r, "patient_card_other_person")


# ---- a representative named at the desk with their own card ----------------------------


def test_a_representative_named_with_their_own_card(
    world: World, test_pki: CardPki, borne: KioskClient
) -> None:
    leo = world.create("admissions", "leo")
    desk = sign_in(borne, test_pki, DESK_CARD)
    path = f"/dossiers/{leo}/representatives/in-person"
    made = draft(borne, desk, path + "/draft", {"ins": identity("marie")["ins"]})
    r = borne.call("POST", path, signed(test_pki, made, pro=DESK_CARD), token=desk)
    assert r.status_code == 201, r.get_json()
    assert [p["ins"] for p in r.get_json()["representatives"]] == [identity("marie")["ins"]]
    change = receipt_change(world, r.get_json()["receipt_id"])
    assert change["representative"]["identity_proved_by_card"] is True
    assert change["copresence"]["draft"] == made["draft"]
    # Someone else's card than the person named: refused, nobody added.
    made = draft(borne, desk, path + "/draft", {"ins": identity("lucia")["ins"]})
    r = borne.call("POST", path, signed(test_pki, made, pro=DESK_CARD), token=desk)
    refused(world, r, "patient_card_other_person")
    with world.rt.sessions() as s:
        links = s.scalars(select(RepresentativeLink).where(RepresentativeLink.dossier_id == leo))
        assert [link.patient_id for link in links] == [world.ids["marie"]]
