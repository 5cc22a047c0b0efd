"""The professional at the counter: the patient's card, the dossier, documents, emergency.

The pages show what the server answers; they never decide who may see what. A denial is
shown with the server's own French message. Which actions to offer (deposit, break the
glass, record an admission) also comes from the server (`Professional.may`, asked at
sign-in): the kiosk keeps no copy of the profession rules.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from cardreader.errors import CardError
from kiosk.client import ApiResponse, Capabilities, ServerUnavailable
from kiosk.i18n import gettext as _
from kiosk.labels import DOCUMENT_TYPES
from kiosk.terminal import Dossier, SignInFailed

from . import home as go_home
from . import new_submission_id, server, terminal, unreachable_message, valid_submission_id
from .forms import open_dossier_page, receipt_reference

bp = Blueprint("pro", __name__, url_prefix="/pro")


def deposit_kinds(may: Capabilities) -> list[tuple[str, str, str]]:
    """(category, type code, label) the deposit form offers: the document types the kiosk
    can name, in the categories the server says this professional may deposit."""
    return [
        (category, code, label)
        for category, types in DOCUMENT_TYPES.items()
        if category in may.deposit_categories
        for code, label in types
    ]


@bp.get("/")
def home_page() -> Response | str:
    t = terminal()
    if t.pro is None:
        return go_home()
    if t.patient_card is not None:
        return redirect(url_for("pro.patient"))
    return render_template("pro_home.html", pro=t.pro)


@bp.get("/patient")
def patient() -> Response | str:
    t = terminal()
    if t.pro is None:
        return go_home()
    if t.patient_card is None:
        return redirect(url_for("pro.home_page"))
    try:
        identity = t.read_patient_card()
    except (CardError, SignInFailed):
        return redirect(url_for("pro.home_page"))
    r = server().lookup_dossier(identity.ins)
    if r.ok:
        t.dossier = Dossier(int(r.body["dossier_id"]))
        return redirect(url_for("pro.dossier"))
    if r.status == 404:
        return redirect(url_for("pro.open_dossier"))
    return render_template("pro_denied.html", message=r.message, identity=identity)


@bp.route("/open", methods=["GET", "POST"])
def open_dossier() -> Response | str | tuple[str, int]:
    t = terminal()
    if t.pro is None or t.patient_card is None:
        return go_home()
    identity = t.read_patient_card()
    page, submission, _body = open_dossier_page(t, identity, self_service=False)
    if page is not None:
        return page
    from kiosk.receipts import ReceiptPerson, opening_receipt

    reference = receipt_reference(submission)
    t.receipts[reference] = opening_receipt(
        ReceiptPerson(f"{' '.join(identity.first_names)} {identity.birth_name}", identity.ins[-4:]),
        when=datetime.now(UTC),
        kiosk=t.client.kiosk_name,
        opened_by=f"{t.pro.identity.first_name} {t.pro.identity.last_name}",
        reference=reference,
    )
    return render_template("dossier_opened.html", reference=reference)


@bp.get("/dossier")
def dossier() -> Response | str:
    t = terminal()
    if t.pro is None:
        return go_home()
    if t.dossier is None:
        return redirect(url_for("pro.home_page"))
    d = t.dossier.dossier_id
    summary = server().dossier(d)
    if not summary.ok:
        return render_template(
            "pro_denied.html",
            message=summary.message,
            identity=t.patient_card and t.patient_card.identity,
            emergency=t.pro.may.emergency,
            # Outside the care team, the patient present may consent with their card.
            can_consent=summary.reason == "no_authorisation" and t.patient_card is not None,
        )
    docs = server().list_documents(d)
    t.dossier.summary = summary.body
    return render_template(
        "pro_dossier.html",
        pro=t.pro,
        summary=summary.body,
        documents=docs.body.get("documents", []) if docs.ok else [],
        docs_error=None if docs.ok else docs.message,
        can_deposit=bool(deposit_kinds(t.pro.may)),
        clinical_reading=t.pro.may.clinical_reading,
        join_care_team=t.pro.may.join_care_team,
        submission=new_submission_id(),
        emergency=t.dossier.emergency,
    )


@bp.post("/dossier/consent")
def consent() -> Response | str | tuple[str, int]:
    """The patient, at the counter, consents: their card signs; the server decides."""
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    try:
        body = t.patient_presence()
    except (CardError, SignInFailed):
        return redirect(url_for("pro.home_page"))
    r = server().consent_in_person(t.dossier.dossier_id, body)
    if not r.ok:
        return render_template("error.html", message=r.message), 403
    return redirect(url_for("pro.dossier"))


@bp.get("/dossier/documents/<logical_id>")
def document(logical_id: str) -> Response | str:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    return document_page(
        t.dossier.dossier_id,
        logical_id,
        back=url_for("pro.dossier"),
        # Offered to any professional who deposits; the server decides (author only).
        can_replace=bool(deposit_kinds(t.pro.may)),
    )


def document_page(dossier_id: int, logical_id: str, *, back: str, can_replace: bool) -> str:
    """One document: its metadata and, when it is plain text, its content on screen."""
    meta = server().document(dossier_id, logical_id)
    if not meta.ok:
        return render_template("error.html", message=meta.message)
    content = server().document_content(dossier_id, logical_id)
    shown = terminal().dossier
    return render_template(
        "document.html",
        doc=meta.body,
        text=text_of(content),
        back=back,
        can_replace=can_replace and meta.body.get("status") == "current",
        emergency=shown.emergency if shown is not None else None,
    )


def text_of(content: ApiResponse) -> str | None:
    """A plain-text document shown on screen; anything else is not rendered on a kiosk."""
    if (
        not content.ok
        or content.content_type != "text/plain"
        or not isinstance(content.body, bytes)
    ):
        return None
    try:
        return content.body.decode("utf-8")
    except UnicodeDecodeError:
        return None


@bp.route("/dossier/deposit", methods=["GET", "POST"])
def deposit() -> Response | str | tuple[str, int]:
    return _document_form(replaces=None)


@bp.route("/dossier/documents/<logical_id>/replace", methods=["GET", "POST"])
def replace(logical_id: str) -> Response | str | tuple[str, int]:
    return _document_form(replaces=logical_id)


def _document_form(replaces: str | None) -> Response | str | tuple[str, int]:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    kinds = deposit_kinds(t.pro.may)
    if not kinds:
        abort(403)
    # The visibility choices are for those who read clinical documents (not a desk).
    clinician = t.pro.may.clinical_reading
    if request.method == "GET":
        return render_template(
            "deposit.html",
            kinds=kinds,
            form={},
            errors=[],
            submission=new_submission_id(),
            replaces=replaces,
            clinician=clinician,
        )
    form = request.form
    submission = valid_submission_id(form.get("submission"))
    errors: list[str] = []
    kind = next((k for k in kinds if k[1] == form.get("type_code")), None)
    title = (form.get("title") or "").strip()
    text = (form.get("text") or "").strip()
    if kind is None:
        errors.append(_("Choisissez le type de document."))
    if not title or len(title) > 200:
        errors.append(_("Donnez un titre (200 caractères au plus)."))
    if not text or len(text) > 20000:
        errors.append(_("Le contenu est vide ou trop long (20 000 caractères au plus)."))
    masked = form.get("masked_ps") == "on"
    invisible = form.get("invisible_patient") == "on"
    if masked and invisible:
        errors.append(
            _(
                "Un document ne peut pas être à la fois masqué aux professionnels et invisible "
                "pour le patient."
            )
        )
    if errors or kind is None:
        return render_template(
            "deposit.html",
            kinds=kinds,
            form=form,
            errors=errors,
            submission=submission,
            replaces=replaces,
            clinician=clinician,
        ), 400
    body = {
        "category": kind[0],
        "type_code": kind[1],
        "title": title,
        "mime_type": "text/plain",
        "content_base64": base64.b64encode(text.encode()).decode(),
        "masked_ps": masked and clinician,
        "invisible_patient": invisible and clinician,
        "invisible_rep": form.get("invisible_rep") == "on" and clinician,
    }
    d = t.dossier.dossier_id
    try:
        if replaces:
            r = server().replace(d, replaces, body, submission=submission)
        else:
            r = server().deposit(d, body, submission=submission)
    except ServerUnavailable:
        # Nothing lost: the form comes back as typed, with the same submission id, so the
        # retry cannot write twice even if the first attempt did reach the server.
        return render_template(
            "deposit.html",
            kinds=kinds,
            form=form,
            errors=[unreachable_message()],
            submission=submission,
            replaces=replaces,
            clinician=clinician,
        ), 503
    if not r.ok:
        return render_template(
            "deposit.html",
            kinds=kinds,
            form=form,
            errors=[r.message],
            submission=submission,
            replaces=replaces,
            clinician=clinician,
        ), 400
    return redirect(url_for("pro.dossier", saved=r.body.get("logical_id", "")))


@bp.post("/dossier/admission")
def admission() -> Response | str:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    r = server().join_care_team(
        t.dossier.dossier_id, submission=valid_submission_id(request.form.get("submission"))
    )
    message = (
        _("Admission enregistrée : l'équipe de l'établissement rejoint l'équipe de soins.")
        if r.ok
        else r.message
    )
    return render_template("pro_done.html", message=message, ok=r.ok)


@bp.route("/dossier/emergency", methods=["GET", "POST"])
def emergency() -> Response | str | tuple[str, int]:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    mode = t.pro.may.emergency
    if mode is None:
        abort(403)
    if request.method == "GET":
        return render_template("emergency.html", mode=mode, error=None, reason="")
    reason = (request.form.get("reason") or "").strip()
    if len(reason) < 10 or len(reason) > 500:
        return render_template(
            "emergency.html",
            mode=mode,
            reason=reason,
            error=_("Indiquez le motif de l'accès en urgence (10 à 500 caractères)."),
        ), 400
    r = server().emergency_access(t.dossier.dossier_id, mode, reason)
    if not r.ok:
        return render_template("emergency.html", mode=mode, reason=reason, error=r.message), 400
    t.dossier.emergency = reason
    return redirect(url_for("pro.dossier"))
