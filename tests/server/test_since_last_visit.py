"""The holder's home page answer says what others did since their previous visit
(issue #14: "Depuis votre dernière visite : 2 accès, dont 1 en urgence")."""

from __future__ import annotations

from typing import Any

from tests.server.conftest import World


def since(world: World, who: str, dossier_id: int) -> Any:
    r = world.call("GET", who, f"/dossiers/{dossier_id}")
    assert r.status_code == 200, r.get_json()
    return r.get_json().get("since_last_visit", "absent")


def later(world: World, hours: float) -> None:
    """Time passes: sessions idle that long have ended, everyone signs in again."""
    world.clock.advance(hours=hours)
    for name in ("marie", "gp", "urgentiste"):
        world.tokens[name] = world.open(name)


def test_a_first_visit_has_nothing_to_report(world: World, marie_dossier: int) -> None:
    assert since(world, "marie", marie_dossier) is None


def test_accesses_emergencies_and_refusals_since_the_previous_visit(
    world: World, marie_dossier: int
) -> None:
    d = f"/dossiers/{marie_dossier}"
    world.deposit("gp", marie_dossier, title="compte rendu")
    assert since(world, "marie", marie_dossier) is None  # her first visit goes on
    world.call("GET", "gp", d + "/documents")  # before her visit ended: not counted
    later(world, 3)
    world.call("GET", "gp", d + "/documents")
    world.call("GET", "gp", d + "/documents")
    world.call("GET", "urgentiste", d + "/documents")  # refused: no authorisation
    r = world.call(
        "POST", "urgentiste", d + "/emergency-access", {"mode": "bris_de_glace", "reason": "Coma"}
    )
    assert r.status_code == 201
    world.call("GET", "urgentiste", d + "/documents")
    later(world, 0.25)
    found = since(world, "marie", marie_dossier)
    # Two listings by the GP and one in an emergency; one refused attempt.
    assert (found["accesses"], found["emergency"], found["refused"]) == (3, 1, 1)
    # Within the same visit, the answer does not move; the next visit starts afresh.
    assert since(world, "marie", marie_dossier) == found
    later(world, 2)
    again = since(world, "marie", marie_dossier)
    assert (again["accesses"], again["emergency"], again["refused"]) == (0, 0, 0)
    assert again["since"] > found["since"]


def test_only_the_holder_gets_it(world: World, marie_dossier: int) -> None:
    assert since(world, "gp", marie_dossier) == "absent"


def test_flagged_accesses_are_announced_with_the_officers_outcome(
    world: World, marie_dossier: int
) -> None:
    from tests.server.test_alerts import CABINET, URGENCES, flagged, officer

    d = f"/dossiers/{marie_dossier}"
    world.deposit("gp", marie_dossier, title="compte rendu")
    since(world, "marie", marie_dossier)  # her first visit
    later(world, 3)
    r = world.call(
        "POST", "urgentiste", d + "/emergency-access", {"mode": "bris_de_glace", "reason": "Coma"}
    )
    assert r.status_code == 201
    world.call("GET", "urgentiste", d + "/documents")
    cases = flagged(world)  # the worker's pass
    assert cases
    later(world, 0.25)
    [line] = [f for f in news(world, marie_dossier) if f["mode"] == "bris_de_glace"]
    assert line["status"] == "a_traiter"
    assert line["actor"]["name"] == "Urgentiste Test"
    assert "emergency" in " ".join(line["rules"])
    assert line["decided_since"] is False
    # The officer decides while she is away: her next visit tells her the outcome.
    later(world, 1)
    dpo = officer(world, "dpo_urgences", URGENCES)
    assert CABINET != URGENCES
    case = next(c for c in cases if "emergency" in c.rules)
    r = world.call("PUT", dpo, f"/reviews/{case.id}/outcome", {"outcome": "non_justifiee"})
    assert r.status_code == 200, r.get_json()
    later(world, 2)
    [line] = [f for f in news(world, marie_dossier) if f["mode"] == "bris_de_glace"]
    assert (line["status"], line["decided_since"]) == ("non_justifiee", True)
    # Told once: the visit after that has nothing new.
    later(world, 2)
    assert news(world, marie_dossier) == []


def news(world: World, dossier_id: int) -> list[dict[str, Any]]:
    r = world.call("GET", "marie", f"/dossiers/{dossier_id}")
    assert r.status_code == 200, r.get_json()
    found: list[dict[str, Any]] = r.get_json()["flagged_since_last_visit"]
    return found


def test_on_a_first_visit_every_flagged_access_is_new(world: World, marie_dossier: int) -> None:
    from tests.server.test_alerts import flagged

    r = world.call(
        "POST",
        "urgentiste",
        f"/dossiers/{marie_dossier}/emergency-access",
        {"mode": "bris_de_glace", "reason": "Coma"},
    )
    assert r.status_code == 201
    assert flagged(world)
    assert since(world, "marie", marie_dossier) is None  # her first visit
    [line] = news(world, marie_dossier)
    assert (line["status"], line["action"]) == ("a_traiter", "emergency:bris_de_glace")
    assert line["actor"]["profession_label"] == {
        "fr": "Médecin urgentiste",
        "en": "Emergency physician",
    }
    # Only the holder is told.
    r = world.call("GET", "gp", f"/dossiers/{marie_dossier}")
    assert "flagged_since_last_visit" not in r.get_json()
