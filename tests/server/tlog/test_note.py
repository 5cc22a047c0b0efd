"""C2SP signed notes and checkpoints: the spec's own example, then our signatures."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from server.tlog import checkpoint, merkle, note
from server.tlog.checkpoint import Checkpoint, CheckpointError
from server.tlog.note import NoteError, Signer, Verifier

# From c2sp.org/signed-note, "Verifier keys", Example.
SPEC_VKEY = "example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k"
SPEC_NOTE = (
    "This is an example message.\n"
    "\n"
    "\u2014 example.com/foo Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3"
    "mFXmRKuwHjG1Yu72IneyaQM=\n"
)


def test_the_spec_example_verifies_with_its_verifier_key() -> None:
    verifier = Verifier.parse(SPEC_VKEY)
    assert verifier.vkey() == SPEC_VKEY
    text, signed_by = note.verify(SPEC_NOTE, [verifier])
    assert text == "This is an example message.\n"
    assert signed_by == [verifier]


def test_one_changed_character_of_the_spec_example_fails() -> None:
    with pytest.raises(NoteError):
        note.verify(
            SPEC_NOTE.replace("example message", "example massage"), [Verifier.parse(SPEC_VKEY)]
        )


def test_a_verifier_key_whose_id_does_not_match_is_refused() -> None:
    with pytest.raises(NoteError):
        Verifier.parse(SPEC_VKEY.replace("+530d903a+", "+530d903b+"))
    with pytest.raises(NoteError):
        Verifier.parse(SPEC_VKEY.replace("example.com/foo", "example.com/bar"))


def _signer(name: str = "dmp.example/log") -> Signer:
    return Signer(name, Ed25519PrivateKey.generate())


def test_unknown_signatures_are_ignored_and_a_failing_known_one_rejects() -> None:
    log, witness = _signer(), _signer("witness.example/w1")
    signed = note.sign("hello\n", [log, witness])
    assert note.verify(signed, [log.verifier])[1] == [log.verifier]
    with pytest.raises(NoteError, match="no trusted key"):
        note.verify(signed, [_signer("someone.example").verifier])
    # Same name and key ID as a trusted key, but another signature: the note is rejected.
    forged = note.sign("hello\n", [Signer(log.name, Ed25519PrivateKey.generate())])
    with pytest.raises(NoteError):
        note.verify(forged, [log.verifier])


@pytest.mark.parametrize(
    "bad",
    [
        "no blank line\n\u2014 a AAAA\n",
        "text\n\nnot a signature line\n",
        "text\n\n\u2014 name !!notbase64!!\n",
        "text\n\n\u2014 name AAA=\n",
        "text\x01\n\n\u2014 name AAAAAAA=\n",
        "text\n\n\u2014 name AAAAAAA=",
    ],
)
def test_malformed_notes_are_refused(bad: str) -> None:
    with pytest.raises(NoteError):
        note.verify(bad, [_signer().verifier])


def test_a_checkpoint_round_trips_and_is_bound_to_its_origin() -> None:
    log = _signer("dmp.example/log")
    leaves = [merkle.leaf_hash(bytes([i])) for i in range(5)]
    head = Checkpoint("dmp.example/log", 5, merkle.root(leaves))
    signed = head.sign(log)
    assert signed.splitlines()[:3] == [head.origin, "5", head.text().split("\n")[2]]
    assert checkpoint.verify(signed, "dmp.example/log", [log.verifier]) == head
    with pytest.raises(CheckpointError):
        checkpoint.verify(signed, "other.example/log", [log.verifier])


ROOT = "A" * 43 + "="  # 32 zero bytes


def test_a_well_formed_checkpoint_text_parses() -> None:
    assert checkpoint.parse_text(f"o\n5\n{ROOT}\n") == Checkpoint("o", 5, bytes(32))


@pytest.mark.parametrize(
    "text",
    [
        f"o\n05\n{ROOT}\n",  # a leading zero
        f"o\n-1\n{ROOT}\n",
        "o\n5\n",  # no root
        f"o\n\u0665\n{ROOT}\n",  # an Arabic-Indic digit
        "o\n5\nAAAA\n",  # a root of 3 bytes
        f"\n5\n{ROOT}\n",  # no origin
    ],
)
def test_malformed_checkpoints_are_refused(text: str) -> None:
    with pytest.raises(CheckpointError):
        checkpoint.parse_text(text)
