"""Turns rows into the immutable facts the policy engine reads.

Every fact about a dossier, plus the caller's own emergency access and first-access flag,
comes back in ONE round trip (a UNION ALL): the access check runs on every request, and
its cost is dominated by statements, not by the rows they return (bench/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Integer, String, cast, literal, null, select, type_coerce, union_all
from sqlalchemy.orm import Session

from server.models import (
    Block,
    CareTeamMember,
    ConsultationConsent,
    Document,
    Dossier,
    EmergencyAccess,
    FirstAccess,
    Patient,
    RepresentativeLink,
    UTCDateTime,
)
from server.policy import (
    Category,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
    DossierStatus,
    Mode,
)


@dataclass(frozen=True, slots=True)
class ActiveEmergency:
    mode: Mode
    until: datetime


@dataclass(frozen=True, slots=True)
class Loaded:
    facts: DossierFacts
    emergency: ActiveEmergency | None  # the caller's session's, on this dossier
    first_access: bool  # the calling professional never accessed this dossier


def _row(kind: str, number: Any, text: Any = None, when: Any = None) -> Any:
    """One shape for every branch: (kind, number, text, when). Missing values are typed
    NULLs (PostgreSQL cannot match an untyped NULL with a timestamp in a UNION); present
    ones are only coerced, because SQLite's CAST(... AS DATETIME) truncates values."""
    return (
        literal(kind, String),
        type_coerce(number, Integer),
        type_coerce(text, String) if text is not None else cast(null(), String),
        type_coerce(when, UTCDateTime()) if when is not None else cast(null(), UTCDateTime()),
    )


def load(
    session: Session,
    dossier: Dossier,
    patient: Patient,
    now: datetime,
    *,
    professional_id: int | None = None,
    session_hash: str | None = None,
) -> Loaded:
    did = dossier.id
    branches = [
        select(
            *_row("team", CareTeamMember.professional_id, CareTeamMember.structure_finess)
        ).where(CareTeamMember.dossier_id == did),
        select(*_row("block", Block.professional_id)).where(Block.dossier_id == did),
        select(*_row("consent", ConsultationConsent.professional_id)).where(
            ConsultationConsent.dossier_id == did, ConsultationConsent.expires_at > now
        ),
        select(*_row("rep", RepresentativeLink.patient_id)).where(
            RepresentativeLink.dossier_id == did
        ),
    ]
    if professional_id is not None:
        branches.append(
            select(*_row("seen", FirstAccess.professional_id)).where(
                FirstAccess.dossier_id == did, FirstAccess.professional_id == professional_id
            )
        )
    if session_hash is not None:
        branches.append(
            select(
                *_row(
                    "emergency",
                    EmergencyAccess.id,
                    EmergencyAccess.mode,
                    EmergencyAccess.expires_at,
                )
            ).where(
                EmergencyAccess.session_hash == session_hash,
                EmergencyAccess.dossier_id == did,
                EmergencyAccess.expires_at > now,
            )
        )
    team, structures, blocked, consents, reps = set(), set(), set(), set(), set()
    seen, emergency = False, None
    for kind, number, text, when in session.execute(union_all(*branches)):
        if kind == "team":
            if number is not None:
                team.add(number)
            if text is not None:
                structures.add(text)
        elif kind == "block":
            blocked.add(number)
        elif kind == "consent":
            consents.add(number)
        elif kind == "rep":
            reps.add(number)
        elif kind == "seen":
            seen = True
        elif emergency is None or when > emergency.until:  # the latest-ending grant
            emergency = ActiveEmergency(Mode(text), when)
    facts = DossierFacts(
        patient_id=patient.id,
        status=DossierStatus(dossier.status),
        patient_birth_date=patient.birth_date,
        medecin_traitant_id=dossier.medecin_traitant_id,
        care_team=frozenset(team),
        care_team_structures=frozenset(structures),
        blocked=frozenset(blocked),
        consents=frozenset(consents),
        representatives=frozenset(reps),
        bris_de_glace_allowed=dossier.bris_de_glace_allowed,
        centre_15_allowed=dossier.centre_15_allowed,
    )
    return Loaded(facts, emergency, first_access=professional_id is not None and not seen)


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
