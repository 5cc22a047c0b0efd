"""Purging dossiers: closed and past retention, or whose deletion the patient asked for.

A purge destroys the dossier's data key and document contents; the trace stays, so the
patient's history and the chain's integrity outlive the data (domain.md: kept 10 years
then purged; deletion on explicit request within 3 months).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select

from server.app import build_runtime
from server.models import Document, DocumentContent, Dossier
from server.services import audit


def purge_due(settings: dict[str, Any]) -> int:
    rt = build_runtime(settings)
    try:
        with rt.sessions() as session:
            now = rt.clock()
            due = session.scalars(
                select(Dossier).where(
                    Dossier.status == "closed",
                    or_(Dossier.retention_until <= now, Dossier.deletion_requested_at.is_not(None)),
                )
            ).all()
            for row in due:
                reason = "deletion_requested" if row.deletion_requested_at else "retention_expired"
                doc_ids = select(Document.id).where(Document.dossier_id == row.id)
                session.execute(
                    delete(DocumentContent).where(DocumentContent.document_id.in_(doc_ids))
                )
                row.status = "purged"
                row.wrapped_key = None
                audit.append(
                    session,
                    row.patient_id,
                    at=now,
                    actor_kind="system",
                    actor_id=0,
                    actor_name="Service de purge",
                    action="dossier:purge",
                    mode="none",
                    outcome="allowed",
                    reason=reason,
                    detail="{}",
                )
                session.commit()  # one dossier per transaction: a crash loses no progress
            return len(due)
    finally:
        rt.engine.dispose()
