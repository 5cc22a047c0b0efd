"""The access decision: `decide(actor, action, dossier, document, ctx, matrix) -> Decision`.

Pure: no I/O, no clock (`ctx.now`), no randomness; the same facts always give the same
answer. Rules are tried in order, the first that matches answers, and whatever no rule
allows is refused with `Reason.DEFAULT_DENY` (warehouse style: explicit denials first,
default deny last). "domain.md" in comments is the project's domain brief (the DMP's
rules as gathered from public sources).

The rules, in the order they are tried:

1. Third parties (mutuelles, banks, employers...) are refused everything.
2. The insurer deposits reimbursement data on active dossiers and reads nothing.
3. A professional whose profession is unknown to the matrix or ineligible is refused.
   A médecin traitant whose profession is not a physician's (matrix key `physician`)
   counts as no médecin traitant at all, whatever the database says.
4. Creation needs no existing (non-purged) dossier and explicit consent evidence; the
   patient creates their own, any eligible professional may create with consent; a
   médecin traitant named at creation must be a physician.
5. Without a dossier nothing else is possible. A purged dossier refuses everything to its
   patient (DOSSIER_PURGED) and is no dossier at all to anyone else. Without a dossier,
   a caller entitled to learn that none exists gets NOT_FOUND (a lookup by an eligible
   professional, the insurer, or a patient about themself); everyone else gets the
   refusal they would get on a dossier they have no part in (NO_AUTHORISATION,
   NOT_A_PARTY), so that answers never tell which dossiers exist.
   5b. Finding a dossier by INS (DOSSIER_LOOKUP) says that it exists and its id, no
   content: allowed to the patient and a minor's representative, to the insurer and to
   any unblocked eligible professional on an active dossier (so that one can ask for
   consent or break the glass, which need the id).
6. Patients act on their own dossier, representatives on a minor's; a closed dossier
   can still be read, exported and reopened. Someone the patient delegated reading to
   reads the delegated categories until the delegation ends (policy/delegation.py).
7. Professionals: closed dossiers refuse everything; the emergency acts; consent given in
   person (ACCESS_GRANT for oneself with `patient_present`: the patient's card at the
   counter), refused to a blocked professional; closure in person (DOSSIER_CLOSE with
   `patient_present`), likewise; the admissions desk (which also adds and removes a
   minor's representatives); then a relation
   (médecin traitant, blocked, author, care team, consent, emergency) and the per-action
   checks (matrix, masking, authorship, status).
8. Anything else is refused (DEFAULT_DENY).

Acts on no dossier are decided apart, each by its own pure function with its own table
of cases, so that this walk over every Action stays about dossiers: the privacy
officer's review acts (policy/review.py) and the professionals directory search
(policy/directory.py, which asks the matrix which professions it may answer).

Design choices (where the rules left room):

- Document-scoped actions (read, deposit, replace, archive, delete, mask, the two
  visibility flags) without document facts name a document that does not exist: once
  the caller's relation to the dossier holds they get NOT_FOUND, otherwise the refusal
  of that relation (the same answer as for an existing document). `ctx.unknown_target`
  does the same for a professional or care-team member that does not exist.
  Dossier-scoped actions ignore any document given to them.
- Authorship is a relation only for actions on an existing document, that document,
  and for DOCUMENT_LIST of a dossier the professional wrote in (`dossier.authors`):
  reading by id and listing must agree, and the list shows exactly the documents that
  DOCUMENT_READ allows. For DOCUMENT_DEPOSIT the facts describe the document about to
  be created, whose author is the depositor by construction; counting that would let
  anyone deposit anywhere.
- A deposit must describe a CURRENT document (DOCUMENT_NOT_CURRENT otherwise): a new
  document cannot be born superseded, archived or deleted.
- Under bris de glace or centre 15, MASQUE_PS documents stay hidden: domain.md names the
  médecin traitant and the author as the only exceptions, and the patient who masked a
  document did so precisely against unexpected readers. The matrix still applies too.
- The emergency acts (BRIS_DE_GLACE, CENTRE_15) do not need a prior relation, that is
  their point; the médecin traitant is never "blocked" for them either.
- A relation that fails (blocked, no authorisation, emergency withdrawn) is answered
  before any per-action rule, so an unrelated professional asking for a patient-only
  right gets NO_AUTHORISATION, a related one DEFAULT_DENY.
- Centre 15 in the session checks the profession before the patient's permission, as the
  CENTRE_15 act does: NOT_A_REGULATOR is the more useful answer to a non-regulator.
- ACCESS_GRANT / ACCESS_BLOCK need `ctx.target_professional_id`; without a target there
  is nothing to grant or block (DEFAULT_DENY).
- The first-access notice also applies to the admissions desk reading the summary: the
  patient is told about every professional's first access (domain.md), clinical or not.
- Creating a dossier is refused to legal representatives (NOT_A_PARTY): without a
  dossier the server has no representative link to trust yet; the desk creates it.
- Whether a professional can tell that a document is hidden from them is decided at the
  service boundary (the reasons are precise here, for the patient's history). The engine
  answers per document: DOCUMENT_LIST decides whether the list may be shown at all, and
  the list holds exactly the documents for which DOCUMENT_READ is allowed (`listed`).
  `readable_categories` describes the profession's columns, not the list: an author
  also reads what they wrote outside them.
- A professional's action on an existing document they may not read (masked, outside
  their categories, deleted) is refused with that reason before any other check, so
  that archiving, masking or deleting cannot tell them more than reading does.
- Superseded and archived documents stay readable to whoever may read the category:
  replaced versions are kept on purpose (domain.md), archive is not delete.
- The two fallbacks marked "rule 8" cannot be reached with today's four actor kinds;
  they keep a future kind denied until a rule is written for it.
- "Cannot be both INVISIBLE_PATIENT and MASQUE_PS" concerns the flags' next state, which
  the engine does not see: the services enforce it when applying the change.
- INVISIBLE_PATIENT cannot be set on (or cleared from) a document the patient or a
  representative deposited (PATIENT_DEPOSIT_VISIBLE): hiding someone's own words from
  them is meaningless, and the label would claim a rule that is not applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from server.policy.age import is_minor
from server.policy.delegation import (
    decide_delegate,
    decide_representative_manage,
    deposit_obligations,
    is_delegate,
    may_manage_delegations,
    secret_deposit,
)
from server.policy.matrix import Matrix, ProfessionRules
from server.policy.model import (
    Action,
    Actor,
    ActorKind,
    Category,
    Context,
    Decision,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
    DossierStatus,
    Mode,
    Obligation,
    Reason,
)

__all__ = ["decide", "is_minor", "listed"]

ALL_CATEGORIES = frozenset(Category)
ADMISSIONS = "admissions"
REGULATOR = "regulateur_samu"
NO_OBLIGATION: frozenset[Obligation] = frozenset()
EMERGENCY_ACT_OBLIGATIONS = frozenset(
    {Obligation.NOTIFY_PATIENT_EMERGENCY, Obligation.SHOW_EMERGENCY_BANNER}
)

DOCUMENT_ACTIONS = frozenset(
    {
        Action.DOCUMENT_READ,
        Action.DOCUMENT_DEPOSIT,
        Action.DOCUMENT_REPLACE,
        Action.DOCUMENT_ARCHIVE,
        Action.DOCUMENT_DELETE,
        Action.DOCUMENT_MASK,
        Action.DOCUMENT_PATIENT_VISIBILITY,
        Action.DOCUMENT_REP_VISIBILITY,
    }
)
# Actions on a document that already exists: the only ones where authorship counts.
EXISTING_DOCUMENT_ACTIONS = DOCUMENT_ACTIONS - {Action.DOCUMENT_DEPOSIT}
READ_ACTIONS = frozenset({Action.DOSSIER_READ, Action.DOCUMENT_LIST, Action.DOCUMENT_READ})

# The patient's (and a minor's representative's) own rights on an active dossier.
PATIENT_DOSSIER_RIGHTS = frozenset(
    {
        Action.DOSSIER_READ,
        Action.DOCUMENT_LIST,
        Action.HISTORY_READ,
        Action.ACCESS_GRANT,
        Action.ACCESS_BLOCK,
        Action.CARE_TEAM_MANAGE,
        Action.MEDECIN_TRAITANT_SET,
        Action.EMERGENCY_SETTINGS,
        Action.DOSSIER_CLOSE,
        Action.DOSSIER_EXPORT,
        Action.DELEGATION_MANAGE,
    }
)
# domain.md: a closed dossier is kept so that it can be exported and reopened.
CLOSED_DOSSIER_PATIENT_ACTIONS = frozenset(
    {
        Action.DOSSIER_READ,
        Action.DOCUMENT_LIST,
        Action.DOCUMENT_READ,
        Action.HISTORY_READ,
        Action.DOSSIER_REOPEN,
        Action.DOSSIER_EXPORT,
    }
)
# Professionals who may change a document's flags or archive it: its author and the MT.
AUTHOR_OR_MT_ACTIONS = frozenset(
    {
        Action.DOCUMENT_ARCHIVE,
        Action.DOCUMENT_MASK,
        Action.DOCUMENT_PATIENT_VISIBILITY,
        Action.DOCUMENT_REP_VISIBILITY,
    }
)
TARGETED_ACTIONS = frozenset({Action.ACCESS_GRANT, Action.ACCESS_BLOCK})
# Dossier actions that name a professional or a care-team member (`ctx.unknown_target`).
NAMING_ACTIONS = TARGETED_ACTIONS | {Action.CARE_TEAM_MANAGE, Action.MEDECIN_TRAITANT_SET}


@dataclass(frozen=True, slots=True)
class Grant:
    """Under which title an actor acts on a dossier, once the relation is established."""

    reason: Reason
    mode: Mode


def decide(
    actor: Actor,
    action: Action,
    dossier: DossierFacts | None,
    document: DocumentFacts | None,
    ctx: Context,
    matrix: Matrix,
) -> Decision:
    """The one access decision of the records server (first matching rule wins)."""
    # Rule 1: mutuelles, banks, employers... never any access, whatever they present.
    if actor.kind is ActorKind.THIRD_PARTY:
        return _deny(Reason.FORBIDDEN_ACTOR)
    # Rule 2: the Assurance Maladie injects reimbursements and reads nothing.
    if actor.kind is ActorKind.INSURER:
        return _decide_insurer(action, dossier, document)
    rules: ProfessionRules | None = None
    if actor.kind is ActorKind.PROFESSIONAL:
        # Rule 3: unknown or legally excluded professions (occupational medicine).
        rules = matrix.rules_for(actor.profession)
        if rules is None or not rules.eligible:
            return _deny(Reason.NOT_AN_ELIGIBLE_PROFESSION)
    if dossier is not None:
        dossier = _only_a_physician_is_medecin_traitant(dossier, matrix)
    # Rule 4: creation, where a purged dossier counts as none.
    if action is Action.DOSSIER_CREATE:
        return _decide_creation(actor, dossier, ctx, matrix)
    # Rule 5.
    if dossier is not None and dossier.status is DossierStatus.PURGED:
        if actor.kind is ActorKind.PATIENT and isinstance(
            _patient_relation(actor, dossier, ctx), Grant
        ):
            return _deny(Reason.DOSSIER_PURGED)
        dossier = None
    if dossier is None:
        return _no_dossier(actor, action, ctx)
    if action is Action.DOSSIER_LOOKUP:
        return _decide_lookup(actor, dossier, ctx)
    if actor.kind is ActorKind.PATIENT:
        return _decide_patient(actor, action, dossier, document, ctx, matrix)
    if rules is not None:
        return _decide_professional(actor, rules, action, dossier, document, ctx)
    # Rule 8.
    return _deny(Reason.DEFAULT_DENY)


def _only_a_physician_is_medecin_traitant(dossier: DossierFacts, matrix: Matrix) -> DossierFacts:
    """domain.md: the médecin traitant is a physician. A designation of anyone else (made
    before the rule, or written straight into the database) grants nothing: not the
    reading of everything, not the protection against blocking."""
    if dossier.medecin_traitant_id is None or _may_be_medecin_traitant(
        dossier.medecin_traitant_profession, matrix
    ):
        return dossier
    return replace(dossier, medecin_traitant_id=None, medecin_traitant_profession=None)


def _may_be_medecin_traitant(profession: str | None, matrix: Matrix) -> bool:
    rules = matrix.rules_for(profession)
    return rules is not None and rules.may_be_medecin_traitant


def _no_dossier(actor: Actor, action: Action, ctx: Context) -> Decision:
    """Rule 5: no dossier (or a purged one, to anyone but its patient). Whoever may learn
    that a dossier exists may learn that none does; anyone else is refused exactly as on
    a dossier they have no part in, so that no answer tells which dossiers exist."""
    if actor.kind is ActorKind.PATIENT:
        asks_about_self = ctx.subject_patient_id is not None and ctx.subject_patient_id == actor.id
        if action is Action.DOSSIER_LOOKUP and asks_about_self:
            return _deny(Reason.NOT_FOUND)
        return _deny(Reason.NOT_A_PARTY)
    if actor.kind is ActorKind.PROFESSIONAL:
        if action is Action.DOSSIER_LOOKUP:
            return _deny(Reason.NOT_FOUND)
        return _deny(Reason.NO_AUTHORISATION)
    # Rule 8.
    return _deny(Reason.DEFAULT_DENY)


def listed(
    list_decision: Decision,
    actor: Actor,
    dossier: DossierFacts | None,
    document: DocumentFacts,
    ctx: Context,
    matrix: Matrix,
) -> bool:
    """Whether `document` appears in the list that `list_decision` (DOCUMENT_LIST) answered:
    exactly when reading it by id is allowed, so that a list and a read never disagree.
    The services may skip documents they know to be unreadable, never add any."""
    if not list_decision.allowed:
        return False
    return decide(actor, Action.DOCUMENT_READ, dossier, document, ctx, matrix).allowed


# --- decisions -------------------------------------------------------------------------


def _deny(reason: Reason) -> Decision:
    return Decision(allowed=False, reason=reason)


def _allow(
    grant: Grant,
    obligations: frozenset[Obligation] = NO_OBLIGATION,
    readable: frozenset[Category] = frozenset(),
) -> Decision:
    return Decision(
        allowed=True,
        reason=grant.reason,
        mode=grant.mode,
        obligations=obligations,
        readable_categories=readable,
    )


# --- rule 2: the insurer ---------------------------------------------------------------


def _decide_insurer(
    action: Action, dossier: DossierFacts | None, document: DocumentFacts | None
) -> Decision:
    is_reimbursement = document is not None and document.category is Category.REMBOURSEMENT
    is_lookup = action is Action.DOSSIER_LOOKUP  # to know where to inject
    if not is_lookup and (action is not Action.DOCUMENT_DEPOSIT or not is_reimbursement):
        return _deny(Reason.INSURER_READS_NOTHING)
    # The insurer may find where to inject, hence learn that there is nowhere to.
    if dossier is None or dossier.status is DossierStatus.PURGED:
        return _deny(Reason.NOT_FOUND)
    if dossier.status is DossierStatus.CLOSED:
        return _deny(Reason.DOSSIER_CLOSED)
    if is_lookup:
        return _allow(Grant(Reason.IDENTITY_LOOKUP, Mode.INSURER))
    # Reimbursement injection is routine: notifying the patient each time would be noise.
    return _allow(Grant(Reason.INSURER_DEPOSIT, Mode.INSURER))


# --- rule 4: creation ------------------------------------------------------------------


def _decide_creation(
    actor: Actor, dossier: DossierFacts | None, ctx: Context, matrix: Matrix
) -> Decision:
    if actor.kind is ActorKind.PATIENT:
        # Before the existence check: a patient learns nothing of another's dossier.
        if ctx.subject_patient_id is None or actor.id != ctx.subject_patient_id:
            return _deny(Reason.NOT_A_PARTY)
        grant = Grant(Reason.CREATION_WITH_CONSENT, Mode.PATIENT)
    elif actor.kind is ActorKind.PROFESSIONAL:
        mode = Mode.ADMISSIONS if actor.profession == ADMISSIONS else Mode.CONSENT
        grant = Grant(Reason.CREATION_WITH_CONSENT, mode)
    else:
        # Rule 8.
        return _deny(Reason.DEFAULT_DENY)
    if dossier is not None and dossier.status is not DossierStatus.PURGED:
        return _deny(Reason.DOSSIER_EXISTS)
    # domain.md: a dossier exists only with the patient's explicit consent.
    if not ctx.consent_evidence:
        return _deny(Reason.CONSENT_MISSING)
    if ctx.unknown_target:
        return _deny(Reason.NOT_FOUND)
    if ctx.target_profession is not None and not _may_be_medecin_traitant(
        ctx.target_profession, matrix
    ):
        return _deny(Reason.NOT_A_PHYSICIAN)
    return _allow(grant)


# --- rule 5b: finding a dossier by INS ---------------------------------------------------


def _decide_lookup(actor: Actor, dossier: DossierFacts, ctx: Context) -> Decision:
    """Any eligible professional may learn that a dossier exists and its id (with the patient
    at the desk, before asking consent or breaking the glass); it reveals no content and is
    traced like any decision. Patients find their own and their minor children's."""
    if actor.kind is ActorKind.PATIENT:
        grant = _patient_relation(actor, dossier, ctx)
        if isinstance(grant, Reason):
            return _deny(grant)
        return _allow(Grant(Reason.IDENTITY_LOOKUP, grant.mode))
    if dossier.status is DossierStatus.CLOSED:
        return _deny(Reason.DOSSIER_CLOSED)
    if _is_blocked(actor, dossier):
        return _deny(Reason.PROFESSIONAL_BLOCKED)
    return Decision(allowed=True, reason=Reason.IDENTITY_LOOKUP, mode=Mode.NONE)


# --- rule 6: patients and legal representatives -----------------------------------------


def _patient_relation(actor: Actor, dossier: DossierFacts, ctx: Context) -> Grant | Reason:
    if actor.id == dossier.patient_id:
        return Grant(Reason.PATIENT_OWN_DOSSIER, Mode.PATIENT)
    if actor.id in dossier.representatives:
        # domain.md: a representative acts for a minor; at 18 the link stops counting.
        if is_minor(dossier.patient_birth_date, ctx.now):
            return Grant(Reason.REPRESENTATIVE_OF_MINOR, Mode.REPRESENTATIVE)
        return Reason.REPRESENTATIVE_OF_ADULT
    return Reason.NOT_A_PARTY


def _decide_patient(
    actor: Actor,
    action: Action,
    dossier: DossierFacts,
    document: DocumentFacts | None,
    ctx: Context,
    matrix: Matrix,
) -> Decision:
    grant = _patient_relation(actor, dossier, ctx)
    if grant is Reason.NOT_A_PARTY and dossier.delegation is not None:
        # Someone the patient delegated reading to (server/policy/delegation.py).
        if is_delegate(actor, dossier):
            return decide_delegate(action, dossier, dossier.delegation, document, ctx)
    if isinstance(grant, Reason):
        return _deny(grant)
    closed = dossier.status is DossierStatus.CLOSED
    if closed and action not in CLOSED_DOSSIER_PATIENT_ACTIONS:
        return _deny(Reason.DOSSIER_CLOSED)
    if action is Action.DOSSIER_REOPEN:
        return _allow(grant) if closed else _deny(Reason.DEFAULT_DENY)
    if action in DOCUMENT_ACTIONS:
        if document is None:
            return _deny(Reason.NOT_FOUND)
        return _patient_document_action(actor, grant, action, document)
    if action in PATIENT_DOSSIER_RIGHTS:
        if ctx.unknown_target and action in NAMING_ACTIONS:
            return _deny(Reason.NOT_FOUND)
        return _patient_dossier_action(grant, action, dossier, ctx, matrix)
    # BRIS_DE_GLACE, CENTRE_15, CARE_TEAM_JOIN are professionals' acts.
    return _deny(Reason.DEFAULT_DENY)


def _patient_dossier_action(
    grant: Grant, action: Action, dossier: DossierFacts, ctx: Context, matrix: Matrix
) -> Decision:
    if action is Action.MEDECIN_TRAITANT_SET and ctx.target_professional_id is not None:
        # domain.md: the médecin traitant is a physician (matrix key `physician`).
        if not _may_be_medecin_traitant(ctx.target_profession, matrix):
            return _deny(Reason.NOT_A_PHYSICIAN)
    if action in TARGETED_ACTIONS:
        target = ctx.target_professional_id
        if target is None:
            return _deny(Reason.DEFAULT_DENY)
        # domain.md: the médecin traitant cannot be blocked.
        if action is Action.ACCESS_BLOCK and target == dossier.medecin_traitant_id:
            return _deny(Reason.MEDECIN_TRAITANT_NOT_BLOCKABLE)
    if action is Action.DELEGATION_MANAGE:
        refused = may_manage_delegations(grant.mode, dossier, ctx)
        if refused is not None:
            return refused
    if action in (Action.DOSSIER_READ, Action.DOCUMENT_LIST):
        # The whole dossier is theirs; invisible documents are filtered one by one.
        return _allow(grant, readable=ALL_CATEGORIES)
    return _allow(grant)


def _patient_document_action(
    actor: Actor, grant: Grant, action: Action, document: DocumentFacts
) -> Decision:
    own = document.author_patient_id == actor.id
    if action is Action.DOCUMENT_DEPOSIT:
        # Patients add their own documents, in their own category only.
        if document.category is not Category.DEPOSE_PATIENT:
            return _deny(Reason.CATEGORY_NOT_ALLOWED)
        if document.status is not DocumentStatus.CURRENT:
            return _deny(Reason.DOCUMENT_NOT_CURRENT)
        return _allow(grant)
    if action in (Action.DOCUMENT_REPLACE, Action.DOCUMENT_DELETE):
        return _author_lifecycle(grant, action, document, is_author=own, may_write=True)
    if action in (Action.DOCUMENT_READ, Action.DOCUMENT_MASK, Action.DOCUMENT_ARCHIVE):
        if document.status is DocumentStatus.DELETED:
            return _deny(Reason.DOCUMENT_DELETED)
        if own:
            return _allow(grant)
        if document.invisible_patient:
            return _deny(Reason.INVISIBLE_TO_PATIENT)
        if grant.mode is Mode.REPRESENTATIVE and document.invisible_rep:
            return _deny(Reason.INVISIBLE_TO_REPRESENTATIVES)
        return _allow(grant)
    # The visibility flags are set by professionals (e.g. before a diagnosis is announced).
    return _deny(Reason.DEFAULT_DENY)


def _author_lifecycle(
    grant: Grant,
    action: Action,
    document: DocumentFacts,
    *,
    is_author: bool,
    may_write: bool,
    obligations: frozenset[Obligation] = NO_OBLIGATION,
) -> Decision:
    """Replace and delete: domain.md "only the author may delete"; replace likewise."""
    if not is_author:
        return _deny(Reason.NOT_THE_AUTHOR)
    if document.status is DocumentStatus.DELETED:
        return _deny(Reason.DOCUMENT_DELETED)
    if action is Action.DOCUMENT_DELETE:
        return _allow(grant)
    if document.status is not DocumentStatus.CURRENT:
        return _deny(Reason.DOCUMENT_NOT_CURRENT)
    if not may_write:
        return _deny(Reason.CATEGORY_NOT_ALLOWED)
    return _allow(grant, obligations)


# --- rule 7: professionals -------------------------------------------------------------


def _decide_professional(
    actor: Actor,
    rules: ProfessionRules,
    action: Action,
    dossier: DossierFacts,
    document: DocumentFacts | None,
    ctx: Context,
) -> Decision:
    # domain.md: "Closed dossier: no professional access", médecin traitant included.
    if dossier.status is DossierStatus.CLOSED:
        return _deny(Reason.DOSSIER_CLOSED)
    if action is Action.BRIS_DE_GLACE:
        return _break_the_glass(actor, rules, dossier, ctx)
    if action is Action.CENTRE_15:
        return _centre_15(actor, dossier)
    if action is Action.ACCESS_GRANT and ctx.patient_present:
        return _consent_in_person(actor, dossier, ctx)
    if action is Action.DOSSIER_CLOSE and ctx.patient_present:
        return _close_in_person(actor, dossier)
    desk = _admissions_desk(actor, action, dossier, ctx)
    if desk is not None:
        return desk
    subject = document if action in EXISTING_DOCUMENT_ACTIONS else None
    grant = _professional_relation(actor, action, dossier, subject, ctx)
    if isinstance(grant, Reason):
        return _deny(grant)
    decision = _professional_action(actor, rules, grant, action, dossier, document, ctx)
    if decision.allowed and grant.mode in (Mode.BRIS_DE_GLACE, Mode.CENTRE_15):
        # domain.md: emergency access "is shown for the whole session".
        obligations = decision.obligations | {Obligation.SHOW_EMERGENCY_BANNER}
        return _allow(grant, obligations, decision.readable_categories)
    return decision


def _is_blocked(actor: Actor, dossier: DossierFacts) -> bool:
    # domain.md: "The médecin traitant cannot be blocked", even if a block row exists.
    return actor.id in dossier.blocked and actor.id != dossier.medecin_traitant_id


def _break_the_glass(
    actor: Actor, rules: ProfessionRules, dossier: DossierFacts, ctx: Context
) -> Decision:
    if _is_blocked(actor, dossier):
        return _deny(Reason.PROFESSIONAL_BLOCKED)
    # A profession that may read nothing has nothing to break the glass for.
    if not rules.read:
        return _deny(Reason.CATEGORY_NOT_ALLOWED)
    if not dossier.bris_de_glace_allowed:
        return _deny(Reason.EMERGENCY_NOT_ALLOWED)
    if ctx.emergency_reason is None or not ctx.emergency_reason.strip():
        return _deny(Reason.EMERGENCY_REASON_MISSING)
    return _allow(Grant(Reason.EMERGENCY_GRANTED, Mode.BRIS_DE_GLACE), EMERGENCY_ACT_OBLIGATIONS)


def _centre_15(actor: Actor, dossier: DossierFacts) -> Decision:
    if _is_blocked(actor, dossier):
        return _deny(Reason.PROFESSIONAL_BLOCKED)
    if actor.profession != REGULATOR:
        return _deny(Reason.NOT_A_REGULATOR)
    if not dossier.centre_15_allowed:
        return _deny(Reason.EMERGENCY_NOT_ALLOWED)
    return _allow(Grant(Reason.EMERGENCY_GRANTED, Mode.CENTRE_15), EMERGENCY_ACT_OBLIGATIONS)


def _admissions_desk(
    actor: Actor, action: Action, dossier: DossierFacts, ctx: Context
) -> Decision | None:
    """The desk finds the dossier and joins its structure to the care team, nothing more."""
    if actor.profession != ADMISSIONS or _is_blocked(actor, dossier):
        return None
    if action is Action.DOSSIER_READ:
        # The summary carries no clinical content: no readable category.
        return _allow(Grant(Reason.ADMISSIONS_DESK, Mode.ADMISSIONS), _first_access(action, ctx))
    if action is Action.CARE_TEAM_JOIN:
        return _allow(Grant(Reason.ADMISSIONS_DESK, Mode.ADMISSIONS))
    if action is Action.REPRESENTATIVE_MANAGE:
        return decide_representative_manage(dossier, ctx)
    return None


def _consent_in_person(actor: Actor, dossier: DossierFacts, ctx: Context) -> Decision:
    """domain.md: outside the care team a professional "needs the patient's explicit consent
    at that consultation". With the patient at the counter, the patient's own card (or a
    minor's representative's) signing a fresh challenge is that evidence, checked by the
    caller of decide(); the consent covers the calling professional only, and a blocked
    professional stays blocked."""
    if ctx.target_professional_id != actor.id:
        return _deny(Reason.NOT_A_PARTY)
    if actor.id in dossier.blocked:
        return _deny(Reason.PROFESSIONAL_BLOCKED)
    return _allow(Grant(Reason.EXPLICIT_CONSENT, Mode.CONSENT))


def _close_in_person(actor: Actor, dossier: DossierFacts) -> Decision:
    """Issue 13: closure "by a professional with the patient's card present". The
    patient's card signing a fresh challenge at this desk is the patient's own act (as for
    consent in person); the professional only carries it out. A blocked professional
    stays blocked: the patient can close the dossier themself at any kiosk."""
    if actor.id in dossier.blocked and actor.id != dossier.medecin_traitant_id:
        return _deny(Reason.PROFESSIONAL_BLOCKED)
    return _allow(Grant(Reason.EXPLICIT_CONSENT, Mode.CONSENT))


def _professional_relation(
    actor: Actor,
    action: Action,
    dossier: DossierFacts,
    document: DocumentFacts | None,
    ctx: Context,
) -> Grant | Reason:
    """Why this professional may act on this dossier at all (first match), or why not."""
    if actor.id == dossier.medecin_traitant_id:
        return Grant(Reason.MEDECIN_TRAITANT, Mode.MEDECIN_TRAITANT)
    # domain.md: "A professional the patient blocked is refused even inside the care team."
    if actor.id in dossier.blocked:
        return Reason.PROFESSIONAL_BLOCKED
    if document is not None and document.author_professional_id == actor.id:
        return Grant(Reason.DOCUMENT_AUTHOR, Mode.AUTHOR)
    in_structure = actor.structure is not None and actor.structure in dossier.care_team_structures
    if actor.id in dossier.care_team or in_structure:
        return Grant(Reason.CARE_TEAM_MEMBER, Mode.CARE_TEAM)
    if actor.id in dossier.consents:
        return Grant(Reason.EXPLICIT_CONSENT, Mode.CONSENT)
    emergency = _emergency_relation(actor, dossier, ctx)
    if isinstance(emergency, Reason) and action is Action.DOCUMENT_LIST:
        # The author reads what they wrote by id (above), so their list shows it too.
        if actor.id in dossier.authors:
            return Grant(Reason.DOCUMENT_AUTHOR, Mode.AUTHOR)
    return emergency


def _emergency_relation(actor: Actor, dossier: DossierFacts, ctx: Context) -> Grant | Reason:
    if ctx.emergency is Mode.BRIS_DE_GLACE:
        # The patient can withdraw the permission at any time, even mid-session.
        if not dossier.bris_de_glace_allowed:
            return Reason.EMERGENCY_NOT_ALLOWED
        return Grant(Reason.BRIS_DE_GLACE_ACTIVE, Mode.BRIS_DE_GLACE)
    if ctx.emergency is Mode.CENTRE_15:
        if actor.profession != REGULATOR:
            return Reason.NOT_A_REGULATOR
        if not dossier.centre_15_allowed:
            return Reason.EMERGENCY_NOT_ALLOWED
        return Grant(Reason.CENTRE_15_ACTIVE, Mode.CENTRE_15)
    return Reason.NO_AUTHORISATION


def _first_access(action: Action, ctx: Context) -> frozenset[Obligation]:
    # domain.md: the patient is notified at a professional's first access.
    if ctx.first_access and action in READ_ACTIONS:
        return frozenset({Obligation.NOTIFY_PATIENT_FIRST_ACCESS})
    return NO_OBLIGATION


NEW_DOCUMENT = frozenset({Obligation.NOTIFY_PATIENT_NEW_DOCUMENT})


@dataclass(frozen=True, slots=True)
class _DocumentRequest:
    """A professional's action on a document, once the relation is established."""

    actor: Actor
    rules: ProfessionRules
    grant: Grant
    action: Action
    document: DocumentFacts
    ctx: Context

    @property
    def is_author(self) -> bool:
        return self.document.author_professional_id == self.actor.id


def _professional_action(
    actor: Actor,
    rules: ProfessionRules,
    grant: Grant,
    action: Action,
    dossier: DossierFacts,
    document: DocumentFacts | None,
    ctx: Context,
) -> Decision:
    if action in (Action.DOSSIER_READ, Action.DOCUMENT_LIST):
        if grant.mode is Mode.MEDECIN_TRAITANT:
            readable = ALL_CATEGORIES
        elif grant.mode is Mode.AUTHOR:
            readable = frozenset()  # their own documents only, whatever their category
        else:
            readable = rules.read
        wrote_here = actor.id in dossier.authors
        if action is Action.DOCUMENT_LIST and not readable and not wrote_here:
            return _deny(Reason.CATEGORY_NOT_ALLOWED)
        return _allow(grant, _first_access(action, ctx), readable)
    if action is Action.CARE_TEAM_MANAGE:
        # The médecin traitant coordinates care; the rest of the team is the patient's call.
        if grant.mode is not Mode.MEDECIN_TRAITANT:
            return _deny(Reason.DEFAULT_DENY)
        return _deny(Reason.NOT_FOUND) if ctx.unknown_target else _allow(grant)
    rule = DOCUMENT_RULES.get(action)
    if rule is None:
        # The patient's rights (grant, block, settings, history, close, reopen, join).
        return _deny(Reason.DEFAULT_DENY)
    if document is None:
        return _deny(Reason.NOT_FOUND)
    req = _DocumentRequest(actor, rules, grant, action, document, ctx)
    if action in EXISTING_DOCUMENT_ACTIONS and action is not Action.DOCUMENT_READ:
        # A document the professional may not read is not there for them: acting on it
        # is refused as reading it is (masked, category, deleted), which the boundary
        # answers like a missing document, instead of telling them it exists.
        seen = _pro_read(req)
        if not seen.allowed:
            return seen
    return rule(req)


def _pro_read(req: _DocumentRequest) -> Decision:
    document = req.document
    if document.status is DocumentStatus.DELETED:
        return _deny(Reason.DOCUMENT_DELETED)
    obligations = _first_access(req.action, req.ctx)
    # domain.md: the MT "sees everything, masked documents included"; an author reads
    # what they wrote whatever their profession may otherwise read.
    if req.grant.mode in (Mode.MEDECIN_TRAITANT, Mode.AUTHOR):
        return _allow(req.grant, obligations)
    if document.category not in req.rules.read:
        return _deny(Reason.CATEGORY_NOT_ALLOWED)
    if document.masked_ps:
        return _deny(Reason.DOCUMENT_MASKED)
    return _allow(req.grant, obligations)


def _pro_deposit(req: _DocumentRequest) -> Decision:
    if req.document.category not in req.rules.write:
        return _deny(Reason.CATEGORY_NOT_ALLOWED)
    if req.document.status is not DocumentStatus.CURRENT:
        return _deny(Reason.DOCUMENT_NOT_CURRENT)
    secret = secret_deposit(req.document, req.ctx)
    if secret is not None:
        return secret
    return _allow(req.grant, deposit_obligations(req.ctx, NEW_DOCUMENT))


def _pro_lifecycle(req: _DocumentRequest) -> Decision:
    # Only the author replaces or deletes, the médecin traitant included.
    return _author_lifecycle(
        req.grant,
        req.action,
        req.document,
        is_author=req.is_author,
        may_write=req.document.category in req.rules.write,
        obligations=NEW_DOCUMENT if req.action is Action.DOCUMENT_REPLACE else NO_OBLIGATION,
    )


def _pro_flags(req: _DocumentRequest) -> Decision:
    # Archiving and the visibility flags belong to the document's author and the MT.
    if not (req.is_author or req.grant.mode is Mode.MEDECIN_TRAITANT):
        return _deny(Reason.NOT_THE_AUTHOR)
    if req.document.status is DocumentStatus.DELETED:
        return _deny(Reason.DOCUMENT_DELETED)
    patient_deposit = req.document.author_patient_id is not None
    if req.action is Action.DOCUMENT_PATIENT_VISIBILITY and patient_deposit:
        return _deny(Reason.PATIENT_DEPOSIT_VISIBLE)
    return _allow(req.grant)


DOCUMENT_RULES: dict[Action, Callable[[_DocumentRequest], Decision]] = {
    Action.DOCUMENT_READ: _pro_read,
    Action.DOCUMENT_DEPOSIT: _pro_deposit,
    Action.DOCUMENT_REPLACE: _pro_lifecycle,
    Action.DOCUMENT_DELETE: _pro_lifecycle,
    **{action: _pro_flags for action in AUTHOR_OR_MT_ACTIONS},
}
