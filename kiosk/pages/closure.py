"""Leaving and coming back: closing the dossier (keep 10 years, or ask for deletion),
by the patient alone or by a professional with the patient's card in the reader, and
reopening it; each answered by the server's signed receipt, shown in the page.

« Exporter puis fermer » is one flow: the choice is kept in the kiosk session only, the
export is prepared and handed over (kiosk/pages/export.py), and only once the patient
says they have it does the dossier close, with the one signed receipt of the closure.

What a dossier page offers comes from the server (`actions` of the dossier summary,
server/services/capabilities.py): a closed dossier offers reopening, reading and the
history, never masking nor emergency settings. The kiosk does not guess from the status.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from cardreader.errors import CardError
from kiosk.i18n import gettext as _
from kiosk.terminal import PendingClosure, SignInFailed, Terminal

from . import home as go_home
from . import new_submission_id, server, terminal, valid_submission_id
from .patient import _dossier_id, _signed_in

bp = Blueprint("closure", __name__)

CHOICES = ("keep", "delete")
Page = Response | str | tuple[str, int]


def allowed(action: str) -> bool:
    """Whether the server allows `action` on the dossier open at this kiosk now (asked
    once per summary; unknown means no)."""
    t = terminal()
    if t.dossier is None or t.token() is None:
        return False
    actions = t.dossier.summary.get("actions")
    if actions is None:
        r = server().dossier(t.dossier.dossier_id)
        if not r.ok or not isinstance(r.body, dict):
            return False
        t.dossier.summary = r.body
        actions = r.body.get("actions")
    return isinstance(actions, list) and action in actions


def _female(t: Terminal) -> bool | None:
    identity = t.patient_card.identity if t.patient_card else None
    sex = getattr(getattr(identity, "sex", None), "value", None)
    return {"F": True, "M": False}.get(str(sex))


def _choice_page(t: Terminal, *, self_service: bool, error: str | None = None) -> Page:
    page = render_template(
        "confirm_close.html",
        submission=new_submission_id(),
        self_service=self_service,
        female=_female(t),
        error=error,
        action=url_for("closure.close" if self_service else "closure.pro_close"),
        back=url_for("patient.home" if self_service else "pro.dossier"),
    )
    return (page, 400) if error else page


def _chosen() -> str | None:
    choice = request.form.get("choice")
    return choice if choice in CHOICES else None


@bp.route("/patient/close", methods=["GET", "POST"])
def close() -> Page:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    if request.method == "GET":
        if not allowed("dossier:close"):
            return redirect(url_for("patient.home"))
        return _choice_page(t, self_service=True)
    choice = _chosen()
    if choice is None:
        return _choice_page(
            t, self_service=True, error=_("Choisissez ce que devient votre dossier.")
        )
    submission = valid_submission_id(request.form.get("submission"))
    if request.form.get("then") == "export":
        return _export_first(t, d, choice, submission)
    r = server().close_dossier(d, delete=choice == "delete", submission=submission)
    return _after(t, r.ok, r.body, r.message)


def _export_first(t: Terminal, dossier_id: int, choice: str, submission: str) -> Page:
    """Starts the export and remembers the closure, in this session only."""
    r = server().start_export(dossier_id, submission=submission)
    export_id = r.body.get("export_id") if r.ok and isinstance(r.body, dict) else None
    if t.dossier is None or not isinstance(export_id, str):
        return render_template("error.html", message=r.message or not_closed()), 400
    t.dossier.closing = PendingClosure(choice, export_id)
    return redirect(url_for("export.progress", export_id=export_id))


def not_closed() -> str:
    return _(
        "Votre export n'a pas pu vous être remis : votre dossier n'a pas été fermé. "
        "Réessayez, ou demandez de l'aide à l'accueil."
    )


def pending(export_id: str) -> PendingClosure | None:
    """The closure waiting for this export's handover, if any."""
    t = terminal()
    closing = t.dossier.closing if t.dossier is not None else None
    return closing if closing is not None and closing.export_id == export_id else None


def forget_pending() -> None:
    t = terminal()
    if t.dossier is not None:
        t.dossier.closing = None


@bp.post("/patient/close/after-export/<export_id>")
def after_export(export_id: str) -> Page:
    """The patient has their export: the dossier closes as they chose. The server is
    asked again that this export is ready and was handed over (a link was made)."""
    t = _signed_in()
    d = _dossier_id(t)
    closing = pending(export_id)
    if d is None or closing is None:
        # Nothing waits (the card was pulled meanwhile, or a forged address): no closure.
        return redirect(url_for("patient.home"))
    job = server().export_status(export_id)
    body = job.body if job.ok and isinstance(job.body, dict) else {}
    if body.get("status") != "ready" or not body.get("link"):
        forget_pending()
        return render_template("error.html", message=not_closed()), 409
    submission = valid_submission_id(request.form.get("submission"))
    r = server().close_dossier(d, delete=closing.choice == "delete", submission=submission)
    forget_pending()
    return _after(t, r.ok, r.body, r.message)


@bp.route("/patient/reopen", methods=["GET", "POST"])
def reopen() -> Page:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    if request.method == "GET":
        if not allowed("dossier:reopen"):
            return redirect(url_for("patient.home"))
        summary = t.dossier.summary if t.dossier else {}
        return render_template(
            "confirm_reopen.html",
            submission=new_submission_id(),
            deletion_requested=bool(summary.get("deletion_requested_at")),
        )
    submission = valid_submission_id(request.form.get("submission"))
    r = server().reopen_dossier(d, submission=submission)
    return _after(t, r.ok, r.body, r.message)


def _after(t: Terminal, ok: bool, body: Any, message: str) -> Page:
    if not ok or not isinstance(body, dict):
        return render_template("error.html", message=message), 400
    if t.dossier is not None:
        t.dossier.summary = body
    # The home page shows the server's signed receipt in the page (kiosk/pages/receipts.py).
    return redirect(url_for("patient.home", receipt=body.get("receipt_id", "")))


@bp.route("/pro/dossier/close", methods=["GET", "POST"])
def pro_close() -> Page:
    """At the desk: the patient chooses; their card and the professional's both sign the
    closure's draft (co-presence, docs/receipts.md)."""
    t = terminal()
    if t.pro is None or t.dossier is None or t.patient_card is None:
        return go_home()
    if request.method == "GET":
        return _choice_page(t, self_service=False)
    choice = _chosen()
    if choice is None:
        return _choice_page(t, self_service=False, error=_("Choisissez ce que devient le dossier."))
    d = t.dossier.dossier_id
    made = server().close_draft(d, delete=choice == "delete")
    if not made.ok:
        return render_template("error.html", message=made.message), 403
    try:
        signed = t.copresence(made.body)  # the patient's card and the professional's
    except (CardError, SignInFailed):
        return redirect(url_for("pro.home_page"))
    r = server().close_in_person(d, signed)
    if not r.ok or not isinstance(r.body, dict):
        return render_template("error.html", message=r.message), 403
    message = _(
        "Dossier fermé. Reçu signé n° {receipt} : le patient le retrouve avec sa carte à "
        "une borne.",
        receipt=r.body.get("receipt_id", ""),
    )
    return render_template("closure_done_pro.html", message=message)
