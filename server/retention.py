"""`dmp retention run`: closed dossiers past retention, and deletions asked for, purged.

domain.md: a closed dossier is kept 10 years then purged; deletion on explicit request
within 3 months. A purge is crypto-shredding: the dossier's KEK is destroyed in the key
vault (no copy of its data key opens again, in any database backup), then its rows go.
What stays is written down in docs/retention.md (the tombstone).

Safe to run at any time, from several hosts at once:
- idempotent: a dossier is due only while `closed`; a purged one is never due again;
- resumable: one dossier per transaction, its KEK destroyed first. A crash after the
  KEK went and before the commit leaves a closed dossier that no longer opens, still
  due: the next run finishes it (the vault's destroy is idempotent);
- concurrent: each dossier is claimed with `SELECT ... FOR UPDATE SKIP LOCKED` on
  PostgreSQL (another host's claim is skipped, not waited for), and under SQLite's
  write lock (BEGIN IMMEDIATE) elsewhere; the condition is checked again under the
  claim, so a dossier purged or reopened meanwhile is left alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select

from server.api.runtime import Runtime
from server.crypto import is_vaulted
from server.models import Dossier
from server.purge import erase
from server.services import audit

DELETION_REQUESTED = "deletion_requested"
RETENTION_EXPIRED = "retention_expired"
LEGACY_KEY_BYTES = 40  # RFC 3394 wrap of a 32-byte key by the master key


@dataclass
class Summary:
    purged: dict[str, int] = field(
        default_factory=lambda: {DELETION_REQUESTED: 0, RETENTION_EXPIRED: 0}
    )
    keys_destroyed: int = 0
    skipped: int = 0  # claimed by another host, or no longer due when claimed
    keys_moved: int = 0  # legacy data keys moved into the vault

    @property
    def total(self) -> int:
        return sum(self.purged.values())

    def line(self) -> str:
        return (
            f"{self.total} dossier(s) purged ({self.purged[DELETION_REQUESTED]} on request, "
            f"{self.purged[RETENTION_EXPIRED]} past retention), {self.keys_destroyed} key(s) "
            f"destroyed, {self.skipped} left to another run, {self.keys_moved} legacy key(s) "
            "moved into the vault"
        )


def due(now: datetime) -> ColumnElement[bool]:
    return and_(
        Dossier.status == "closed",
        or_(Dossier.deletion_requested_at.is_not(None), Dossier.retention_until <= now),
    )


Progress = Callable[[str], None]


def run(rt: Runtime, progress: Progress | None = None, *, move_keys: bool = True) -> Summary:
    """One pass over what is due at `rt.clock()`; then legacy keys into the vault."""
    say = progress or (lambda _line: None)
    now = rt.clock()
    done = Summary()
    with rt.sessions() as session:
        candidates = list(session.scalars(select(Dossier.id).where(due(now)).order_by(Dossier.id)))
    say(f"{len(candidates)} dossier(s) due at {now.isoformat()}")
    for index, dossier_id in enumerate(candidates, start=1):
        reason = purge_one(rt, dossier_id, now, done)
        state = f"purged ({reason})" if reason else "skipped (claimed elsewhere or not due)"
        say(f"[{index}/{len(candidates)}] dossier {dossier_id}: {state}")
    if move_keys:
        done.keys_moved = move_legacy_keys(rt)
    return done


def purge_one(rt: Runtime, dossier_id: int, now: datetime, done: Summary) -> str | None:
    """Claims and purges one dossier in its own transaction; the reason, or None when
    another run holds it or it is no longer due."""
    with rt.sessions() as session:
        row = session.scalars(
            select(Dossier)
            .where(Dossier.id == dossier_id, due(now))
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            done.skipped += 1
            return None
        reason = DELETION_REQUESTED if row.deletion_requested_at else RETENTION_EXPIRED
        if row.wrapped_key is not None and rt.keyring.destroy(row.wrapped_key):
            done.keys_destroyed += 1
        erase(session, row)
        audit.append(
            session,
            row.patient_id,
            audit.TraceEntry(
                at=now,
                actor_kind="system",
                actor_id=0,
                actor_name="Service de purge",
                action=audit.SystemAction.DOSSIER_PURGE,
                mode="none",
                outcome="allowed",
                reason=reason,
            ),
        )
        session.commit()
    done.purged[reason] += 1
    return reason


def move_legacy_keys(rt: Runtime) -> int:
    """Dossiers created before the vault: their data key re-wrapped by a KEK of their
    own (the data key itself is unchanged). Backups taken before this still hold the
    legacy form, which the master key opens: docs/retention.md says so."""
    moved = 0
    with rt.sessions() as session:
        ids = list(
            session.scalars(
                select(Dossier.id).where(
                    func.length(Dossier.wrapped_key) == LEGACY_KEY_BYTES,
                    Dossier.status != "purged",
                )
            )
        )
    for dossier_id in ids:
        with rt.sessions() as session:
            row = session.scalars(
                select(Dossier).where(Dossier.id == dossier_id).with_for_update(skip_locked=True)
            ).first()
            if row is None or row.wrapped_key is None or is_vaulted(row.wrapped_key):
                continue
            row.wrapped_key = rt.keyring.into_vault(row.wrapped_key)
            session.commit()
            moved += 1
    return moved
