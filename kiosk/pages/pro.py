"""The professional at the counter: the patient's card, the dossier, documents, emergency.

The pages show what the server answers; they never decide who may see what. A denial is
shown with the server's own French message. Which actions to offer (deposit, break the
glass, record an admission) also comes from the server (`Professional.may`, asked at
sign-in): the kiosk keeps no copy of the profession rules.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from cardreader.errors import CardError
from kiosk.client import Capabilities, ServerUnavailable
from kiosk.fhir_documents import KINDS
from kiosk.i18n import gettext as _
from kiosk.labels import DOCUMENT_TYPES
from kiosk.terminal import Dossier, SignInFailed

from . import home as go_home
from . import new_submission_id, server, terminal, unreachable_message, valid_submission_id
from .finding import search_page, versions_page
from .forms import open_dossier_page
from .officer import OFFICER_PROFESSION
from .reading import document_page
from .synthesis import synthesis_page

bp = Blueprint("pro", __name__, url_prefix="/pro")


# Document types recorded as structured lines (issue 11), never as a free-text box.
STRUCTURED_TYPES = frozenset(kind.loinc for kind in KINDS.values())


def deposit_kinds(may: Capabilities) -> list[tuple[str, str, str]]:
    """(category, type code, label) the free-text deposit form offers: the document types
    the kiosk can name, in the categories the server says this professional may deposit,
    but those that have their structured form."""
    return [
        (category, code, label)
        for category, types in DOCUMENT_TYPES.items()
        if category in may.deposit_categories
        for code, label in types
        if code not in STRUCTURED_TYPES
    ]


def offered_forms(may: Capabilities) -> list[str]:
    """The deposit forms to offer: the structured ones whose category the server lets this
    professional deposit, and the free text one when any type can be named."""
    forms = [name for name, kind in KINDS.items() if kind.category in may.deposit_categories]
    return [*forms, "text"] if deposit_kinds(may) else forms


@bp.get("/")
def home_page() -> Response | str:
    t = terminal()
    if t.pro is None:
        return go_home()
    if t.pro.profession == OFFICER_PROFESSION:
        return redirect(url_for("officer.queue"))  # reviews only (docs/alerts.md)
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
    if t.representative_swap is not None:  # the card in is a representative's, for that
        return redirect(url_for("desk_reps.card"))
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
    page, _submission, _body = open_dossier_page(t, identity, self_service=False)
    if page is not None:
        return page
    # The signed receipt is the patient's (docs/receipts.md): the desk shows its id, the
    # patient reads and prints it in « Mes reçus » with their own card.
    receipt_id = (t.dossier.summary or {}).get("receipt_id") if t.dossier else None
    return render_template("dossier_opened.html", receipt_id=receipt_id)


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
    t.dossier.secret = summary.body.get("secret_connection") is True
    t.draft = None  # back at the dossier: no deposit is being typed any more
    consent_receipt, t.dossier.consent_receipt = t.dossier.consent_receipt, None
    return render_template(
        "pro_dossier.html",
        consent_receipt=consent_receipt,
        pro=t.pro,
        summary=summary.body,
        documents=docs.body.get("documents", []) if docs.ok else [],
        docs_error=None if docs.ok else docs.message,
        forms=offered_forms(t.pro.may),
        clinical_reading=t.pro.may.clinical_reading,
        join_care_team=t.pro.may.join_care_team,
        submission=new_submission_id(),
        emergency=t.dossier.emergency,
    )


@bp.post("/dossier/secret")
def secret() -> Response | str | tuple[str, int]:
    """The « connexion secrète » with a minor (issue 13), chosen on opening the dossier:
    the server holds it for this session and refuses any deposit the representatives
    could see; the banner says it on every page."""
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    on = request.form.get("on") == "1"
    submission = valid_submission_id(request.form.get("submission"))
    try:
        r = server().set_secret_connection(t.dossier.dossier_id, on=on, submission=submission)
    except ServerUnavailable:
        return render_template("error.html", message=unreachable_message()), 503
    if not r.ok:
        return render_template("error.html", message=r.message), 400
    t.dossier.secret = on
    return redirect(url_for("pro.dossier"))


@bp.post("/dossier/consent")
def consent() -> Response | str | tuple[str, int]:
    """The patient, at the counter, consents: the server drafts the consent, the
    patient's card and the professional's both sign it (co-presence, docs/receipts.md);
    the server checks both and decides."""
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    d = t.dossier.dossier_id
    made = server().consent_draft(d)
    if not made.ok:
        return render_template("error.html", message=made.message), 403
    try:
        signed = t.copresence(made.body)
    except (CardError, SignInFailed):
        return redirect(url_for("pro.home_page"))
    r = server().consent_in_person(d, signed)
    if not r.ok:
        return render_template("error.html", message=r.message), 403
    # Said at the counter, once, on the dossier's page: the consent is recorded and its
    # receipt signed (the receipt is the patient's: they print it in « Mes reçus »).
    t.dossier.consent_receipt = str(r.body.get("receipt_id") or "")
    return redirect(url_for("pro.dossier"))


@bp.get("/dossier/search")
def search() -> Response | str:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    return search_page(t.dossier.dossier_id, audience="pro", back=url_for("pro.dossier"))


@bp.get("/dossier/documents/<logical_id>/versions")
def versions(logical_id: str) -> Response | str:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    back = url_for("pro.document", logical_id=logical_id)
    return versions_page(t.dossier.dossier_id, logical_id, audience="pro", back=back)


@bp.get("/dossier/documents/<logical_id>")
def document(logical_id: str) -> Response | str:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    t.draft = None  # the professional left the deposit form: nothing typed is pending
    return document_page(
        t.dossier.dossier_id, logical_id, back=url_for("pro.dossier"), audience="pro"
    )


@bp.get("/dossier/synthesis")
def synthesis() -> Response | str:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    return synthesis_page(t.dossier.dossier_id, audience="pro", back=url_for("pro.dossier"))


@bp.get("/dossier/synthesis/<logical_id>")
def synthesis_document(logical_id: str) -> Response | str:
    """A summary line's source document, with its way back to the summary."""
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    back = url_for("pro.synthesis")
    return document_page(t.dossier.dossier_id, logical_id, back=back, audience="pro")


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
