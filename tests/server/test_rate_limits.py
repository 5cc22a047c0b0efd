"""Requests without a session are rate limited per address and per kiosk: past the burst
a 429 with Retry-After, before any hashing or tracing, and one trace line per episode."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from server.models import AuditEntry
from server.signin.rate_limits import RateLimiter
from tests.server.conftest import World

UNKNOWN_INS = "185057800608491"  # valid, and nobody's
T0 = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def test_a_bucket_allows_its_burst_then_refills_at_its_rate() -> None:
    limiter = RateLimiter(per_minute=6, burst=3)
    assert [limiter.check("a", T0).allowed for _ in range(4)] == [True, True, True, False]
    assert limiter.check("b", T0).allowed  # another caller has its own bucket
    assert not limiter.check("a", T0 + timedelta(seconds=9)).allowed
    assert limiter.check("a", T0 + timedelta(seconds=10)).allowed  # one token per 10 s


def test_only_the_first_refusal_of_an_episode_is_traced_with_the_count_before_it() -> None:
    limiter = RateLimiter(per_minute=6, burst=1)
    assert limiter.check("a", T0).allowed
    first = limiter.check("a", T0)
    assert (first.allowed, first.trace, first.refused_before) == (False, True, 0)
    assert first.retry_after == 10
    assert [limiter.check("a", T0).trace for _ in range(5)] == [False] * 5
    later = T0 + timedelta(seconds=10)
    assert limiter.check("a", later).allowed  # the episode ends
    again = limiter.check("a", later)
    assert (again.trace, again.refused_before) == (True, 5)


def _password(world: World, ins: str = UNKNOWN_INS, address: str = "192.0.2.10") -> Any:
    return world.client.post(
        "/api/v1/signin/password",
        json={"ins": ins, "password": "pas le bon du tout"},
        environ_base={"REMOTE_ADDR": address},
    )


def _system_trace(world: World) -> list[AuditEntry]:
    with world.rt.sessions() as s:
        return list(
            s.scalars(
                select(AuditEntry).where(AuditEntry.chain == "system").order_by(AuditEntry.seq)
            )
        )


@pytest.fixture
def settings(settings: dict[str, Any]) -> dict[str, Any]:
    return settings | {"SIGNIN_RATE_PER_MINUTE": 6, "SIGNIN_RATE_BURST": 3}


def test_online_sign_in_past_the_rate_is_refused_before_any_work(world: World) -> None:
    answers = [_password(world) for _ in range(10)]
    assert [a.status_code for a in answers] == [401] * 3 + [429] * 7
    refused = answers[3]
    assert refused.get_json()["reason"] == "rate_limited"
    assert "Trop de tentatives" in refused.get_json()["message"]
    assert int(refused.headers["Retry-After"]) == 10
    reasons = [e.reason for e in _system_trace(world)]
    # Three refused sign-ins traced, then one line for the whole episode, not seven.
    assert reasons == ["unknown_ins"] * 3 + ["rate_limited"]
    # Another address is not held back; the first one is again after the wait.
    assert _password(world, address="192.0.2.11").status_code == 401
    world.clock.advance(seconds=10)
    assert _password(world).status_code == 401


def test_a_signed_in_caller_is_not_rate_limited(world: World, marie_dossier: int) -> None:
    for _ in range(10):
        assert world.call("GET", "marie", f"/dossiers/{marie_dossier}").status_code == 200


def test_card_routes_are_limited_per_address_whatever_kiosk_is_claimed(
    world: World, app: Any, borne: Any
) -> None:
    app.extensions["dmp"].kiosk_limits = RateLimiter(per_minute=6, burst=3)
    codes = []
    for n in range(6):
        r = world.client.post(
            "/api/v1/auth/card/challenge",
            headers={
                "X-DMP-Kiosk": f"borne-inventee-{n}",
                "X-DMP-Date": "x",
                "X-DMP-Signature": "x",
            },
        )
        codes.append(r.status_code)
    assert codes == [401] * 3 + [429] * 3
    assert [e.reason for e in _system_trace(world)][-1] == "rate_limited"


def test_a_kiosk_is_limited_by_its_name_too(world: World, app: Any, borne: Any) -> None:
    app.extensions["dmp"].kiosk_limits = RateLimiter(per_minute=6, burst=4)
    statuses = [borne.call("POST", "/auth/card/challenge").status_code for _ in range(5)]
    assert statuses == [201] * 4 + [429]
