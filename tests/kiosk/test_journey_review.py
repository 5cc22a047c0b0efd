"""Issue #14 at the kiosk: the CHU's privacy officer reviews the demo's emergency access
(Dr Roux broke the glass on Lucia Santoni's dossier) with her own card, and Lucia sees the
outcome on her history line, with what she can do next."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.kiosk.conftest import Kiosk
from tests.kiosk.page_tour import DEMO_EMERGENCY_CASE, OFFICER, flag_the_demo_access
from tests.kiosk.test_touch_targets import MEASURE, MIN_PX

LUCIA = "patient-lucia-santoni"


def _large_targets(page: Any) -> None:
    small = page.evaluate(MEASURE, MIN_PX)
    assert small == [], "\n".join(small)


def test_the_officer_reviews_and_the_patient_sees_the_outcome(at: Kiosk) -> None:
    page: Any = at.page
    flag_the_demo_access(at)
    at.sign_in_pro(OFFICER)
    page.wait_for_url("**/dpo/")
    # The demo panel names her card by her profession, never by its code (review #11).
    drawer = page.text_content("[data-testid=reader-0-card]")
    assert drawer == "Carte CPS · Sophie LAMBERT (Délégué à la protection des données)"
    queue = page.inner_text("[data-testid=cases]")
    assert "Thomas ROUX" in queue
    assert "accès en urgence" in queue
    # Said to the officer, not to the patient (review #8).
    assert "a ouvert le dossier de Lucia SANTONI en urgence (bris de glace)" in queue
    assert "votre dossier" not in queue
    _large_targets(page)
    at.shot("dpo", "liste")
    page.click(DEMO_EMERGENCY_CASE)
    page.wait_for_url("**/dpo/cases/*")
    assert (
        page.inner_text("[data-testid=stated-reason]") == "« Patiente inconsciente aux urgences »"
    )
    assert "ROUX" in page.inner_text("[data-testid=professional]")
    act = page.inner_text("[data-testid=act]")
    assert act == "a ouvert le dossier de Lucia SANTONI en urgence (bris de glace)"
    _large_targets(page)
    # Nothing of a document on the officer's page.
    assert "Compte rendu" not in page.content()
    # A refused comment is named as the page names it, not by its API field (review #11).
    page.check("[data-testid=outcome-non_justifiee]")
    page.fill("[data-testid=comment-input]", "Appel\u0007 du service")
    page.click("[data-testid=save-outcome]")
    error = page.inner_text("[data-testid=error]")
    assert error == "« Commentaire » contient un caractère qui n'est pas accepté : retirez-le."
    page.check("[data-testid=outcome-non_justifiee]")
    page.fill("[data-testid=comment-input]", "Pas de passage aux urgences ce jour-là.")
    page.click("[data-testid=save-outcome]")
    page.wait_for_selector("[data-testid=saved]")
    assert page.inner_text("[data-testid=status]") == "Non justifié"
    at.shot("dpo", "conclusion")
    # In English, the same page.
    page.click("button[name=lang][value=en]")
    page.wait_for_url("**/dpo/cases/*")
    assert page.inner_text("[data-testid=status]") == "Not justified"
    assert page.inner_text("[data-testid=act]") == (
        "opened Lucia SANTONI's record in an emergency (break-the-glass)"
    )
    page.click("button[name=lang][value=fr]")
    at.pull(0)  # the officer leaves with her card

    at.sign_in_patient(LUCIA)
    page.wait_for_url("**/patient/")
    page.goto(at.running.kiosk_url + "/patient/history?before=99999999999999999999")
    body = page.inner_text("body")
    assert "« Page de l'historique » n'est pas valide" in body
    assert "before" not in body
    page.goto(at.running.kiosk_url + "/patient/history")
    review = page.inner_text("[data-testid=review-non_justifiee]")
    assert "non justifié" in review
    steps = page.inner_text("[data-testid=next-steps]")
    assert "CNIL" in steps
    assert "Bloquer ce professionnel" in steps
    _large_targets(page)
    at.shot("patient", "acces-non-justifie")
    page.click("button[name=lang][value=en]")
    page.wait_for_url("**/patient/history")
    assert "not justified" in page.inner_text("[data-testid=review-non_justifiee]")
    assert "CNIL" in page.inner_text("[data-testid=next-steps]")
    page.click("[data-testid=next-steps] a")
    page.wait_for_url("**/patient/access")


def test_an_officer_card_offers_no_patient_page(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_pro(OFFICER)
    page.wait_for_url("**/dpo/")
    page.goto(at.running.kiosk_url + "/pro/")
    page.wait_for_url("**/dpo/")
    # The patient's card beside hers opens nothing: the server refuses her any dossier.
    at.insert(1, LUCIA)
    # The kiosk moves to the patient's page on its own; asked directly when the page's
    # event stream was not listening yet as the card went in (the page had just loaded).
    try:
        page.wait_for_selector("[data-testid=denied]", timeout=3000)
    except PlaywrightTimeout:
        page.goto(at.running.kiosk_url + "/pro/patient")
        page.wait_for_selector("[data-testid=denied]")
    assert "Accès refusé" in page.inner_text("[data-testid=denied]")
