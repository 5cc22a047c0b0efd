"""The online space's visits (kiosk/online.py), without a browser: one per browser, kept
under a secret, ended by the idle timeout (and the server told), forgotten afterwards."""

from __future__ import annotations

from typing import Any

from kiosk import online
from kiosk.client import ApiResponse
from kiosk.terminal import PatientSignIn


class FakeServer:
    """Stands in for the records server's client: records the sessions ended."""

    def __init__(self) -> None:
        self.ended: list[str] = []

    def sign_out(self, token: str) -> ApiResponse:
        self.ended.append(token)
        return ApiResponse(200, {"ended": True})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _visits() -> tuple[online.Visits, FakeServer, Clock]:
    server, clock = FakeServer(), Clock()
    visits = online.Visits(server, idle_seconds=600, warn_seconds=30, clock=clock)  # type: ignore[arg-type]
    return visits, server, clock


def _signed_in(visits: online.Visits, token: str) -> tuple[online.Visit, str]:
    visit = visits.new_visit()
    visit.start_password("255081416802538", "pending")
    visit.finish_patient_sign_in(token, 0)
    return visit, visits.keep(visit)


def _join(visit: online.Visit) -> None:
    for thread in list(visit._background):
        thread.join(5)


def test_each_browser_finds_its_own_visit_and_no_other() -> None:
    visits, _server, _clock = _visits()
    marie, marie_secret = _signed_in(visits, "token-marie")
    paul, paul_secret = _signed_in(visits, "token-paul")
    assert visits.find(marie_secret) is marie
    assert visits.find(paul_secret) is paul
    assert visits.find("") is None
    assert visits.find("a guessed secret") is None
    assert marie.holder_ins() == "255081416802538"
    # A new secret (the session opened): the old one opens nothing any more.
    again = visits.keep(marie, marie_secret)
    assert visits.find(marie_secret) is None
    assert visits.find(again) is marie


def test_the_idle_timeout_ends_the_visit_and_the_server_session() -> None:
    visits, server, clock = _visits()
    visit, secret = _signed_in(visits, "token-marie")
    clock.now += 599
    visits.sweep()
    assert visit.token() == "token-marie"
    clock.now += 2
    visits.sweep()
    assert visit.token() is None
    assert visit.holder_ins() is None
    assert visit.flash == "idle"
    _join(visit)
    assert server.ended == ["token-marie"]
    # Kept a minute to say why on the next page, then forgotten.
    assert visits.find(secret) is visit
    clock.now += online.LINGER_SECONDS + 1
    visits.sweep()
    assert visits.find(secret) is None


def test_signing_out_says_so_without_mentioning_a_card() -> None:
    visits, server, _clock = _visits()
    visit, _secret = _signed_in(visits, "token-marie")
    visit.clear("signed_out")
    assert visit.flash == "online_signed_out"
    _join(visit)
    assert server.ended == ["token-marie"]


def test_past_the_cap_the_least_recently_active_visit_ends(monkeypatch: Any) -> None:
    monkeypatch.setattr(online, "MAX_VISITS", 2)
    visits, server, clock = _visits()
    first, first_secret = _signed_in(visits, "t1")
    clock.now += 1
    second, _ = _signed_in(visits, "t2")
    clock.now += 1
    second.touch()
    _signed_in(visits, "t3")
    assert len(visits) == 2
    assert visits.find(first_secret) is None
    _join(first)
    assert server.ended == ["t1"]


def test_a_pending_sign_in_is_not_a_session() -> None:
    visits, _server, _clock = _visits()
    visit = visits.new_visit()
    visit.patient = PatientSignIn(pending_token="pending")
    assert visit.token() is None
    assert visit.holder_ins() is None
