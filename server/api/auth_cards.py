"""Card sign-in routes (issue #4): challenges, sign-in, re-signature, card removal.

Every route here is called by a kiosk and needs its signed-request headers
(server.signin.kiosk_identity). The two sign-in routes are public (no session yet); the
other two act on the card session of the bearer token. Any failed check answers the
same 401 "authentication_failed"; which check failed is written to the trace.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from flask import Response

from server.api import api
from server.api.runtime import current_kiosk, json_body, run, runtime, verified_kiosk
from server.api.schemas import STR, obj
from server.errors import PresenceRefused
from server.services import access
from server.services.context import Ctx, Principal
from server.signin import card_signin, kiosk_identity, sessions
from server.signin.kiosk_identity import AuthFailure, VerifiedKiosk

B64 = {"type": "string", "contentEncoding": "base64"}
HEX = {"type": "string", "pattern": "^[0-9a-fA-F]{32}$"}
CHALLENGE = obj({"challenge": B64, "expires_at": STR}, ["challenge", "expires_at"])
PROOF_FIELDS: dict[str, Any] = {
    "challenge": B64,
    "serial": HEX,
    "certificate": B64,
    "signature": B64,
}
SIGNIN_BODY = obj(
    {"kind": {"type": "string", "enum": ["patient", "professional"]}, **PROOF_FIELDS},
    ["kind", *PROOF_FIELDS],
)
SIGNIN_ANSWER = obj(
    {
        "kind": STR,
        "token": STR,
        "name": STR,
        "pending_token": STR,
        "next": STR,
        "expires_at": STR,
        "resign_within_seconds": {"type": "integer"},
    },
    ["kind", "expires_at"],
)
RESIGN_ANSWER = obj(
    {"resigned": {"type": "boolean"}, "resign_within_seconds": {"type": "integer"}},
    ["resigned"],
)


def _kiosk_only(
    work: Callable[[Ctx, VerifiedKiosk], dict[str, Any]],
    status: int,
    *,
    recent_row: bool = False,
) -> Response:
    """A public kiosk route: no session, but a verified kiosk signature is mandatory.
    Not remembered for replay (kiosk_identity.verify_request): both routes are safe to
    replay, the challenge one changing nothing, the sign-in one spending its challenge."""
    rt = runtime()
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        kiosk = verified_kiosk(ctx, remember=False, recent_row=recent_row)
        try:
            if kiosk is None:
                raise AuthFailure("kiosk_signature_missing")
            result = work(ctx, kiosk)
        except AuthFailure as failure:
            # The used challenge stays used (committed with the trace entry): a failed
            # attempt cannot be retried with the same challenge.
            kiosk_identity.record_failure(ctx, failure, kiosk.name if kiosk else None)
            session.commit()
            raise kiosk_identity.generic_error() from None
        session.commit()
        return Response(json.dumps(result, ensure_ascii=False), status, mimetype="application/json")


@api.route(
    "POST",
    "/auth/card/challenge",
    "A challenge for a card to sign (kiosk-signed request)",
    tag="auth",
    response=CHALLENGE,
    status=201,
    public=True,
)
def card_challenge() -> Any:
    # Nothing is read or written when the kiosk row is recent: the challenge carries its
    # own binding, and the sign-in that uses it checks the kiosk in the database.
    return _kiosk_only(
        lambda ctx, kiosk: card_signin.issue_challenge(ctx, kiosk, card_signin.SIGNIN),
        201,
        recent_row=True,
    )


@api.route(
    "POST",
    "/auth/card/signin",
    "Sign in with a card: professional session, or patient first factor",
    tag="auth",
    body=SIGNIN_BODY,
    response=SIGNIN_ANSWER,
    status=201,
    public=True,
)
def card_sign_in() -> Any:
    def work(ctx: Ctx, kiosk: VerifiedKiosk) -> dict[str, Any]:
        proof = card_signin.parse_proof(json_body())
        return card_signin.sign_in(ctx, runtime().trust, kiosk, proof)

    return _kiosk_only(work, 201)


def _signing_kiosk(ctx: Ctx) -> VerifiedKiosk:
    """The kiosk that signed this session request; without one, the route is refused
    (traced, one generic answer) and nothing is ended: the caller just may not use it."""
    kiosk = current_kiosk()
    if kiosk is None:
        kiosk_identity.record_failure(ctx, AuthFailure("kiosk_signature_missing"), None)
        ctx.session.commit()
        raise kiosk_identity.generic_error()
    return kiosk


def _card_session(work: Callable[[Ctx, Principal, VerifiedKiosk], dict[str, Any]]) -> Any:
    def guarded(ctx: Ctx, who: Principal) -> dict[str, Any]:
        kiosk = _signing_kiosk(ctx)
        try:
            return work(ctx, who, kiosk)
        except AuthFailure as failure:
            # A card that fails its re-signature ends the session at once.
            sessions.end_session(ctx, who)
            kiosk_identity.record_failure(ctx, failure, kiosk.name)
            ctx.session.commit()
            raise kiosk_identity.generic_error() from None

    return run(guarded)


@api.route(
    "POST",
    "/session/card/challenge",
    "A challenge for the session's card to sign again",
    tag="session",
    response=CHALLENGE,
)
def resign_challenge() -> Any:
    return _card_session(lambda ctx, who, kiosk: card_signin.resign_challenge(ctx, who, kiosk))


@api.route(
    "POST",
    "/session/card/resign",
    "The card's signature of the re-signature challenge: keeps the session alive",
    tag="session",
    body=obj(PROOF_FIELDS, list(PROOF_FIELDS)),
    response=RESIGN_ANSWER,
)
def resign() -> Any:
    return _card_session(
        lambda ctx, who, kiosk: card_signin.resign(ctx, runtime().trust, who, kiosk, json_body())
    )


@api.route(
    "POST",
    "/session/card/removed",
    "The kiosk reports the card removed: the session ends",
    tag="session",
    response=obj({"ended": {"type": "boolean"}}),
)
def card_removed() -> Any:
    return _card_session(lambda ctx, who, kiosk: card_signin.card_removed(ctx, who, kiosk))


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/consents/in-person",
    "The patient at the counter consents to the caller's access: their card signs",
    tag="access",
    body=SIGNIN_BODY,
    response=obj({"professional": {"type": "object"}, "expires_at": STR}),
    status=201,
)
def consent_in_person(dossier_id: int) -> Any:
    def work(ctx: Ctx, who: Principal) -> dict[str, Any]:
        kiosk = _signing_kiosk(ctx)
        try:
            present = card_signin.patient_presence(ctx, runtime().trust, kiosk, json_body())
        except AuthFailure as failure:
            # The professional's own session is fine: only the evidence failed.
            kiosk_identity.record_failure(ctx, failure, kiosk.name)
            ctx.session.commit()
            raise PresenceRefused from None
        return access.grant_consent_in_person(ctx, who, dossier_id, present)

    return run(work, status=201, write=True)
