"""The one gate every use case passes: decide, trace the decision, act on obligations.

A denial is a value inside the engine; here, at the service boundary, it becomes an
`AccessDenied` once its trace entry is committed. An allowed decision is traced in the
transaction of the action it allows, which the API layer commits with it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, NoReturn

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.errors import AccessDenied, Conflict, DmpError, NotFound
from server.models import Document, Dossier, FirstAccess, Patient
from server.policy import (
    Action,
    ActorKind,
    Context,
    Decision,
    DossierFacts,
    Obligation,
    Reason,
    decide,
)
from server.services import audit, delegation_facts, denials, notices
from server.services.context import Ctx, Principal
from server.services.facts import (
    ActiveEmergency,
    DossierRef,
    Loaded,
    PatientRef,
    document_facts,
    load,
)

# Denials that would tell a professional a hidden document exists answer like a missing
# document: whether something is hidden from them is not theirs to know (domain.md
# leaves the choice to us; the patient's history still shows the real reason).
HIDDEN_REASONS = frozenset(
    {
        Reason.DOCUMENT_MASKED,
        Reason.INVISIBLE_TO_PATIENT,
        Reason.INVISIBLE_TO_REPRESENTATIVES,
        Reason.CATEGORY_NOT_ALLOWED,
        Reason.DOCUMENT_DELETED,
    }
)


# Actions on a document that exists: a professional refused one of them because the
# document is hidden from them is answered as if it did not exist.
EXISTING_DOCUMENT_ACTIONS = frozenset(
    {
        Action.DOCUMENT_READ,
        Action.DOCUMENT_REPLACE,
        Action.DOCUMENT_ARCHIVE,
        Action.DOCUMENT_DELETE,
        Action.DOCUMENT_MASK,
        Action.DOCUMENT_PATIENT_VISIBILITY,
        Action.DOCUMENT_REP_VISIBILITY,
    }
)

DENIAL_MESSAGES = {
    Reason.PROFESSIONAL_BLOCKED: "Le patient a bloqué votre accès à son dossier.",
    Reason.NO_AUTHORISATION: "Vous n'êtes pas autorisé(e) : ni équipe de soins, ni consentement.",
    Reason.DOSSIER_CLOSED: "Ce dossier est fermé.",
    Reason.DOSSIER_PURGED: "Ce dossier a été supprimé.",
    Reason.CONSENT_MISSING: "Le consentement explicite du patient est nécessaire.",
    Reason.EMERGENCY_NOT_ALLOWED: "Le patient n'a pas autorisé l'accès en urgence.",
    Reason.EMERGENCY_REASON_MISSING: "Le motif de l'accès en urgence est obligatoire.",
    Reason.MEDECIN_TRAITANT_NOT_BLOCKABLE: "Le médecin traitant ne peut pas être bloqué.",
    Reason.NOT_THE_AUTHOR: "Seul l'auteur du document peut faire cela.",
    Reason.NOT_A_PHYSICIAN: "Seul un médecin peut être désigné médecin traitant.",
    Reason.PATIENT_DEPOSIT_VISIBLE: (
        "Un document déposé par le patient ne peut pas lui être rendu invisible."
    ),
    Reason.SECRET_DEPOSIT_VISIBLE: (
        "En connexion secrète, le document doit être non visible par les représentants légaux."
    ),
    Reason.FORBIDDEN_ACTOR: "Cet organisme n'a aucun accès au dossier médical partagé.",
    Reason.INSURER_READS_NOTHING: "L'Assurance Maladie ne lit aucun document.",
}


@dataclass(frozen=True, slots=True)
class Granted:
    decision: Decision
    facts: DossierFacts | None
    context: Context
    emergency: ActiveEmergency | None  # shown as a banner for the whole session
    # The chain's head after this decision's entry, when it was appended after the `head`
    # the caller gave (`lookup.after`, for a second decision in the same request).
    head: audit.Head | None = None


def authorize(
    ctx: Ctx,
    who: Principal,
    action: Action,
    dossier: Dossier | DossierRef | None,
    patient: Patient | PatientRef | None,
    document: Document | None = None,
    *,
    detail: dict[str, Any] | None = None,
    loaded: Loaded | None = None,
    head: audit.Head | None = None,
    missing: NotFound | None = None,
    defer_trace: bool = False,
    **context: Any,
) -> Granted:
    """Decides, traces the decision and fulfils its obligations; raises on a denial.

    `loaded` and `head` come from `lookup.subject` when the caller loaded the dossier
    with them: its facts for `who` at ctx.now, and the patient's trace head read under its
    lock in this transaction. The head serves only an allowed decision: a denial is traced
    after a rollback, which releases the lock. `missing` is the answer to a NOT_FOUND
    decision (what the request named does not exist, and the caller may know it).
    `defer_trace`: the caller traces an allowed decision itself (`trace`), in this
    transaction, once it knows what the entry must say of the outcome (a search: how
    many documents it returned); a denial is traced here as always."""
    facts, emergency = None, None
    if dossier is not None and patient is not None:
        professional = who.actor.kind is ActorKind.PROFESSIONAL
        loaded = loaded or load(
            ctx.session,
            dossier,
            patient,
            ctx.now,
            professional_id=who.actor.id if professional else None,
            session_hash=who.session_hash if professional else None,
        )
        facts, emergency = loaded.facts, loaded.emergency
        context.setdefault("first_access", loaded.first_access)
        facts = _with_delegation(ctx, who, facts, dossier.id)
    decision_context = Context(
        now=ctx.now, emergency=emergency.mode if emergency else None, **context
    )
    decision = decide(
        who.actor,
        action,
        facts,
        document_facts(document) if document is not None else None,
        decision_context,
        ctx.matrix,
    )
    if not decision.allowed:
        record_denial(ctx, who, action, decision, patient, document, detail)
        raise refusal(who, action, decision.reason, missing)
    after = None
    if not defer_trace:
        after = trace(ctx, who, action, decision, patient, document, detail, head=head)

    def unfinished(error: DmpError) -> None:
        failed = {**(detail or {}), "decided": decision.reason.value}
        trace(ctx, who, action, decision, patient, document, failed, failure=error.reason)

    ctx.unfinished = unfinished
    if dossier is not None and patient is not None:
        _fulfil(ctx, who, decision, dossier, patient)
    return Granted(decision, facts, decision_context, emergency, after)


def _with_delegation(
    ctx: Ctx, who: Principal, facts: DossierFacts, dossier_id: int
) -> DossierFacts:
    """A patient who is neither the dossier's patient nor a representative may hold a
    delegation on it (issue 13): only then is it read, and only theirs."""
    actor = who.actor
    if actor.kind is not ActorKind.PATIENT or actor.id == facts.patient_id:
        return facts
    if actor.id in facts.representatives:
        return facts
    found = delegation_facts.for_caller(ctx.session, dossier_id, actor.id, ctx.now)
    return facts if found is None else replace(facts, delegation=found)


def permits(
    ctx: Ctx,
    who: Principal,
    action: Action,
    dossier: Dossier,
    patient: Patient,
    document: Document | None = None,
) -> bool:
    """Whether `action` would be allowed now, asked of the same `decide` on the same facts
    and not traced: the caller only chooses with it which decision to take and trace (a
    FHIR PATCH applies to the resource only a caller who may read it)."""
    professional = who.actor.kind is ActorKind.PROFESSIONAL
    loaded = load(
        ctx.session,
        dossier,
        patient,
        ctx.now,
        professional_id=who.actor.id if professional else None,
        session_hash=who.session_hash if professional else None,
    )
    emergency = loaded.emergency.mode if loaded.emergency else None
    context = Context(now=ctx.now, emergency=emergency, first_access=loaded.first_access)
    facts = document_facts(document) if document is not None else None
    dossier_facts = _with_delegation(ctx, who, loaded.facts, dossier.id)
    return decide(who.actor, action, dossier_facts, facts, context, ctx.matrix).allowed


def refuse_missing(
    ctx: Ctx,
    who: Principal,
    action: Action,
    dossier: Dossier | DossierRef | None,
    patient: Patient | PatientRef | None,
    missing: NotFound,
    **context: Any,
) -> NoReturn:
    """The request names something that does not exist (a dossier, document, professional
    or care-team member): decided and traced like any request, so that the caller gets
    `missing` only when entitled to know (NOT_FOUND), and otherwise the refusal they would
    get were it there. Without a dossier the trace goes to the system chain."""
    authorize(ctx, who, action, dossier, patient, missing=missing, **context)
    # No rule allows acting on nothing; should one ever, the request still stops here
    # (and the allowed decision's trace is rolled back with the request).
    raise missing


def refusal(who: Principal, action: Action, reason: Reason, missing: NotFound | None) -> DmpError:
    """The answer to a denial, once traced."""
    if reason is Reason.NOT_FOUND:
        return missing or NotFound("not_found", "Introuvable.")
    if (
        action in EXISTING_DOCUMENT_ACTIONS
        and reason in HIDDEN_REASONS
        and who.actor.kind is not ActorKind.PATIENT
    ):
        return NotFound("document_not_found", "Document introuvable.")
    return denial(reason)


def record_denial(
    ctx: Ctx,
    who: Principal,
    action: Action,
    decision: Decision,
    patient: Patient | PatientRef | None,
    document: Document | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """A denial is traced in a transaction of its own, after undoing anything the request
    had begun, so that a refused request leaves nothing behind but its trace entry.
    Identical denials repeated within a window count on that entry (services/denials)."""
    ctx.session.rollback()
    ctx.unfinished = None  # what the request had begun is undone, its decisions with it
    target = f"document:{document.logical_id}" if document is not None else None

    def append(full: dict[str, Any] | None, head: audit.Head | None) -> None:
        trace(ctx, who, action, decision, patient, document, full, head=head)

    denials.record(
        ctx,
        audit.chain_for(patient.id if patient is not None else None),
        denials.key_of(who, action.value, decision.reason.value, target),
        detail,
        append,
    )
    ctx.session.commit()


def denial(reason: Reason) -> DmpError:
    if reason is Reason.DOSSIER_EXISTS:
        return Conflict(reason.value, "Un dossier existe déjà pour ce patient.")
    return AccessDenied(reason.value, DENIAL_MESSAGES.get(reason, "Accès refusé."))


def trace(
    ctx: Ctx,
    who: Principal,
    action: Action,
    decision: Decision,
    patient: Patient | PatientRef | None,
    document: Document | None = None,
    detail: dict[str, Any] | None = None,
    *,
    head: audit.Head | None = None,
    failure: str | None = None,
) -> audit.Head | None:
    """`failure`: the allowed action could not be carried out (the request's error
    reason); traced as denied with that reason. Returns the chain's new head when `head`
    was given (the caller's, read under its lock in this transaction), else None."""
    allowed = decision.allowed and failure is None
    patient_id = patient.id if patient is not None else None
    entry = audit.TraceEntry(
        at=ctx.now,
        actor_kind=who.actor.kind.value,
        actor_id=who.actor.id,
        actor_name=who.name,
        actor_profession=who.actor.profession,
        actor_structure=who.actor.structure,
        action=action,
        mode=decision.mode.value,
        outcome="allowed" if allowed else "denied",
        reason=failure or decision.reason.value,
        target=f"document:{document.logical_id}" if document is not None else None,
        category=document.category if document is not None else None,
        detail=detail or {},
        kiosk=who.kiosk,
    )
    if head is None:
        audit.append(ctx.session, patient_id, entry)
        return None
    if head.chain != audit.chain_for(patient_id):
        raise ValueError(f"head of {head.chain} given for {audit.chain_for(patient_id)}")
    return audit.append_after(ctx.session, head, entry)


def _fulfil(
    ctx: Ctx,
    who: Principal,
    decision: Decision,
    dossier: Dossier | DossierRef,
    patient: Patient | PatientRef,
) -> None:
    obligations = decision.obligations
    if Obligation.NOTIFY_PATIENT_FIRST_ACCESS in obligations and _record_first_access(
        ctx, dossier.id, who.actor.id
    ):
        notices.queue(ctx, patient, "first_access", who)
    if Obligation.NOTIFY_PATIENT_EMERGENCY in obligations:
        notices.queue(ctx, patient, decision.mode.value, who)
    if Obligation.NOTIFY_PATIENT_NEW_DOCUMENT in obligations:
        notices.queue(ctx, patient, "new_document", who)


def _record_first_access(ctx: Ctx, dossier_id: int, professional_id: int) -> bool:
    """Records a professional's first access; False if it was already there.

    Two first requests of the same professional may both have read "never accessed"
    before either committed (the facts are read before the head lock is granted on
    PostgreSQL): the second then inserts nothing and queues no second notice, instead of
    failing on the primary key."""
    dialect = ctx.session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(FirstAccess)
        .values(dossier_id=dossier_id, professional_id=professional_id, at=ctx.now)
        .on_conflict_do_nothing()
        .returning(FirstAccess.dossier_id)  # a row back only if one was inserted
    )
    return ctx.session.execute(statement).first() is not None
