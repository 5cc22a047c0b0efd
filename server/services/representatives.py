"""A minor's legal representatives after creation, and the dossiers a card holder may act
on for someone else (issue 13, docs/access-rules.md "Who may act for whom").

The admissions desk adds or removes a representative with their identity checked at the
desk: decided (REPRESENTATIVE_MANAGE), traced on the minor's chain and receipted. With
the representative's own card (`add_in_person`), their identity is read from the card,
proved by its signature of the consent's draft, and the desk's card signs it too
(co-presence, server/signin/copresence.py); without one, the desk attests it saw an
identity document (`add`, INS typed).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import func, select

from server.errors import Conflict, InvalidInput, NotFound
from server.identifiers import IdentifierError, parse_ins
from server.models import Delegation, Dossier, Patient, RepresentativeLink
from server.policy import Action, ActorKind, Context, DossierStatus, decide
from server.policy.age import is_minor
from server.services import guard, lookup, receipts, views
from server.services.context import Ctx, Principal
from server.services.delegation_facts import for_caller
from server.services.facts import load
from server.signin import copresence
from server.signin.copresence import Operation
from server.signin.events import SigninReason
from server.signin.kiosk_identity import VerifiedKiosk
from server.trust import TrustStore
from server.validation import flag, reject_unknown, require_object, text

MAX_REPRESENTATIVES = 4  # as at creation (schemas.CREATE_DOSSIER)
FIELDS = {"ins", "identity_checked"}


def no_representative() -> NotFound:
    return NotFound("representative_not_found", "Représentant légal inconnu.")


def list_for(ctx: Ctx, who: Principal, dossier_id: int) -> dict[str, Any]:
    """Who represents the minor: part of what reading the summary shows (DOSSIER_READ)."""
    row, patient = lookup.dossier(ctx, who, Action.DOSSIER_READ, dossier_id)
    guard.authorize(ctx, who, Action.DOSSIER_READ, row, patient, detail={"view": "representatives"})
    return {"representatives": _current(ctx, row.id)}


def add(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    ins, checked = _fields(body)
    row, patient = lookup.dossier(ctx, who, Action.REPRESENTATIVE_MANAGE, dossier_id)
    return _add(ctx, who, row, patient, ins, _evidence(checked), None)


def add_draft(
    ctx: Ctx, who: Principal, kiosk: VerifiedKiosk, dossier_id: int, body: Any
) -> dict[str, Any]:
    """What the representative's card and the desk's will sign: this person named the
    minor's legal representative (the INS read from the card, proved by its signature)."""
    data = require_object(body)
    reject_unknown(data, {"ins"})
    ins = _ins(data)
    terms = {"op": "added", "representative_ins": ins}
    return copresence.prepare(ctx, who, kiosk, Operation.REPRESENTATIVE, dossier_id, terms)


def add_in_person(
    ctx: Ctx, trust: TrustStore, who: Principal, kiosk: VerifiedKiosk, dossier_id: int, body: Any
) -> dict[str, Any]:
    """The representative named at the desk with their own card: who they are is what
    their card's certificate says, and the card signed the draft naming them."""
    row, patient = lookup.dossier(ctx, who, Action.REPRESENTATIVE_MANAGE, dossier_id)
    op = Operation.REPRESENTATIVE
    proof = copresence.verify(ctx, trust, who, kiosk, op, row.id, body, patient.id)
    if proof.terms.get("op") != "added":
        raise copresence.refused(who, op, patient.id, SigninReason.DRAFT_OTHER_TERMS)
    if proof.holder_ins != proof.terms.get("representative_ins"):
        raise copresence.refused(who, op, patient.id, SigninReason.PATIENT_CARD_OTHER_PERSON)
    evidence = _evidence(True) | {"identity_proved_by_card": True}
    return _add(ctx, who, row, patient, proof.holder_ins, evidence, proof.receipt_part())


def _add(
    ctx: Ctx,
    who: Principal,
    row: Dossier,
    patient: Patient,
    ins: str,
    evidence: dict[str, Any],
    copresent: dict[str, Any] | None,
) -> dict[str, Any]:
    guard.authorize(
        ctx,
        who,
        Action.REPRESENTATIVE_MANAGE,
        row,
        patient,
        consent_evidence=evidence["identity_checked_at_desk"],
        detail={"op": "add"},
    )
    rep = _person(ctx, ins)
    if rep.id == patient.id:
        raise InvalidInput("representative_self", "Un mineur ne peut pas se représenter.")
    if is_minor(rep.birth_date, ctx.now):
        raise InvalidInput("representative_minor", "Un représentant légal doit être majeur.")
    if ctx.session.get(RepresentativeLink, (row.id, rep.id)) is not None:
        raise Conflict("representative_exists", "Cette personne est déjà représentant légal.")
    count = ctx.session.scalar(
        select(func.count())
        .select_from(RepresentativeLink)
        .where(RepresentativeLink.dossier_id == row.id)
    )
    if (count or 0) >= MAX_REPRESENTATIVES:
        raise InvalidInput("representatives_full", "Quatre représentants légaux au plus.")
    ctx.session.add(RepresentativeLink(dossier_id=row.id, patient_id=rep.id, created_at=ctx.now))
    ctx.session.flush()
    change: dict[str, Any] = {
        "representative": {"op": "added", **evidence, **receipts.patient_ref(rep)}
    }
    if copresent is not None:
        change["copresence"] = copresent
    receipts.issue(ctx, who, Action.REPRESENTATIVE_MANAGE, row, patient, change)
    return {"representatives": _current(ctx, row.id)}


def remove(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    ins, checked = _fields(body)
    row, patient = lookup.dossier(ctx, who, Action.REPRESENTATIVE_MANAGE, dossier_id)
    guard.authorize(
        ctx,
        who,
        Action.REPRESENTATIVE_MANAGE,
        row,
        patient,
        consent_evidence=checked,
        detail={"op": "remove"},
    )
    rep = _person(ctx, ins)
    link = ctx.session.get(RepresentativeLink, (row.id, rep.id))
    if link is None:
        raise no_representative()
    ctx.session.delete(link)
    ctx.session.flush()
    change = {
        "representative": {"op": "removed", **_evidence(checked), **receipts.patient_ref(rep)}
    }
    receipts.issue(ctx, who, Action.REPRESENTATIVE_MANAGE, row, patient, change)
    return {"representatives": _current(ctx, row.id)}


def mine(ctx: Ctx, who: Principal) -> dict[str, Any]:
    """The dossiers a signed-in card holder may act on for someone else: their minor
    children's (as representative) and those delegated to them. Each is kept only if the
    policy allows reading its summary now, so that the list never offers a dossier the
    next request would refuse; it reads only rows that name the caller and shows only
    the names the caller was given with the link. Acting on one is decided and traced."""
    if who.actor.kind is not ActorKind.PATIENT:
        return {"represented": [], "delegated": []}
    represented = ctx.session.execute(
        select(Dossier, Patient)
        .join(RepresentativeLink, RepresentativeLink.dossier_id == Dossier.id)
        .join(Patient, Patient.id == Dossier.patient_id)
        .where(RepresentativeLink.patient_id == who.actor.id)
        .order_by(Patient.birth_date.desc(), Dossier.id)
    ).all()
    delegated = ctx.session.execute(
        select(Dossier, Patient)
        .join(Delegation, Delegation.dossier_id == Dossier.id)
        .join(Patient, Patient.id == Dossier.patient_id)
        .where(Delegation.delegate_patient_id == who.actor.id, Delegation.revoked_at.is_(None))
        .where(Delegation.valid_until > ctx.now)
        .order_by(Patient.birth_name, Dossier.id)
        .distinct()
    ).all()
    return {
        "represented": [_entry(d, p) for d, p in represented if _may_read(ctx, who, d, p)],
        "delegated": [
            {**_entry(d, p), **_scope(ctx, who, d)}
            for d, p in delegated
            if _may_read(ctx, who, d, p)
        ],
    }


def _may_read(ctx: Ctx, who: Principal, row: Dossier, patient: Patient) -> bool:
    if row.status == DossierStatus.PURGED:
        return False
    facts = load(ctx.session, row, patient, ctx.now).facts
    found = for_caller(ctx.session, row.id, who.actor.id, ctx.now)
    if found is not None and who.actor.id not in facts.representatives:
        facts = replace(facts, delegation=found)
    decision = decide(who.actor, Action.DOSSIER_READ, facts, None, Context(now=ctx.now), ctx.matrix)
    return decision.allowed


def _scope(ctx: Ctx, who: Principal, row: Dossier) -> dict[str, Any]:
    found = for_caller(ctx.session, row.id, who.actor.id, ctx.now)
    if found is None:
        return {}
    return {
        "categories": sorted(c.value for c in found.categories),
        "valid_until": views.iso(found.until),
    }


def _entry(row: Dossier, patient: Patient) -> dict[str, Any]:
    return {
        "dossier_id": row.id,
        "status": row.status,
        "first_names": patient.first_names,
        "birth_name": patient.birth_name,
        "birth_date": patient.birth_date.isoformat(),
    }


def _current(ctx: Ctx, dossier_id: int) -> list[dict[str, Any]]:
    reps = ctx.session.scalars(
        select(Patient)
        .join(RepresentativeLink, RepresentativeLink.patient_id == Patient.id)
        .where(RepresentativeLink.dossier_id == dossier_id)
        .order_by(RepresentativeLink.created_at, Patient.id)
    )
    return [{"ins": p.ins, "first_names": p.first_names, "birth_name": p.birth_name} for p in reps]


def _evidence(checked: bool) -> dict[str, Any]:
    return {"identity_checked_at_desk": checked}


def _fields(body: Any) -> tuple[str, bool]:
    data = require_object(body)
    reject_unknown(data, FIELDS)
    ins = _ins(data)
    # The desk attests it saw the representative's card or identity document: only a
    # literal true counts, as for the consent to creation.
    return ins, flag(data, "identity_checked", False) is True


def _ins(data: dict[str, Any]) -> str:
    raw = text(data, "ins", max_len=20) or ""
    try:
        return parse_ins(raw).matricule
    except IdentifierError as exc:
        raise InvalidInput("ins_invalid", str(exc)) from None


def _person(ctx: Ctx, ins: str) -> Patient:
    person = ctx.session.scalars(select(Patient).where(Patient.ins == ins)).first()
    if person is None:
        raise no_representative()
    return person
