"""server/tlog/history.py: a history page checked against the log from the page alone."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.tlog import checkpoint, links, merkle, note
from server.tlog.history import leaf_entry, verify_page

ORIGIN = "example.invalid/trace"
CHAIN = "patient:7"


def _line(seq: int, prev: str, **shown: Any) -> dict[str, Any]:
    """A history line as the server gives it: its words' fields, every hashed field and
    the link hashes (server/services/history.py)."""
    at = f"2026-11-{seq:02d}T10:00:00.000000Z"
    fields = {"action": "document:read", "mode": "normal", "outcome": "allowed"}
    fields |= {"reason": "matrix", "category": None} | shown
    actor = {"kind": "professional", "name": "Dr Paul MARTIN", "profession": "medecin"}
    actor |= {"structure": "750000001"}
    hashed = {"chain": CHAIN, "seq": seq, "at": at, "actor_id": 3, "target": "dossier:1"}
    hashed |= {f"actor_{k}": v for k, v in actor.items()} | fields
    hashed |= {"detail": '{"op":"read","read":1}', "kiosk": "borne-1"}
    line = {"seq": seq, "at": at, "actor": actor, "params": {"read": 1}, **fields}
    return line | {"hashed": hashed, "prev_hash": prev, "hash": links.link_hash(prev, hashed)}


def _log(lines: int) -> tuple[list[bytes], list[dict[str, Any]]]:
    """A log of `lines` trace entries of one chain (other chains' leaves between them),
    and the history lines that show them."""
    leaves: list[bytes] = []
    shown = []
    prev = links.GENESIS
    for seq in range(1, lines + 1):
        leaves.append(merkle.leaf_hash(leaf_entry("patient:9", seq, "ab" * 32)))
        line = _line(seq, prev)
        prev = line["hash"]
        shown.append(line | {"log_index": len(leaves)})
        leaves.append(merkle.leaf_hash(leaf_entry(CHAIN, seq, line["hash"])))
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
    newer = _line(6, shown[-1]["hash"]) | {"log_index": None}
    page["entries"].insert(0, newer)
    page["entries"].insert(0, _line(7, newer["hash"]) | {"log_index": 99})
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
    for page_lines, failed in ((rewritten, (3, 4)), (reordered, (2, 5)), (renumbered, (3, 4, 5))):
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


def test_a_line_whose_words_or_fields_were_changed_is_caught() -> None:
    """The log holds the line's hash, but what the page shows is not what was hashed:
    a line rewritten with its hash left alone, or words that say something else."""
    key = Ed25519PrivateKey.generate()
    leaves, shown = _log(4)
    cases: list[tuple[str, Any]] = [
        ("hashed field", lambda line: line["hashed"].update(actor_name="Dr Autre NOM")),
        ("detail", lambda line: line["hashed"].update(detail='{"op":"read","read":9}')),
        ("shown name", lambda line: line["actor"].update(name="Dr Autre NOM")),
        ("shown mode", lambda line: line.update(mode="bris_de_glace")),
        ("shown outcome", lambda line: line.update(outcome="denied")),
        ("shown time", lambda line: line.update(at="2026-11-20T10:00:00.000000Z")),
        ("shown count", lambda line: line["params"].update(read=5)),
        ("a parameter not hashed", lambda line: line["params"].update(reason="urgence")),
        ("no fields", lambda line: line.pop("hashed")),
        ("previous hash", lambda line: line.update(prev_hash="00" * 32)),
    ]
    for what, change in cases:
        lines = [
            {**line, "actor": dict(line["actor"]), "params": dict(line["params"])} for line in shown
        ]
        lines[2]["hashed"] = dict(lines[2]["hashed"])
        change(lines[2])
        page = _page(leaves, shown, key)
        page["entries"] = list(reversed(lines))
        verdict = verify_page(page, _source(leaves), _verifier(key), ORIGIN)
        assert (verdict.status, verdict.failed) == ("altered", (3,)), what


def test_a_gap_left_by_a_hidden_line_is_not_a_break() -> None:
    """A representative does not see the minor's secret lines: the page skips a number,
    which is not a broken link."""
    key = Ed25519PrivateKey.generate()
    leaves, shown = _log(5)
    page = _page(leaves, [line for line in shown if line["seq"] != 3], key)
    verdict = verify_page(page, _source(leaves), _verifier(key), ORIGIN)
    assert (verdict.status, verdict.checked) == ("verified", 4)
