"""Turns rows into the immutable facts the policy engine reads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import (
    Block,
    CareTeamMember,
    ConsultationConsent,
    Document,
    Dossier,
    Patient,
    RepresentativeLink,
)
from server.policy import Category, DocumentFacts, DocumentStatus, DossierFacts, DossierStatus


def dossier_facts(
    session: Session, dossier: Dossier, patient: Patient, now: datetime
) -> DossierFacts:
    did = dossier.id
    team = session.execute(
        select(CareTeamMember.professional_id, CareTeamMember.structure_finess).where(
            CareTeamMember.dossier_id == did
        )
    ).all()
    return DossierFacts(
        patient_id=patient.id,
        status=DossierStatus(dossier.status),
        patient_birth_date=patient.birth_date,
        medecin_traitant_id=dossier.medecin_traitant_id,
        care_team=frozenset(p for p, _ in team if p is not None),
        care_team_structures=frozenset(s for _, s in team if s is not None),
        blocked=frozenset(
            session.scalars(select(Block.professional_id).where(Block.dossier_id == did))
        ),
        consents=frozenset(
            session.scalars(
                select(ConsultationConsent.professional_id).where(
                    ConsultationConsent.dossier_id == did, ConsultationConsent.expires_at > now
                )
            )
        ),
        representatives=frozenset(
            session.scalars(
                select(RepresentativeLink.patient_id).where(RepresentativeLink.dossier_id == did)
            )
        ),
        bris_de_glace_allowed=dossier.bris_de_glace_allowed,
        centre_15_allowed=dossier.centre_15_allowed,
    )


def document_facts(doc: Document) -> DocumentFacts:
    return DocumentFacts(
        category=Category(doc.category),
        status=DocumentStatus(doc.status),
        author_professional_id=doc.author_professional_id,
        author_patient_id=doc.author_patient_id,
        author_is_insurer=doc.author_service_id is not None,
        masked_ps=doc.masked_ps,
        invisible_patient=doc.invisible_patient,
        invisible_rep=doc.invisible_rep,
    )
