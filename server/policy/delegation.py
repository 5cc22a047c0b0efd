"""Who may act for whom, beyond the patient: delegates, and the desk naming representatives.

Kept apart from engine.py so that each relation stays small and reviewable; the engine
calls these functions at one point each (docs/access-rules.md, "Delegation").

Delegation (issue #13, a feature none of the national systems has): the patient gives an
adult, who signs in with their own card, read access to chosen categories until a date.

- A delegate reads: the dossier summary, the list, and documents of the delegated
  categories. Nothing else: no history, no settings, no deposit, no lookup by INS.
- Everything hidden from anyone but the patient stays hidden from a delegate: masked
  documents (MASQUE_PS: the patient hid them from unexpected readers, and a delegation
  names categories, not documents), documents not yet visible to the patient, and those
  invisible to legal representatives. Deleted documents are gone for everyone.
- From `until` on (the instant itself included), or once revoked, nothing: the reasons
  DELEGATION_EXPIRED and DELEGATION_REVOKED say which, in the patient's history.
- A closed dossier refuses every delegate (only its patient may export or reopen it).
- Only an adult patient themself gives, lists and revokes delegations: a minor's
  representatives cannot pass their authority on to someone else, and a delegation on
  a minor's dossier grants nothing.

Representatives after creation (domain.md: "legal representative of a minor ... linked
to the child's dossier"): the admissions desk adds or removes them, with the
representative's identity checked at the desk (`ctx.consent_evidence`), on an active
minor's dossier. At 18 representation ends: the desk has nothing left to change.
"""

from __future__ import annotations

from server.policy.age import is_minor
from server.policy.model import (
    Action,
    Actor,
    Category,
    Context,
    Decision,
    DelegationFacts,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
    DossierStatus,
    Mode,
    Obligation,
    Reason,
)

DELEGATE_ACTIONS = frozenset({Action.DOSSIER_READ, Action.DOCUMENT_LIST, Action.DOCUMENT_READ})


def _deny(reason: Reason) -> Decision:
    return Decision(allowed=False, reason=reason)


def _allow(reason: Reason, mode: Mode, readable: frozenset[Category] = frozenset()) -> Decision:
    return Decision(allowed=True, reason=reason, mode=mode, readable_categories=readable)


def is_delegate(actor: Actor, dossier: DossierFacts) -> bool:
    """The actor holds a delegation (perhaps ended) on this dossier and is not its patient."""
    delegation = dossier.delegation
    return (
        delegation is not None
        and delegation.delegate_id == actor.id
        and actor.id != dossier.patient_id
    )


def decide_delegate(
    action: Action,
    dossier: DossierFacts,
    delegation: DelegationFacts,
    document: DocumentFacts | None,
    ctx: Context,
) -> Decision:
    """A delegate's request on the dossier of the patient who delegated to them."""
    if delegation.revoked:
        return _deny(Reason.DELEGATION_REVOKED)
    if ctx.now >= delegation.until:
        return _deny(Reason.DELEGATION_EXPIRED)
    if dossier.status is not DossierStatus.ACTIVE:
        return _deny(Reason.DOSSIER_CLOSED)
    # A minor's dossier is in their representatives' hands, who cannot delegate: a
    # delegation found on one (written before a bug was fixed, or by hand) grants nothing.
    if is_minor(dossier.patient_birth_date, ctx.now) or action not in DELEGATE_ACTIONS:
        return _deny(Reason.DEFAULT_DENY)
    if action is not Action.DOCUMENT_READ:
        return _allow(Reason.DELEGATION_ACTIVE, Mode.DELEGATE, delegation.categories)
    if document is None:
        return _deny(Reason.NOT_FOUND)
    return _delegate_read(delegation, document)


def _delegate_read(delegation: DelegationFacts, document: DocumentFacts) -> Decision:
    if document.status is DocumentStatus.DELETED:
        return _deny(Reason.DOCUMENT_DELETED)
    if document.category not in delegation.categories:
        return _deny(Reason.CATEGORY_NOT_ALLOWED)
    if document.invisible_patient:
        return _deny(Reason.INVISIBLE_TO_PATIENT)
    if document.masked_ps:
        return _deny(Reason.DOCUMENT_MASKED)
    if document.invisible_rep:
        return _deny(Reason.INVISIBLE_TO_REPRESENTATIVES)
    return _allow(Reason.DELEGATION_ACTIVE, Mode.DELEGATE)


def may_manage_delegations(
    grant_mode: Mode, dossier: DossierFacts, ctx: Context
) -> Decision | None:
    """DELEGATION_MANAGE once the patient relation holds: None lets the patient's own
    rights answer; a representative, and a minor themself, are refused."""
    if grant_mode is Mode.REPRESENTATIVE or is_minor(dossier.patient_birth_date, ctx.now):
        return _deny(Reason.DEFAULT_DENY)
    return None


def decide_representative_manage(dossier: DossierFacts, ctx: Context) -> Decision:
    """REPRESENTATIVE_MANAGE by the admissions desk (already known to be unblocked)."""
    if not is_minor(dossier.patient_birth_date, ctx.now):
        return _deny(Reason.REPRESENTATIVE_OF_ADULT)
    # The representative's card or identity document, checked at the desk.
    if not ctx.consent_evidence:
        return _deny(Reason.CONSENT_MISSING)
    return _allow(Reason.ADMISSIONS_DESK, Mode.ADMISSIONS)


def secret_deposit(document: DocumentFacts, ctx: Context) -> Decision | None:
    """A deposit in secret connection must be invisible to the representatives (the DMP's
    homologation: the minor's secret is kept from their parents); None: no objection."""
    if ctx.secret_connection and not document.invisible_rep:
        return _deny(Reason.SECRET_DEPOSIT_VISIBLE)
    return None


def deposit_obligations(ctx: Context, usual: frozenset[Obligation]) -> frozenset[Obligation]:
    """No "new document" notice for a secret deposit: a minor's address on file is often a
    parent's, and the notice would tell the secret the document keeps."""
    return frozenset() if ctx.secret_connection else usual
