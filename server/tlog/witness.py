"""What a witness concludes from checkpoints, and its cosignatures (issue 14).

A witness is an outside party that keeps the last checkpoint it saw of a log and accepts
a new one only when the log proves the new tree extends the old one. A log that shows
one history to the witness and another to a patient (a split view), that rewrote or
reordered old entries, or that dropped entries, cannot give such a proof: its two signed
checkpoints of the same log are the evidence. Pure functions, no I/O: the command
(server/witness_cli.py) fetches and stores.

Cosignatures follow c2sp.org/tlog-cosignature v1 (Ed25519): a note signature line from
the witness's key, over "cosignature/v1\\ntime <t>\\n" then the checkpoint's text, whose
value is key ID (type 0x04) || the 8-byte big-endian time || the signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server.tlog import checkpoint, merkle, note
from server.tlog.checkpoint import Checkpoint

COSIGNATURE_V1 = 0x04  # the signature type of an Ed25519 cosignature/v1 key
_HEADER = "cosignature/v1\n"
_DASH = "\u2014 "
_MAX_TIMESTAMP = 2**63 - 1
MAX_PROOF_HASHES = 128  # a consistency proof of a tree below 2^64 leaves has fewer
_PRIVATE_PREFIX = "PRIVATE+KEY+"


class WitnessError(Exception):
    """What the witness found wrong with the log; the message says it in plain words."""


class SignatureInvalid(WitnessError):
    """A checkpoint that the pinned log key did not sign (or that is not a checkpoint)."""


class Inconsistent(WitnessError):
    """Two checkpoints of the log that cannot both be true: the log changed its past."""


class SplitView(Inconsistent):
    """Two different roots for the same tree size: the log showed two histories."""


class Rollback(Inconsistent):
    """A smaller tree than one the log already signed: entries were dropped."""


def verify_signed(signed: str, log_key: note.Verifier) -> Checkpoint:
    """The checkpoint of `signed`, which the pinned log key must have signed. The log's
    name is its origin (tlog-checkpoint), so a checkpoint of another log fails too."""
    try:
        return checkpoint.verify(signed, log_key.name, [log_key])
    except (note.NoteError, checkpoint.CheckpointError) as exc:
        raise SignatureInvalid(
            f"not a checkpoint signed by the log key {log_key.name} ({exc})"
        ) from None


def proof_sizes(a: Checkpoint, b: Checkpoint) -> tuple[int, int] | None:
    """The (from, to) sizes of the consistency proof that relates two checkpoints of one
    log, smaller first; None when none is needed (equal sizes, or an empty tree)."""
    low, high = sorted((a.size, b.size))
    if low == high or low == 0:
        return None
    return low, high


def check_pair(a: Checkpoint, b: Checkpoint, proof: Sequence[bytes]) -> None:
    """Raises SplitView or Inconsistent unless one checkpoint's tree is a prefix of the
    other's, whichever is older; `proof` is the one proof_sizes asked for (or empty)."""
    if a.origin != b.origin:
        raise Inconsistent(f"checkpoints of two logs ({a.origin}, {b.origin})")
    old, new = (a, b) if a.size <= b.size else (b, a)
    if old.size == new.size:
        if old.root != new.root:
            raise SplitView(
                f"two different roots signed for size {old.size}: the log showed two "
                f"different histories"
            )
        return
    if old.size == 0:
        if old.root != merkle.EMPTY_ROOT:
            raise Inconsistent("a checkpoint of size 0 with a root other than the empty tree's")
        return
    if len(proof) > MAX_PROOF_HASHES:
        raise Inconsistent("the log's consistency proof is too long")
    try:
        merkle.verify_consistency(old.size, new.size, old.root, new.root, proof)
    except merkle.ProofError as exc:
        raise Inconsistent(
            f"the tree of size {new.size} does not extend the tree of size {old.size} "
            f"({exc}): entries before {old.size} were changed, removed or reordered, or "
            f"the log showed two different histories"
        ) from None


def check_advance(last: Checkpoint | None, new: Checkpoint, proof: Sequence[bytes]) -> None:
    """The witness's own rule: the new checkpoint extends the last one it saw. A smaller
    tree is a rollback, even when a proof could relate them (the log must only grow)."""
    if last is None:
        return
    if new.size < last.size:
        raise Rollback(
            f"the log went back from size {last.size} to {new.size}: "
            f"{last.size - new.size} entr{'y' if last.size - new.size == 1 else 'ies'} "
            f"it had signed are gone"
        )
    check_pair(last, new, proof)


# ---- cosignatures (c2sp.org/tlog-cosignature, Ed25519 cosignature/v1) ------------------


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def cosigner_key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([COSIGNATURE_V1]) + public_key).digest()[:4]


def cosignature_message(text: str, timestamp: int) -> bytes:
    return f"{_HEADER}time {timestamp}\n{text}".encode()


@dataclass(frozen=True, slots=True)
class CosignerKey:
    """A witness's public key, as a vkey of type 0x04."""

    name: str
    key: Ed25519PublicKey

    @property
    def key_id(self) -> bytes:
        return cosigner_key_id(self.name, _raw(self.key))

    def vkey(self) -> str:
        material = base64.b64encode(bytes([COSIGNATURE_V1]) + _raw(self.key)).decode()
        return f"{self.name}+{self.key_id.hex()}+{material}"

    @classmethod
    def parse(cls, vkey: str) -> CosignerKey:
        name, _, rest = vkey.strip().partition("+")
        hex_id, _, material = rest.partition("+")
        check_name(name)
        try:
            raw = base64.b64decode(material, validate=True)
            wanted = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise note.NoteError("malformed cosigner key") from None
        if len(raw) != 33 or raw[0] != COSIGNATURE_V1 or len(wanted) != 4:
            raise note.NoteError("not an Ed25519 cosignature/v1 key (type 0x04)")
        found = cls(name, Ed25519PublicKey.from_public_bytes(raw[1:]))
        if found.key_id != wanted:
            raise note.NoteError("the cosigner key's ID does not match its name and key")
        return found


@dataclass(frozen=True, slots=True)
class Cosigner:
    name: str
    key: Ed25519PrivateKey

    @property
    def public(self) -> CosignerKey:
        return CosignerKey(self.name, self.key.public_key())

    def signature_line(self, text: str, timestamp: int) -> str:
        if not 0 <= timestamp <= _MAX_TIMESTAMP:
            raise ValueError("a cosignature's time is between 0 and 2^63 - 1")
        signature = self.key.sign(cosignature_message(text, timestamp))
        value = self.public.key_id + timestamp.to_bytes(8, "big") + signature
        return f"{_DASH}{self.name} {base64.b64encode(value).decode()}\n"

    def cosign(self, signed: str, timestamp: int) -> str:
        """The signed note with this witness's cosignature added to its signatures, in
        place of any line already under this witness's key (an older cosignature of the
        same text, or a forged one the server passed along)."""
        text, signatures = note.parse(signed)
        block = signed[len(text) + 1 :].removesuffix("\n").split("\n")
        mine = (self.name, self.public.key_id)
        kept = [
            line + "\n"
            for line, sig in zip(block, signatures, strict=True)
            if (sig.name, sig.key_id) != mine
        ]
        return text + "\n" + "".join(kept) + self.signature_line(text, timestamp)

    def private_text(self) -> str:
        """The key in the text form of Go's signed-note keys (PRIVATE+KEY+name+id+seed), so
        the same file serves tools built on golang.org/x/mod/sumdb/note."""
        seed = self.key.private_bytes_raw()
        key_hash = note.key_id(self.name, _raw(self.key.public_key())).hex()
        material = base64.b64encode(bytes([note.ED25519]) + seed).decode()
        return f"{_PRIVATE_PREFIX}{self.name}+{key_hash}+{material}\n"

    @classmethod
    def parse_private(cls, text: str) -> Cosigner:
        if not text.startswith(_PRIVATE_PREFIX):
            raise note.NoteError("not a signed-note private key")
        name, _, rest = text.strip().removeprefix(_PRIVATE_PREFIX).partition("+")
        hex_id, _, material = rest.partition("+")
        check_name(name)
        try:
            raw = base64.b64decode(material, validate=True)
            wanted = bytes.fromhex(hex_id)
        except (binascii.Error, ValueError):
            raise note.NoteError("malformed private key") from None
        if len(raw) != 33 or raw[0] != note.ED25519:
            raise note.NoteError("only Ed25519 private keys are supported")
        found = cls(name, Ed25519PrivateKey.from_private_bytes(raw[1:]))
        if note.key_id(name, _raw(found.key.public_key())) != wanted:
            raise note.NoteError("the private key's ID does not match its name and key")
        return found


def cosignatures(signed: str, keys: Iterable[CosignerKey]) -> dict[str, int]:
    """The witnesses among `keys` that cosigned `signed`, with the time each signed.
    Raises NoteError when a known witness's cosignature does not verify; lines of other
    keys are ignored, as the signed-note spec asks."""
    text, signatures = note.parse(signed)
    known = {(k.name, k.key_id): k for k in keys}
    found: dict[str, int] = {}
    for sig in signatures:
        key = known.get((sig.name, sig.key_id))
        if key is None:
            continue
        timestamp = cosignature_time(sig)
        try:
            key.key.verify(sig.signature[8:], cosignature_message(text, timestamp))
        except InvalidSignature:
            raise note.NoteError(f"the cosignature of {sig.name} does not verify") from None
        found[sig.name] = timestamp
    return found


def cosignature_time(sig: note.Signature) -> int:
    """The time a cosignature/v1 line states (timestamped_signature.timestamp)."""
    if len(sig.signature) != 8 + 64:
        raise note.NoteError(f"malformed cosignature of {sig.name}")
    timestamp = int.from_bytes(sig.signature[:8], "big")
    if timestamp > _MAX_TIMESTAMP:
        raise note.NoteError(f"cosignature time of {sig.name} out of range")
    return timestamp


def check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name) or not name.isprintable():
        raise note.NoteError("a key name is non-empty, without spaces or '+'")
