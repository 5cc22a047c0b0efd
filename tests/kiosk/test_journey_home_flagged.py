"""Issue #14, the home page: what is new since the last visit, the emergency access
announced, and the accesses flagged for review with the privacy officer's outcome."""

from __future__ import annotations

from typing import Any

from tests.kiosk.conftest import READER_PRO, Kiosk
from tests.kiosk.page_tour import DEMO_EMERGENCY_CASE, OFFICER, flag_the_demo_access
from tests.kiosk.test_touch_targets import MEASURE, MIN_PX

LUCIA = "patient-lucia-santoni"


def test_the_home_page_announces_a_flagged_access_then_its_outcome(at: Kiosk) -> None:
    page: Any = at.page
    flag_the_demo_access(at)  # Dr Roux broke the glass on Lucia's dossier
    at.sign_in_patient(LUCIA)
    page.wait_for_url("**/patient/")
    announced = page.inner_text("[data-testid=flagged]")
    assert "Thomas ROUX (médecin urgentiste), en urgence (bris de glace)" in announced
    assert "délégué à la protection des données" in page.inner_text(
        "[data-testid=flagged-a_traiter]"
    )
    assert page.evaluate(MEASURE, MIN_PX) == []
    at.shot("patient", "accueil-acces-signale")
    page.click("button[name=lang][value=en]")
    page.wait_for_url("**/patient/")
    assert "in an emergency (break-the-glass)" in page.inner_text("[data-testid=flagged]")
    assert "Accesses flagged for review" in page.inner_text("[data-testid=flagged] h2")


def test_the_officers_outcome_is_announced_on_the_home_page(at: Kiosk) -> None:
    page: Any = at.page
    flag_the_demo_access(at)
    # The officer concludes before Lucia comes: not justified.
    at.sign_in_pro(OFFICER)
    page.wait_for_url("**/dpo/")
    page.click(DEMO_EMERGENCY_CASE)
    page.wait_for_url("**/dpo/cases/*")
    page.check("[data-testid=outcome-non_justifiee]")
    page.click("[data-testid=save-outcome]")
    page.wait_for_selector("[data-testid=saved]")
    at.pull(READER_PRO)
    page.wait_for_selector("[data-testid=welcome]")
    at.sign_in_patient(LUCIA)
    page.wait_for_url("**/patient/")
    line = page.inner_text("[data-testid=flagged-non_justifiee]")
    assert "examiné : non justifié" in line
    assert page.locator("[data-testid=flagged-a_traiter]").count() == 0
    page.click("[data-testid=flagged-non_justifiee] a")
    page.wait_for_url("**/patient/history")
    assert "CNIL" in page.inner_text("[data-testid=next-steps]")
