"""Purging dossiers: closed and past retention, or whose deletion the patient asked for.

A purge destroys the dossier's data key and document contents; the trace stays, so the
patient's history and the chain's integrity outlive the data (domain.md: kept 10 years
then purged; deletion on explicit request within 3 months).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from server.app import build_runtime
from server.models import (
    Block,
    CareTeamMember,
    ConsultationConsent,
    Document,
    DocumentContent,
    DocumentEntry,
    DocumentStructure,
    DocumentText,
    Dossier,
    EmergencyAccess,
    FirstAccess,
    RepresentativeLink,
    SearchPosting,
)
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
                _erase(session, row)
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
                session.commit()  # one dossier per transaction: a crash loses no progress
            return len(due)
    finally:
        rt.engine.dispose()


def _erase(session: Session, row: Dossier) -> None:
    """Everything but the patient's identity and the trace: titles and metadata are health
    data too, and a dossier opened again later must start blank."""
    docs = select(Document.id).where(Document.dossier_id == row.id)
    # The search index: its tokens are keyed by the dossier key destroyed below, so they
    # would mean nothing even if kept; they go with the rest (docs/documents.md, Search).
    session.execute(delete(SearchPosting).where(SearchPosting.dossier_id == row.id))
    # Text and structure are sealed like the content, and must go before their documents
    # (a pending OCR row included: a worker holding it then finds its claim lost).
    for sealed in (DocumentContent, DocumentText, DocumentStructure):
        session.execute(delete(sealed).where(sealed.document_id.in_(docs)))
    session.execute(delete(DocumentEntry).where(DocumentEntry.document_id.in_(docs)))
    session.execute(
        update(Document)
        .where(Document.dossier_id == row.id)
        .values(replaces_id=None, replaced_by_id=None)
    )
    session.execute(delete(Document).where(Document.dossier_id == row.id))
    for model in (
        CareTeamMember,
        Block,
        ConsultationConsent,
        RepresentativeLink,
        EmergencyAccess,
        FirstAccess,
    ):
        session.execute(delete(model).where(model.dossier_id == row.id))
    row.status = "purged"
    row.wrapped_key = None
    row.medecin_traitant_id = None
