"""The kiosk's pages, one blueprint per audience, and what they share.

The app factory (kiosk/app.py) imports the pages, never the other way round: what both
need (the terminal of this kiosk, the session-ended signal, the unreachable message)
lives here.
"""

from __future__ import annotations

import uuid
from typing import NoReturn

from flask import current_app, g, redirect, url_for
from werkzeug.wrappers import Response

from kiosk import i18n
from kiosk.client import SessionClient
from kiosk.terminal import Terminal


class SessionGone(Exception):
    """The server no longer knows the session (ended, expired, card gone)."""


def terminal() -> Terminal:
    """The state of whoever this request serves: the kiosk's one `Terminal`, or online,
    this browser's own visit (kiosk/online.py puts it in `g` before any page runs)."""
    visit: Terminal | None = g.get("visit")
    if visit is not None:
        return visit
    t: Terminal = current_app.extensions["terminal"]
    return t


def offered(endpoint: str) -> bool:
    """Whether this app offers a page: every page at the kiosk; online, the online
    space's list only (kiosk/online.py ONLINE_PAGES). Templates hide what is not offered
    and the online space refuses it."""
    pages: frozenset[str] | None = current_app.extensions.get("online_pages")
    return pages is None or endpoint in pages


def server() -> SessionClient:
    """The API on behalf of whoever is signed in at this kiosk; a 401 ends the kiosk
    session too (the server ended it: idle, lifetime, card re-signature)."""
    t = terminal()
    token = t.token()
    if token is None:
        raise SessionGone
    t.touch()

    def expired() -> NoReturn:
        t.clear("session_ended", notify=False)
        raise SessionGone

    return t.client.session(token, expired)


def unreachable_message() -> str:
    return i18n.gettext(
        "Le serveur du dossier médical est injoignable pour le moment. Rien n'a été perdu : "
        "réessayez dans un instant."
    )


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
