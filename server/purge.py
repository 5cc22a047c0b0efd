"""Erasing a purged dossier's rows (server/retention.py decides when, and destroys the
key first).

A purge destroys the dossier's key and document contents; the trace stays, so the
patient's history and the chain's integrity outlive the data (domain.md: kept 10 years
then purged; deletion on explicit request within 3 months).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

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
    SecretConnection,
    SubmissionSet,
    SubmissionSetEntry,
    SummaryCache,
)


def purge_due(settings: dict[str, Any]) -> int:
    """`dmp db purge`, kept for the scripts that call it: `dmp retention run`."""
    from server.app import build_runtime
    from server.retention import run

    rt = build_runtime(settings)
    try:
        return run(rt).total
    finally:
        rt.engine.dispose()


def erase(session: Session, row: Dossier) -> None:
    """Everything but the patient's identity and the trace: titles and metadata are health
    data too, and a dossier opened again later must start blank."""
    docs = select(Document.id).where(Document.dossier_id == row.id)
    # The search index: its tokens are keyed by the dossier key destroyed below, so they
    # would mean nothing even if kept; they go with the rest (docs/documents.md, Search).
    session.execute(delete(SearchPosting).where(SearchPosting.dossier_id == row.id))
    # Cached summaries are sealed under the destroyed key too (server/fhir/summary_cache.py).
    session.execute(delete(SummaryCache).where(SummaryCache.dossier_id == row.id))
    # Text and structure are sealed like the content, and must go before their documents
    # (a pending OCR row included: a worker holding it then finds its claim lost).
    for sealed in (DocumentContent, DocumentText, DocumentStructure):
        session.execute(delete(sealed).where(sealed.document_id.in_(docs)))
    session.execute(delete(DocumentEntry).where(DocumentEntry.document_id.in_(docs)))
    # ITI-65 submission sets: who deposited what, when (server/models/submission.py).
    sets = select(SubmissionSet.id).where(SubmissionSet.dossier_id == row.id)
    session.execute(
        delete(SubmissionSetEntry).where(SubmissionSetEntry.submission_set_id.in_(sets))
    )
    session.execute(delete(SubmissionSet).where(SubmissionSet.dossier_id == row.id))
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
        SecretConnection,
        FirstAccess,
    ):
        session.execute(delete(model).where(model.dossier_id == row.id))
    row.status = "purged"
    row.wrapped_key = None
    row.medecin_traitant_id = None
