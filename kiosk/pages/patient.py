"""The patient alone at the reception kiosk: their dossier, their rules, their history."""

from __future__ import annotations

import base64
import binascii
from typing import Any

from flask import (
    Blueprint,
    abort,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.wrappers import Response

from kiosk import history_words, i18n, log_check, receipt_words
from kiosk.i18n import gettext as _
from kiosk.terminal import Dossier, Terminal
from server.tlog import checkpoint as log_checkpoint
from server.tlog import history as log_history
from server.tlog import note

from . import acting, new_submission_id, offered, server, terminal, valid_submission_id
from . import home as go_home
from . import receipts as signed_receipts
from .common import CODE_RE
from .finding import search_page, versions_page
from .forms import open_dossier_page
from .reading import document_page
from .synthesis import synthesis_page

bp = Blueprint("patient", __name__, url_prefix="/patient")


def _signed_in() -> Terminal:
    t = terminal()
    if t.patient is None or not t.patient.token or t.patient_card is None:
        abort(403)
    return t


def _dossier_id(t: Terminal) -> int | None:
    if t.dossier is not None:
        return t.dossier.dossier_id
    ins = t.holder_ins()
    if ins is None:
        return None
    r = server().lookup_dossier(ins)
    if not r.ok:
        return None
    t.dossier = Dossier(int(r.body["dossier_id"]))
    return t.dossier.dossier_id


def _after(endpoint: str, r: Any) -> Response:
    """Back to `endpoint` after a change, its signed receipt shown there (issue 13)."""
    receipt_id = r.body.get("receipt_id") if isinstance(r.body, dict) else None
    return redirect(url_for(endpoint, receipt=receipt_id))


@bp.get("/")
def home() -> Response | str:
    t = terminal()
    if t.patient is None or not t.patient.token:
        return go_home()
    if t.dossier is None and t.patient_card is not None and offered("acting.choose"):
        # A representative or delegate first chooses whose dossier to open (issue 13).
        found = acting.others()
        if found["represented"] or found["delegated"]:
            return redirect(url_for("acting.choose"))
    if t.dossier is not None and t.dossier.acting == "delegate":
        return redirect(url_for("delegate.home"))
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    summary = server().dossier(d)
    if not summary.ok:
        return render_template("error.html", message=summary.message)
    t.dossier.summary = summary.body  # type: ignore[union-attr]
    # The server's receipt of a change just made (a closure, a reopening...), in the page.
    return render_template(
        "patient_home.html",
        summary=summary.body,
        signed=signed_receipts.after_change(),
        acting=t.dossier.acting if t.dossier else None,
        acting_for=t.dossier.acting_for if t.dossier else "",
        flagged_words=lambda item: history_words.flagged(item, i18n.current()),
    )


@bp.route("/create", methods=["GET", "POST"])
def create() -> Response | str | tuple[str, int]:
    t = _signed_in()
    identity = t.patient_card.identity  # type: ignore[union-attr]
    if identity is None:
        return go_home()
    page, _submission, _body = open_dossier_page(t, identity, self_service=True)
    if page is not None:
        return page
    receipt_id = (t.dossier.summary or {}).get("receipt_id") if t.dossier else None
    return redirect(url_for("patient.totp", receipt=receipt_id))


@bp.get("/documents")
def documents() -> Response | str:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    show_all = request.args.get("all") == "1"
    r = server().list_documents(d, show_all=show_all)
    if not r.ok:
        return render_template("error.html", message=r.message)
    return render_template(
        "patient_documents.html",
        documents=r.body.get("documents", []),
        show_all=show_all,
        signed=signed_receipts.after_change(),
    )


@bp.get("/documents/search")
def search() -> Response | str:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    return search_page(d, audience="patient", back=url_for("patient.documents"))


@bp.get("/documents/<logical_id>/versions")
def versions(logical_id: str) -> Response | str:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    back = url_for("patient.document", logical_id=logical_id)
    return versions_page(d, logical_id, audience="patient", back=back)


@bp.get("/documents/<logical_id>")
def document(logical_id: str) -> Response | str:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    return document_page(d, logical_id, back=url_for("patient.documents"), audience="patient")


@bp.get("/synthesis")
def synthesis() -> Response | str:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    return synthesis_page(d, audience="patient", back=url_for("patient.home"))


@bp.get("/synthesis/<logical_id>")
def synthesis_document(logical_id: str) -> Response | str:
    """A summary line's source document, with its way back to the summary."""
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    back = url_for("patient.synthesis")
    return document_page(d, logical_id, back=back, audience="patient")


@bp.route("/documents/<logical_id>/visibility", methods=["GET", "POST"])
def visibility(logical_id: str) -> Response | str | tuple[str, int]:
    """Mask or unmask: a confirmation page, then the change and its receipt."""
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    meta = server().document(d, logical_id)
    if not meta.ok:
        return render_template("error.html", message=meta.message)
    masked = bool(meta.body.get("flags", {}).get("masked_ps"))
    if request.method == "GET":
        return render_template(
            "confirm_mask.html", doc=meta.body, masked=masked, submission=new_submission_id()
        )
    submission = valid_submission_id(request.form.get("submission"))
    r = server().set_masked(d, logical_id, not masked, submission=submission)
    if not r.ok:
        return render_template("error.html", message=r.message), 400
    return _after("patient.documents", r)


@bp.get("/access")
def access() -> Response | str:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    r = server().access(d)
    if not r.ok:
        return render_template("error.html", message=r.message)
    return render_template(
        "patient_access.html",
        access=r.body,
        submission=new_submission_id(),
        signed=signed_receipts.after_change(),
    )


@bp.route("/access/<national_id>/<op>", methods=["GET", "POST"])
def block(national_id: str, op: str) -> Response | str | tuple[str, int]:
    if op not in ("block", "unblock"):
        abort(404)
    t = _signed_in()
    d = _dossier_id(t)
    name = request.args.get("name") or request.form.get("name") or national_id
    if request.method == "GET":
        return render_template(
            "confirm_block.html",
            op=op,
            national_id=national_id,
            name=name,
            submission=new_submission_id(),
        )
    submission = valid_submission_id(request.form.get("submission"))
    if d is None:
        return redirect(url_for("patient.create"))
    if op == "block":
        r = server().block(d, national_id, submission=submission)
    else:
        r = server().unblock(d, national_id, submission=submission)
    if not r.ok:
        return render_template("error.html", message=r.message), 400
    return _after("patient.access", r)


@bp.route("/emergency", methods=["GET", "POST"])
def emergency() -> Response | str | tuple[str, int]:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    current = server().access(d)
    if not current.ok:
        return render_template("error.html", message=current.message)
    settings: dict[str, Any] = current.body.get("emergency", {})
    if request.method == "GET":
        return render_template(
            "patient_emergency.html", settings=settings, submission=new_submission_id()
        )
    submission = valid_submission_id(request.form.get("submission"))
    wanted = {
        "bris_de_glace": request.form.get("bris_de_glace") == "on",
        "centre_15": request.form.get("centre_15") == "on",
    }
    r = server().set_emergency_settings(
        d,
        bris_de_glace=wanted["bris_de_glace"],
        centre_15=wanted["centre_15"],
        submission=submission,
    )
    if not r.ok:
        return render_template("error.html", message=r.message), 400
    return _after("patient.home", r)


@bp.get("/history")
def history() -> Response | str:
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    raw = request.args.get("before", "")
    # ASCII digits only: str.isdigit() also takes other scripts' digits, which int() reads.
    before = int(raw) if raw.isascii() and raw.isdigit() else None
    r = server().history(d, before=before)
    if not r.ok:
        return render_template("error.html", message=r.message)
    entries = r.body.get("entries", [])
    return render_template(
        "patient_history.html",
        entries=entries,
        days=history_words.days(entries, i18n.current()),
        next_before=r.body.get("next_before"),
        before=before,
        can_verify=bool(current_app.extensions["kiosk_settings"]["LOG_KEY"]),
        verdict=_verdict(r.body, d) if request.args.get("verifier") == "1" else None,
        typed=(request.args.get("checkpoint") or "")[: log_check.MAX_TYPED],
    )


def _verdict(page: dict[str, Any], dossier_id: int) -> dict[str, Any]:
    """ "Vérifier mon historique": every line shown proven in the verifiable log, against
    a checkpoint signed by the key this kiosk was installed with (never the key the
    server serves), each line's leaf recomputed from what the page says (server/tlog)."""
    settings = current_app.extensions["kiosk_settings"]
    try:
        verifier = note.Verifier.parse(settings["LOG_KEY"])
    except note.NoteError:
        return {"status": "unsigned", "checked": 0, "pending": 0, "size": None, "failed": []}

    def proof(index: int, size: int) -> list[bytes] | None:
        r = server().log_inclusion(index, size)
        if not r.ok or not isinstance(r.body, dict):
            return None
        try:
            return [base64.b64decode(p, validate=True) for p in r.body.get("proof", [])]
        except (binascii.Error, TypeError, ValueError):
            return None

    found = log_history.verify_page(page, proof, verifier, settings["LOG_ORIGIN"])
    failed = [e["at"] for e in page.get("entries", []) if e.get("seq") in found.failed]
    return {
        "status": found.status,
        "checked": found.checked,
        "pending": found.pending,
        "size": found.size,
        "failed": failed,
        "receipt": _against_receipt(page, dossier_id, verifier, settings["LOG_ORIGIN"])
        if found.status != "unsigned"
        else None,
    }


def _against_receipt(
    page: dict[str, Any], dossier_id: int, verifier: note.Verifier, origin: str
) -> dict[str, Any] | None:
    """The log proven consistent with the checkpoint on the patient's last receipt, or
    with the one typed from a receipt's QR code (kiosk/log_check.py)."""
    typed = (request.args.get("checkpoint") or "").strip()
    issued_at = None
    if typed:
        head = log_check.read_checkpoint(typed, verifier, origin)
        if head is None:
            return {"status": "malformed", "typed": True}
    else:
        text, issued_at = signed_receipts.latest_checkpoint(dossier_id)
        if text is None:
            return None  # no receipt carries a checkpoint yet: nothing to compare with
        head = log_check.read_checkpoint(text, verifier, origin)
        if head is None:
            return {"status": "malformed", "typed": False}
    current = log_checkpoint.verify(str(page["checkpoint"]), origin, [verifier])

    def proof(old: int, new: int) -> list[bytes] | None:
        r = server().log_consistency(old, new)
        if r.status in (400, 404, 422):
            return []  # the server cannot prove it (no checkpoint at that size): no proof
        if not r.ok or not isinstance(r.body, dict):
            return None
        try:
            return [base64.b64decode(p, validate=True) for p in r.body.get("proof", [])]
        except (binascii.Error, TypeError, ValueError):
            return []

    found = log_check.check(head, current, proof)
    return {
        "status": found.status,
        "typed": bool(typed),
        "when": receipt_words.when(issued_at, i18n.current()) if issued_at else None,
        "old": found.old_size,
        "new": found.new_size,
    }


@bp.route("/totp", methods=["GET", "POST"])
def totp() -> Response | str | tuple[str, int]:
    """Enrol an authenticator app: a tap starts it (a POST: a GET never makes a secret),
    then the QR code, then one code to confirm it."""
    _signed_in()
    receipt = request.args.get("receipt") or request.form.get("receipt")
    if request.method == "GET":
        return render_template(
            "patient_totp.html",
            enrol=None,
            started=False,
            receipt=receipt,
            signed=signed_receipts.fetch(receipt),
        )
    if request.form.get("action") == "start":
        r = server().enrol_totp()
        if not r.ok:
            return render_template("error.html", message=r.message)
        return render_template(
            "patient_totp.html", enrol=r.body, started=True, error=None, receipt=receipt
        )
    value = (request.form.get("code") or "").strip()
    if not CODE_RE.match(value):
        return render_template(
            "patient_totp.html",
            enrol=None,
            started=True,
            receipt=receipt,
            error=_("Le code a 6 chiffres."),
        ), 400
    r = server().confirm_totp(value)
    if not r.ok:
        return render_template(
            "patient_totp.html",
            enrol=None,
            started=True,
            receipt=receipt,
            error=_("Code refusé : vérifiez l'heure de votre téléphone et réessayez."),
        ), 400
    return redirect(url_for("patient.home", receipt=receipt))


@bp.get("/receipts")
def receipts() -> Response | str:
    """ "Mes reçus": the dossier's signed receipts, newest first; each opens in the page."""
    t = _signed_in()
    d = _dossier_id(t)
    if d is None:
        return redirect(url_for("patient.create"))
    lines, message = signed_receipts.listing(d)
    if lines is None:
        return render_template("error.html", message=message)
    return render_template("patient_receipts.html", lines=lines)


@bp.get("/receipts/<receipt_id>")
def receipt(receipt_id: str) -> Response | str | tuple[str, int]:
    """One receipt, inside the page, printed from there (no new tab, no file)."""
    _signed_in()
    shown = signed_receipts.fetch(receipt_id)
    if shown is None:
        return render_template("error.html", message=_("Reçu introuvable.")), 404
    return render_template("patient_receipt.html", receipt=shown)
