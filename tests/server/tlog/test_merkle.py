"""RFC 9162 hashing and proofs against the transparency-dev/merkle vectors (not only
against themselves), then generated proofs over many tree sizes, each also altered."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from server.tlog import merkle
from server.tlog.merkle import ProofError

VECTORS = json.loads(
    (Path(__file__).parent / "vectors" / "transparency-dev-merkle.json").read_text()
)
REFERENCE = VECTORS["reference_tree"]
LEAVES = [merkle.leaf_hash(bytes.fromhex(h)) for h in REFERENCE["leaf_inputs_hex"]]


def b64(values: list[str] | None) -> list[bytes]:
    return [base64.b64decode(v) for v in values or []]


def test_the_vector_file_holds_every_published_case() -> None:
    # 98 + 98 files in testdata/inclusion and testdata/consistency at the pinned commit.
    assert len(VECTORS["inclusion"]) == 98
    assert len(VECTORS["consistency"]) == 98
    assert sum(not v["wantErr"] for v in VECTORS["inclusion"]) >= 4


@pytest.mark.parametrize("size", range(9))
def test_roots_of_the_reference_tree(size: int) -> None:
    assert merkle.root(LEAVES[:size]).hex() == REFERENCE["roots_hex_by_size"][size]


@pytest.mark.parametrize(
    "case", REFERENCE["inclusion_proofs"], ids=lambda c: f"{c['index']}@{c['size']}"
)
def test_inclusion_proofs_are_the_published_ones(case: dict[str, Any]) -> None:
    proof = merkle.inclusion_proof(LEAVES[: case["size"]], case["index"])
    assert [p.hex() for p in proof] == case["proof_hex"]


@pytest.mark.parametrize(
    "case", REFERENCE["consistency_proofs"], ids=lambda c: f"{c['old']}-{c['new']}"
)
def test_consistency_proofs_are_the_published_ones(case: dict[str, Any]) -> None:
    proof = merkle.consistency_proof(LEAVES[: case["new"]], case["old"])
    assert [p.hex() for p in proof] == case["proof_hex"]


@pytest.mark.parametrize(
    "case", VECTORS["inclusion"], ids=lambda c: c["file"].removeprefix("testdata/")
)
def test_inclusion_verification_vectors(case: dict[str, Any]) -> None:
    def check() -> None:
        merkle.verify_inclusion(
            base64.b64decode(case["leafHash"] or ""),
            case["leafIdx"],
            case["treeSize"],
            b64(case["proof"]),
            base64.b64decode(case["root"] or ""),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


@pytest.mark.parametrize(
    "case", VECTORS["consistency"], ids=lambda c: c["file"].removeprefix("testdata/")
)
def test_consistency_verification_vectors(case: dict[str, Any]) -> None:
    def check() -> None:
        merkle.verify_consistency(
            case["size1"],
            case["size2"],
            base64.b64decode(case["root1"] or ""),
            base64.b64decode(case["root2"] or ""),
            b64(case["proof"]),
        )

    if case["wantErr"]:
        with pytest.raises(ProofError):
            check()
    else:
        check()


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(i.to_bytes(4, "big")) for i in range(n)]


def _flip(proof: list[bytes], at: int) -> list[bytes]:
    changed = list(proof)
    changed[at] = bytes([changed[at][0] ^ 1]) + changed[at][1:]
    return changed


@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 8, 9, 16, 17, 33, 100])
def test_every_generated_inclusion_proof_verifies_and_no_altered_one_does(size: int) -> None:
    leaves = _leaves(size)
    top = merkle.root(leaves)
    for index in range(size):
        proof = merkle.inclusion_proof(leaves, index)
        merkle.verify_inclusion(leaves[index], index, size, proof, top)
        for at in range(len(proof)):
            with pytest.raises(ProofError):
                merkle.verify_inclusion(leaves[index], index, size, _flip(proof, at), top)
        other = leaves[(index + 1) % size]
        if other != leaves[index]:
            with pytest.raises(ProofError):
                merkle.verify_inclusion(other, index, size, proof, top)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 300).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_between_any_two_sizes(sizes: tuple[int, int]) -> None:
    old, new = sizes
    leaves = _leaves(new)
    old_root, new_root = merkle.root(leaves[:old]), merkle.root(leaves)
    proof = merkle.consistency_proof(leaves, old)
    merkle.verify_consistency(old, new, old_root, new_root, proof)
    for at in range(len(proof)):
        with pytest.raises(ProofError):
            merkle.verify_consistency(old, new, old_root, new_root, _flip(proof, at))
    # A log that rewrote an old entry cannot prove the new tree extends the old one.
    forked = [*leaves[: old - 1], merkle.leaf_hash(b"rewritten"), *leaves[old:]]
    with pytest.raises(ProofError):
        merkle.verify_consistency(
            old, new, old_root, merkle.root(forked), merkle.consistency_proof(forked, old)
        )


def test_bad_requests_for_proofs_are_refused() -> None:
    with pytest.raises(ProofError):
        merkle.inclusion_proof(_leaves(3), 3)
    with pytest.raises(ProofError):
        merkle.consistency_proof(_leaves(3), 0)
    with pytest.raises(ProofError):
        merkle.consistency_proof(_leaves(3), 4)
    with pytest.raises(ProofError):
        merkle.verify_inclusion(b"short", 0, 1, [], merkle.EMPTY_ROOT)
