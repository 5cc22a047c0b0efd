"""Journey 1: the patient alone at the health-insurance reception kiosk."""

from __future__ import annotations

import re
from typing import Any

import pyotp

from tests.kiosk.conftest import READER_PATIENT, Kiosk


def test_patient_creates_a_dossier_with_explicit_consent_and_enrols_totp(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-camille-nicolas")
    page.wait_for_url("**/patient/create")
    at.shot("patient", "creation")
    assert not page.is_checked("[data-testid=consent]")  # never pre-ticked
    assert page.is_checked("input[name=bris_de_glace]")  # shown ticked
    assert page.is_checked("input[name=centre_15]")
    page.fill("#email", "camille.nicolas@example.org")
    page.click("[data-testid=open-dossier]")
    assert "consentement explicite" in page.inner_text("[data-testid=error]")
    page.check("[data-testid=consent]")
    page.uncheck("input[name=centre_15]")
    # Her médecin traitant, chosen by name from the directory (issue 14).
    page.fill("#mt_q", "dupont jean")
    page.click("[data-testid=mt-find]")
    page.check("[data-testid=pick-810002813839]")
    page.click("[data-testid=open-dossier]")
    page.wait_for_url("**/patient/totp**")
    at.shot("patient", "totp")
    # The server's signed receipt of the opening, in the page.
    text = page.inner_text("[data-testid=receipt-view]")
    assert "Ouverture de votre dossier" in text
    assert "Camille NICOLAS" in text
    assert "Bris de glace (un professionnel en urgence) : autorisé" in text
    assert "Régulateur du SAMU (centre 15) : refusé" in text
    page.click("[data-testid=enrol]")  # a tap makes the secret: a GET never does
    secret = page.text_content("[data-testid=secret]").strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("[data-testid=confirm]")
    page.wait_for_url("**/patient/**")
    assert "Mon dossier médical" in page.inner_text("h1")
    assert "Médecin traitant : Jean DUPONT" in page.inner_text("main")


def test_patient_masks_blocks_changes_emergency_and_reads_history(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    at.shot("patient", "accueil")
    page.click("[data-testid=tile-documents]")
    docs = page.inner_text("[data-testid=documents]")
    assert "Consultation du 3 mars" in docs
    at.shot("patient", "documents")
    # Mask the first document from its page (a tap on its row), with a confirmation, and
    # get a receipt; the list itself holds no action (touch-first: the row opens it).
    assert page.locator("[data-testid=documents] .button").count() == 0
    page.click("[data-testid=doc-1]")
    page.click("[data-testid=mask]")
    assert "Masquer" in page.inner_text("[data-testid=confirm-text]")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    assert "Masqué aux professionnels" in page.inner_text("[data-testid=documents]")
    page.click("[data-testid=doc-1]")
    page.click("[data-testid=mask]")
    assert "à nouveau visible" in page.inner_text("[data-testid=confirm-text]")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    # Who has access, who has read; block the pharmacist, then unblock her.
    page.goto(at.running.kiosk_url + "/patient/access")
    assert "Claire MOREAU" in page.inner_text("[data-testid=have-read]")
    at.shot("patient", "acces")
    page.click("[data-testid='block-810003123451']")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    assert "Claire MOREAU" in page.inner_text("[data-testid=blocked]")
    text = page.inner_text("[data-testid=receipt-view]")
    assert "Claire MOREAU (pharmacien) ne peut plus accéder à votre dossier" in text
    page.click("[data-testid='unblock-810003123451']")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    assert "Claire MOREAU" not in page.inner_text("[data-testid=blocked]")
    # Withdraw bris de glace.
    page.goto(at.running.kiosk_url + "/patient/emergency")
    assert page.is_checked("[data-testid=bris]")
    page.uncheck("[data-testid=bris]")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    page.goto(at.running.kiosk_url + "/patient/emergency")
    assert not page.is_checked("[data-testid=bris]")
    # The history, in plain French, tells all of it.
    page.goto(at.running.kiosk_url + "/patient/history")
    history = page.inner_text("[data-testid=history]")
    at.shot("patient", "historique")
    assert re.search(r"Claire MOREAU", history)
    assert "bloqu" in history


def test_all_documents_on_request(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-documents]")
    assert "deux dernières années" in page.inner_text("main")
    page.click("[data-testid=show-all]")
    assert "Tous les documents" in page.inner_text("main")
    assert page.locator("[data-testid=documents] li").count() >= 1


def test_pulling_the_card_clears_the_screen_within_a_second(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    at.pull(READER_PATIENT)
    page.wait_for_selector("[data-testid=welcome]", timeout=1000)
    assert "Carte retirée" in page.inner_text("[data-testid=flash]")
    terminal = at.running.terminal
    assert terminal.patient is None
    assert terminal.patient_card is None
    assert terminal.dossier is None
    page.goto(at.running.kiosk_url + "/patient/history")
    assert "Historique" not in page.inner_text("main")
