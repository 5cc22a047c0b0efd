"""Online sign-in without a card: INS + password (argon2id), then a one-time code."""

from __future__ import annotations

import logging
import statistics
import time

import pytest

from server.models import PatientPassword
from server.services import outbox
from tests.server.conftest import PATIENTS, World
from tests.server.otp_helpers import GENERIC_401, Inbox, email_senders, post, smtp

__all__ = ["smtp"]
PASSWORD = "une phrase de passe assez longue"
MARIE_INS = PATIENTS["marie"][0]


def set_password(world: World, patient: str, password: str = PASSWORD) -> object:
    return world.call("PUT", patient, "/me/password", {"password": password})


def test_the_password_policy_is_length_and_a_deny_list(world: World) -> None:
    for weak, reason in (
        ("court", "password_too_short"),
        ("azertyuiop", "password_too_common"),
        ("Password1", "password_too_common"),
        (f"x{MARIE_INS}", "password_too_common"),
    ):
        r = set_password(world, "marie", weak)
        assert (r.status_code, r.get_json()["reason"]) == (422, reason), weak  # type: ignore[attr-defined]
    r = set_password(world, "marie", "tous en minuscules")  # no composition rules
    assert r.status_code == 200  # type: ignore[attr-defined]
    with world.rt.sessions() as s:
        row = s.get(PatientPassword, world.ids["marie"])
        assert row is not None
        assert row.argon2_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_password_then_sent_code_signs_in_at_home(world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    set_password(world, "marie")
    r = post(world, "/signin/password", {"ins": MARIE_INS, "password": PASSWORD})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["methods"] == ["code"]
    pending = r.get_json()["pending_token"]
    assert post(world, "/signin/code", {"pending_token": pending}).status_code == 200
    assert outbox.run_once(world.rt, email_senders(port)) == 1
    r = post(world, "/signin/otp", {"pending_token": pending, "code": inbox.last_code()})
    assert r.status_code == 200, r.get_json()
    who = world.client.get(
        "/api/v1/session", headers={"Authorization": f"Bearer {r.get_json()['token']}"}
    )
    assert who.status_code == 200
    assert who.get_json()["name"] == "Marie DUPONT"
    assert [e.reason for e in world.trace("marie")][-1] == "signin_password_code"
    again = post(world, "/signin/otp", {"pending_token": pending, "code": inbox.last_code()})
    assert (again.status_code, again.get_json()) == (401, GENERIC_401)


def test_wrong_password_and_unknown_ins_answer_the_same(world: World) -> None:
    set_password(world, "marie")
    wrong = post(world, "/signin/password", {"ins": MARIE_INS, "password": "pas le bon du tout"})
    unknown = post(world, "/signin/password", {"ins": "255081416802538", "password": PASSWORD})
    no_password = post(world, "/signin/password", {"ins": PATIENTS["jean"][0], "password": "x"})
    for r in (wrong, unknown, no_password):
        assert (r.status_code, r.get_json()) == (401, GENERIC_401)
    assert [e.reason for e in world.trace("marie")][-1] == "password_invalid"
    assert [e.reason for e in world.trace("jean")][-1] == "password_invalid"


def test_unknown_ins_costs_about_as_much_as_a_wrong_password(world: World) -> None:
    set_password(world, "marie")

    def once(ins: str) -> float:
        world.clock.advance(seconds=2)  # within the per-address rate (30 a minute)
        start = time.perf_counter()
        r = post(world, "/signin/password", {"ins": ins, "password": "pas le bon du tout"})
        assert r.status_code == 401
        return time.perf_counter() - start

    once("255081416802538")  # warm-up: the dummy hash is made once per process
    known: list[float] = []
    unknown: list[float] = []
    for _ in range(9):  # interleaved, so that load on the machine hits both alike
        known.append(once(MARIE_INS))
        unknown.append(once("255081416802538"))
    ratio = statistics.median(unknown) / statistics.median(known)
    # Both are dominated by one argon2id verification (tens of milliseconds).
    assert 1 / 3 < ratio < 3, (known, unknown)


def test_passwords_lock_too(world: World) -> None:
    set_password(world, "marie")
    for _ in range(5):
        r = post(world, "/signin/password", {"ins": MARIE_INS, "password": "pas le bon du tout"})
        assert r.status_code == 401
    r = post(world, "/signin/password", {"ins": MARIE_INS, "password": PASSWORD})
    assert r.status_code == 401
    assert [e.reason for e in world.trace("marie")][-1] == "password_locked"


def test_no_secret_reaches_any_log(
    world: World, smtp: tuple[Inbox, int], caplog: pytest.LogCaptureFixture
) -> None:
    inbox, port = smtp
    caplog.set_level(logging.DEBUG)  # the root logger: every library's records too
    assert set_password(world, "marie").status_code == 200  # type: ignore[attr-defined]
    enrol = world.call("POST", "marie", "/me/totp").get_json()
    r = post(world, "/signin/password", {"ins": MARIE_INS, "password": PASSWORD})
    pending = r.get_json()["pending_token"]
    assert post(world, "/signin/code", {"pending_token": pending}).status_code == 200
    failing = {"email": email_senders(1)["email"]}  # port 1: refused, logged, retried
    assert outbox.run_once(world.rt, failing) == 0
    world.clock.advance(seconds=31)
    assert outbox.run_once(world.rt, email_senders(port)) == 1
    code = inbox.last_code()
    r = post(world, "/signin/otp", {"pending_token": pending, "code": code})
    assert r.status_code == 200
    token = r.get_json()["token"]
    # Everything but the test's own SMTP server (aiosmtpd's "mail.log" logs each DATA
    # line at DEBUG): that is the mailbox the code is meant to reach, not our process.
    logged = "\n".join(
        f"{rec.name} {rec.getMessage()} {rec.exc_text or ''}"
        for rec in caplog.records
        if not rec.name.startswith("mail.")
    )
    assert any(rec.name.startswith("dmp.") for rec in caplog.records)
    assert "not delivered" in logged  # the capture does see our records
    for secret in (PASSWORD, code, enrol["secret"], token, pending, world.tokens["marie"]):
        assert secret not in logged
