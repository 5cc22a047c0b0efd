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

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from kiosk import medicines
from kiosk.client import ServerUnavailable
from kiosk.fhir_documents import FHIR_MIME_TYPE, KINDS, VACCINATION
from kiosk.i18n import PARIS
from kiosk.i18n import gettext as _
from kiosk.terminal import DraftNote, Terminal

from . import home as go_home
from . import new_submission_id, server, terminal, unreachable_message, valid_submission_id
from .pro import deposit_kinds, offered_forms
from .typed import FLAGS, LINE_FIELDS, MAX_LINES, clean, request_body, typed_lines

bp = Blueprint("deposit", __name__, url_prefix="/pro/dossier")

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
        title=clean(form.get("title"))[:200],
        kind=clean(form.get("category"))[:32],
        lines=min(int(lines), MAX_LINES) if lines.isascii() and lines.isdigit() else 0,
    )


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
    lines = typed_lines(form)
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
    errors, body = request_body(t, name, form, lines)
    if errors or body is None:
        return _render(t, name, form, lines, submission, replaces, errors), 400
    d = t.dossier.dossier_id
    try:
        if replaces:
            reason = clean(form.get("replace_reason"))[:500]
            if reason:
                body = {**body, "replace_reason": reason}  # kept with the old version
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
    kinds = deposit_kinds(t.pro.may)
    # A new version keeps its category (the server refuses another): offer only its types.
    keep = values.get("replace_category") if replaces else None
    if keep:
        kinds = [k for k in kinds if k[0] == keep] or kinds
    return render_template(
        "deposit.html",
        form_name=name,
        kind=kind,
        kinds=kinds,
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
        secret=t.dossier is not None and t.dossier.secret,
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


def _draft_of(name: str, form: Mapping[str, str], lines: list[dict[str, str]]) -> DraftNote:
    kind = KINDS.get(name)
    if kind is None:
        chosen = next((k for k in _all_kinds() if k[1] == form.get("type_code")), None)
        category = chosen[0] if chosen else ""
    else:
        category = kind.category
    typed = sum(1 for line in lines if line.get("name"))
    if kind is VACCINATION:
        typed = 1 if clean(form.get("vaccine")) else 0
    return DraftNote(clean(form.get("title"))[:200], category, typed)


def _all_kinds() -> list[tuple[str, str, str]]:
    t = terminal()
    return deposit_kinds(t.pro.may) if t.pro is not None else []


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
    # typed as free text before the kiosk had one (its lines then start empty, and its
    # text is shown above them, to be typed again as lines).
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
    values["replace_category"] = str(old.get("category", ""))
    for flag in FLAGS:
        if (old.get("flags") or {}).get(flag):
            values[flag] = "on"
    lines: list[dict[str, str]] = [{}]
    if old.get("mime_type") == "text/plain":
        content = server().document_content(d, logical_id)
        if content.ok and content.content_type == "text/plain" and isinstance(content.body, bytes):
            text = content.body.decode("utf-8", errors="replace")
            values["text" if name == "text" else "previous_text"] = text
    elif name != "text" and old.get("mime_type") == FHIR_MIME_TYPE:
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
    return clean(value) if isinstance(value, str) else ""
