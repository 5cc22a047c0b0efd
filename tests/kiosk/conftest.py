"""Kiosk tests: the embedded demo (records server + kiosk + emulated cards) per test, and
Debian's Chromium driven by Playwright."""

from __future__ import annotations

import base64
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dmp import demo
from tests.conftest import wipe

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("DMP_SCREENSHOTS", ROOT / "var" / "screenshots"))

READER_PRO, READER_PATIENT = 0, 1


@pytest.fixture(scope="session")
def prepared_pki(tmp_path_factory: pytest.TempPathFactory) -> demo.PreparedPki:
    return demo.prepare_pki(tmp_path_factory.mktemp("pki") / "pki")


@pytest.fixture
def kiosk_overrides() -> dict[str, Any]:
    return {"COOKIE_SECURE": True}


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    return {}


@pytest.fixture
def running(
    database_url: str,
    prepared_pki: demo.PreparedPki,
    tmp_path: Path,
    kiosk_overrides: dict[str, Any],
    server_overrides: dict[str, Any],
) -> Iterator[demo.RunningDemo]:
    wipe(database_url)
    run = demo.start(
        prepared=prepared_pki,
        port=0,
        directory=tmp_path,
        server_overrides={
            "DATABASE_URL": database_url,
            "MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            **server_overrides,
        },
        kiosk_overrides=kiosk_overrides,
    )
    yield run
    run.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(
            "Debian's chromium is missing: scripts/test installs it (apt-get install chromium)"
        )
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def page(browser: Any, running: demo.RunningDemo) -> Iterator[Any]:
    context = browser.new_context(locale="fr-FR", viewport={"width": 1080, "height": 1400})
    context.set_default_timeout(10_000)
    pg = context.new_page()
    pg.goto(running.kiosk_url + "/")
    yield pg
    context.close()


class Kiosk:
    """What a person does at the kiosk: cards in and out, and reading the SMS."""

    def __init__(self, running: demo.RunningDemo, page: Any) -> None:
        self.running, self.page = running, page
        self.readers = running.kit.readers

    def insert(self, reader: int, card: str) -> None:
        name = self.readers.names()[reader]
        self.readers.insert(name, card, self.running.kit.cards[card][1])

    def pull(self, reader: int) -> None:
        self.readers.remove(self.readers.names()[reader])

    def last_code(self, timeout: float = 5.0) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.running.kit.inbox.latest():
                found = re.search(r"\b(\d{6})\b", message.body)
                if found:
                    return found.group(1)
            time.sleep(0.05)
        raise AssertionError("no one-time code arrived in the demo inbox")

    def shot(self, journey: str, name: str) -> None:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{journey}-{name}.png"), full_page=True)

    def sign_in_pro(self, card: str, pin: str = "1234") -> None:
        self.insert(READER_PRO, card)
        self.page.wait_for_url("**/pin")
        self.page.fill("#pin", pin)
        self.page.click("button[type=submit]")

    def at_counter(
        self, pro_card: str, patient_card: str, lands_on: str = "**/pro/dossier"
    ) -> None:
        """A professional signs in, then the patient's card goes in beside it."""
        self.sign_in_pro(pro_card)
        self.page.wait_for_url("**/pro/")
        self.insert(READER_PATIENT, patient_card)
        self.page.wait_for_url(lands_on)

    def sign_in_patient(self, card: str) -> None:
        self.insert(READER_PATIENT, card)
        self.page.wait_for_url("**/code")
        self.page.click("[data-testid=send]")
        self.page.wait_for_selector("[data-testid=sent]")
        self.page.fill("#code", self.last_code())
        self.page.click("[data-testid=verify]")


@pytest.fixture
def at(running: demo.RunningDemo, page: Any) -> Kiosk:
    return Kiosk(running, page)
