"""The card emulator: one card object for in-process tests, the demo and vpcd.

`VirtualCard` is the card side of the profile: power states, SELECT, READ BINARY, PIN
commands with their counters, INTERNAL AUTHENTICATE, and 61xx / GET RESPONSE. It never
trusts the host: every rule the docs state is enforced here, so host bugs show up.
"""

from __future__ import annotations

import hmac
import threading
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import load_pem_x509_certificate

from ..apdu import SHORT_MAX_NE, CommandApdu, decode_command
from ..connection import Connection
from ..errors import CardRemovedError
from ..identity import PatientIdentity
from ..profile import (
    ATR_KINDS,
    CHALLENGE_MAX,
    CHALLENGE_MIN,
    CLA,
    INS_CHANGE_REFERENCE_DATA,
    INS_GET_RESPONSE,
    INS_INTERNAL_AUTHENTICATE,
    INS_READ_BINARY,
    INS_RESET_RETRY_COUNTER,
    INS_SELECT,
    INS_VERIFY,
    PIN_LENGTH,
    PIN_REFERENCE,
    PUK_LENGTH,
    READ_BINARY_SFI_FLAG,
    SELECT_BY_DF_NAME,
    SELECT_NO_RESPONSE,
    SELECT_RETURN_FCI,
    SFI_CERTIFICATE,
    SFI_IDENTITY,
    SW1_MORE_DATA,
    SW1_WRONG_LE,
    SW_BLOCKED,
    SW_CHAINING_UNSUPPORTED,
    SW_CLA_UNSUPPORTED,
    SW_CONDITIONS,
    SW_INS_UNSUPPORTED,
    SW_NO_CURRENT_EF,
    SW_NO_PRECISE_DIAGNOSIS,
    SW_NOT_FOUND,
    SW_OFFSET_OUTSIDE,
    SW_OK,
    SW_REFERENCE_NOT_FOUND,
    SW_SECURITY_STATUS,
    SW_WRONG_DATA,
    SW_WRONG_LENGTH,
    SW_WRONG_P1P2,
    CardKind,
)
from ..records import encode_fci, encode_patient_identity, encode_professional_identity
from ..signature import signed_message
from . import cardfile as cardfile_module
from .cardfile import CardFile, ReferenceData, hash_secret

_KIND_ATRS = {kind: atr for atr, kind in ATR_KINDS.items()}


def _sw(sw: int) -> bytes:
    return sw.to_bytes(2, "big")


class VirtualCard:
    """An emulated card. Thread-safe: vpcd and in-process callers may share one."""

    def __init__(
        self, card: CardFile, *, persist: Callable[[CardFile], None] | None = None
    ) -> None:
        self.card = card
        self._persist = persist
        self._lock = threading.Lock()
        key = serialization.load_pem_private_key(card.private_key_pem, password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise cardfile_module.CardFileError("card key must be an EC key")
        self._key = key
        certificate = load_pem_x509_certificate(card.certificate_pem)
        identity = card.identity
        self._files = {
            SFI_IDENTITY: encode_patient_identity(identity)
            if isinstance(identity, PatientIdentity)
            else encode_professional_identity(identity),
            SFI_CERTIFICATE: certificate.public_bytes(serialization.Encoding.DER),
        }
        self._powered = False
        self._clear_state()

    @classmethod
    def from_file(cls, path: Path) -> VirtualCard:
        """Load a card file; counters are written back to it on every change."""
        path = Path(path)
        return cls(cardfile_module.load(path), persist=lambda c: cardfile_module.save(c, path))

    @property
    def atr(self) -> bytes:
        return _KIND_ATRS[self.card.kind]

    # Power: every transition forgets the PIN state, as a real card's RAM would.
    def power_on(self) -> bytes:
        with self._lock:
            self._powered = True
            self._clear_state()
        return self.atr

    def reset(self) -> bytes:
        return self.power_on()

    def power_off(self) -> None:
        with self._lock:
            self._powered = False
            self._clear_state()

    def _clear_state(self) -> None:
        self._selected = False
        self._pin_verified = False
        self._current_ef: int | None = None
        self._pending = b""

    def process(self, raw: bytes) -> bytes:
        with self._lock:
            if not self._powered:
                return _sw(SW_NO_PRECISE_DIAGNOSIS)
            try:
                command, _ = decode_command(bytes(raw))
            except ValueError:
                self._pending = b""
                return _sw(SW_WRONG_LENGTH)
            if command.ins != INS_GET_RESPONSE:
                self._pending = b""
            return self._dispatch(command)

    def _dispatch(self, command: CommandApdu) -> bytes:
        if command.cla & 0x10:
            return _sw(SW_CHAINING_UNSUPPORTED)
        if command.cla != CLA:
            return _sw(SW_CLA_UNSUPPORTED)
        handler = {
            INS_SELECT: self._select,
            INS_READ_BINARY: self._read_binary,
            INS_VERIFY: self._verify,
            INS_CHANGE_REFERENCE_DATA: self._change_reference_data,
            INS_RESET_RETRY_COUNTER: self._reset_retry_counter,
            INS_INTERNAL_AUTHENTICATE: self._internal_authenticate,
            INS_GET_RESPONSE: self._get_response,
        }.get(command.ins)
        if handler is None:
            return _sw(SW_INS_UNSUPPORTED)
        return handler(command)

    def _respond(self, command: CommandApdu, data: bytes) -> bytes:
        # With no Le the host did not ask for data: announce it (61xx), as T=0 cards do.
        if command.ne is None:
            self._pending = data
            return _sw((SW1_MORE_DATA << 8) | (min(len(data), SHORT_MAX_NE) & 0xFF))
        if len(data) > command.ne:
            self._pending = data[command.ne :]
            rest = min(len(self._pending), SHORT_MAX_NE) & 0xFF
            return data[: command.ne] + _sw((SW1_MORE_DATA << 8) | rest)
        return data + _sw(SW_OK)

    def _select(self, command: CommandApdu) -> bytes:
        if command.p1 != SELECT_BY_DF_NAME or command.p2 not in (
            SELECT_RETURN_FCI,
            SELECT_NO_RESPONSE,
        ):
            return _sw(SW_WRONG_P1P2)
        if command.data != self.card.aid:
            # Selecting anything else leaves our application: drop its security state.
            self._clear_state()
            return _sw(SW_NOT_FOUND)
        if not self._selected:
            self._clear_state()
            self._selected = True
        self._current_ef = None
        if command.p2 == SELECT_NO_RESPONSE:
            return _sw(SW_OK)
        return self._respond(command, encode_fci(self.card.aid, self.card.serial))

    def _read_binary(self, command: CommandApdu) -> bytes:
        if not self._selected:
            return _sw(SW_CONDITIONS)
        if command.p1 & READ_BINARY_SFI_FLAG:
            sfi = command.p1 & 0x1F
            if command.p1 & 0x60:  # P1 = 100xxxxx for a read by SFI
                return _sw(SW_WRONG_P1P2)
            if sfi not in self._files:
                return _sw(SW_NOT_FOUND)
            self._current_ef = sfi
            offset = command.p2
        else:
            if self._current_ef is None:
                return _sw(SW_NO_CURRENT_EF)
            offset = (command.p1 << 8) | command.p2
        if command.ne is None:
            return _sw(SW_WRONG_LENGTH)
        content = self._files[self._current_ef]
        if offset >= len(content):
            return _sw(SW_OFFSET_OUTSIDE)
        remaining = len(content) - offset
        # Le=00 means "up to 256": answer what is there. An explicit Le larger than the
        # rest gets 6Cxx with the exact count, so the host can ask again precisely.
        if command.ne not in (SHORT_MAX_NE, 65536) and command.ne > remaining:
            return _sw((SW1_WRONG_LE << 8) | (remaining & 0xFF))
        return content[offset : offset + min(command.ne, remaining)] + _sw(SW_OK)

    def _check_pin_command(self, command: CommandApdu) -> bytes | None:
        if self.card.pin is None or self.card.puk is None:
            return _sw(SW_INS_UNSUPPORTED)
        if not self._selected:
            return _sw(SW_CONDITIONS)
        if command.p1 != 0:
            return _sw(SW_WRONG_P1P2)
        if command.p2 != PIN_REFERENCE:
            return _sw(SW_REFERENCE_NOT_FOUND)
        return None

    def _attempt(self, reference: ReferenceData, secret: bytes) -> bool:
        """Spend a try, save it, then compare: pulling the card cannot save the try."""
        reference.tries_remaining -= 1
        self._save()
        matches = hmac.compare_digest(hash_secret(reference.salt, secret), reference.digest)
        if matches:
            reference.tries_remaining = reference.max_tries
            self._save()
        return matches

    def _failed(self, reference: ReferenceData) -> bytes:
        return _sw(0x63C0 | min(reference.tries_remaining, 0x0F))

    def _verify(self, command: CommandApdu) -> bytes:
        refused = self._check_pin_command(command)
        if refused is not None:
            return refused
        pin = self.card.pin
        assert pin is not None  # noqa: S101 (checked by _check_pin_command)
        if not command.data:
            if self._pin_verified:
                return _sw(SW_OK)
            return _sw(SW_BLOCKED) if pin.tries_remaining == 0 else self._failed(pin)
        if len(command.data) != PIN_LENGTH:
            return _sw(SW_WRONG_LENGTH)
        if not command.data.isdigit():
            return _sw(SW_WRONG_DATA)
        if pin.tries_remaining == 0:
            return _sw(SW_BLOCKED)
        self._pin_verified = self._attempt(pin, command.data)
        return _sw(SW_OK) if self._pin_verified else self._failed(pin)

    def _change_reference_data(self, command: CommandApdu) -> bytes:
        refused = self._check_pin_command(command)
        if refused is not None:
            return refused
        pin = self.card.pin
        assert pin is not None  # noqa: S101
        if len(command.data) != 2 * PIN_LENGTH:
            return _sw(SW_WRONG_LENGTH)
        old, new = command.data[:PIN_LENGTH], command.data[PIN_LENGTH:]
        if not (old.isdigit() and new.isdigit()):
            return _sw(SW_WRONG_DATA)
        if pin.tries_remaining == 0:
            return _sw(SW_BLOCKED)
        self._pin_verified = self._attempt(pin, old)
        if not self._pin_verified:
            return self._failed(pin)
        pin.replace_secret(new)
        self._save()
        return _sw(SW_OK)

    def _reset_retry_counter(self, command: CommandApdu) -> bytes:
        refused = self._check_pin_command(command)
        if refused is not None:
            return refused
        pin, puk = self.card.pin, self.card.puk
        assert pin is not None  # noqa: S101
        assert puk is not None  # noqa: S101
        if len(command.data) != PUK_LENGTH + PIN_LENGTH:
            return _sw(SW_WRONG_LENGTH)
        code, new = command.data[:PUK_LENGTH], command.data[PUK_LENGTH:]
        if not (code.isdigit() and new.isdigit()):
            return _sw(SW_WRONG_DATA)
        if puk.tries_remaining == 0:
            return _sw(SW_BLOCKED)
        if not self._attempt(puk, code):
            return self._failed(puk)
        pin.replace_secret(new)
        pin.tries_remaining = pin.max_tries
        # Unblocking is not a verification: the holder still has to present the new PIN.
        self._pin_verified = False
        self._save()
        return _sw(SW_OK)

    def _internal_authenticate(self, command: CommandApdu) -> bytes:
        if not self._selected:
            return _sw(SW_CONDITIONS)
        if command.p1 != 0 or command.p2 != 0:
            return _sw(SW_WRONG_P1P2)
        if self.card.kind is CardKind.PROFESSIONAL and not self._pin_verified:
            return _sw(SW_SECURITY_STATUS)
        if not CHALLENGE_MIN <= len(command.data) <= CHALLENGE_MAX:
            return _sw(SW_WRONG_LENGTH)
        message = signed_message(self.card.aid, self.card.serial, command.data)
        signature = self._key.sign(message, ec.ECDSA(hashes.SHA256()))
        return self._respond(command, signature)

    def _get_response(self, command: CommandApdu) -> bytes:
        if command.p1 != 0 or command.p2 != 0:
            self._pending = b""
            return _sw(SW_WRONG_P1P2)
        if not self._pending:
            return _sw(SW_CONDITIONS)
        data, self._pending = self._pending, b""
        return self._respond(command.with_ne(command.ne or SHORT_MAX_NE), data)

    def _save(self) -> None:
        if self._persist is not None:
            self._persist(self.card)


class VirtualConnection(Connection):
    """An in-process reader with the card inside: powers it on, can pull it out."""

    def __init__(self, card: VirtualCard) -> None:
        self.card = card
        self._atr = card.power_on()
        self._present = True
        self.pull_before: Callable[[bytes], bool] | None = None

    @property
    def atr(self) -> bytes:
        if not self._present:
            raise CardRemovedError("no card in the virtual reader")
        return self._atr

    def pull(self) -> None:
        self._present = False
        self.card.power_off()

    def transmit(self, apdu: bytes) -> bytes:
        if self._present and self.pull_before is not None and self.pull_before(apdu):
            self.pull()
        if not self._present:
            raise CardRemovedError("card removed from the virtual reader")
        return self.card.process(apdu)

    def close(self) -> None:
        if self._present:
            self.card.power_off()
