"""Professional card (CPS-like): identity, certificate, PIN, signature after PIN."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .apdu import CommandApdu
from .errors import (
    ApduError,
    InvalidPinError,
    InvalidPukError,
    PinBlockedError,
    PinFormatError,
    PinRequiredError,
    PukBlockedError,
    SecurityStatusError,
)
from .identity import ProfessionalIdentity
from .profile import (
    CLA,
    INS_CHANGE_REFERENCE_DATA,
    INS_RESET_RETRY_COUNTER,
    INS_VERIFY,
    PIN_LENGTH,
    PIN_MAX_TRIES,
    PIN_REFERENCE,
    PUK_LENGTH,
    SFI_IDENTITY,
    SW1_COUNTER,
    SW_BLOCKED,
    SW_OK,
    CardKind,
)
from .records import decode_professional_identity
from .session import CardAuthentication, CardSession


@dataclass(frozen=True)
class PinStatus:
    verified: bool
    tries_remaining: int

    @property
    def blocked(self) -> bool:
        return self.tries_remaining == 0


def _digits(value: str, length: int, what: str) -> bytes:
    # Checked on the host so a typo never costs the holder one of three tries.
    if len(value) != length or not value.isascii() or not value.isdigit():
        raise PinFormatError(f"a {what} has exactly {length} digits")
    return value.encode("ascii")


class ProfessionalSession(CardSession):
    KIND = CardKind.PROFESSIONAL

    def read_identity(self) -> ProfessionalIdentity:
        return decode_professional_identity(self.read_file(SFI_IDENTITY))

    def pin_status(self) -> PinStatus:
        """VERIFY without data: the card reports the state, no try is spent."""
        response = self.protocol.transceive(CommandApdu(CLA, INS_VERIFY, 0, PIN_REFERENCE))
        if response.sw == SW_OK:
            return PinStatus(True, PIN_MAX_TRIES)
        if response.sw >> 8 == SW1_COUNTER and response.sw & 0xF0 == 0xC0:
            return PinStatus(False, response.sw & 0x0F)
        if response.sw == SW_BLOCKED:
            return PinStatus(False, 0)
        raise ApduError(response.sw)

    def verify_pin(self, pin: str) -> None:
        self._pin_command(INS_VERIFY, _digits(pin, PIN_LENGTH, "PIN"), puk=False)

    def change_pin(self, old_pin: str, new_pin: str) -> None:
        data = _digits(old_pin, PIN_LENGTH, "PIN") + _digits(new_pin, PIN_LENGTH, "PIN")
        self._pin_command(INS_CHANGE_REFERENCE_DATA, data, puk=False)

    def unblock_pin(self, puk: str, new_pin: str) -> None:
        data = _digits(puk, PUK_LENGTH, "PUK") + _digits(new_pin, PIN_LENGTH, "PIN")
        self._pin_command(INS_RESET_RETRY_COUNTER, data, puk=True)

    def _pin_command(self, ins: int, data: bytes, *, puk: bool) -> None:
        response = self.protocol.transceive(CommandApdu(CLA, ins, 0, PIN_REFERENCE, data))
        sw = response.sw
        if sw == SW_OK:
            return
        tries = sw & 0x0F
        counter = sw >> 8 == SW1_COUNTER and sw & 0xF0 == 0xC0
        # 63C0 is the answer to the try that blocked the counter; 6983 to later ones.
        if sw == SW_BLOCKED or (counter and tries == 0):
            raise (PukBlockedError if puk else PinBlockedError)(sw)
        if counter:
            raise (InvalidPukError if puk else InvalidPinError)(sw, tries)
        raise ApduError(sw)

    def _security_error(self, exc: SecurityStatusError) -> SecurityStatusError:
        return PinRequiredError(exc.sw, "the professional card wants its PIN first")


@dataclass(frozen=True)
class ProfessionalReading:
    identity: ProfessionalIdentity
    certificate: x509.Certificate
    authentication: CardAuthentication


def read_professional_card(
    session: ProfessionalSession, pin: str, challenge: bytes
) -> ProfessionalReading:
    """The complete professional flow: PIN, identity, certificate, signature."""
    session.verify_pin(pin)
    identity = session.read_identity()
    certificate = session.read_certificate()
    signature = session.authenticate(challenge)
    return ProfessionalReading(
        identity,
        certificate,
        CardAuthentication(
            CardKind.PROFESSIONAL,
            session.aid,
            session.serial,
            certificate.public_bytes(Encoding.DER),
            challenge,
            signature,
        ),
    )
