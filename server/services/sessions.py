"""Server-side sessions: bearer tokens whose hash alone is stored.

In this issue sessions are opened by `open_session`, called by tests, the demo tools and
(next) the card sign-in; no route opens one from a bare identifier.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy.orm import Session

from server.errors import Unauthenticated
from server.models import ApiSession, Patient, Professional, ServiceAccount
from server.policy import Actor, ActorKind
from server.services.context import Ctx, Principal

EXPIRED = "Session absente ou expirée."


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(ctx: Ctx, kind: ActorKind, actor_id: int, kiosk: str | None = None) -> str:
    _load_actor(ctx.session, kind, actor_id)  # fails on an unknown actor
    token = secrets.token_urlsafe(32)
    ctx.session.add(
        ApiSession(
            token_hash=token_hash(token),
            actor_kind=kind.value,
            actor_id=actor_id,
            kiosk=kiosk,
            created_at=ctx.now,
            last_seen=ctx.now,
            expires_at=ctx.now + timedelta(seconds=ctx.settings["SESSION_MAX_SECONDS"]),
        )
    )
    return token


def resolve(ctx: Ctx, token: str, kiosk: str | None = None) -> Principal:
    """The caller behind a token; one generic error outward whatever is wrong."""
    row = ctx.session.get(ApiSession, token_hash(token)) if token else None
    idle = timedelta(seconds=ctx.settings["SESSION_IDLE_SECONDS"])
    if (
        row is None
        or row.ended_at is not None
        or row.expires_at <= ctx.now
        or row.last_seen + idle <= ctx.now
        or (row.kiosk is not None and row.kiosk != kiosk)
    ):
        raise Unauthenticated("session_invalid", EXPIRED)
    row.last_seen = ctx.now
    actor, name = _load_actor(ctx.session, ActorKind(row.actor_kind), row.actor_id)
    return Principal(actor=actor, name=name, session_hash=row.token_hash, kiosk=row.kiosk)


def end_session(ctx: Ctx, who: Principal) -> None:
    row = ctx.session.get(ApiSession, who.session_hash)
    if row is not None and row.ended_at is None:
        row.ended_at = ctx.now


def _load_actor(session: Session, kind: ActorKind, actor_id: int) -> tuple[Actor, str]:
    if kind is ActorKind.PROFESSIONAL:
        pro = session.get(Professional, actor_id)
        if pro is None or not pro.active:
            raise Unauthenticated("session_invalid", EXPIRED)
        return (
            Actor(kind, pro.id, profession=pro.profession, structure=pro.structure_finess),
            f"{pro.first_name} {pro.last_name}",
        )
    if kind is ActorKind.PATIENT:
        patient = session.get(Patient, actor_id)
        if patient is None:
            raise Unauthenticated("session_invalid", EXPIRED)
        return Actor(kind, patient.id), f"{patient.first_names.split()[0]} {patient.birth_name}"
    account = session.get(ServiceAccount, actor_id)
    if account is None or account.kind != kind.value:
        raise Unauthenticated("session_invalid", EXPIRED)
    return Actor(kind, account.id), account.name
