"""Real cards and kiosks for the sign-in tests: a TEST PKI, emulated cards, signed requests.

The PKI and the demo cards are made once per test session (key generation takes a
while), dated CERT_TIME so that they are valid at the tests' fixed clock. Cards run in
the in-process emulator (`cardreader.emulator.virtual`) behind the real host session classes, so
every signature in these tests is a real card signature.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardreader.emulator import cardfile
from cardreader.emulator.demo import (
    DEMO_PIN,
    DEMO_PUK,
    PATIENTS,
    PROFESSIONALS,
    patient_file_name,
    professional_file_name,
)
from cardreader.emulator.pki import IssuedDevice, Pki
from cardreader.emulator.virtual import VirtualCard, VirtualConnection
from cardreader.patient import PatientSession, read_patient_card
from cardreader.professional import ProfessionalSession, read_professional_card
from cardreader.profile import CardKind
from cardreader.session import CardAuthentication
from server.signin import kiosk_identity, request_signing
from server.trust import TrustStore

# Before the tests' clock (2026-06-15): every certificate is valid then.
CERT_TIME = datetime(2026, 6, 1, tzinfo=UTC)
KIOSKS = ("borne-1", "borne-2", "borne-revoquee")


@dataclass
class CardPki:
    directory: Path
    pki: Pki
    cards: dict[str, cardfile.CardFile] = field(default_factory=dict)
    kiosks: dict[str, IssuedDevice] = field(default_factory=dict)
    receipt_signer: IssuedDevice | None = None

    def card(self, name: str) -> cardfile.CardFile:
        """A fresh in-memory copy (PIN counters of one test never leak into another)."""
        return cardfile.load(self.directory / "cards" / f"{name}.json")


def build_test_pki(directory: Path) -> CardPki:
    pki = Pki.init(directory, now=CERT_TIME)
    built = CardPki(directory, pki)
    (directory / "cards").mkdir()
    for patient in PATIENTS:
        card = pki.issue_card(patient.identity, demo=True, now=CERT_TIME)
        name = patient_file_name(patient.identity).removesuffix(".json")
        cardfile.save(card, directory / "cards" / f"{name}.json")
        built.cards[name] = card
    for pro in PROFESSIONALS:
        card = pki.issue_card(pro.identity, pin=DEMO_PIN, puk=DEMO_PUK, demo=True, now=CERT_TIME)
        name = professional_file_name(pro.identity).removesuffix(".json")
        cardfile.save(card, directory / "cards" / f"{name}.json")
        built.cards[name] = card
    for kiosk in KIOSKS:
        built.kiosks[kiosk] = pki.issue_kiosk(kiosk, now=CERT_TIME)
    built.receipt_signer = pki.issue_receipt_signer("receipts-test", now=CERT_TIME)
    return built


def read_card(card: cardfile.CardFile, challenge: bytes, pin: str = DEMO_PIN) -> CardAuthentication:
    """What a kiosk reads from a card: certificate, serial and the challenge signature
    (after VERIFY PIN for a professional card, which refuses to sign before)."""
    connection = VirtualConnection(VirtualCard(card))
    if card.kind is CardKind.PROFESSIONAL:
        session = ProfessionalSession(connection)
        return read_professional_card(session, pin, challenge).authentication
    return read_patient_card(PatientSession(connection), challenge).authentication


def proof_body(auth: CardAuthentication, *, kind: CardKind | None = None) -> dict[str, Any]:
    return {
        "kind": (kind or auth.kind).value,
        "challenge": base64.b64encode(auth.challenge).decode(),
        "serial": auth.serial.hex(),
        "certificate": base64.b64encode(auth.certificate_der).decode(),
        "signature": base64.b64encode(auth.signature).decode(),
    }


def load_key(device: IssuedDevice) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(device.key_path.read_bytes(), password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


class KioskClient:
    """A kiosk talking to the server through Flask's test client, every request signed."""

    def __init__(self, client: Any, clock: Any, name: str, key: ec.EllipticCurvePrivateKey):
        self.client, self.clock, self.name, self.key = client, clock, name, key

    def headers(self, method: str, target: str, body: bytes) -> dict[str, str]:
        return request_signing.sign_request(self.key, self.name, method, target, body, self.clock())

    def call(
        self, method: str, path: str, body: Any = None, token: str | None = None, **extra: str
    ) -> Any:
        target = f"/api/v1{path}"
        data = b"" if body is None else json.dumps(body).encode()
        headers = self.headers(method, target, data)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra)
        return self.client.open(
            target, method=method, data=data, headers=headers, content_type="application/json"
        )

    def challenge(self) -> bytes:
        r = self.call("POST", "/auth/card/challenge")
        assert r.status_code == 201, r.get_json()
        return base64.b64decode(r.get_json()["challenge"])

    def sign_in(self, card: cardfile.CardFile, **overrides: Any) -> Any:
        auth = read_card(card, self.challenge())
        return self.call("POST", "/auth/card/signin", proof_body(auth) | overrides)


def use_pki(app: Any, directory: Path) -> None:
    """Point a test app at the test PKI (the settings fixture has no PKI_DIR)."""
    rt = app.extensions["dmp"]
    rt.settings["PKI_DIR"] = str(directory)
    rt.trust = TrustStore(directory)


def register(app: Any, test_pki: CardPki, name: str) -> None:
    rt = app.extensions["dmp"]
    with rt.sessions() as s:
        pem = test_pki.kiosks[name].certificate_path.read_bytes()
        kiosk_identity.register(rt.ctx(s), rt.trust, name, pem)
        s.commit()
