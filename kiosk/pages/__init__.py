"""The kiosk's pages, one blueprint per audience, and what they share."""

from __future__ import annotations

import uuid
from typing import Any

from flask import current_app, redirect, url_for
from werkzeug.wrappers import Response

from kiosk.client import ApiResponse
from kiosk.terminal import Terminal


class SessionGone(Exception):
    """The server no longer knows the session (ended, expired, card gone)."""


def terminal() -> Terminal:
    t: Terminal = current_app.extensions["terminal"]
    return t


def api(
    method: str, path: str, body: Any = None, *, idempotency_key: str | None = None
) -> ApiResponse:
    """A call on behalf of whoever is signed in at this kiosk; a 401 ends the kiosk
    session too (the server ended it: idle, lifetime, card re-signature)."""
    t = terminal()
    token = t.token()
    if token is None:
        raise SessionGone
    t.touch()
    r = t.client.call(method, path, body, token=token, idempotency_key=idempotency_key)
    if r.status == 401:
        t.clear("session_ended", notify=False)
        raise SessionGone
    return r


def home() -> Response:
    return redirect(url_for("common.index"))


def new_submission_id() -> str:
    """Carried by a form and sent as the Idempotency-Key: a double tap, or a retry after
    the server came back, replays the first answer instead of writing twice."""
    return str(uuid.uuid4())


def valid_submission_id(raw: str | None) -> str:
    try:
        return str(uuid.UUID(raw or ""))
    except ValueError:
        return new_submission_id()
