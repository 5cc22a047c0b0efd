"""Journey 2: the pharmacist at the counter, in a real browser."""

from __future__ import annotations

from typing import Any

from tests.kiosk.conftest import READER_PATIENT, Kiosk


def test_pharmacist_sees_what_the_matrix_allows_and_records_a_dispensation(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_pro("pharmacien-moreau")
    page.wait_for_url("**/pro/")
    assert "Insérez la carte Vitale du patient" in page.inner_text("main")
    at.insert(READER_PATIENT, "patient-marie-durand")
    page.wait_for_url("**/pro/dossier")
    at.shot("pharmacie", "dossier")
    matrix = page.inner_text("[data-testid=matrix]")
    assert "Dispensation" in matrix
    assert "Compte rendu" not in matrix  # the pharmacist's profession does not read reports
    listed = page.inner_text("[data-testid=documents]")
    assert "Consultation du 3 mars" not in listed
    page.click("[data-testid=deposit]")
    page.fill("#title", "Délivrance du 22 novembre")
    page.fill("#text", "Amoxicilline 1 g, 3 boîtes.")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    assert "Délivrance du 22 novembre" in page.inner_text("[data-testid=documents]")
