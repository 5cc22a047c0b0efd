"""Server-side sessions: bearer tokens whose hash alone is stored.

Sessions are opened by `open_session`, called by the card sign-in (which also binds the
session to the card and the kiosk, `CardBinding`), the tests and the demo tools; no
route opens one from a bare identifier.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from server.errors import Unauthenticated
from server.models import ApiSession, CardBinding, Patient, Professional, ServiceAccount
from server.policy import Actor, ActorKind
from server.services.context import Ctx, Principal

EXPIRED = "Session absente ou expirée."
TOUCH_EVERY = timedelta(seconds=60)
SERVICE_KINDS = frozenset({ActorKind.INSURER, ActorKind.THIRD_PARTY})
_SESSION_WITH_ACTOR = (
    select(ApiSession, Professional, Patient, ServiceAccount, CardBinding)
    .outerjoin(
        Professional,
        and_(
            ApiSession.actor_kind == ActorKind.PROFESSIONAL.value,
            Professional.id == ApiSession.actor_id,
        ),
    )
    .outerjoin(
        Patient,
        and_(ApiSession.actor_kind == ActorKind.PATIENT.value, Patient.id == ApiSession.actor_id),
    )
    .outerjoin(
        ServiceAccount,
        and_(
            ApiSession.actor_kind.in_([k.value for k in SERVICE_KINDS]),
            ServiceAccount.id == ApiSession.actor_id,
        ),
    )
    .outerjoin(CardBinding, CardBinding.session_hash == ApiSession.token_hash)
)


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
    """The caller behind a token; one generic error outward whatever is wrong.

    `kiosk` must be the name of the kiosk whose request signature was VERIFIED (None for
    a caller that is no kiosk): a session opened at a kiosk is usable from it alone. A
    card session also needs a fresh card signature every RESIGN_SECONDS, so a kiosk
    cannot keep it alive once the card is gone. The session, its actor and its card
    binding come in one query: this runs on every request."""
    found = ctx.session.execute(
        _SESSION_WITH_ACTOR.where(ApiSession.token_hash == token_hash(token))
    ).first()
    idle = timedelta(seconds=ctx.settings["SESSION_IDLE_SECONDS"])
    if found is None:
        raise Unauthenticated("session_invalid", EXPIRED)
    row, pro, patient, account, binding = found
    resign = timedelta(seconds=ctx.settings["RESIGN_SECONDS"])
    if (
        row.ended_at is not None
        or row.expires_at <= ctx.now
        or row.last_seen + idle <= ctx.now
        or (row.kiosk is not None and row.kiosk != kiosk)
        or (binding is not None and binding.last_signature_at + resign <= ctx.now)
    ):
        raise Unauthenticated("session_invalid", EXPIRED)
    # Writing last_seen on every request would make every read a row write; to the
    # minute is precise enough for an idle timeout counted in minutes.
    if ctx.now - row.last_seen >= TOUCH_EVERY:
        row.last_seen = ctx.now
    actor, name = _actor(ActorKind(row.actor_kind), pro, patient, account)
    return Principal(actor=actor, name=name, session_hash=row.token_hash, kiosk=row.kiosk)


def end_session(ctx: Ctx, who: Principal) -> None:
    row = ctx.session.get(ApiSession, who.session_hash)
    if row is not None and row.ended_at is None:
        row.ended_at = ctx.now


def _load_actor(session: Session, kind: ActorKind, actor_id: int) -> tuple[Actor, str]:
    return _actor(
        kind,
        session.get(Professional, actor_id) if kind is ActorKind.PROFESSIONAL else None,
        session.get(Patient, actor_id) if kind is ActorKind.PATIENT else None,
        session.get(ServiceAccount, actor_id) if kind in SERVICE_KINDS else None,
    )


def _actor(
    kind: ActorKind,
    pro: Professional | None,
    patient: Patient | None,
    account: ServiceAccount | None,
) -> tuple[Actor, str]:
    if kind is ActorKind.PROFESSIONAL and pro is not None and pro.active:
        return (
            Actor(kind, pro.id, profession=pro.profession, structure=pro.structure_finess),
            f"{pro.first_name} {pro.last_name}",
        )
    if kind is ActorKind.PATIENT and patient is not None:
        return Actor(kind, patient.id), f"{patient.first_names.split()[0]} {patient.birth_name}"
    if kind in SERVICE_KINDS and account is not None and account.kind == kind.value:
        return Actor(kind, account.id), account.name
    raise Unauthenticated("session_invalid", EXPIRED)
