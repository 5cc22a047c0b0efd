"""The calling patient's delegation on a dossier, as the policy reads it.

Loaded only for a patient who is neither the dossier's patient nor one of its
representatives (guard.authorize), so that the hot paths of patients and professionals
pay nothing for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import Delegation
from server.policy import Category, DelegationFacts


def categories_of(stored: str) -> frozenset[Category]:
    """The stored comma list; a code the policy no longer knows grants nothing."""
    known = {c.value for c in Category}
    return frozenset(Category(code) for code in stored.split(",") if code in known)


def as_facts(row: Delegation) -> DelegationFacts:
    return DelegationFacts(
        delegate_id=row.delegate_patient_id,
        categories=categories_of(row.categories),
        until=row.valid_until,
        revoked=row.revoked_at is not None,
    )


def for_caller(
    session: Session, dossier_id: int, delegate_id: int, now: datetime
) -> DelegationFacts | None:
    """The delegation that speaks for this caller: the one in force if any (at most one,
    services/delegations refuses a second), else the latest given, so that the refusal
    names why it no longer counts (revoked, ended)."""
    rows = session.scalars(
        select(Delegation)
        .where(Delegation.dossier_id == dossier_id, Delegation.delegate_patient_id == delegate_id)
        .order_by(Delegation.created_at.desc(), Delegation.id.desc())
    ).all()
    for row in rows:
        if row.revoked_at is None and row.valid_until > now:
            return as_facts(row)
    return as_facts(rows[0]) if rows else None
