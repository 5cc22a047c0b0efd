"""Appending to and verifying the per-dossier hash chains of the trace.

Each entry's hash is SHA-256 over the previous hash and a canonical JSON encoding of the
entry, so editing, deleting or reordering any entry breaks every later link; the head row
(locked while appending) also catches a cut-off tail. The head is read inside the writing
transaction under a row lock (SQLite: the BEGIN IMMEDIATE write lock): reading it outside
forked 36% of entries under concurrent writers in an earlier test (performance.md).
The hash itself is defined in server/tlog/links.py, which the patient's side shares.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    String,
    bindparam,
    cast,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.db import core
from server.models import AuditEntry, AuditHead, table_of
from server.tlog.links import GENESIS, HASHED_FIELDS, link_hash

SYSTEM_CHAIN = "system"

Outcome = Literal["allowed", "denied"]


class SystemAction(StrEnum):
    """What the server does on its own (not decided by the policy for a caller)."""

    DOSSIER_PURGE = "dossier:purge"


@dataclass(frozen=True, slots=True, kw_only=True)
class TraceEntry:
    """One line of the trace before it is chained: every trace row is built from one, so a
    misspelt or missing field is a type error, never a None in the tamper-evident chain.
    `action` is an enum member (`policy.Action`, `signin.events.SigninAction`, ...)."""

    at: datetime
    actor_kind: str
    actor_id: int
    actor_name: str
    action: StrEnum
    mode: str
    outcome: Outcome
    reason: str
    actor_profession: str | None = None
    actor_structure: str | None = None
    target: str | None = None
    category: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    kiosk: str | None = None

    def values(self, chain: str, seq: int) -> dict[str, Any]:
        """The hashed columns of this entry at `seq` in `chain` (the one row builder)."""
        return {
            "chain": chain,
            "seq": seq,
            "at": self.at,
            "actor_kind": self.actor_kind,
            "actor_id": self.actor_id,
            "actor_name": self.actor_name,
            "actor_profession": self.actor_profession,
            "actor_structure": self.actor_structure,
            "action": self.action.value,
            "mode": self.mode,
            "outcome": self.outcome,
            "reason": self.reason,
            "target": self.target,
            "category": self.category,
            "detail": detail_json(self.detail),
            "kiosk": self.kiosk,
        }


def chain_for(patient_id: int | None) -> str:
    return f"patient:{patient_id}" if patient_id is not None else SYSTEM_CHAIN


def chain_of_column(patient_id: ColumnElement[int]) -> ColumnElement[str]:
    """`chain_for` in SQL, to join a patient's row to their chain's head."""
    return literal("patient:", String) + cast(patient_id, String)


@dataclass(frozen=True, slots=True)
class Head:
    """A chain's last link, read under its lock (see `locked_head`)."""

    chain: str
    seq: int
    hash: str


# The trace is written on every request, so its statements are Core, built once: the ORM
# unit of work (identity map, flush ordering, attribute history) cost more CPU than the
# SQL itself for a one-row insert and a one-row update (bench/README.md).
_HEADS = table_of(AuditHead)
_ENTRIES = table_of(AuditEntry)
_LOCK_HEAD = (
    select(_HEADS.c.seq, _HEADS.c.hash)
    .where(_HEADS.c.chain == bindparam("chain"))
    .with_for_update()
)
_HEAD_EXISTS = select(_HEADS.c.chain).where(_HEADS.c.chain == bindparam("chain"))
_INSERT_ENTRY = insert(_ENTRIES)
_MOVE_HEAD = (
    update(_HEADS)
    .where(_HEADS.c.chain == bindparam("head_chain"))
    .values(seq=bindparam("head_seq"), hash=bindparam("head_hash"))
)
# PostgreSQL: the entry and the head's move in one statement (a data-modifying WITH), one
# round trip fewer on every request. SQLite has no INSERT inside WITH, and its statements
# cost no round trip: it runs the two statements above.
_ENTRY_COLUMNS = (*HASHED_FIELDS, "prev_hash", "hash")
_APPEND_PG = _MOVE_HEAD.add_cte(
    insert(_ENTRIES)
    .values({name: bindparam(f"e_{name}") for name in _ENTRY_COLUMNS})
    .cte("new_entry")
)


def ensure_head(session: Session, chain: str, patient_id: int | None) -> None:
    """Creates a chain's head row once; racing creators are harmless (savepoint)."""
    conn = core(session)
    if conn.execute(_HEAD_EXISTS, {"chain": chain}).first() is not None:
        return
    try:
        with session.begin_nested():
            conn.execute(
                insert(_HEADS).values(chain=chain, seq=0, hash=GENESIS, patient_id=patient_id)
            )
    except IntegrityError:
        pass  # another transaction created it first


def locked_head(session: Session, chain: str) -> Head | None:
    """The chain's head, locked until the transaction ends (PostgreSQL: FOR UPDATE; SQLite:
    every transaction already holds the write lock from BEGIN IMMEDIATE, server/db.py)."""
    found = core(session).execute(_LOCK_HEAD, {"chain": chain}).first()
    return Head(chain, int(found.seq), str(found.hash)) if found is not None else None


def append(
    session: Session, patient_id: int | None, entry: TraceEntry, *, head: Head | None = None
) -> None:
    """Appends an entry to the patient's chain (the system chain for None). `head`, when
    given, is that chain's head as the caller already read it under its lock in this
    transaction (`lookup.subject`), which saves reading it again."""
    chain = chain_for(patient_id)
    if head is not None and head.chain != chain:
        raise ValueError(f"head of {head.chain} given for {chain}")
    if head is None:
        head = locked_head(session, chain)
    if head is None:  # only before a chain's first entry: heads are made with dossiers
        ensure_head(session, chain, patient_id)
        head = locked_head(session, chain)
    if head is None:
        raise RuntimeError(f"trace chain {chain} has no head")
    append_after(session, head, entry)


def append_after(session: Session, head: Head, entry: TraceEntry) -> Head:
    """Appends one entry after `head`, which the caller read under its lock in this same
    transaction; returns the new head (for a second entry in the same transaction)."""
    seq = head.seq + 1
    values = entry.values(head.chain, seq)
    digest = link_hash(head.hash, values)
    row = {**values, "prev_hash": head.hash, "hash": digest}
    moved = {"head_chain": head.chain, "head_seq": seq, "head_hash": digest}
    conn = core(session)
    if conn.dialect.name == "postgresql":
        conn.execute(_APPEND_PG, {**{f"e_{k}": v for k, v in row.items()}, **moved})
    else:
        conn.execute(_INSERT_ENTRY, row)
        conn.execute(_MOVE_HEAD, moved)
    return Head(head.chain, seq, digest)


def detail_json(detail: Mapping[str, Any] | None) -> str:
    return json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True, slots=True)
class Break:
    chain: str
    seq: int
    entry_id: int | None
    problem: str


def verify(session: Session, chain: str | None = None) -> Iterator[Break]:
    """Yields the first broken link of every broken chain (nothing when all hold)."""
    heads = {h.chain: h for h in session.scalars(select(AuditHead))}
    query = select(AuditEntry).order_by(AuditEntry.chain, AuditEntry.seq)
    if chain is not None:
        query = query.where(AuditEntry.chain == chain)
        heads = {k: v for k, v in heads.items() if k == chain}
    current: str | None = None
    expected_seq, prev, broken = 1, GENESIS, False
    seen: set[str] = set()
    for entry in session.scalars(query.execution_options(yield_per=2000)):
        if entry.chain != current:
            if current is not None and not broken:
                yield from _check_head(heads.get(current), current, expected_seq - 1, prev)
            current, expected_seq, prev, broken = entry.chain, 1, GENESIS, False
            seen.add(entry.chain)
        if broken:
            continue
        values = {name: getattr(entry, name) for name in HASHED_FIELDS}
        problem = None
        if entry.seq != expected_seq:
            problem = f"sequence {entry.seq} where {expected_seq} was expected (entry missing)"
        elif entry.prev_hash != prev:
            problem = "previous-hash link does not match (entry deleted or reordered)"
        elif link_hash(prev, values) != entry.hash:
            problem = "content does not match its hash (entry edited)"
        if problem:
            broken = True
            yield Break(entry.chain, expected_seq, entry.id, problem)
            continue
        expected_seq, prev = entry.seq + 1, entry.hash
    if current is not None and not broken:
        yield from _check_head(heads.get(current), current, expected_seq - 1, prev)
    for name, head in heads.items():
        if name not in seen and head.seq != 0:
            yield Break(name, 1, None, f"head says {head.seq} entries, none found")


def _check_head(head: AuditHead | None, chain: str, last_seq: int, last: str) -> Iterator[Break]:
    if head is None:
        yield Break(chain, last_seq, None, "chain has no head row")
    elif head.seq != last_seq or head.hash != last:
        yield Break(chain, last_seq + 1, None, f"head says {head.seq} entries, found {last_seq}")
