"""Failure counters per patient and factor, and the lockout they lead to.

Both kinds of one-time code count their failures into one throttle per patient ("otp"),
passwords into another: after OTP_LOCK_FAILURES failures the factor locks for
OTP_LOCK_SECONDS (RFC 4226 §7.3), far below the 100 failures NIST 800-63B tolerates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.db import core
from server.models import AuthThrottle, table_of
from server.services.context import Ctx
from server.signin.events import Holder, Lock, SigninAction, SigninFailure, SigninReason

OTP = "otp"  # the throttle factor shared by TOTP and sent codes
PASSWORD = "password"  # noqa: S105 - a throttle factor name, not a secret
LOCK_REASONS = {OTP: SigninReason.OTP_LOCKED, PASSWORD: SigninReason.PASSWORD_LOCKED}

_TH = table_of(AuthThrottle)
# Core, built once: a code check is a handful of statements (bench/otp_bench.py).
_THROTTLE = (
    select(_TH.c.failures, _TH.c.locked_until)
    .where(_TH.c.patient_id == bindparam("patient_id"), _TH.c.factor == bindparam("factor"))
    .with_for_update()
)
_NEW_THROTTLE = {
    name: dialect_insert(_TH)
    .values(patient_id=bindparam("patient_id"), factor=bindparam("factor"), failures=0)
    .on_conflict_do_nothing()
    for name, dialect_insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_SAVE_THROTTLE = (
    update(_TH)
    .where(_TH.c.patient_id == bindparam("b_patient_id"), _TH.c.factor == bindparam("b_factor"))
    .values(failures=bindparam("failures"), locked_until=bindparam("locked_until"))
)


@dataclass
class Throttle:
    """A patient's failure counter for one factor, as read under its row lock."""

    patient_id: int
    factor: str
    failures: int
    locked_until: datetime | None


def load(ctx: Ctx, patient_id: int, factor: str) -> Throttle:
    """The patient's counter for a factor, row-locked for the rest of the transaction:
    concurrent attempts on one patient are counted one after the other (SQLite's
    BEGIN IMMEDIATE already serialises them)."""
    conn = core(ctx.session)
    key = {"patient_id": patient_id, "factor": factor}
    row = conn.execute(_THROTTLE, key).first()
    if row is None:
        # A concurrent first attempt may create it first: then this inserts nothing.
        conn.execute(_NEW_THROTTLE[conn.dialect.name], key)
        row = conn.execute(_THROTTLE, key).one()
    return Throttle(patient_id, factor, row.failures, row.locked_until)


def _save(ctx: Ctx, row: Throttle) -> None:
    core(ctx.session).execute(
        _SAVE_THROTTLE,
        {
            "b_patient_id": row.patient_id,
            "b_factor": row.factor,
            "failures": row.failures,
            "locked_until": row.locked_until,
        },
    )


def locked(ctx: Ctx, row: Throttle) -> bool:
    return row.locked_until is not None and row.locked_until > ctx.now


def count_failure(
    ctx: Ctx,
    row: Throttle,
    holder: Holder,
    action: SigninAction,
    reason: SigninReason,
    kiosk: str | None,
) -> SigninFailure:
    """Counts one failure; the one that reaches the limit also locks the factor, and the
    failure then carries the lock with its end, which the patient's history shows."""
    row.failures += 1
    lock = None
    if row.failures >= ctx.settings["OTP_LOCK_FAILURES"]:
        row.failures = 0
        row.locked_until = ctx.now + timedelta(seconds=ctx.settings["OTP_LOCK_SECONDS"])
        lock = Lock(LOCK_REASONS[row.factor], row.locked_until)
    _save(ctx, row)
    return SigninFailure(reason, action, holder=holder, kiosk=kiosk, lock=lock)


def refuse_locked(
    row: Throttle, holder: Holder, action: SigninAction, kiosk: str | None
) -> SigninFailure:
    until = row.locked_until
    return SigninFailure(
        LOCK_REASONS[row.factor],
        action,
        holder=holder,
        kiosk=kiosk,
        detail={"locked_until": until.isoformat() if until else None},
    )


def reset(ctx: Ctx, row: Throttle) -> None:
    if row.failures or row.locked_until is not None:  # most sign-ins write nothing here
        row.failures, row.locked_until = 0, None
        _save(ctx, row)
