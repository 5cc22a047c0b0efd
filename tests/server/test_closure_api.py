"""Closing and reopening through the API: the choice, the signed receipt, what a closed
dossier still allows (announced in `actions` and enforced alike), reopening restores
everything; attacks on both routes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server import receipt_pdf
from tests.server.conftest import World, doc

# A closed dossier is kept so that it can be exported and reopened (domain.md).
CLOSED_ACTIONS = ["document:list", "dossier:export", "dossier:reopen", "history:read"]


def _content(world: World, who: str, receipt_id: str) -> dict[str, Any]:
    r = world.call("GET", who, f"/receipts/{receipt_id}")
    assert r.status_code == 200, r.get_json()
    found: dict[str, Any] = json.loads(r.data)
    return found


def test_closing_answers_with_its_signed_receipt_and_what_is_left_to_do(
    world: World, marie_dossier: int
) -> None:
    home = world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()
    assert {"dossier:close", "emergency:settings", "document:mask", "document:deposit"} <= set(
        home["actions"]
    )
    assert "dossier:reopen" not in home["actions"]
    r = world.call("POST", "marie", f"/dossiers/{marie_dossier}/close", {"confirm": True})
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert body["status"] == "closed"
    assert body["actions"] == CLOSED_ACTIONS, body["actions"]
    assert body["deletion_requested_at"] is None
    receipt = _content(world, "marie", body["receipt_id"])
    assert receipt["action"] == "dossier:close"
    assert receipt["change"] == {
        "status": "closed",
        "deletion_requested": False,
        "retention_until": "2036-06-14T10:00:00.000000Z",
    }
    # The summary read later says the same.
    again = world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()
    assert again["actions"] == CLOSED_ACTIONS


def test_a_closure_asking_for_deletion_names_no_retention_date(
    world: World, marie_dossier: int
) -> None:
    """Found by an outside review: the receipt said both "Suppression demandée" and
    "Conservé jusqu'au 2036", which contradict each other."""
    body = {"confirm": True, "delete": True}
    r = world.call("POST", "marie", f"/dossiers/{marie_dossier}/close", body)
    assert r.status_code == 200, r.get_json()
    receipt = _content(world, "marie", r.get_json()["receipt_id"])
    assert receipt["change"] == {"status": "closed", "deletion_requested": True}
    words = receipt_pdf.describe(receipt)
    assert any("Suppression demandée" in line for line in words)
    assert not any("Conservé" in line for line in words)


def test_what_a_closed_dossier_does_not_announce_the_server_refuses(
    world: World, marie_dossier: int
) -> None:
    d = world.deposit("gp", marie_dossier)
    world.call("POST", "marie", f"/dossiers/{marie_dossier}/close", {"confirm": True})
    base = f"/dossiers/{marie_dossier}"
    refused = [
        ("PUT", base + "/emergency-settings", {"bris_de_glace": False, "centre_15": False}),
        (
            "PATCH",
            f"{base}/documents/{d['logical_id']}/visibility",
            {"masked_ps": True, "confirm": True},
        ),
        ("PUT", base + f"/blocks/{world.nid('infirmier')}", None),
        ("POST", base + "/care-team", {"national_id": world.nid("infirmier")}),
        ("POST", base + "/close", {"confirm": True}),
    ]
    for method, path, body in refused:
        r = world.call(method, "marie", path, body)
        assert (r.status_code, r.get_json()["reason"]) == (403, "dossier_closed"), path
    r = world.call("POST", "marie", f"{base}/documents", doc(category="depose_patient"))
    assert (r.status_code, r.get_json()["reason"]) == (403, "dossier_closed")
    # What it announces still works: reading, the history, the receipts.
    assert world.call("GET", "marie", base + "/documents").status_code == 200
    assert world.call("GET", "marie", base + "/history").status_code == 200
    assert world.call("GET", "marie", base + "/receipts").status_code == 200
    # No professional, not even the médecin traitant.
    assert world.call("GET", "gp", base).get_json()["reason"] == "dossier_closed"


def test_reopening_restores_everything_with_a_receipt(world: World, marie_dossier: int) -> None:
    base = f"/dossiers/{marie_dossier}"
    d = world.deposit("gp", marie_dossier, content=b"compte rendu")
    world.call(
        "PUT", "marie", base + "/emergency-settings", {"bris_de_glace": False, "centre_15": True}
    )
    world.call("POST", "marie", base + "/care-team", {"national_id": world.nid("infirmier")})
    world.call("PUT", "marie", base + f"/blocks/{world.nid('pharmacien')}")
    before = world.call("GET", "marie", base + "/access").get_json()
    closed = world.call("POST", "marie", base + "/close", {"confirm": True, "delete": True})
    assert closed.get_json()["deletion_requested_at"] is not None
    r = world.call("POST", "marie", base + "/reopen")
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    assert (body["status"], body["closed_at"], body["deletion_requested_at"]) == (
        "active",
        None,
        None,
    )
    assert "dossier:close" in body["actions"]
    assert "dossier:reopen" not in body["actions"]
    receipt = _content(world, "marie", body["receipt_id"])
    assert receipt["action"] == "dossier:reopen"
    assert receipt["change"] == {"status": "active", "deletion_request_withdrawn": True}
    assert world.call("GET", "marie", base + "/access").get_json() == before
    assert body["medecin_traitant"]["national_id"] == world.nid("gp")
    content = world.call("GET", "gp", f"{base}/documents/{d['logical_id']}/content")
    assert (content.status_code, content.data) == (200, b"compte rendu")
    # Reopening an open dossier is refused (nothing to reopen), and traced.
    again = world.call("POST", "marie", base + "/reopen")
    assert again.status_code == 403


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({}, "confirmation_required"),
        ({"confirm": "true"}, "confirmation_required"),
        ({"confirm": True, "delete": "oui"}, None),
        ({"confirm": True, "delete": True, "retention_until": "2099-01-01"}, None),
        ([], None),
        ({"confirm": True, "delete": False, "é" * 5000: 1}, None),
    ],
)
def test_a_malformed_closure_is_refused_and_changes_nothing(
    world: World, marie_dossier: int, body: Any, reason: str | None
) -> None:
    r = world.call("POST", "marie", f"/dossiers/{marie_dossier}/close", body)
    assert 400 <= r.status_code < 500
    if reason:
        assert r.get_json()["reason"] == reason
    assert world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()["status"] == "active"


def test_nobody_else_closes_or_reopens(world: World, marie_dossier: int) -> None:
    base = f"/dossiers/{marie_dossier}"
    for who in ("lucia", "gp", "admissions", "insurer", "mutuelle"):
        r = world.call("POST", who, base + "/close", {"confirm": True, "delete": True})
        assert r.status_code in (403, 404), who
    world.call("POST", "marie", base + "/close", {"confirm": True})
    for who in ("lucia", "gp", "admissions"):
        assert world.call("POST", who, base + "/reopen").status_code in (403, 404), who
    assert world.call("GET", "marie", base).get_json()["status"] == "closed"
    # A forged id is no one's dossier.
    assert world.call("POST", "marie", "/dossiers/999999/reopen").status_code in (403, 404)
    refused = [e for e in world.trace("marie") if e.outcome == "denied"]
    assert {e.action for e in refused} >= {"dossier:close", "dossier:reopen"}


def test_a_representatives_view_of_a_closed_minors_dossier(world: World) -> None:
    leo = world.create("admissions", "leo", representatives=["279035121518989"])
    assert (
        world.call("POST", "marie", f"/dossiers/{leo}/close", {"confirm": True}).status_code == 200
    )
    body = world.call("GET", "marie", f"/dossiers/{leo}").get_json()
    assert body["actions"] == CLOSED_ACTIONS, body["actions"]
