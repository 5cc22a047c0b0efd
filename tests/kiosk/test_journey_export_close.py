"""Journey: « Exporter puis fermer » at the kiosk (issue 13, docs/retention.md). The
closure chosen waits in the kiosk session while the export is prepared and handed over;
only the patient's « J'ai récupéré mon export » closes the dossier, with one signed
receipt. A pulled card, a failed export or a forged confirmation closes nothing."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import text

from server.db import make_engine
from tests.kiosk.conftest import READER_PATIENT, Kiosk
from tests.kiosk.test_touch_targets import _small

MARIE, PAUL = "patient-marie-durand", "patient-paul-bernard"
PROGRESS = re.compile(r".*/patient/export/([A-Za-z0-9_-]{22})$")


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    # Paul signs in again right after pulling his card: the second code must not wait
    # for the resend delay (a sign-in rule tested elsewhere).
    return {"OTP_RESEND_SECONDS": 0}


def _export_then_close(at: Kiosk, card: str, choice: str = "keep") -> str:
    """Signs in, chooses on the close page, starts « Exporter puis fermer »; the
    export's id once it is ready."""
    page: Any = at.page
    at.sign_in_patient(card)
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-close]")
    page.wait_for_url("**/patient/close")
    page.check(f"[data-testid={choice}]")
    page.click("[data-testid=export-then-close]")
    page.wait_for_url(PROGRESS)
    assert "fermé une fois l'export récupéré" in page.inner_text("[data-testid=closing-pending]")
    page.wait_for_selector("[data-testid=export-ready]", timeout=60_000)
    found = PROGRESS.match(page.url)
    assert found is not None
    return found.group(1)


def _receipts(page: Any) -> list[str]:
    page.goto(page.url.split("/patient/")[0] + "/patient/receipts")
    return [str(t) for t in page.locator("[data-testid=receipt-line]").all_inner_texts()]


def test_export_then_close_keeping_it_gives_one_closure_receipt(at: Kiosk) -> None:
    page: Any = at.page
    offenders: list[str] = []
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    before = sum("Fermeture" in line for line in _receipts(page))
    page.goto(at.running.kiosk_url + "/patient/close")
    offenders += _small(page)
    assert page.is_checked("[data-testid=keep]")
    page.click("[data-testid=export-then-close]")
    page.wait_for_url(PROGRESS)
    assert page.inner_text("h1") == "Exporter puis fermer mon dossier"
    offenders += _small(page)
    page.wait_for_selector("[data-testid=export-ready]", timeout=60_000)
    # Ready is not handed over: the dossier is still open meanwhile.
    page.goto(at.running.kiosk_url + "/patient/")
    assert page.locator("[data-testid=closed]").count() == 0
    page.go_back()
    page.wait_for_selector("[data-testid=export-ready]")
    page.click("[data-testid=export-link]")
    page.wait_for_selector("[data-testid=export-qr]")
    at.shot("export-close", "remise")
    offenders += _small(page)
    assert "envoyé" in page.inner_text("[data-testid=export-sent]")
    assert page.locator("[data-testid=export-done]").count() == 0
    page.click("[data-testid=export-close-confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    at.shot("export-close", "fermé")
    offenders += _small(page)
    assert offenders == []
    receipt = page.inner_text("[data-testid=receipt-view]")
    assert "Reçu signé : Fermeture de votre dossier" in receipt
    assert "Conservé jusqu'au" in receipt  # kept 10 years, as chosen before the export
    assert "conservé jusqu'au" in page.inner_text("[data-testid=closed]")
    assert len(page.context.pages) == 1
    # One closure, one receipt; the pending closure is spent.
    assert sum("Fermeture" in line for line in _receipts(page)) == before + 1


def test_pulling_the_card_midway_forgets_the_pending_closure(at: Kiosk) -> None:
    page: Any = at.page
    export_id = _export_then_close(at, PAUL, "delete")
    page.click("[data-testid=export-link]")
    page.wait_for_selector("[data-testid=export-close-confirm]")
    at.pull(READER_PATIENT)
    page.wait_for_url(at.running.kiosk_url + "/")
    at.sign_in_patient(PAUL)
    page.wait_for_url("**/patient/")
    assert page.locator("[data-testid=closed]").count() == 0
    assert page.locator("[data-testid=tile-close]").count() == 1
    # The same export, reached again, is a plain export now: nothing to close with.
    page.goto(at.running.kiosk_url + f"/patient/export/{export_id}")
    page.click("[data-testid=export-link]")
    page.wait_for_selector("[data-testid=export-qr]")
    assert page.locator("[data-testid=export-close-confirm]").count() == 0
    _forge_confirmation(page, export_id)
    page.wait_for_url("**/patient/")
    assert page.locator("[data-testid=closed]").count() == 0


def _forge_confirmation(page: Any, export_id: str) -> None:
    """Posts « J'ai récupéré mon export » by hand, with this page's CSRF token."""
    with page.expect_navigation():
        page.evaluate(
            """id => {
                const f = document.createElement('form');
                f.method = 'post';
                f.action = '/patient/close/after-export/' + id;
                const t = document.createElement('input');
                t.name = 'csrf_token';
                t.value = document.querySelector('input[name=csrf_token]').value;
                f.appendChild(t);
                document.body.appendChild(f);
                f.submit();
            }""",
            export_id,
        )


def test_an_export_not_handed_over_or_failed_closes_nothing(at: Kiosk, database_url: str) -> None:
    page: Any = at.page
    export_id = _export_then_close(at, MARIE)
    # Ready but no link made yet: a confirmation typed by hand is refused, in French.
    _forge_confirmation(page, export_id)
    assert "votre dossier n'a pas été fermé" in page.inner_text("main")
    page.goto(at.running.kiosk_url + "/patient/")
    assert page.locator("[data-testid=closed]").count() == 0

    # Again, and this time the export fails (expired before it was handed over).
    page.goto(at.running.kiosk_url + "/patient/close")
    page.click("[data-testid=export-then-close]")
    page.wait_for_url(PROGRESS)
    found = PROGRESS.match(page.url)
    assert found is not None
    page.wait_for_selector("[data-testid=export-ready]", timeout=60_000)
    engine = make_engine(database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE exports SET status = 'expired' WHERE export_id = :e"),
            {"e": found.group(1)},
        )
    engine.dispose()
    page.reload()
    page.wait_for_selector("[data-testid=export-failed]")
    assert page.inner_text("[data-testid=not-closed]") == "Votre dossier n'a pas été fermé."
    _forge_confirmation(page, found.group(1))
    page.wait_for_url("**/patient/")
    assert page.locator("[data-testid=closed]").count() == 0
    assert page.locator("[data-testid=tile-close]").count() == 1
