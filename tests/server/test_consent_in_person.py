"""Consent in person: at the counter, the patient's own card and the professional's both
sign the consent's draft, and the calling professional may then read the dossier (as
the matrix allows). The forgeries of each part are in test_copresence.py."""

from __future__ import annotations

import base64

from sqlalchemy import select

from server.models import AuditEntry
from tests.server.cardkit import CardPki, KioskClient
from tests.server.conftest import World
from tests.server.test_copresence import MARIE_CARD, draft, sign_in, signed

SPECIALIST_CARD = "medecin_specialiste-girard"  # World's "specialist", no relation to Marie


def _trace(world: World) -> list[AuditEntry]:
    with world.rt.sessions() as s:
        return list(s.scalars(select(AuditEntry).order_by(AuditEntry.id)))


def test_the_patients_card_opens_the_dossier_to_the_caller_only(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    listing = f"/dossiers/{marie_dossier}/documents"
    path = f"/dossiers/{marie_dossier}/consents/in-person"
    assert borne.call("GET", listing, token=token).status_code == 403
    made = draft(borne, token, path + "/draft")
    r = borne.call("POST", path, signed(test_pki, made), token=token)
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["professional"]["national_id"] == "810001234565"
    assert borne.call("GET", listing, token=token).status_code == 200
    granted = [e for e in _trace(world) if e.action == "access:grant"]
    assert granted[-1].outcome == "allowed"
    assert granted[-1].reason == "explicit_consent"
    # The others are no better off.
    assert world.call("GET", "pharmacien", listing).status_code == 403


def test_a_forged_signature_is_refused_and_the_session_lives_on(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    path = f"/dossiers/{marie_dossier}/consents/in-person"
    body = signed(test_pki, draft(borne, token, path + "/draft"), patient=MARIE_CARD)
    signature = bytearray(base64.b64decode(body["patient_card"]["signature"]))
    signature[-1] ^= 1
    body["patient_card"]["signature"] = base64.b64encode(bytes(signature)).decode()
    r = borne.call("POST", path, body, token=token)
    assert r.status_code == 403
    assert r.get_json()["reason"] == "copresence_refused"
    reasons = [e.reason for e in _trace(world) if e.outcome == "denied"]
    assert reasons[-1] in ("signature_invalid", "certificate_malformed")
    assert borne.call("GET", "/session", token=token).status_code == 200
    assert borne.call("GET", f"/dossiers/{marie_dossier}/documents", token=token).status_code == 403
