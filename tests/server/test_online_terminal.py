"""The patients' online space as a registered terminal (kind `online`, issue #14): it
relays password sign-ins, and the sessions they open are bound to it; it relays no card;
and no other software relays a patient's password."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from sqlalchemy import select

from server.cli import main
from server.models import ApiSession, Kiosk
from server.services import outbox
from server.signin import sessions
from tests.server.conftest import PATIENTS, World
from tests.server.otp_helpers import GENERIC_401, Inbox, email_senders, smtp
from tests.server.softwarekit import SoftwareClient, last_entry, new_key, public_pem, register

__all__ = ["smtp"]
PASSWORD = "une phrase de passe assez longue"
MARIE_INS = PATIENTS["marie"][0]


def _online(world: World, name: str = "espace-en-ligne", kind: str = "online") -> SoftwareClient:
    key = new_key()
    register(world.app, name, kind, key)
    return SoftwareClient(world.client, world.clock, name, key)


def _signed_in(world: World, front: SoftwareClient, inbox: Inbox, port: int) -> str:
    r = world.call("PUT", "marie", "/me/password", {"password": PASSWORD})
    assert r.status_code == 200  # type: ignore[attr-defined]
    r = front.call("POST", "/signin/password", {"ins": MARIE_INS, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    pending = r.get_json()["pending_token"]
    assert front.call("POST", "/signin/code", {"pending_token": pending}).status_code == 200
    assert outbox.run_once(world.rt, email_senders(port)) == 1
    r = front.call("POST", "/signin/otp", {"pending_token": pending, "code": inbox.last_code()})
    assert r.status_code == 200, r.get_json()
    return str(r.get_json()["token"])


def test_the_online_space_opens_sessions_bound_to_itself(
    world: World, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    front = _online(world)
    token = _signed_in(world, front, inbox, port)
    with world.rt.sessions() as s:
        row = s.get(ApiSession, sessions.token_hash(token))
        assert row is not None
        assert row.kiosk == "espace-en-ligne"
    assert front.call("GET", "/session", token=token).status_code == 200
    # The same token, copied out of the online space, is worth nothing elsewhere.
    bare = world.client.get("/api/v1/session", headers={"Authorization": f"Bearer {token}"})
    assert bare.status_code == 401
    assert last_entry(world.app, f"patient:{world.ids['marie']}").reason == (
        "session_other_terminal"
    )
    # Signing out ends it on the server.
    assert front.call("DELETE", "/session", token=token).status_code == 200
    assert front.call("GET", "/session", token=token).status_code == 401


def test_a_sign_in_begun_in_the_online_space_is_finished_there_only(
    world: World, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    front = _online(world)
    world.call("PUT", "marie", "/me/password", {"password": PASSWORD})
    r = front.call("POST", "/signin/password", {"ins": MARIE_INS, "password": PASSWORD})
    pending = r.get_json()["pending_token"]
    front.call("POST", "/signin/code", {"pending_token": pending})
    outbox.run_once(world.rt, email_senders(port))
    r = world.client.post(
        "/api/v1/signin/otp", json={"pending_token": pending, "code": inbox.last_code()}
    )
    assert (r.status_code, r.get_json()) == (401, GENERIC_401)


def test_the_online_space_relays_no_card(world: World, kiosks: dict[str, Any]) -> None:
    del kiosks  # the PKI is served: a card challenge would be possible for a kiosk
    front = _online(world)
    r = front.call("POST", "/auth/card/challenge")
    assert (r.status_code, r.get_json()) == (401, GENERIC_401)
    entry = last_entry(world.app)
    assert (entry.action, entry.reason) == ("auth:card", "terminal_kind_refused")


def test_no_professional_software_relays_a_patients_password(world: World) -> None:
    world.call("PUT", "marie", "/me/password", {"password": PASSWORD})
    lgc = _online(world, "lgc-cabinet", "software")
    r = lgc.call("POST", "/signin/password", {"ins": MARIE_INS, "password": PASSWORD})
    assert (r.status_code, r.get_json()) == (401, GENERIC_401)
    entry = last_entry(world.app)
    assert (entry.action, entry.reason) == ("auth:password", "terminal_kind_refused")


def test_the_operator_registers_the_online_space(
    settings: dict[str, Any], world: World, tmp_path: Path
) -> None:
    key_file = tmp_path / "online.pub.pem"
    key_file.write_bytes(public_pem(new_key()))
    result = CliRunner().invoke(
        main,
        ["terminal", "register", "--db", settings["DATABASE_URL"], "--kind", "online",
         "--public-key", str(key_file), "espace-patients"],
        env={"DMP_MASTER_KEY": settings["MASTER_KEY"]},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "online espace-patients registered" in result.output
    with world.rt.sessions() as s:
        row = s.scalars(select(Kiosk).where(Kiosk.name == "espace-patients")).one()
        assert row.kind == "online"
