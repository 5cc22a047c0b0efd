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
        # A PDF of the patient's own, deposited meanwhile by the server (not recorded).
        _recording = False
        _deposit_pdf(at)
        _recording = True
        page.click("[data-testid=tile-documents]")
        # Reading it renders its pages in memory (kiosk/viewer.py): no file either.
        page.click("[data-testid=documents] a.row >> text=Scan")
        page.wait_for_function(
            "() => { const i = document.querySelector('[data-testid=page-1]');"
            " return i && i.complete && i.naturalWidth > 0; }"
        )
        page.click("[data-testid=back]")
        page.click("[data-testid=doc-1]")
        page.click("[data-testid=mask]")
        page.click("[data-testid=confirm]")
        page.wait_for_selector("[data-testid=receipt-ready]")
        assert "Masquage d'un document" in page.inner_text("[data-testid=receipt-view]")
        page.click("[data-testid=tile-documents]" if False else "a.button >> text=Retour")
        at.pull(READER_PATIENT)
        page.wait_for_selector("[data-testid=welcome]")
    finally:
        _recording = False
    assert _writes == []
    # And the receipt left with the session: only the server keeps it.
    assert at.running.terminal.dossier is None


def _deposit_pdf(at: Kiosk) -> None:
    import base64
    import io

    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    c = canvas.Canvas(out)
    c.drawString(72, 720, "Scan")
    c.save()
    t = at.running.terminal
    assert t.dossier is not None
    r = t.client.call(
        "POST",
        f"/dossiers/{t.dossier.dossier_id}/documents",
        {
            "category": "depose_patient",
            "type_code": "51855-5",
            "title": "Scan",
            "mime_type": "application/pdf",
            "content_base64": base64.b64encode(out.getvalue()).decode(),
        },
        token=t.token(),
    )
    assert r.status == 201, r.body


@pytest.mark.parametrize("server_overrides", [{"RESIGN_SECONDS": 4}])  # this test only
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


# ---- only the kiosk's own browser is served (issue 10, section 2) ----------------------


def _stranger(
    at: Kiosk, method: str, path: str, headers: dict[str, str] | None = None, body: str = ""
) -> tuple[int, str, dict[str, str]]:
    """Another program on the kiosk's machine: plain HTTP on the kiosk's port."""
    import http.client
    from urllib.parse import urlsplit

    where = urlsplit(at.running.kiosk_url)
    conn = http.client.HTTPConnection(where.hostname or "", where.port, timeout=10)
    sent = {"Host": where.netloc, **(headers or {})}
    if body:
        sent["Content-Type"] = "application/x-www-form-urlencoded"
    conn.request(method, path, body=body or None, headers=sent)
    r = conn.getresponse()
    answer = (r.status, html.unescape(r.read().decode("utf-8", "replace")), dict(r.getheaders()))
    conn.close()
    return answer


def _browser_cookie(at: Kiosk) -> str:
    cookies = {c["name"]: c["value"] for c in at.page.context.cookies()}
    return f"kiosk_browser={cookies['kiosk_browser']}"


REFUSED = "Cette borne ne répond qu'à son propre écran"


def test_a_second_client_gets_nothing_of_a_signed_in_patient(at: Kiosk) -> None:
    page: Any = at.page
    # Before anyone signs in, a stranger may load the welcome page (and gets a secret)...
    status, _text, headers = _stranger(at, "GET", "/")
    assert status == 200
    stolen = headers["Set-Cookie"].split(";")[0]
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-documents]")
    assert "Consultation du 3 mars" in page.inner_text("[data-testid=documents]")
    # ...but the secret changed when the session started: with it or without any, nothing.
    for cookie in (None, stolen, "kiosk_browser=forged"):
        for path in ("/", "/patient/", "/patient/documents", "/patient/history", "/events"):
            status, text, _h = _stranger(at, "GET", path, {"Cookie": cookie} if cookie else {})
            assert status == 403, (cookie, path)
            assert REFUSED in text
            assert "Consultation du 3 mars" not in text
            assert "DURAND" not in text  # not even the demo panel's card labels
            assert "data-session" not in text  # nor whether a session runs
        status, text, _h = _stranger(
            at, "POST", "/patient/totp", {"Cookie": cookie} if cookie else {}, "action=start"
        )
        assert status == 403
        assert "secret" not in text
    # The kiosk's own browser still has its session.
    page.reload()
    assert "Consultation du 3 mars" in page.inner_text("[data-testid=documents]")


@pytest.mark.parametrize(
    "forged",
    [
        {"Host": "evil.example"},  # a DNS name rebound to 127.0.0.1
        {"Host": "evil.example:8500"},
        {"Origin": "http://evil.example"},  # a page of another site posting here
        {"Origin": "http://127.0.0.1:1"},  # another local service: another origin
        {"Origin": "null"},  # a sandboxed frame, without Fetch Metadata to vouch for it
        {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_a_forged_host_or_origin_gets_the_french_refusal_even_with_the_secret(
    at: Kiosk, forged: dict[str, str]
) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    cookie = _browser_cookie(at)
    assert _stranger(at, "GET", "/patient/documents", {"Cookie": cookie})[0] == 200
    headers = {"Cookie": cookie, **forged}
    status, text, _h = _stranger(at, "GET", "/patient/documents", headers)
    assert status == 403
    assert REFUSED in text
    assert "Consultation du 3 mars" not in text


def test_the_authenticator_enrolment_starts_with_a_post(at: Kiosk) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    page.goto(at.running.kiosk_url + "/patient/totp")  # a GET shows, and makes no secret
    assert page.locator("[data-testid=secret]").count() == 0
    assert page.locator("[data-testid=qr]").count() == 0
    page.click("[data-testid=enrol]")
    assert page.locator("[data-testid=qr]").count() == 1
    assert len(page.text_content("[data-testid=secret]").strip()) >= 16


def test_a_new_browser_is_served_again_once_the_session_is_over(at: Kiosk) -> None:
    """The kiosk's browser restarted (a crash, a reboot): once no session runs, it is the
    kiosk's browser again; the kiosk does not lock itself out."""
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    assert _stranger(at, "GET", "/")[0] == 403
    at.pull(READER_PATIENT)
    page.wait_for_selector("[data-testid=welcome]")
    status, text, _h = _stranger(at, "GET", "/")
    assert status == 200
    assert "Bienvenue" in text
