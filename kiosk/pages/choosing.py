"""Choosing a professional by name from the directory (issue 14): the médecin traitant
when a dossier is opened, and on the patient's access page the médecin traitant or a
care-team member. Plain forms: the search and the choice work without JavaScript.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kiosk import i18n
from kiosk.client import ServerUnavailable
from kiosk.i18n import gettext as _

from . import new_submission_id, server, terminal, unreachable_message, valid_submission_id

bp = Blueprint("choosing", __name__, url_prefix="/patient/access/choose")

PURPOSES = ("medecin_traitant", "care_team")
Q_MAX = 60
MAX_PAGE = 20


@dataclass
class Found:
    """One search's answer, as the templates show it."""

    q: str = ""
    page: int = 1
    results: list[dict[str, Any]] = field(default_factory=list)
    next_page: int | None = None
    error: str | None = None
    searched: bool = False


def page_number(raw: str | None) -> int:
    if raw and raw.isascii() and raw.isdigit() and 1 <= int(raw) <= MAX_PAGE:
        return int(raw)
    return 1


def find(q: str, purpose: str, page: int = 1, *, opening: bool = False) -> Found:
    """The directory's answer, or the reason there is none, in the page's language."""
    q = q.strip()[:Q_MAX]
    if not q:
        return Found()
    if len([c for c in q if c.isalnum()]) < 2:
        return Found(q, page, error=_("Tapez au moins deux lettres du nom."), searched=True)
    try:
        r = server().find_professionals(q, purpose=purpose, page=page, opening=opening)
    except ServerUnavailable:
        return Found(q, page, error=unreachable_message(), searched=True)
    if not r.ok or not isinstance(r.body, dict):
        return Found(q, page, error=r.message, searched=True)
    english = i18n.current() == "en"
    results = [
        {
            **p,
            "profession_label": p.get("profession_label_en")
            if english
            else p.get("profession_label"),
        }
        for p in r.body.get("results", [])
        if isinstance(p, dict)
    ]
    return Found(q, page, results, r.body.get("next_page"), searched=True)


def chosen_label(found: Found, national_id: str, fallback: str = "") -> str:
    for p in found.results:
        if p.get("national_id") == national_id:
            return describe(p)
    return fallback


def describe(p: Mapping[str, Any]) -> str:
    parts = [str(p.get("name") or ""), str(p.get("profession_label") or "")]
    where = ", ".join(str(v) for v in (p.get("establishment"), p.get("town")) if v)
    return " · ".join(x for x in [*parts, where] if x)


@bp.route("/<purpose>", methods=["GET", "POST"])
def choose(purpose: str) -> Response | str | tuple[str, int]:
    """The patient's access page: find a professional by name, then choose them."""
    if purpose not in PURPOSES:
        abort(404)
    t = terminal()
    if t.patient is None or not t.patient.token or t.dossier is None:
        abort(403)
    d = t.dossier.dossier_id
    if request.method == "GET":
        found = find(request.args.get("q", ""), purpose, page_number(request.args.get("page")))
        return _page(purpose, found, None)
    form = request.form
    submission = valid_submission_id(form.get("submission"))
    national_id = (form.get("national_id") or "").strip()
    if not national_id or len(national_id) > 40:
        abort(400)
    try:
        if purpose == "medecin_traitant":
            r = server().set_medecin_traitant(d, national_id, submission=submission)
        else:
            r = server().add_care_team(d, national_id, submission=submission)
    except ServerUnavailable:
        return _page(purpose, find(form.get("q", ""), purpose), unreachable_message()), 503
    if not r.ok:
        return _page(purpose, find(form.get("q", ""), purpose), r.message), 400
    receipt_id = r.body.get("receipt_id") if isinstance(r.body, dict) else None
    t.dossier.summary = {}  # the access rules changed: ask the server again
    return redirect(url_for("patient.access", receipt=receipt_id))


def _page(purpose: str, found: Found, error: str | None) -> str:
    return render_template(
        "patient_choose.html",
        purpose=purpose,
        found=found,
        error=error,
        describe=describe,
        submission=new_submission_id(),
    )
