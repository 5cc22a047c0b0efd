"""Who may see a dossier: blocks, consents, care team, médecin traitant, emergencies."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from server.models import FirstAccess, OutboxMessage, Professional
from server.policy import Action
from server.services import guard, lookup
from server.signin import sessions
from tests.server.conftest import World


def outbox(world: World) -> list[OutboxMessage]:
    with world.rt.sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def put(world: World, who: str, path: str, body: Any = None) -> Any:
    return world.call("PUT", who, path, body)


def test_a_block_beats_the_care_team_but_never_the_medecin_traitant(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    world.call("POST", "marie", d + "/care-team", {"national_id": world.nid("infirmier")})
    assert world.call("GET", "infirmier", d + "/documents").status_code == 200
    assert put(world, "marie", d + f"/blocks/{world.nid('infirmier')}").status_code == 200
    r = world.call("GET", "infirmier", d + "/documents")
    assert (r.status_code, r.get_json()["reason"]) == (403, "professional_blocked")
    assert r.get_json()["message"] == "Le patient a bloqué votre accès à son dossier."
    r = put(world, "marie", d + f"/blocks/{world.nid('gp')}")
    assert (r.status_code, r.get_json()["reason"]) == (403, "medecin_traitant_not_blockable")
    assert world.call("DELETE", "marie", d + f"/blocks/{world.nid('infirmier')}").status_code == 200
    assert world.call("GET", "infirmier", d + "/documents").status_code == 200


def test_only_the_patient_blocks(world: World, marie_dossier: int) -> None:
    r = put(world, "gp", f"/dossiers/{marie_dossier}/blocks/{world.nid('infirmier')}")
    assert (r.status_code, r.get_json()["reason"]) == (403, "default_deny")


def test_designating_a_blocked_professional_as_mt_lifts_the_block(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    put(world, "marie", d + f"/blocks/{world.nid('specialist')}")
    r = put(world, "marie", d + "/medecin-traitant", {"national_id": world.nid("specialist")})
    assert r.get_json()["medecin_traitant"]["national_id"] == world.nid("specialist")
    overview = world.call("GET", "marie", d + "/access").get_json()
    assert overview["blocked"] == []
    assert world.call("GET", "specialist", d + "/documents").status_code == 200


def test_a_consultation_consent_expires(world: World, marie_dossier: int) -> None:
    d = f"/dossiers/{marie_dossier}"
    r = world.call("POST", "marie", d + "/consents", {"national_id": world.nid("pharmacien")})
    assert r.get_json()["expires_at"].startswith("2026-06-16T10:00")
    assert world.call("GET", "pharmacien", d + "/documents").status_code == 200
    world.clock.advance(hours=25)
    world.tokens["pharmacien"] = world.open("pharmacien")
    r = world.call("GET", "pharmacien", d + "/documents")
    assert (r.status_code, r.get_json()["reason"]) == (403, "no_authorisation")


@pytest.mark.parametrize(
    ("body", "status", "reason"),
    [
        ({"national_id": "810002813838"}, 422, "national_id_invalid"),  # bad Luhn
        ({"national_id": 810002813839}, 422, "national_id_invalid"),
        ({"national_id": "810000000009"}, 404, "professional_not_found"),
        ({"whom": "x"}, 422, "unknown_field"),
    ],
)
def test_bad_consent_requests(
    world: World, marie_dossier: int, body: Any, status: int, reason: str
) -> None:
    r = world.call("POST", "marie", f"/dossiers/{marie_dossier}/consents", body)
    assert (r.status_code, r.get_json()["reason"]) == (status, reason)


def test_an_admission_brings_the_hospital_team_into_the_care_team(world: World) -> None:
    jean = world.create("admissions", "jean")
    d = f"/dossiers/{jean}"
    assert (
        world.call("GET", "specialist", d + "/documents").get_json()["reason"] == "no_authorisation"
    )
    joined = world.call("POST", "admissions", d + "/care-team/join").get_json()
    assert joined["structure"] == "920000049"
    assert world.call("GET", "specialist", d + "/documents").status_code == 200  # same FINESS
    r = world.call("GET", "admissions", d + "/documents")
    assert (r.status_code, r.get_json()["reason"]) == (
        403,
        "category_not_allowed",
    )  # no clinical reading


def test_care_team_membership_is_managed_by_the_patient(world: World, marie_dossier: int) -> None:
    d = f"/dossiers/{marie_dossier}"
    member = world.call(
        "POST", "marie", d + "/care-team", {"structure_finess": "750000028"}
    ).get_json()
    assert world.call("GET", "pharmacien", d + "/documents").status_code == 200
    bad = world.call("POST", "marie", d + "/care-team", {"structure_finess": "750000027"})
    assert (bad.status_code, bad.get_json()["reason"]) == (422, "finess_invalid")
    assert (
        world.call("POST", "marie", d + "/care-team", {}).get_json()["reason"] == "member_required"
    )
    assert world.call("DELETE", "pharmacien", d + f"/care-team/{member['id']}").status_code == 403
    assert world.call("DELETE", "marie", d + f"/care-team/{member['id']}").status_code == 200
    assert world.call("GET", "pharmacien", d + "/documents").status_code == 403


def test_bris_de_glace_needs_permission_and_a_reason_and_is_visible(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    world.deposit("gp", marie_dossier, title="compte rendu")
    world.deposit("gp", marie_dossier, title="masqué", masked_ps=True)
    r = world.call("GET", "urgentiste", d + "/documents")
    assert r.get_json()["reason"] == "no_authorisation"
    r = world.call(
        "POST", "urgentiste", d + "/emergency-access", {"mode": "bris_de_glace", "reason": "  "}
    )
    assert (r.status_code, r.get_json()["reason"]) == (403, "emergency_reason_missing")
    r = world.call(
        "POST",
        "urgentiste",
        d + "/emergency-access",
        {"mode": "bris_de_glace", "reason": "Inconsciente, arrivée aux urgences"},
    )
    assert r.status_code == 201
    assert r.get_json()["until"].startswith("2026-06-15T12:00")  # two hours
    listing = world.call("GET", "urgentiste", d + "/documents").get_json()
    assert [doc["title"] for doc in listing["documents"]] == ["compte rendu"]  # masked stays hidden
    assert listing["emergency_access"]["mode"] == "bris_de_glace"  # the banner, on every answer
    summary = world.call("GET", "urgentiste", d).get_json()
    assert "banner" in summary["emergency_access"]
    kinds = [m.kind for m in outbox(world)]
    assert "bris_de_glace" in kinds
    text = next(m.body for m in outbox(world) if m.kind == "bris_de_glace")
    assert "urgence" in text
    assert "compte rendu" not in text.lower()
    world.clock.advance(hours=2, seconds=1)
    world.tokens["urgentiste"] = world.open("urgentiste")
    assert world.call("GET", "urgentiste", d + "/documents").status_code == 403  # bounded in time


def test_the_emergency_is_bound_to_the_session_that_broke_the_glass(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    world.call(
        "POST", "urgentiste", d + "/emergency-access", {"mode": "bris_de_glace", "reason": "AVC"}
    )
    world.tokens["urgentiste"] = world.open("urgentiste")  # a new session, same professional
    assert world.call("GET", "urgentiste", d + "/documents").status_code == 403


def test_withdrawn_emergency_permission_refuses_the_glass_and_centre_15(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    r = put(world, "marie", d + "/emergency-settings", {"bris_de_glace": False, "centre_15": False})
    assert r.get_json() | {"receipt_id": None} == {
        "bris_de_glace": False,
        "centre_15": False,
        "receipt_id": None,
    }
    r = world.call(
        "POST", "urgentiste", d + "/emergency-access", {"mode": "bris_de_glace", "reason": "x"}
    )
    assert r.get_json()["reason"] == "emergency_not_allowed"
    r = world.call("POST", "regulateur", d + "/emergency-access", {"mode": "centre_15"})
    assert r.get_json()["reason"] == "emergency_not_allowed"
    assert put(world, "gp", d + "/emergency-settings", {"centre_15": True}).status_code == 403


def test_centre_15_is_for_regulators_only(world: World, marie_dossier: int) -> None:
    d = f"/dossiers/{marie_dossier}"
    r = world.call("POST", "urgentiste", d + "/emergency-access", {"mode": "centre_15"})
    assert r.get_json()["reason"] == "not_a_regulator"
    assert (
        world.call("POST", "regulateur", d + "/emergency-access", {"mode": "centre_15"}).status_code
        == 201
    )
    assert world.call("GET", "regulateur", d + "/documents").status_code == 200
    assert (
        world.call("POST", "regulateur", d + "/emergency-access", {"mode": "panic"}).status_code
        == 422
    )


def test_first_access_and_new_documents_are_notified_once_without_content(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    world.call("POST", "marie", d + "/consents", {"national_id": world.nid("pharmacien")})
    world.call("GET", "pharmacien", d + "/documents")
    world.call("GET", "pharmacien", d + "/documents")
    world.deposit("gp", marie_dossier, title="Résultat VIH", content=b"positif")
    messages = outbox(world)
    assert [m.kind for m in messages].count("first_access") == 1
    new_doc = next(m for m in messages if m.kind == "new_document")
    assert "VIH" not in new_doc.body
    assert "positif" not in new_doc.body
    assert new_doc.channel == "email"
    assert "15/06/2026 à 12:00" in new_doc.body


def test_access_overview_lists_who_has_access_and_who_has_read(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    world.call("POST", "marie", d + "/consents", {"national_id": world.nid("pharmacien")})
    world.call("GET", "pharmacien", d + "/documents")
    put(world, "marie", d + f"/blocks/{world.nid('infirmier')}")
    overview = world.call("GET", "marie", d + "/access").get_json()
    assert overview["medecin_traitant"]["national_id"] == world.nid("gp")
    assert [c["professional"]["national_id"] for c in overview["consents"]] == [
        world.nid("pharmacien")
    ]
    assert [b["national_id"] for b in overview["blocked"]] == [world.nid("infirmier")]
    assert [r["professional"]["national_id"] for r in overview["have_read"]] == [
        world.nid("pharmacien")
    ]
    assert world.call("GET", "gp", d + "/access").status_code == 403  # the patient's own view


def test_the_history_reads_in_plain_french_with_mode_reason_and_outcome(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    put(world, "marie", d + f"/blocks/{world.nid('infirmier')}")
    world.call("GET", "infirmier", d + "/documents")
    world.call(
        "POST", "urgentiste", d + "/emergency-access", {"mode": "bris_de_glace", "reason": "Coma"}
    )
    world.call("GET", "urgentiste", d + "/documents")
    entries = world.call("GET", "marie", d + "/history").get_json()["entries"]
    texts = [e["text"] for e in entries]
    # The newest entry is this very reading of the history: the patient's own acts show too.
    assert texts.pop(0).startswith("Le 15/06/2026 à 12:00, Marie DUPONT a consulté l'historique")
    assert texts[0].startswith(
        "Le 15/06/2026 à 12:00, Urgentiste Test (médecin urgentiste, structure 130000060)"
    )
    assert "au titre de : accès en urgence (bris de glace)" in texts[0]
    assert "motif déclaré : « Coma »" in texts[1]
    blocked = next(t for t in texts if "Infirmier" in t)
    assert blocked.endswith("Résultat : refusé (vous aviez bloqué ce professionnel).")
    assert entries[-1]["action"] == "dossier:create"
    assert entries[-1]["mode"] == "admissions"


def test_the_history_pages_backwards(world: World, marie_dossier: int) -> None:
    for _ in range(205):
        world.call("GET", "gp", f"/dossiers/{marie_dossier}")
    first = world.call("GET", "marie", f"/dossiers/{marie_dossier}/history").get_json()
    assert len(first["entries"]) == 200
    rest = world.call(
        "GET", "marie", f"/dossiers/{marie_dossier}/history?before={first['next_before']}"
    )
    assert len(rest.get_json()["entries"]) == 7  # creation + 205 reads + 2 history reads - 200
    assert rest.get_json()["next_before"] is None
    for bad in ("-1", "0", "²", "9" * 30):
        r = world.call("GET", "marie", f"/dossiers/{marie_dossier}/history?before={bad}")
        assert r.status_code == 422, bad


def test_every_decision_allowed_or_denied_is_traced(world: World, marie_dossier: int) -> None:
    d = f"/dossiers/{marie_dossier}"
    before = len(world.trace("marie"))
    calls = [
        ("GET", "gp", d),
        ("GET", "pharmacien", d),
        ("GET", "mutuelle", d + "/documents"),
        ("PUT", "gp", d + "/emergency-settings"),
        ("GET", "marie", d + "/history"),
    ]
    for method, who, path in calls:
        world.call(method, who, path, {} if method == "PUT" else None)
    after = world.trace("marie")[before:]
    assert [(e.actor_name.split()[0], e.outcome) for e in after] == [
        ("Gp", "allowed"),
        ("Pharmacien", "denied"),
        ("mutuelle", "denied"),
        ("Gp", "denied"),
        ("Marie", "allowed"),
    ]


def test_every_reason_and_action_reads_in_french() -> None:
    from server.policy import Action, Reason
    from server.services.history import REASONS_FR, VERBS

    assert {r.value for r in Reason} <= set(REASONS_FR)
    assert {a.value for a in Action} <= set(VERBS)


def test_staff_with_a_cpe_id_can_be_blocked_through_the_url(
    world: World, marie_dossier: int
) -> None:
    from server.models import Professional

    with world.rt.sessions() as s:
        s.add(
            Professional(
                national_id="3750000010/ADM0042",
                first_name="Agent",
                last_name="Accueil",
                profession="admissions",
                structure_finess="750000010",
                active=True,
            )
        )
        s.commit()
    r = put(world, "marie", f"/dossiers/{marie_dossier}/blocks/3750000010/ADM0042")
    assert r.status_code == 200
    assert r.get_json()["blocked"]["national_id"] == "3750000010/ADM0042"


def test_a_first_access_already_recorded_by_a_concurrent_request_is_not_a_conflict(
    world: World, marie_dossier: int
) -> None:
    """Two first requests of one professional can both read "never accessed" before
    either commits; the second must neither fail on the primary key nor notify twice."""
    assert world.call("GET", "gp", f"/dossiers/{marie_dossier}").status_code == 200
    with world.rt.sessions() as s:
        ctx = world.rt.ctx(s)
        gp = sessions.resolve(ctx, world.tokens["gp"])
        row, patient = lookup.dossier(ctx, gp, Action.DOSSIER_READ, marie_dossier)
        # As the late request saw it: its facts said this was the first access.
        granted = guard.authorize(ctx, gp, Action.DOSSIER_READ, row, patient, first_access=True)
        assert granted.decision.allowed
        s.commit()
    with world.rt.sessions() as s:
        rows = s.scalars(select(FirstAccess).where(FirstAccess.dossier_id == marie_dossier))
        assert len(list(rows)) == 1
    assert [m.kind for m in outbox(world)].count("first_access") == 1


def test_the_access_page_names_establishments_not_finess(world: World, marie_dossier: int) -> None:
    # issue #14: the patient reads an establishment's name, never a bare FINESS number.
    with world.rt.sessions() as s:
        pro = s.get(Professional, world.ids["pharmacien"])
        assert pro is not None
        pro.structure_name = "Pharmacie du Marché"
        s.commit()
    d = f"/dossiers/{marie_dossier}"
    world.call("POST", "marie", d + "/care-team", {"structure_finess": "750000028"})
    world.call("POST", "marie", d + "/care-team", {"structure_finess": "920000049"})
    access = world.call("GET", "marie", d + "/access").get_json()
    names = {m["structure"]: m["structure_name"] for m in access["care_team"]}
    # An establishment nobody's card names has no name to give (the kiosk then says so).
    assert names == {"750000028": "Pharmacie du Marché", "920000049": None}
