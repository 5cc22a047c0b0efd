"""Machine sign-in of a registered software (issue #12): the insurer's system.

Both routes need the terminal's signed-request headers (server.signin.kiosk_identity)
and are public (no session yet). Any failed check answers the same 401
"authentication_failed"; which check failed is written to the trace.
"""

from __future__ import annotations

from typing import Any

from server.api import api
from server.api.auth_cards import B64, CHALLENGE
from server.api.runtime import json_body, run_kiosk
from server.api.schemas import STR, obj
from server.services.context import Ctx
from server.signin import terminal_signin
from server.signin.kiosk_identity import VerifiedKiosk

SIGNIN_BODY = obj({"challenge": B64, "signature": B64}, ["challenge", "signature"])
SIGNIN_ANSWER = obj(
    {"kind": STR, "token": STR, "name": STR, "expires_at": STR},
    ["kind", "token", "name", "expires_at"],
)


@api.route(
    "POST",
    "/auth/terminal/challenge",
    "A challenge for a registered software to sign (its signed request)",
    tag="auth",
    response=CHALLENGE,
    status=201,
    public=True,
)
def terminal_challenge() -> Any:
    return run_kiosk(terminal_signin.issue_challenge, status=201)


@api.route(
    "POST",
    "/auth/terminal/signin",
    "Sign in as the software's institutional identity: its signature of the challenge",
    tag="auth",
    body=SIGNIN_BODY,
    response=SIGNIN_ANSWER,
    status=201,
    public=True,
)
def terminal_sign_in() -> Any:
    def work(ctx: Ctx, terminal: VerifiedKiosk) -> dict[str, Any]:
        return terminal_signin.sign_in(ctx, terminal, json_body())

    return run_kiosk(work, status=201)
