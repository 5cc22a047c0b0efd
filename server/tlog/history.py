"""Checking a page of the access history against the verifiable log, from the page alone.

What a patient's side (the kiosk's "Vérifier mon historique", or any software) does with
a history page (`chain`, each line's `seq`, `hash` and `log_index`, the signed
`checkpoint`) and the log key it was given out of band (pinned, never the one the server
serves): verify the checkpoint's signature, recompute each line's leaf from what it was
shown, and verify its inclusion proof against the checkpoint's root. The line's hash is
itself recomputed from every field it covers (`hashed`, given with each line) and the
previous line's hash, and the words shown are checked against those fields, so that a
line whose content was changed and its hash left alone fails too. Pure: the proofs
come from a callable, so that the kiosk fetches them through its own client and tests
hand them in directly.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from server.tlog import checkpoint, links, merkle, note
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
    lines = list(page.get("entries", []))
    failed = [int(line["seq"]) for line in lines if not _gives_its_hash(chain, line)]
    failed += _broken_links(lines)
    checked, pending = 0, 0
    for line in lines:
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
        return Verdict("altered", checked, pending, head.size, tuple(sorted(set(failed))))
    return Verdict("verified", checked, pending, head.size)


# What a line shows, and the hashed field it must equal.
_SHOWN = {"action": "action", "mode": "mode", "outcome": "outcome", "reason": "reason"}
_SHOWN |= {"category": "category"}
_ACTOR = {"kind": "actor_kind", "name": "actor_name", "profession": "actor_profession"}
_ACTOR |= {"structure": "actor_structure"}


def _gives_its_hash(chain: str, line: Mapping[str, Any]) -> bool:
    """The line's hash recomputed from its hashed fields and the previous hash, and what
    the line shows (who, what, how, when, its parameters) equal to those fields."""
    hashed, prev = line.get("hashed"), line.get("prev_hash")
    if not isinstance(hashed, Mapping) or not isinstance(prev, str):
        return False
    try:
        if links.link_hash(prev, hashed) != line.get("hash"):
            return False
        detail = json.loads(hashed["detail"])
        at = datetime.fromisoformat(str(hashed["at"]))
        shown_at = datetime.fromisoformat(str(line.get("at")))
    except (KeyError, TypeError, ValueError):
        return False
    actor = line.get("actor")
    params = line.get("params")
    if not isinstance(actor, Mapping) or not isinstance(params, Mapping):
        return False
    if not isinstance(detail, dict):
        return False
    return (
        hashed["chain"] == chain
        and hashed["seq"] == line.get("seq")
        and at == shown_at
        and all(line.get(shown) == hashed[name] for shown, name in _SHOWN.items())
        and all(actor.get(shown) == hashed[name] for shown, name in _ACTOR.items())
        and all(key in detail and detail[key] == value for key, value in params.items())
    )


def _broken_links(lines: Sequence[Mapping[str, Any]]) -> list[int]:
    """Lines whose previous hash is not the hash of the line just before them, when the
    page shows both (a secret line hidden from a representative leaves a gap, not a break)."""
    by_seq = {line.get("seq"): line for line in lines}
    broken = []
    for seq, line in by_seq.items():
        if not isinstance(seq, int):
            continue
        before = by_seq.get(seq - 1)
        if before is not None and line.get("prev_hash") != before.get("hash"):
            broken.append(seq)
    return broken
