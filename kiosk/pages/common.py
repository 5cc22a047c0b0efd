"""Welcome, card events, language, sign-in (professional PIN, patient one-time code)."""

from __future__ import annotations

import json
import queue
import re
from collections.abc import Iterator

from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.wrappers import Response as BaseResponse

from cardreader.errors import (
    CardError,
    CardRemovedError,
    InvalidPinError,
    InvalidPukError,
    PinBlockedError,
    PukBlockedError,
)
from kiosk.i18n import LANGS
from kiosk.i18n import gettext as _
from kiosk.inbox import DemoInbox
from kiosk.terminal import SignInFailed

from . import home, terminal

bp = Blueprint("common", __name__)

PIN_RE = re.compile(r"^\d{4}$")
PUK_RE = re.compile(r"^\d{8}$")
CODE_RE = re.compile(r"^\d{6}$")
KEEP_ALIVE_SECONDS = 15

FLASH = {
    "card_removed": "Carte retirée : la session est terminée et l'écran a été effacé.",
    "patient_card_removed": "La carte du patient a été retirée : son dossier n'est plus affiché.",
    "idle": "Session terminée après une période d'inactivité.",
    "session_ended": "Votre session a pris fin. Recommencez en insérant votre carte.",
    "unknown_card": "Cette carte n'est pas reconnue par la borne.",
    "signed_out": "Vous êtes déconnecté. Pensez à reprendre votre carte.",
    # The online space (kiosk/online.py): no card to take back or to insert.
    "online_signed_out": "Vous êtes déconnecté. À bientôt.",
    "online_session_ended": "Votre session a pris fin. Reconnectez-vous pour continuer.",
    "unblocked": "Carte débloquée. Entrez votre nouveau code PIN.",
}


# The state labels the server puts on a document (server/labels.py STATES, in French),
# shown in the visitor's language; a label the kiosk does not know is shown as it came.
STATE_LABELS = {
    "masked_ps": "Masqué aux professionnels",
    "invisible_patient": "Non visible par le patient",
    "invisible_rep": "Non visible par les représentants légaux",
    "archived": "Archivé",
    "superseded": "Remplacé par une version plus récente",
    "deleted": "Supprimé",
}


@bp.app_template_filter("state_label")
def state_label(label: str) -> str:
    for key, french in STATE_LABELS.items():
        if label == french:
            return _(STATE_LABELS[key])
    return label


def _demo_inbox() -> DemoInbox | None:
    kit = current_app.extensions.get("demo")
    inbox = getattr(kit, "inbox", None)
    return inbox if isinstance(inbox, DemoInbox) else None


def pop_flash() -> str | None:
    t = terminal()
    key, t.flash = t.flash, None
    return _(FLASH[key]) if key in FLASH else None


@bp.get("/")
def index() -> BaseResponse | str:
    t = terminal()
    if t.pro is not None:
        return redirect(url_for("pro.home_page"))
    if t.patient is not None and t.patient.token:
        return redirect(url_for("patient.home"))
    if t.pro_reader is not None:
        return redirect(url_for("common.pin"))
    if t.patient_card is not None:
        if t.patient is not None and t.patient.pending_token:
            return redirect(url_for("common.code"))
        return redirect(url_for("common.patient_card"))
    return render_template("welcome.html", stale=bool(t.present))


@bp.get("/events")
def events() -> Response:
    """Card events for the page (server-sent events): where to go, at once."""
    t = terminal()
    q = t.subscribe()
    key = t.browser_key

    def stream() -> Iterator[str]:
        quiet = 0
        try:
            yield f"retry: 1000\ndata: {json.dumps({'version': t.version})}\n\n"
            # A session started in another request: this stream belongs to the browser
            # that held the previous secret; it ends, and the kiosk's browser reconnects.
            while t.browser_key == key:
                try:
                    event = q.get(timeout=1)
                except queue.Empty:
                    quiet += 1
                    if quiet >= KEEP_ALIVE_SECONDS:
                        quiet = 0
                        yield ": keep-alive\n\n"
                    continue
                yield f"data: {json.dumps(event)}\n\n"
        finally:
            t.unsubscribe(q)

    return Response(stream(), mimetype="text/event-stream", headers={"X-Accel-Buffering": "no"})


@bp.post("/lang")
def language() -> BaseResponse:
    chosen = request.form.get("lang", "fr")
    session["lang"] = chosen if chosen in LANGS else "fr"
    back = request.form.get("next", "/")
    # Only a path of this kiosk: "//host" and "/\\host" would leave it (browsers read a
    # backslash as a slash).
    local = back.startswith("/") and not back.startswith("//") and "\\" not in back
    return redirect(back if local else "/")


@bp.post("/activity")
def activity() -> Response:
    """The idle warning's "I'm still here"."""
    terminal().touch()
    return Response(status=204)


@bp.post("/signout")
def signout() -> BaseResponse:
    terminal().clear("signed_out", notify=False)
    return home()


# ---- professional: PIN, unblock ---------------------------------------------------


@bp.route("/pin", methods=["GET", "POST"])
def pin() -> BaseResponse | str | tuple[str, int]:
    t = terminal()
    if t.pro is not None:
        return redirect(url_for("pro.home_page"))
    if t.pro_reader is None:
        return home()
    try:
        status = t.pin_status()
    except CardError:
        return home()
    if status is not None and status.blocked:
        return redirect(url_for("common.unblock"))
    error = None
    if request.method == "POST":
        value = request.form.get("pin", "")
        if not PIN_RE.match(value):
            error = _("Le code PIN a 4 chiffres.")
        else:
            try:
                r = t.sign_in_professional(value)
            except InvalidPinError as exc:
                if exc.tries_remaining == 0:
                    return redirect(url_for("common.unblock"))
                error = _pin_refused(exc.tries_remaining)
            except PinBlockedError:
                return redirect(url_for("common.unblock"))
            except (CardRemovedError, SignInFailed):
                return home()
            else:
                if r.status == 201:
                    return redirect(url_for("pro.home_page"))
                error = _(
                    "Connexion refusée par le serveur. Retirez votre carte et réessayez ; "
                    "si cela persiste, contactez le support."
                )
        status = t.pin_status()
        return render_template(
            "pin.html", error=error, tries=status and status.tries_remaining
        ), 400
    return render_template("pin.html", error=None, tries=status and status.tries_remaining)


def _pin_refused(left: int) -> str:
    """Said once, in words: the last try is a warning of its own (the next wrong code
    blocks the card), not a number to work out."""
    if left == 1:
        return _(
            "Code PIN incorrect. Attention : il ne vous reste qu'un essai ; un nouveau code "
            "erroné bloquera la carte."
        )
    return _("Code PIN incorrect. Il vous reste {n} essais avant le blocage de la carte.", n=left)


@bp.route("/unblock", methods=["GET", "POST"])
def unblock() -> BaseResponse | str | tuple[str, int]:
    t = terminal()
    if t.pro_reader is None:
        return home()
    if request.method == "GET":
        return render_template("unblock.html", error=None)
    puk = request.form.get("puk", "")
    new_pin = request.form.get("new_pin", "")
    again = request.form.get("new_pin_again", "")
    if not PUK_RE.match(puk):
        error = _("Le code de déblocage (PUK) a 8 chiffres.")
    elif not PIN_RE.match(new_pin):
        error = _("Le nouveau code PIN doit avoir 4 chiffres.")
    elif new_pin != again:
        error = _("Les deux saisies du nouveau code PIN sont différentes.")
    else:
        try:
            t.unblock_pin(puk, new_pin)
        except InvalidPukError as exc:
            error = _("Code de déblocage incorrect. Il reste {n} essai(s).", n=exc.tries_remaining)
        except PukBlockedError:
            error = _("Le code de déblocage est lui aussi bloqué : la carte doit être remplacée.")
        except (CardRemovedError, SignInFailed):
            return home()
        else:
            t.flash = "unblocked"
            return redirect(url_for("common.pin"))
    return render_template("unblock.html", error=error), 400


# ---- patient: card, then one-time code ---------------------------------------------


@bp.get("/patient-card")
def patient_card() -> BaseResponse | str:
    """Where a patient card's insertion leads: the code page (nothing is asked of the
    server before the patient taps; a GET changes no state)."""
    t = terminal()
    if t.pro is not None:
        return redirect(url_for("pro.patient"))
    if t.pro_reader is not None:
        return redirect(url_for("common.pin"))
    if t.patient_card is None:
        return home()
    return redirect(url_for("common.code"))


def _card_refused() -> str:
    return render_template(
        "error.html",
        message=_(
            "Cette carte ne permet pas d'ouvrir une session. Reprenez-la ; si vous "
            "pensez que c'est une erreur, adressez-vous à l'accueil."
        ),
    )


@bp.route("/code", methods=["GET", "POST"])
def code() -> BaseResponse | str | tuple[str, int]:
    """The patient asks for a one-time code (the card signs the sign-in challenge at that
    tap), then types it."""
    t = terminal()
    if t.pro is not None or t.patient_card is None:
        return home()
    if t.patient is not None and t.patient.token:
        return redirect(url_for("patient.home"))
    if request.method == "GET":
        return _code_page(None)
    action = request.form.get("action", "")
    if action in ("send", "sms", "email", "verify"):
        if t.patient is None or not t.patient.pending_token:
            try:
                started = t.start_patient_sign_in()
            except (CardError, SignInFailed):
                return home()
            if started.status != 201:
                return _card_refused()
    return code_step(action)


def code_step(action: str) -> BaseResponse | str | tuple[str, int]:
    """The one-time code step of a pending sign-in, after a card at the kiosk or after
    INS and password online (kiosk/online.py): send the code (only by the ways the
    server says this patient has), then check it, tries left shown."""
    t = terminal()
    error = None
    pending = t.patient.pending_token if t.patient is not None else None
    if action in ("send", "sms", "email") and pending is not None:
        inbox = _demo_inbox()
        before = inbox.sent() if inbox is not None else 0
        r = t.client.send_code(pending, None if action == "send" else action)
        if r.ok and t.patient is not None:
            t.patient.destination = r.body.get("destination")
            t.patient.channel = r.body.get("channel")
            t.patient.channels = tuple(r.body.get("channels") or ())
            tries = r.body.get("tries")
            t.patient.tries = tries if isinstance(tries, int) else None
            t.touch()
            if inbox is not None:  # the demo panel shows the new code, not the last one
                inbox.wait_after(before, 3.0)
            return redirect(request.path)
        error = (
            # No reason given (the server answers one generic refusal): the factor is
            # locked for a while, or this sign-in has expired.
            _(
                "Aucun code ne peut être envoyé pour le moment : réessayez plus tard, ou "
                "adressez-vous à l'accueil."
            )
            if r.status == 401
            else r.message  # the server's own French text: no address for this channel…
        )
    elif action == "verify" and pending is not None:
        value = request.form.get("code", "").strip()
        if not CODE_RE.match(value):
            error = _("Le code a 6 chiffres.")
        else:
            totp = request.form.get("method") == "totp"
            r = t.client.verify_code(pending, value, totp=totp)
            if r.ok:
                # The code step does not say the re-signature period: re-sign soon,
                # then follow what the re-signature answer says.
                t.finish_patient_sign_in(r.body["token"], 20.0)
                return redirect(url_for("patient.home"))
            error = _code_error(r.status, r.message)
            if r.status == 401 and not totp and t.patient is not None and t.patient.tries:
                t.patient.tries -= 1
    else:
        error = _("Choisissez une action.")
    return _code_page(error), 400


def _code_page(error: str | None) -> str:
    t = terminal()
    p = t.patient
    return render_template(
        "code.html",
        error=error,
        destination=p.destination if p is not None else None,
        # Once the server has said where this patient can be reached, only those ways are
        # offered; before, one button: the server sends where the patient chose.
        others=[c for c in p.channels if c != p.channel] if p is not None else [],
        sent=p is not None and p.destination is not None,
        tries=p.tries if p is not None else None,
    )


def _code_error(status: int, message: str) -> str:
    if status == 401:
        # One generic refusal for every failed check (wrong, used or expired code,
        # lockout): the server tells nothing more, nor does the kiosk.
        return _("Code refusé. Vérifiez-le ou demandez-en un nouveau.")
    return message  # the server's own French text (too many tries, wait…)
