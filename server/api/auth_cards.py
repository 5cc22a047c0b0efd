"""Card sign-in routes (issue #4): challenges, sign-in, re-signature, card removal.

Every route here is called by a kiosk and needs its signed-request headers
(server.signin.kiosk_identity). The two sign-in routes are public (no session yet); the
other two act on the card session of the bearer token. Any failed check answers the
same 401 "authentication_failed"; which check failed is written to the trace.
"""

from __future__ import annotations

from typing import Any

from server.api import api
from server.api.runtime import json_body, run_card, run_kiosk, runtime
from server.api.schemas import STR, obj, with_receipt
from server.errors import CopresenceRefused
from server.services import access
from server.services.context import Ctx, Principal
from server.signin import card_signin
from server.signin.kiosk_identity import VerifiedKiosk

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
    return run_kiosk(
        lambda ctx, kiosk: card_signin.issue_challenge(ctx, kiosk, card_signin.SIGNIN),
        status=201,
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

    return run_kiosk(work, status=201)


@api.route(
    "POST",
    "/session/card/challenge",
    "A challenge for the session's card to sign again",
    tag="session",
    response=CHALLENGE,
)
def resign_challenge() -> Any:
    return run_card(lambda ctx, who, kiosk: card_signin.resign_challenge(ctx, who, kiosk))


@api.route(
    "POST",
    "/session/card/resign",
    "The card's signature of the re-signature challenge: keeps the session alive",
    tag="session",
    body=obj(PROOF_FIELDS, list(PROOF_FIELDS)),
    response=RESIGN_ANSWER,
)
def resign() -> Any:
    return run_card(
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
    return run_card(lambda ctx, who, kiosk: card_signin.card_removed(ctx, who, kiosk))


# Consents given in person, signed by both cards (server/signin/copresence.py).
DRAFT = obj(
    {"draft": B64, "tag": B64, "challenge": B64, "expires_at": STR},
    ["draft", "tag", "challenge", "expires_at"],
)
CARD_SIGNATURE = obj(
    {"serial": HEX, "certificate": B64, "signature": B64}, ["serial", "certificate", "signature"]
)
COPRESENCE_FIELDS: dict[str, Any] = {
    "draft": B64,
    "tag": B64,
    "patient_card": CARD_SIGNATURE,
    "professional_card": CARD_SIGNATURE,
}
COPRESENCE_BODY = obj(COPRESENCE_FIELDS, list(COPRESENCE_FIELDS))


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/consents/in-person/draft",
    "The consent at the counter, for the patient's card and the caller's to sign",
    tag="access",
    response=DRAFT,
    status=201,
)
def consent_in_person_draft(dossier_id: int) -> Any:
    return run_card(
        lambda ctx, who, kiosk: access.consent_draft(ctx, who, kiosk, dossier_id), status=201
    )


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/consents/in-person",
    "The patient at the counter consents to the caller's access: both cards signed the draft",
    tag="access",
    body=COPRESENCE_BODY,
    response=with_receipt(obj({"professional": {"type": "object"}, "expires_at": STR})),
    status=201,
)
def consent_in_person(dossier_id: int) -> Any:
    def work(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk) -> dict[str, Any]:
        trust = runtime().trust
        return access.grant_consent_in_person(ctx, trust, who, kiosk, dossier_id, json_body())

    # A failed check refuses the evidence, not the professional's own session.
    return run_card(work, status=201, write=True, refusal=CopresenceRefused)
