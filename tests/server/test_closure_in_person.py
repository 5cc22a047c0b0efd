"""Closure at a desk: a professional carries out the patient's choice, the patient's card
and the professional's both signing the closure's draft (co-presence, docs/receipts.md;
every forgery of the draft and the cards is in test_copresence.py)."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.server.cardkit import CardPki, KioskClient
from tests.server.conftest import World
from tests.server.test_copresence import (
    LUCIA_CARD,
    MARIE_CARD,
    SPECIALIST_CARD,
    draft,
    reasons,
    sign_in,
    signed,
)


def _signed_closure(
    borne: KioskClient, test_pki: CardPki, token: str, dossier: int, card: str, delete: bool
) -> dict[str, Any]:
    path = f"/dossiers/{dossier}/close/in-person/draft"
    made = draft(borne, token, path, {"confirm": True, "delete": delete})
    return signed(test_pki, made, patient=card)


def _close(borne: KioskClient, token: str, dossier: int, body: dict[str, Any]) -> Any:
    return borne.call("POST", f"/dossiers/{dossier}/close/in-person", body, token=token)


def _status(world: World, dossier: int) -> str:
    return str(world.call("GET", "marie", f"/dossiers/{dossier}").get_json()["status"])


def test_both_cards_let_the_professional_close_with_a_receipt(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    body = _signed_closure(borne, test_pki, token, marie_dossier, MARIE_CARD, delete=True)
    r = _close(borne, token, marie_dossier, body)
    assert r.status_code == 200, r.get_json()
    answer = r.get_json()
    assert answer["status"] == "closed"
    assert "actions" not in answer  # the professional is not told what the patient may do
    receipt = json.loads(world.call("GET", "marie", f"/receipts/{answer['receipt_id']}").data)
    assert receipt["change"]["in_person"] is True
    assert receipt["change"]["deletion_requested"] is True  # as the cards signed it
    assert receipt["change"]["copresence"]["draft"] == body["draft"]
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
    # The draft is spent: the same signatures cannot close again (replay).
    assert world.call("POST", "marie", f"/dossiers/{marie_dossier}/reopen").status_code == 200
    replay = _close(borne, token, marie_dossier, body)
    assert replay.status_code == 403
    assert reasons(world)[-1] == "copresence_draft_replayed"
    assert _status(world, marie_dossier) == "active"


def test_another_patients_card_does_not_close(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    world.create("admissions", "lucia")
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    body = _signed_closure(borne, test_pki, token, marie_dossier, LUCIA_CARD, delete=False)
    r = _close(borne, token, marie_dossier, body)
    assert r.status_code == 403
    assert r.get_json()["reason"] == "copresence_refused"
    assert reasons(world)[-1] == "patient_card_other_person"
    assert _status(world, marie_dossier) == "active"


def test_a_forged_card_signature_does_not_close_and_the_session_lives_on(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    body = _signed_closure(borne, test_pki, token, marie_dossier, MARIE_CARD, delete=False)
    signature = bytearray(base64.b64decode(body["patient_card"]["signature"]))
    signature[-1] ^= 1
    body["patient_card"]["signature"] = base64.b64encode(bytes(signature)).decode()
    r = _close(borne, token, marie_dossier, body)
    assert r.status_code == 403, r.get_json()
    assert reasons(world)[-1] in ("signature_invalid", "certificate_malformed")
    assert _status(world, marie_dossier) == "active"
    assert borne.call("GET", "/session", token=token).status_code == 200


def test_a_professional_cannot_close_without_the_cards_nor_with_a_bad_body(
    world: World, test_pki: CardPki, borne: KioskClient, marie_dossier: int
) -> None:
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    plain = borne.call("POST", f"/dossiers/{marie_dossier}/close", {"confirm": True}, token=token)
    assert plain.status_code == 403
    draft_path = f"/dossiers/{marie_dossier}/close/in-person/draft"
    for bad_choice in ({"delete": False}, {"confirm": True, "extra": 1}, {"confirm": "yes"}):
        r = borne.call("POST", draft_path, bad_choice, token=token)
        assert 400 <= r.status_code < 500, bad_choice
    body = _signed_closure(borne, test_pki, token, marie_dossier, MARIE_CARD, delete=False)
    for bad in (
        {**body, "extra": 1},
        {**body, "patient_card": "x" * 10000},
        {"draft": body["draft"], "tag": body["tag"]},
        {"confirm": True},
    ):
        r = _close(borne, token, marie_dossier, bad)
        assert 400 <= r.status_code < 500, bad
    assert _status(world, marie_dossier) == "active"
