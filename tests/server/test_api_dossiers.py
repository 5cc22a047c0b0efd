"""Creating, finding, summarising, closing and reopening dossiers through the API."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from server.models import AuditEntry, Dossier, Patient
from tests.server.conftest import World, identity


def count(world: World, model: Any) -> int:
    with world.rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_admissions_creates_a_dossier_with_consent_evidence(world: World) -> None:
    dossier_id = world.create("admissions", "jean")
    summary = world.call("GET", "jean", f"/dossiers/{dossier_id}").get_json()
    assert summary["status"] == "active"
    assert summary["consent"]["collected_by"] == f"professional:{world.ids['admissions']}"
    assert summary["consent"]["terminal"] == "test-kiosk"
    assert summary["consent"]["at"].startswith("2026-06-15T10:00")
    # Both emergency permissions are on by default.
    assert summary["emergency"] == {"bris_de_glace": True, "centre_15": True}
    created, read = world.trace("jean")
    assert (created.action, created.outcome, created.mode) == (
        "dossier:create",
        "allowed",
        "admissions",
    )
    assert (read.action, read.actor_kind, read.mode) == ("dossier:read", "patient", "patient")


def test_a_patient_creates_their_own_dossier_with_emergency_choices(world: World) -> None:
    body = {
        "patient": identity("jean"),
        "consent": {"given": True, "terminal": "borne-cpam-1"},
        "emergency": {"bris_de_glace": False, "centre_15": True},
    }
    r = world.call("POST", "jean", "/dossiers", body)
    assert r.status_code == 201
    assert r.get_json()["emergency"] == {"bris_de_glace": False, "centre_15": True}


@pytest.mark.parametrize(
    "consent",
    [
        {"terminal": "t"},
        {"given": False, "terminal": "t"},
        {"given": "true", "terminal": "t"},
        {"given": 1, "terminal": "t"},
    ],
)
def test_creation_without_explicit_consent_is_refused_and_traced(
    world: World, consent: dict[str, Any]
) -> None:
    r = world.call(
        "POST", "admissions", "/dossiers", {"patient": identity("jean"), "consent": consent}
    )
    assert r.status_code == 403
    assert r.get_json()["reason"] == "consent_missing"
    assert count(world, Dossier) == 0
    entry = world.trace("jean")[-1]
    assert (entry.action, entry.outcome, entry.reason) == (
        "dossier:create",
        "denied",
        "consent_missing",
    )


def test_a_patient_cannot_create_someone_elses_dossier(world: World) -> None:
    r = world.call(
        "POST",
        "marie",
        "/dossiers",
        {"patient": identity("jean"), "consent": {"given": True, "terminal": "t"}},
    )
    assert r.status_code == 403
    assert r.get_json()["reason"] == "not_a_party"


def test_a_second_dossier_for_the_same_patient_is_a_conflict(
    world: World, marie_dossier: int
) -> None:
    r = world.call(
        "POST",
        "gp",
        "/dossiers",
        {"patient": identity("marie"), "consent": {"given": True, "terminal": "t"}},
    )
    assert r.status_code == 409
    assert r.get_json()["reason"] == "dossier_exists"


@pytest.mark.parametrize(
    ("patch", "reason"),
    [
        ({"ins": "279035121518988"}, "ins_invalid"),  # wrong key
        ({"ins": "27903512151898"}, "ins_invalid"),  # too short
        ({"ins": "253072C07300470"}, "ins_invalid"),  # not a Corsican département
        ({"sex": "X"}, "sex_invalid"),
        ({"birth_date": "1979-02-30"}, "birth_date_invalid"),
        ({"birth_date": "2999-01-01"}, "birth_date_invalid"),
        ({"birth_place": "7"}, "birth_place_invalid"),
        ({"email": "not-an-email"}, "email_invalid"),
        ({"notify_channel": "pigeon"}, "notify_channel_invalid"),
        ({"birth_name": ""}, "birth_name_invalid"),
        ({"nickname": "x"}, "unknown_field"),
    ],
)
def test_bad_identities_get_a_422_and_write_nothing(
    world: World, patch: dict[str, Any], reason: str
) -> None:
    patients_before = count(world, Patient)
    traces_before = count(world, AuditEntry)
    body = {"patient": {**identity("jean"), **patch}, "consent": {"given": True, "terminal": "t"}}
    r = world.call("POST", "admissions", "/dossiers", body)
    assert r.status_code == 422
    assert r.get_json()["reason"] == reason
    assert r.get_json()["message"]  # a French message for the kiosk
    assert (count(world, Patient), count(world, Dossier)) == (patients_before, 0)
    assert count(world, AuditEntry) == traces_before


def test_both_corsican_departements_are_accepted(world: World) -> None:
    assert world.create("admissions", "lucia") > 0  # 2B


@pytest.mark.parametrize("raw", [b"{", b"[1, 2]", b"null", b"\xff\xfe", b""])
def test_malformed_json_gets_a_4xx_json_answer(world: World, raw: bytes) -> None:
    r = world.client.post(
        "/api/v1/dossiers", data=raw, headers=world.h("admissions"), content_type="application/json"
    )
    assert r.status_code == 400
    assert r.get_json()["error"] == "malformed_request"


def test_no_route_answers_dossier_data_without_a_session(world: World, marie_dossier: int) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic abc"}):
        r = world.client.get(f"/api/v1/dossiers/{marie_dossier}", headers=headers)
        assert r.status_code == 401
        assert r.get_json() == {
            "error": "unauthenticated",
            "reason": "session_invalid",
            "message": "Session absente ou expirée.",
        }


def test_sessions_expire_when_idle_and_end_on_sign_out(world: World, marie_dossier: int) -> None:
    path = f"/dossiers/{marie_dossier}"
    assert world.call("GET", "marie", path).status_code == 200
    world.clock.advance(minutes=14)
    assert world.call("GET", "marie", path).status_code == 200  # activity keeps it alive
    world.clock.advance(minutes=16)
    assert world.call("GET", "marie", path).status_code == 401
    world.tokens["marie"] = world.open("marie")
    assert world.call("DELETE", "marie", "/session").status_code == 200
    assert world.call("GET", "marie", path).status_code == 401


def test_a_session_ends_at_its_maximum_lifetime_however_active(
    world: World, marie_dossier: int
) -> None:
    path = f"/dossiers/{marie_dossier}"
    world.tokens["marie"] = world.open("marie")
    lifetime = timedelta(seconds=world.rt.settings["SESSION_MAX_SECONDS"])
    assert lifetime == timedelta(hours=10)  # the documented default (docs/sign-in.md)
    started = world.clock()
    while world.clock() + timedelta(minutes=10) < started + lifetime:
        world.clock.advance(minutes=10)  # within the idle limit every time
        assert world.call("GET", "marie", path).status_code == 200
    world.clock.now = started + lifetime
    assert world.call("GET", "marie", path).status_code == 401


def test_a_session_bound_to_a_kiosk_is_refused_elsewhere(
    world: World, marie_dossier: int, kiosks: dict[str, Any]
) -> None:
    # The kiosk is the one whose request signature verifies, not a header anyone can set.
    token = world.open("marie", kiosk="borne-1")
    path = f"/dossiers/{marie_dossier}"
    assert kiosks["borne-1"].call("GET", path, token=token).status_code == 200
    assert kiosks["borne-2"].call("GET", path, token=token).status_code == 401
    world.tokens["marie"] = token
    assert world.call("GET", "marie", path, **{"X-DMP-Kiosk": "borne-1"}).status_code == 401
    assert world.call("GET", "marie", path).status_code == 401


def test_lookup_by_ins_keeps_the_ins_out_of_urls(world: World, marie_dossier: int) -> None:
    r = world.call("POST", "gp", "/dossiers/lookup", {"ins": "279035121518989"})
    assert r.get_json() == {"dossier_id": marie_dossier, "status": "active"}
    assert (
        world.call("POST", "gp", "/dossiers/lookup", {"ins": "255081416802538"}).status_code == 404
    )
    assert world.call("POST", "gp", "/dossiers/lookup", {"ins": "12"}).status_code == 422


def test_summary_hides_contacts_and_settings_from_professionals(
    world: World, marie_dossier: int
) -> None:
    mine = world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()
    theirs = world.call("GET", "gp", f"/dossiers/{marie_dossier}").get_json()
    assert mine["patient"]["email"] == "marie@example.org"
    assert "email" not in theirs["patient"]
    assert "consent" not in theirs
    assert len(theirs["readable_categories"]) == 11  # the médecin traitant reads everything
    desk = world.call("GET", "admissions", f"/dossiers/{marie_dossier}").get_json()
    assert desk["readable_categories"] == []  # the admissions desk reads nothing clinical


def test_closing_needs_confirmation_then_shuts_professionals_out(
    world: World, marie_dossier: int
) -> None:
    path = f"/dossiers/{marie_dossier}"
    assert world.call("POST", "marie", path + "/close", {}).status_code == 422
    r = world.call("POST", "marie", path + "/close", {"confirm": True})
    assert r.status_code == 200
    closed = r.get_json()
    assert closed["status"] == "closed"
    assert closed["retention_until"].startswith("2036-06")  # ten years
    r = world.call("GET", "gp", path + "/documents")
    assert (r.status_code, r.get_json()["reason"]) == (403, "dossier_closed")  # the MT too
    assert (
        world.call("GET", "marie", path + "/history").status_code == 200
    )  # the patient still reads
    assert world.call("POST", "gp", path + "/reopen").status_code == 403
    assert world.call("POST", "marie", path + "/reopen").get_json()["status"] == "active"
    assert world.call("GET", "gp", path + "/documents").status_code == 200


def test_unknown_ids_are_json_and_tell_nothing_to_the_unrelated(
    world: World, marie_dossier: int
) -> None:
    # Issue 10: an unknown dossier id answers as a dossier the caller has no part in (so
    # that 403 against 404 does not tell which ids exist); an unknown document of a
    # dossier the caller may read is simply not found.
    for path in ("/dossiers/99999", "/dossiers/99999/documents"):
        r = world.call("GET", "gp", path)
        assert (r.status_code, r.get_json()["reason"]) == (403, "no_authorisation")
        r = world.call("GET", "marie", path)
        assert (r.status_code, r.get_json()["reason"]) == (403, "not_a_party")
    r = world.call("GET", "gp", f"/dossiers/{marie_dossier}/documents/nope")
    assert r.status_code == 404
    assert r.get_json()["error"] == "not_found"
    r = world.client.get("/api/v1/no-such-route", headers=world.h("gp"))
    assert r.status_code == 404
    assert r.get_json()["error"] == "http_error"


def test_an_unrelated_professional_finds_the_dossier_then_breaks_the_glass(
    world: World, marie_dossier: int
) -> None:
    r = world.call("POST", "urgentiste", "/dossiers/lookup", {"ins": "279035121518989"})
    assert r.get_json() == {"dossier_id": marie_dossier, "status": "active"}
    assert world.call("GET", "urgentiste", f"/dossiers/{marie_dossier}").status_code == 403
    r = world.call(
        "POST",
        "urgentiste",
        f"/dossiers/{marie_dossier}/emergency-access",
        {"mode": "bris_de_glace", "reason": "Inconsciente"},
    )
    assert r.status_code == 201
    lookup = next(e for e in world.trace("marie") if e.action == "dossier:lookup")
    assert (lookup.outcome, lookup.reason, lookup.mode) == ("allowed", "identity_lookup", "none")


def test_a_blocked_professional_cannot_even_find_the_dossier(
    world: World, marie_dossier: int
) -> None:
    world.call("PUT", "marie", f"/dossiers/{marie_dossier}/blocks/{world.nid('infirmier')}")
    r = world.call("POST", "infirmier", "/dossiers/lookup", {"ins": "279035121518989"})
    assert (r.status_code, r.get_json()["reason"]) == (403, "professional_blocked")


def test_the_session_says_what_the_caller_may_do(world: World) -> None:
    pharmacist = world.call("GET", "pharmacien", "/session").get_json()["may"]
    assert "dispensation" in pharmacist["deposit_categories"]
    assert "compte_rendu" not in pharmacist["read_categories"]
    assert pharmacist["join_care_team"] is False
    desk = world.call("GET", "admissions", "/session").get_json()["may"]
    assert desk["read_categories"] == []
    assert desk["clinical_reading"] is False
    assert desk["join_care_team"] is True
    assert world.call("GET", "regulateur", "/session").get_json()["may"]["emergency"] == (
        "centre_15"
    )
    marie = world.call("GET", "marie", "/session").get_json()
    assert marie["may"] is None
    # Her own contact, to prefill what she types at the kiosk; no one else's.
    assert marie["contact"] == {"email": "marie@example.org", "phone": None}
    assert world.call("GET", "pharmacien", "/session").get_json()["contact"] is None
