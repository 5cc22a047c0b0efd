"""Journeys 3 and 4: the admissions desk, the hospital physician, the emergency doctor."""

from __future__ import annotations

from typing import Any

from tests.kiosk.conftest import READER_PATIENT, READER_PRO, Kiosk
from tests.kiosk.copresence_check import holder, last_copresence


def test_admissions_records_the_admission_and_reads_no_clinical_content(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("admissions-garcia", "patient-marie-durand")
    at.shot("admissions", "dossier")
    assert "ne lit aucun contenu médical" in page.inner_text("[data-testid=no-clinical]")
    assert page.locator("[data-testid=documents]").count() == 0
    page.click("[data-testid=admit]")
    assert "Admission enregistrée" in page.inner_text("[data-testid=done]")


def test_admissions_opens_a_dossier_with_consent_never_preticked(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("admissions-garcia", "patient-camille-nicolas", lands_on="**/pro/open")
    assert "pas encore de dossier" in page.inner_text("[data-testid=no-dossier]")
    assert not page.is_checked("[data-testid=consent]")
    page.fill("#email", "camille.nicolas@example.org")
    page.check("[data-testid=consent]")
    page.click("[data-testid=open-dossier]")
    page.wait_for_selector("[data-testid=opened]")
    at.shot("admissions", "dossier-ouvert")
    # The signed receipt is the patient's: the desk names it, the patient prints it.
    assert "Mes reçus" in page.inner_text("[data-testid=receipt-told]")
    receipt_id = page.inner_text("[data-testid=receipt-id]").strip()
    assert len(receipt_id) == 22
    # Camille's card and the desk's both signed what was opened (co-presence).
    part, draft = last_copresence(at.running, "dossier:create")
    assert holder(part["patient_card"]) == "288026912304513"
    assert holder(part["professional_card"]) == "3510000011/ADM0042"
    assert draft["terms"]["consent_given"] is True


def test_hospital_physician_deposits_then_replaces_a_report(at: Kiosk) -> None:
    page: Any = at.page
    # Paul Bernard was admitted at the CHU (demo data): the CHU's team is his care team.
    at.at_counter("medecin_specialiste-girard", "patient-paul-bernard")
    page.click("[data-testid=deposit]")
    page.select_option("#type_code", "34112-3")
    page.fill("#title", "Hospitalisation du 20 au 22 novembre")
    page.fill("#text", "Douleur thoracique. Coronarographie normale. Sortie J2.")
    page.check("input[name=invisible_patient]")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    at.shot("hopital", "compte-rendu-depose")
    page.click("text=Hospitalisation du 20 au 22 novembre")
    assert "Coronarographie normale" in page.inner_text("[data-testid=content]")
    assert "Non visible par le patient" in page.inner_text("main")
    page.click("[data-testid=replace]")
    page.select_option("#type_code", "34112-3")
    page.fill("#title", "Hospitalisation du 20 au 22 novembre (corrigé)")
    page.fill("#text", "Douleur thoracique. Coronarographie normale. Sortie J3.")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    listed = page.inner_text("[data-testid=documents]")
    assert "(corrigé)" in listed
    page.click("text=Hospitalisation du 20 au 22 novembre (corrigé)")
    assert "Sortie J3" in page.inner_text("[data-testid=content]")


def test_the_demo_report_is_replaced_within_its_category(at: Kiosk) -> None:
    """The demo's own report (README): replacing it offers only the types of its category,
    so that the server's rule (a new version keeps its category) cannot be tripped."""
    page: Any = at.page
    at.at_counter("medecin_specialiste-girard", "patient-paul-bernard")
    page.click("[data-testid=documents] a.row >> text=Compte rendu d'hospitalisation")
    page.click("[data-testid=replace]")
    offered = page.eval_on_selector_all("#type_code option", "os => os.map(o => o.value)")
    assert "34133-9" not in offered  # Synthèse: another category
    page.select_option("#type_code", "34112-3")
    page.fill("#text", "Séjour en cardiologie du 2 au 5 novembre.")
    page.fill("[data-testid=replace-reason]", "Dates du séjour")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")


def test_emergency_break_glass_banner_notice_and_history(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("urgentiste-roux", "patient-marie-durand")
    assert page.locator("[data-testid=break-glass]").count() == 1
    page.click("[data-testid=break-glass]")
    page.fill("#reason", "Patiente inconsciente, admise aux urgences.")
    page.click("[data-testid=confirm-emergency]")
    page.wait_for_url("**/pro/dossier")
    banner = page.inner_text("[data-testid=emergency-banner]")
    assert "Patiente inconsciente" in banner
    at.shot("urgence", "bris-de-glace")
    assert "Consultation du 3 mars" in page.inner_text("[data-testid=documents]")
    page.click("text=Consultation du 3 mars")
    assert page.locator("[data-testid=emergency-banner]").count() == 1  # for the whole session
    # The patient is notified (the demo mailbox) and sees it in the history.
    at.pull(READER_PATIENT)
    at.pull(READER_PRO)
    page.wait_for_selector("[data-testid=welcome]")
    inbox = " ".join(m.body for m in at.running.kit.inbox.latest())
    assert "urgence" in inbox.lower()
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-history]")
    history = page.inner_text("[data-testid=history]")
    assert "Thomas ROUX" in history
    assert "urgence" in history.lower()
    at.shot("urgence", "historique-patient")
