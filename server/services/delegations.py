"""Time-boxed delegations: the patient lets another adult read chosen categories until a
date, and revokes it at any time (issue 13, docs/access-rules.md "Delegation").

Giving and revoking are consent-bearing changes: decided (DELEGATION_MANAGE, the patient
only), traced on the patient's chain and receipted. The delegate then uses the ordinary
document routes; the policy reads their delegation (services/delegation_facts.py) and
every access they make is traced on the patient's chain in mode "delegate".
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from server.errors import Conflict, InvalidInput, NotFound
from server.frenchtime import PARIS
from server.identifiers import IdentifierError, parse_ins
from server.models import Delegation, Dossier, Patient
from server.policy import Action, Category
from server.policy.age import is_minor
from server.services import guard, lookup, receipts, views
from server.services.context import Ctx, Principal
from server.services.delegation_facts import categories_of
from server.validation import day, reject_unknown, require_object, text

GIVE_FIELDS = {"ins", "birth_name", "categories", "until"}
# A delegation is for a stretch of time (an illness, a stay abroad): a year at most, so
# that a forgotten one ends by itself; the patient gives a new one to go on.
MAX_DAYS = 366
NAME_MAX = 100


def no_delegate() -> NotFound:
    # One answer for an unknown INS and a name that does not match it: the form must not
    # tell a patient who else is registered.
    return NotFound("delegate_not_found", "Personne introuvable : vérifiez l'INS et le nom.")


def no_delegation() -> NotFound:
    return NotFound("delegation_not_found", "Délégation introuvable.")


def give(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, GIVE_FIELDS)
    ins = _ins(data)
    birth_name = text(data, "birth_name", max_len=NAME_MAX) or ""
    categories = _categories(data.get("categories"))
    until_day = day(data, "until")
    valid_until = _end_of(until_day, ctx.now)
    row, patient = lookup.dossier(ctx, who, Action.DELEGATION_MANAGE, dossier_id)
    detail = {"op": "give", "categories": sorted(categories), "until": until_day.isoformat()}
    guard.authorize(ctx, who, Action.DELEGATION_MANAGE, row, patient, detail=detail)
    # After the decision: who is registered is no business of a refused caller.
    delegate = _delegate(ctx, ins, birth_name)
    if delegate.id == patient.id:
        raise InvalidInput("delegate_self", "Vous ne pouvez pas vous déléguer votre dossier.")
    if is_minor(delegate.birth_date, ctx.now):
        raise InvalidInput("delegate_minor", "La personne déléguée doit être majeure.")
    if _in_force(ctx, row.id, delegate.id) is not None:
        raise Conflict(
            "delegation_exists",
            "Cette personne a déjà une délégation en cours : révoquez-la d'abord.",
        )
    given = Delegation(
        dossier_id=row.id,
        delegate_patient_id=delegate.id,
        categories=",".join(sorted(categories)),
        valid_until=valid_until,
        created_at=ctx.now,
        created_by=who.ref,
    )
    ctx.session.add(given)
    ctx.session.flush()
    _receipt(ctx, who, row, patient, given, delegate, "given")
    return _view(given, delegate, ctx.now)


def list_for(ctx: Ctx, who: Principal, dossier_id: int) -> dict[str, Any]:
    row, patient = lookup.dossier(ctx, who, Action.DELEGATION_MANAGE, dossier_id)
    guard.authorize(ctx, who, Action.DELEGATION_MANAGE, row, patient, detail={"op": "list"})
    found = ctx.session.execute(
        select(Delegation, Patient)
        .join(Patient, Patient.id == Delegation.delegate_patient_id)
        .where(Delegation.dossier_id == row.id)
        .order_by(Delegation.created_at.desc(), Delegation.id.desc())
    ).all()
    return {"delegations": [_view(d, p, ctx.now) for d, p in found]}


def revoke(ctx: Ctx, who: Principal, dossier_id: int, delegation_id: int) -> dict[str, Any]:
    row, patient = lookup.dossier(ctx, who, Action.DELEGATION_MANAGE, dossier_id)
    detail = {"op": "revoke", "delegation": delegation_id}
    guard.authorize(ctx, who, Action.DELEGATION_MANAGE, row, patient, detail=detail)
    # Another dossier's delegation is answered as a missing one.
    given = ctx.session.get(Delegation, delegation_id)
    if given is None or given.dossier_id != row.id:
        raise no_delegation()
    delegate = ctx.session.get(Patient, given.delegate_patient_id)
    if delegate is None:
        raise no_delegation()
    if given.revoked_at is not None:
        raise Conflict("delegation_revoked", "Cette délégation est déjà révoquée.")
    given.revoked_at = ctx.now
    given.revoked_by = who.ref
    _receipt(ctx, who, row, patient, given, delegate, "revoked")
    return _view(given, delegate, ctx.now)


def state(given: Delegation, now: datetime) -> str:
    if given.revoked_at is not None:
        return "revoked"
    return "active" if given.valid_until > now else "ended"


def _view(given: Delegation, delegate: Patient, now: datetime) -> dict[str, Any]:
    return {
        "delegation_id": given.id,
        "delegate": {
            "first_names": delegate.first_names,
            "birth_name": delegate.birth_name,
        },
        "categories": sorted(c.value for c in categories_of(given.categories)),
        "valid_until": views.iso(given.valid_until),
        "created_at": views.iso(given.created_at),
        "revoked_at": views.iso(given.revoked_at),
        "state": state(given, now),
    }


def _receipt(
    ctx: Ctx,
    who: Principal,
    row: Dossier,
    patient: Patient,
    given: Delegation,
    delegate: Patient,
    op: str,
) -> None:
    change = {
        "delegation": {
            "op": op,
            "id": given.id,
            "delegate": receipts.patient_ref(delegate),
            "categories": sorted(c.value for c in categories_of(given.categories)),
            "valid_until": receipts.instant(given.valid_until),
        }
    }
    receipts.issue(ctx, who, Action.DELEGATION_MANAGE, row, patient, change)


def _in_force(ctx: Ctx, dossier_id: int, delegate_id: int) -> Delegation | None:
    return ctx.session.scalars(
        select(Delegation).where(
            Delegation.dossier_id == dossier_id,
            Delegation.delegate_patient_id == delegate_id,
            Delegation.revoked_at.is_(None),
            Delegation.valid_until > ctx.now,
        )
    ).first()


def _ins(data: dict[str, Any]) -> str:
    raw = text(data, "ins", max_len=20) or ""
    try:
        return parse_ins(raw).matricule
    except IdentifierError as exc:
        raise InvalidInput("ins_invalid", str(exc)) from None


def _categories(value: Any) -> frozenset[Category]:
    known = {c.value for c in Category}
    if (
        not isinstance(value, list)
        or not 1 <= len(value) <= len(known)
        or not all(isinstance(v, str) and v in known for v in value)
        or len(set(value)) != len(value)
    ):
        raise InvalidInput(
            "categories_invalid", "Choisissez une ou plusieurs catégories de documents."
        )
    return frozenset(Category(v) for v in value)


def _end_of(until: Any, now: datetime) -> datetime:
    """The delegation holds through the whole chosen day, Paris time (the day the patient
    read on the screen), and ends at the next midnight."""
    today = now.astimezone(PARIS).date()
    if not today <= until <= today + timedelta(days=MAX_DAYS):
        raise InvalidInput(
            "until_invalid",
            f"La date de fin doit être entre aujourd'hui et dans {MAX_DAYS} jours.",
        )
    return datetime.combine(until + timedelta(days=1), time(), PARIS).astimezone(UTC)


def _delegate(ctx: Ctx, ins: str, birth_name: str) -> Patient:
    person = ctx.session.scalars(select(Patient).where(Patient.ins == ins)).first()
    if person is None or _folded(person.birth_name) != _folded(birth_name):
        raise no_delegate()
    return person


def _folded(name: str) -> str:
    return " ".join(name.split()).casefold()
