"""The log over the trace, in the database: sequencing, checkpoints and proofs.

Every trace entry becomes one leaf, in the order the sequencer finds them, shortly after
its transaction commits (the action's transaction writes the entry as before and does
nothing more, so no request gets slower). The sequencer:

1. takes the log's lock (PostgreSQL: a transaction-level advisory lock; SQLite: every
   write transaction already holds the database's write lock);
2. reads the compact range of the current tree (one stored hash per bit of its size);
3. takes trace entries not yet in the log, oldest first, appends their leaves and the
   complete subtree hashes they finish, and signs a checkpoint of the new size.

A leaf is SHA-256(0x00 || leaf entry) where the leaf entry is the text
"dmp-trace/1\\n<chain>\\n<seq>\\n<link hash>\\n": the link hash commits to the entry's
content and to every earlier entry of its chain (services/audit.py), so a patient who
holds their entries can recompute their leaves, and an inclusion proof then shows the
log holds exactly them.

Proofs read only the complete subtree hashes they need, in one query.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Select, exists, func, insert, select, text, tuple_
from sqlalchemy.orm import Session

from server.crypto import Keyring
from server.db import core
from server.models import AuditEntry, LogCheckpoint, LogLeaf, LogNode
from server.tlog import merkle, note
from server.tlog.checkpoint import Checkpoint
from server.tlog.entries import leaf_entry

if TYPE_CHECKING:
    from server.api.runtime import Runtime

log = logging.getLogger("dmp.trace_log")

SIGNING_PURPOSE = "tlog-checkpoint-ed25519"
_LOCK_KEY = 0x746C6F67  # "tlog": the advisory lock of the sequencer on PostgreSQL
# An entry whose transaction commits after later entries were sequenced is still found:
# each pass looks back over the entries sequenced in this window (transactions here last
# milliseconds; `catch_up` looks at everything).
LOOKBACK = timedelta(minutes=5)


def signer(keyring: Keyring, origin: str) -> note.Signer:
    """The log's key, derived from the master key: nothing more to keep or back up, and
    the same key on every server of one deployment."""
    private = Ed25519PrivateKey.from_private_bytes(keyring.derive_key(SIGNING_PURPOSE))
    return note.Signer(origin, private)


@dataclass(frozen=True, slots=True)
class Sequenced:
    added: int
    size: int
    checkpoint: str | None


def sequence(
    session: Session,
    log_signer: note.Signer,
    now: datetime,
    *,
    batch: int = 1000,
    catch_up: bool = False,
) -> Sequenced:
    """Appends up to `batch` trace entries to the log and signs the new checkpoint; the
    caller commits. `catch_up` looks at every entry, not only the recent window."""
    conn = core(session)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    size = _size(conn)
    pending = conn.execute(_pending(now, batch, catch_up)).all()
    if not pending:
        return Sequenced(0, size, None)
    frontier = list(_frontier(conn, size))
    leaves, nodes = [], []
    for offset, entry in enumerate(pending):
        index = size + offset
        leaf = merkle.leaf_hash(leaf_entry(entry.chain, entry.seq, entry.hash))
        leaves.append(
            {"idx": index, "audit_entry_id": entry.id, "leaf_hash": leaf, "sequenced_at": now}
        )
        nodes.extend(_push(frontier, index, leaf))
    conn.execute(insert(LogLeaf), leaves)
    if nodes:
        conn.execute(insert(LogNode), nodes)
    size += len(pending)
    head = Checkpoint(log_signer.name, size, _fold(frontier))
    signed = head.sign(log_signer)
    conn.execute(
        insert(LogCheckpoint).values(size=size, root=head.root, note=signed, created_at=now)
    )
    return Sequenced(len(pending), size, signed)


def run(rt: Runtime, *, catch_up: bool = False, batch: int = 1000) -> tuple[int, int]:
    """Sequences everything pending, one committed batch at a time (a crash loses no
    progress); returns (entries added, log size)."""
    log_signer = signer(rt.keyring, rt.settings["LOG_ORIGIN"])
    added = 0
    while True:
        with rt.sessions() as session:
            done = sequence(session, log_signer, rt.clock(), batch=batch, catch_up=catch_up)
            session.commit()
        added += done.added
        if done.added < batch:
            return added, done.size


def loop(rt: Runtime, stop: threading.Event, *, poll_seconds: float, once: bool = False) -> int:
    """Sequences every `poll_seconds` until `stop` is set (with once: one pass); returns
    how many entries it added. An entry reaches the log within about `poll_seconds` of
    its commit (LOG_SEQUENCE_SECONDS), plus one batch's time under load."""
    added = 0
    while not stop.is_set():
        try:
            added += run(rt)[0]
        except Exception:
            # The database may be away for a moment: the entries wait in the trace.
            log.exception("trace log pass failed")
            if once:
                raise
        if once:
            break
        stop.wait(poll_seconds)
    return added


def _size(conn: Connection) -> int:
    last = conn.scalar(select(func.max(LogLeaf.idx)))
    return 0 if last is None else int(last) + 1


def _pending(now: datetime, batch: int, catch_up: bool) -> Select[int, str, int, str]:
    unsequenced = ~exists().where(LogLeaf.audit_entry_id == AuditEntry.id)
    query = select(AuditEntry.id, AuditEntry.chain, AuditEntry.seq, AuditEntry.hash).where(
        unsequenced
    )
    if not catch_up:
        settled = (
            select(func.coalesce(func.max(LogLeaf.audit_entry_id), 0))
            .where(LogLeaf.sequenced_at < now - LOOKBACK)
            .scalar_subquery()
        )
        query = query.where(AuditEntry.id > settled)
    return query.order_by(AuditEntry.id).limit(batch)


def _decompose(size: int) -> Iterator[tuple[int, int]]:
    """The complete subtrees (level, idx) whose leaves are exactly [0, size), left first."""
    start = 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size & (1 << level):
            yield level, start >> level
            start += 1 << level


def _frontier(conn: Connection, size: int) -> Iterator[tuple[int, bytes]]:
    wanted = list(_decompose(size))
    found = _nodes(conn, wanted)
    for key in wanted:
        yield key[0], found[key]


def _push(frontier: list[tuple[int, bytes]], index: int, leaf: bytes) -> list[dict[str, object]]:
    """Appends leaf `index` to the compact range; returns the complete subtrees it ends."""
    level, value, finished = 0, leaf, []
    while frontier and frontier[-1][0] == level:
        _, left = frontier.pop()
        value = merkle.node_hash(left, value)
        level += 1
        finished.append({"level": level, "idx": index >> level, "hash": value})
    frontier.append((level, value))
    return finished


def _fold(frontier: list[tuple[int, bytes]]) -> bytes:
    if not frontier:
        return merkle.EMPTY_ROOT
    value = frontier[-1][1]
    for _, left in reversed(frontier[:-1]):
        value = merkle.node_hash(left, value)
    return value


def _nodes(conn: Connection, keys: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """Stored hashes of complete subtrees, level 0 being the leaves; a missing one means
    the tables were altered (the log only ever adds rows)."""
    keys = set(keys)
    leaf_ids = [idx for level, idx in keys if level == 0]
    inner = [(level, idx) for level, idx in keys if level > 0]
    found: dict[tuple[int, int], bytes] = {}
    if leaf_ids:
        for idx, value in conn.execute(
            select(LogLeaf.idx, LogLeaf.leaf_hash).where(LogLeaf.idx.in_(leaf_ids))
        ):
            found[0, int(idx)] = bytes(value)
    if inner:
        for level, idx, value in conn.execute(
            select(LogNode.level, LogNode.idx, LogNode.hash).where(
                tuple_(LogNode.level, LogNode.idx).in_(inner)
            )
        ):
            found[int(level), int(idx)] = bytes(value)
    missing = keys - found.keys()
    if missing:
        raise LogDamaged(f"{len(missing)} stored hash(es) of the log are missing")
    return found


class LogDamaged(RuntimeError):
    """The log's own tables lost a row: proofs cannot be served from them."""


def _aligned(start: int, end: int) -> tuple[int, int] | None:
    width = end - start
    if width & (width - 1) or start % width:
        return None
    return width.bit_length() - 1, start // width


ProofBuilder = Callable[[merkle.RangeHash, int, int], list[bytes]]


def _over_subtrees(subtree: Callable[[tuple[int, int]], bytes]) -> merkle.RangeHash:
    """The hash of any leaf range, from the complete subtrees (level, idx) it splits into
    (RFC 9162's split at the largest power of two)."""

    def range_hash(start: int, end: int) -> bytes:
        key = _aligned(start, end)
        if key is not None:
            return subtree(key)
        k = merkle.split(end - start)
        return merkle.node_hash(range_hash(start, start + k), range_hash(start + k, end))

    return range_hash


def _ranges(conn: Connection, build: ProofBuilder, size: int, arg: int) -> list[bytes]:
    """Runs a proof builder twice: first to learn which complete subtrees it reads, then
    on those hashes, fetched in one query."""
    wanted: set[tuple[int, int]] = set()

    def record(key: tuple[int, int]) -> bytes:
        wanted.add(key)
        return bytes(merkle.HASH_SIZE)

    build(_over_subtrees(record), size, arg)
    found = _nodes(conn, wanted)
    return build(_over_subtrees(found.__getitem__), size, arg)


def inclusion_proof(session: Session, index: int, size: int) -> list[bytes]:
    return _ranges(core(session), merkle.inclusion_path, size, index)


def consistency_proof(session: Session, old_size: int, size: int) -> list[bytes]:
    return _ranges(core(session), merkle.consistency_path, size, old_size)


def latest(session: Session) -> LogCheckpoint | None:
    return session.scalars(
        select(LogCheckpoint).order_by(LogCheckpoint.size.desc()).limit(1)
    ).first()


def at_size(session: Session, size: int) -> LogCheckpoint | None:
    return session.get(LogCheckpoint, size)


def leaf_of(session: Session, audit_entry_id: int) -> LogLeaf | None:
    return session.scalars(select(LogLeaf).where(LogLeaf.audit_entry_id == audit_entry_id)).first()
