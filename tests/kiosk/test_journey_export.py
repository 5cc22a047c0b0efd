"""Journey: « Exporter mon dossier » at the kiosk, then the download on the patient's
phone with the link and the code (issue 13, docs/export.md). The kiosk shows the
progress, then a QR code; it never shows the code, and keeps nothing."""

from __future__ import annotations

import io
import re
import time
import zipfile
from pathlib import Path
from typing import Any

from tests.kiosk.conftest import Kiosk
from tests.kiosk.test_touch_targets import _small


def _messages(at: Kiosk, pattern: str, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for message in at.running.kit.inbox.latest():
            found = re.search(pattern, message.body)
            if found:
                return found.group(1)
        time.sleep(0.1)
    raise AssertionError(f"nothing like {pattern} in the demo inbox")


def test_patient_exports_her_dossier_and_downloads_it_once(at: Kiosk, browser: Any) -> None:
    page: Any = at.page
    at.sign_in_patient("patient-marie-durand")
    page.wait_for_url("**/patient/")
    offenders: list[str] = []
    page.click("[data-testid=tile-export]")
    offenders += _small(page)
    page.click("[data-testid=export-start]")
    page.wait_for_url(re.compile(r".*/patient/export/[A-Za-z0-9_-]{22}$"))
    first = page.inner_text("main")
    assert "Préparation de votre export" in first or "Votre export est prêt" in first
    offenders += _small(page)
    # The page refreshes by itself until the worker is done.
    page.wait_for_selector("[data-testid=export-ready]", timeout=60_000)
    at.shot("patient", "export-pret")
    offenders += _small(page)
    page.click("[data-testid=export-link]")
    page.wait_for_selector("[data-testid=export-qr]")
    at.shot("patient", "export-qr")
    offenders += _small(page)
    assert offenders == []
    shown = page.inner_text("main")
    url = _messages(at, r"(https?://\S+/export/[A-Za-z0-9_-]{43})")
    code = _messages(at, r"\b(\d{8})\b")
    assert code not in shown
    assert code not in page.content()
    assert url not in shown  # a QR code, not a link to copy from the screen
    # On the patient's phone: the link asks the code, gives the ZIP once.
    phone = browser.new_context(locale="fr-FR", accept_downloads=True).new_page()
    phone.goto(url)
    assert "code" in phone.inner_text("body")
    phone.fill("#code", code)
    with phone.expect_download() as download:
        phone.click("button[type=submit]")
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert "dossier.pdf" in archive.namelist()
    assert "fhir-bundle.json" in archive.namelist()
    phone.goto(url)
    assert "déjà servi" in phone.inner_text("body")
    assert "already been used" in phone.inner_text("body")
    phone.context.close()
    page.click("[data-testid=export-done]")
    page.wait_for_url("**/patient/")
