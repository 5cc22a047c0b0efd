"""A patient's check of their own trace entries against a signed checkpoint (issue 14).

Given the entries of one chain as the history shows them (sequence number and link
hash), the index of each one's leaf in the log and an inclusion proof for each, this
recomputes every leaf and checks that the checkpoint's tree holds it at that index, and
that no sequence number is missing between the first and the last entry shown. It is
meant for the kiosk's "Vérifier mon historique" as much as for tests: pure, no I/O.

What it proves: the log (hence every witness that cosigned the checkpoint) holds exactly
these link hashes. The link hash commits to the entry's content and to every earlier
entry of its chain (server/tlog/links.py); that the shown content gives the shown hash
is checked by server/tlog/history.py, from the hashed fields each history line carries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from server.tlog import merkle
from server.tlog.checkpoint import Checkpoint

# The one definition of a trace entry's leaf, used by the sequencer
# (server/services/trace_log.py) and the patient's side alike (here, server/tlog/history.py),
# which must not need the server's database code to recompute a leaf.
LEAF_FORMAT = "dmp-trace/1"


def leaf_entry(chain: str, seq: int, link_hash: str) -> bytes:
    return f"{LEAF_FORMAT}\n{chain}\n{seq}\n{link_hash}\n".encode()


@dataclass(frozen=True, slots=True)
class LoggedEntry:
    chain: str
    seq: int
    link_hash: str
    index: int | None  # the leaf's index in the log; None before it was sequenced


class Problem(StrEnum):
    NOT_IN_LOG = "not_in_log"  # the log does not hold this entry as shown: it was altered
    MISSING = "missing"  # sequence numbers skipped: entries were removed
    DUPLICATE = "duplicate"  # one sequence number twice
    NOT_YET_LOGGED = "not_yet_logged"  # newer than the checkpoint: check again later


@dataclass(frozen=True, slots=True)
class Finding:
    seq: int
    problem: Problem
    detail: str


def verify_entries(
    entries: Sequence[LoggedEntry],
    head: Checkpoint,
    proofs: Mapping[int, Sequence[bytes]],
) -> list[Finding]:
    """What is wrong with `entries` (of one chain, in any order) against the verified
    checkpoint `head`; `proofs` maps a leaf index to its inclusion proof in `head`'s
    tree. An empty list means every entry is in the log as shown and none is missing
    between the first and the last. NOT_YET_LOGGED alone is not a sign of tampering."""
    if len({e.chain for e in entries}) > 1:
        raise ValueError("entries of one chain at a time")
    findings: list[Finding] = []
    seen: set[int] = set()
    for entry in sorted(entries, key=lambda e: e.seq):
        if entry.seq in seen:
            findings.append(Finding(entry.seq, Problem.DUPLICATE, "shown twice"))
            continue
        seen.add(entry.seq)
        if entry.index is None or entry.index >= head.size:
            findings.append(
                Finding(entry.seq, Problem.NOT_YET_LOGGED, f"not in the log of size {head.size}")
            )
            continue
        proof = proofs.get(entry.index)
        if proof is None:
            findings.append(Finding(entry.seq, Problem.NOT_IN_LOG, "no inclusion proof"))
            continue
        leaf = merkle.leaf_hash(leaf_entry(entry.chain, entry.seq, entry.link_hash))
        try:
            merkle.verify_inclusion(leaf, entry.index, head.size, proof, head.root)
        except merkle.ProofError as exc:
            findings.append(Finding(entry.seq, Problem.NOT_IN_LOG, str(exc)))
    if seen:
        gaps = sorted(set(range(min(seen), max(seen) + 1)) - seen)
        findings.extend(Finding(seq, Problem.MISSING, "absent from the history") for seq in gaps)
    return sorted(findings, key=lambda f: (f.seq, f.problem))


def tampered(findings: Sequence[Finding]) -> list[Finding]:
    """The findings that show the history was altered (all but NOT_YET_LOGGED)."""
    return [f for f in findings if f.problem is not Problem.NOT_YET_LOGGED]
