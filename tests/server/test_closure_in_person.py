"""Closure at a desk: a professional carries out the patient's choice, the patient's card
in the reader signing a fresh challenge of this kiosk (as for consent in person)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.server.cardkit import CardPki, KioskClient, proof_body, read_card
from tests.server.conftest import World

SPECIALIST_CARD = "medecin_specialiste-girard"  # World's "specialist", no relation to Marie
MARIE_CARD = "patient-sophie-lefebvre"  # the INS of World's "marie"
LUCIA_CARD = "patient-lucia-santoni"  # World's "lucia": another patient


def _specialist(borne: KioskClient, test_pki: CardPki) -> str:
    r = borne.sign_in(test_pki.card(SPECIALIST_CARD))
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["token"])


def _card(borne: KioskClient, test_pki: CardPki, card: str) -> dict[str, Any]:
    return proof_body(read_card(test_pki.card(card), borne.challenge()))


def _close(borne: KioskClient, token: str, dossier: int, card: dict[str, Any], **extra: Any) -> Any:
    body = {"confirm": True, "delete": False, "card": card, **extra}
    return borne.call("POST", f"/dossiers/{dossier}/close/in-person", body, token=token)


def test_the_patients_card_lets_the_professional_close_with_a_receipt(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = _specialist(borne, test_pki)
    card = _card(borne, test_pki, MARIE_CARD)
    r = _close(borne, token, marie_dossier, card, delete=True)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "closed"
    assert "actions" not in body  # the professional is not told what the patient may do
    receipt = json.loads(world.call("GET", "marie", f"/receipts/{body['receipt_id']}").data)
    assert receipt["change"]["in_person"] is True
    assert receipt["change"]["deletion_requested"] is True
    assert receipt["actor"]["national_id"] == "810001234565"
    closing = [e for e in world.trace("marie") if e.action == "dossier:close"][-1]
    assert (closing.outcome, closing.reason, closing.mode) == (
        "allowed",
        "explicit_consent",
        "consent",
    )
    # Closed: the professional who closed it reads nothing more, and cannot reopen it.
    assert borne.call("GET", f"/dossiers/{marie_dossier}", token=token).status_code == 403
    assert borne.call("POST", f"/dossiers/{marie_dossier}/reopen", token=token).status_code == 403
    # The card's challenge is spent: the same proof cannot close again (replay).
    assert world.call("POST", "marie", f"/dossiers/{marie_dossier}/reopen").status_code == 200
    replay = _close(borne, token, marie_dossier, card)
    assert replay.status_code in (401, 403)
    assert world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()["status"] == "active"


def test_another_patients_card_does_not_close(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    world.create("admissions", "lucia")
    token = _specialist(borne, test_pki)
    r = _close(borne, token, marie_dossier, _card(borne, test_pki, LUCIA_CARD))
    assert r.status_code == 403
    assert world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()["status"] == "active"
    denied = [e for e in world.trace("marie") if e.action == "dossier:close"][-1]
    assert denied.outcome == "denied"


def test_a_forged_card_signature_does_not_close_and_the_session_lives_on(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = _specialist(borne, test_pki)
    card = _card(borne, test_pki, MARIE_CARD)
    signature = bytearray(base64.b64decode(card["signature"]))
    signature[-1] ^= 1
    card["signature"] = base64.b64encode(bytes(signature)).decode()
    r = _close(borne, token, marie_dossier, card)
    assert r.status_code == 403, r.get_json()
    assert world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()["status"] == "active"
    assert borne.call("GET", "/session", token=token).status_code == 200


def test_a_professional_cannot_close_without_the_card_nor_with_a_bad_body(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = _specialist(borne, test_pki)
    plain = borne.call("POST", f"/dossiers/{marie_dossier}/close", {"confirm": True}, token=token)
    assert plain.status_code == 403
    card = _card(borne, test_pki, MARIE_CARD)
    for bad in (
        {"delete": False, "card": card},
        {"confirm": True, "card": card, "extra": 1},
        {"confirm": True, "card": "x" * 10000},
        {"confirm": True},
    ):
        r = borne.call("POST", f"/dossiers/{marie_dossier}/close/in-person", bad, token=token)
        assert 400 <= r.status_code < 500, bad
    assert world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()["status"] == "active"
