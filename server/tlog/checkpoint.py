"""Transparency log checkpoints (c2sp.org/tlog-checkpoint): a signed note whose text is
the log's origin, its tree size and its root hash, one per line."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from server.tlog import note
from server.tlog.merkle import HASH_SIZE


class CheckpointError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    def sign(self, signer: note.Signer) -> str:
        return note.sign(self.text(), [signer])


def parse_text(text: str) -> Checkpoint:
    lines = text.removesuffix("\n").split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise CheckpointError("a checkpoint is an origin, a size and a root hash")
    origin, size, root = lines[:3]
    # Decimal, no leading zero (unless 0), ASCII only: one text per tree head.
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise CheckpointError("malformed tree size")
    try:
        digest = base64.b64decode(root, validate=True)
    except binascii.Error:
        raise CheckpointError("malformed root hash") from None
    if len(digest) != HASH_SIZE:
        raise CheckpointError("malformed root hash")
    return Checkpoint(origin, int(size), digest)


def verify(signed: str, origin: str, verifiers: Iterable[note.Verifier]) -> Checkpoint:
    """The checkpoint of a signed note from the log `origin`, verified by a trusted key.
    Raises note.NoteError or CheckpointError."""
    text, _ = note.verify(signed, verifiers)
    checkpoint = parse_text(text)
    if checkpoint.origin != origin:
        raise CheckpointError("checkpoint of another log")
    return checkpoint
