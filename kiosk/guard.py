"""The kiosk serves its session to its own browser only (issue 10, section 2).

A kiosk's pages are served on loopback to the browser on its screen. Any other local
program could connect to the same port and, without this guard, read the signed-in
patient's documents. So:
- Host must name the kiosk itself (Flask's TRUSTED_HOSTS) and Origin or Fetch Metadata
  must say that the request comes from the kiosk's own pages: a DNS name rebound to
  127.0.0.1, a page of another site or of another local service gets nothing;
- the session belongs to a browser secret held in an HttpOnly, SameSite=Strict cookie.
  A browser without the current secret gets one only while no session runs (the kiosk's
  browser reloading after a restart); when a session starts, the secret changes and only
  the request that started it (typed PIN, code asked for) receives the new one. A client
  that took a secret while the kiosk was idle loses it at that moment, and during a
  session a request without the secret gets the French refusal page and no data.
The secret lives in memory only, like the rest of the session.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Flask, g, request
from werkzeug.exceptions import SecurityError
from werkzeug.wrappers import Response

from . import i18n
from .terminal import Terminal

log = logging.getLogger("dmp.kiosk.guard")

COOKIE = "kiosk_browser"
LOOPBACK = ("127.0.0.1", "localhost", "::1", "[::1]")


def allowed_hosts(settings: dict[str, Any]) -> list[str]:
    """The loopback names, the address the kiosk is bound to, and ALLOWED_HOSTS."""
    extra = [h.strip() for h in str(settings.get("ALLOWED_HOSTS", "")).split(",") if h.strip()]
    bound = str(settings.get("HOST", ""))
    # A kiosk bound to every address answers only to the names it was given.
    own = [bound] if bound and bound not in ("0.0.0.0", "::") else []  # noqa: S104
    return [*LOOPBACK, *own, *extra]


def _from_the_kiosk() -> bool:
    """Sent by a page of the kiosk (or typed in its address bar), not by another site nor
    by another service of this machine (another port of localhost is another origin).

    With the kiosk's `Referrer-Policy: no-referrer`, Chromium sends `Origin: null` on the
    kiosk's own form posts; Fetch Metadata then says where the request comes from."""
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    if origin == "null":
        return site == "same-origin"
    return origin == request.host_url.rstrip("/")  # the Host was checked by then


# The online space (kiosk/online.py) checks Host and Origin the same way.
from_own_pages = _from_the_kiosk


def init_app(app: Flask, terminal: Terminal, settings: dict[str, Any]) -> None:
    hosts = allowed_hosts(settings)
    app.config["TRUSTED_HOSTS"] = hosts
    secure = bool(settings["COOKIE_SECURE"])

    def refused() -> tuple[str, int]:
        # A page of its own: nothing of the kiosk's state (who is signed in, the demo
        # panel), and no URL building, which an untrusted Host makes impossible.
        message = i18n.gettext(
            "Cette borne ne répond qu'à son propre écran. Utilisez l'écran de la borne."
        )
        page = app.jinja_env.get_template("refused.html")  # without the context processors
        return page.render(message=message, lang=i18n.current(), _=i18n.gettext), 403

    @app.errorhandler(SecurityError)
    def untrusted_host(exc: SecurityError) -> tuple[str, int]:
        del exc
        log.warning("request refused: Host not allowed")
        return refused()

    @app.before_request
    def guard() -> tuple[str, int] | None:
        if not _from_the_kiosk():
            log.warning("request refused: Origin not allowed")
            return refused()
        if request.path.startswith("/static/"):
            return None  # the same stylesheet and script for everyone, no data
        held = request.cookies.get(COOKIE, "")
        if hmac.compare_digest(held.encode(), terminal.browser_key.encode()):
            g.browser_bound = True
            return None
        if terminal.in_session():
            log.warning("request refused: not the kiosk's browser")
            return refused()
        terminal.new_browser_key()  # idle: this browser becomes the kiosk's browser
        g.browser_bound = True
        return None

    @app.after_request
    def hand_key(response: Response) -> Response:
        key = terminal.browser_key
        if g.get("browser_bound") and request.cookies.get(COOKIE) != key:
            response.set_cookie(
                COOKIE, key, secure=secure, httponly=True, samesite="Strict", path="/"
            )
        return response
