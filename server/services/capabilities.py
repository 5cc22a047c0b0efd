"""What the caller may do on a dossier now, asked of the policy for the kiosk.

The kiosk shows only what the server would allow (a closed dossier offers reopening,
history and receipts, never masking or emergency settings): it must not guess from the
status. These are previews computed by `decide` on the dossier's facts, with a
representative target where the real act names one; they grant nothing and are not
traced apart from the summary read that carries them. The real act is decided and
traced again when it comes.
"""

from __future__ import annotations

from datetime import datetime

from server.policy import Action, Context, decide
from server.policy.matrix import Matrix
from server.policy.model import (
    Actor,
    Category,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
)

# A professional who is not the médecin traitant (ids are positive): "someone" to grant
# or block, which is what the kiosk's buttons would name.
SOMEONE = -1
DOSSIER_ACTIONS = (
    Action.DOSSIER_CLOSE,
    Action.DOSSIER_REOPEN,
    Action.EMERGENCY_SETTINGS,
    Action.ACCESS_GRANT,
    Action.ACCESS_BLOCK,
    Action.CARE_TEAM_MANAGE,
    Action.MEDECIN_TRAITANT_SET,
    Action.HISTORY_READ,
    Action.DOCUMENT_LIST,
    Action.DOSSIER_EXPORT,
)


def allowed(actor: Actor, facts: DossierFacts, now: datetime, matrix: Matrix) -> list[str]:
    # Someone who may be designated médecin traitant: a physician (the kiosk's choice
    # offers physicians only, from the directory).
    physician = min(matrix.may_be_medecin_traitant(), default=None)
    ctx = Context(now=now, target_professional_id=SOMEONE, target_profession=physician)
    found = [a.value for a in DOSSIER_ACTIONS if decide(actor, a, facts, None, ctx, matrix).allowed]
    # The patient's own deposit, and masking a document of theirs they can read.
    own = DocumentFacts(
        category=Category.DEPOSE_PATIENT, status=DocumentStatus.CURRENT, author_patient_id=actor.id
    )
    other = DocumentFacts(
        category=Category.COMPTE_RENDU,
        status=DocumentStatus.CURRENT,
        author_professional_id=SOMEONE,
    )
    for action, doc in ((Action.DOCUMENT_DEPOSIT, own), (Action.DOCUMENT_MASK, other)):
        if decide(actor, action, facts, doc, ctx, matrix).allowed:
            found.append(action.value)
    return sorted(found)
