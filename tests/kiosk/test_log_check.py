"""The kiosk's check of the log against a receipt's checkpoint (kiosk/log_check.py), on
trees built here with server.tlog: consistent growth accepted; a rewritten, shortened or
forked log, a forged or foreign checkpoint, and junk input refused."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from kiosk import log_check
from server.tlog import merkle, note
from server.tlog.checkpoint import Checkpoint

ORIGIN = "dmp-kiosk.test/trace"


def _leaves(n: int, altered: int | None = None) -> list[bytes]:
    return [
        merkle.leaf_hash(hashlib.sha256(f"{i}{'!' if i == altered else ''}".encode()).digest())
        for i in range(n)
    ]


def _head(leaves: list[bytes]) -> Checkpoint:
    return Checkpoint(ORIGIN, len(leaves), merkle.root(leaves))


def _source(leaves: list[bytes]) -> log_check.ConsistencySource:
    return lambda old, new: merkle.consistency_proof(leaves[:new], old)


@pytest.fixture
def signer() -> note.Signer:
    return note.Signer(ORIGIN, Ed25519PrivateKey.generate())


@pytest.mark.parametrize(("old", "new"), [(1, 1), (1, 2), (3, 8), (7, 13), (8, 8), (16, 17)])
def test_a_log_that_only_grew_is_consistent(old: int, new: int) -> None:
    log = _leaves(new)
    found = log_check.check(_head(log[:old]), _head(log), _source(log))
    assert (found.status, found.old_size, found.new_size) == ("consistent", old, new)


@pytest.mark.parametrize(("old", "new", "altered"), [(3, 8, 0), (7, 13, 6), (8, 8, 2), (5, 6, 4)])
def test_a_log_rewritten_under_the_receipt_is_caught(old: int, new: int, altered: int) -> None:
    receipt = _head(_leaves(old))
    rewritten = _leaves(new, altered=altered)  # every proof honestly computed on it
    assert log_check.check(receipt, _head(rewritten), _source(rewritten)).status == "rewritten"


def test_a_shorter_log_is_caught_and_a_silent_server_is_said() -> None:
    log = _leaves(9)
    assert log_check.check(_head(log), _head(log[:5]), _source(log)).status == "rewritten"
    silent = log_check.check(_head(log[:4]), _head(log), lambda old, new: None)
    assert silent.status == "unavailable"
    assert log_check.check(_head(log[:4]), _head(log), lambda o, n: []).status == "rewritten"


def test_a_checkpoint_is_read_typed_or_pasted(signer: note.Signer) -> None:
    head = _head(_leaves(5))
    signed = head.sign(signer)
    assert log_check.read_checkpoint(signed, signer.verifier, ORIGIN) == head
    # Typed from the paper: three lines, spaces and Windows line ends forgiven.
    typed = "  " + head.text().replace("\n", " \r\n")
    assert log_check.read_checkpoint(typed, signer.verifier, ORIGIN) == head


@pytest.mark.parametrize(
    "text",
    [
        "",
        "n'importe quoi",
        "dmp-kiosk.test/trace\n5\nAAAA\n",  # a root that is no SHA-256
        "dmp-kiosk.test/trace\n٥\n" + "A" * 43 + "=\n",  # a non-ASCII digit
        "other.log/trace\n5\n" + "A" * 43 + "=\n",  # another log
        "x" * 100_000,
        "\x00\n\ud800\n",
    ],
)
def test_junk_is_no_checkpoint(text: str, signer: note.Signer) -> None:
    assert log_check.read_checkpoint(text, signer.verifier, ORIGIN) is None


def test_a_forged_or_foreign_signature_is_refused(signer: note.Signer) -> None:
    head = _head(_leaves(5))
    other = note.Signer(ORIGIN, Ed25519PrivateKey.generate())
    assert log_check.read_checkpoint(head.sign(other), signer.verifier, ORIGIN) is None
    lines = head.sign(signer).rstrip("\n").split("\n")
    lines[1] = "6"  # the size changed under the signature
    assert log_check.read_checkpoint("\n".join(lines) + "\n", signer.verifier, ORIGIN) is None
