"""The log proven consistent with the checkpoint on a patient's receipt (issue 14).

A signed receipt carries the log's checkpoint at the time of the change (origin, tree
size, root hash). Later, "Vérifier mon historique" asks the server for a consistency
proof from that size to the current checkpoint and checks it (RFC 9162, 2.1.4): if the
log has been rewritten since the receipt (an entry altered, removed or reordered, even
with every checkpoint signed again), no proof can lead from the receipt's root to the
current one. Pure: the proof comes from a callable, as in server/tlog/history.py.

The checkpoint comes from the patient's last receipt (fetched from the server, inside
the receipt's signed content), or typed or pasted from a receipt's QR code: the whole
signed note (its signature is then checked against the kiosk's pinned log key) or only
its three lines (origin, size, root hash), which the receipt's own signature covered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from server.tlog import checkpoint, merkle, note

# (old size, new size) -> proof hashes; None: the server gave none (unavailable or refused)
ConsistencySource = Callable[[int, int], Sequence[bytes] | None]
MAX_TYPED = 2000  # a signed note with a few signatures; anything longer is not one


@dataclass(frozen=True, slots=True)
class Consistency:
    """`status`: consistent, rewritten (no valid proof: the log changed under the
    receipt), malformed (the checkpoint typed cannot be read, or is another log's or
    badly signed), unavailable (the server did not answer)."""

    status: str
    old_size: int | None = None
    new_size: int | None = None


def read_checkpoint(
    text: str, verifier: note.Verifier, origin: str
) -> checkpoint.Checkpoint | None:
    """The checkpoint in what was typed or pasted; None when it is not one of this log."""
    if len(text) > MAX_TYPED:
        return None
    cleaned = "\n".join(line.strip() for line in text.replace("\r\n", "\n").split("\n"))
    cleaned = cleaned.strip("\n") + "\n"
    try:
        if "\n\n" in cleaned:
            return checkpoint.verify(cleaned, origin, [verifier])
        head = checkpoint.parse_text(cleaned)
    except (note.NoteError, checkpoint.CheckpointError):
        return None
    return head if head.origin == origin else None


def check(
    receipt_head: checkpoint.Checkpoint,
    current: checkpoint.Checkpoint,
    proofs: ConsistencySource,
) -> Consistency:
    old, new = receipt_head.size, current.size
    if old > new:
        # The log is shorter now than when the receipt was signed: entries were removed.
        return Consistency("rewritten", old, new)
    if old == new:
        same = receipt_head.root == current.root
        return Consistency("consistent" if same else "rewritten", old, new)
    proof = proofs(old, new)
    if proof is None:
        return Consistency("unavailable", old, new)
    try:
        merkle.verify_consistency(old, new, receipt_head.root, current.root, proof)
    except merkle.ProofError:
        return Consistency("rewritten", old, new)
    return Consistency("consistent", old, new)
