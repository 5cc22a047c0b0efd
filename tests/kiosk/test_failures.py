"""What goes wrong at a kiosk, and what the person then reads (in French)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from server.db import make_engine
from server.models import Document
from tests.kiosk.conftest import READER_PATIENT, READER_PRO, Kiosk


def _pharmacist_at_deposit(at: Kiosk) -> Any:
    page: Any = at.page
    at.at_counter("pharmacien-moreau", "patient-marie-durand")
    page.click("[data-testid=deposit]")
    page.fill("#title", "Délivrance")
    page.fill("#text", "Paracétamol 1 g.")
    return page


def _documents(database_url: str) -> int:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Document)) or 0)
    finally:
        engine.dispose()


def test_pulling_the_professional_card_mid_journey_ends_everything(at: Kiosk) -> None:
    page = _pharmacist_at_deposit(at)
    at.pull(READER_PRO)
    page.wait_for_selector("[data-testid=flash]", timeout=1000)
    assert "Carte retirée" in page.inner_text("[data-testid=flash]")
    terminal = at.running.terminal
    assert terminal.pro is None
    assert terminal.dossier is None
    # The patient card still in the reader is not taken over by anyone.
    assert "Reprenez votre carte" in page.inner_text("[data-testid=stale]")


def test_server_down_mid_journey_keeps_the_form_and_never_writes_twice(
    at: Kiosk, database_url: str
) -> None:
    page = _pharmacist_at_deposit(at)
    before = _documents(database_url)
    at.running.stop_server()
    page.click("[data-testid=save]")
    error = page.inner_text("[data-testid=error]")
    assert "injoignable" in error
    assert "Rien n'a été perdu" in error
    assert page.input_value("#title") == "Délivrance"  # what was typed is still there
    assert page.input_value("#text") == "Paracétamol 1 g."
    at.running.start_server()
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    assert _documents(database_url) == before + 1


def test_a_double_submit_creates_one_document(at: Kiosk, database_url: str) -> None:
    page = _pharmacist_at_deposit(at)
    before = _documents(database_url)
    fields = page.evaluate(
        "() => Object.fromEntries(new FormData(document.querySelector('form.card-form')))"
    )
    url = page.url
    first = page.request.post(url, form=fields)
    second = page.request.post(url, form=fields)
    assert first.status == 200
    assert second.status == 200
    assert _documents(database_url) == before + 1


def test_three_wrong_pins_block_the_card_and_the_puk_unblocks_it(at: Kiosk) -> None:
    page: Any = at.page
    at.insert(READER_PRO, "pharmacien-moreau")
    page.wait_for_url("**/pin")
    page.fill("#pin", "9999")
    page.click("button[type=submit]")
    assert "Il vous reste 2 essais avant le blocage" in page.inner_text("[data-testid=error]")
    # The count is said once (not again in the hint), and the last try in words.
    assert page.inner_text("main").count("essai") == 1
    page.fill("#pin", "9999")
    page.click("button[type=submit]")
    error = page.inner_text("[data-testid=error]")
    assert "il ne vous reste qu'un essai ; un nouveau code erroné bloquera la carte" in error
    assert page.inner_text("main").count("essai") == 1
    assert "essai(s)" not in page.inner_text("main")
    page.goto(at.running.kiosk_url + "/pin")  # back later: the warning is still there
    assert "qu'un essai" in page.inner_text("[data-testid=last-try]")
    page.fill("#pin", "9999")
    page.click("button[type=submit]")
    page.wait_for_url("**/unblock")
    at.shot("pro", "carte-bloquee")
    assert "Carte bloquée" in page.inner_text("h1")
    page.fill("#puk", "00000000")
    page.fill("#new_pin", "4321")
    page.fill("#new_pin_again", "4321")
    page.click("button[type=submit]")
    assert "Code de déblocage incorrect" in page.inner_text("[data-testid=error]")
    # Again on the screen's keypad: it types into the field last touched, and a full
    # field hands over to the next one.
    page.click("#puk")
    for key in "12345678" + "4321" + "4321":
        page.click(f"[data-testid=keypad-puk] button[data-key='{key}']")
    assert page.input_value("#puk") == "12345678"
    assert page.input_value("#new_pin") == "4321"
    assert page.input_value("#new_pin_again") == "4321"
    page.click("button[type=submit]")
    page.wait_for_url("**/pin")
    assert "Carte débloquée" in page.inner_text("[data-testid=flash]")
    page.fill("#pin", "4321")
    page.click("button[type=submit]")
    page.wait_for_url("**/pro/")


def test_a_session_the_server_ended_sends_the_kiosk_home_with_a_message(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_pro("pharmacien-moreau")
    page.wait_for_url("**/pro/")
    terminal = at.running.terminal
    token = terminal.token()
    assert token is not None
    # The server ends it behind the kiosk's back (as at its idle or maximum lifetime).
    assert terminal.client.call("DELETE", "/session", token=token).ok
    at.insert(READER_PATIENT, "patient-marie-durand")
    page.wait_for_selector("[data-testid=flash]")
    assert "Votre session a pris fin" in page.inner_text("[data-testid=flash]")
    assert terminal.pro is None


# For this test only (a module-level fixture would give every test of the module a 4 s
# idle timeout, which a loaded machine exceeds between two taps).
@pytest.mark.parametrize("kiosk_overrides", [{"IDLE_SECONDS": 4, "IDLE_WARNING_SECONDS": 2}])
def test_idle_warning_then_timeout(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.wait_for_selector("#idle-warning:not([hidden])", timeout=4000)
    assert "Êtes-vous toujours là" in page.inner_text("#idle-warning")
    page.click("#idle-continue")
    page.wait_for_selector("#idle-warning[hidden]", state="attached")
    page.wait_for_selector("[data-testid=flash]", timeout=8000)
    assert "inactivité" in page.inner_text("[data-testid=flash]")
    assert at.running.terminal.patient is None or at.running.terminal.patient.token is None
    assert re.search(r"/(code|patient-card)?$", page.url)
