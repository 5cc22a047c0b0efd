"""Checking a page of the access history against the verifiable log, from the page alone.

What a patient's side (the kiosk's "Vérifier mon historique", or any software) does with
a history page (`chain`, each line's `seq`, `hash` and `log_index`, the signed
`checkpoint`) and the log key it was given out of band (pinned, never the one the server
serves): verify the checkpoint's signature, recompute each line's leaf from what it was
shown, and verify its inclusion proof against the checkpoint's root. Pure: the proofs
come from a callable, so that the kiosk fetches them through its own client and tests
hand them in directly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from server.tlog import checkpoint, merkle, note
from server.tlog.entries import leaf_entry

ProofSource = Callable[[int, int], Sequence[bytes] | None]  # (index, size) -> proof


@dataclass(frozen=True, slots=True)
class Verdict:
    """`status`: verified (every line proven), unsigned (the checkpoint is missing or not
    signed by the pinned key), altered (a line does not prove inclusion: `failed` holds
    their `seq`), unavailable (a proof could not be fetched). `pending`: lines too
    recent to be in the checkpoint yet (sequenced about a second after the action)."""

    status: str
    checked: int = 0
    pending: int = 0
    size: int | None = None
    failed: tuple[int, ...] = ()


def verify_page(
    page: Mapping[str, Any], proofs: ProofSource, verifier: note.Verifier, origin: str
) -> Verdict:
    signed = page.get("checkpoint")
    if not isinstance(signed, str):
        return Verdict("unsigned")
    try:
        head = checkpoint.verify(signed, origin, [verifier])
    except (note.NoteError, checkpoint.CheckpointError):
        return Verdict("unsigned")
    chain = str(page.get("chain", ""))
    checked, pending, failed = 0, 0, []
    for line in page.get("entries", []):
        index = line.get("log_index")
        if not isinstance(index, int) or index >= head.size:
            pending += 1
            continue
        proof = proofs(index, head.size)
        if proof is None:
            return Verdict("unavailable", checked, pending, head.size)
        leaf = merkle.leaf_hash(leaf_entry(chain, int(line["seq"]), str(line["hash"])))
        try:
            merkle.verify_inclusion(leaf, index, head.size, proof, head.root)
        except merkle.ProofError:
            failed.append(int(line["seq"]))
            continue
        checked += 1
    if failed:
        return Verdict("altered", checked, pending, head.size, tuple(failed))
    return Verdict("verified", checked, pending, head.size)
