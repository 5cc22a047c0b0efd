"""server/tlog/history.py: a history page checked against the log from the page alone."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.tlog import checkpoint, merkle, note
from server.tlog.history import leaf_entry, verify_page

ORIGIN = "example.invalid/trace"
CHAIN = "patient:7"


def _log(lines: int) -> tuple[list[bytes], list[dict[str, Any]]]:
    """A log of `lines` trace entries of one chain (other chains' leaves between them),
    and the history lines that show them."""
    leaves: list[bytes] = []
    shown = []
    for seq in range(1, lines + 1):
        leaves.append(merkle.leaf_hash(leaf_entry("patient:9", seq, "ab" * 32)))
        link = hashlib.sha256(f"entry {seq}".encode()).hexdigest()
        shown.append({"seq": seq, "hash": link, "log_index": len(leaves), "at": f"t{seq}"})
        leaves.append(merkle.leaf_hash(leaf_entry(CHAIN, seq, link)))
    return leaves, shown


def _page(leaves: list[bytes], shown: list[dict[str, Any]], key: Ed25519PrivateKey) -> Any:
    head = checkpoint.Checkpoint(ORIGIN, len(leaves), merkle.root(leaves))
    signed = head.sign(note.Signer(ORIGIN, key))
    return {"chain": CHAIN, "checkpoint": signed, "entries": list(reversed(shown))}


def _source(leaves: list[bytes]) -> Any:
    return lambda index, size: merkle.inclusion_proof(leaves[:size], index)


def test_every_line_shown_is_proven() -> None:
    key = Ed25519PrivateKey.generate()
    leaves, shown = _log(7)
    verdict = verify_page(_page(leaves, shown, key), _source(leaves), _verifier(key), ORIGIN)
    assert (verdict.status, verdict.checked, verdict.pending, verdict.size) == (
        "verified",
        7,
        0,
        14,
    )


def test_lines_newer_than_the_checkpoint_are_pending_not_failed() -> None:
    key = Ed25519PrivateKey.generate()
    leaves, shown = _log(5)
    page = _page(leaves, shown, key)
    page["entries"].insert(0, {"seq": 6, "hash": "cd" * 32, "log_index": None, "at": "t6"})
    page["entries"].insert(0, {"seq": 7, "hash": "ef" * 32, "log_index": 99, "at": "t7"})
    verdict = verify_page(page, _source(leaves), _verifier(key), ORIGIN)
    assert (verdict.status, verdict.checked, verdict.pending) == ("verified", 5, 2)


def test_a_rewritten_removed_or_reordered_line_is_caught() -> None:
    key = Ed25519PrivateKey.generate()
    leaves, shown = _log(6)
    rewritten = [dict(line) for line in shown]
    rewritten[2]["hash"] = hashlib.sha256(b"another text").hexdigest()
    reordered = [dict(line) for line in shown]
    reordered[1]["log_index"], reordered[4]["log_index"] = (
        shown[4]["log_index"],
        shown[1]["log_index"],
    )
    # A removed entry: the server renumbers what follows to hide the gap.
    renumbered = [dict(line, seq=line["seq"] - 1) if line["seq"] > 3 else line for line in shown]
    del renumbered[2]
    for page_lines, failed in ((rewritten, (3,)), (reordered, (5, 2)), (renumbered, (5, 4, 3))):
        page = _page(leaves, shown, key)
        page["entries"] = list(reversed(page_lines))
        verdict = verify_page(page, _source(leaves), _verifier(key), ORIGIN)
        assert verdict.status == "altered"
        assert verdict.failed == failed


def test_a_checkpoint_not_signed_by_the_pinned_key_proves_nothing() -> None:
    key, other = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    leaves, shown = _log(3)
    page = _page(leaves, shown, other)  # the server's key changed, or a forger's
    assert verify_page(page, _source(leaves), _verifier(key), ORIGIN).status == "unsigned"
    assert verify_page(page, _source(leaves), _verifier(other), "x.invalid/log").status == (
        "unsigned"
    )
    page["checkpoint"] = None
    assert verify_page(page, _source(leaves), _verifier(key), ORIGIN).status == "unsigned"


def test_a_missing_proof_interrupts_the_check() -> None:
    key = Ed25519PrivateKey.generate()
    leaves, shown = _log(3)
    verdict = verify_page(_page(leaves, shown, key), lambda i, s: None, _verifier(key), ORIGIN)
    assert verdict.status == "unavailable"


def _verifier(key: Ed25519PrivateKey) -> note.Verifier:
    return note.Signer(ORIGIN, key).verifier
