"""The secret connection with a minor as a property of the professional's session (issue
13, the DMP's « connexion secrète »): chosen when the minor's dossier is opened, it holds
for every deposit of that session; the server refuses a deposit the representatives
could see, the summary says it is on (the kiosk's banner), and it is traced out of the
representatives' sight."""

from __future__ import annotations

import json
from typing import Any

import pytest

from server.models import OutboxMessage
from tests.server.conftest import World, doc
from tests.server.test_representation import REP, _count, _status


@pytest.fixture
def leo(world: World) -> int:
    dossier = world.create("admissions", "leo", medecin_traitant=world.nid("gp"))
    r = world.call("POST", "admissions", f"/dossiers/{dossier}/representatives", REP)
    assert r.status_code in (200, 201), r.get_json()
    return dossier


def secret(world: World, who: str, dossier: int, on: bool = True) -> Any:
    return world.call("PUT", who, f"/dossiers/{dossier}/secret-connection", {"on": on})


def summary(world: World, who: str, dossier: int) -> dict[str, Any]:
    r = world.call("GET", who, f"/dossiers/{dossier}")
    assert r.status_code == 200, r.get_json()
    found: dict[str, Any] = r.get_json()
    return found


def test_while_on_every_deposit_of_the_session_is_invisible_to_representatives(
    world: World, leo: int
) -> None:
    assert summary(world, "gp", leo)["secret_connection"] is False
    r = secret(world, "gp", leo)
    assert r.status_code == 200, r.get_json()
    assert summary(world, "gp", leo)["secret_connection"] is True
    # A deposit that says nothing of a secret is refused all the same if visible.
    r = world.call("POST", "gp", f"/dossiers/{leo}/documents", doc(title="Contraception"))
    assert _status(r) == (403, "secret_deposit_visible")
    notices = _count(world, OutboxMessage)
    r = world.call(
        "POST", "gp", f"/dossiers/{leo}/documents", doc(title="Contraception", invisible_rep=True)
    )
    assert r.status_code == 201, r.get_json()
    assert _count(world, OutboxMessage) == notices  # no notice to a parent's address
    assert "Contraception" not in world.titles("jean", leo)
    assert "Contraception" in world.titles("leo", leo)
    # The trace says so, and the representative's history does not show it.
    entries = world.trace("leo")
    started = [e for e in entries if '"secret_on"' in (e.detail or "")]
    assert len(started) == 1
    assert (started[0].action, started[0].outcome) == ("dossier:read", "allowed")
    assert json.loads(started[0].detail)["secret_connection"] is True
    rep = world.call("GET", "jean", f"/dossiers/{leo}/history").get_json()["entries"]
    assert not [e for e in rep if e["action"] == "document:deposit"]
    assert not [e for e in rep if (e.get("params") or {}).get("op") == "secret_on"]
    # Ended: ordinary deposits again.
    assert secret(world, "gp", leo, on=False).status_code == 200
    assert summary(world, "gp", leo)["secret_connection"] is False
    world.deposit("gp", leo, title="Vaccins")
    assert "Vaccins" in world.titles("jean", leo)


def test_it_belongs_to_one_session_only(world: World, leo: int) -> None:
    assert secret(world, "gp", leo).status_code == 200
    world.tokens["gp"] = world.open("gp")  # the same professional, another session
    assert summary(world, "gp", leo)["secret_connection"] is False
    world.deposit("gp", leo, title="Vaccins")


def test_who_may_open_one(world: World, leo: int, marie_dossier: int) -> None:
    # An adult's dossier has no representatives to keep a secret from.
    assert _status(secret(world, "gp", marie_dossier)) == (422, "not_a_minor")
    # A professional without access to the dossier is refused, and traced.
    assert _status(secret(world, "pharmacien", leo))[0] == 403
    assert world.trace("leo")[-1].outcome == "denied"
    # Patients and representatives: not theirs to open.
    assert _status(secret(world, "leo", leo)) == (422, "secret_connection_professional_only")
    assert _status(secret(world, "jean", leo)) == (422, "secret_connection_professional_only")
    assert _status(
        world.call("PUT", "gp", f"/dossiers/{leo}/secret-connection", {"on": "yes"})
    ) == (422, "on_invalid")


def test_in_secret_connection_a_new_version_stays_invisible_to_representatives(
    world: World, leo: int
) -> None:
    """A replacement is a deposit too: made in secret connection, the new version must be
    invisible to the representatives, or it is not made."""
    first = world.deposit("gp", leo, title="Consultation", invisible_rep=True)["logical_id"]
    assert secret(world, "gp", leo).status_code == 200
    path = f"/dossiers/{leo}/documents/{first}/replace"
    visible = doc(title="Consultation v2", unique_id="1.2.250.9.2")
    r = world.call("POST", "gp", path, visible)
    assert _status(r) == (422, "secret_version_visible")
    assert "Consultation v2" not in world.titles("leo", leo)
    hidden = doc(title="Consultation v2", unique_id="1.2.250.9.3", invisible_rep=True)
    r = world.call("POST", "gp", path, hidden)
    assert r.status_code == 201, r.get_json()
    assert "Consultation v2" in world.titles("leo", leo)
    assert "Consultation v2" not in world.titles("jean", leo)
    # Neither attempt shows in the representative's history.
    jean_sees = world.call("GET", "jean", f"/dossiers/{leo}/history").get_json()["entries"]
    assert not [e for e in jean_sees if e["action"] == "document:replace"]
    # Out of secret connection, the author decides the new version's flags as usual.
    assert secret(world, "gp", leo, on=False).status_code == 200
    second = world.deposit("gp", leo, title="Ordinaire")["logical_id"]
    again = doc(title="Ordinaire v2", unique_id="1.2.250.9.4")
    path = f"/dossiers/{leo}/documents/{second}/replace"
    assert world.call("POST", "gp", path, again).status_code == 201
