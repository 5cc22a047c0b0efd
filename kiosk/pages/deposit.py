"""Depositing and replacing a document at the counter: free text, or structured lines.

A dispensation and a prescription are typed as medication lines (a medicine from the
list of common medicines or typed freely, dose, form, quantity, posology), a vaccination
as vaccine, date and lot; the kiosk deposits them as FHIR documents
(kiosk/fhir_documents.py). Lines are added and removed by the form's own buttons (the
page comes back with one line more or less, as typed), so it works without a script.

What is being typed is not kept by the kiosk beyond a note of what it is (title,
category, how many lines: `Terminal.draft`), so that a professional whose card is pulled
is told what was not saved; the note leaves with the next page.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from kiosk import medicines
from kiosk.client import ServerUnavailable
from kiosk.fhir_documents import (
    FHIR_MIME_TYPE,
    KINDS,
    VACCINATION,
    Author,
    Kind,
    MedicationLine,
    Subject,
    VaccinationLine,
    medication_bundle,
    vaccination_bundle,
)
from kiosk.i18n import PARIS
from kiosk.i18n import gettext as _
from kiosk.terminal import DraftNote, Terminal

from . import home as go_home
from . import new_submission_id, server, terminal, unreachable_message, valid_submission_id
from .pro import deposit_kinds, offered_forms

bp = Blueprint("deposit", __name__, url_prefix="/pro/dossier")

MAX_LINES = 30
LINE_FIELDS = ("name", "dose", "form", "quantity", "posology")
FIELD_MAX = {"name": 200, "dose": 60, "form": 80, "quantity": 40, "posology": 500}
QUANTITY_RE = re.compile(r"^(\d{1,5}(?:[.,]\d{1,3})?)\s*(\S.{0,30})?$")
# Control characters have no place in a one-line field, and none is valid in XHTML.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
FLAGS = ("masked_ps", "invisible_patient", "invisible_rep")
Page = Response | BaseResponse | str | tuple[str, int]


@bp.route("/deposit", methods=["GET", "POST"])
def new() -> Page:
    return _form(replaces=None)


@bp.route("/documents/<logical_id>/replace", methods=["GET", "POST"])
def replace(logical_id: str) -> Page:
    return _form(replaces=logical_id)


@bp.post("/draft")
def draft() -> Response:
    """The deposit page says what is being typed (kiosk.js): title, category, lines."""
    t = terminal()
    if t.pro is not None and t.dossier is not None:
        t.draft = _note(request.form)
    return Response(status=204)


def _note(form: Mapping[str, str]) -> DraftNote:
    lines = form.get("lines_typed", "0")
    return DraftNote(
        title=_clean(form.get("title"))[:200],
        kind=_clean(form.get("category"))[:32],
        lines=min(int(lines), MAX_LINES) if lines.isascii() and lines.isdigit() else 0,
    )


def _clean(value: str | None) -> str:
    return CONTROL_RE.sub(" ", value or "").strip()


def _form(replaces: str | None) -> Page:
    t = terminal()
    if t.pro is None or t.dossier is None:
        return go_home()
    forms = offered_forms(t.pro.may)
    if not forms:
        abort(403)
    if request.method == "GET":
        t.draft = None
        if replaces:
            return _replace_page(t, forms, replaces)
        wanted = request.args.get("form", "")
        name = wanted if wanted in forms else ("text" if "text" in forms else forms[0])
        return _render(t, name, _defaults(name), [{}], new_submission_id(), replaces, [])
    form = request.form
    name = form.get("form", "")
    if name not in forms:
        abort(403)
    submission = valid_submission_id(form.get("submission"))
    lines = _typed_lines(form)
    action = form.get("action", "save")
    if name in ("dispensation", "prescription") and action != "save":
        if action == "add" and len(lines) < MAX_LINES:
            lines.append({})
        elif action.startswith("remove:") and action[7:].isdigit():
            index = int(action[7:])
            lines = [line for i, line in enumerate(lines) if i != index] or [{}]
        t.draft = _draft_of(name, form, lines)
        return _render(t, name, form, lines, submission, replaces, [])
    t.draft = _draft_of(name, form, lines)
    errors, body = _request_body(t, name, form, lines)
    if errors or body is None:
        return _render(t, name, form, lines, submission, replaces, errors), 400
    d = t.dossier.dossier_id
    try:
        if replaces:
            r = server().replace(d, replaces, body, submission=submission)
        else:
            r = server().deposit(d, body, submission=submission)
    except ServerUnavailable:
        # Nothing lost: the form comes back as typed, with the same submission id, so the
        # retry cannot write twice even if the first attempt did reach the server.
        page = _render(t, name, form, lines, submission, replaces, [unreachable_message()])
        return page, 503
    if not r.ok:
        return _render(t, name, form, lines, submission, replaces, [r.message]), 400
    t.draft = None
    return redirect(url_for("pro.dossier", saved=r.body.get("logical_id", "")))


def _render(
    t: Terminal,
    name: str,
    values: Mapping[str, str],
    lines: list[dict[str, str]],
    submission: str,
    replaces: str | None,
    errors: list[str],
) -> str:
    assert t.pro is not None  # noqa: S101 - the callers checked it
    kind = KINDS.get(name)
    return render_template(
        "deposit.html",
        form_name=name,
        kind=kind,
        kinds=deposit_kinds(t.pro.may),
        form=values,
        lines=lines,
        max_lines=MAX_LINES,
        medicines=list(medicines.medicines()) if kind and kind is not VACCINATION else [],
        vaccines=medicines.vaccines() if kind is VACCINATION else [],
        today=datetime.now(PARIS).date().isoformat(),
        errors=errors,
        submission=submission,
        replaces=replaces,
        clinician=t.pro.may.clinical_reading,
    )


def _defaults(name: str) -> dict[str, str]:
    kind = KINDS.get(name)
    if kind is None:
        return {}
    # The document's own title, in French like the document it names.
    label = {"dispensation": "Dispensation", "prescription": "Prescription"}.get(
        name, "Vaccination"
    )
    today = datetime.now(PARIS).date()
    return {"title": f"{label} du {today:%d/%m/%Y}", "date": today.isoformat()}


def _typed_lines(form: Mapping[str, str]) -> list[dict[str, str]]:
    count = form.get("lines", "1")
    n = min(int(count), MAX_LINES) if count.isascii() and count.isdigit() else 1
    return [
        {f: _clean(form.get(f"line-{i}-{f}"))[: FIELD_MAX[f]] for f in LINE_FIELDS}
        for i in range(max(n, 1))
    ]


def _draft_of(name: str, form: Mapping[str, str], lines: list[dict[str, str]]) -> DraftNote:
    kind = KINDS.get(name)
    if kind is None:
        chosen = next((k for k in _all_kinds() if k[1] == form.get("type_code")), None)
        category = chosen[0] if chosen else ""
    else:
        category = kind.category
    typed = sum(1 for line in lines if line.get("name"))
    if kind is VACCINATION:
        typed = 1 if _clean(form.get("vaccine")) else 0
    return DraftNote(_clean(form.get("title"))[:200], category, typed)


def _all_kinds() -> list[tuple[str, str, str]]:
    t = terminal()
    return deposit_kinds(t.pro.may) if t.pro is not None else []


# ---- checking what was typed, and the body sent to the server ---------------------------


def _request_body(
    t: Terminal, name: str, form: Mapping[str, str], lines: list[dict[str, str]]
) -> tuple[list[str], dict[str, Any] | None]:
    errors: list[str] = []
    title = _clean(form.get("title"))
    if not title or len(title) > 200:
        errors.append(_("Donnez un titre (200 caractères au plus)."))
    clinician = t.pro is not None and t.pro.may.clinical_reading
    flags = {f: form.get(f) == "on" and clinician for f in FLAGS}
    if flags["masked_ps"] and flags["invisible_patient"]:
        errors.append(
            _(
                "Un document ne peut pas être à la fois masqué aux professionnels et invisible "
                "pour le patient."
            )
        )
    kind = KINDS.get(name)
    if kind is None:
        category, type_code, mime, content = _text_content(form, errors)
    else:
        category, type_code, mime = kind.category, kind.loinc, FHIR_MIME_TYPE
        content = _structured_content(t, kind, title, form, lines, errors)
    if errors or content is None:
        return errors, None
    return [], {
        "category": category,
        "type_code": type_code,
        "title": title,
        "mime_type": mime,
        "content_base64": base64.b64encode(content).decode(),
        **flags,
    }


def _text_content(form: Mapping[str, str], errors: list[str]) -> tuple[str, str, str, bytes | None]:
    kind = next((k for k in _all_kinds() if k[1] == form.get("type_code")), None)
    text = (form.get("text") or "").strip()
    if kind is None:
        errors.append(_("Choisissez le type de document."))
    if not text or len(text) > 20000:
        errors.append(_("Le contenu est vide ou trop long (20 000 caractères au plus)."))
    if kind is None or errors:
        return "", "", "", None
    return kind[0], kind[1], "text/plain", text.encode()


def _structured_content(
    t: Terminal,
    kind: Kind,
    title: str,
    form: Mapping[str, str],
    lines: list[dict[str, str]],
    errors: list[str],
) -> bytes | None:
    subject = _subject(t)
    if subject is None or t.pro is None:
        errors.append(_("Le dossier du patient n'est plus affiché : recommencez."))
        return None
    who = t.pro.identity
    author = Author(who.national_id, who.first_name, who.last_name)
    now = datetime.now(UTC)
    if kind is VACCINATION:
        vaccination = _vaccination(form, errors)
        if vaccination is None:
            return None
        bundle = vaccination_bundle(
            title, [vaccination], subject, author, now=now, new_id=lambda: str(uuid.uuid4())
        )
    else:
        medication = _medication_lines(lines, errors)
        if not medication:
            return None
        bundle = medication_bundle(
            kind, title, medication, subject, author, now=now, new_id=lambda: str(uuid.uuid4())
        )
    return json.dumps(bundle, ensure_ascii=False).encode()


def _medication_lines(lines: list[dict[str, str]], errors: list[str]) -> list[MedicationLine]:
    out: list[MedicationLine] = []
    for number, line in enumerate(lines, start=1):
        if not any(line.values()):
            continue  # an empty line left at the end is not a line
        name = line.get("name", "")
        if not name:
            errors.append(_("Ligne {n} : indiquez le médicament.", n=number))
            continue
        quantity, unit = None, ""
        if line.get("quantity"):
            found = QUANTITY_RE.match(line["quantity"])
            if found is None:
                errors.append(
                    _(
                        "Ligne {n} : la quantité est un nombre, suivi si besoin de l'unité "
                        "(par exemple 2 boîtes).",
                        n=number,
                    )
                )
                continue
            quantity = float(found.group(1).replace(",", "."))
            unit = found.group(2) or ""
        listed = medicines.known(name)
        out.append(
            MedicationLine(
                name=name,
                dose=line.get("dose") or (listed.strength if listed else ""),
                form=line.get("form") or (listed.form if listed else ""),
                quantity=quantity,
                unit=unit,
                posology=line.get("posology", ""),
                code=listed.code if listed else None,
            )
        )
    if not out and not errors:
        errors.append(_("Ajoutez au moins un médicament."))
    return [] if errors else out


def _vaccination(form: Mapping[str, str], errors: list[str]) -> VaccinationLine | None:
    vaccine = _clean(form.get("vaccine"))[:200]
    lot = _clean(form.get("lot"))
    if not vaccine:
        errors.append(_("Indiquez le vaccin."))
    if len(lot) > 40:
        errors.append(_("Le numéro de lot a 40 caractères au plus."))
    try:
        when = date.fromisoformat(_clean(form.get("date")))
    except ValueError:
        when = None
    if when is None or when > datetime.now(PARIS).date() or when.year < 1900:
        errors.append(_("La date de vaccination n'est pas valide (jamais dans le futur)."))
    if errors or when is None:
        return None
    return VaccinationLine(vaccine, when, lot)


def _subject(t: Terminal) -> Subject | None:
    """The patient of the dossier shown, as the server knows them."""
    if t.dossier is None:
        return None
    summary = t.dossier.summary or {}
    if not summary.get("patient"):
        r = server().dossier(t.dossier.dossier_id)
        if not r.ok:
            return None
        summary = t.dossier.summary = r.body
    p = summary["patient"]
    try:
        born = date.fromisoformat(p["birth_date"]) if p.get("birth_date") else None
    except ValueError:
        born = None
    return Subject(
        ins=str(p.get("ins", "")),
        ins_oid=str(p.get("ins_oid", "")),
        birth_name=str(p.get("birth_name", "")),
        first_names=tuple(str(p.get("first_names", "")).split()),
        birth_date=born,
        sex=p.get("sex") if p.get("sex") in ("M", "F") else None,
    )


# ---- replacing: the form starts from the current version -------------------------------


def _replace_page(t: Terminal, forms: list[str], logical_id: str) -> Page:
    assert t.dossier is not None  # noqa: S101 - the caller checked it
    d = t.dossier.dossier_id
    meta = server().document(d, logical_id)
    if not meta.ok:
        return render_template("error.html", message=meta.message)
    old = meta.body
    if old.get("may_replace") is not True:
        message = _("Seul l'auteur d'un document en vigueur peut le remplacer.")
        return render_template("error.html", message=message), 403
    # A structured type is replaced through its structured form, even a version that was
    # typed as free text before the kiosk had one (its lines then start empty).
    kind = next(
        (
            k
            for k in KINDS.values()
            if k.loinc == old.get("type_code") and k.category == old.get("category")
        ),
        None,
    )
    name = kind.name if kind is not None and kind.name in forms else "text"
    values: dict[str, str] = {"title": str(old.get("title", "")), "date": ""}
    values["type_code"] = str(old.get("type_code", ""))
    for flag in FLAGS:
        if (old.get("flags") or {}).get(flag):
            values[flag] = "on"
    lines: list[dict[str, str]] = [{}]
    if name == "text":
        content = server().document_content(d, logical_id)
        if content.ok and content.content_type == "text/plain" and isinstance(content.body, bytes):
            values["text"] = content.body.decode("utf-8", errors="replace")
    elif old.get("mime_type") == FHIR_MIME_TYPE:
        lines = _lines_of_structure(d, logical_id, values) or [{}]
    return _render(t, name, values, lines, new_submission_id(), logical_id, [])


def _lines_of_structure(
    dossier_id: int, logical_id: str, values: dict[str, str]
) -> list[dict[str, str]]:
    """The current version's lines, as the server read them (GET .../structure); none
    when the server does not serve the structure yet."""
    answer = server().document_structure(dossier_id, logical_id)
    if not answer.ok or not isinstance(answer.body, dict):
        return []
    lines = []
    for entry in answer.body.get("entries") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("kind") == "medication":
            lines.append({f: _text(entry.get(f)) for f in LINE_FIELDS})
        elif entry.get("kind") == "vaccination":
            values.update(
                vaccine=_text(entry.get("name")),
                date=_text(entry.get("date")),
                lot=_text(entry.get("lot")),
            )
    return lines[:MAX_LINES]


def _text(value: Any) -> str:
    return _clean(value) if isinstance(value, str) else ""
