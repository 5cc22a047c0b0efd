"""Server-side sessions: bearer tokens whose hash alone is stored.

Sessions are opened by `open_session`, called by the card sign-in (which also binds the
session to the card and the kiosk, `CardBinding`), the tests and the demo tools; no
route opens one from a bare identifier.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from server.db import core
from server.errors import Unauthenticated
from server.models import (
    ApiSession,
    CardBinding,
    Patient,
    Professional,
    ServiceAccount,
    table_of,
)
from server.policy import Actor, ActorKind
from server.services.context import Ctx, Principal
from server.signin.events import Holder

EXPIRED = "Session absente ou expirée."
TOUCH_EVERY = timedelta(seconds=60)
# The professions table's key of an establishment's délégué à la protection des données.
OFFICER_PROFESSION = "delegue_protection_donnees"
SERVICE_KINDS = frozenset({ActorKind.INSURER, ActorKind.THIRD_PARTY})
_S = table_of(ApiSession)
_PRO = table_of(Professional)
_PAT = table_of(Patient)
_ACC = table_of(ServiceAccount)
_BIND = table_of(CardBinding)


def _actor_column(table: Any, column: str, kinds: tuple[ActorKind, ...], label: str) -> Any:
    """One column of the session's actor, as a correlated scalar subquery (one index
    lookup by primary key). Not an outer join: with one session row on the outer side,
    PostgreSQL chose a merge join that scanned the actor table's primary key from its
    start up to the actor's id (12.8 ms for patient 32,234 of 100,000, growing with the
    id), on every request of every patient (bench/README.md, AuditEvent paging)."""
    kind = or_(*(_S.c.actor_kind == k.value for k in kinds))
    found = select(table.c[column]).where(kind, table.c.id == _S.c.actor_id)
    return found.scalar_subquery().label(label)


_PRO_KIND = (ActorKind.PROFESSIONAL,)
_PAT_KIND = (ActorKind.PATIENT,)
# OR rather than IN: an IN list is re-rendered into the SQL at every execution.
_ACC_KINDS = tuple(sorted(SERVICE_KINDS))
# Core, built once, on bare columns: this runs on every request, and loading three ORM
# entities cost several times the query itself (bench/README.md).
_SESSION_WITH_ACTOR = (
    select(
        _S.c.token_hash,
        _S.c.actor_kind,
        _S.c.kiosk,
        _S.c.last_seen,
        _S.c.expires_at,
        _S.c.ended_at,
        _actor_column(_PRO, "id", _PRO_KIND, "pro_id"),
        _actor_column(_PRO, "active", _PRO_KIND, "pro_active"),
        _actor_column(_PRO, "profession", _PRO_KIND, "pro_profession"),
        _actor_column(_PRO, "structure_finess", _PRO_KIND, "pro_structure"),
        _actor_column(_PRO, "first_name", _PRO_KIND, "pro_first_name"),
        _actor_column(_PRO, "last_name", _PRO_KIND, "pro_last_name"),
        _actor_column(_PAT, "id", _PAT_KIND, "patient_id"),
        _actor_column(_PAT, "first_names", _PAT_KIND, "patient_first_names"),
        _actor_column(_PAT, "birth_name", _PAT_KIND, "patient_birth_name"),
        _actor_column(_ACC, "id", _ACC_KINDS, "account_id"),
        _actor_column(_ACC, "kind", _ACC_KINDS, "account_kind"),
        _actor_column(_ACC, "name", _ACC_KINDS, "account_name"),
        _BIND.c.session_hash.label("bound"),
        _BIND.c.last_signature_at,
    )
    .select_from(_S)
    .outerjoin(_BIND, _BIND.c.session_hash == _S.c.token_hash)
    .where(_S.c.token_hash == bindparam("token_hash"))
)
_TOUCH = (
    update(_S).where(_S.c.token_hash == bindparam("b_token")).values(last_seen=bindparam("b_now"))
)

_INSERT = insert(_S)
_INSERT_BINDING = insert(_BIND)
_SESSION_COLUMNS = (
    "token_hash",
    "actor_kind",
    "actor_id",
    "kiosk",
    "created_at",
    "last_seen",
    "expires_at",
)
_BINDING_COLUMNS = (
    "session_hash",
    "kiosk_id",
    "card_cert_sha256",
    "card_serial",
    "last_signature_at",
)
# PostgreSQL: the session and its card binding in one statement (one round trip on the
# sign-in path); the binding's foreign key is checked at the end of the statement.
_INSERT_BOUND_PG = (
    insert(_BIND)
    .values({name: bindparam(f"b_{name}") for name in _BINDING_COLUMNS})
    .add_cte(
        insert(_S)
        .values({name: bindparam(f"s_{name}") for name in _SESSION_COLUMNS})
        .cte("new_session")
    )
)


class SessionElsewhere(Unauthenticated):
    """A live session shown by another terminal than its own, or without its terminal's
    signature: a token that left its terminal. The same answer as any invalid session;
    the API runner traces who it belongs to and where it was used (`holder`, `bound`)."""

    def __init__(self, holder: Holder, bound: str) -> None:
        super().__init__("session_invalid", EXPIRED)
        self.holder, self.bound = holder, bound


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(ctx: Ctx, kind: ActorKind, actor_id: int, kiosk: str | None = None) -> str:
    _load_actor(ctx.session, kind, actor_id)  # fails on an unknown actor
    token = secrets.token_urlsafe(32)
    core(ctx.session).execute(_INSERT, _session_row(ctx, token_hash(token), kind, actor_id, kiosk))
    return token


def open_card_session(
    ctx: Ctx,
    kind: ActorKind,
    actor_id: int,
    kiosk_name: str,
    kiosk_id: int,
    card_cert_sha256: str,
    card_serial: str,
) -> str:
    """A session bound to the card that opened it and its kiosk (`CardBinding`), for an
    actor the caller has just loaded and found active."""
    token = secrets.token_urlsafe(32)
    digest = token_hash(token)
    session_row = _session_row(ctx, digest, kind, actor_id, kiosk_name)
    binding = {
        "session_hash": digest,
        "kiosk_id": kiosk_id,
        "card_cert_sha256": card_cert_sha256,
        "card_serial": card_serial,
        "last_signature_at": ctx.now,
    }
    conn = core(ctx.session)
    if conn.dialect.name == "postgresql":
        conn.execute(
            _INSERT_BOUND_PG,
            {
                **{f"s_{k}": v for k, v in session_row.items()},
                **{f"b_{k}": v for k, v in binding.items()},
            },
        )
    else:
        conn.execute(_INSERT, session_row)
        conn.execute(_INSERT_BINDING, binding)
    return token


def _session_row(
    ctx: Ctx, digest: str, kind: ActorKind, actor_id: int, kiosk: str | None
) -> dict[str, Any]:
    return {
        "token_hash": digest,
        "actor_kind": kind.value,
        "actor_id": actor_id,
        "kiosk": kiosk,
        "created_at": ctx.now,
        "last_seen": ctx.now,
        "expires_at": ctx.now + timedelta(seconds=ctx.settings["SESSION_MAX_SECONDS"]),
    }


def resolve(ctx: Ctx, token: str, kiosk: str | None = None) -> Principal:
    """The caller behind a token; one generic error outward whatever is wrong.

    `kiosk` must be the name of the kiosk whose request signature was VERIFIED (None for
    a caller that is no kiosk): a session opened at a kiosk is usable from it alone. A
    card session also needs a fresh card signature every RESIGN_SECONDS, so a kiosk
    cannot keep it alive once the card is gone. The session, its actor and its card
    binding come in one query: this runs on every request."""
    conn = core(ctx.session)
    row = conn.execute(_SESSION_WITH_ACTOR, {"token_hash": token_hash(token)}).first()
    idle = timedelta(seconds=ctx.settings["SESSION_IDLE_SECONDS"])
    if row is None:
        raise Unauthenticated("session_invalid", EXPIRED)
    resign = timedelta(seconds=ctx.settings["RESIGN_SECONDS"])
    if (
        row.ended_at is not None
        or row.expires_at <= ctx.now
        or row.last_seen + idle <= ctx.now
        or (row.bound is not None and row.last_signature_at + resign <= ctx.now)
    ):
        raise Unauthenticated("session_invalid", EXPIRED)
    if row.kiosk is not None and row.kiosk != kiosk:
        actor, name = _actor_of_row(ActorKind(row.actor_kind), row)
        patient = actor.id if actor.kind is ActorKind.PATIENT else None
        holder = Holder(
            actor.kind.value, actor.id, name, actor.profession, actor.structure, patient
        )
        raise SessionElsewhere(holder, row.kiosk)
    # Writing last_seen on every request would make every read a row write; to the
    # minute is precise enough for an idle timeout counted in minutes.
    if ctx.now - row.last_seen >= TOUCH_EVERY:
        conn.execute(_TOUCH, {"b_token": row.token_hash, "b_now": ctx.now})
    actor, name = _actor_of_row(ActorKind(row.actor_kind), row)
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


def officer_or(kind: ActorKind, profession: str | None) -> ActorKind:
    """A professional card of the privacy-officer profile signs in as a privacy officer:
    an actor of its own kind, with the review rights only (server/policy/review.py)."""
    return ActorKind.PRIVACY_OFFICER if profession == OFFICER_PROFESSION else kind


def _actor_of_row(kind: ActorKind, row: Any) -> tuple[Actor, str]:
    """`_actor` on the columns of `_SESSION_WITH_ACTOR`: the same rules, the same names."""
    if kind is ActorKind.PROFESSIONAL and row.pro_id is not None and row.pro_active:
        return (
            Actor(
                officer_or(kind, row.pro_profession),
                row.pro_id,
                profession=row.pro_profession,
                structure=row.pro_structure,
            ),
            f"{row.pro_first_name} {row.pro_last_name}",
        )
    if kind is ActorKind.PATIENT and row.patient_id is not None:
        return (
            Actor(kind, row.patient_id),
            f"{row.patient_first_names.split()[0]} {row.patient_birth_name}",
        )
    if kind in SERVICE_KINDS and row.account_id is not None and row.account_kind == kind.value:
        return Actor(kind, row.account_id), row.account_name
    raise Unauthenticated("session_invalid", EXPIRED)


def _actor(
    kind: ActorKind,
    pro: Professional | None,
    patient: Patient | None,
    account: ServiceAccount | None,
) -> tuple[Actor, str]:
    if kind is ActorKind.PROFESSIONAL and pro is not None and pro.active:
        return (
            Actor(
                officer_or(kind, pro.profession),
                pro.id,
                profession=pro.profession,
                structure=pro.structure_finess,
            ),
            f"{pro.first_name} {pro.last_name}",
        )
    if kind is ActorKind.PATIENT and patient is not None:
        return Actor(kind, patient.id), f"{patient.first_names.split()[0]} {patient.birth_name}"
    if kind in SERVICE_KINDS and account is not None and account.kind == kind.value:
        return Actor(kind, account.id), account.name
    raise Unauthenticated("session_invalid", EXPIRED)
