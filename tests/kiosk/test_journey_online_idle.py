"""The online space's idle timeout in Chromium: the warning, then the page leaves by
itself and the session is over (kiosk/online.py, docs/online.md)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kiosk import at_home
from tests.kiosk.conftest import Kiosk


@pytest.fixture
def kiosk_overrides() -> dict[str, Any]:
    return {"COOKIE_SECURE": True, "ONLINE_IDLE_SECONDS": 4}


def test_a_browser_left_alone_is_signed_out(at: Kiosk) -> None:
    page: Any = at.page
    at_home.sign_in(at, page)
    page.wait_for_selector("#idle-warning:not([hidden])", timeout=5_000)
    page.wait_for_url(at.running.online_url + "/", timeout=10_000)
    page.wait_for_selector("[data-testid=flash]")
    assert "inactivité" in page.inner_text("[data-testid=flash]")
    page.goto(at.running.online_url + "/patient/history")
    assert "/patient/" not in page.url
