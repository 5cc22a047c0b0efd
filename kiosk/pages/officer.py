"""The establishment's privacy officer (délégué à la protection des données): the queue
of flagged accesses, one case, the outcome (docs/alerts.md).

The officer signs in with their professional card and PIN like any professional; the
server answers their review requests only (server/policy/review.py), and never a
document. These pages show what it answers and decide nothing.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kiosk import i18n, officer_words
from kiosk.i18n import gettext as _

from . import home as go_home
from . import new_submission_id, server, terminal, valid_submission_id

bp = Blueprint("officer", __name__, url_prefix="/dpo")

# The card profession of an establishment's privacy officer (the server's key).
OFFICER_PROFESSION = "delegue_protection_donnees"
FILTERS = ("a_traiter", "en_cours", "justifiee", "non_justifiee")
OUTCOMES = ("justifiee", "non_justifiee", "en_cours")
COMMENT_MAX = 500

# Why an access was flagged (server/alerts/rules.py), in French and English.
RULES: dict[str, tuple[str, str]] = {
    "emergency_access": ("accès en urgence (bris de glace ou centre 15)", "emergency access"),
    "unrelated_volume": (
        "nombreux dossiers ouverts en peu de temps sans lien de soins",
        "many records opened in a short time without a care relation",
    ),
    "night_first_access": ("premier accès de nuit", "first access at night"),
    "after_block": (
        "accès peu après le blocage d'un collègue de l'établissement par le patient",
        "access shortly after the patient blocked a colleague from the same facility",
    ),
    "same_surname": (
        "le professionnel porte le nom du patient",
        "the professional shares the patient's surname",
    ),
    "blocked_attempt": (
        "tentative d'un professionnel que le patient a bloqué",
        "attempt by a professional the patient blocked",
    ),
}
STATUSES: dict[str, tuple[str, str]] = {
    "a_traiter": ("à traiter", "to review"),
    "en_cours": ("en cours", "in progress"),
    "justifiee": ("justifié", "justified"),
    "non_justifiee": ("non justifié", "not justified"),
}


def is_officer() -> bool:
    t = terminal()
    return t.pro is not None and t.pro.profession == OFFICER_PROFESSION


def _words(pair: tuple[str, str]) -> str:
    return pair[1] if i18n.current() == "en" else pair[0]


def _case(raw: dict[str, Any]) -> dict[str, Any]:
    """A case as the page shows it: the trace line in words, the rules, the status."""
    entry = raw.get("entry") or {}
    patient = raw.get("patient") or {}
    name = patient.get("name") if isinstance(patient, dict) else None
    return {
        **raw,
        "status_label": _words(STATUSES.get(str(raw.get("status")), ("?", "?"))),
        "rule_labels": [_words(RULES.get(str(r), (str(r), str(r)))) for r in raw["rules"]],
        # In the third person, the mode said once (review #8): the officer is not the
        # patient.
        "act": officer_words.act(entry, name if isinstance(name, str) else None, i18n.current()),
        "stated_reason": (entry.get("params") or {}).get("reason"),
        "refused": entry.get("outcome") == "denied",
    }


@bp.get("/")
def queue() -> Response | str:
    if not is_officer():
        return go_home()
    status = request.args.get("status")
    status = status if status in FILTERS else None
    r = server().reviews(status)
    if not r.ok:
        return render_template("error.html", message=r.message)
    cases = [_case(c) for c in r.body.get("cases", [])]
    return render_template(
        "officer_queue.html",
        cases=cases,
        status=status,
        filters=[(f, _words(STATUSES[f])) for f in FILTERS],
    )


@bp.route("/cases/<int:case_id>", methods=["GET", "POST"])
def case(case_id: int) -> Response | str | tuple[str, int]:
    if not is_officer():
        return go_home()
    error = None
    if request.method == "POST":
        outcome = request.form.get("outcome", "")
        comment = request.form.get("comment", "").strip()
        if outcome not in OUTCOMES:
            error = _("Choisissez une conclusion.")
        elif len(comment) > COMMENT_MAX:
            error = _("Le commentaire est trop long (500 caractères au plus).")
        else:
            r = server().review_outcome(
                case_id,
                outcome,
                comment or None,
                submission=valid_submission_id(request.form.get("submission")),
            )
            if r.ok:
                return redirect(url_for("officer.case", case_id=case_id, saved=1))
            error = r.message
    r = server().review(case_id)
    if not r.ok:
        return render_template("error.html", message=r.message), r.status
    return render_template(
        "officer_case.html",
        case=_case(r.body),
        error=error,
        saved=request.args.get("saved") == "1",
        submission=new_submission_id(),
        outcomes=[(o, _words(STATUSES[o])) for o in OUTCOMES],
    )
