"""At the admissions desk (issue 13): adding or removing a minor's legal representative,
the representative present with their card or an identity document the desk checked.

The server decides (the desk only, a minor's active dossier, the identity check
attested), traces and receipts each change; the kiosk relays and shows the list.
"""

from __future__ import annotations

import re

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kiosk.i18n import gettext as _

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
