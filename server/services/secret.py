"""The secret connection with a minor (issue 13; CSP art. L1111-5): a property of the
professional's session on a minor's dossier, chosen when the dossier is opened, as the
DMP's « connexion secrète ». While it is on, every deposit of that session must be
invisible to the legal representatives: the policy refuses any other
(Reason.SECRET_DEPOSIT_VISIBLE), whatever the kiosk sends.

Turning it on or off is decided as a read of the dossier (the professional must be
allowed to open it) and traced with `secret_connection` in its detail: the history
keeps such entries from the representatives (services/history.py), the minor sees them.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from server.errors import InvalidInput
from server.models import SecretConnection
from server.policy import Action, ActorKind, is_minor
from server.services import guard, lookup
from server.services.context import Ctx, Principal
from server.validation import reject_unknown, require_object


def is_on(ctx: Ctx, who: Principal, dossier_id: int) -> bool:
    """Whether this session is in secret connection with this dossier."""
    if who.actor.kind is not ActorKind.PROFESSIONAL:
        return False
    found = ctx.session.scalar(
        select(SecretConnection.id).where(
            SecretConnection.session_hash == who.session_hash,
            SecretConnection.dossier_id == dossier_id,
            SecretConnection.ended_at.is_(None),
        )
    )
    return found is not None


def set_secret(ctx: Ctx, who: Principal, dossier_id: int, body: Any) -> dict[str, Any]:
    data = require_object(body)
    reject_unknown(data, {"on"})
    on = data.get("on")
    if not isinstance(on, bool):
        raise InvalidInput("on_required", "« on » : true ou false.")
    if who.actor.kind is not ActorKind.PROFESSIONAL:
        raise InvalidInput(
            "secret_connection_professional_only",
            "Seul un professionnel peut ouvrir une connexion secrète.",
        )
    row, patient = lookup.dossier(ctx, who, Action.DOSSIER_READ, dossier_id)
    guard.authorize(
        ctx,
        who,
        Action.DOSSIER_READ,
        row,
        patient,
        detail={"secret_connection": True, "op": "secret_on" if on else "secret_off"},
    )
    # After the decision: whether the patient is a minor is no business of a refused caller.
    if not is_minor(patient.birth_date, ctx.now):
        raise InvalidInput(
            "not_a_minor", "La connexion secrète ne concerne que le dossier d'un mineur."
        )
    current = is_on(ctx, who, dossier_id)
    if on and not current:
        ctx.session.add(
            SecretConnection(
                session_hash=who.session_hash,
                dossier_id=dossier_id,
                professional_id=who.actor.id,
                started_at=ctx.now,
            )
        )
    elif not on and current:
        ctx.session.execute(
            update(SecretConnection)
            .where(
                SecretConnection.session_hash == who.session_hash,
                SecretConnection.dossier_id == dossier_id,
                SecretConnection.ended_at.is_(None),
            )
            .values(ended_at=ctx.now)
        )
    return {"secret_connection": on}
