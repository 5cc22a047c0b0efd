"""Reads the trace in the order of the verifiable log and opens a review case for every
entry a rule flags (server/alerts/rules.py), with a notice to the patient.

Why after the fact, in the worker, and not in the transaction of the access: the read
path must not get slower (performance.md), and nothing about a flag changes the answer
to the request, which the policy alone decides. The scanner follows the log's leaves
(tlog_leaves.idx): that order is gap-free and final once written, so a cursor over it
neither skips an entry whose transaction committed late nor reads one twice. A flag is
therefore raised within about LOG_SEQUENCE_SECONDS + the worker's poll of the access.
"""

from __future__ import annotations

import logging
import threading
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from server.alerts import notify, rules
from server.db import core
from server.frenchtime import fr_datetime
from server.models import (
    AlertCursor,
    AlertSeen,
    AuditEntry,
    Block,
    Dossier,
    LogLeaf,
    Patient,
    Professional,
    ReviewCase,
)

if TYPE_CHECKING:
    from server.api.runtime import Runtime

log = logging.getLogger("dmp.alerts")

CURSOR = "rules"
PENDING = "a_traiter"
_LOCK_KEY = 0x616C7274  # "alrt": one scanner at a time on PostgreSQL
_E = AuditEntry


@dataclass(frozen=True, slots=True)
class Scanned:
    read: int  # trace entries the cursor moved past
    opened: int  # review cases opened


def scan(session: Session, now: datetime, *, batch: int = 500) -> Scanned:
    """Evaluates the rules on up to `batch` newly logged entries. The caller commits (the
    cases and the cursor move together)."""
    conn = core(session)
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
    # Read under the lock, never from the session's cache: another worker may have moved
    # the cursor while this one waited.
    cursor = session.get(AlertCursor, CURSOR, populate_existing=True)
    if cursor is None:
        cursor = AlertCursor(name=CURSOR, next_leaf=0)
        session.add(cursor)
    rows = session.execute(
        select(LogLeaf.idx, _E)
        .join(_E, _E.id == LogLeaf.audit_entry_id)
        .where(LogLeaf.idx >= cursor.next_leaf)
        .order_by(LogLeaf.idx)
        .limit(batch)
    ).all()
    opened = 0
    memory = _Memory(session)
    for idx, entry in rows:
        cursor.next_leaf = idx + 1
        if entry.actor_kind != "professional" or not entry.chain.startswith("patient:"):
            continue
        fired = rules.flag(_access(entry), _facts(memory, entry))
        if fired:
            opened += _open(session, entry, fired, now)
    return Scanned(len(rows), opened)


def run(rt: Runtime, *, batch: int = 500) -> int:
    """Scans everything logged so far, one committed batch at a time; returns how many
    cases it opened."""
    opened = 0
    while True:
        with rt.sessions() as session:
            done = scan(session, rt.clock(), batch=batch)
            session.commit()
        opened += done.opened
        if done.read < batch:
            return opened


def loop(rt: Runtime, stop: threading.Event, *, poll_seconds: float, once: bool = False) -> int:
    opened = 0
    while not stop.is_set():
        try:
            opened += run(rt)
        except Exception:
            log.exception("alert rules pass failed")  # the trace waits; nothing is lost
            if once:
                raise
        if once:
            break
        stop.wait(poll_seconds)
    return opened


def _access(entry: AuditEntry) -> rules.Access:
    return rules.Access(
        at=entry.at,
        actor_kind=entry.actor_kind,
        action=entry.action,
        mode=entry.mode,
        outcome=entry.outcome,
        reason=entry.reason,
    )


class _Memory:
    """One batch's view of `AlertSeen` and of the dossiers' blocks: each row is read once
    per batch, not once per entry."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.seen: dict[tuple[int, str], AlertSeen | None] = {}
        self.blocks: dict[str, list[tuple[datetime, int, str | None]]] = {}

    def seen_row(self, entry: AuditEntry) -> AlertSeen | None:
        key = (entry.actor_id, entry.chain)
        if key not in self.seen:
            self.seen[key] = self.session.get(AlertSeen, key)
        return self.seen[key]

    def remember(self, row: AlertSeen) -> None:
        self.session.add(row)
        self.seen[row.professional_id, row.chain] = row

    def blocks_of(self, entry: AuditEntry) -> list[tuple[datetime, int, str | None]]:
        """(when, whom, their structure) of every current block of the entry's dossier."""
        if entry.chain not in self.blocks:
            self.blocks[entry.chain] = [
                (at, pro_id, finess)
                for at, pro_id, finess in self.session.execute(
                    select(Block.created_at, Block.professional_id, Professional.structure_finess)
                    .join(Dossier, Dossier.id == Block.dossier_id)
                    .join(Professional, Professional.id == Block.professional_id)
                    .where(Dossier.patient_id == _patient_id(entry))
                )
            ]
        return self.blocks[entry.chain]


def _facts(memory: _Memory, entry: AuditEntry) -> rules.Facts:
    """The facts of one entry, from the scanner's own memory (`AlertSeen`), which it
    then updates: no rule reads the trace back."""
    if entry.outcome != "allowed" or entry.action not in rules.ACCESSES:
        return rules.Facts()
    session = memory.session
    seen = memory.seen_row(entry)
    unrelated = rules.is_unrelated_access(_access(entry))
    facts = rules.Facts(
        first_access=seen is None,
        unrelated_dossiers=_unrelated_dossiers(session, entry, seen) if unrelated else 0,
        colleague_blocked=_colleague_blocked(memory, entry, seen),
        same_surname=seen is None and _same_surname(session, entry),
    )
    if seen is None:
        seen = AlertSeen(
            professional_id=entry.actor_id,
            chain=entry.chain,
            first_at=entry.at,
            last_at=entry.at,
            unrelated_at=None,
        )
        memory.remember(seen)
    seen.last_at = max(seen.last_at, entry.at)
    if unrelated:
        seen.unrelated_at = entry.at
    return facts


def _unrelated_dossiers(session: Session, entry: AuditEntry, seen: AlertSeen | None) -> int:
    since = entry.at - rules.VOLUME_WINDOW
    if seen is not None and seen.unrelated_at is not None and seen.unrelated_at >= since:
        return 0  # this dossier was already counted (and flagged) in the window
    others = session.scalar(
        select(func.count())
        .select_from(AlertSeen)
        .where(
            AlertSeen.professional_id == entry.actor_id,
            AlertSeen.unrelated_at >= since,
            AlertSeen.unrelated_at <= entry.at,
            AlertSeen.chain != entry.chain,
        )
    )
    return 1 + int(others or 0)


def _patient_id(entry: AuditEntry) -> int:
    return int(entry.chain.removeprefix("patient:"))


def _colleague_blocked(memory: _Memory, entry: AuditEntry, seen: AlertSeen | None) -> bool:
    """A professional of the same structure (not this one) was blocked by the patient
    within AFTER_BLOCK_WINDOW before this access, and this is the professional's first
    access to the dossier since that block."""
    if not entry.actor_structure:
        return False
    since = entry.at - rules.AFTER_BLOCK_WINDOW
    times = [
        at
        for at, pro_id, finess in memory.blocks_of(entry)
        if finess == entry.actor_structure and pro_id != entry.actor_id and since <= at <= entry.at
    ]
    if not times:
        return False
    return seen is None or seen.last_at < max(times)


def fold_name(name: str | None) -> str:
    """Case, accents, hyphens and spaces folded: « Lefèvre-Durand » = « LEFEVRE DURAND »."""
    if not name:
        return ""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(c for c in decomposed if c.isalnum()).casefold()


def _same_surname(session: Session, entry: AuditEntry) -> bool:
    pro = session.get(Professional, entry.actor_id)
    patient = session.get(Patient, _patient_id(entry))
    if pro is None or patient is None:
        return False
    surname = fold_name(pro.last_name)
    return bool(surname) and surname in {
        fold_name(patient.birth_name),
        fold_name(patient.used_name),
    }


def _open(session: Session, entry: AuditEntry, fired: list[rules.Rule], now: datetime) -> int:
    if session.scalar(select(ReviewCase.id).where(ReviewCase.audit_entry_id == entry.id)):
        return 0
    patient = session.get(Patient, _patient_id(entry))
    if patient is None:
        return 0
    session.add(
        ReviewCase(
            audit_entry_id=entry.id,
            patient_id=patient.id,
            professional_id=entry.actor_id,
            establishment=entry.actor_structure,
            rules=" ".join(rule.value for rule in fired),
            status=PENDING,
            flagged_at=now,
        )
    )
    notify.queue(
        session, patient, "unusual_access", notify.FLAGGED.format(when=fr_datetime(entry.at)), now
    )
    return 1
