"""« Exporter mon dossier »: the patient asks for their export, watches it being prepared,
then takes it away on their phone (docs/export.md).

The kiosk has no USB port and keeps nothing: the server builds the archive, and hands
it over through a single-use link shown here as a QR code (and sent to the patient's
address on file) that opens only with a code sent to that address. The link lives in
this one answer, marked no-store, and nowhere else on the kiosk.
"""

from __future__ import annotations

import re

import segno
from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from . import closure, new_submission_id, server, terminal, valid_submission_id

bp = Blueprint("export", __name__, url_prefix="/patient/export")

EXPORT_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")
REFRESH_SECONDS = 2  # how often the progress page asks again


def _dossier_id() -> int:
    t = terminal()
    if t.patient is None or not t.patient.token or t.patient_card is None:
        abort(403)
    if t.dossier is None:
        abort(404)
    return t.dossier.dossier_id


@bp.route("/", methods=["GET", "POST"])
def start() -> Response | str | tuple[str, int]:
    d = _dossier_id()
    if request.method == "GET":
        return render_template("patient_export.html", stage="start", submission=new_submission_id())
    submission = valid_submission_id(request.form.get("submission"))
    r = server().start_export(d, submission=submission)
    if not r.ok:
        return render_template("error.html", message=r.message), 400
    return redirect(url_for("export.progress", export_id=r.body["export_id"]))


@bp.get("/<export_id>")
def progress(export_id: str) -> Response | str | tuple[str, int]:
    _dossier_id()
    if not EXPORT_ID.match(export_id):
        abort(404)
    r = server().export_status(export_id)
    if not r.ok:
        return render_template("error.html", message=r.message), r.status if r.status < 500 else 502
    job = r.body
    stage = {"ready": "ready", "failed": "failed", "expired": "failed"}.get(
        job["status"], "working"
    )
    closing = closure.pending(export_id) is not None
    if closing and stage == "failed":
        closure.forget_pending()  # « Exporter puis fermer »: no export, no closure
    return render_template(
        "patient_export.html",
        stage=stage,
        job=job,
        closing=closing,
        refresh=REFRESH_SECONDS if stage == "working" else None,
    )


@bp.post("/<export_id>/link")
def link(export_id: str) -> Response | str | tuple[str, int]:
    _dossier_id()
    if not EXPORT_ID.match(export_id):
        abort(404)
    r = server().export_link(export_id)
    if not r.ok:
        return render_template("error.html", message=r.message), 400
    # The QR code is drawn here, in memory, from this answer only.
    qr = segno.make(r.body["url"], error="m").png_data_uri(scale=6, border=2)
    page = render_template(
        "patient_export.html",
        stage="handover",
        handover=r.body,
        qr=qr,
        job={"export_id": export_id},
        closing=closure.pending(export_id) is not None,
        submission=new_submission_id(),
    )
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response
