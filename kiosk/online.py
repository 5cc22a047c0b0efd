"""The patients' online space: the kiosk's patient pages, served to browsers at home.

The same Flask pages, templates, CSP, CSRF and cookie rules as the kiosk (kiosk/app.py
`configure`), with three differences:
- no card reader: a patient signs in with her INS and her password (set at a kiosk with
  her card, kiosk/pages/password.py), then a one-time code, the same code step as at
  the kiosk (kiosk/pages/common.py `code_step`);
- many browsers at once, each its own visit: a `Visit` per browser, found by a random
  secret held in an HttpOnly, SameSite=Strict cookie (Secure unless COOKIE_SECURE is
  off), in memory only. A visit is created when a password is accepted, and its secret
  is replaced when the session opens (a secret planted before sign-in is worth nothing
  after it). Where the kiosk serves its first browser only, the online space serves
  whoever holds a visit's secret, and a browser without one sees the sign-in page;
- only the pages that make sense at home (ONLINE_PAGES); any other page of the kiosk
  answers a French "not offered online" page, and templates hide their links.

The online space talks to the records server as its own registered terminal (kind
`online`, `dmp terminal register --kind online`), every request signed with its key: the
server binds the sessions it opens to it and refuses it any card sign-in (docs/online.md).
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Flask, g, redirect, render_template, request, url_for
from werkzeug.exceptions import SecurityError
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.wrappers import Response

from . import guard, i18n
from .app import DemoKit, configure, register_pages
from .client import ServerClient, ServerUnavailable
from .i18n import gettext as _
from .pages import common
from .pages import terminal as current_visit
from .terminal import PatientCard, PatientSignIn, Terminal

log = logging.getLogger("dmp.kiosk.online")

COOKIE = "dmp_visit"
# Visits held at once; past it, the least recently active is dropped (its server session
# ends). A visit exists only once a password was accepted, so this bounds memory, not use.
MAX_VISITS = 5000
# A visit with no session left (signed out, idle) stays this long, to show its last word.
LINGER_SECONDS = 60.0
INS_RE = re.compile(r"^[12][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}$")

# What a patient may open from home: reading, the history and its verification, receipts,
# who has access (and blocking), masking a document and the emergency choices. Not
# online: opening or closing a dossier, the export, delegations and acting for another,
# the authenticator app and the password (with the card, at a kiosk: docs/online.md).
ONLINE_PAGES = frozenset(
    {
        "static",
        "common.index",
        "common.language",
        "common.activity",
        "common.signout",
        "online.signin",
        "online.code",
        "patient.home",
        "patient.documents",
        "patient.search",
        "patient.versions",
        "patient.document",
        "patient.synthesis",
        "patient.synthesis_document",
        "patient.visibility",
        "patient.access",
        "choosing.choose",
        "patient.block",
        "patient.emergency",
        "patient.history",
        "patient.receipts",
        "patient.receipt",
        "reading.page",
        "reading.image",
        "reading.image_page",
    }
)


class _NoReaders:
    """The online space has no card reader."""

    def start(self, sink: Any) -> None:
        del sink

    def stop(self) -> None:
        return None

    def names(self) -> list[str]:
        return []

    def run(self, reader: str, job: Callable[[Any], Any]) -> Any:
        raise RuntimeError("the online space has no card reader")

    def release(self, reader: str) -> None:
        del reader


class Visit(Terminal):
    """One browser's visit: the kiosk's `Terminal` state (pending sign-in, session
    token, dossier, documents viewed), without readers, cards or card events."""

    def __init__(
        self,
        client: ServerClient,
        idle_seconds: float,
        warn_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            _NoReaders(), client, idle_seconds=idle_seconds, warn_seconds=warn_seconds, clock=clock
        )
        self.ins: str | None = None
        # Set when the visit must be kept under a new secret (a password accepted, then
        # the session opened): the answer to that request carries it.
        self.new_secret_due = False

    def holder_ins(self) -> str | None:
        return self.ins if self.patient is not None and self.patient.token else None

    def start_password(self, ins: str, pending_token: str) -> None:
        with self.lock:
            self.ins = ins
            self.patient = PatientSignIn(pending_token=pending_token)
            self.touch()

    def finish_patient_sign_in(self, token: str, resign_within: float) -> None:
        del resign_within  # no card: nothing to re-sign
        with self.lock:
            if self.patient is None:
                raise ServerUnavailable("no pending sign-in")
            self.patient.token = token
            self.patient.pending_token = None
            # The patient pages ask for a patient who is "here"; online, here is signed in.
            self.patient_card = PatientCard(reader="online")
            self.touch()
            self.new_secret_due = True

    def clear(self, reason: str = "", *, rearm: bool = False, notify: bool = True) -> None:
        del rearm, notify
        words = {"signed_out": "online_signed_out", "session_ended": "online_session_ended"}
        super().clear(words.get(reason, reason), notify=False)
        self.ins = None

    def _end_server_sessions(self, tokens: list[str]) -> None:
        for token in tokens:
            try:
                self.client.sign_out(token)
            except ServerUnavailable:
                log.info("could not tell the server a session ended; it will expire")

    def _resign(self) -> None:
        return None  # no card

    def in_session(self) -> bool:
        return self.patient is not None

    def signed_in(self) -> bool:
        return self.patient is not None


class Visits:
    """The visits of every browser, by the SHA-256 of their secret; memory only."""

    def __init__(
        self,
        client: ServerClient,
        idle_seconds: float,
        warn_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.idle_seconds = idle_seconds
        self.warn_seconds = warn_seconds
        self.clock = clock
        self._by_key: dict[str, Visit] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _digest(secret: str) -> str:
        return hashlib.sha256(secret.encode()).hexdigest()

    def new_visit(self) -> Visit:
        """A visit that holds nothing yet, not kept unless `keep` is called."""
        return Visit(self.client, self.idle_seconds, self.warn_seconds, self.clock)

    def find(self, secret: str) -> Visit | None:
        if not secret or len(secret) > 100:
            return None
        with self._lock:
            return self._by_key.get(self._digest(secret))

    def keep(self, visit: Visit, old_secret: str = "") -> str:
        """Keep `visit` under a new secret (the old one, if any, stops working)."""
        secret = secrets.token_urlsafe(32)
        dropped: list[Visit] = []
        with self._lock:
            if old_secret:
                self._by_key.pop(self._digest(old_secret), None)
            self._by_key[self._digest(secret)] = visit
            while len(self._by_key) > MAX_VISITS:
                oldest = min(self._by_key, key=lambda k: self._by_key[k].last_activity)
                dropped.append(self._by_key.pop(oldest))
        for old in dropped:
            old.clear("idle")
        return secret

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_key)

    def sweep(self) -> None:
        """Idle visits end (their server session too); visits with nothing left go."""
        with self._lock:
            entries = list(self._by_key.items())
        now = self.clock()
        gone = []
        for key, visit in entries:
            visit.tick()  # the idle timeout, as at the kiosk
            if not visit.signed_in() and now - visit.last_activity >= LINGER_SECONDS:
                gone.append(key)
        with self._lock:
            for key in gone:
                self._by_key.pop(key, None)

    def start(self) -> None:
        def loop() -> None:
            while not self._stop.wait(1.0):
                self.sweep()

        self._thread = threading.Thread(target=loop, name="dmp-online-visits", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
        with self._lock:
            visits = list(self._by_key.values())
            self._by_key.clear()
        for visit in visits:
            visit.clear()
        for visit in visits:
            for thread in list(visit._background):
                thread.join(5.0)


bp = Blueprint("online", __name__)


def visits() -> Visits:
    from flask import current_app

    v: Visits = current_app.extensions["online_visits"]
    return v


def index() -> Response | str:
    """The online space's home (in place of the kiosk's welcome): sign-in, the code
    step under way, or the patient's own pages."""
    t = current_visit()
    if t.patient is not None and t.patient.token:
        return redirect(url_for("patient.home"))
    if t.patient is not None and t.patient.pending_token:
        return redirect(url_for("online.code"))
    return render_template("online_signin.html", error=None, ins="")


@bp.post("/connexion")
def signin() -> Response | str | tuple[str, int]:
    """INS and password: the first factor. Every refusal reads the same (the server
    answers one generic refusal too); the INS typed stays in the field."""
    ins = re.sub(r"[\s.-]", "", request.form.get("ins", "")).upper()
    password = request.form.get("password", "")
    if not INS_RE.match(ins):
        error = _(
            "Le numéro de sécurité sociale a 15 caractères : 13 chiffres, puis les 2 de la clé."
        )
        return render_template("online_signin.html", error=error, ins=ins[:20]), 400
    if not password or len(password) > 128:
        error = _("Saisissez votre mot de passe.")
        return render_template("online_signin.html", error=error, ins=ins), 400
    r = current_visit().client.password_sign_in(ins, password)
    if r.ok and isinstance(r.body, dict) and isinstance(r.body.get("pending_token"), str):
        visit = current_visit()
        assert isinstance(visit, Visit)  # noqa: S101 - the online guard put it there
        if visit.token() is not None:
            visit.clear()  # a new sign-in in a signed-in browser: the old session ends
        visit.start_password(ins, r.body["pending_token"])
        visit.new_secret_due = True  # kept from now on, under a fresh secret
        return redirect(url_for("online.code"))
    if r.status == 401:
        error = _(
            "Connexion impossible : numéro de sécurité sociale ou mot de passe incorrect, "
            "ou connexion momentanément bloquée après plusieurs essais. Vérifiez vos "
            "informations ; mot de passe oublié : choisissez-en un nouveau à une borne, "
            "avec votre carte Vitale."
        )
    else:
        error = r.message  # the server's own French text (too many tries: wait a minute)
    return render_template("online_signin.html", error=error, ins=ins), 400


@bp.route("/connexion/code", methods=["GET", "POST"])
def code() -> Response | str | tuple[str, int]:
    """The one-time code, exactly the kiosk's step (kiosk/pages/common.py)."""
    t = current_visit()
    if t.patient is not None and t.patient.token:
        return redirect(url_for("patient.home"))
    if t.patient is None or not t.patient.pending_token:
        return redirect(url_for("common.index"))
    if request.method == "GET":
        return common._code_page(None)
    return common.code_step(request.form.get("action", ""))


def create_online_app(
    client: ServerClient, settings: dict[str, Any], *, demo: DemoKit | None = None
) -> Flask:
    app = Flask("kiosk")  # the kiosk's templates and static files
    all_visits = Visits(
        client,
        idle_seconds=float(settings["ONLINE_IDLE_SECONDS"]),
        warn_seconds=float(settings["IDLE_WARNING_SECONDS"]),
    )
    app.extensions["online"] = True
    app.extensions["online_visits"] = all_visits
    app.extensions["online_pages"] = ONLINE_PAGES
    hops = int(settings["PROXY_HOPS"])
    if hops > 0:  # behind TLS at a reverse proxy: the scheme and host it was asked for
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    _install_guard(app, settings, all_visits)
    configure(app, settings, demo=demo)
    # Its own cookie name: on a machine that also runs a kiosk (the demo), cookies of
    # the same host are shared whatever the port.
    app.config["SESSION_COOKIE_NAME"] = "online"
    register_pages(app)
    app.register_blueprint(bp)
    app.view_functions["common.index"] = index
    return app


def _install_guard(app: Flask, settings: dict[str, Any], all_visits: Visits) -> None:
    """Host and Origin as at the kiosk (kiosk/guard.py), then this browser's visit."""
    app.config["TRUSTED_HOSTS"] = guard.allowed_hosts(settings)
    secure = bool(settings["COOKIE_SECURE"])

    def refused() -> tuple[str, int]:
        message = i18n.gettext(
            "Cette page ne peut être ouverte que depuis l'espace en ligne lui-même."
        )
        page = app.jinja_env.get_template("refused.html")
        return page.render(message=message, lang=i18n.current(), _=i18n.gettext), 403

    @app.errorhandler(SecurityError)
    def untrusted_host(exc: SecurityError) -> tuple[str, int]:
        del exc
        log.warning("request refused: Host not allowed")
        return refused()

    @app.before_request
    def visit() -> Response | tuple[str, int] | None:
        if not guard.from_own_pages():
            log.warning("request refused: Origin not allowed")
            return refused()
        if request.path.startswith("/static/"):
            return None
        secret = request.cookies.get(COOKIE, "")
        found = all_visits.find(secret)
        if found is not None and found.signed_in() and found.clock() >= found.idle_deadline():
            found.clear("idle")  # the sweep may not have run yet
        g.visit = found if found is not None else all_visits.new_visit()
        g.visit_secret = secret if found is not None else ""
        endpoint = request.endpoint or ""
        signed_in = g.visit.patient is not None and bool(g.visit.patient.token)
        if endpoint.startswith(("patient.", "reading.")) and not signed_in:
            return redirect(url_for("common.index"))
        if endpoint not in ONLINE_PAGES:
            page = app.jinja_env.get_template("refused.html")
            message = i18n.gettext(
                "Cette page n'est pas proposée dans l'espace en ligne : rendez-vous à une "
                "borne avec votre carte Vitale."
            )
            return page.render(message=message, lang=i18n.current(), _=i18n.gettext), 404
        return None

    @app.after_request
    def hand_secret(response: Response) -> Response:
        current = g.get("visit")
        if isinstance(current, Visit) and current.new_secret_due:
            current.new_secret_due = False
            secret = all_visits.keep(current, g.get("visit_secret", ""))
            response.set_cookie(
                COOKIE, secret, secure=secure, httponly=True, samesite="Strict", path="/"
            )
        return response
