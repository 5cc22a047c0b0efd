"""What a professional may do in general, asked of `decide` itself.

The kiosk shows a deposit button, the break-the-glass link or the admission button only
to those who may use them; it must not keep its own copy of the profession rules. So the
server answers with these capabilities, computed by running the one decision over
hypothetical dossiers (no I/O): the rules cannot drift apart from what `decide` allows
on a real dossier, where the answer still depends on the patient's choices (blocks,
emergency permissions) and every request is decided again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from server.policy.engine import decide
from server.policy.matrix import Matrix
from server.policy.model import (
    Action,
    Actor,
    ActorKind,
    Category,
    Context,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
    DossierStatus,
    Mode,
)

# Any stated reason: only whether the act can be allowed at all is asked.
_SOME_REASON = "capabilities"
_SOME_BIRTH_DATE = date(1970, 1, 1)  # an adult: no representative rule applies


@dataclass(frozen=True, slots=True)
class Capabilities:
    read_categories: frozenset[Category]  # in the care team (the médecin traitant reads all)
    deposit_categories: frozenset[Category]
    emergency: Mode | None  # CENTRE_15 or BRIS_DE_GLACE where the patient allows it
    clinical_reading: bool  # false: a desk that sees the summary and no document
    join_care_team: bool  # the admissions desk joins its structure to the care team


def capabilities(actor: Actor, matrix: Matrix, now: datetime) -> Capabilities | None:
    """A professional's capabilities; None for other callers (a patient acts on their own
    dossier, whose rules the kiosk does not branch on)."""
    if actor.kind is not ActorKind.PROFESSIONAL:
        return None
    ctx = Context(now=now, emergency_reason=_SOME_REASON)
    # Patient id 0 is nobody: the actor is a professional, never the patient.
    stranger = DossierFacts(0, DossierStatus.ACTIVE, _SOME_BIRTH_DATE)
    in_team = DossierFacts(
        0, DossierStatus.ACTIVE, _SOME_BIRTH_DATE, care_team=frozenset({actor.id})
    )
    listing = decide(actor, Action.DOCUMENT_LIST, in_team, None, ctx, matrix)
    readable = listing.readable_categories if listing.allowed else frozenset()
    deposit = frozenset(
        category
        for category in Category
        if decide(
            actor,
            Action.DOCUMENT_DEPOSIT,
            in_team,
            DocumentFacts(category, DocumentStatus.CURRENT, author_professional_id=actor.id),
            ctx,
            matrix,
        ).allowed
    )
    emergency: Mode | None = None
    if decide(actor, Action.CENTRE_15, stranger, None, ctx, matrix).allowed:
        emergency = Mode.CENTRE_15
    elif decide(actor, Action.BRIS_DE_GLACE, stranger, None, ctx, matrix).allowed:
        emergency = Mode.BRIS_DE_GLACE
    joins = decide(actor, Action.CARE_TEAM_JOIN, stranger, None, ctx, matrix).allowed
    return Capabilities(readable, deposit, emergency, bool(readable), joins)
