"""The delegate's view (issue 13): the documents of the categories a patient delegated to
them, read-only. The server decides each request (and traces it in the patient's
history); the kiosk offers nothing else, so no button leads to a refusal."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request, url_for
from werkzeug.wrappers import Response

from kiosk.terminal import Dossier

from . import server, terminal
from .finding import versions_page
from .reading import document_page

bp = Blueprint("delegate", __name__, url_prefix="/delegate")


def _delegated() -> Dossier:
    t = terminal()
    if t.patient is None or not t.patient.token or t.dossier is None:
        abort(403)
    if t.dossier.acting != "delegate":
        abort(403)
    return t.dossier


@bp.get("/")
def home() -> Response | str:
    dossier = _delegated()
    show_all = request.args.get("all") == "1"
    r = server().list_documents(dossier.dossier_id, show_all=show_all)
    if not r.ok:
        return render_template("error.html", message=r.message)
    return render_template(
        "delegate_home.html",
        name=dossier.acting_for,
        documents=r.body.get("documents", []),
        show_all=show_all,
    )


@bp.get("/documents/<logical_id>")
def document(logical_id: str) -> Response | str:
    dossier = _delegated()
    back = url_for("delegate.home")
    return document_page(dossier.dossier_id, logical_id, back=back, audience="delegate")


@bp.get("/documents/<logical_id>/versions")
def versions(logical_id: str) -> Response | str:
    dossier = _delegated()
    back = url_for("delegate.document", logical_id=logical_id)
    return versions_page(dossier.dossier_id, logical_id, audience="delegate", back=back)
