"""One-time codes and online sign-in: the routes (issue #4).

The three /signin routes are public: the pending token they carry is the proof of the
first factor. Every refusal answers the same 401, whatever failed (unknown INS, wrong
password, wrong, used or expired code, lockout, used or expired pending sign-in); the
detail goes to the trace, committed even though the request fails.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

from flask import Response

from server.api import api
from server.api.runtime import json_body, run, runtime, verified_kiosk
from server.api.schemas import STR, obj
from server.errors import AccessDenied, authentication_failed
from server.models import Patient
from server.policy import ActorKind
from server.services.context import Ctx, Principal
from server.signin import otp, passwords
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
        raise authentication_failed()
    return value


def _public(work: Callable[[Ctx, dict[str, Any]], dict[str, Any]]) -> Response:
    rt = runtime()
    data = require_object(json_body())
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        try:
            result = work(ctx, data)
        except otp.AuthFailure:
            # The trace entry and the failure counters must outlive the refusal.
            session.commit()
            raise authentication_failed() from None
        session.commit()
    return Response(
        json.dumps(result, ensure_ascii=False),
        200,
        mimetype="application/json",
        headers={"Cache-Control": "no-store"},
    )


def _kiosk_name(ctx: Ctx) -> str | None:
    """The kiosk that signed this request (verified), None for a caller at home."""
    kiosk = verified_kiosk(ctx)
    return kiosk.name if kiosk is not None else None


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
    def work(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
        ins = _str(data, "ins", 15)
        password = _str(data, "password", passwords.MAX_LENGTH)
        assert ins is not None  # noqa: S101 - required above
        assert password is not None  # noqa: S101
        return otp.start_password_signin(ctx, ins, password)

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
        },
        ["sent", "destination", "expires_at"],
    ),
    public=True,
)
def signin_code() -> Any:
    def work(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
        token = _str(data, "pending_token", 100)
        channel = data.get("channel")
        if channel not in (None, "email", "sms"):
            raise authentication_failed()
        assert token is not None  # noqa: S101 - required above
        return otp.request_code(ctx, token, channel, _kiosk_name(ctx))

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
    def work(ctx: Ctx, data: dict[str, Any]) -> dict[str, Any]:
        token = _str(data, "pending_token", 100)
        code = _str(data, "code", 6)
        method = data.get("method")
        if method not in (None, "totp", "code"):
            raise authentication_failed()
        assert token is not None  # noqa: S101 - required above
        assert code is not None  # noqa: S101
        opened = otp.complete_signin(ctx, token, method, code, _kiosk_name(ctx))
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
        enrolment = otp.enrol(ctx, _patient(ctx, who))
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
        otp.confirm(ctx, patient, code)
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
        otp.trace(ctx, patient, "auth:password_set", "allowed", "password_set", kiosk=who.kiosk)
        return {"changed": True}

    return run(work, write=True)
