"""Appending to and verifying the per-dossier hash chains of the trace.

Each entry's hash is SHA-256 over the previous hash and a canonical JSON encoding of the
entry, so editing, deleting or reordering any entry breaks every later link; the head row
(locked while appending) also catches a cut-off tail. The head is read inside the writing
transaction under a row lock (SQLite: the BEGIN IMMEDIATE write lock): reading it outside
forked 36% of entries under concurrent writers in an earlier test (performance.md).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from server.models import AuditEntry, AuditHead

GENESIS = "0" * 64
SYSTEM_CHAIN = "system"

# Every column the hash covers, in a fixed order; adding a column means a new version.
HASHED_FIELDS = (
    "chain",
    "seq",
    "at",
    "actor_kind",
    "actor_id",
    "actor_name",
    "actor_profession",
    "actor_structure",
    "action",
    "mode",
    "outcome",
    "reason",
    "target",
    "category",
    "detail",
    "kiosk",
)


def chain_for(patient_id: int | None) -> str:
    return f"patient:{patient_id}" if patient_id is not None else SYSTEM_CHAIN


def canonical(values: dict[str, Any]) -> bytes:
    encoded = {}
    for name in HASHED_FIELDS:
        value = values[name]
        if isinstance(value, datetime):
            value = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        encoded[name] = value
    return json.dumps(encoded, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(prev_hash: str, values: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + canonical(values)).hexdigest()


def ensure_head(session: Session, chain: str, patient_id: int | None) -> None:
    """Creates a chain's head row once; racing creators are harmless (savepoint)."""
    if session.get(AuditHead, chain) is not None:
        return
    try:
        with session.begin_nested():
            session.add(AuditHead(chain=chain, seq=0, hash=GENESIS, patient_id=patient_id))
    except IntegrityError:
        pass  # another transaction created it first


def append(session: Session, patient_id: int | None, **fields: Any) -> AuditEntry:
    chain = chain_for(patient_id)
    head = _locked_head(session, chain)
    if head is None:  # only before a chain's first entry: heads are made with dossiers
        ensure_head(session, chain, patient_id)
        head = _locked_head(session, chain)
    if head is None:
        raise RuntimeError(f"trace chain {chain} has no head")
    values = {name: fields.get(name) for name in HASHED_FIELDS}
    values.update(chain=chain, seq=head.seq + 1)
    values["detail"] = values["detail"] or "{}"
    entry = AuditEntry(**values, prev_hash=head.hash, hash=link_hash(head.hash, values))
    session.add(entry)
    head.seq, head.hash = entry.seq, entry.hash
    return entry


def _locked_head(session: Session, chain: str) -> AuditHead | None:
    # populate_existing: the locked, committed row, never a stale identity-map copy.
    query = (
        select(AuditHead)
        .where(AuditHead.chain == chain)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return session.execute(query).scalar_one_or_none()


def detail_json(detail: dict[str, Any] | None) -> str:
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
