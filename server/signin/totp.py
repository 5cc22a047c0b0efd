"""TOTP (RFC 6238): enrolment of an authenticator app, and checking its codes once each.

Replay: pyotp's verify() says whether a code fits the clock, not whether it was used.
The last accepted time step is stored per patient and moved forward by a conditional
UPDATE (`... WHERE last_step < :step`) whose row count decides: of two requests, even in
two server processes, carrying the same code, the database lets exactly one through.
The seed is sealed with AES-GCM under a key derived from the master key.
"""

from __future__ import annotations

import hmac
import io
import os
from dataclasses import dataclass

import pyotp
import segno
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import bindparam, select, update
from sqlalchemy.orm.attributes import set_committed_value

from server.db import core
from server.errors import InvalidInput
from server.models import Patient, TotpCredential, table_of
from server.services.context import Ctx
from server.signin import trace
from server.signin.events import SigninAction, SigninReason

_TOTP = table_of(TotpCredential)
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


@dataclass(frozen=True)
class Enrolment:
    secret: str
    uri: str
    qr_png: bytes


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
    _traced(ctx, patient, SigninReason.TOTP_ENROLMENT_STARTED)
    return Enrolment(secret, uri, png.getvalue())


def confirm(ctx: Ctx, patient: Patient, code: str) -> None:
    cred = ctx.session.get(TotpCredential, patient.id)
    if cred is None or cred.confirmed:
        raise InvalidInput("totp_not_pending", "Aucune application d'authentification à confirmer.")
    if spend_step(ctx, cred, code) is None:
        raise InvalidInput("code_invalid", "Code incorrect : réessayez avec le code affiché.")
    cred.confirmed = True
    _traced(ctx, patient, SigninReason.TOTP_CONFIRMED)


def spend_step(ctx: Ctx, cred: TotpCredential | Seed, code: str) -> int | None:
    """The time step the code belongs to (now, or one step either side), after moving
    the stored last step forward atomically; None when the code fits no step or that
    step was already used."""
    if not well_formed(code):
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


def well_formed(code: str) -> bool:
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


def fits_used_step(ctx: Ctx, cred: Seed, code: str) -> bool:
    """For the trace only: was the refused code right but already used?"""
    if not well_formed(code):
        return False
    last_step = core(ctx.session).execute(_LAST_STEP, {"patient_id": cred.patient_id}).scalar()
    totp = pyotp.TOTP(_open_secret(ctx, cred), digits=DIGITS, interval=STEP)
    now_step = int(ctx.now.timestamp()) // STEP
    return any(
        step <= (last_step or 0) and hmac.compare_digest(totp.at(step * STEP), code)
        for step in (now_step - 1, now_step, now_step + 1)
    )


def _traced(ctx: Ctx, patient: Patient, reason: SigninReason) -> None:
    trace.record(
        ctx,
        SigninAction.TOTP_ENROL,
        reason,
        holder=trace.patient_holder(patient),
        kiosk=None,
        allowed=True,
    )
