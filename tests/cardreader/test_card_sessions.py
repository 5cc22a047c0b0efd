"""Complete card sessions in-process: the host layers against the emulated cards."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from card_helpers import PIN, PUK
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from cardreader.apdu import CommandApdu
from cardreader.connection import CountingConnection
from cardreader.emulator.cardfile import CardFile
from cardreader.emulator.pki import PATIENT_CA, PROFESSIONAL_CA, Pki
from cardreader.emulator.testing import ScriptedConnection
from cardreader.emulator.virtual import VirtualCard, VirtualConnection
from cardreader.errors import (
    CardRemovedError,
    InvalidPinError,
    MalformedCardDataError,
    PinBlockedError,
    PinRequiredError,
    ProtocolError,
    UnknownCardError,
    UntrustedCardError,
)
from cardreader.patient import PatientSession, read_patient_card
from cardreader.professional import ProfessionalSession, read_professional_card
from cardreader.protocol import ApduProtocol
from cardreader.signature import DOMAIN_PREFIX, card_serial, signed_message

PATIENT_APDU_BUDGET = 8
PROFESSIONAL_APDU_BUDGET = 10


def _connect(card: CardFile) -> CountingConnection:
    return CountingConnection(VirtualConnection(VirtualCard(card)))


def _verify(
    authentication_certificate: x509.Certificate,
    aid: bytes,
    serial: bytes,
    challenge: bytes,
    signature: bytes,
) -> None:
    key = authentication_certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    key.verify(signature, signed_message(aid, serial, challenge), ec.ECDSA(hashes.SHA256()))


def test_patient_read_and_signature(make_card: Callable[..., CardFile], pki: Pki) -> None:
    card = make_card("patient")
    connection = _connect(card)
    session = PatientSession(connection, trusted_issuers=[pki.authorities[PATIENT_CA].certificate])
    challenge = os.urandom(32)
    reading = read_patient_card(session, challenge)
    assert connection.count <= PATIENT_APDU_BUDGET
    assert reading.identity == card.identity
    assert reading.authentication.serial == card_serial(reading.certificate.serial_number)
    _verify(
        reading.certificate,
        reading.authentication.aid,
        reading.authentication.serial,
        challenge,
        reading.authentication.signature,
    )


def test_professional_pin_and_signature(make_card: Callable[..., CardFile], pki: Pki) -> None:
    card = make_card("professional")
    connection = _connect(card)
    session = ProfessionalSession(
        connection, trusted_issuers=[pki.authorities[PROFESSIONAL_CA].certificate]
    )
    with pytest.raises(PinRequiredError):
        session.authenticate(os.urandom(32))
    connection.count = 0
    challenge = os.urandom(32)
    reading = read_professional_card(session, PIN, challenge)
    assert connection.count + 1 <= PROFESSIONAL_APDU_BUDGET  # +1: the SELECT
    assert reading.identity == card.identity
    _verify(
        reading.certificate,
        session.aid,
        session.serial,
        challenge,
        reading.authentication.signature,
    )


def test_signature_does_not_verify_for_another_card(make_card: Callable[..., CardFile]) -> None:
    first, second = make_card("patient"), make_card("patient")
    session = PatientSession(_connect(first))
    challenge = os.urandom(32)
    signature = session.authenticate(challenge)
    other = PatientSession(_connect(second))
    with pytest.raises(InvalidSignature):
        _verify(other.read_certificate(), other.aid, other.serial, challenge, signature)


def test_signed_message_layout() -> None:
    aid, serial, challenge = b"\xf0DMP-PAT", bytes(range(16)), b"\xaa" * 32
    assert signed_message(aid, serial, challenge) == (
        DOMAIN_PREFIX + b"\x08" + aid + b"\x10" + serial + challenge
    )
    assert DOMAIN_PREFIX == b"DMP-KIOSK card authentication v1\x00"
    with pytest.raises(ValueError, match="challenge"):
        signed_message(aid, serial, b"short")
    with pytest.raises(ValueError, match="serial"):
        signed_message(aid, b"\x01", challenge)


def test_certificate_from_another_ca(make_card: Callable[..., CardFile], tmp_path: Path) -> None:
    stranger = Pki.init(tmp_path / "other-pki")
    card = stranger.issue_card(make_card("patient").identity)
    session = PatientSession(_connect(card), trusted_issuers=[_our_patient_ca(tmp_path)])
    assert session.read_identity() == card.identity
    with pytest.raises(UntrustedCardError, match="not issued"):
        session.read_certificate()


def _our_patient_ca(tmp_path: Path) -> x509.Certificate:
    return Pki.init(tmp_path / "ours").authorities[PATIENT_CA].certificate


def test_professional_certificate_on_a_patient_card(make_card: Callable[..., CardFile]) -> None:
    patient, professional = make_card("patient"), make_card("professional")
    patient.certificate_pem = professional.certificate_pem
    with pytest.raises(UntrustedCardError, match="not a patient card certificate"):
        PatientSession(_connect(patient)).read_certificate()


def test_certificate_of_another_card(make_card: Callable[..., CardFile]) -> None:
    card = make_card("patient")
    card.serial = bytes(16)
    with pytest.raises(MalformedCardDataError, match="serial"):
        PatientSession(_connect(card)).read_certificate()


def test_card_pulled_mid_command(make_card: Callable[..., CardFile]) -> None:
    connection = VirtualConnection(VirtualCard(make_card("patient")))
    session = PatientSession(connection)
    connection.pull_before = lambda apdu: apdu[1] == 0x88
    with pytest.raises(CardRemovedError):
        session.authenticate(os.urandom(32))
    with pytest.raises(CardRemovedError):
        session.read_identity()


def test_unknown_atr_sends_nothing() -> None:
    connection = ScriptedConnection(bytes.fromhex("3B8F8001804F0CA0000003060300030000000068"), [])
    with pytest.raises(UnknownCardError, match="unknown ATR"):
        PatientSession(connection)
    assert connection.sent == []


def test_endless_61xx_is_a_protocol_error() -> None:
    class Looping(ScriptedConnection):
        def transmit(self, apdu: bytes) -> bytes:
            return b"\x00" * 255 + b"\x61\x00"

    with pytest.raises(ProtocolError, match="61xx loop"):
        ApduProtocol(Looping(b"", [])).send(CommandApdu(0, 0xB0, 0x81, 0, ne=256))


def test_blocked_then_unblocked(make_card: Callable[..., CardFile]) -> None:
    session = ProfessionalSession(_connect(make_card("professional")))
    for _ in range(2):
        with pytest.raises(InvalidPinError, match="wrong PIN"):
            session.verify_pin("0000")
    with pytest.raises(PinBlockedError):
        session.verify_pin("0000")
    with pytest.raises(PinBlockedError):
        session.verify_pin(PIN)
    session.unblock_pin(PUK, "4321")
    assert not session.pin_status().verified
    session.verify_pin("4321")
    session.change_pin("4321", PIN)
    assert session.pin_status().verified


def test_trace_redacts_pin_puk_and_identity(
    make_card: Callable[..., CardFile], caplog: pytest.LogCaptureFixture
) -> None:
    card = make_card("professional")
    session = ProfessionalSession(_connect(card))
    with caplog.at_level(logging.DEBUG, logger="cardreader.apdu"):
        session.verify_pin(PIN)
        session.change_pin(PIN, "9876")
        for _ in range(2):
            with pytest.raises(InvalidPinError):
                session.verify_pin("1111")
        with pytest.raises(PinBlockedError):
            session.verify_pin("1111")
        session.unblock_pin(PUK, PIN)
        session.verify_pin(PIN)
        identity = session.read_identity()
        session.read_certificate()
        session.authenticate(os.urandom(32))
    trace = "\n".join(record.getMessage() for record in caplog.records)
    assert "redacted" in trace
    _assert_absent(
        trace,
        [
            PIN,
            PUK,
            "9876",
            "1111",
            identity.last_name,
            identity.first_name,
            identity.national_id,
            identity.structure.name,
        ],
    )
    assert len(caplog.records) >= 20


def test_trace_redacts_patient_identity(
    make_card: Callable[..., CardFile], caplog: pytest.LogCaptureFixture
) -> None:
    card = make_card("patient")
    with caplog.at_level(logging.DEBUG, logger="cardreader.apdu"):
        read_patient_card(PatientSession(_connect(card)), os.urandom(32))
    trace = "\n".join(record.getMessage() for record in caplog.records)
    _assert_absent(trace, ["DURAND", "Marie", "Louise", "255081416802538", "19550812"])
    assert "F0 44 4D 50 2D 50 41 54" in trace  # the AID is public and stays readable


def _assert_absent(trace: str, secrets: list[str]) -> None:
    # Data is logged as space-separated hex bytes, so a plain secret can only appear if
    # some code logged it as text; the hex form is searched with the spaces removed.
    tokens = set(trace.split())
    compact = trace.replace(" ", "").upper()
    for secret in secrets:
        assert secret not in tokens
        assert secret not in trace or secret.isdigit()
        assert secret.encode().hex().upper() not in compact
