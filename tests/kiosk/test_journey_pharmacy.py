"""Journey 2: the pharmacist at the counter, in a real browser."""

from __future__ import annotations

from typing import Any

from tests.kiosk.conftest import READER_PATIENT, Kiosk
from tests.kiosk.copresence_check import holder, last_copresence, last_receipt_id

MOREAU_ID = "810003123451"  # the pharmacist's card


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
    # A dispensation is recorded as medication lines, not as a free-text box (issue 11).
    page.click("[data-testid=deposit]")
    assert "Dispensation" not in page.inner_text("#type_code")
    assert "Soins administrés" in page.inner_text("#type_code")
    page.click("a.button >> text=Annuler")
    page.click("[data-testid=deposit-dispensation]")
    page.fill("#title", "Délivrance du 22 novembre")
    page.fill("#line-0-name", "Amoxicilline 1 g, comprimé")
    page.fill("#line-0-quantity", "3 boîtes")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    assert "Délivrance du 22 novembre" in page.inner_text("[data-testid=documents]")


def test_without_consent_the_patient_present_consents_with_their_card(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("pharmacien-moreau", "patient-lucia-santoni")
    assert page.locator("[data-testid=denied]").count() == 1
    at.shot("pharmacie", "consentement")
    page.click("[data-testid=consent-in-person]")
    page.wait_for_selector("[data-testid=matrix]")
    assert "Dispensation" in page.inner_text("[data-testid=matrix]")
    # The counter is told the consent is recorded, and which receipt proves it, once.
    told = page.inner_text("[data-testid=consent-recorded]")
    assert "Consentement du patient enregistré" in told
    receipt_id = page.inner_text("[data-testid=receipt-id]")
    page.reload()
    page.wait_for_selector("[data-testid=matrix]")
    assert page.locator("[data-testid=consent-recorded]").count() == 0
    # Both cards signed the consent's draft, and the server's receipt carries them.
    part, draft = last_copresence(at.running, "access:grant")
    assert holder(part["patient_card"]) == "253072B07300470"  # Lucia's card
    assert holder(part["professional_card"]) == MOREAU_ID
    assert draft["professional"]["national_id"] == MOREAU_ID
    assert draft["terminal"]["name"] == at.running.terminal.client.kiosk_name
    assert receipt_id == last_receipt_id(at.running, "access:grant")


def test_pharmacist_opens_a_dossier_and_hands_a_receipt_on_how_to_sign_in(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("pharmacien-moreau", "patient-camille-nicolas", lands_on="**/pro/open")
    assert not page.is_checked("[data-testid=consent]")  # never pre-ticked
    page.fill("#phone", "06 12 34 56 78")
    page.select_option("#notify_channel", "sms")
    page.check("[data-testid=consent]")
    page.click("[data-testid=open-dossier]")
    page.wait_for_selector("[data-testid=opened]")
    # The server signed the opening's receipt; the patient prints it with her card.
    assert "carte Vitale" in page.inner_text("[data-testid=receipt-told]")
    assert len(page.inner_text("[data-testid=receipt-id]").strip()) == 22
    # Camille's card and the pharmacist's both signed the opening.
    part, draft = last_copresence(at.running, "dossier:create")
    assert holder(part["patient_card"]) == draft["terms"]["patient"]["ins"] == "288026912304513"
    assert holder(part["professional_card"]) == MOREAU_ID
    page.click("text=Continuer vers le dossier")
    # Consent to the creation is not consent to read: the patient confirms with the card.
    page.click("[data-testid=consent-in-person]")
    page.wait_for_selector("[data-testid=matrix]")


def test_the_demo_panel_inserts_and_pulls_cards(at: Kiosk) -> None:
    page: Any = at.page
    page.goto(at.running.kiosk_url + "/?demo=1")
    page.select_option("[data-testid=select-0]", "pharmacien-moreau")
    page.click("[data-testid=insert-0]")
    page.wait_for_url("**/pin")
    page.goto(at.running.kiosk_url + "/pin?demo=1")
    assert "Claire MOREAU" in page.inner_text("[data-testid=reader-0-card]")
    page.click("[data-testid=pull-0]")
    page.wait_for_selector("[data-testid=welcome]")
    assert at.running.terminal.pro_reader is None
