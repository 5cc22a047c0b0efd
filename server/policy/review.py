"""The privacy officer's rights over review cases (docs/alerts.md), kept apart from the
dossier rules: `decide` answers DEFAULT_DENY to a privacy officer for every dossier and
document act, so the officer never reads a document; this decides the review acts.

Pure, like `decide`: the services load the case's establishment, call `decide_review`,
trace the decision whatever it is, and refuse only at their boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from server.policy.model import Actor, ActorKind


class ReviewAction(StrEnum):
    LIST = "review:list"  # the queue of the officer's own establishment
    READ = "review:read"  # one case: the trace line, the stated reason, the professional
    DECIDE = "review:decide"  # record an outcome (justifiée, non justifiée, en cours)


class ReviewReason(StrEnum):
    OFFICER_OF_ESTABLISHMENT = "officer_of_establishment"  # allowed
    NOT_AN_OFFICER = "not_an_officer"
    NO_ESTABLISHMENT = "officer_without_establishment"
    OTHER_ESTABLISHMENT = "other_establishment"  # or no such case: answered alike


@dataclass(frozen=True, slots=True)
class CaseFacts:
    establishment: str | None  # FINESS of the flagged professional's structure


@dataclass(frozen=True, slots=True)
class ReviewDecision:
    allowed: bool
    reason: ReviewReason


def decide_review(actor: Actor, action: ReviewAction, case: CaseFacts | None) -> ReviewDecision:
    """LIST needs no case (the services list only the officer's establishment); READ and
    DECIDE need a case of the officer's establishment, a missing case being refused like
    a foreign one so that no answer tells which cases exist elsewhere."""
    if actor.kind is not ActorKind.PRIVACY_OFFICER:
        return ReviewDecision(False, ReviewReason.NOT_AN_OFFICER)
    if not actor.structure:
        return ReviewDecision(False, ReviewReason.NO_ESTABLISHMENT)
    if action is not ReviewAction.LIST and (case is None or case.establishment != actor.structure):
        return ReviewDecision(False, ReviewReason.OTHER_ESTABLISHMENT)
    return ReviewDecision(True, ReviewReason.OFFICER_OF_ESTABLISHMENT)
