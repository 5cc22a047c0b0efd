"""Who may search the professionals directory (issue 14), kept apart from the dossier
rules as the review acts are (policy/review.py): a search names no dossier and reveals
no health content, only public directory data (name, profession, establishment, town,
national id, as the Annuaire Santé publishes them).

Still deny by default, and every answer is traced by the services with its reason:
the directory is public, but who looks it up, from which terminal, is not.

Rules, first match wins:

1. Third parties, the insurer and privacy officers are refused (FORBIDDEN_ACTOR): none
   of them chooses a médecin traitant or a care team.
2. A professional whose profession is unknown to the matrix or ineligible is refused
   (NOT_AN_ELIGIBLE_PROFESSION), as for every dossier act.
3. A signed-in patient (for themself, a minor child or as a delegate) and an eligible
   professional may search (PATIENT_SIGNED_IN, ELIGIBLE_PROFESSIONAL).
4. Without a session, a registered kiosk (its request signature verified) may search
   while it is opening a dossier (KIOSK_DOSSIER_OPENING); at any other time it is
   refused (KIOSK_NOT_OPENING), and a caller that is no kiosk at all is refused
   (NO_CALLER).

The purpose narrows the answer, not the right: a médecin traitant must be a physician
(matrix key `physician`), a care-team member any eligible profession.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.policy.matrix import Matrix
from server.policy.model import Actor, ActorKind


class DirectoryAction(StrEnum):
    SEARCH = "directory:search"


class DirectoryPurpose(StrEnum):
    MEDECIN_TRAITANT = "medecin_traitant"  # physicians only
    CARE_TEAM = "care_team"  # any eligible profession


class DirectoryReason(StrEnum):
    # allowed
    PATIENT_SIGNED_IN = "patient_signed_in"
    ELIGIBLE_PROFESSIONAL = "eligible_professional"
    KIOSK_DOSSIER_OPENING = "kiosk_dossier_opening"
    # denied
    FORBIDDEN_ACTOR = "forbidden_actor"
    NOT_AN_ELIGIBLE_PROFESSION = "not_an_eligible_profession"
    KIOSK_NOT_OPENING = "kiosk_not_opening"
    NO_CALLER = "no_caller"


@dataclass(frozen=True, slots=True)
class DirectoryCaller:
    """Who asks: the session's actor, or none; whether a verified kiosk relays the
    request, and whether it says it is opening a dossier."""

    actor: Actor | None
    kiosk: bool = False
    opening_dossier: bool = False


@dataclass(frozen=True, slots=True)
class DirectoryDecision:
    allowed: bool
    reason: DirectoryReason
    # The professions the answer may hold (matrix codes); empty when refused.
    professions: frozenset[str] = frozenset()


def decide_directory(
    caller: DirectoryCaller,
    action: DirectoryAction,
    purpose: DirectoryPurpose,
    matrix: Matrix,
) -> DirectoryDecision:
    """Pure: the same caller, purpose and matrix always give the same answer."""
    del action  # one act today; kept in the signature so that a new one is a new rule
    actor = caller.actor
    if actor is None:
        # Rule 4.
        if not caller.kiosk:
            return DirectoryDecision(False, DirectoryReason.NO_CALLER)
        if not caller.opening_dossier:
            return DirectoryDecision(False, DirectoryReason.KIOSK_NOT_OPENING)
        return _allow(DirectoryReason.KIOSK_DOSSIER_OPENING, purpose, matrix)
    if actor.kind is ActorKind.PATIENT:
        return _allow(DirectoryReason.PATIENT_SIGNED_IN, purpose, matrix)
    if actor.kind is ActorKind.PROFESSIONAL:
        rules = matrix.rules_for(actor.profession)
        if rules is None or not rules.eligible:
            return DirectoryDecision(False, DirectoryReason.NOT_AN_ELIGIBLE_PROFESSION)
        return _allow(DirectoryReason.ELIGIBLE_PROFESSIONAL, purpose, matrix)
    # Rule 1: THIRD_PARTY, INSURER, PRIVACY_OFFICER (and any future kind, until a rule).
    return DirectoryDecision(False, DirectoryReason.FORBIDDEN_ACTOR)


def _allow(reason: DirectoryReason, purpose: DirectoryPurpose, matrix: Matrix) -> DirectoryDecision:
    if purpose is DirectoryPurpose.MEDECIN_TRAITANT:
        professions = matrix.may_be_medecin_traitant()
    else:
        professions = matrix.eligible()
    return DirectoryDecision(True, reason, professions)
