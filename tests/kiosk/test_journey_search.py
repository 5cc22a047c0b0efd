"""Issue 11 at the kiosk, in Chromium: searching a dossier from its document list (the
patient alone, the professional at the counter), the matched words highlighted, and a
document's versions with what changed between two of them."""

from __future__ import annotations

from typing import Any

from tests.kiosk.conftest import Kiosk
from tests.kiosk.test_journey_documents import MARIE, PHARMACIST, api, dossier_id


def test_the_patient_finds_a_word_whatever_its_accents_and_case(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-documents]")
    # "Consultation de suivi. Tension 12/8. Poursuite du traitement." (the demo's seed)
    page.fill("[data-testid=search-q]", "TRAITEMENTS")
    page.click("[data-testid=search-go]")
    page.wait_for_selector("[data-testid=search-count]")
    hits = page.locator("[data-testid=search-results] li")
    assert hits.count() >= 1
    first = page.locator("[data-testid=search-results] li").first
    assert first.locator("mark").count() >= 1  # the matched word, highlighted
    assert "traitement" in first.locator("mark").first.inner_text().lower()
    at.shot("search", "patient-results")
    first.locator("a.row").click()
    page.wait_for_selector("[data-testid=reader]")
    # A word in no document: a plain French answer, not an error.
    page.goto(page.url.split("/patient/")[0] + "/patient/documents/search?q=zygomatique")
    assert "Aucun document ne contient ces mots" in page.inner_text("[data-testid=no-hit]")
    assert page.locator("[data-testid=search-count]").count() == 0  # no "0 document(s)"
    # Only common words: said by the kiosk, in the visitor's language.
    page.goto(page.url.split("/patient/")[0] + "/patient/documents/search?q=de+la")
    assert "au moins un mot" in page.inner_text("[data-testid=search-error]")


def test_the_professional_searches_by_the_start_of_a_word_and_opens_the_hit(
    at: Kiosk,
) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit-dispensation]")
    page.fill("#title", "Délivrance pour l'hypertension")
    page.fill("#line-0-name", "Amlodipine 5 mg, gélule")
    page.fill("#line-0-posology", "1 gélule le matin")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    page.fill("[data-testid=search-q]", "amlodip")  # typed halfway: a prefix
    page.click("[data-testid=search-go]")
    page.wait_for_selector("[data-testid=search-results]")
    hit = page.locator("[data-testid=search-results] li").filter(
        has_text="Délivrance pour l'hypertension"
    )
    assert hit.count() == 1
    assert "amlodipine" in hit.locator("mark").first.inner_text().lower()
    hit.locator("a.row").click()
    page.wait_for_selector("[data-testid=medications]")
    # Markup typed into a search is text, never a tag on the page.
    page.go_back()
    page.fill("[data-testid=search-q]", "<b>amlodipine</b>")
    page.click("[data-testid=search-go]")
    page.wait_for_selector("[data-testid=search-count], [data-testid=no-hit]")
    assert page.locator("main b").count() == 0
    assert page.input_value("[data-testid=search-q]") == "<b>amlodipine</b>"
    if page.locator("[data-testid=search-count]").count():
        assert "<b>amlodipine</b>" in page.inner_text("[data-testid=search-count]")


def test_a_replaced_document_shows_its_versions_and_what_changed(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit]")
    page.fill("#title", "Conseils de prise")
    page.fill("#text", "Prendre le matin.\nAvec un grand verre d'eau.")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    page.click("[data-testid=documents] a.row >> text=Conseils de prise")
    assert page.locator("[data-testid=versions]").count() == 0  # one version: no history
    page.click("[data-testid=replace]")
    assert page.input_value("#text") == "Prendre le matin.\nAvec un grand verre d'eau."
    page.fill("#text", "Prendre le matin.\nAvec un grand verre d'eau.\nÉviter le pamplemousse.")
    page.fill("[data-testid=replace-reason]", "Interaction oubliée")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    page.click("[data-testid=documents] a.row >> text=Conseils de prise")
    page.click("[data-testid=versions]")
    page.wait_for_selector("[data-testid=version-2]")
    assert "Interaction oubliée" in page.inner_text("[data-testid=reason-1]")
    page.click("[data-testid=compare-1]")
    page.wait_for_selector("[data-testid=diff]")
    assert page.inner_text("[data-testid=added]") == "Éviter le pamplemousse."
    assert page.locator("[data-testid=removed]").count() == 0
    at.shot("search", "versions-diff")
    # What the server keeps: the reason, with the old version.
    listed = api(at, "GET", f"/dossiers/{dossier_id(at)}/documents?all=true").body["documents"]
    old = next(d for d in listed if d["title"] == "Conseils de prise" and d["version"] == 1)
    versions = api(at, "GET", f"/dossiers/{dossier_id(at)}/documents/{old['logical_id']}/versions")
    assert [v["replace_reason"] for v in versions.body["versions"]] == [
        "Interaction oubliée",
        None,
    ]
