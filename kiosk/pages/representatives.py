"""At the admissions desk (issue 13): adding or removing a minor's legal representative,
the representative present with their card or an identity document the desk checked.

With the representative's card (`card`): the minor's card leaves the patient reader,
the representative's goes in, its identity is read from it, and both the
representative's card and the desk's sign the naming (co-presence, docs/receipts.md).
With an identity document: the INS typed and the check attested.

The server decides (the desk only, a minor's active dossier, the identity check
attested or proved), traces and receipts each change; the kiosk relays and shows the list.
"""

from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from cardreader.errors import CardError
from kiosk.i18n import gettext as _
from kiosk.terminal import SignInFailed

from . import home as go_home
from . import new_submission_id, server, terminal, valid_submission_id

bp = Blueprint("desk_reps", __name__, url_prefix="/pro/dossier/representatives")

INS_RE = re.compile(r"^[12378][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}$")


def _page(d: int, *, error: str | None = None, status: int = 200) -> tuple[str, int]:
    r = server().representatives(d)
    listed = r.body.get("representatives", []) if r.ok and isinstance(r.body, dict) else []
    return render_template(
        "desk_representatives.html",
        representatives=listed,
        error=error or (None if r.ok else r.message),
        submission=new_submission_id(),
        done=request.args.get("done"),
    ), status


@bp.route("/", methods=["GET", "POST"])
def page() -> Response | str | tuple[str, int]:
    t = terminal()
    if t.pro is None or t.dossier is None or not t.pro.may.join_care_team:
        return go_home()
    d = t.dossier.dossier_id
    if request.method == "GET":
        if t.representative_swap == "out":  # asked for, then not used: nothing pending
            t.representative_swap = None
        return _page(d)
    submission = valid_submission_id(request.form.get("submission"))
    ins = (request.form.get("ins") or "").strip().upper()
    if not INS_RE.match(ins):
        return _page(
            d,
            error=_("Le numéro INS a 15 caractères (chiffres, 2A ou 2B pour la Corse)."),
            status=400,
        )
    add = request.form.get("op") != "remove"
    checked = request.form.get("identity_checked") == "on"
    if not checked:
        return _page(
            d,
            error=_("Vérifiez d'abord la carte ou la pièce d'identité du représentant."),
            status=400,
        )
    r = server().change_representative(
        d, ins, add=add, identity_checked=checked, submission=submission
    )
    if not r.ok:
        return _page(d, error=r.message, status=400)
    return redirect(url_for("desk_reps.page", done="added" if add else "removed"))


@bp.post("/card/start")
def card_start() -> Response | str | tuple[str, int]:
    """The desk asks for the representative's card: the minor's card may leave now."""
    t = terminal()
    if t.pro is None or t.dossier is None or not t.pro.may.join_care_team:
        return go_home()
    with t.lock:
        if t.representative_swap is None:
            t.representative_swap = "out" if t.patient_card is not None else "in"
    return redirect(url_for("desk_reps.card"))


@bp.route("/card", methods=["GET", "POST"])
def card() -> Response | str | tuple[str, int]:
    """The representative's own card: the minor's card to take out, the representative's
    to put in, read (GET), then signed by both cards (POST)."""
    t = terminal()
    if t.pro is None or t.dossier is None or not t.pro.may.join_care_team:
        return go_home()
    if t.representative_swap is None:
        return redirect(url_for("desk_reps.page"))
    d = t.dossier.dossier_id
    with t.lock:
        if t.representative_swap == "out":
            stage = "swap"
        else:
            stage = "insert" if t.patient_card is None else "read"
    if stage != "read":
        return render_template("desk_rep_card.html", stage=stage, person=None, error=None)
    try:
        person = t.read_patient_card()
    except (CardError, SignInFailed):
        return render_template("desk_rep_card.html", stage="insert", person=None, error=None)
    if request.method == "GET":
        return render_template("desk_rep_card.html", stage="read", person=person, error=None)
    made = server().representative_draft(d, person.ins)
    if not made.ok:
        return _card_error(person, made.message)
    try:
        signed = t.copresence(made.body)
    except (CardError, SignInFailed):
        return _card_error(person, _("Les cartes n'ont pas pu signer : vérifiez-les et réessayez."))
    r = server().add_representative_in_person(d, signed)
    if not r.ok:
        return _card_error(person, r.message)
    t.representative_swap = None
    return redirect(url_for("desk_reps.page", done="added"))


def _card_error(person: object, message: str) -> tuple[str, int]:
    return render_template("desk_rep_card.html", stage="read", person=person, error=message), 400
