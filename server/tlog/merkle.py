"""Merkle tree hashing and proofs of RFC 9162 section 2.1 (Certificate Transparency v2).

The same hashing as RFC 6962: a leaf hashes as SHA-256(0x00 || entry), an inner node as
SHA-256(0x01 || left || right), and a tree of n > 1 leaves splits at k, the largest power
of two smaller than n. Proofs are generated from the list of leaf hashes and verified with
the algorithms of sections 2.1.3.2 and 2.1.4.2, which need only the proof, the sizes and
the roots: what a patient's device or an outside witness holds.

Tested against the transparency-dev/merkle test vectors (tests/server/tlog/vectors/).
No maintained Python package implements this (those on PyPI call themselves prototypes);
it is small enough to own, on hashlib.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # MTH({}) is the hash of the empty string


class ProofError(ValueError):
    """A proof that does not prove what it claims (or is malformed)."""


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


# The hash of the subtree over leaves [start, end): from a list in memory, or from the
# stored complete subtrees of a log (server/tlog/store.py).
RangeHash = Callable[[int, int], bytes]


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH of the leaf hashes (not the entries: hash them with leaf_hash first)."""
    if not leaves:
        return EMPTY_ROOT
    return list_ranges(leaves)(0, len(leaves))


def list_ranges(leaves: Sequence[bytes]) -> RangeHash:
    def range_hash(start: int, end: int) -> bytes:
        if end - start == 1:
            return leaves[start]
        k = split(end - start)
        return node_hash(range_hash(start, start + k), range_hash(start + k, end))

    return range_hash


def inclusion_proof(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """PATH(index, D[0:n]) of section 2.1.3.1, for the tree of these leaf hashes."""
    return inclusion_path(list_ranges(leaves), len(leaves), index)


def inclusion_path(range_hash: RangeHash, size: int, index: int) -> list[bytes]:
    if not 0 <= index < size:
        raise ProofError(f"leaf {index} is not in a tree of {size}")
    return _path(range_hash, index, 0, size)


def _path(range_hash: RangeHash, m: int, start: int, end: int) -> list[bytes]:
    if end - start == 1:
        return []
    k = split(end - start)
    if m < k:
        return [*_path(range_hash, m, start, start + k), range_hash(start + k, end)]
    return [*_path(range_hash, m - k, start + k, end), range_hash(start, start + k)]


def consistency_proof(leaves: Sequence[bytes], old_size: int) -> list[bytes]:
    """PROOF(m, D[0:n]) of section 2.1.4.1: the tree of the first `old_size` leaves is a
    prefix of the tree of all of them."""
    return consistency_path(list_ranges(leaves), len(leaves), old_size)


def consistency_path(range_hash: RangeHash, size: int, old_size: int) -> list[bytes]:
    if not 0 < old_size <= size:
        raise ProofError(f"no consistency proof from {old_size} to {size}")
    return _subproof(range_hash, old_size, 0, size, True)


def _subproof(range_hash: RangeHash, m: int, start: int, end: int, whole: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if whole else [range_hash(start, end)]
    k = split(n)
    if m <= k:
        return [*_subproof(range_hash, m, start, start + k, whole), range_hash(start + k, end)]
    return [*_subproof(range_hash, m - k, start + k, end, False), range_hash(start, start + k)]


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], expected_root: bytes
) -> None:
    """Section 2.1.3.2. Raises ProofError unless `leaf` (a leaf hash) is at `index` in
    the tree of `size` leaves whose root is `expected_root`."""
    if not 0 <= index < size:
        raise ProofError("leaf index outside the tree")
    _check_hashes(leaf, expected_root, *proof)
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise ProofError("inclusion proof too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("inclusion proof too short")
    if r != expected_root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]
) -> None:
    """Section 2.1.4.2. Raises ProofError unless the tree of `old_size` leaves with root
    `old_root` is a prefix of the tree of `new_size` leaves with root `new_root`."""
    if old_size < 0 or new_size < old_size:
        raise ProofError("sizes out of order")
    if old_size == new_size:
        # Nothing to prove: the roots are only compared (the reference verifier does not
        # look at their length either).
        if proof:
            raise ProofError("a proof between equal sizes must be empty")
        if old_root != new_root:
            raise ProofError("equal sizes with different roots")
        if old_size == 0 and old_root != EMPTY_ROOT:
            raise ProofError("the empty tree has one root")
        return
    if old_size == 0:
        # Every tree extends the empty one: nothing to prove, and nothing a proof could add.
        raise ProofError("no consistency proof from the empty tree")
    if not proof:
        raise ProofError("empty consistency proof")
    _check_hashes(old_root, new_root, *proof)
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("consistency proof too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("consistency proof too short")
    if fr != old_root:
        raise ProofError("consistency proof does not lead to the old root")
    if sr != new_root:
        raise ProofError("consistency proof does not lead to the new root")


def _check_hashes(*hashes: bytes) -> None:
    if any(len(h) != HASH_SIZE for h in hashes):
        raise ProofError("a hash is not 32 bytes")
