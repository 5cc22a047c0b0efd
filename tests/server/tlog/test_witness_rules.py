"""The witness's rules and cosignatures, and the patient's check of their entries, without
HTTP or a database: generated trees, the spec's example, altered inputs that must fail."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from server.services import trace_log
from server.tlog import entries, merkle, note, witness
from server.tlog.checkpoint import Checkpoint
from server.tlog.entries import LoggedEntry, Problem

ORIGIN = "example.org/log"


def _leaves(n: int, salt: str = "") -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}{salt}".encode()) for i in range(n)]


def _head(leaves: list[bytes]) -> Checkpoint:
    return Checkpoint(ORIGIN, len(leaves), merkle.root(leaves))


def _advance(leaves: list[bytes], old: Checkpoint, new: Checkpoint) -> None:
    sizes = witness.proof_sizes(old, new)
    proof = merkle.consistency_proof(leaves, sizes[0]) if sizes and new.size > old.size else []
    witness.check_advance(old, new, proof)


@pytest.fixture
def log_signer() -> note.Signer:
    return note.Signer(ORIGIN, Ed25519PrivateKey.generate())


# ---- signatures on checkpoints ---------------------------------------------------------


def test_a_checkpoint_verifies_only_with_the_pinned_key(log_signer: note.Signer) -> None:
    head = _head(_leaves(5))
    assert witness.verify_signed(head.sign(log_signer), log_signer.verifier) == head
    impostor = note.Signer(ORIGIN, Ed25519PrivateKey.generate())
    with pytest.raises(witness.SignatureInvalid, match="no trusted key"):
        witness.verify_signed(head.sign(impostor), log_signer.verifier)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.replace("\n5\n", "\n6\n"),  # another size under the same signature
        lambda s: s.replace(ORIGIN, "other.org/log"),
        lambda s: s.split("\n\n")[0] + "\n",  # no signature at all
        lambda s: "not a note",
    ],
)
def test_an_altered_checkpoint_is_refused(log_signer: note.Signer, mangle: object) -> None:
    signed = _head(_leaves(5)).sign(log_signer)
    with pytest.raises(witness.SignatureInvalid):
        witness.verify_signed(mangle(signed), log_signer.verifier)  # type: ignore[operator]


def test_a_checkpoint_of_another_log_is_refused() -> None:
    # The log's key name is its origin: a key of the same material under another name
    # does not verify this log's checkpoints.
    key = Ed25519PrivateKey.generate()
    signed = _head(_leaves(3)).sign(note.Signer(ORIGIN, key))
    with pytest.raises(witness.SignatureInvalid):
        witness.verify_signed(signed, note.Signer("other.org/log", key).verifier)


# ---- the witness's rule: the log only grows ---------------------------------------------


@pytest.mark.parametrize(("old", "new"), [(1, 1), (1, 2), (3, 8), (7, 7), (8, 13), (5, 300)])
def test_a_growing_log_is_accepted(old: int, new: int) -> None:
    leaves = _leaves(new)
    _advance(leaves, _head(leaves[:old]), _head(leaves))


def test_the_first_checkpoint_is_accepted_without_a_proof() -> None:
    witness.check_advance(None, _head(_leaves(4)), [])


@pytest.mark.parametrize("victim", [0, 3, 6])
def test_a_rewritten_old_entry_is_inconsistent(victim: int) -> None:
    leaves = _leaves(9)
    old = _head(leaves[:7])
    forged = list(leaves)
    forged[victim] = merkle.leaf_hash(b"rewritten")
    with pytest.raises(witness.Inconsistent, match="does not extend"):
        _advance(forged, old, _head(forged))


def test_removed_entries_are_a_rollback() -> None:
    leaves = _leaves(10)
    old = _head(leaves)
    shorter = leaves[:3] + leaves[5:]
    with pytest.raises(witness.Rollback, match="from size 10 to 8"):
        witness.check_advance(old, _head(shorter), [])


def test_removed_entries_hidden_by_new_ones_are_inconsistent() -> None:
    leaves = _leaves(10)
    old = _head(leaves)
    refilled = leaves[:3] + leaves[5:] + _leaves(4, salt="new")
    with pytest.raises(witness.Inconsistent):
        _advance(refilled, old, _head(refilled))


def test_two_reordered_entries_are_a_split_view() -> None:
    leaves = _leaves(6)
    swapped = list(leaves)
    swapped[1], swapped[2] = swapped[2], swapped[1]
    with pytest.raises(witness.SplitView, match="size 6"):
        witness.check_advance(_head(leaves), _head(swapped), [])


def test_a_proof_for_the_true_log_does_not_save_a_forged_head() -> None:
    leaves = _leaves(12)
    old, new = _head(leaves[:5]), _head(leaves)
    proof = merkle.consistency_proof(leaves, 5)
    forged = Checkpoint(ORIGIN, 12, hashlib.sha256(b"other").digest())
    with pytest.raises(witness.Inconsistent):
        witness.check_advance(old, forged, proof)
    with pytest.raises(witness.Inconsistent, match="too long"):
        witness.check_advance(old, new, proof * 70)


@pytest.mark.parametrize(("a", "b"), [(3, 9), (9, 3), (9, 9)])
def test_a_seen_checkpoint_is_checked_in_either_direction(a: int, b: int) -> None:
    leaves = _leaves(9)
    first, second = _head(leaves[:a]), _head(leaves[:b])
    sizes = witness.proof_sizes(first, second)
    proof = merkle.consistency_proof(leaves[: max(a, b)], min(a, b)) if sizes else []
    witness.check_pair(first, second, proof)
    fork = _leaves(9, salt="fork")
    with pytest.raises(witness.Inconsistent):
        witness.check_pair(first, _head(fork[:b]), proof)


def test_the_empty_tree_needs_no_proof_but_has_one_root() -> None:
    empty = Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT)
    assert witness.proof_sizes(empty, _head(_leaves(3))) is None
    witness.check_pair(empty, _head(_leaves(3)), [])
    with pytest.raises(witness.Inconsistent):
        witness.check_pair(Checkpoint(ORIGIN, 0, bytes(32)), _head(_leaves(3)), [])
    with pytest.raises(witness.Rollback):
        witness.check_advance(_head(_leaves(3)), empty, [])


# ---- cosignatures -----------------------------------------------------------------------

# c2sp.org/tlog-cosignature's example: its signed message shows "time 1679315147", which
# the example's witness line must carry after its key ID.
SPEC_EXAMPLE = (
    "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n"
    "\u2014 example.com/behind-the-sofa Az3grlgtzPICa5OS8npVmf1Myq/5IZniMp+ZJurmRDeOoRDe4URY"
    "N7u5/Zhcyv2q1gGzGku9nTo+zyWE+xeMcTOAYQ8=\n"
    "\u2014 witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZC"
    "B9dlrDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
)


def test_the_specs_example_cosignature_reads_as_the_spec_says() -> None:
    _, signatures = note.parse(SPEC_EXAMPLE)
    cosig = signatures[1]
    assert cosig.name == "witness.example.com/w1"
    assert witness.cosignature_time(cosig) == 1679315147
    with pytest.raises(note.NoteError):
        witness.cosignature_time(signatures[0])  # a plain note signature has no time


def _independent_check(line: str, text: str, public: bytes, name: str) -> int:
    """The spec's verification written out again, apart from the code under test."""
    _, _, encoded = line.rstrip("\n").partition(f"\u2014 {name} ")
    raw = base64.b64decode(encoded)
    assert raw[:4] == hashlib.sha256(name.encode() + b"\n\x04" + public).digest()[:4]
    timestamp = int.from_bytes(raw[4:12], "big")
    message = b"cosignature/v1\ntime " + str(timestamp).encode() + b"\n" + text.encode()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(public).verify(raw[12:], message)
    return timestamp


def test_a_cosignature_follows_the_spec(log_signer: note.Signer) -> None:
    cosigner = witness.Cosigner("witness.example/w1", Ed25519PrivateKey.generate())
    head = _head(_leaves(5))
    signed = head.sign(log_signer)
    cosigned = cosigner.cosign(signed, 1_700_000_000)
    public = cosigner.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    line = cosigned.removeprefix(signed)
    assert _independent_check(line, head.text(), public, cosigner.name) == 1_700_000_000
    # The log's own signature still verifies, the cosignature being of an unknown key.
    assert witness.verify_signed(cosigned, log_signer.verifier) == head
    assert witness.cosignatures(cosigned, [cosigner.public]) == {cosigner.name: 1_700_000_000}


def test_a_second_cosignature_replaces_the_first(log_signer: note.Signer) -> None:
    cosigner = witness.Cosigner("witness.example/w1", Ed25519PrivateKey.generate())
    other = witness.Cosigner("witness.example/w2", Ed25519PrivateKey.generate())
    signed = _head(_leaves(5)).sign(log_signer)
    both = other.cosign(cosigner.cosign(signed, 1_700_000_000), 1_700_000_001)
    again = cosigner.cosign(both, 1_700_000_060)
    assert again.count("witness.example/w1") == 1
    keys = [cosigner.public, other.public]
    assert witness.cosignatures(again, keys) == {
        "witness.example/w1": 1_700_000_060,
        "witness.example/w2": 1_700_000_001,
    }
    assert witness.verify_signed(again, log_signer.verifier) == _head(_leaves(5))


def test_a_cosignature_binds_its_time_and_text(log_signer: note.Signer) -> None:
    cosigner = witness.Cosigner("witness.example/w1", Ed25519PrivateKey.generate())
    signed = _head(_leaves(5)).sign(log_signer)
    line = cosigner.signature_line(note.parse(signed)[0], 1_700_000_000)
    raw = bytearray(base64.b64decode(line.split(" ")[2]))
    raw[11] ^= 1  # another time under the same signature
    moved = line.split(" ")[0] + " " + line.split(" ")[1] + " " + base64.b64encode(raw).decode()
    with pytest.raises(note.NoteError, match="does not verify"):
        witness.cosignatures(signed + moved + "\n", [cosigner.public])
    other_text = _head(_leaves(6)).sign(log_signer)
    with pytest.raises(note.NoteError, match="does not verify"):
        witness.cosignatures(other_text + line, [cosigner.public])
    stranger = witness.Cosigner("witness.example/w1", Ed25519PrivateKey.generate())
    assert witness.cosignatures(signed + line, [stranger.public]) == {}


def test_cosigner_keys_round_trip_and_refuse_the_wrong_type() -> None:
    cosigner = witness.Cosigner("witness.example/w1", Ed25519PrivateKey.generate())
    vkey = cosigner.public.vkey()
    assert witness.CosignerKey.parse(vkey).key_id == cosigner.public.key_id
    name, key_id, material = vkey.split("+", 2)
    raw = base64.b64decode(material)
    as_note_key = base64.b64encode(b"\x01" + raw[1:]).decode()
    with pytest.raises(note.NoteError, match="0x04"):
        witness.CosignerKey.parse(f"{name}+{key_id}+{as_note_key}")
    with pytest.raises(note.NoteError, match="does not match"):
        witness.CosignerKey.parse(f"other+{key_id}+{material}")
    again = witness.Cosigner.parse_private(cosigner.private_text())
    assert again.public.vkey() == vkey
    with pytest.raises(note.NoteError):
        witness.Cosigner.parse_private(cosigner.private_text().replace("w1", "w2"))


# The example key of golang.org/x/mod/sumdb/note's documentation: the witness's key file
# is in the same form, so Go tools (transparency-dev/formats' cosigner) can use it too.
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"


def test_the_key_file_reads_and_writes_gos_private_keys() -> None:
    cosigner = witness.Cosigner.parse_private(GO_SKEY)
    assert cosigner.private_text() == GO_SKEY + "\n"
    assert note.Signer(cosigner.name, cosigner.key).verifier.vkey() == GO_VKEY
    # The cosigner key is the same public key under type 0x04, hence another key ID.
    public = witness.CosignerKey.parse(cosigner.public.vkey())
    material = [base64.b64decode(k.split("+", 2)[2]) for k in (public.vkey(), GO_VKEY)]
    assert material[0] == b"\x04" + material[1][1:]
    assert public.key_id.hex() != "c74f20a3"


# ---- the patient's check of their entries ----------------------------------------------


def _logged(n: int) -> tuple[list[LoggedEntry], list[bytes]]:
    chain = "patient:7"
    found = [
        LoggedEntry(chain, seq, hashlib.sha256(f"link {seq}".encode()).hexdigest(), seq + 9)
        for seq in range(1, n + 1)
    ]
    leaves = _leaves(10)  # other chains' entries come first
    leaves += [merkle.leaf_hash(entries.leaf_entry(e.chain, e.seq, e.link_hash)) for e in found]
    return found, leaves


def _proofs(leaves: list[bytes], size: int) -> dict[int, list[bytes]]:
    return {i: merkle.inclusion_proof(leaves[:size], i) for i in range(size)}


def test_the_leaf_text_is_the_servers() -> None:
    assert entries.leaf_entry("patient:3", 12, "ab" * 32) == trace_log.leaf_entry(
        "patient:3", 12, "ab" * 32
    )


def test_entries_in_the_log_as_shown_pass() -> None:
    found, leaves = _logged(6)
    assert entries.verify_entries(found, _head(leaves), _proofs(leaves, len(leaves))) == []


def test_altered_removed_and_duplicated_entries_are_named() -> None:
    found, leaves = _logged(6)
    head, proofs = _head(leaves), _proofs(leaves, len(leaves))
    altered = [*found[:2], LoggedEntry("patient:7", 3, "00" * 32, found[2].index), *found[3:]]
    assert [(f.seq, f.problem) for f in entries.verify_entries(altered, head, proofs)] == [
        (3, Problem.NOT_IN_LOG)
    ]
    removed = found[:2] + found[4:]
    assert [(f.seq, f.problem) for f in entries.verify_entries(removed, head, proofs)] == [
        (3, Problem.MISSING),
        (4, Problem.MISSING),
    ]
    swapped = [*found[:1], found[2], found[1], *found[3:]]
    swapped = [LoggedEntry(e.chain, i + 1, e.link_hash, e.index) for i, e in enumerate(swapped)]
    assert {f.seq for f in entries.verify_entries(swapped, head, proofs)} == {2, 3}
    doubled = [*found, found[0]]
    assert [f.problem for f in entries.verify_entries(doubled, head, proofs)] == [Problem.DUPLICATE]


def test_an_entry_newer_than_the_checkpoint_is_pending_not_tampered() -> None:
    found, leaves = _logged(6)
    size = len(leaves) - 2
    head = _head(leaves[:size])
    pending = [*found, LoggedEntry("patient:7", 7, "cd" * 32, None)]
    findings = entries.verify_entries(pending, head, _proofs(leaves, size))
    assert [(f.seq, f.problem) for f in findings] == [
        (5, Problem.NOT_YET_LOGGED),
        (6, Problem.NOT_YET_LOGGED),
        (7, Problem.NOT_YET_LOGGED),
    ]
    assert entries.tampered(findings) == []
