"""The privacy officer's review queue: list, read a case, record an outcome.

The officer sees the trace line (when, what act, under which title, the outcome), the
stated reason of an emergency, the professional and whose dossier it is (to check it in
the establishment's own records): never a document, nor anything read from one. Every
decision, allowed or denied, is traced: reading or deciding a case in the patient's own
chain (the patient sees that their case was examined), the queue in the system chain.
"""

from __future__ import annotations

import json
from typing import Any, NoReturn

from sqlalchemy import select

from server.alerts import notify
from server.errors import AccessDenied, InvalidInput, NotFound
from server.models import AuditEntry, Dossier, Patient, Professional, ReviewCase
from server.policy.review import (
    CaseFacts,
    ReviewAction,
    ReviewDecision,
    ReviewReason,
    decide_review,
)
from server.services import audit, views
from server.services.context import Ctx, Principal
from server.validation import reject_unknown, require_object, text

OUTCOMES = ("en_cours", "justifiee", "non_justifiee")
STATUSES = ("a_traiter", *OUTCOMES)
COMMENT_MAX = 500
QUEUE_LIMIT = 200
# The parts of a trace entry's detail the officer may see: the stated reason of an
# emergency access, and counts (never a search's words, which the trace does not keep).
VISIBLE_DETAIL = ("reason", "matched", "returned")


def queue(ctx: Ctx, who: Principal, status: str | None = None) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise InvalidInput("status_invalid", "Statut de dossier d'examen inconnu.")
    decision = decide_review(who.actor, ReviewAction.LIST, None)
    if not decision.allowed:
        _refuse(ctx, who, ReviewAction.LIST, decision, None)
    query = select(ReviewCase).where(ReviewCase.establishment == who.actor.structure)
    if status is not None:
        query = query.where(ReviewCase.status == status)
    cases = ctx.session.scalars(query.order_by(ReviewCase.id.desc()).limit(QUEUE_LIMIT)).all()
    _trace(ctx, who, ReviewAction.LIST, decision, None, {"count": len(cases)})
    return {"cases": [_case_view(ctx, case) for case in cases]}


def read(ctx: Ctx, who: Principal, case_id: int) -> dict[str, Any]:
    case = _authorized(ctx, who, ReviewAction.READ, case_id)
    _trace(ctx, who, ReviewAction.READ, _ALLOWED, case.patient_id, {"case": case.id})
    view = _case_view(ctx, case)
    view["comment"] = _comment(ctx, case)
    return view


def decide(ctx: Ctx, who: Principal, case_id: int, body: Any) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, {"outcome", "comment"})
    outcome = data.get("outcome")
    if outcome not in OUTCOMES:
        raise InvalidInput(
            "outcome_invalid", "Résultat attendu : justifiee, non_justifiee ou en_cours."
        )
    comment = text(data, "comment", max_len=COMMENT_MAX, required=False)
    case = _authorized(ctx, who, ReviewAction.DECIDE, case_id)
    was = case.status
    case.status = outcome
    case.decided_at = ctx.now
    case.decided_by = who.actor.id
    if comment is not None:
        _seal_comment(ctx, case, comment)
    # The comment is not traced: the trace is read by the patient and kept for years,
    # and an officer's free text is theirs to word, sealed with the dossier's key.
    _trace(
        ctx,
        who,
        ReviewAction.DECIDE,
        _ALLOWED,
        case.patient_id,
        {"case": case.id, "outcome": outcome},
    )
    patient = ctx.session.get(Patient, case.patient_id)
    if outcome == "non_justifiee" and was != "non_justifiee" and patient is not None:
        notify.queue(ctx.session, patient, "access_unjustified", notify.UNJUSTIFIED, ctx.now)
    view = _case_view(ctx, case)
    view["comment"] = comment if comment is not None else _comment(ctx, case)
    return view


# --- the decision and its trace ----------------------------------------------------------

_ALLOWED = ReviewDecision(True, ReviewReason.OFFICER_OF_ESTABLISHMENT)


def _authorized(ctx: Ctx, who: Principal, action: ReviewAction, case_id: int) -> ReviewCase:
    case = ctx.session.get(ReviewCase, case_id)
    facts = CaseFacts(case.establishment) if case is not None else None
    decision = decide_review(who.actor, action, facts)
    if not decision.allowed:
        _refuse(ctx, who, action, decision, case)
    if case is None:  # no rule allows acting on nothing
        raise NotFound("case_not_found", "Dossier d'examen introuvable.")
    return case


def _refuse(
    ctx: Ctx,
    who: Principal,
    action: ReviewAction,
    decision: ReviewDecision,
    case: ReviewCase | None,
) -> NoReturn:
    """Traced in a transaction of its own, as every denial (services/guard.py); a case of
    another establishment is answered like one that does not exist."""
    patient_id = case.patient_id if case is not None else None
    case_id = case.id if case is not None else None
    ctx.session.rollback()
    _trace(ctx, who, action, decision, patient_id, {"case": case_id} if case_id else None)
    ctx.session.commit()
    if decision.reason is ReviewReason.OTHER_ESTABLISHMENT:
        raise NotFound("case_not_found", "Dossier d'examen introuvable.")
    raise AccessDenied(decision.reason.value, "Réservé au délégué à la protection des données.")


def _trace(
    ctx: Ctx,
    who: Principal,
    action: ReviewAction,
    decision: ReviewDecision,
    patient_id: int | None,
    detail: dict[str, Any] | None,
) -> None:
    audit.append(
        ctx.session,
        patient_id,
        audit.TraceEntry(
            at=ctx.now,
            actor_kind=who.actor.kind.value,
            actor_id=who.actor.id,
            actor_name=who.name,
            actor_profession=who.actor.profession,
            actor_structure=who.actor.structure,
            action=action,
            mode="review" if decision.allowed else "none",
            outcome="allowed" if decision.allowed else "denied",
            reason=decision.reason.value,
            detail=detail or {},
            kiosk=who.kiosk,
        ),
    )


# --- views ---------------------------------------------------------------------------------


def _case_view(ctx: Ctx, case: ReviewCase) -> dict[str, Any]:
    entry = ctx.session.get(AuditEntry, case.audit_entry_id)
    pro = ctx.session.get(Professional, case.professional_id)
    patient = ctx.session.get(Patient, case.patient_id)
    detail = json.loads(entry.detail or "{}") if entry is not None else {}
    return {
        "id": case.id,
        "status": case.status,
        "rules": case.rules.split(),
        "flagged_at": views.iso(case.flagged_at),
        "decided_at": views.iso(case.decided_at) if case.decided_at else None,
        "entry": {
            "at": views.iso(entry.at),
            "action": entry.action,
            "mode": entry.mode,
            "outcome": entry.outcome,
            "reason": entry.reason,
            "category": entry.category,
            "params": {k: detail[k] for k in VISIBLE_DETAIL if k in detail},
        }
        if entry is not None
        else None,
        "professional": {
            "name": f"{pro.first_name} {pro.last_name}",
            "national_id": pro.national_id,
            "profession": pro.profession,
            "structure": pro.structure_finess,
            "structure_name": pro.structure_name,
        }
        if pro is not None
        else None,
        "patient": {"name": f"{patient.first_names.split()[0]} {patient.birth_name}"}
        if patient is not None
        else None,
    }


def _aad(case: ReviewCase) -> str:
    return f"review-comment:{case.id}"


def _wrapped_key(ctx: Ctx, case: ReviewCase) -> bytes | None:
    return ctx.session.scalar(
        select(Dossier.wrapped_key).where(Dossier.patient_id == case.patient_id)
    )


def _seal_comment(ctx: Ctx, case: ReviewCase, comment: str) -> None:
    key = _wrapped_key(ctx, case)
    if key is None:  # the dossier's key is destroyed: nothing may be written about it
        raise InvalidInput("comment_unavailable", "Le dossier a été supprimé.")
    ctx.session.flush()
    case.comment_nonce, case.comment = ctx.keyring.encrypt(key, comment.encode(), _aad(case))


def _comment(ctx: Ctx, case: ReviewCase) -> str | None:
    key = _wrapped_key(ctx, case)
    if case.comment is None or case.comment_nonce is None or key is None:
        return None
    return ctx.keyring.decrypt(key, case.comment_nonce, case.comment, _aad(case)).decode()
