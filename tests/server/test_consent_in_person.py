"""Consent in person: at the counter, the patient's own card signs a fresh challenge and
the calling professional may then read the dossier (as the matrix allows)."""

from __future__ import annotations

import base64
from typing import Any

from sqlalchemy import select

from server.models import AuditEntry
from tests.server.cardkit import CardPki, KioskClient, proof_body, read_card
from tests.server.conftest import World

SPECIALIST_CARD = "medecin_specialiste-girard"  # World's "specialist", no relation to Marie
MARIE_CARD = "patient-sophie-lefebvre"  # the INS of World's "marie"
LUCIA_CARD = "patient-lucia-santoni"  # World's "lucia": another patient


def _specialist(borne: KioskClient, test_pki: CardPki) -> str:
    r = borne.sign_in(test_pki.card(SPECIALIST_CARD))
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["token"])


def _presence(borne: KioskClient, test_pki: CardPki, card: str, **overrides: Any) -> Any:
    auth = read_card(test_pki.card(card), borne.challenge())
    return proof_body(auth) | overrides


def _trace(world: World, dossier_id: int) -> list[AuditEntry]:
    with world.rt.sessions() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_the_patients_card_opens_the_dossier_to_the_caller_only(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = _specialist(borne, test_pki)
    listing = f"/dossiers/{marie_dossier}/documents"
    assert borne.call("GET", listing, token=token).status_code == 403
    r = borne.call(
        "POST",
        f"/dossiers/{marie_dossier}/consents/in-person",
        _presence(borne, test_pki, MARIE_CARD),
        token=token,
    )
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["professional"]["national_id"] == "810001234565"
    assert borne.call("GET", listing, token=token).status_code == 200
    granted = [e for e in _trace(world, marie_dossier) if e.action == "access:grant"]
    assert granted[-1].outcome == "allowed"
    assert granted[-1].reason == "explicit_consent"
    # The others are no better off.
    assert world.call("GET", "pharmacien", listing).status_code == 403


def test_another_patients_card_is_no_evidence(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    world.create("admissions", "lucia")
    token = _specialist(borne, test_pki)
    r = borne.call(
        "POST",
        f"/dossiers/{marie_dossier}/consents/in-person",
        _presence(borne, test_pki, LUCIA_CARD),
        token=token,
    )
    assert r.status_code == 403
    denied = [e for e in _trace(world, marie_dossier) if e.action == "access:grant"]
    assert denied[-1].outcome == "denied"
    assert borne.call("GET", f"/dossiers/{marie_dossier}/documents", token=token).status_code == 403


def test_a_forged_signature_is_refused_and_the_session_lives_on(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = _specialist(borne, test_pki)
    body = _presence(borne, test_pki, MARIE_CARD)
    signature = bytearray(base64.b64decode(body["signature"]))
    signature[-1] ^= 1
    body["signature"] = base64.b64encode(bytes(signature)).decode()
    r = borne.call("POST", f"/dossiers/{marie_dossier}/consents/in-person", body, token=token)
    assert r.status_code == 403
    assert r.get_json()["reason"] == "patient_card_refused"
    reasons = [e.reason for e in _trace(world, marie_dossier) if e.outcome == "denied"]
    assert reasons[-1] in ("signature_invalid", "certificate_malformed")
    assert borne.call("GET", "/session", token=token).status_code == 200
    # The challenge is burnt: the same proof again is refused too.
    again = borne.call("POST", f"/dossiers/{marie_dossier}/consents/in-person", body, token=token)
    assert again.status_code == 403
