"""One-time codes and online sign-in: the routes (issue #4).

The three /signin routes are public: the pending token they carry is the proof of the
first factor. Every refusal answers the same 401, whatever failed (unknown INS, wrong
password, wrong, used or expired code, lockout, used or expired pending sign-in); the
detail goes to the trace, committed even though the request fails.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

from flask import Response

from server.api import api
from server.api.runtime import json_body, run, run_public
from server.api.schemas import STR, obj
from server.errors import AccessDenied
from server.models import Patient
from server.policy import ActorKind
from server.services.context import Ctx, Principal
from server.signin import passwords, pending, totp, trace
from server.signin.events import SigninAction, SigninFailure, SigninReason
from server.validation import require_object

TOKEN = {"type": "string", "maxLength": 100}
CODE = {"type": "string", "pattern": "^[0-9]{6}$"}


def _str(data: dict[str, Any], name: str, max_len: int, *, required: bool = True) -> str | None:
    """A credential field; a missing or malformed one is an authentication failure, not
    a validation error, so a probe learns nothing about which field was wrong."""
    value = data.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise SigninFailure(SigninReason.CREDENTIALS_MALFORMED, SigninAction.SIGNIN)
    return value


def _public(work: Callable[[Ctx, dict[str, Any], str | None], dict[str, Any]]) -> Response:
    """A sign-in step without a session: `work` gets the body and the name of the kiosk
    that signed the request (verified), None for a caller at home."""
    data = require_object(json_body())
    response = run_public(lambda ctx, kiosk: work(ctx, data, kiosk.name if kiosk else None))
    response.headers["Cache-Control"] = "no-store"
    return response


def _patient(ctx: Ctx, who: Principal) -> Patient:
    patient = (
        ctx.session.get(Patient, who.actor.id) if who.actor.kind is ActorKind.PATIENT else None
    )
    if patient is None:
        raise AccessDenied("patient_only", "Réservé au patient titulaire du dossier.")
    return patient


@api.route(
    "POST",
    "/signin/password",
    "Online sign-in, first factor: INS and password (then a one-time code)",
    tag="signin",
    body=obj({"ins": {"type": "string", "maxLength": 15}, "password": STR}, ["ins", "password"]),
    response=obj(
        {
            "pending_token": STR,
            "expires_at": {"type": "string", "format": "date-time"},
            "methods": {"type": "array", "items": {"type": "string", "enum": ["totp", "code"]}},
        },
        ["pending_token", "expires_at", "methods"],
    ),
    public=True,
)
def signin_password() -> Any:
    def work(ctx: Ctx, data: dict[str, Any], kiosk: str | None) -> dict[str, Any]:
        ins = _str(data, "ins", 15)
        password = _str(data, "password", passwords.MAX_LENGTH)
        assert ins is not None  # noqa: S101 - required above
        assert password is not None  # noqa: S101
        return pending.start_password_signin(ctx, ins, password, kiosk)

    return _public(work)


@api.route(
    "POST",
    "/signin/code",
    "Send a one-time code (e-mail or SMS) for a pending sign-in",
    tag="signin",
    body=obj(
        {"pending_token": TOKEN, "channel": {"type": "string", "enum": ["email", "sms"]}},
        ["pending_token"],
    ),
    response=obj(
        {
            "sent": {"type": "boolean"},
            "destination": STR,
            "expires_at": {"type": "string", "format": "date-time"},
            "channel": {"type": "string", "enum": ["email", "sms"]},
            "channels": {"type": "array", "items": {"type": "string", "enum": ["email", "sms"]}},
            "tries": {"type": "integer", "minimum": 1},
        },
        ["sent", "destination", "expires_at", "channel", "channels", "tries"],
    ),
    public=True,
)
def signin_code() -> Any:
    def work(ctx: Ctx, data: dict[str, Any], kiosk: str | None) -> dict[str, Any]:
        token = _str(data, "pending_token", 100)
        channel = data.get("channel")
        if channel not in (None, "email", "sms"):
            raise SigninFailure(SigninReason.CREDENTIALS_MALFORMED, SigninAction.SIGNIN)
        assert token is not None  # noqa: S101 - required above
        return pending.request_code(ctx, token, channel, kiosk)

    return _public(work)


@api.route(
    "POST",
    "/signin/otp",
    "Finish a pending sign-in with a one-time code; opens the patient's session",
    tag="signin",
    body=obj(
        {
            "pending_token": TOKEN,
            "code": CODE,
            "method": {"type": "string", "enum": ["totp", "code"]},
        },
        ["pending_token", "code"],
    ),
    response=obj(
        {"token": STR, "expires_at": {"type": "string", "format": "date-time"}},
        ["token", "expires_at"],
    ),
    public=True,
)
def signin_otp() -> Any:
    def work(ctx: Ctx, data: dict[str, Any], kiosk: str | None) -> dict[str, Any]:
        token = _str(data, "pending_token", 100)
        code = _str(data, "code", 6)
        method = data.get("method")
        if method not in (None, "totp", "code"):
            raise SigninFailure(SigninReason.CREDENTIALS_MALFORMED, SigninAction.SIGNIN)
        assert token is not None  # noqa: S101 - required above
        assert code is not None  # noqa: S101
        opened = pending.complete_signin(ctx, token, method, code, kiosk)
        return {"token": opened.token, "expires_at": opened.expires_at.isoformat()}

    return _public(work)


@api.route(
    "POST",
    "/me/totp",
    "Start enrolling an authenticator app (TOTP): secret, otpauth URI and QR code",
    tag="signin",
    response=obj(
        {
            "secret": STR,
            "otpauth_uri": STR,
            "qr_png_base64": {"type": "string", "contentEncoding": "base64"},
        },
        ["secret", "otpauth_uri", "qr_png_base64"],
    ),
    status=201,
    secret_response=True,
)
def totp_enrol() -> Any:
    def work(ctx: Ctx, who: Principal) -> dict[str, Any]:
        enrolment = totp.enrol(ctx, _patient(ctx, who))
        return {
            "secret": enrolment.secret,
            "otpauth_uri": enrolment.uri,
            "qr_png_base64": base64.b64encode(enrolment.qr_png).decode(),
        }

    response = run(work, status=201, write=True)
    response.headers["Cache-Control"] = "no-store"
    return response


@api.route(
    "POST",
    "/me/totp/confirm",
    "Confirm the authenticator app with a first valid code",
    tag="signin",
    body=obj({"code": CODE}, ["code"]),
    response=obj({"confirmed": {"type": "boolean"}}, ["confirmed"]),
)
def totp_confirm() -> Any:
    def work(ctx: Ctx, who: Principal) -> dict[str, Any]:
        patient = _patient(ctx, who)
        data = require_object(json_body())
        code = data.get("code")
        if not isinstance(code, str):
            code = ""
        totp.confirm(ctx, patient, code)
        return {"confirmed": True}

    return run(work, write=True)


@api.route(
    "PUT",
    "/me/password",
    "Set the password for online sign-in (8 characters or more, not a common one)",
    tag="signin",
    body=obj({"password": STR}, ["password"]),
    response=obj({"changed": {"type": "boolean"}}, ["changed"]),
)
def set_password() -> Any:
    def work(ctx: Ctx, who: Principal) -> dict[str, Any]:
        patient = _patient(ctx, who)
        data = require_object(json_body())
        password = data.get("password")
        if not isinstance(password, str):
            password = ""
        passwords.set_password(ctx, patient.id, patient.ins, password)
        trace.record(
            ctx,
            SigninAction.PASSWORD_SET,
            SigninReason.PASSWORD_SET,
            holder=trace.patient_holder(patient),
            kiosk=who.kiosk,
            allowed=True,
        )
        return {"changed": True}

    return run(work, write=True)
