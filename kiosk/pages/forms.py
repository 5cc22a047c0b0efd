"""The dossier-opening form, shared by the counter and the patient's own kiosk session.

Consent to creation is a box nobody ticks but the patient (never pre-ticked, domain.md);
both emergency permissions are shown ticked, and can be unticked before opening.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import render_template, request
from werkzeug.wrappers import Response

from cardreader.errors import CardError
from cardreader.identity import PatientIdentity
from kiosk.client import ApiResponse, ServerUnavailable
from kiosk.i18n import gettext as _
from kiosk.terminal import Dossier, SignInFailed, Terminal

from . import choosing, new_submission_id, server, unreachable_message, valid_submission_id

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,}$")
PHONE_RE = re.compile(r"^(\+33|0)[1-9](\d{8})$")
NATIONAL_ID_RE = re.compile(r"^[0-9A-Za-z/]{9,40}$")


def emergency_checked(form: Mapping[str, str], name: str) -> bool:
    """Ticked on first display; afterwards, what the user left."""
    if not form.get("submitted"):
        return True
    return form.get(name) == "on"


def dossier_form_errors(form: Mapping[str, str], *, self_service: bool = False) -> list[str]:
    errors = []
    if form.get("consent") != "on" and self_service:
        errors.append(
            _(
                "Votre dossier ne peut être ouvert qu'avec votre consentement explicite : "
                "cochez la case si vous êtes d'accord."
            )
        )
    elif form.get("consent") != "on":
        errors.append(
            _(
                "Le dossier ne peut être ouvert qu'avec le consentement explicite du patient : "
                "cochez la case si le patient est d'accord."
            )
        )
    email = (form.get("email") or "").strip()
    phone = (form.get("phone") or "").replace(" ", "").strip()
    if email and not EMAIL_RE.match(email):
        errors.append(_("L'adresse e-mail n'est pas valide."))
    if phone and not PHONE_RE.match(phone):
        errors.append(_("Le numéro de téléphone n'est pas valide (ex. 06 12 34 56 78)."))
    channel = form.get("notify_channel", "email")
    if (channel == "email" and not email) or (channel == "sms" and not phone):
        errors.append(_("Indiquez le contact qui recevra les notifications."))
    mt = (form.get("medecin_traitant") or "").strip()
    if mt and not NATIONAL_ID_RE.match(mt):
        errors.append(_("L'identifiant du médecin traitant n'est pas valide."))
    return errors


def dossier_request(
    identity: PatientIdentity, form: Mapping[str, str], *, terminal_name: str
) -> dict[str, Any]:
    channel = form.get("notify_channel", "email")
    patient: dict[str, Any] = {
        "ins": identity.ins,
        "ins_oid": identity.ins_oid,
        "birth_name": identity.birth_name,
        "first_names": " ".join(identity.first_names),
        "birth_date": identity.birth_date.isoformat(),
        "sex": identity.sex.value,
        "birth_place": identity.birth_place,
        "notify_channel": channel if channel in ("email", "sms", "none") else "email",
    }
    if identity.usage_name:
        patient["used_name"] = identity.usage_name
    email = (form.get("email") or "").strip()
    phone = (form.get("phone") or "").replace(" ", "").strip()
    if email:
        patient["email"] = email
    if phone:
        patient["phone"] = phone
    body: dict[str, Any] = {
        "patient": patient,
        "consent": {"given": form.get("consent") == "on", "terminal": terminal_name},
        "emergency": {
            "bris_de_glace": emergency_checked(form, "bris_de_glace"),
            "centre_15": emergency_checked(form, "centre_15"),
        },
    }
    mt = (form.get("medecin_traitant") or "").strip()
    if mt:
        body["medecin_traitant"] = mt
    return body


Page = Response | str | tuple[str, int]


def open_dossier_page(
    t: Terminal, identity: PatientIdentity, *, self_service: bool
) -> tuple[Page | None, str, dict[str, Any]]:
    """The opening form, shown or submitted. Returns (page to show, submission id, the
    request body sent); the page is None once the server has opened the dossier (then
    `t.dossier` is set, its summary naming the signed receipt)."""

    def show(form: Mapping[str, str], errors: list[str], submission: str) -> str:
        # The médecin traitant is chosen by name (issue 14): the answers of the name typed,
        # asked again at each display so that the one chosen keeps its name.
        asked = form.get("find") or ""
        page = choosing.page_number(
            asked if asked.isascii() and asked.isdigit() else form.get("mt_page")
        )
        mt = choosing.find(form.get("mt_q", ""), "medecin_traitant", page, opening=True)
        chosen = form.get("medecin_traitant", "")
        return render_template(
            "dossier_open.html",
            identity=identity,
            form=form,
            errors=errors,
            submission=submission,
            self_service=self_service,
            mt=mt,
            mt_label=choosing.chosen_label(mt, chosen, form.get("mt_label", "")),
            describe=choosing.describe,
        )

    if request.method == "GET":
        return show(_on_file(t) if self_service else {}, [], new_submission_id()), "", {}
    form = request.form
    submission = valid_submission_id(form.get("submission"))
    if form.get("find"):
        # « Chercher » or another page of answers: the form comes back as typed.
        return show(form, [], submission), submission, {}
    errors = dossier_form_errors(form, self_service=self_service)
    if errors:
        return (show(form, errors, submission), 400), submission, {}
    body = dossier_request(identity, form, terminal_name=t.client.kiosk_name)
    try:
        if self_service:
            r = server().open_dossier(body, submission=submission)
        else:
            r = _open_at_desk(t, body)
    except (CardError, SignInFailed):
        return (show(form, [_("Les cartes n'ont pas pu signer : vérifiez-les et réessayez.")],
                     submission), 400), submission, body  # fmt: skip
    except ServerUnavailable:
        # Nothing lost: the form comes back as typed, with the same submission id.
        return (show(form, [unreachable_message()], submission), 503), submission, body
    if not r.ok:
        return (show(form, [r.message], submission), 400), submission, body
    t.dossier = Dossier(int(r.body["dossier_id"]), r.body)
    return None, submission, body


def _open_at_desk(t: Terminal, body: dict[str, Any]) -> ApiResponse:
    """At the desk the patient's card and the desk's both sign the opening (co-presence,
    docs/receipts.md): the server drafts it from the request, the cards sign the draft."""
    made = server().creation_draft(body)
    if not made.ok:
        return made
    signed = t.copresence(made.body)  # CardError, SignInFailed: the caller says so
    return server().open_dossier_in_person(body, signed)


def _on_file(t: Terminal) -> dict[str, str]:
    """What the patient signing in for herself starts with: the contact on file (the
    address her code was just sent to) and, to be told, the channel that code used."""
    r = server().whoami()
    contact = r.body.get("contact") if r.ok and isinstance(r.body, dict) else None
    found = {k: v for k, v in (contact or {}).items() if isinstance(v, str) and v}
    channel = t.patient.channel if t.patient is not None else None
    if channel in ("email", "sms"):
        found["notify_channel"] = channel
    return found
