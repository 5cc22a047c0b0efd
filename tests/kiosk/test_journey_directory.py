"""The médecin traitant is chosen by name from the directory, not typed as an RPPS number
(issue 14): at the opening of a dossier, on the patient's access page, in French and in
English, with JavaScript and without."""

from __future__ import annotations

from typing import Any

from tests.kiosk.conftest import READER_PATIENT, Kiosk

LEFEVRE = "810020000377"  # Hélène LEFÈVRE, a GP of the demo directory extract
CARON = "810020013693"  # Hugo CARON, a dentist of the demo directory extract


def _min_size(page: Any, selector: str) -> float:
    sizes = page.eval_on_selector_all(
        selector,
        "els => els.map(e => { const r = e.getBoundingClientRect();"
        " return Math.min(r.width, r.height); })",
    )
    assert sizes, selector
    return float(min(sizes))


def test_a_newcomer_finds_her_doctor_by_name_at_the_opening(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-camille-nicolas")
    page.wait_for_url("**/patient/create")
    _without_javascript(page)
    page.reload()
    assert page.locator("#medecin_traitant").count() == 0  # no number to type
    page.fill("#phone", "06 12 34 56 78")
    page.fill("#mt_q", "LEFEVRE helene")  # no accents, any case
    page.click("[data-testid=mt-find]")
    results = page.inner_text("[data-testid=directory-results]")
    assert "Hélène LEFÈVRE · Médecin généraliste · Cabinet médical des Lices, Rennes" in results
    assert page.input_value("#phone") == "06 12 34 56 78"  # nothing typed is lost
    assert _min_size(page, "[data-testid=directory-results] label.check") >= 44
    at.shot("directory", "opening-results")
    page.check(f"[data-testid=pick-{LEFEVRE}]")
    page.check("[data-testid=consent]")
    page.click("[data-testid=open-dossier]")
    page.wait_for_url("**/patient/totp**")
    assert "Hélène LEFÈVRE" in page.inner_text("[data-testid=receipt-view]")


def test_only_physicians_are_offered_and_an_unknown_name_says_so(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-camille-nicolas")
    page.wait_for_url("**/patient/create")
    page.fill("#mt_q", "caron")  # a dentist: no médecin traitant
    page.click("[data-testid=mt-find]")
    assert "Aucun médecin de ce nom." in page.inner_text("[data-testid=directory-none]")
    page.fill("#mt_q", "x")
    page.click("[data-testid=mt-find]")
    assert "deux lettres" in page.inner_text("[data-testid=directory-error]")
    at.pull(READER_PATIENT)


def _without_javascript(page: Any) -> None:
    """From now on the kiosk's script never loads: every page must work as plain HTML."""
    page.route("**/static/kiosk.js*", lambda route: route.abort())


def test_the_access_page_chooses_by_name_without_javascript(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    _without_javascript(page)
    page.goto(at.running.kiosk_url + "/patient/access")
    assert "Jean DUPONT" in page.inner_text("[data-testid=medecin-traitant]")
    # A care-team member, by name: the dentist of the directory.
    page.click("[data-testid=add-care-team]")
    page.fill("#directory-q", "caron hu")
    page.click("[data-testid=directory-go]")
    assert "Hugo CARON · Chirurgien-dentiste" in page.inner_text("[data-testid=directory-results]")
    assert _min_size(page, "[data-testid=directory-results] button") >= 44
    page.click(f"[data-testid=choose-{CARON}]")
    page.wait_for_url("**/patient/access**")
    assert "Hugo CARON" in page.inner_text("[data-testid=care-team]")
    assert page.locator("[data-testid=receipt-view]").count() == 1
    # The médecin traitant, changed by name.
    page.click("[data-testid=choose-mt]")
    page.fill("#directory-q", "lefèvre")
    page.click("[data-testid=directory-go]")
    at.shot("directory", "access-results")
    page.click(f"[data-testid=choose-{LEFEVRE}]")
    page.wait_for_url("**/patient/access**")
    assert "Hélène LEFÈVRE" in page.inner_text("[data-testid=medecin-traitant]")


def test_results_page_through_and_speak_english(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.goto(at.running.kiosk_url + "/patient/access/choose/medecin_traitant?q=ma")
    first = page.inner_text("[data-testid=directory-results]")
    assert page.locator("[data-testid=directory-next]").count() == 1
    page.click("[data-testid=directory-next]")
    second = page.inner_text("[data-testid=directory-results]")
    assert second != first
    assert page.locator("[data-testid=directory-previous]").count() == 1
    page.click("button[name=lang][value=en]")
    page.goto(at.running.kiosk_url + "/patient/access/choose/medecin_traitant?q=lefevre")
    assert "Choose my regular doctor" in page.inner_text("h1")
    assert "General practitioner" in page.inner_text("[data-testid=directory-results]")
