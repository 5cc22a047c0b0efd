"""Unusual accesses end to end: the worker's rules open review cases, the patient is
told without health content, the establishment's privacy officer (and only theirs)
reviews, never reads a document, and the outcome shows on the patient's history."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.alerts import rules, scan
from server.models import AuditEntry, OutboxMessage, Patient, Professional, ReviewCase
from server.policy import Action, ActorKind
from server.services import audit, trace_log
from server.signin import sessions
from tests.server.conftest import PROS, World

URGENCES = PROS["urgentiste"][2]  # the emergency physician's hospital
CABINET = PROS["gp"][2]
REASON = "Inconsciente, arrivée aux urgences"


def flagged(world: World) -> list[ReviewCase]:
    """What the worker does: sequence the trace into the log, then run the rules."""
    trace_log.run(world.rt)
    scan.run(world.rt)
    with world.rt.sessions() as s:
        return list(s.scalars(select(ReviewCase).order_by(ReviewCase.id)))


def officer(world: World, name: str, finess: str | None) -> str:
    with world.rt.sessions() as s:
        pro = Professional(
            national_id=f"3{finess or '000000000'}/DPO{len(world.ids)}",
            first_name="Délégué",
            last_name=name.title(),
            profession=sessions.OFFICER_PROFESSION,
            structure_finess=finess,
            active=True,
        )
        s.add(pro)
        s.commit()
        world.ids[name] = pro.id
        token = sessions.open_session(world.rt.ctx(s), ActorKind.PROFESSIONAL, pro.id)
        s.commit()
    world.tokens[name] = token
    return name


def at(world: World, moment: Any) -> None:
    """Moves the clock, and signs everyone in again (sessions time out when idle)."""
    world.clock.now = moment
    for name in world.tokens:
        if name in world.ids and not name.startswith("dpo"):
            world.tokens[name] = world.open(name)


def break_glass(world: World, dossier: int) -> None:
    r = world.call(
        "POST",
        "urgentiste",
        f"/dossiers/{dossier}/emergency-access",
        {"mode": "bris_de_glace", "reason": REASON},
    )
    assert r.status_code in (200, 201), r.get_json()
    assert world.call("GET", "urgentiste", f"/dossiers/{dossier}/documents").status_code == 200


def notices(world: World, kind: str) -> list[OutboxMessage]:
    with world.rt.sessions() as s:
        return list(s.scalars(select(OutboxMessage).where(OutboxMessage.kind == kind)))


def history(world: World, who: str, dossier: int) -> list[dict[str, Any]]:
    r = world.call("GET", who, f"/dossiers/{dossier}/history")
    assert r.status_code == 200, r.get_json()
    return list(r.get_json()["entries"])


def test_break_the_glass_is_flagged_notified_and_reviewed(world: World, marie_dossier: int) -> None:
    world.deposit("gp", marie_dossier, title="Sérologie VIH", content=b"positif")
    break_glass(world, marie_dossier)
    cases = flagged(world)
    emergency = [c for c in cases if rules.Rule.EMERGENCY.value in c.rules.split()]
    assert len(emergency) == 1
    assert emergency[0].establishment == URGENCES
    # The patient is told, with no health content.
    [notice] = notices(world, "unusual_access")
    assert "inhabituel" in notice.body
    for secret in ("VIH", "Sérologie", "positif", "compte", REASON):
        assert secret not in notice.body
    # Scanning again opens nothing more: the cursor moved past these entries.
    assert len(flagged(world)) == len(cases)

    dpo = officer(world, "dpo_chu", URGENCES)
    other = officer(world, "dpo_cabinet", CABINET)
    queue = world.call("GET", dpo, "/reviews").get_json()["cases"]
    case = next(c for c in queue if c["id"] == emergency[0].id)
    assert case["entry"]["params"]["reason"] == REASON  # the stated reason
    assert case["professional"]["structure"] == URGENCES
    assert "Sérologie" not in str(queue)
    assert "positif" not in str(queue)
    # Another establishment's officer sees nothing, and cannot open or decide it.
    assert world.call("GET", other, "/reviews").get_json()["cases"] == []
    assert world.call("GET", other, f"/reviews/{case['id']}").status_code == 404
    r = world.call("PUT", other, f"/reviews/{case['id']}/outcome", {"outcome": "justifiee"})
    assert r.status_code == 404
    # ... and the attempt is in the patient's trace, refused.
    refused = [e for e in world.trace("marie") if e.actor_id == world.ids[other]]
    assert refused
    assert all(e.outcome == "denied" for e in refused)
    assert {e.reason for e in refused} == {"other_establishment"}

    r = world.call(
        "PUT",
        dpo,
        f"/reviews/{case['id']}/outcome",
        {"outcome": "non_justifiee", "comment": "Aucun passage aux urgences ce jour-là."},
    )
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "non_justifiee"
    # The comment is sealed at rest, and read back by the officer.
    with world.rt.sessions() as s:
        stored = s.get(ReviewCase, case["id"])
        assert stored is not None
        assert stored.comment is not None
        assert b"urgences" not in stored.comment
    again = world.call("GET", dpo, f"/reviews/{case['id']}").get_json()
    assert again["comment"] == "Aucun passage aux urgences ce jour-là."
    # The patient's history line carries the outcome; the decision itself is traced.
    lines = history(world, "marie", marie_dossier)
    reviewed = [e for e in lines if e["review"] is not None]
    assert any(e["review"]["status"] == "non_justifiee" for e in reviewed)
    assert all("comment" not in e["review"] for e in reviewed)
    decided = [e for e in lines if e["action"] == "review:decide"]
    assert decided
    assert decided[0]["outcome"] == "allowed"
    # An unjustified access tells the patient what to do next.
    [unjustified] = notices(world, "access_unjustified")
    assert "CNIL" in unjustified.body


def test_the_officer_never_reads_a_document(world: World, marie_dossier: int) -> None:
    document = world.deposit("gp", marie_dossier)
    dpo = officer(world, "dpo", CABINET)  # even of the author's own establishment
    d = f"/dossiers/{marie_dossier}"
    for path in (
        d,
        d + "/documents",
        d + f"/documents/{document['logical_id']}",
        d + f"/documents/{document['logical_id']}/content",
        d + "/history",
        d + "/access",
    ):
        r = world.call("GET", dpo, path)
        assert r.status_code in (403, 404), (path, r.status_code)
        assert "contenu" not in r.get_data(as_text=True)
    r = world.call("POST", dpo, d + "/emergency-access", {"mode": "bris_de_glace", "reason": "x"})
    assert r.status_code in (403, 404)
    tried = [e for e in world.trace("marie") if e.actor_kind == "privacy_officer"]
    assert tried
    assert all(e.outcome == "denied" for e in tried)


def test_only_an_officer_has_a_queue(world: World) -> None:
    for who in ("gp", "marie", "insurer"):
        r = world.call("GET", who, "/reviews")
        assert r.status_code == 403, who
        assert r.get_json()["reason"] == "not_an_officer", r.get_json()
    nowhere = officer(world, "dpo_nowhere", None)
    assert world.call("GET", nowhere, "/reviews").status_code == 403


def test_outcome_input_is_checked(world: World, marie_dossier: int) -> None:
    break_glass(world, marie_dossier)
    [case, *_] = flagged(world)
    dpo = officer(world, "dpo", URGENCES)
    url = f"/reviews/{case.id}/outcome"
    for body in (
        {"outcome": "peut-être"},
        {},
        {"outcome": "justifiee", "comment": "x" * 501},
        {"outcome": "justifiee", "extra": 1},
        {"outcome": "justifiee", "comment": 12},
        [],
    ):
        r = world.call("PUT", dpo, url, body)
        assert 400 <= r.status_code < 500, body
    for bad in ("/reviews/0", "/reviews/99999999", "/reviews/abc", "/reviews/-1"):
        assert world.call("GET", dpo, bad).status_code in (400, 404), bad
    assert world.call("GET", dpo, "/reviews?status=nope").status_code in (400, 422)
    r = world.call("PUT", dpo, url, {"outcome": "en_cours", "comment": "Vérification — 患者"})
    assert r.status_code == 200
    assert world.call("GET", dpo, "/reviews?status=en_cours").get_json()["cases"][0]["id"] == (
        case.id
    )


def test_night_first_access_is_flagged_not_the_day(world: World, marie_dossier: int) -> None:
    # 23:30 Paris (21:30 UTC in June): the pharmacist's first access, with consent.
    at(world, world.clock.now.replace(hour=21, minute=30))
    assert (
        world.call(
            "POST",
            "marie",
            f"/dossiers/{marie_dossier}/consents",
            {"national_id": world.nid("pharmacien")},
        ).status_code
        == 201
    )
    assert world.call("GET", "pharmacien", f"/dossiers/{marie_dossier}").status_code == 200
    world.clock.advance(minutes=5)
    assert world.call("GET", "pharmacien", f"/dossiers/{marie_dossier}").status_code == 200
    night = [c for c in flagged(world) if "night_first_access" in c.rules.split()]
    assert len(night) == 1  # the first access only
    # In the day, the specialist's first access is not flagged.
    at(world, world.clock.now.replace(hour=9) + timedelta(days=1))
    assert (
        world.call(
            "POST",
            "marie",
            f"/dossiers/{marie_dossier}/consents",
            {"national_id": world.nid("specialist")},
        ).status_code
        == 201
    )
    assert world.call("GET", "specialist", f"/dossiers/{marie_dossier}").status_code == 200
    assert [c for c in flagged(world) if c.professional_id == world.ids["specialist"]] == []


@pytest.mark.parametrize(("days", "fires"), [(6, True), (8, False)])
def test_access_after_a_colleague_was_blocked(
    world: World, marie_dossier: int, days: int, fires: bool
) -> None:
    d = f"/dossiers/{marie_dossier}"
    # The nurse and the GP share a structure; the nurse is blocked, and tries.
    assert world.call("PUT", "marie", d + f"/blocks/{world.nid('infirmier')}").status_code == 200
    assert world.call("GET", "infirmier", d + "/documents").status_code == 403
    at(world, world.clock.now + timedelta(days=days))
    assert world.call("GET", "gp", d).status_code == 200
    assert world.call("GET", "gp", d + "/documents").status_code == 200
    cases = flagged(world)
    attempts = [c for c in cases if "blocked_attempt" in c.rules.split()]
    after = [c for c in cases if "after_block" in c.rules.split()]
    assert [c.professional_id for c in attempts] == [world.ids["infirmier"]]
    # Within the window, the colleague's first access since the block only.
    assert [c.professional_id for c in after] == ([world.ids["gp"]] if fires else [])


def _synthetic(
    world: World, count: int, *, last_name: str = "Test", mode: str = "consent"
) -> tuple[int, list[int]]:
    """A professional who opened `count` dossiers, one a minute (trace entries written as
    the services write them)."""
    with world.rt.sessions() as s:
        pro = Professional(
            national_id=f"8100{len(world.ids):07d}",
            first_name="Curieux",
            last_name=last_name,
            profession="infirmier",
            structure_finess=CABINET,
            active=True,
        )
        s.add(pro)
        s.flush()
        patients = []
        for n in range(count):
            patient = s.get(Patient, world.ids["marie"])
            assert patient is not None
            other = Patient(
                ins=f"2{n:014d}",
                ins_oid=patient.ins_oid,
                birth_name="DUPONT" if n == 0 else f"NOM{n}",
                first_names="Anne",
                birth_date=patient.birth_date,
                sex="F",
                birth_place="75056",
                notify_channel="none",
                created_at=world.clock(),
            )
            s.add(other)
            s.flush()
            patients.append(other.id)
            audit.append(
                s,
                other.id,
                audit.TraceEntry(
                    at=world.clock() + timedelta(minutes=n),
                    actor_kind="professional",
                    actor_id=pro.id,
                    actor_name="Curieux",
                    actor_profession="infirmier",
                    actor_structure=CABINET,
                    action=Action.DOSSIER_READ,
                    mode=mode,
                    outcome="allowed",
                    reason="explicit_consent",
                ),
            )
        s.commit()
        return pro.id, patients


@pytest.mark.parametrize(
    ("count", "flags"), [(rules.VOLUME_THRESHOLD - 1, 0), (rules.VOLUME_THRESHOLD + 2, 3)]
)
def test_many_dossiers_without_care_relation(world: World, count: int, flags: int) -> None:
    pro, _ = _synthetic(world, count)
    volume = [
        c for c in flagged(world) if c.professional_id == pro and "unrelated_volume" in c.rules
    ]
    assert len(volume) == flags


def test_many_dossiers_in_the_care_team_are_not_flagged(world: World) -> None:
    pro, _ = _synthetic(world, rules.VOLUME_THRESHOLD + 2, mode="care_team")
    assert [c for c in flagged(world) if c.professional_id == pro] == []


def test_same_surname(world: World) -> None:
    pro, patients = _synthetic(world, 2, last_name="Dupont")
    cases = [c for c in flagged(world) if c.professional_id == pro]
    assert [(c.patient_id, c.rules) for c in cases] == [(patients[0], "same_surname")]


def test_entries_committed_late_are_still_read(world: World, marie_dossier: int) -> None:
    """The rules follow the log's leaves: an entry sequenced after a scan is scanned next."""
    flagged(world)
    break_glass(world, marie_dossier)
    scan.run(world.rt)  # not yet in the log: nothing to read
    with world.rt.sessions() as s:
        assert s.scalars(select(ReviewCase)).first() is None
        assert s.scalars(select(AuditEntry)).first() is not None
    assert len(flagged(world)) == 1


def test_the_officer_gets_nothing_through_fhir_either(world: World, marie_dossier: int) -> None:
    document = world.deposit("gp", marie_dossier, title="Sérologie", content=b"positif")
    dpo = officer(world, "dpo", CABINET)
    headers = world.h(dpo)
    for url in (
        f"/fhir/R4/DocumentReference?patient=Patient%2F{marie_dossier}",
        f"/fhir/R4/AuditEvent?patient=Patient%2F{marie_dossier}",
        f"/fhir/R4/DocumentReference/{document['logical_id']}",
        f"/fhir/R4/Binary/{document['logical_id']}",
    ):
        r = world.client.get(url, headers=headers)
        assert r.status_code in (403, 404), (url, r.status_code)
        assert "positif" not in r.get_data(as_text=True)
        assert "Sérologie" not in r.get_data(as_text=True)


def test_an_officer_cannot_decide_by_forging_ids(world: World, marie_dossier: int) -> None:
    break_glass(world, marie_dossier)
    [case, *_] = flagged(world)
    other = officer(world, "dpo_other", CABINET)
    for method, url, body in (
        ("PUT", f"/reviews/{case.id}/outcome", {"outcome": "justifiee"}),
        ("PUT", f"/reviews/{case.id + 1000}/outcome", {"outcome": "justifiee"}),
        ("GET", f"/reviews/{case.id}", None),
        ("GET", f"/reviews?status=a_traiter&establishment={URGENCES}", None),
    ):
        r = world.call(method, other, url, body)
        if "?" in url:  # a query naming another establishment changes nothing
            assert r.status_code == 200
            assert r.get_json()["cases"] == []
        else:
            assert r.status_code == 404, url
    with world.rt.sessions() as s:
        stored = s.get(ReviewCase, case.id)
        assert stored is not None
        assert stored.status == "a_traiter"  # untouched


def test_two_scanners_never_open_a_case_twice(world: World, marie_dossier: int) -> None:
    """A second worker's pass, in a session that read the cursor before another worker
    moved it, reads nothing again and opens nothing twice."""
    break_glass(world, marie_dossier)
    trace_log.run(world.rt)
    with world.rt.sessions() as late:
        scan.scan(late, world.clock(), batch=0)  # the cursor, read and kept in its cache
        late.commit()  # (its connection back to the pool: SQLite has one)
        assert scan.run(world.rt) >= 1  # another worker's pass
        again = scan.scan(late, world.clock())
        late.commit()
    assert again.opened == 0
    assert again.read == 0
    with world.rt.sessions() as s:
        assert len(notices(world, "unusual_access")) == len(s.scalars(select(ReviewCase)).all())
