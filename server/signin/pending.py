"""Sign-ins in two steps: a first factor (a patient card, or INS and password) opens a
pending sign-in, and a one-time code (TOTP or sent) finishes it and opens the session.

Every refusal raises SigninFailure, traced by `trace.refuse`; the caller only ever sees
one generic answer.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update

from server.models import Kiosk, Patient, PatientPassword, PendingSignIn
from server.policy import ActorKind
from server.services.context import Ctx
from server.signin import passwords, sent_codes, sessions, throttle, totp, trace
from server.signin.events import SigninAction, SigninFailure, SigninReason


def check_code(
    ctx: Ctx, patient: Patient, method: str | None, code: str, kiosk: str | None = None
) -> str:
    """Checks a second-factor code under the patient's lockout; returns the method used.

    Raises SigninFailure (the counters are written: the caller commits them)."""
    holder = trace.patient_holder(patient)
    row = throttle.load(ctx, patient.id, throttle.OTP)
    if throttle.locked(ctx, row):
        raise throttle.refuse_locked(row, holder, SigninAction.OTP, kiosk)
    cred = totp.totp_confirmed(ctx, patient.id)
    used = method or ("totp" if cred is not None else "code")
    reason: SigninReason | None
    if used == "totp":
        if cred is None:
            reason = SigninReason.OTP_INVALID
        elif totp.spend_step(ctx, cred, code) is None:
            replayed = totp.fits_used_step(ctx, cred, code)
            reason = SigninReason.OTP_REPLAYED if replayed else SigninReason.OTP_INVALID
        else:
            reason = None
    else:
        reason = sent_codes.check(ctx, patient.id, code)
    if reason is not None:
        raise throttle.count_failure(ctx, row, holder, SigninAction.OTP, reason, kiosk)
    throttle.reset(ctx, row)
    return used


@dataclass(frozen=True)
class Opened:
    token: str
    expires_at: datetime


def _refused(
    reason: SigninReason, patient: Patient | None = None, kiosk: str | None = None
) -> SigninFailure:
    holder = trace.patient_holder(patient) if patient is not None else None
    action = SigninAction.PASSWORD if reason is SigninReason.UNKNOWN_INS else SigninAction.SIGNIN
    return SigninFailure(reason, action, holder=holder, kiosk=kiosk)


def pending(
    ctx: Ctx, token: str, from_kiosk: str | None
) -> tuple[PendingSignIn, Patient, str | None]:
    """A live pending sign-in (row-locked), its patient and kiosk name, or SigninFailure.

    `from_kiosk` is the kiosk whose signature the request carries (verified). A sign-in
    begun with a card at a kiosk can only be finished at that kiosk: the card was there,
    a stolen pending token used elsewhere is refused."""
    row = ctx.session.execute(
        select(PendingSignIn)
        .where(PendingSignIn.token_hash == sessions.token_hash(token))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    patient = ctx.session.get(Patient, row.patient_id) if row is not None else None
    if row is None or patient is None:  # the foreign key makes the second unreachable
        raise _refused(SigninReason.PENDING_UNKNOWN)
    kiosk = ctx.session.get(Kiosk, row.kiosk_id) if row.kiosk_id is not None else None
    name = kiosk.name if kiosk is not None else None
    if row.completed_at is not None:
        raise _refused(SigninReason.PENDING_USED, patient, name)
    if row.expires_at <= ctx.now:
        raise _refused(SigninReason.PENDING_EXPIRED, patient, name)
    if name is not None and from_kiosk != name:
        raise _refused(SigninReason.PENDING_WRONG_KIOSK, patient, from_kiosk)
    return row, patient, name


def request_code(
    ctx: Ctx, token: str, channel: str | None, from_kiosk: str | None = None
) -> dict[str, Any]:
    _, patient, kiosk = pending(ctx, token, from_kiosk)
    row = throttle.load(ctx, patient.id, throttle.OTP)
    if throttle.locked(ctx, row):
        # No code is sent to a locked factor: it would only feed more guesses.
        raise throttle.refuse_locked(row, trace.patient_holder(patient), SigninAction.OTP, kiosk)
    destination, expires, used = sent_codes.issue_code(ctx, patient, channel, kiosk)
    # Told to whoever already holds the first factor, so that the screen offers only the
    # ways this patient can be reached, and says how many wrong tries this code allows
    # before a new one is needed or the factor locks (whichever comes first).
    tries = min(
        int(ctx.settings["OTP_CODE_TRIES"]), int(ctx.settings["OTP_LOCK_FAILURES"]) - row.failures
    )
    return {
        "sent": True,
        "destination": destination,
        "expires_at": expires.isoformat(),
        "channel": used,
        "channels": [c for c in ("email", "sms") if sent_codes.contact(patient, c)],
        "tries": max(tries, 1),
    }


def complete_signin(
    ctx: Ctx, token: str, method: str | None, code: str, from_kiosk: str | None = None
) -> Opened:
    """Second factor of a pending sign-in: checks the code, consumes the pending sign-in,
    opens the patient's session and, after a card, binds it to that card and kiosk."""
    row, patient, kiosk = pending(ctx, token, from_kiosk)
    used = check_code(ctx, patient, method, code, kiosk)
    consumed = ctx.session.execute(
        update(PendingSignIn)
        .where(PendingSignIn.token_hash == row.token_hash, PendingSignIn.completed_at.is_(None))
        .values(completed_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    if consumed.rowcount != 1:  # type: ignore[attr-defined]
        raise _refused(SigninReason.PENDING_USED, patient, kiosk)
    if row.first_factor == "card":
        # Checked before anything is opened: the failure's trace is committed, nothing else.
        if (
            kiosk is None
            or row.kiosk_id is None
            or row.card_cert_sha256 is None
            or row.card_serial is None
        ):
            raise _refused(SigninReason.PENDING_UNKNOWN, patient, kiosk)
        session_token = sessions.open_card_session(
            ctx,
            ActorKind.PATIENT,
            patient.id,
            kiosk,
            row.kiosk_id,
            row.card_cert_sha256,
            row.card_serial,
        )
    else:
        session_token = sessions.open_session(ctx, ActorKind.PATIENT, patient.id, kiosk=kiosk)
    trace.record(
        ctx,
        SigninAction.SIGNIN,
        SigninReason(f"signin_{row.first_factor}_{used}"),
        holder=trace.patient_holder(patient),
        kiosk=kiosk,
        allowed=True,
    )
    expires = ctx.now + timedelta(seconds=ctx.settings["SESSION_MAX_SECONDS"])
    return Opened(session_token, expires)


def start_password_signin(
    ctx: Ctx, ins: str, password: str, terminal: str | None = None
) -> dict[str, Any]:
    """INS + password, the first factor of an online sign-in without a card.

    An unknown INS costs one argon2 verification like a known one, and answers the same.
    `terminal`: the verified terminal that relays it (the online space, docs/online.md),
    None for a browser calling the API itself. The pending sign-in, and the session it
    opens, are then bound to that terminal: a token copied out of it is worth nothing
    elsewhere. A professional's software or the insurer's system relays no patient's
    password (terminal_kind_refused)."""
    relay = None
    if terminal is not None:
        relay = ctx.session.scalars(select(Kiosk).where(Kiosk.name == terminal)).first()
        if relay is None or relay.kind in ("software", "insurer"):
            raise SigninFailure(
                SigninReason.TERMINAL_KIND_REFUSED,
                SigninAction.PASSWORD,
                kiosk=terminal,
                detail={"kind": relay.kind if relay is not None else None},
            )
    patient = ctx.session.scalars(select(Patient).where(Patient.ins == ins)).first()
    if patient is None:
        passwords.verify(None, password)
        raise _refused(SigninReason.UNKNOWN_INS)
    holder = trace.patient_holder(patient)
    row = throttle.load(ctx, patient.id, throttle.PASSWORD)
    stored = ctx.session.get(PatientPassword, patient.id)
    ok = passwords.verify(stored, password)  # before the lock test: same cost either way
    if throttle.locked(ctx, row):
        raise throttle.refuse_locked(row, holder, SigninAction.PASSWORD, None)
    if not ok or stored is None:
        raise throttle.count_failure(
            ctx, row, holder, SigninAction.PASSWORD, SigninReason.PASSWORD_INVALID, None
        )
    throttle.reset(ctx, row)
    passwords.rehash_if_needed(stored, password, ctx)
    token = secrets.token_urlsafe(32)
    expires = ctx.now + timedelta(seconds=ctx.settings["PENDING_SIGNIN_SECONDS"])
    ctx.session.add(
        PendingSignIn(
            token_hash=sessions.token_hash(token),
            patient_id=patient.id,
            first_factor="password",
            kiosk_id=relay.id if relay is not None else None,
            created_at=ctx.now,
            expires_at=expires,
        )
    )
    trace.record(
        ctx,
        SigninAction.PASSWORD,
        SigninReason.PASSWORD_VALID,
        holder=holder,
        kiosk=terminal,
        allowed=True,
    )
    methods = ["totp", "code"] if totp.totp_confirmed(ctx, patient.id) else ["code"]
    return {"pending_token": token, "expires_at": expires.isoformat(), "methods": methods}
