"""The emergency access (bris de glace, centre 15) active for a session on a dossier."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from server.models import EmergencyAccess
from server.policy import Mode
from server.services.context import Ctx, Principal


@dataclass(frozen=True, slots=True)
class ActiveEmergency:
    mode: Mode
    until: datetime
    reason: str


def active_emergency(ctx: Ctx, who: Principal, dossier_id: int) -> ActiveEmergency | None:
    row = ctx.session.scalars(
        select(EmergencyAccess)
        .where(
            EmergencyAccess.session_hash == who.session_hash,
            EmergencyAccess.dossier_id == dossier_id,
            EmergencyAccess.expires_at > ctx.now,
        )
        .order_by(EmergencyAccess.expires_at.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return ActiveEmergency(Mode(row.mode), row.expires_at, row.reason)
