"""What both card applications share: ATR check, SELECT, file reads, authentication."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

from cryptography import x509

from . import tlv
from .apdu import SHORT_MAX_NE, CommandApdu
from .certificate import check_card_certificate, parse_certificate
from .connection import Connection
from .errors import MalformedCardDataError, NotFoundError, SecurityStatusError, UnknownCardError
from .profile import (
    ATR_KINDS,
    CHALLENGE_MAX,
    CHALLENGE_MIN,
    CLA,
    INS_INTERNAL_AUTHENTICATE,
    INS_READ_BINARY,
    INS_SELECT,
    KIND_AIDS,
    READ_BINARY_SFI_FLAG,
    SELECT_BY_DF_NAME,
    SELECT_RETURN_FCI,
    SFI_CERTIFICATE,
    CardKind,
)
from .protocol import ApduProtocol
from .records import decode_fci

MAX_FILE = 0x7FFF  # READ BINARY offsets have 15 bits


@dataclass(frozen=True)
class CardAuthentication:
    """What the kiosk forwards to the server, which verifies all of it."""

    kind: CardKind
    aid: bytes
    serial: bytes
    certificate_der: bytes
    challenge: bytes
    signature: bytes


def card_kind(atr: bytes) -> CardKind:
    try:
        return ATR_KINDS[bytes(atr)]
    except KeyError:
        raise UnknownCardError(f"unknown ATR {bytes(atr).hex().upper()}") from None


class CardSession:
    """One card application, selected on construction (the yubikit session shape)."""

    KIND: ClassVar[CardKind]

    def __init__(
        self, connection: Connection, *, trusted_issuers: Sequence[x509.Certificate] = ()
    ) -> None:
        if card_kind(connection.atr) is not self.KIND:
            raise UnknownCardError(f"this is not a {self.KIND} card")
        self.aid = KIND_AIDS[self.KIND]
        self.protocol = ApduProtocol(connection)
        self.trusted_issuers = tuple(trusted_issuers)
        select = CommandApdu(
            CLA, INS_SELECT, SELECT_BY_DF_NAME, SELECT_RETURN_FCI, self.aid, SHORT_MAX_NE
        )
        try:
            fci = decode_fci(self.protocol.send(select))
        except NotFoundError as exc:
            raise UnknownCardError(f"{self.KIND} application not on this card") from exc
        if fci.aid != self.aid:
            raise MalformedCardDataError("SELECT answered with another application's FCI")
        self.serial = fci.serial
        self.profile_version = fci.version

    def read_file(self, sfi: int) -> bytes:
        """Read a whole BER-TLV file: the first read tells the size from the TLV header."""
        first = self.protocol.send(
            CommandApdu(CLA, INS_READ_BINARY, READ_BINARY_SFI_FLAG | sfi, 0, ne=SHORT_MAX_NE)
        )
        size = tlv.total_length(first)
        if size > MAX_FILE:
            raise MalformedCardDataError(f"file {sfi} claims {size} bytes")
        content = bytearray(first)
        while len(content) < size:
            offset = len(content)
            wanted = min(SHORT_MAX_NE, size - offset)
            # After a read by SFI the file is the current EF, so later reads use P1-P2 as
            # a 15-bit offset (ISO 7816-4 §11.2.3).
            chunk = self.protocol.send(
                CommandApdu(CLA, INS_READ_BINARY, offset >> 8, offset & 0xFF, ne=wanted)
            )
            if not chunk:
                raise MalformedCardDataError(f"file {sfi} truncated at {offset} of {size} bytes")
            content += chunk
        if len(content) != size:
            raise MalformedCardDataError(f"file {sfi} longer than its TLV header says")
        return bytes(content)

    def read_certificate(self) -> x509.Certificate:
        certificate = parse_certificate(self.read_file(SFI_CERTIFICATE))
        check_card_certificate(certificate, self.KIND, self.serial, self.trusted_issuers)
        return certificate

    def authenticate(self, challenge: bytes) -> bytes:
        """INTERNAL AUTHENTICATE: the card's DER ECDSA signature of signed_message(...)."""
        if not CHALLENGE_MIN <= len(challenge) <= CHALLENGE_MAX:
            raise ValueError(f"a challenge has {CHALLENGE_MIN} to {CHALLENGE_MAX} bytes")
        command = CommandApdu(CLA, INS_INTERNAL_AUTHENTICATE, 0, 0, challenge, SHORT_MAX_NE)
        try:
            signature = self.protocol.send(command)
        except SecurityStatusError as exc:
            raise self._security_error(exc) from exc
        _check_der_signature(signature)
        return signature

    def _security_error(self, exc: SecurityStatusError) -> SecurityStatusError:
        return exc


def _check_der_signature(signature: bytes) -> None:
    # An ECDSA-Sig-Value is SEQUENCE { r INTEGER, s INTEGER }; check shape, not validity
    # (validity is the server's job).
    item = tlv.parse_single(signature)
    parts = item.children() if item.tag == 0x30 else []
    if [part.tag for part in parts] != [0x02, 0x02]:
        raise MalformedCardDataError("signature is not a DER ECDSA-Sig-Value")
