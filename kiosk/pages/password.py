"""The patient's password for the online space, set up or reset at the kiosk.

Only here, with the card in the reader and the one-time code typed: the card is what
proves the holder, so a forgotten password is reset the same way it was set, without
the old one (docs/online.md). The server's rules decide (8 to 128 characters, not a
common one, not the INS, server/signin/passwords.py); the kiosk says them beforehand
and words the server's refusal in the page's language.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kiosk.i18n import gettext as _

from . import server, terminal

bp = Blueprint("password", __name__, url_prefix="/patient/mot-de-passe")

# The server's refusals (server/signin/passwords.py check_policy), worded by the kiosk so
# that an English page stays English; an unknown reason shows the server's own text.
REFUSALS = {
    "password_too_short": "Le mot de passe doit compter au moins 8 caractères.",
    "password_too_long": "Le mot de passe doit compter au plus 128 caractères.",
    "password_too_common": (
        "Ce mot de passe est trop courant ou trop facile à deviner (ou contient votre "
        "numéro de sécurité sociale) : choisissez-en un autre."
    ),
}
MAX_LENGTH = 128


def _card_session() -> None:
    """A patient signed in with her card, on her own dossier (not acting for another)."""
    t = terminal()
    if t.patient is None or not t.patient.token or t.patient_card is None:
        abort(403)
    if t.dossier is not None and t.dossier.acting is not None:
        abort(403)


@bp.route("/", methods=["GET", "POST"])
def change() -> Response | str | tuple[str, int]:
    _card_session()
    if request.method == "GET":
        return render_template("patient_password.html", error=None, done=False)
    password = request.form.get("password", "")
    again = request.form.get("password_again", "")
    if not password:
        error = _("Choisissez un mot de passe.")
    elif len(password) > MAX_LENGTH:
        error = _(REFUSALS["password_too_long"])
    elif password != again:
        error = _("Les deux saisies du mot de passe sont différentes.")
    else:
        r = server().set_password(password)
        if r.ok:
            return redirect(url_for("password.done"))
        error = _(REFUSALS[r.reason]) if r.reason in REFUSALS else r.message
    return render_template("patient_password.html", error=error, done=False), 400


@bp.get("/enregistre")
def done() -> str:
    _card_session()
    return render_template("patient_password.html", error=None, done=True)
