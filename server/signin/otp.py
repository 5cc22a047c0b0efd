"""One-time codes: TOTP (RFC 6238) and codes sent by e-mail or SMS, with a shared lockout.

Replay: pyotp's verify() says whether a code fits the clock, not whether it was used.
The last accepted time step is stored per patient and moved forward by a conditional
UPDATE (`... WHERE last_step < :step`) whose row count decides: of two requests, even in
two server processes, carrying the same code, the database lets exactly one through.

Sent codes are 6 random digits, so their hash must not be a plain or slow password hash
(a million candidates are searched in no time either way): they are stored as
HMAC-SHA256 under a key derived from the master key, which a database leak alone does not
reveal, and compared in constant time. While waiting in the outbox the text carrying the
code is sealed with AES-GCM, and the worker redacts it once sent.

Both kinds of code count their failures into one throttle per patient ("otp"): after
OTP_LOCK_FAILURES failures the second factor locks for OTP_LOCK_SECONDS (RFC 4226 §7.3),
far below the 100 failures NIST 800-63B tolerates. Every refusal is traced; the caller only
ever sees one generic answer (server.api.auth_codes).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pyotp
import segno
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm.attributes import set_committed_value

from server.db import core
from server.errors import InvalidInput, TooManyRequests
from server.models import (
    AuthThrottle,
    Kiosk,
    OneTimeCode,
    OutboxMessage,
    Patient,
    PatientPassword,
    PendingSignIn,
    TotpCredential,
    table_of,
)
from server.policy import ActorKind
from server.services import audit
from server.services.context import Ctx
from server.signin import passwords, sessions

_TH = table_of(AuthThrottle)
_TOTP = table_of(TotpCredential)
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
_SEED = select(_TOTP.c.nonce, _TOTP.c.sealed_secret).where(
    _TOTP.c.patient_id == bindparam("patient_id"), _TOTP.c.confirmed.is_(True)
)
_LAST_STEP = select(_TOTP.c.last_step).where(_TOTP.c.patient_id == bindparam("patient_id"))
# Of two transactions with the same step, the second waits for the first's row lock and
# then finds last_step no longer below it: row count 0.
_MOVE_STEP = (
    update(_TOTP)
    .where(_TOTP.c.patient_id == bindparam("b_patient_id"), _TOTP.c.last_step < bindparam("b_step"))
    .values(last_step=bindparam("last_step"))
)
STEP = 30
DIGITS = 6
ISSUER = "Mon dossier médical"
OTP = "otp"  # the throttle factor shared by TOTP and sent codes
PASSWORD = "password"  # noqa: S105 - a throttle factor name, not a secret
SEALED_PREFIX = "sealed:"


class AuthFailure(Exception):
    """A refused authentication: its reason goes to the trace, never to the caller."""

    def __init__(self, reason: str, patient_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.patient_id = patient_id


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_png: bytes


# --- traces -----------------------------------------------------------------------------


def _name(patient: Patient) -> str:
    return f"{patient.first_names.split()[0]} {patient.birth_name}"


def trace(
    ctx: Ctx,
    patient: Patient | None,
    action: str,
    outcome: str,
    reason: str,
    *,
    kiosk: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Sign-in events go to the patient's chain (the patient reads them in the access
    history); an attempt on no known patient goes to the system chain."""
    audit.append(
        ctx.session,
        patient.id if patient is not None else None,
        at=ctx.now,
        actor_kind=ActorKind.PATIENT.value if patient is not None else "anonymous",
        actor_id=patient.id if patient is not None else 0,
        actor_name=_name(patient) if patient is not None else "personne non identifiée",
        action=action,
        mode="patient" if patient is not None else "none",
        outcome=outcome,
        reason=reason,
        detail=audit.detail_json(detail),
        kiosk=kiosk,
    )


def fail(
    ctx: Ctx, patient: Patient | None, action: str, reason: str, kiosk: str | None = None
) -> AuthFailure:
    trace(ctx, patient, action, "denied", reason, kiosk=kiosk)
    return AuthFailure(reason, patient.id if patient is not None else None)


# --- throttling -------------------------------------------------------------------------


@dataclass
class Throttle:
    """A patient's failure counter for one factor, as read under its row lock."""

    patient_id: int
    factor: str
    failures: int
    locked_until: datetime | None


def _throttle(ctx: Ctx, patient_id: int, factor: str) -> Throttle:
    """The patient's counter for a factor, row-locked for the rest of the transaction:
    concurrent attempts on one patient are counted one after the other (SQLite's
    BEGIN IMMEDIATE already serialises them). Core statements: this runs on every code
    check (bench/otp_bench.py)."""
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
    ctx: Ctx, row: Throttle, patient: Patient, action: str, reason: str, kiosk: str | None
) -> AuthFailure:
    """Traces the failure; the one that reaches the limit also locks the factor and traces
    the lock with its end, which the patient's history shows."""
    trace(ctx, patient, action, "denied", reason, kiosk=kiosk)
    row.failures += 1
    if row.failures >= ctx.settings["OTP_LOCK_FAILURES"]:
        row.failures = 0
        row.locked_until = ctx.now + timedelta(seconds=ctx.settings["OTP_LOCK_SECONDS"])
        _trace_lock(ctx, row, patient, action, kiosk)
    _save(ctx, row)
    return AuthFailure(reason, patient.id)


def refuse_locked(
    ctx: Ctx, row: Throttle, patient: Patient, action: str, kiosk: str | None
) -> AuthFailure:
    _trace_lock(ctx, row, patient, action, kiosk)
    return AuthFailure(f"{row.factor}_locked", patient.id)


def _trace_lock(ctx: Ctx, row: Throttle, patient: Patient, action: str, kiosk: str | None) -> None:
    # The end of the lock goes in the trace: the patient's history says until when.
    until = row.locked_until
    trace(
        ctx,
        patient,
        action,
        "denied",
        f"{row.factor}_locked",
        kiosk=kiosk,
        detail={"locked_until": until.isoformat() if until else None},
    )


def _reset(ctx: Ctx, row: Throttle) -> None:
    if row.failures or row.locked_until is not None:  # most sign-ins write nothing here
        row.failures, row.locked_until = 0, None
        _save(ctx, row)


# --- TOTP -------------------------------------------------------------------------------


def _aes(ctx: Ctx, purpose: str) -> AESGCM:
    return AESGCM(ctx.keyring.derive_key(purpose))


def _seal_secret(ctx: Ctx, patient_id: int, secret: str) -> tuple[bytes, bytes]:
    nonce = os.urandom(12)
    # The patient id as associated data: a sealed seed copied to another row won't open.
    return nonce, _aes(ctx, "totp-seed").encrypt(
        nonce, secret.encode(), f"totp:{patient_id}".encode()
    )


def _open_secret(ctx: Ctx, cred: TotpCredential | Seed) -> str:
    aad = f"totp:{cred.patient_id}".encode()
    return _aes(ctx, "totp-seed").decrypt(cred.nonce, cred.sealed_secret, aad).decode()


def enrol(ctx: Ctx, patient: Patient) -> Enrolment:
    """A new seed, unconfirmed until a first valid code; it replaces any earlier one (a
    lost phone) but sign-in keeps using sent codes until the new one is confirmed."""
    secret = pyotp.random_base32()  # 32 base32 characters: 160 bits (RFC 4226 §4)
    nonce, sealed = _seal_secret(ctx, patient.id, secret)
    cred = ctx.session.get(TotpCredential, patient.id)
    if cred is None:
        cred = TotpCredential(patient_id=patient.id)
        ctx.session.add(cred)
    cred.nonce, cred.sealed_secret = nonce, sealed
    cred.confirmed, cred.last_step, cred.created_at = False, 0, ctx.now
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=patient.ins, issuer_name=ISSUER
    )
    png = io.BytesIO()
    segno.make(uri, error="m").save(png, kind="png", scale=5)
    trace(ctx, patient, "auth:totp_enrol", "allowed", "totp_enrolment_started")
    return Enrolment(secret, uri, png.getvalue())


def confirm(ctx: Ctx, patient: Patient, code: str) -> None:
    cred = ctx.session.get(TotpCredential, patient.id)
    if cred is None or cred.confirmed:
        raise InvalidInput("totp_not_pending", "Aucune application d'authentification à confirmer.")
    if _totp_step(ctx, cred, code) is None:
        raise InvalidInput("code_invalid", "Code incorrect : réessayez avec le code affiché.")
    cred.confirmed = True
    trace(ctx, patient, "auth:totp_enrol", "allowed", "totp_confirmed")


def _totp_step(ctx: Ctx, cred: TotpCredential | Seed, code: str) -> int | None:
    """The time step the code belongs to (now, or one step either side), after moving
    the stored last step forward atomically; None when the code fits no step or that
    step was already used."""
    if not _well_formed(code):
        return None
    totp = pyotp.TOTP(_open_secret(ctx, cred), digits=DIGITS, interval=STEP)
    now_step = int(ctx.now.timestamp()) // STEP
    matched = None
    for step in (now_step - 1, now_step, now_step + 1):
        # Every candidate is compared, in constant time, whatever matched before.
        if hmac.compare_digest(totp.at(step * STEP), code):
            matched = step
    if matched is None:
        return None
    # The decisive check: a conditional UPDATE, never a read-then-write. Of two
    # transactions with the same step, the second waits for the first's row lock and
    # then finds last_step no longer below it: row count 0.
    result = core(ctx.session).execute(
        _MOVE_STEP, {"b_patient_id": cred.patient_id, "b_step": matched, "last_step": matched}
    )
    if result.rowcount != 1:
        return None
    if isinstance(cred, TotpCredential):
        # The row already says so: keep the loaded object in step without a second UPDATE.
        set_committed_value(cred, "last_step", matched)
    return matched


def _well_formed(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


@dataclass(frozen=True)
class Seed:
    """What a code check needs of a confirmed TOTP credential."""

    patient_id: int
    nonce: bytes
    sealed_secret: bytes


def totp_confirmed(ctx: Ctx, patient_id: int) -> Seed | None:
    row = core(ctx.session).execute(_SEED, {"patient_id": patient_id}).first()
    return Seed(patient_id, row.nonce, row.sealed_secret) if row is not None else None


# --- sent codes -------------------------------------------------------------------------


def code_mac(ctx: Ctx, patient_id: int, code: str) -> str:
    key = ctx.keyring.derive_key("otp-code-mac")
    return hmac.new(key, f"{patient_id}:{code}".encode(), hashlib.sha256).hexdigest()


def seal_body(ctx: Ctx, message_ref: str, text: str) -> str:
    nonce = os.urandom(12)
    sealed = _aes(ctx, "outbox-body").encrypt(nonce, text.encode(), message_ref.encode())
    return SEALED_PREFIX + base64.b64encode(nonce + sealed).decode()


def open_body(ctx: Ctx, message_ref: str, body: str) -> str:
    if not body.startswith(SEALED_PREFIX):
        return body
    raw = base64.b64decode(body[len(SEALED_PREFIX) :])
    return _aes(ctx, "outbox-body").decrypt(raw[:12], raw[12:], message_ref.encode()).decode()


CODE_TEXT = (
    "Bonjour, votre code de connexion à votre dossier médical partagé est {code}. Il est "
    "valable {minutes} minutes et ne sert qu'une fois. Ne le communiquez à personne : "
    "aucun agent ne vous le demandera."
)


def contact(patient: Patient, channel: str) -> str | None:
    return patient.email if channel == "email" else patient.phone if channel == "sms" else None


def mask(recipient: str, channel: str) -> str:
    """What the kiosk may show of the address: enough to recognise, not to harvest."""
    if channel == "email":
        local, _, domain = recipient.partition("@")
        return f"{local[:1]}***@{domain}"
    return f"{'*' * max(len(recipient) - 2, 0)}{recipient[-2:]}"


def _check_send_rate(ctx: Ctx, patient: Patient) -> None:
    """Each code is an SMS or an e-mail to the patient: repeated requests must not flood
    them (the lockout bounds guessing, not sending)."""
    hour_ago = ctx.now - timedelta(hours=1)
    sent = ctx.session.scalars(
        select(OneTimeCode.created_at).where(
            OneTimeCode.patient_id == patient.id, OneTimeCode.created_at > hour_ago
        )
    ).all()
    resend = timedelta(seconds=ctx.settings["OTP_RESEND_SECONDS"])
    if any(at > ctx.now - resend for at in sent):
        raise TooManyRequests(
            "code_too_soon", "Un code vient d'être envoyé : patientez quelques secondes."
        )
    if len(sent) >= ctx.settings["OTP_CODES_PER_HOUR"]:
        raise TooManyRequests(
            "too_many_codes", "Trop de codes demandés : réessayez dans une heure ou à l'accueil."
        )


def issue_code(
    ctx: Ctx, patient: Patient, channel: str | None, kiosk: str | None = None
) -> tuple[str, datetime]:
    """Supersedes any earlier code, stores the new one's MAC, queues its delivery."""
    chosen = channel or patient.notify_channel
    if chosen not in ("email", "sms"):
        chosen = "email" if patient.email else "sms"
    recipient = contact(patient, chosen)
    if not recipient:
        raise InvalidInput(
            "no_contact", "Aucune adresse pour ce moyen d'envoi : demandez de l'aide à l'accueil."
        )
    _check_send_rate(ctx, patient)
    ctx.session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.patient_id == patient.id,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.superseded_at.is_(None),
        )
        .values(superseded_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    expires = ctx.now + timedelta(seconds=ctx.settings["OTP_CODE_SECONDS"])
    ctx.session.add(
        OneTimeCode(
            patient_id=patient.id,
            channel=chosen,
            code_hash=code_mac(ctx, patient.id, code),
            created_at=ctx.now,
            expires_at=expires,
            attempts=0,
        )
    )
    message = OutboxMessage(
        patient_id=patient.id,
        kind="otp_code",
        channel=chosen,
        body="",
        created_at=ctx.now,
        # The code goes where the patient was just told it goes (the masked address in
        # the answer), so its recipient is fixed now; notices take theirs at delivery.
        recipient=recipient,
    )
    ctx.session.add(message)
    ctx.session.flush()  # the message id binds the sealed text to its row
    text = CODE_TEXT.format(code=code, minutes=ctx.settings["OTP_CODE_SECONDS"] // 60)
    message.body = seal_body(ctx, f"outbox:{message.id}", text)
    trace(
        ctx,
        patient,
        "auth:code_sent",
        "allowed",
        "code_sent",
        kiosk=kiosk,
        detail={"channel": chosen},
    )
    return mask(recipient, chosen), expires


def _check_sent_code(ctx: Ctx, patient_id: int, code: str) -> str | None:
    """None when the latest code matches (and is now used), else the refusal reason."""
    latest = ctx.session.execute(
        select(OneTimeCode)
        .where(
            OneTimeCode.patient_id == patient_id,
            OneTimeCode.used_at.is_(None),
            OneTimeCode.superseded_at.is_(None),
        )
        .order_by(OneTimeCode.id.desc())
        .limit(1)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if latest is None:
        return "otp_invalid"
    if latest.expires_at <= ctx.now:
        return "otp_expired"
    if not _well_formed(code) or not hmac.compare_digest(
        code_mac(ctx, patient_id, code), latest.code_hash
    ):
        latest.attempts += 1
        if latest.attempts >= ctx.settings["OTP_CODE_TRIES"]:
            latest.superseded_at = ctx.now  # burnt: a new code must be asked for
        return "otp_invalid"
    used = ctx.session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == latest.id, OneTimeCode.used_at.is_(None))
        .values(used_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return "otp_replayed"
    latest.used_at = ctx.now
    return None


def check_code(
    ctx: Ctx, patient: Patient, method: str | None, code: str, kiosk: str | None = None
) -> str:
    """Checks a second-factor code under the patient's lockout; returns the method used.

    Raises AuthFailure (trace and counters written: the caller commits them)."""
    row = _throttle(ctx, patient.id, OTP)
    if locked(ctx, row):
        raise refuse_locked(ctx, row, patient, "auth:otp", kiosk)
    cred = totp_confirmed(ctx, patient.id)
    used = method or ("totp" if cred is not None else "code")
    reason: str | None
    if used == "totp":
        if cred is None:
            reason = "otp_invalid"
        elif _totp_step(ctx, cred, code) is None:
            reason = "otp_replayed" if _fits_used_step(ctx, cred, code) else "otp_invalid"
        else:
            reason = None
    else:
        reason = _check_sent_code(ctx, patient.id, code)
    if reason is not None:
        raise count_failure(ctx, row, patient, "auth:otp", reason, kiosk)
    _reset(ctx, row)
    return used


def _fits_used_step(ctx: Ctx, cred: Seed, code: str) -> bool:
    """For the trace only: was the refused code right but already used?"""
    if not _well_formed(code):
        return False
    last_step = core(ctx.session).execute(_LAST_STEP, {"patient_id": cred.patient_id}).scalar()
    totp = pyotp.TOTP(_open_secret(ctx, cred), digits=DIGITS, interval=STEP)
    now_step = int(ctx.now.timestamp()) // STEP
    return any(
        step <= (last_step or 0) and hmac.compare_digest(totp.at(step * STEP), code)
        for step in (now_step - 1, now_step, now_step + 1)
    )


# --- sign-in ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Opened:
    token: str
    expires_at: datetime


def pending(
    ctx: Ctx, token: str, from_kiosk: str | None
) -> tuple[PendingSignIn, Patient, str | None]:
    """A live pending sign-in (row-locked), its patient and kiosk name, or AuthFailure.

    `from_kiosk` is the kiosk whose signature the request carries (verified). A sign-in
    begun with a card at a kiosk can only be finished at that kiosk: the card was there,
    a stolen pending token used elsewhere is refused."""
    row = ctx.session.execute(
        select(PendingSignIn)
        .where(PendingSignIn.token_hash == sessions.token_hash(token))
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one_or_none()
    if row is None:
        raise fail(ctx, None, "auth:signin", "pending_unknown")
    patient = ctx.session.get(Patient, row.patient_id)
    if patient is None:  # a foreign key makes this unreachable; typed for mypy
        raise fail(ctx, None, "auth:signin", "pending_unknown")
    kiosk = ctx.session.get(Kiosk, row.kiosk_id) if row.kiosk_id is not None else None
    name = kiosk.name if kiosk is not None else None
    if row.completed_at is not None:
        raise fail(ctx, patient, "auth:signin", "pending_used", name)
    if row.expires_at <= ctx.now:
        raise fail(ctx, patient, "auth:signin", "pending_expired", name)
    if name is not None and from_kiosk != name:
        raise fail(ctx, patient, "auth:signin", "pending_wrong_kiosk", from_kiosk)
    return row, patient, name


def request_code(
    ctx: Ctx, token: str, channel: str | None, from_kiosk: str | None = None
) -> dict[str, Any]:
    _, patient, kiosk = pending(ctx, token, from_kiosk)
    throttle = _throttle(ctx, patient.id, OTP)
    if locked(ctx, throttle):
        # No code is sent to a locked factor: it would only feed more guesses.
        raise refuse_locked(ctx, throttle, patient, "auth:otp", kiosk)
    destination, expires = issue_code(ctx, patient, channel, kiosk)
    return {"sent": True, "destination": destination, "expires_at": expires.isoformat()}


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
        raise fail(ctx, patient, "auth:signin", "pending_used", kiosk)
    if row.first_factor == "card":
        # Checked before anything is opened: the failure's trace is committed, nothing else.
        if (
            kiosk is None
            or row.kiosk_id is None
            or row.card_cert_sha256 is None
            or row.card_serial is None
        ):
            raise fail(ctx, patient, "auth:signin", "pending_unknown", kiosk)
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
    trace(
        ctx,
        patient,
        "auth:signin",
        "allowed",
        f"signin_{row.first_factor}_{used}",
        kiosk=kiosk,
    )
    expires = ctx.now + timedelta(seconds=ctx.settings["SESSION_MAX_SECONDS"])
    return Opened(session_token, expires)


def start_password_signin(ctx: Ctx, ins: str, password: str) -> dict[str, Any]:
    """INS + password, the first factor of an online sign-in without a card.

    An unknown INS costs one argon2 verification like a known one, and answers the same."""
    patient = ctx.session.scalars(select(Patient).where(Patient.ins == ins)).first()
    if patient is None:
        passwords.verify(None, password)
        raise fail(ctx, None, "auth:password", "unknown_ins")
    throttle = _throttle(ctx, patient.id, PASSWORD)
    stored = ctx.session.get(PatientPassword, patient.id)
    ok = passwords.verify(stored, password)  # before the lock test: same cost either way
    if locked(ctx, throttle):
        raise refuse_locked(ctx, throttle, patient, "auth:password", None)
    if not ok or stored is None:
        raise count_failure(ctx, throttle, patient, "auth:password", "password_invalid", None)
    _reset(ctx, throttle)
    passwords.rehash_if_needed(stored, password, ctx)
    token = secrets.token_urlsafe(32)
    expires = ctx.now + timedelta(seconds=ctx.settings["PENDING_SIGNIN_SECONDS"])
    ctx.session.add(
        PendingSignIn(
            token_hash=sessions.token_hash(token),
            patient_id=patient.id,
            first_factor="password",
            created_at=ctx.now,
            expires_at=expires,
        )
    )
    trace(ctx, patient, "auth:password", "allowed", "password_valid")
    methods = ["totp", "code"] if totp_confirmed(ctx, patient.id) else ["code"]
    return {"pending_token": token, "expires_at": expires.isoformat(), "methods": methods}
