"""Issue #14, "Patients at home": the online space in Chromium (kiosk/online.py).

Sign-in with INS, password and a one-time code; the history, its verification, the
receipts; sign-out; a wrong password; two browsers at once, each its own session; CSRF
and foreign origins refused; the password set up at the kiosk with the card."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from dmp import demo
from kiosk.runner import run_online
from server.models import ApiSession, Patient
from server.services import trace_log
from server.signin import kiosk_identity
from tests.kiosk import at_home
from tests.kiosk.conftest import Kiosk


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    # Marie may get a code at the kiosk and another at home a few seconds later.
    return {"OTP_RESEND_SECONDS": 0}


GENERIC = "Connexion impossible : numéro de sécurité sociale ou mot de passe incorrect"


def _rt(at: Kiosk) -> Any:
    return at.running.server_app.extensions["dmp"]


def test_a_patient_signs_in_from_home_reads_verifies_and_signs_out(at: Kiosk) -> None:
    page: Any = at.page
    page.goto(at.running.online_url + "/")
    assert "Numéro de sécurité sociale" in page.inner_text("main")
    at_home.sign_in(at, page)
    assert "Bonjour Marie" in page.inner_text("[data-testid=greeting]")
    # What makes sense at home, and only that: no closing, export or delegations here.
    tiles = page.locator("nav.tiles a").evaluate_all("els => els.map(e => e.dataset.testid)")
    assert {"tile-documents", "tile-history", "tile-receipts", "tile-synthesis"} <= set(tiles)
    assert not {
        "tile-close",
        "tile-export",
        "tile-delegations",
        "tile-totp",
        "tile-password",
    } & set(tiles)
    at.shot("online", "accueil")

    page.click("[data-testid=tile-history]")
    page.wait_for_url("**/patient/history")
    trace_log.run(_rt(at))
    page.click("[data-testid=verify]")
    assert "Historique vérifié." in page.inner_text("[data-testid=verdict]")
    at.shot("online", "historique-verifie")

    page.goto(at.running.online_url + "/patient/receipts")
    assert page.locator("[data-testid=receipt-line]").count() >= 1
    page.locator("[data-testid=receipt-line]").first.click()
    page.wait_for_url("**/patient/receipts/*")
    at.shot("online", "recu")

    # Not offered online: a French page, no data.
    page.goto(at.running.online_url + "/patient/create")
    assert "n'est pas proposée dans l'espace en ligne" in page.inner_text("body")
    page.goto(at.running.online_url + "/export/")
    assert "n'est pas proposée dans l'espace en ligne" in page.inner_text("body")

    # The server's session is the online space's own: bound to its terminal.
    with _rt(at).sessions() as s:
        marie = s.scalars(select(Patient).where(Patient.ins == at_home.MARIE_INS)).one()
        online = select(ApiSession).where(
            ApiSession.actor_kind == "patient",
            ApiSession.actor_id == marie.id,
            ApiSession.kiosk == demo.ONLINE_NAME,
            ApiSession.ended_at.is_(None),
        )
        assert len(s.scalars(online).all()) == 1

    page.goto(at.running.online_url + "/patient/")
    page.click("header form button.quiet")  # « Terminer »
    page.wait_for_selector("[data-testid=flash]")
    assert "Vous êtes déconnecté" in page.inner_text("[data-testid=flash]")
    page.goto(at.running.online_url + "/patient/history")
    assert "/patient/" not in page.url  # back to the sign-in page
    deadline = time.monotonic() + 5  # the server hears of it in the background
    while time.monotonic() < deadline:
        with _rt(at).sessions() as s:
            if not s.scalars(online).all():
                break
        time.sleep(0.1)
    else:
        raise AssertionError("the online session did not end on the server")


def test_a_wrong_password_gets_the_generic_refusal_and_keeps_the_ins(at: Kiosk) -> None:
    page: Any = at.page
    page.goto(at.running.online_url + "/")
    for ins in (at_home.MARIE_INS, "299999999999999"):  # known or not: the same answer
        page.fill("#ins", ins)
        page.fill("#password", "pas le bon mot de passe")
        page.click("[data-testid=signin]")
        assert GENERIC in page.inner_text("[data-testid=error]")
        assert page.input_value("#ins") == ins
    page.fill("#ins", "1234")
    page.fill("#password", "x")
    page.click("[data-testid=signin]")
    assert "15 caractères" in page.inner_text("[data-testid=error]")
    at.shot("online", "mot-de-passe-refuse")


def test_two_browsers_at_once_each_have_their_own_session(at: Kiosk, browser: Any) -> None:
    first: Any = at.page
    at_home.sign_in(at, first)
    other = browser.new_context(locale="fr-FR")
    try:
        second = other.new_page()
        at_home.sign_in(at, second, ins=at_home.PAUL_INS)
        assert "Bonjour Paul" in second.inner_text("[data-testid=greeting]")
        # The first browser still has its own session, unchanged by the second.
        first.goto(at.running.online_url + "/patient/")
        assert "Bonjour Marie" in first.inner_text("[data-testid=greeting]")
        # A third browser, with no visit, gets the sign-in page, never someone's dossier.
        third = browser.new_context(locale="fr-FR").new_page()
        third.goto(at.running.online_url + "/patient/history")
        assert "/patient/" not in third.url
        assert "Mot de passe" in third.inner_text("main")
        third.context.close()
        # The second signs out: the first is still signed in.
        second.click("header form button.quiet")
        second.wait_for_selector("[data-testid=flash]")
        first.goto(at.running.online_url + "/patient/history")
        assert first.url.endswith("/patient/history")
    finally:
        other.close()


def test_forms_without_csrf_token_or_from_another_origin_are_refused(at: Kiosk) -> None:
    page: Any = at.page
    at_home.sign_in(at, page)
    base = at.running.online_url
    # The browser's own cookies, but no CSRF token: refused, in French, nothing done.
    r = page.request.post(base + "/signout", form={"x": "1"})
    assert r.status == 400
    assert "Ce formulaire a expiré" in r.text()
    page.goto(base + "/patient/")
    assert "Bonjour Marie" in page.inner_text("[data-testid=greeting]")
    # A page of another site posting here: refused before anything else.
    r = page.request.post(
        base + "/connexion",
        form={"ins": at_home.MARIE_INS, "password": demo.ONLINE_PASSWORD},
        headers={"Origin": "http://attacker.example", "Sec-Fetch-Site": "cross-site"},
    )
    assert r.status == 403
    # A page that reads the session: never cached, framed by nobody, the same CSP.
    r = page.request.get(base + "/patient/")
    assert r.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def test_the_visit_cookie_is_httponly_samesite_strict_and_secure(at: Kiosk) -> None:
    page: Any = at.page
    at_home.sign_in(at, page)
    cookies = {c["name"]: c for c in page.context.cookies(at.running.online_url)}
    visit = cookies["dmp_visit"]
    assert visit["httpOnly"]
    assert visit["secure"]
    assert visit["sameSite"] == "Strict"
    assert cookies["online"]["httpOnly"]
    assert cookies["online"]["sameSite"] == "Strict"


def test_the_password_is_set_at_the_kiosk_with_the_card_then_opens_the_online_space(
    at: Kiosk, browser: Any
) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-password]")
    page.fill("#password", "court")
    page.fill("#password_again", "court")
    page.click("[data-testid=save-password]")
    assert "au moins 8 caractères" in page.inner_text("[data-testid=error]")
    page.fill("#password", "motdepasse")
    page.fill("#password_again", "motdepasse")
    page.click("[data-testid=save-password]")
    assert "trop courant" in page.inner_text("[data-testid=error]")
    page.fill("#password", "une phrase de passe")
    page.fill("#password_again", "une autre phrase")
    page.click("[data-testid=save-password]")
    assert "différentes" in page.inner_text("[data-testid=error]")
    page.fill("#password", "une phrase de passe")
    page.fill("#password_again", "une phrase de passe")
    page.click("[data-testid=save-password]")
    page.wait_for_selector("[data-testid=password-done]")
    at.shot("online", "mot-de-passe-borne")
    page.click("header form button.quiet")
    # At home, the old password no longer opens anything; the new one does.
    home = browser.new_context(locale="fr-FR").new_page()
    try:
        home.goto(at.running.online_url + "/")
        home.fill("#ins", at_home.MARIE_INS)
        home.fill("#password", demo.ONLINE_PASSWORD)
        home.click("[data-testid=signin]")
        assert GENERIC in home.inner_text("[data-testid=error]")
        at_home.sign_in(at, home, password="une phrase de passe")
        assert "Bonjour Marie" in home.inner_text("[data-testid=greeting]")
    finally:
        home.context.close()


def test_dmp_kiosk_online_runs_the_space_from_its_settings_alone(
    at: Kiosk, page: Any, tmp_path: Path
) -> None:
    """`dmp kiosk --online` (kiosk/runner.py run_online): its own terminal name and key,
    registered as an online terminal, and nothing else of the demo."""
    key = ec.generate_private_key(ec.SECP256R1())
    key_file = tmp_path / "online.key.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    rt = _rt(at)
    with rt.sessions() as s:
        kiosk_identity.register_software(
            rt.ctx(s),
            "espace-patients",
            kiosk_identity.TerminalKind.ONLINE,
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
        )
        s.commit()
    running = run_online(
        {
            "SERVER_URL": at.running.server_url,
            "KIOSK_NAME": "espace-patients",
            "KIOSK_KEY_FILE": str(key_file),
            "PORT": 0,
        }
    )
    try:
        page.goto(running.url + "/")
        page.fill("#ins", at_home.MARIE_INS)
        page.fill("#password", demo.ONLINE_PASSWORD)
        page.click("[data-testid=signin]")
        page.wait_for_url("**/connexion/code")  # the server took the password through it
    finally:
        running.stop()


def test_the_code_step_shows_the_tries_left_and_the_ways_the_patient_has(at: Kiosk) -> None:
    page: Any = at.page
    page.goto(at.running.online_url + "/")
    page.fill("#ins", at_home.MARIE_INS)
    page.fill("#password", demo.ONLINE_PASSWORD)
    page.click("[data-testid=signin]")
    page.wait_for_url("**/connexion/code")
    page.click("[data-testid=send]")
    page.wait_for_selector("[data-testid=sent]")
    assert "3 essais" in page.inner_text("[data-testid=tries]")
    # Only the ways this patient can be reached are offered (besides the one just used).
    with _rt(at).sessions() as s:
        marie = s.scalars(select(Patient).where(Patient.ins == at_home.MARIE_INS)).one()
        has = {"email": bool(marie.email), "sms": bool(marie.phone)}
    offered = page.locator("button[data-testid^=send-]").evaluate_all(
        "els => els.map(e => e.dataset.testid)"
    )
    assert offered == ([] if not all(has.values()) else [offered[0]])
    assert all(has[name.removeprefix("send-")] for name in offered)
    page.fill("#code", "000000" if at.last_code() != "000000" else "111111")
    page.click("[data-testid=verify]")
    assert "Code refusé" in page.inner_text("[data-testid=error]")
    assert "2 essais" in page.inner_text("[data-testid=tries]")
    at.shot("online", "code-refuse")
    page.fill("#code", at.last_code())
    page.click("[data-testid=verify]")
    page.wait_for_url("**/patient/")


def test_in_english_the_online_space_is_english(at: Kiosk) -> None:
    page: Any = at.page
    page.goto(at.running.online_url + "/")
    page.click("button[name=lang][value=en]")
    page.wait_for_selector("h1")
    assert page.inner_text("h1") == "My medical record, from home"
    page.fill("#ins", at_home.MARIE_INS)
    page.fill("#password", "not the right one")
    page.click("[data-testid=signin]")
    assert "Cannot sign in" in page.inner_text("[data-testid=error]")
    at_home.sign_in(at, page)
    assert "Hello Marie" in page.inner_text("[data-testid=greeting]")
    assert "Terminer" not in page.inner_text("header")


def test_every_link_of_the_online_space_leads_to_a_page_it_offers(at: Kiosk) -> None:
    """No dead end: every link reachable from the home page (and the pages they lead to)
    opens a page offered online, never « pas proposée dans l'espace en ligne » (the
    access page once offered « Changer de médecin traitant », a kiosk-only page)."""
    page: Any = at.page
    at_home.sign_in(at, page)
    base = at.running.online_url
    seen: set[str] = set()
    queue = ["/patient/"]
    while queue:
        path = queue.pop()
        if path in seen or len(seen) > 60:
            continue
        seen.add(path)
        page.goto(base + path)
        assert "pas proposée dans l'espace en ligne" not in page.inner_text("body"), path
        hrefs = page.locator("main a[href]").evaluate_all(
            "els => els.map(e => new URL(e.href).pathname)"
        )
        # Links within the patient's pages; not sign-out, documents' content or receipts'
        # files, which are not pages.
        queue += [
            h
            for h in hrefs
            if h.startswith("/patient/") and not h.endswith((".pdf", "/content", "/download"))
        ]
    assert {
        "/patient/access",
        "/patient/history",
        "/patient/access/choose/medecin_traitant",
    } <= seen
