"""One journey through the real stack: pcscd + vsmartcard vpcd + pyscard, the emulator as
the card on the far side of the virtual reader, the kiosk's own monitor and workers.

The pcscd is the tests' private one (tests/conftest.py), restarted fresh for each test."""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cardreader.emulator import cardfile
from cardreader.emulator.virtual import VirtualCard
from cardreader.emulator.vpcd import VpcdBridge
from dmp import demo
from tests.conftest import wipe
from tests.kiosk.copresence_check import holder, last_copresence
from tests.pcsc_stack import Pcscd, wait_for

pytestmark = pytest.mark.pcsc


@pytest.fixture
def pcsc_kiosk(
    pcscd: Pcscd, database_url: str, prepared_pki: demo.PreparedPki, tmp_path: Path
) -> Iterator[demo.RunningDemo]:
    pcscd.restart()
    wipe(database_url)
    run = demo.start(
        prepared=prepared_pki,
        reader="pcsc",
        port=0,
        directory=tmp_path / "run",
        server_overrides={
            "DATABASE_URL": database_url,
            "MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
        },
    )
    yield run
    run.stop()


def test_pharmacist_journey_through_pcscd_and_vpcd(
    pcscd: Pcscd, pcsc_kiosk: demo.RunningDemo, prepared_pki: demo.PreparedPki, browser: Any
) -> None:
    cards = {path.stem: path for path in prepared_pki.cards}
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(pcsc_kiosk.kiosk_url + "/")
    bridges: list[VpcdBridge] = []
    try:
        pro = VpcdBridge(
            VirtualCard(cardfile.load(cards["pharmacien-moreau"])),
            0,
            port_base=pcscd.vpcd_port_base,
        )
        bridges.append(pro)
        pro.insert()
        page.wait_for_url("**/pin")
        page.fill("#pin", "1234")
        page.click("button[type=submit]")
        page.wait_for_url("**/pro/")
        patient = VpcdBridge(
            VirtualCard(cardfile.load(cards["patient-marie-durand"])),
            1,
            port_base=pcscd.vpcd_port_base,
        )
        bridges.append(patient)
        patient.insert()
        page.wait_for_url("**/pro/dossier")
        assert "Dispensation" in page.inner_text("[data-testid=matrix]")
        patient.stop()
        page.wait_for_url("**/pro/")
        assert "carte du patient a été retirée" in page.inner_text("[data-testid=flash]")
        pro.stop()
        page.wait_for_selector("[data-testid=welcome]")
        assert wait_for(lambda: pcsc_kiosk.terminal.pro is None, timeout=5)
    finally:
        for bridge in bridges:
            bridge.stop()
        context.close()


def test_a_consent_at_the_counter_is_signed_by_both_cards_through_pcscd(
    pcscd: Pcscd, pcsc_kiosk: demo.RunningDemo, prepared_pki: demo.PreparedPki, browser: Any
) -> None:
    """The co-presence consent (docs/receipts.md): both cards sign the consent's draft
    through the kiosk's reader workers, pcscd and vpcd."""
    cards = {path.stem: path for path in prepared_pki.cards}
    context = browser.new_context(locale="fr-FR")
    context.set_default_timeout(15_000)
    page = context.new_page()
    page.goto(pcsc_kiosk.kiosk_url + "/")
    bridges: list[VpcdBridge] = []
    try:
        pro = VpcdBridge(
            VirtualCard(cardfile.load(cards["pharmacien-moreau"])),
            0,
            port_base=pcscd.vpcd_port_base,
        )
        bridges.append(pro)
        pro.insert()
        page.wait_for_url("**/pin")
        page.fill("#pin", "1234")
        page.click("button[type=submit]")
        page.wait_for_url("**/pro/")
        patient = VpcdBridge(
            VirtualCard(cardfile.load(cards["patient-lucia-santoni"])),
            1,
            port_base=pcscd.vpcd_port_base,
        )
        bridges.append(patient)
        patient.insert()
        page.wait_for_selector("[data-testid=consent-in-person]")
        page.click("[data-testid=consent-in-person]")
        page.wait_for_selector("[data-testid=matrix]")
        part, _draft = last_copresence(pcsc_kiosk, "access:grant")
        assert holder(part["patient_card"]) == "253072B07300470"
        assert holder(part["professional_card"]) == "810003123451"
    finally:
        for bridge in bridges:
            bridge.stop()
        context.close()


def test_dmp_kiosk_with_pcsc_readers_sees_a_card(
    pcscd: Pcscd, pcsc_kiosk: demo.RunningDemo, prepared_pki: demo.PreparedPki
) -> None:
    """What `dmp kiosk --reader pcsc` starts (kiosk.runner.run), against a records server."""
    from kiosk.runner import run

    # The demo kiosk stops watching the readers so that only this one reacts.
    pcsc_kiosk.terminal.readers.stop()
    kiosk = run(
        {
            "READER": "pcsc",
            "PORT": 0,
            "KIOSK_NAME": demo.KIOSK_NAME,
            "KIOSK_KEY_FILE": str(prepared_pki.kiosk_key),
            "SERVER_URL": pcsc_kiosk.server_url,
        }
    )
    cards = {path.stem: path for path in prepared_pki.cards}
    bridge = VpcdBridge(
        VirtualCard(cardfile.load(cards["pharmacien-moreau"])), 0, port_base=pcscd.vpcd_port_base
    )
    try:
        bridge.insert()
        assert wait_for(lambda: kiosk.terminal.pro_reader is not None, timeout=10)
        status = kiosk.terminal.pin_status()
        assert status is not None
        assert status.tries_remaining == 3
        response = kiosk.terminal.sign_in_professional("1234")
        assert response.status == 201
        assert kiosk.terminal.pro is not None
        bridge.stop()
        assert wait_for(lambda: kiosk.terminal.pro is None, timeout=10)
    finally:
        bridge.stop()
        kiosk.stop()
