"""A tour of every page of the kiosk's journeys, with a check run on each page reached.

The touch-target and accessibility tests walk the same pages (the patient's, the
professional's, the pharmacy counter's, the admissions desk's, the unblock page): the
tour is written once here and each test brings its own check, which returns what it found
wrong on the page as it is laid out.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from server.alerts import scan
from server.models import ReviewCase
from server.services import trace_log
from tests.kiosk.conftest import READER_PATIENT, READER_PRO, Kiosk

OFFICER = "delegue_protection_donnees-lambert"  # the demo's privacy officer (CHU de Reims)

Check = Callable[[Any], list[str]]


def _checked(page: Any, check: Check) -> list[str]:
    page.wait_for_load_state("load")
    return check(page)


def _walk(page: Any, base: str, paths: list[str], check: Check) -> list[str]:
    found: list[str] = []
    for path in paths:
        page.goto(base + path)
        found += _checked(page, check)
    return found


def patient_pages(at: Kiosk, check: Check) -> list[str]:
    page: Any = at.page
    base = at.running.kiosk_url
    found = _checked(page, check)  # welcome
    at.insert(READER_PATIENT, "patient-marie-durand")
    page.wait_for_url("**/code")
    found += _checked(page, check)
    page.click("[data-testid=send]")
    page.wait_for_selector("[data-testid=sent]")
    page.fill("#code", "000000")
    page.click("form.card-form button[type=submit]")
    page.wait_for_selector("[data-testid=error]")
    found += _checked(page, check)
    page.fill("#code", at.last_code())
    page.click("form.card-form button[type=submit]")
    page.wait_for_url("**/patient/")
    found += _checked(page, check)
    page.click("[data-testid=tile-documents]")
    found += _checked(page, check)
    page.click("[data-testid=doc-1]")
    found += _checked(page, check)
    page.click("[data-testid=mask]")
    found += _checked(page, check)
    found += _walk(
        page,
        base,
        [
            "/patient/documents?all=1",
            "/patient/documents/search?q=consultation",
            "/patient/synthesis",
            "/patient/access",
            "/patient/access/choose/medecin_traitant?q=ma",
            "/patient/access/choose/care_team?q=caron",
            "/patient/access/810003123451/block?name=Claire+MOREAU",
            "/patient/emergency",
            "/patient/history",
            "/patient/history?verifier=1",
            "/patient/totp",
            "/patient/close",
            "/patient/receipts",
            "/patient/delegations",
            "/patient/export/",
            "/patient/mot-de-passe/",
        ],
        check,
    )
    page.fill("#password", "court")
    page.fill("#password_again", "court")
    page.click("[data-testid=save-password]")
    page.wait_for_selector("[data-testid=error]")
    found += _checked(page, check)
    # The same pages in English: a translated page keeps its labels and its `lang`.
    page.click("button[name=lang][value=en]")
    page.wait_for_selector("html[lang=en]")
    found += _walk(page, base, ["/patient/", "/patient/documents", "/patient/history"], check)
    return found


def opening_pages(at: Kiosk, check: Check) -> list[str]:
    page: Any = at.page
    at.sign_in_patient("patient-camille-nicolas")
    page.wait_for_url("**/patient/create")
    found = _checked(page, check)
    page.fill("#mt_q", "lefevre")  # the directory's answers (issue 14)
    page.click("[data-testid=mt-find]")
    page.wait_for_selector("[data-testid^=pick-]")
    found += _checked(page, check)
    page.click("[data-testid=open-dossier]")
    page.wait_for_selector("[data-testid=error]")
    found += _checked(page, check)
    return found


def professional_pages(at: Kiosk, check: Check) -> list[str]:
    page: Any = at.page
    base = at.running.kiosk_url
    at.insert(READER_PRO, "urgentiste-roux")
    page.wait_for_url("**/pin")
    found = _checked(page, check)
    page.fill("#pin", "9999")
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=error]")
    found += _checked(page, check)
    page.fill("#pin", "1234")
    page.click("button[type=submit]")
    page.wait_for_url("**/pro/")
    found += _checked(page, check)
    at.insert(READER_PATIENT, "patient-marie-durand")
    page.wait_for_url("**/pro/dossier")
    found += _checked(page, check)
    page.click("[data-testid=break-glass]")
    found += _checked(page, check)
    page.fill("#reason", "Patiente inconsciente, admise aux urgences.")
    page.click("[data-testid=confirm-emergency]")
    page.wait_for_url("**/pro/dossier")
    found += _checked(page, check)
    page.click("[data-testid=doc-1]")
    found += _checked(page, check)
    found += _walk(
        page,
        base,
        [
            "/pro/dossier/search?q=consultation",
            "/pro/dossier/synthesis",
            "/pro/dossier/deposit?form=prescription",
            "/pro/dossier/deposit?form=vaccination",
        ],
        check,
    )
    return found


def counter_and_desk_pages(at: Kiosk, check: Check) -> list[str]:
    page: Any = at.page
    base = at.running.kiosk_url
    at.at_counter("pharmacien-moreau", "patient-marie-durand")
    found = _checked(page, check)
    found += _walk(
        page,
        base,
        ["/pro/dossier/deposit?form=dispensation", "/pro/dossier/deposit?form=text"],
        check,
    )
    at.pull(READER_PATIENT)
    at.pull(READER_PRO)
    page.wait_for_selector("[data-testid=welcome]")
    at.at_counter("admissions-garcia", "patient-marie-durand")
    found += _checked(page, check)
    page.click("[data-testid=admit]")
    page.wait_for_selector("[data-testid=done]")
    found += _checked(page, check)
    # The representatives, and the page asking for a representative's own card.
    found += _walk(page, base, ["/pro/dossier/representatives/"], check)
    page.click("[data-testid=rep-card]")
    page.wait_for_selector("[data-testid=rep-card-swap]")
    found += _checked(page, check)
    page.goto(base + "/pro/dossier/representatives/")  # not used: nothing pending
    at.pull(READER_PATIENT)
    page.wait_for_url("**/pro/")
    at.insert(READER_PATIENT, "patient-camille-nicolas")
    page.wait_for_url("**/pro/open")
    found += _checked(page, check)
    page.fill("#email", "camille.nicolas@example.org")
    page.check("[data-testid=consent]")
    page.click("[data-testid=open-dossier]")
    page.wait_for_selector("[data-testid=opened]")
    found += _checked(page, check)
    return found


def unblock_page(at: Kiosk, check: Check) -> list[str]:
    page: Any = at.page
    at.insert(READER_PRO, "pharmacien-moreau")
    page.wait_for_url("**/pin")
    for _ in range(3):
        page.fill("#pin", "9999")
        page.click("button[type=submit]")
    page.wait_for_url("**/unblock")
    return _checked(page, check)


# The demo's break-glass access in the officer's queue, found by what it says: at night the
# demo's own seeding may add other cases (first access at night) before it.
DEMO_EMERGENCY_CASE = "[data-testid=cases] a.row:has-text('Lucia SANTONI en urgence')"


def flag_the_demo_access(at: Kiosk) -> None:
    """What the demo's worker does within a second (log, then the alert rules), made
    certain: the demo's emergency access is in the privacy officer's queue."""
    rt = at.running.server_app.extensions["dmp"]
    trace_log.run(rt)
    scan.run(rt)
    with rt.sessions() as s:
        assert s.scalars(select(ReviewCase)).first() is not None


def officer_pages(at: Kiosk, check: Check) -> list[str]:
    """The privacy officer's queue and one case (issue #14), after the demo's emergency
    access has been flagged (what the demo's worker does within a second)."""
    page: Any = at.page
    flag_the_demo_access(at)
    at.sign_in_pro(OFFICER)
    page.wait_for_url("**/dpo/")
    found = _checked(page, check)
    page.click(DEMO_EMERGENCY_CASE)
    page.wait_for_url("**/dpo/cases/*")
    found += _checked(page, check)
    return found


def online_pages(at: Kiosk, check: Check) -> list[str]:
    """The online space (kiosk/online.py): sign-in, a refused password, the code, then
    the patient's pages offered at home."""
    from tests.kiosk import at_home

    page: Any = at.page
    base = at.running.online_url
    page.goto(base + "/")
    found = _checked(page, check)
    page.fill("#ins", at_home.MARIE_INS)
    page.fill("#password", "pas le bon mot de passe")
    page.click("[data-testid=signin]")
    page.wait_for_selector("[data-testid=error]")
    found += _checked(page, check)
    at_home.sign_in(at, page)
    found += _checked(page, check)
    trace_log.run(at.running.server_app.extensions["dmp"])
    found += _walk(
        page,
        base,
        [
            "/patient/documents",
            "/patient/synthesis",
            "/patient/access",
            "/patient/emergency",
            "/patient/history",
            "/patient/history?verifier=1",
            "/patient/receipts",
            "/patient/create",  # not offered online: its French page
        ],
        check,
    )
    page.goto(base + "/patient/receipts")
    if page.locator("[data-testid=receipt-line]").count():
        page.locator("[data-testid=receipt-line]").first.click()
        found += _checked(page, check)
    page.goto(base + "/patient/")
    page.click("header form button.quiet")  # « Terminer »
    page.wait_for_selector("[data-testid=flash]")
    found += _checked(page, check)
    return found


TOURS = {
    "patient": patient_pages,
    "opening": opening_pages,
    "professional": professional_pages,
    "counter_and_desk": counter_and_desk_pages,
    "unblock": unblock_page,
    "officer": officer_pages,
    "online": online_pages,
}
