"""Leaving and coming back, in Chromium: close keeping the dossier, reopen it, close
asking for deletion, and closure at the desk, which the patient's card and the
professional's both sign. A closed dossier's home offers only what the server allows."""

from __future__ import annotations

from typing import Any

from tests.kiosk.conftest import READER_PATIENT, READER_PRO, Kiosk
from tests.kiosk.copresence_check import holder, last_copresence

MARIE, PAUL = "patient-marie-durand", "patient-paul-bernard"
PHARMACIST = "pharmacien-moreau"
ACTIVE_ONLY = ("tile-emergency", "tile-access", "tile-close")


def _tiles(page: Any) -> set[str]:
    found = page.eval_on_selector_all("nav.tiles a", "els => els.map(e => e.dataset.testid)")
    return set(found)


def _document_count(page: Any) -> int:
    page.click("[data-testid=tile-documents]")
    page.wait_for_selector("[data-testid=documents]")
    count = page.locator("[data-testid=documents] [data-testid^=doc-]").count()
    page.go_back()
    return int(count)


def test_patient_closes_keeping_it_then_reopens_and_finds_everything(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    assert set(ACTIVE_ONLY) <= _tiles(page)
    assert "tile-reopen" not in _tiles(page)
    documents = _document_count(page)
    assert documents > 0

    page.click("[data-testid=tile-close]")
    page.wait_for_url("**/patient/close")
    at.shot("closure", "choix")
    assert page.is_checked("[data-testid=keep]")  # keeping is the default
    assert not page.is_checked("[data-testid=delete]")
    assert "pas même votre médecin traitant" in page.inner_text("[data-testid=consequences]")
    assert page.inner_text("[data-testid=sure]") == (
        "Êtes-vous sûre de vouloir fermer votre dossier ?"
    )
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    at.shot("closure", "fermé")
    # The server's signed receipt, shown in the page (no new tab).
    receipt = page.inner_text("[data-testid=receipt-view]")
    assert "Reçu signé : Fermeture de votre dossier" in receipt
    assert "Conservé jusqu'au" in receipt
    assert len(page.context.pages) == 1
    assert "conservé jusqu'au" in page.inner_text("[data-testid=closed]")
    tiles = _tiles(page)
    assert not set(ACTIVE_ONLY) & tiles  # no masking, emergency or blocking on offer
    assert {"tile-reopen", "tile-documents", "tile-history"} <= tiles

    # Reading still works; masking is not offered on a closed dossier.
    page.click("[data-testid=tile-documents]")
    page.click("[data-testid=doc-1]")
    page.wait_for_selector("h1")
    assert page.locator("[data-testid=mask]").count() == 0
    # Typed by hand, the other pages offer nothing to change either.
    page.goto(at.running.kiosk_url + "/patient/emergency")
    assert page.locator("[data-testid=save]").count() == 0
    assert page.is_disabled("[data-testid=bris]")
    page.goto(at.running.kiosk_url + "/patient/access")
    assert page.locator("a[data-testid^=block-], a[data-testid^=read-block-]").count() == 0
    page.goto(at.running.kiosk_url + "/patient/")

    page.click("[data-testid=tile-reopen]")
    page.wait_for_url("**/patient/reopen")
    assert "vos documents" in page.inner_text("[data-testid=consequences]")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    assert "Réouverture de votre dossier" in page.inner_text("[data-testid=receipt-view]")
    assert page.locator("[data-testid=closed]").count() == 0
    assert set(ACTIVE_ONLY) <= _tiles(page)
    assert _document_count(page) == documents
    # Masking, emergency settings and blocking are offered again.
    page.goto(at.running.kiosk_url + "/patient/documents")
    page.click("[data-testid=doc-1]")
    assert page.locator("[data-testid=mask]").count() == 1
    page.goto(at.running.kiosk_url + "/patient/emergency")
    assert page.locator("[data-testid=save]").count() == 1
    page.goto(at.running.kiosk_url + "/patient/access")
    assert page.locator("a[data-testid^=block-], a[data-testid^=read-block-]").count() > 0


def test_patient_asks_for_deletion_and_can_still_change_his_mind(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient(PAUL)
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-close]")
    assert (
        page.inner_text("[data-testid=sure]") == "Êtes-vous sûr de vouloir fermer votre dossier ?"
    )
    page.check("[data-testid=delete]")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    assert "sa suppression est demandée" in page.inner_text("[data-testid=closed]")
    assert "Suppression demandée" in page.inner_text("[data-testid=receipt-view]")
    page.click("[data-testid=tile-reopen]")
    assert page.locator("[data-testid=withdrawn]").count() == 1
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=receipt-ready]")
    assert "Demande de suppression annulée" in page.inner_text("[data-testid=receipt-view]")


def test_a_tampered_choice_is_refused_in_french(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient(PAUL)
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-close]")
    page.eval_on_selector("[data-testid=keep]", "e => e.value = 'everything'")
    page.click("[data-testid=confirm]")
    assert "Choisissez ce que devient votre dossier." in page.inner_text("[data-testid=error]")
    page.goto(at.running.kiosk_url + "/patient/")
    assert page.locator("[data-testid=closed]").count() == 0
    # Someone else's (or a made-up) receipt number, a malformed one, the desk's page.
    r = page.goto(at.running.kiosk_url + "/patient/receipts/" + "A" * 22)
    assert r.status == 404
    assert "Reçu introuvable." in page.inner_text("main")
    assert page.goto(at.running.kiosk_url + "/patient/receipts/%27%3Cscript").status == 404
    page.goto(at.running.kiosk_url + "/pro/dossier/close")
    assert "/pro/dossier/close" not in page.url  # not a professional's session: sent home
    page.goto(at.running.kiosk_url + "/patient/?receipt=%3Cb%3Ex")
    assert page.locator("[data-testid=receipt-ready]").count() == 0


def test_the_pharmacist_closes_at_the_desk_with_the_patients_card(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=pro-close]")
    page.wait_for_url("**/pro/dossier/close")
    at.shot("closure", "guichet")
    assert page.inner_text("h1") == "Fermer le dossier de la patiente"
    assert page.is_checked("[data-testid=keep]")
    page.click("[data-testid=confirm]")
    page.wait_for_selector("[data-testid=done]")
    assert "Reçu signé n°" in page.inner_text("[data-testid=done]")
    # Marie's card and the pharmacist's both signed the closure she chose (keep).
    part, draft = last_copresence(at.running, "dossier:close")
    assert holder(part["patient_card"]) == "255081416802538"
    assert holder(part["professional_card"]) == "810003123451"
    assert draft["terms"] == {"status": "closed", "deletion_requested": False}
    # The dossier is closed to the pharmacist too, at once.
    page.goto(at.running.kiosk_url + "/pro/dossier")
    assert page.locator("[data-testid=pro-close]").count() == 0
    at.pull(READER_PATIENT)
    at.pull(READER_PRO)
    # Two cards out, two navigations home: wait for the page, not for a URL the second
    # navigation may abort.
    page.wait_for_selector("[data-testid=welcome]")
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    assert "tile-reopen" in _tiles(page)
    assert "tile-emergency" not in _tiles(page)
