"""Turns rows into the immutable facts the policy engine reads.

Every fact about a dossier, plus the caller's own emergency access and first-access flag,
comes back as ONE row (scalar subqueries), alone or joined to the statement that loads the
dossier: the access check runs on every request, and its cost is dominated by
statements, not by the rows they return (bench/README.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    FunctionElement,
    Integer,
    Row,
    String,
    bindparam,
    cast,
    exists,
    select,
    type_coerce,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session

from server.db import core
from server.models import (
    Block,
    CareTeamMember,
    ConsultationConsent,
    Document,
    Dossier,
    EmergencyAccess,
    FirstAccess,
    Patient,
    Professional,
    RepresentativeLink,
    UTCDateTime,
    table_of,
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
class DossierRef:
    """The columns of a dossier and its patient that the access check and its obligations
    read, loaded without the ORM for the read-only hot paths (`lookup.subject`)."""

    id: int
    patient_id: int
    status: str
    medecin_traitant_id: int | None
    bris_de_glace_allowed: bool
    centre_15_allowed: bool


@dataclass(frozen=True, slots=True)
class PatientRef:
    id: int
    birth_date: date
    email: str | None
    phone: str | None
    notify_channel: str


# A document as a Core row of `documents` (listing): the same attribute names.
DocumentRow = Row[*tuple[Any, ...]]


@dataclass(frozen=True, slots=True)
class ActiveEmergency:
    mode: Mode
    until: datetime


@dataclass(frozen=True, slots=True)
class Loaded:
    facts: DossierFacts
    emergency: ActiveEmergency | None  # the caller's session's, on this dossier
    first_access: bool  # the calling professional never accessed this dossier


_NOW: BindParameter[datetime] = bindparam("now", type_=UTCDateTime())
# Its own alias, so that the subquery reads the dossier it is given even inside the
# statement that loads that dossier (lookup.subject) instead of correlating to it.
_MT_DOSSIER = table_of(Dossier).alias("mt_dossier")


class _Joined(FunctionElement[str]):
    """Every non-null value of a text column, as one "a,b,c" string (NULL if none).

    aggregate_strings() does this too, but binds its separator as a literal that is
    re-rendered into the SQL at every execution; here the separator is part of the text.
    """

    type = String()
    name = "joined"
    inherit_cache = True


@compiles(_Joined, "postgresql")
def _joined_pg(element: _Joined, compiler: Any, **kw: Any) -> str:
    return f"string_agg({compiler.process(element.clauses, **kw)}, ',')"


@compiles(_Joined, "sqlite")
def _joined_sqlite(element: _Joined, compiler: Any, **kw: Any) -> str:
    return f"group_concat({compiler.process(element.clauses, **kw)}, ',')"


def _ids(column: Any, *where: Any) -> Any:
    """Every non-null value of an integer column, as one "1,5,9" string (NULL if none)."""
    return select(_Joined(cast(column, String))).where(*where)


def fact_columns(dossier_id: ColumnElement[int]) -> list[Any]:
    """Every fact about a dossier, plus the caller's first-access flag and emergency
    access, as columns of one row: scalar subqueries correlated to `dossier_id`, so that
    they join the statement that loads the dossier itself (`lookup.subject`).

    Bound parameters: now, pro_id and session_hash (both None unless the caller is a
    professional: a patient has no first access to be told of, nor emergency access).
    Sets travel as comma-separated strings (string_agg on PostgreSQL, group_concat on
    SQLite), which keeps this to a single row on both backends.
    """
    team = (CareTeamMember.dossier_id == dossier_id,)
    emergency = (
        EmergencyAccess.session_hash == bindparam("session_hash"),
        EmergencyAccess.dossier_id == dossier_id,
        EmergencyAccess.expires_at > _NOW,
    )
    latest = EmergencyAccess.expires_at.desc()  # the latest-ending grant
    pro_id = bindparam("pro_id", type_=Integer())
    return [
        _ids(CareTeamMember.professional_id, *team).scalar_subquery().label("f_team"),
        select(_Joined(CareTeamMember.structure_finess))
        .where(*team)
        .scalar_subquery()
        .label("f_structures"),
        _ids(Block.professional_id, Block.dossier_id == dossier_id)
        .scalar_subquery()
        .label("f_blocked"),
        _ids(
            ConsultationConsent.professional_id,
            ConsultationConsent.dossier_id == dossier_id,
            ConsultationConsent.expires_at > _NOW,
        )
        .scalar_subquery()
        .label("f_consents"),
        _ids(RepresentativeLink.patient_id, RepresentativeLink.dossier_id == dossier_id)
        .scalar_subquery()
        .label("f_reps"),
        exists()
        .where(
            FirstAccess.dossier_id == dossier_id,
            FirstAccess.professional_id == pro_id,
        )
        .label("f_seen"),
        # The policy gives the médecin traitant's rights to a physician only.
        select(Professional.profession)
        .where(
            Professional.id == _MT_DOSSIER.c.medecin_traitant_id,
            _MT_DOSSIER.c.id == dossier_id,
        )
        .scalar_subquery()
        .label("f_mt_profession"),
        # The caller wrote in this dossier: their list shows what they wrote.
        exists()
        .where(
            pro_id.is_not(None),
            Document.dossier_id == dossier_id,
            Document.author_professional_id == pro_id,
        )
        .label("f_authored"),
        select(EmergencyAccess.mode)
        .where(*emergency)
        .order_by(latest)
        .limit(1)
        .scalar_subquery()
        .label("f_emergency_mode"),
        select(type_coerce(EmergencyAccess.expires_at, UTCDateTime()))
        .where(*emergency)
        .order_by(latest)
        .limit(1)
        .scalar_subquery()
        .label("f_emergency_until"),
    ]


# Built once: the access check runs on every request, and building and hashing a fresh
# statement each time cost as much CPU as running it.
_FACTS = select(*fact_columns(bindparam("did")))


def fact_params(
    now: datetime, professional_id: int | None, session_hash: str | None
) -> dict[str, Any]:
    """The caller's rows (first access, emergency) are read only for a professional, who
    must come with the hash of their session."""
    if professional_id is not None and session_hash is None:
        raise ValueError("a professional's facts need their session")
    if professional_id is None:
        session_hash = None
    return {"now": now, "pro_id": professional_id, "session_hash": session_hash}


def load(
    session: Session,
    dossier: Dossier | DossierRef,
    patient: Patient | PatientRef,
    now: datetime,
    *,
    professional_id: int | None = None,
    session_hash: str | None = None,
) -> Loaded:
    params = {"did": dossier.id, **fact_params(now, professional_id, session_hash)}
    row = core(session).execute(_FACTS, params).one()
    return loaded_from(row, dossier, patient, professional_id)


def _set_of_ids(joined: str | None) -> frozenset[int]:
    return frozenset(int(i) for i in joined.split(",")) if joined else frozenset()


def loaded_from(
    row: Any,
    dossier: Dossier | DossierRef,
    patient: Patient | PatientRef,
    professional_id: int | None,
) -> Loaded:
    """The facts from a row carrying the `fact_columns` (and the dossier's own)."""
    facts = DossierFacts(
        patient_id=patient.id,
        status=DossierStatus(dossier.status),
        patient_birth_date=patient.birth_date,
        medecin_traitant_id=dossier.medecin_traitant_id,
        medecin_traitant_profession=row.f_mt_profession,
        care_team=_set_of_ids(row.f_team),
        care_team_structures=frozenset(row.f_structures.split(","))
        if row.f_structures
        else frozenset(),
        blocked=_set_of_ids(row.f_blocked),
        consents=_set_of_ids(row.f_consents),
        representatives=_set_of_ids(row.f_reps),
        bris_de_glace_allowed=dossier.bris_de_glace_allowed,
        centre_15_allowed=dossier.centre_15_allowed,
        authors=frozenset({professional_id})
        if professional_id is not None and row.f_authored
        else frozenset(),
    )
    emergency = None
    if row.f_emergency_mode is not None:
        emergency = ActiveEmergency(Mode(row.f_emergency_mode), row.f_emergency_until)
    return Loaded(facts, emergency, first_access=professional_id is not None and not row.f_seen)


def document_facts(doc: Document | DocumentRow) -> DocumentFacts:
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
