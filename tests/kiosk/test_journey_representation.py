"""Issue 13 journeys in Chromium: a representative chooses the child at the kiosk; the
desk adds and removes a representative; a patient gives, a delegate uses, and the
patient revokes a delegation."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from tests.kiosk.conftest import READER_PATIENT, READER_PRO, Kiosk
from tests.kiosk.copresence_check import holder, last_copresence

PAUL_INS, PAUL_NAME = "162117511304567", "BERNARD"


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    # Marie signs in twice within the minute: the second code must not wait for the
    # resend delay (a sign-in rule tested elsewhere).
    return {"OTP_RESEND_SECONDS": 0}


def _targets_are_big_enough(page: Any) -> None:
    small = page.eval_on_selector_all(
        "main button, main a.button, main a.tile, main label.check",
        "els => els.filter(e => e.getBoundingClientRect().height < 44)"
        ".map(e => e.textContent.trim())",
    )
    assert small == []


def test_a_representative_chooses_the_child_with_their_own_card(at: Kiosk) -> None:
    page: Any = at.page
    # Sophie LEFEBVRE (demo) is Lucas's legal representative and has her own dossier.
    at.sign_in_patient("patient-sophie-lefebvre")
    page.wait_for_url("**/patient/choose")
    at.shot("representant", "choix")
    _targets_are_big_enough(page)
    choices = page.inner_text("[data-testid=choices]")
    assert "Mon dossier" in choices
    assert "Dossier de Lucas LEFEBVRE" in choices
    page.click("[data-testid=choose-child-1]")
    page.wait_for_url("**/patient/")
    assert "Dossier de Lucas LEFEBVRE" in page.inner_text("h1")
    assert "représentant légal" in page.inner_text("[data-testid=acting]")
    # Delegations are the patient's own: not offered while acting for the child.
    assert page.locator("[data-testid=tile-delegations]").count() == 0
    page.click("[data-testid=tile-documents]")
    page.wait_for_url("**/patient/documents**")
    page.click("text=Retour")
    page.click("[data-testid=tile-change]")
    page.wait_for_url("**/patient/choose")
    page.click("[data-testid=choose-own]")
    page.wait_for_url("**/patient/")
    assert "Mon dossier médical" in page.inner_text("h1")
    # Pulling the card clears the choice with the session.
    at.pull(READER_PATIENT)
    page.wait_for_url(lambda url: "/patient" not in url)


def test_the_desk_adds_then_removes_a_representative(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("admissions-garcia", "patient-lucas-lefebvre")
    page.click("[data-testid=representatives]")
    page.wait_for_url("**/pro/dossier/representatives/")
    assert "LEFEBVRE" in page.inner_text("[data-testid=representatives]")
    assert not page.is_checked("[data-testid=identity-checked]")  # never pre-ticked
    page.fill("#ins", PAUL_INS)
    page.click("[data-testid=rep-add]")
    assert "carte ou la pièce d'identité" in page.inner_text("[data-testid=error]")
    page.fill("#ins", PAUL_INS)
    page.check("[data-testid=identity-checked]")
    page.click("[data-testid=rep-add]")
    page.wait_for_selector("[data-testid=rep-added]")
    assert "Paul BERNARD" in page.inner_text("[data-testid=representatives]")
    at.shot("admissions", "representants")
    _targets_are_big_enough(page)
    page.fill("#ins", PAUL_INS)
    page.check("[data-testid=identity-checked]")
    page.click("[data-testid=rep-remove]")
    page.wait_for_selector("[data-testid=rep-removed]")
    assert "Paul BERNARD" not in page.inner_text("main")


def test_the_desk_names_a_representative_with_their_own_card(at: Kiosk) -> None:
    page: Any = at.page
    at.at_counter("admissions-garcia", "patient-lucas-lefebvre")
    page.click("[data-testid=representatives]")
    page.wait_for_url("**/pro/dossier/representatives/")
    page.click("[data-testid=rep-card]")
    page.wait_for_selector("[data-testid=rep-card-swap]")
    # Lucas's card leaves, Paul's goes in: nothing of Lucas stays but his dossier's id.
    at.pull(READER_PATIENT)
    page.wait_for_selector("[data-testid=rep-card-insert]")
    assert at.running.terminal.dossier is not None
    assert at.running.terminal.dossier.summary == {}
    at.insert(READER_PATIENT, "patient-paul-bernard")
    page.wait_for_selector("[data-testid=rep-card-person]")
    assert "Paul BERNARD" in page.inner_text("[data-testid=rep-card-person]")  # read, not typed
    at.shot("admissions", "representant-carte")
    _targets_are_big_enough(page)
    page.click("[data-testid=rep-card-confirm]")
    page.wait_for_selector("[data-testid=rep-added]")
    assert "Paul BERNARD" in page.inner_text("[data-testid=representatives]")
    part, draft = last_copresence(at.running, "representative:manage")
    assert holder(part["patient_card"]) == PAUL_INS == draft["terms"]["representative_ins"]
    assert holder(part["professional_card"]) == "3510000011/ADM0042"
    # Paul's card out: the desk is back to its home, Lucas's dossier gone from memory.
    at.pull(READER_PATIENT)
    page.wait_for_url("**/pro/")
    assert at.running.terminal.dossier is None
    assert at.running.terminal.representative_swap is None


def test_a_delegation_is_given_used_and_revoked(at: Kiosk) -> None:
    page: Any = at.page
    until = (date.today() + timedelta(days=30)).isoformat()
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-documents]")
    page.click("[data-testid=show-all]")
    page.wait_for_selector("[data-testid=documents]")
    own = page.eval_on_selector_all(
        "[data-testid=documents] .meta", "els => els.map(e => e.textContent)"
    )
    assert any(not m.startswith("Compte rendu") for m in own)  # other categories exist
    page.goto(page.url.split("/patient")[0] + "/patient/")
    page.click("[data-testid=tile-delegations]")
    page.wait_for_url("**/patient/delegations")
    assert "Aucune délégation" in page.inner_text("[data-testid=no-delegation]")
    page.fill("#ins", PAUL_INS)
    page.fill("#birth_name", PAUL_NAME)
    page.check("[data-testid=cat-compte_rendu]")
    page.fill("#until", until)
    page.click("[data-testid=give]")
    page.wait_for_selector("[data-testid=given]")
    at.shot("delegation", "donnee")
    _targets_are_big_enough(page)
    assert "Paul BERNARD" in page.inner_text("[data-testid=delegations]")
    at.pull(READER_PATIENT)
    page.wait_for_url(lambda url: "/patient" not in url)

    # Paul signs in with his own card and chooses Marie's dossier.
    at.sign_in_patient("patient-paul-bernard")
    page.wait_for_url("**/patient/choose")
    assert "Dossier de Marie Louise DURAND" in page.inner_text("[data-testid=choices]")
    # A forged choice (another dossier's id in the form) is refused by the kiosk, which
    # takes only what the server just listed; the server would refuse it anyway.
    page.eval_on_selector(
        "form:has([data-testid=choose-delegated-1]) input[name=dossier_id]",
        "e => { e.value = String(Number(e.value) + 1) }",
    )
    page.click("[data-testid=choose-delegated-1]")
    assert "pas proposé" in page.inner_text("main")
    page.goto(page.url.split("/patient")[0] + "/patient/choose")
    page.click("[data-testid=choose-delegated-1]")
    page.wait_for_url("**/delegate/")
    at.shot("delegation", "vue-du-delegue")
    assert "par délégation" in page.inner_text("[data-testid=delegate-scope]")
    page.click("[data-testid=show-all]")
    page.wait_for_selector("[data-testid=documents]")
    seen = page.eval_on_selector_all(
        "[data-testid=documents] .meta", "els => els.map(e => e.textContent)"
    )
    assert seen
    assert all(m.startswith("Compte rendu") for m in seen)  # exactly the delegated category
    assert len(seen) == sum(m.startswith("Compte rendu") for m in own)
    page.click("[data-testid=doc-1]")
    page.wait_for_url("**/delegate/documents/**")
    assert page.locator("[data-testid=mask]").count() == 0
    at.pull(READER_PATIENT)
    page.wait_for_url(lambda url: "/delegate" not in url)

    # Marie sees Paul's reading in her history, then revokes.
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-history]")
    assert "Paul BERNARD (délégation)" in page.inner_text("main")
    page.goto(page.url.split("/patient")[0] + "/patient/delegations")
    page.click("[data-testid=revoke-1]")
    page.wait_for_selector("[data-testid=revoked]")
    assert "révoquée" in page.inner_text("[data-testid=delegations]")
    at.pull(READER_PATIENT)
    page.wait_for_url(lambda url: "/patient" not in url)

    # Paul has nothing more to choose: his own dossier opens.
    at.sign_in_patient("patient-paul-bernard")
    page.wait_for_url("**/patient/")
    assert "Mon dossier médical" in page.inner_text("h1")


def test_nothing_offered_to_a_professional(at: Kiosk) -> None:
    """A professional's card gives no access to the patient's acting pages."""
    page: Any = at.page
    at.sign_in_pro("medecin_generaliste-dupont")
    page.wait_for_url("**/pro/")
    base = page.url.split("/pro")[0]
    for path in ("/patient/choose", "/patient/delegations", "/delegate/"):
        response = page.request.get(base + path)
        assert response.status == 403, path
    at.pull(READER_PRO)


def test_a_secret_deposit_for_a_minor_stays_hidden_from_the_parent(at: Kiosk) -> None:
    page: Any = at.page
    # Dr DUPONT, Lucas's médecin traitant, with Lucas (a minor) at the counter.
    at.at_counter("medecin_generaliste-dupont", "patient-lucas-lefebvre")
    # Issue 13: the secret connection is chosen as the minor's dossier opens, and holds
    # for the session: the banner says it on every page.
    assert page.locator("[data-testid=secret-banner]").count() == 0
    page.click("[data-testid=secret-on]")
    page.wait_for_url("**/pro/dossier")
    assert "invisible à ses représentants légaux" in page.inner_text("[data-testid=secret-banner]")
    at.shot("pro", "connexion-secrete")
    page.click("[data-testid=deposit]")
    assert "Connexion secrète" in page.inner_text("[data-testid=secret-banner]")
    assert page.is_checked("[data-testid=invisible-rep-locked]")
    assert page.is_disabled("[data-testid=invisible-rep-locked]")
    page.select_option("#type_code", index=1)
    page.fill("#title", "Consultation confidentielle")
    page.fill("#text", "Entretien à la demande du patient.")
    # The server enforces it, whatever the page sends: a visible deposit is refused.
    page.evaluate("document.querySelector('input[type=hidden][name=invisible_rep]').remove()")
    page.click("[data-testid=save]")
    assert "doit être non visible" in page.inner_text("[data-testid=error]")
    page.click("[data-testid=save]")  # the page as the kiosk makes it
    page.wait_for_selector("[data-testid=saved]")
    assert page.locator("[data-testid=secret-banner]").count() == 1
    at.pull(READER_PATIENT)
    at.pull(READER_PRO)
    page.wait_for_selector("[data-testid=welcome]")
    # Sophie, his mother, sees neither the document nor that it was deposited.
    at.sign_in_patient("patient-sophie-lefebvre")
    page.wait_for_url("**/patient/choose")
    page.click("[data-testid=choose-child-1]")
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-documents]")
    page.click("[data-testid=show-all]")
    assert "Consultation confidentielle" not in page.inner_text("main")
