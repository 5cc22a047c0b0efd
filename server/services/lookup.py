"""Loading the rows a request names; anything unknown is decided and traced like any request.

A request that names a dossier, document, professional or care-team member that does not
exist goes through `guard.refuse_missing`: the policy answers NOT_FOUND to a caller
entitled to know (404) and, to anyone else, the refusal they would get were it there, so
that answers never tell which dossiers or documents exist.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import Select, bindparam, select

from server.db import core
from server.errors import InvalidInput, NotFound
from server.identifiers import IdentifierError, parse_national_id
from server.models import AuditHead, Document, Dossier, Patient, Professional, table_of
from server.policy import Action, ActorKind, Obligation
from server.services import audit, directory, guard
from server.services.context import Ctx, Principal
from server.services.facts import (
    DossierRef,
    Loaded,
    PatientRef,
    fact_columns,
    fact_params,
    loaded_from,
)

_D, _P, _H = table_of(Dossier), table_of(Patient), table_of(AuditHead)
_REF = select(
    _D.c.id,
    _D.c.patient_id,
    _D.c.status,
    _D.c.medecin_traitant_id,
    _D.c.bris_de_glace_allowed,
    _D.c.centre_15_allowed,
    _P.c.birth_date,
    _P.c.email,
    _P.c.phone,
    _P.c.notify_channel,
).join(_P, _P.c.id == _D.c.patient_id)
_DOSSIER_REF = _REF.where(_D.c.id == bindparam("dossier_id"))


def _and_head(statement: Select[Any]) -> Select[Any]:
    """The same, with the patient's trace head locked as `audit.locked_head` would: every
    request on a dossier appends to its chain, and this saves a statement. (An inner join:
    PostgreSQL cannot lock the nullable side of an outer join; a chain without a head yet
    falls back to the statement without it.)"""
    return (
        statement.add_columns(_H.c.chain, _H.c.seq, _H.c.hash)
        .join(_H, _H.c.chain == audit.chain_of_column(_P.c.id))
        .with_for_update(of=_H)
    )


_DOSSIER_REF_AND_HEAD = _and_head(_DOSSIER_REF)


@dataclass(frozen=True, slots=True)
class Subject:
    """A dossier as the access check needs it, loaded in one statement for `who`."""

    dossier: DossierRef
    patient: PatientRef
    loaded: Loaded  # its facts, for this caller at ctx.now
    head: audit.Head | None  # its patient's trace head, locked (None: no head yet)


# Each with the dossier's facts for the caller (`facts.fact_columns`): (with the head
# locked, without), by dossier id and by INS (with or without its OID).
_SUBJECT = _DOSSIER_REF.add_columns(*fact_columns(_D.c.id))
_SUBJECT_AND_HEAD = _DOSSIER_REF_AND_HEAD.add_columns(*fact_columns(_D.c.id))
_BY_INS = {
    with_oid: (
        _and_head(by_ins).add_columns(*fact_columns(_D.c.id)),
        by_ins.add_columns(*fact_columns(_D.c.id)),
    )
    for with_oid, by_ins in (
        (False, _REF.where(_P.c.ins == bindparam("ins"))),
        (True, _REF.where(_P.c.ins == bindparam("ins"), _P.c.ins_oid == bindparam("oid"))),
    )
}


def no_dossier() -> NotFound:
    return NotFound("dossier_not_found", "Dossier introuvable.")


def no_document() -> NotFound:
    return NotFound("document_not_found", "Document introuvable.")


def no_professional() -> NotFound:
    return NotFound("professional_not_found", "Professionnel inconnu.")


def no_member() -> NotFound:
    return NotFound("member_not_found", "Membre de l'équipe de soins introuvable.")


def dossier(ctx: Ctx, who: Principal, action: Action, dossier_id: int) -> tuple[Dossier, Patient]:
    """The dossier `who` asks `action` on; an unknown id is decided (and traced) first."""
    found = ctx.session.execute(
        select(Dossier, Patient)
        .join(Patient, Patient.id == Dossier.patient_id)
        .where(Dossier.id == dossier_id)
    ).first()
    if found is None:
        guard.refuse_missing(ctx, who, action, None, None, no_dossier())
    row, patient = found
    return row, patient


def subject(ctx: Ctx, who: Principal, action: Action, dossier_id: int) -> Subject:
    """`dossier` for use cases that change neither row (listing), in ONE statement: the
    columns the access check reads (no ORM instances to build and track), the facts for
    `who`, and the patient's trace head read under its lock, all for
    `guard.authorize(loaded=..., head=...)`.

    The facts are those of the statement's snapshot (PostgreSQL, READ COMMITTED), as
    when they were read by a statement of their own before the head was locked: a fact
    committed while this request waited for the lock applies from the next request. The
    head itself is the latest (a row locked FOR UPDATE is re-read once the lock is got)."""
    found = _subject(ctx, who, _SUBJECT_AND_HEAD, _SUBJECT, {"dossier_id": dossier_id})
    if found is None:
        guard.refuse_missing(ctx, who, action, None, None, no_dossier())
    return found


def subject_by_ins(ctx: Ctx, who: Principal, matricule: str, oid: str | None) -> Subject | None:
    """`subject` for the dossier of the patient with this INS (and this OID when given),
    in the same one statement; None when there is none, for the caller to decide."""
    locked, plain = _BY_INS[oid is not None]
    where = {"ins": matricule} if oid is None else {"ins": matricule, "oid": oid}
    return _subject(ctx, who, locked, plain, where)


def _subject(
    ctx: Ctx, who: Principal, locked: Select[Any], plain: Select[Any], where: dict[str, Any]
) -> Subject | None:
    professional = who.actor.kind is ActorKind.PROFESSIONAL
    pro_id = who.actor.id if professional else None
    params = {
        **where,
        **fact_params(ctx.now, pro_id, who.session_hash if professional else None),
    }
    conn = core(ctx.session)
    found = conn.execute(locked, params).first()
    head = audit.Head(found.chain, found.seq, found.hash) if found is not None else None
    if found is None:
        found = conn.execute(plain, params).first()
    if found is None:
        return None
    dossier = DossierRef(
        found.id,
        found.patient_id,
        found.status,
        found.medecin_traitant_id,
        found.bris_de_glace_allowed,
        found.centre_15_allowed,
    )
    patient = PatientRef(
        found.patient_id, found.birth_date, found.email, found.phone, found.notify_channel
    )
    return Subject(dossier, patient, loaded_from(found, dossier, patient, pro_id), head)


def after(subject: Subject, granted: guard.Granted) -> Subject:
    """`subject` for a second decision in the same request, once a first one on it was
    allowed and traced (`granted`): the same facts, and the chain's head as that trace left
    it (never the head it was given: appending after a used head would fork the chain).
    The head is None when the first trace did not go through `subject.head`, so that the
    second one reads it again under the lock. A first access recorded by the first
    decision is no longer a first access, as reading the facts again would find."""
    loaded = subject.loaded
    if loaded.first_access and Obligation.NOTIFY_PATIENT_FIRST_ACCESS in (
        granted.decision.obligations
    ):
        loaded = replace(loaded, first_access=False)
    head = granted.head if subject.head is not None else None
    return replace(subject, loaded=loaded, head=head)


def document(
    ctx: Ctx,
    who: Principal,
    action: Action,
    dossier_row: Dossier,
    patient: Patient,
    logical_id: str,
    detail: dict[str, Any] | None = None,
) -> Document:
    doc = ctx.session.scalars(
        select(Document).where(
            Document.logical_id == logical_id, Document.dossier_id == dossier_row.id
        )
    ).first()
    if doc is None:
        guard.refuse_missing(ctx, who, action, dossier_row, patient, no_document(), detail=detail)
    return doc


def national_id(value: object) -> str:
    """A professional's national id as the request wrote it, checked (no lookup)."""
    if not isinstance(value, str):
        raise InvalidInput("national_id_invalid", "Identifiant national du professionnel attendu.")
    try:
        return parse_national_id(value)
    except IdentifierError as exc:
        raise InvalidInput("national_id_invalid", str(exc)) from None


def find_professional(ctx: Ctx, value: object) -> Professional | None:
    """The professional with this national id, or None; the caller decides what an
    unknown one means (`professional`, or a creation's own decision)."""
    nid = national_id(value)
    found = ctx.session.scalars(select(Professional).where(Professional.national_id == nid)).first()
    if found is None:
        # Chosen from the directory (issue 14): known to the server from now on.
        found = directory.professional_from_directory(ctx, nid)
    return found


def professional(
    ctx: Ctx,
    who: Principal,
    action: Action,
    dossier_row: Dossier,
    patient: Patient,
    value: object,
    detail: dict[str, Any] | None = None,
) -> Professional:
    """The professional a request on this dossier names; an unknown one is decided first."""
    pro = find_professional(ctx, value)
    if pro is None:
        guard.refuse_missing(
            ctx,
            who,
            action,
            dossier_row,
            patient,
            no_professional(),
            detail=detail,
            unknown_target=True,
        )
    return pro
