"""C2SP signed notes (c2sp.org/signed-note) with Ed25519 signatures, and verifier keys.

A note is a text ending in a newline, a blank line, then one line per signature:
"— <key name> base64(key ID || signature)". The key ID is the first four bytes of
SHA-256(name || 0x0A || 0x01 || public key). Verification follows the spec: signatures
from unknown keys are ignored, a known key whose signature fails rejects the note, and a
note with no verified known signature is rejected. Tested against the spec's example.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
_DASH = "\u2014 "
MAX_SIGNATURES = 64  # the spec asks verifiers to take at least 16
MAX_NOTE_BYTES = 64 * 1024


class NoteError(ValueError):
    """A malformed note, an unusable key, or a note no trusted key verifies."""


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise NoteError("a key name is non-empty, without spaces or '+'")


@dataclass(frozen=True, slots=True)
class Verifier:
    name: str
    key: Ed25519PublicKey

    @property
    def raw(self) -> bytes:
        return self.key.public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.raw)

    def vkey(self) -> str:
        """The verifier key text: name+hex(key ID)+base64(0x01 || public key)."""
        material = base64.b64encode(bytes([ED25519]) + self.raw).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, vkey: str) -> Verifier:
        name, _, rest = vkey.strip().partition("+")
        hex_id, _, material = rest.partition("+")
        _check_name(name)
        try:
            raw = base64.b64decode(material, validate=True)
            wanted = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise NoteError("malformed verifier key") from None
        if len(raw) != 33 or raw[0] != ED25519 or len(wanted) != 4:
            raise NoteError("only Ed25519 verifier keys are supported")
        verifier = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        if verifier.key_id != wanted:
            raise NoteError("the verifier key's ID does not match its name and key")
        return verifier


@dataclass(frozen=True, slots=True)
class Signer:
    name: str
    key: Ed25519PrivateKey

    @property
    def verifier(self) -> Verifier:
        return Verifier(self.name, self.key.public_key())

    def signature_line(self, text: str) -> str:
        signature = self.key.sign(text.encode())
        encoded = base64.b64encode(self.verifier.key_id + signature).decode()
        return f"{_DASH}{self.name} {encoded}\n"


def sign(text: str, signers: Iterable[Signer]) -> str:
    """The signed note of `text` (which must end in a newline)."""
    _check_text(text)
    lines = [s.signature_line(text) for s in signers]
    if not lines:
        raise NoteError("a note needs at least one signature")
    return text + "\n" + "".join(lines)


@dataclass(frozen=True, slots=True)
class Signature:
    name: str
    key_id: bytes
    signature: bytes


def parse(note: str) -> tuple[str, list[Signature]]:
    """The note's text and its signature lines (none verified)."""
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise NoteError("note too large")
    if not note.endswith("\n"):
        raise NoteError("a note ends with a newline")
    cut = note.rfind("\n\n")
    if cut < 0:
        raise NoteError("no blank line before the signatures")
    text, block = note[: cut + 1], note[cut + 2 :]
    _check_text(text)
    signatures = []
    for line in block.removesuffix("\n").split("\n"):
        if not line.startswith(_DASH):
            raise NoteError("malformed signature line")
        name, _, encoded = line[len(_DASH) :].partition(" ")
        _check_name(name)
        try:
            raw = base64.b64decode(encoded, validate=True)
        except binascii.Error:
            raise NoteError("malformed signature") from None
        if len(raw) < 5:
            raise NoteError("malformed signature")
        signatures.append(Signature(name, raw[:4], raw[4:]))
    if not signatures or len(signatures) > MAX_SIGNATURES:
        raise NoteError("a note carries between 1 and 64 signatures")
    return text, signatures


def verify(note: str, verifiers: Iterable[Verifier]) -> tuple[str, list[Verifier]]:
    """The note's text and the known keys that signed it. Raises NoteError when a known
    key's signature fails or no known key signed it."""
    text, signatures = parse(note)
    known = {(v.name, v.key_id): v for v in verifiers}
    verified: list[Verifier] = []
    for sig in signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            continue  # unknown keys are ignored (witnesses, rotated keys)
        try:
            verifier.key.verify(sig.signature, text.encode())
        except InvalidSignature:
            raise NoteError(f"the signature of {sig.name} does not verify") from None
        verified.append(verifier)
    if not verified:
        raise NoteError("no trusted key signed this note")
    return text, verified


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise NoteError("a note's text ends with a newline")
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise NoteError("a note holds no control characters but newlines")
