"""Machine sign-in: a registered software signs in as its own institutional identity.

The insurer's system has no card and no person in front of it. It is a registered
terminal of kind "insurer" (kiosk_identity.register_software): its key pinned by an
operator, every request signed with it. To open a session it asks for a challenge and
signs it (request_signing.terminal_signin_message); the session opened is the insurer's
(ActorKind.INSURER, its service account), bound to that terminal like a kiosk's sessions
(sessions.resolve refuses it without that terminal's signature). What the insurer may
then do is the policy's alone (server/policy/engine.py, rule 2: deposit reimbursement
data, read nothing).

Why a signed challenge when every request is signed already: the request signature
proves who sent a request within the clock window; the challenge signature proves the
key holder answered a value the server chose a moment ago, once, in a scheme of its own.
A session, which outlives one request, is opened only on such a proof, as the card
sign-in does.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import replace
from datetime import timedelta
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from server.errors import InvalidInput
from server.models import Kiosk, ServiceAccount
from server.policy import ActorKind
from server.services.context import Ctx
from server.signin import challenges, sessions, trace
from server.signin.events import Holder, SigninAction, SigninFailure, SigninReason
from server.signin.kiosk_identity import TerminalKind, VerifiedKiosk, pinned_key
from server.signin.request_signing import terminal_signin_message

PURPOSE = "terminal"
_MAX_CHALLENGE = 64
_MAX_SIGNATURE = 80  # a DER P-256 signature is at most 72 bytes


def issue_challenge(ctx: Ctx, terminal: VerifiedKiosk) -> dict[str, Any]:
    _account_of(terminal)
    value, expires = challenges.issue(ctx, terminal.id, PURPOSE)
    return {"challenge": base64.b64encode(value).decode(), "expires_at": _iso(expires)}


def sign_in(ctx: Ctx, terminal: VerifiedKiosk, body: Any) -> dict[str, Any]:
    account_id = _account_of(terminal)
    value, signature = _parse(body)
    try:
        challenge = challenges.check(ctx, value, terminal.id, PURPOSE, None)
        # Spent before the signature is checked: a failed attempt burns its challenge
        # too (committed with the trace entry).
        challenges.spend(ctx, challenge, None)
    except SigninFailure as failure:
        raise replace(failure, action=SigninAction.TERMINAL) from None
    row = ctx.session.get(Kiosk, terminal.id)
    account = ctx.session.get(ServiceAccount, account_id)
    if row is None or account is None or account.kind != ActorKind.INSURER.value:
        raise _refused(SigninReason.TERMINAL_KIND_REFUSED)
    key = pinned_key(row.cert_pem, row.cert_sha256)
    try:
        key.verify(
            signature, terminal_signin_message(terminal.name, value), ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise _refused(SigninReason.TERMINAL_SIGNATURE_INVALID) from None
    token = sessions.open_session(ctx, ActorKind.INSURER, account.id, terminal.name)
    holder = Holder(ActorKind.INSURER.value, account.id, account.name)
    trace.record(
        ctx,
        SigninAction.TERMINAL,
        SigninReason.TERMINAL_SIGNIN,
        holder=holder,
        kiosk=terminal.name,
        allowed=True,
    )
    return {
        "kind": ActorKind.INSURER.value,
        "token": token,
        "name": account.name,
        "expires_at": _iso(ctx.now + timedelta(seconds=ctx.settings["SESSION_MAX_SECONDS"])),
    }


def _account_of(terminal: VerifiedKiosk) -> int:
    """Only an insurer terminal signs in without a card (a kiosk's or a professional
    software's key never opens the insurer's session)."""
    if terminal.kind is not TerminalKind.INSURER or terminal.service_account_id is None:
        raise _refused(SigninReason.TERMINAL_KIND_REFUSED, {"kind": terminal.kind.value})
    return terminal.service_account_id


def _refused(reason: SigninReason, detail: dict[str, Any] | None = None) -> SigninFailure:
    return SigninFailure(reason, SigninAction.TERMINAL, detail=detail or {})


def _parse(body: Any) -> tuple[bytes, bytes]:
    if not isinstance(body, dict):
        raise InvalidInput("body_invalid", "Le corps doit être un objet JSON.")
    return (
        _b64(body.get("challenge"), "challenge", _MAX_CHALLENGE),
        _b64(body.get("signature"), "signature", _MAX_SIGNATURE),
    )


def _b64(value: Any, name: str, high: int) -> bytes:
    if isinstance(value, str) and len(value) <= 2 * high:
        try:
            raw = base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raw = b""
        if 8 <= len(raw) <= high:
            return raw
    raise InvalidInput(f"{name}_invalid", f"Champ « {name} » invalide (base64 attendu).")


def _iso(moment: Any) -> str:
    return str(moment.isoformat().replace("+00:00", "Z"))
