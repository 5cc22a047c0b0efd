"""The kiosk's Flask app: pages rendered on the kiosk, for a touch screen, in French.

Security that does not depend on the page being well behaved:
- only the kiosk's own browser is served (kiosk/guard.py: Host and Origin allow-list,
  a browser secret that the session is bound to);
- a Content-Security-Policy with no inline script or style and frame-ancestors 'none';
- CSRF tokens on every form (Flask-WTF), checked before any view runs;
- the session cookie holds only the CSRF secret and the language (never patient data),
  Secure, HttpOnly, SameSite=Strict, and a fresh signing key at each start;
- no page is cached (`Cache-Control: no-store`), so the browser keeps nothing either.
Every error renders a French page with a way back; never a traceback.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, Response, g, redirect, render_template, request, session
from flask_wtf.csrf import CSRFError, CSRFProtect, generate_csrf
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as BaseResponse

from . import guard, i18n
from .client import ServerUnavailable
from .labels import CATEGORIES
from .pages import (
    SessionGone,
    acting,
    choosing,
    closure,
    common,
    delegate,
    deposit,
    export,
    offered,
    officer,
    password,
    patient,
    pro,
    reading,
    representatives,
    unreachable_message,
)
from .pages import terminal as current_terminal
from .readers import DemoReaders
from .terminal import Terminal

log = logging.getLogger("dmp.kiosk")

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
    "object-src 'none'"
)


@dataclass
class DemoKit:
    """What the embedded demo adds: its readers, its cards, its mailbox."""

    readers: DemoReaders | None  # None: real readers, no demo panel
    cards: dict[str, Any]  # name -> ({"fr": label, "en": label}, VirtualCard)
    inbox: Any = None
    notes: dict[str, str] = field(default_factory=dict)


def create_kiosk_app(
    terminal: Terminal, settings: dict[str, Any], *, demo: DemoKit | None = None
) -> Flask:
    app = Flask(__name__)
    app.extensions["terminal"] = terminal
    guard.init_app(app, terminal, settings)  # before CSRF: a stranger learns nothing
    configure(app, settings, demo=demo)
    register_pages(app)
    if demo is not None and demo.readers is not None:
        from .pages import demo_panel

        app.register_blueprint(demo_panel.bp)
    return app


def configure(app: Flask, settings: dict[str, Any], *, demo: DemoKit | None = None) -> None:
    """What the kiosk and the online space share: cookie and CSRF rules, headers, the
    language, the template helpers and the French error pages. The caller installs its
    own guard first (the kiosk's one browser, or the online space's many visits); the
    pages find their state through `pages.terminal()`."""
    app.config.update(
        SECRET_KEY=secrets.token_bytes(32),  # per start: nothing survives a restart
        SESSION_COOKIE_NAME="kiosk",
        SESSION_COOKIE_SECURE=bool(settings["COOKIE_SECURE"]),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        WTF_CSRF_TIME_LIMIT=None,  # the session's own lifetime bounds the token
        MAX_CONTENT_LENGTH=256 * 1024,
        TEMPLATES_AUTO_RELOAD=False,
    )
    app.extensions["kiosk_settings"] = settings
    app.extensions["demo"] = demo
    CSRFProtect(app)

    @app.before_request
    def language() -> None:
        g.lang = session.get("lang", settings["DEFAULT_LANG"])

    @app.template_filter("category_label")
    def category_label(code: str) -> str:
        labels = CATEGORIES.get(code)
        if labels is None:
            return code
        return labels[1] if i18n.current() == "en" else labels[0]

    app.add_template_filter(i18n.day, "day")

    @app.context_processor
    def helpers() -> dict[str, Any]:
        terminal = current_terminal()
        return {
            "flash": common.pop_flash(),
            # What a pulled card left unsaved, told on the page(s) right after the pull.
            "lost_draft": terminal.pop_lost(),
            "_": i18n.gettext,
            "lang": i18n.current(),
            "csrf_token": generate_csrf,
            "terminal": terminal,
            "demo": demo,
            "online": bool(app.extensions.get("online")),
            "offered": offered,
            "idle_seconds": int(terminal.idle_seconds),
            "warn_seconds": int(terminal.warn_seconds),
        }

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        # Pages may carry patient data: never stored. The stylesheet and script carry none
        # and are the same for everyone: cached, so a tap costs one request, not three.
        if request.path.startswith("/static/"):
            response.headers["Cache-Control"] = "public, max-age=3600"
        else:
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(CSRFError)
    def csrf_failed(exc: CSRFError) -> tuple[str, int]:
        del exc
        message = i18n.gettext(
            "Ce formulaire a expiré. Revenez à l'accueil et recommencez, rien n'a été enregistré."
        )
        return render_template("error.html", message=message), 400

    @app.errorhandler(ServerUnavailable)
    def unavailable(exc: ServerUnavailable) -> tuple[str, int]:
        log.warning("records server unavailable: %s", exc)
        return render_template("error.html", message=unreachable_message()), 503

    @app.errorhandler(SessionGone)
    def session_gone(exc: SessionGone) -> BaseResponse:
        del exc
        return redirect("/")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        code = exc.code or 500
        messages = {
            404: "Cette page n'existe pas.",
            405: "Cette action n'est pas possible ici.",
            413: "Le document envoyé est trop volumineux.",
        }
        message = i18n.gettext(messages.get(code, "La demande n'a pas pu être traitée."))
        return render_template("error.html", message=message), code

    @app.errorhandler(Exception)
    def bug(exc: Exception) -> tuple[str, int]:
        log.exception("kiosk error on %s %s", request.method, request.path)
        message = i18n.gettext(
            "Une erreur inattendue est survenue. Rien n'a été enregistré : recommencez."
        )
        return render_template("error.html", message=message), 500


def register_pages(app: Flask) -> None:
    app.register_blueprint(common.bp)
    app.register_blueprint(pro.bp)
    app.register_blueprint(patient.bp)
    app.register_blueprint(closure.bp)
    app.add_template_global(closure.allowed, "allowed")
    app.register_blueprint(deposit.bp)
    app.register_blueprint(reading.bp)
    app.register_blueprint(export.bp)
    app.register_blueprint(officer.bp)
    app.register_blueprint(acting.bp)
    app.register_blueprint(delegate.bp)
    app.register_blueprint(representatives.bp)
    app.register_blueprint(password.bp)
    app.register_blueprint(choosing.bp)
