"""Codes sent by e-mail or SMS: issued, queued sealed in the outbox, checked once.

Sent codes are 6 random digits, so their hash must not be a plain or slow password hash
(a million candidates are searched in no time either way): they are stored as
HMAC-SHA256 under a key derived from the master key, which a database leak alone does not
reveal, and compared in constant time. While waiting in the outbox the text carrying the
code is sealed with AES-GCM, and the worker redacts it once sent.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from datetime import datetime, timedelta

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update

from server.errors import InvalidInput, TooManyRequests
from server.models import OneTimeCode, OutboxMessage, Patient
from server.services.context import Ctx
from server.signin import trace
from server.signin.events import SigninAction, SigninReason
from server.signin.totp import DIGITS, well_formed

SEALED_PREFIX = "sealed:"


def _aes(ctx: Ctx, purpose: str) -> AESGCM:
    return AESGCM(ctx.keyring.derive_key(purpose))


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
) -> tuple[str, datetime, str]:
    """Supersedes any earlier code, stores the new one's MAC, queues its delivery.
    Returns the masked address, the expiry and the channel used."""
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
    trace.record(
        ctx,
        SigninAction.CODE_SENT,
        SigninReason.CODE_SENT,
        holder=trace.patient_holder(patient),
        kiosk=kiosk,
        allowed=True,
        detail={"channel": chosen},
    )
    return mask(recipient, chosen), expires, chosen


def check(ctx: Ctx, patient_id: int, code: str) -> SigninReason | None:
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
        return SigninReason.OTP_INVALID
    if latest.expires_at <= ctx.now:
        return SigninReason.OTP_EXPIRED
    if not well_formed(code) or not hmac.compare_digest(
        code_mac(ctx, patient_id, code), latest.code_hash
    ):
        latest.attempts += 1
        if latest.attempts >= ctx.settings["OTP_CODE_TRIES"]:
            latest.superseded_at = ctx.now  # burnt: a new code must be asked for
        return SigninReason.OTP_INVALID
    used = ctx.session.execute(
        update(OneTimeCode)
        .where(OneTimeCode.id == latest.id, OneTimeCode.used_at.is_(None))
        .values(used_at=ctx.now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:  # type: ignore[attr-defined]
        return SigninReason.OTP_REPLAYED
    latest.used_at = ctx.now
    return None
