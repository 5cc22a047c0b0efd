"""The kiosk's own defences: headers, CSRF, cookies, no data at rest, no tracebacks."""

from __future__ import annotations

import html
import re
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.kiosk.conftest import READER_PATIENT, Kiosk

STATIC = Path(__file__).resolve().parents[2] / "kiosk" / "templates"


def test_security_headers_and_cookie(at: Kiosk) -> None:
    page: Any = at.page
    response = page.request.get(at.running.kiosk_url + "/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["cache-control"] == "no-store"
    static = page.request.get(at.running.kiosk_url + "/static/kiosk.js")
    assert static.headers["cache-control"].startswith("public")
    assert response.headers["x-frame-options"] == "DENY"
    cookies = {c["name"]: c for c in page.context.cookies()}
    kiosk = cookies["kiosk"]
    assert kiosk["secure"] is True
    assert kiosk["httpOnly"] is True
    assert kiosk["sameSite"] == "Strict"


def test_templates_hold_no_inline_script_or_style() -> None:
    for template in STATIC.glob("*.html"):
        text = template.read_text(encoding="utf-8")
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template.name
        assert " style=" not in text, template.name
        assert not re.search(r"\son[a-z]+=", text), template.name  # onclick=, onload=...


def test_a_post_without_csrf_token_is_refused_in_french(at: Kiosk) -> None:
    page: Any = at.page
    response = page.request.post(at.running.kiosk_url + "/signout", form={})
    assert response.status == 400
    assert "Ce formulaire a expiré" in response.text()


def test_unknown_page_and_bad_input_never_show_a_traceback(at: Kiosk) -> None:
    page: Any = at.page
    missing = page.request.get(at.running.kiosk_url + "/nulle-part")
    assert missing.status == 404
    assert "Cette page n'existe pas" in html.unescape(missing.text())
    assert "Traceback" not in missing.text()
    page.goto(at.running.kiosk_url + "/?demo=1")
    token = page.get_attribute("body", "data-csrf")
    bad = page.request.post(
        at.running.kiosk_url + "/demo/insert", form={"csrf_token": token, "reader": "x"}
    )
    assert bad.status == 400
    assert "Traceback" not in bad.text()


def test_english_is_one_tap_away(at: Kiosk) -> None:
    page: Any = at.page
    assert "Bienvenue" in page.inner_text("h1")
    page.click("button[name=lang][value=en]")
    assert page.inner_text("h1") == "Welcome"
    assert page.get_attribute("html", "lang") == "en"
    page.click("button[name=lang][value=fr]")
    assert page.inner_text("h1") == "Bienvenue"


def test_every_control_has_an_accessible_name(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-camille-nicolas")
    page.wait_for_url("**/patient/create")
    unnamed = page.evaluate(
        """() => [...document.querySelectorAll(
                   'main input:not([type=hidden]), main select, main textarea, main button')]
              .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label')
                           && !(e.innerText || '').trim())
              .map(e => e.outerHTML)"""
    )
    assert unnamed == []
    # Keyboard: the consent box can be reached and ticked without a pointer.
    page.focus("[data-testid=consent]")
    page.keyboard.press("Space")
    assert page.is_checked("[data-testid=consent]")


_writes: list[str] = []
_recording = False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if _recording and event == "open" and isinstance(args[0], str | Path):
        mode = args[1] if len(args) > 1 and isinstance(args[1], str) else "r"
        if any(flag in mode for flag in "wax+"):
            _writes.append(str(args[0]))


sys.addaudithook(_audit)


def test_a_whole_patient_session_writes_no_file(at: Kiosk) -> None:
    """The kiosk keeps no patient data at rest: nothing is opened for writing while a
    patient signs in, reads, gets a receipt, and leaves (the in-process server writes its
    database through SQLite's C library, which this hook does not see)."""
    global _recording
    page: Any = at.page
    _writes.clear()
    _recording = True
    try:
        at.sign_in_patient("patient-marie-durand")
        page.wait_for_url("**/patient/")
        page.click("[data-testid=tile-documents]")
        page.click("[data-testid=mask-1]")
        page.click("[data-testid=confirm]")
        page.wait_for_selector("[data-testid=receipt-ready]")
        href = page.get_attribute("[data-testid=receipt]", "href")
        assert page.request.get(at.running.kiosk_url + href).status == 200
        page.click("[data-testid=tile-documents]" if False else "a.button >> text=Retour")
        at.pull(READER_PATIENT)
        page.wait_for_selector("[data-testid=welcome]")
    finally:
        _recording = False
    assert _writes == []
    # And the receipt left with the session.
    assert at.running.terminal.receipts == {}


@pytest.fixture
def server_overrides() -> dict[str, Any]:
    return {"RESIGN_SECONDS": 4}


def test_the_card_re_signs_in_the_background_and_keeps_the_session(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_pro("pharmacien-moreau")
    page.wait_for_url("**/pro/")
    terminal = at.running.terminal
    token = terminal.token()
    assert token is not None
    time.sleep(6)  # longer than RESIGN_SECONDS: only the re-signatures keep it alive
    assert terminal.client.call("GET", "/session", token=token).ok
    assert terminal.token() == token


def test_no_pin_puk_or_code_in_any_log(at: Kiosk, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    caplog.set_level(logging.DEBUG)
    page: Any = at.page
    at.insert(0, "pharmacien-moreau")
    page.wait_for_url("**/pin")
    for _ in range(3):
        page.fill("#pin", "8642")
        page.click("button[type=submit]")
    page.wait_for_url("**/unblock")
    page.fill("#puk", "12345678")
    page.fill("#new_pin", "7531")
    page.fill("#new_pin_again", "7531")
    page.click("button[type=submit]")
    page.wait_for_url("**/pin")
    page.fill("#pin", "7531")
    page.click("button[type=submit]")
    page.wait_for_url("**/pro/")
    at.pull(0)
    page.wait_for_selector("[data-testid=welcome]")
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    code = at.last_code()
    logged = "\n".join(f"{r.name} {r.getMessage()} {r.exc_text or ''}" for r in caplog.records)
    assert logged  # the capture did see the kiosk's and the server's logs
    for secret in ("8642", "12345678", "7531", code):
        assert secret not in logged, secret


def test_the_language_switch_only_returns_to_a_kiosk_page(at: Kiosk) -> None:
    page: Any = at.page
    token = page.get_attribute("body", "data-csrf")
    url = at.running.kiosk_url + "/lang"
    for target, expected in (
        ("/patient/", "/patient/"),
        ("//evil.example/", "/"),
        ("/\\evil.example/", "/"),
        ("https://evil.example/", "/"),
    ):
        r = page.request.post(
            url, form={"csrf_token": token, "lang": "en", "next": target}, max_redirects=0
        )
        assert r.status == 302
        assert r.headers["location"] == expected, target
