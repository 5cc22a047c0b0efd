"""What a patient does at home, in the online space (kiosk/online.py): shared by the
online journeys and the page tour."""

from __future__ import annotations

from typing import Any

from dmp import demo
from tests.kiosk.conftest import Kiosk

MARIE_INS = "255081416802538"
PAUL_INS = "162117511304567"


def sign_in(at: Kiosk, page: Any, ins: str = MARIE_INS, password: str = "") -> None:
    """INS and password, then the code the demo's mailbox received."""
    page.goto(at.running.online_url + "/")
    page.fill("#ins", ins)
    page.fill("#password", password or demo.ONLINE_PASSWORD)
    page.click("[data-testid=signin]")
    page.wait_for_url("**/connexion/code")
    page.click("[data-testid=send]")
    page.wait_for_selector("[data-testid=sent]")
    page.fill("#code", at.last_code())
    page.click("[data-testid=verify]")
    page.wait_for_url("**/patient/")
