"""Acting for someone else at the kiosk (issue 13): choosing whose dossier to open, and
the patient's own delegations ("Mes délégations").

A representative's or delegate's card signs them in as themself; the server lists the
dossiers they may act on (/me/dossiers) and decides every request on them. The kiosk
only remembers, for this session, which dossier was chosen (it leaves with the card).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from flask import Blueprint, abort, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from kiosk.i18n import gettext as _
from kiosk.labels import CATEGORIES
from kiosk.terminal import Dossier, Terminal

from . import new_submission_id, server, terminal, valid_submission_id

bp = Blueprint("acting", __name__, url_prefix="/patient")

INS_RE = re.compile(r"^[12378][0-9]{4}(?:[0-9]{2}|2A|2B)[0-9]{8}$")
DAY_RE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
NAME_MAX = 100


def _signed_in() -> Terminal:
    t = terminal()
    if t.patient is None or not t.patient.token or t.patient_card is None:
        abort(403)
    return t


def _own_dossier_id(t: Terminal) -> int | None:
    identity = t.patient_card.identity if t.patient_card else None
    if identity is None:
        return None
    r = server().lookup_dossier(identity.ins)
    return int(r.body["dossier_id"]) if r.ok else None


def others() -> dict[str, list[dict[str, Any]]]:
    """The dossiers the card holder may act on for someone else (empty if none)."""
    r = server().my_dossiers()
    if not r.ok or not isinstance(r.body, dict):
        return {"represented": [], "delegated": []}
    return {
        "represented": list(r.body.get("represented", [])),
        "delegated": list(r.body.get("delegated", [])),
    }


def _name(entry: dict[str, Any]) -> str:
    return f"{entry.get('first_names', '')} {entry.get('birth_name', '')}".strip()


@bp.route("/choose", methods=["GET", "POST"])
def choose() -> Response | str | tuple[str, int]:
    t = _signed_in()
    found = others()
    own = _own_dossier_id(t)
    if request.method == "GET":
        return render_template(
            "choose_dossier.html",
            own=own,
            represented=found["represented"],
            delegated=found["delegated"],
        )
    kind = request.form.get("kind", "")
    raw = request.form.get("dossier_id", "")
    chosen = int(raw) if raw.isascii() and raw.isdigit() else None
    if kind == "own" and own is not None:
        t.dossier = Dossier(own)
        return redirect(url_for("patient.home"))
    # Only a dossier the server just listed for this card holder can be chosen.
    lists = {"representative": found["represented"], "delegate": found["delegated"]}
    for entry in lists.get(kind, []):
        if entry.get("dossier_id") == chosen and chosen is not None:
            t.dossier = Dossier(chosen, acting=kind, acting_for=_name(entry))
            if kind == "delegate":
                return redirect(url_for("delegate.home"))
            return redirect(url_for("patient.home"))
    return render_template("error.html", message=_("Ce dossier n'est pas proposé.")), 400


# ---- Mes délégations ------------------------------------------------------------------


def _own(t: Terminal) -> int:
    """Delegations are the patient's own: never offered while acting for someone else."""
    if t.dossier is not None and t.dossier.acting is not None:
        abort(403)
    d = t.dossier.dossier_id if t.dossier is not None else _own_dossier_id(t)
    if d is None:
        abort(404)
    return d


def _page(d: int, *, error: str | None = None, form: dict[str, Any] | None = None) -> str:
    r = server().delegations(d)
    listed = r.body.get("delegations", []) if r.ok and isinstance(r.body, dict) else []
    return render_template(
        "delegations.html",
        delegations=listed,
        categories=CATEGORIES,
        error=error or (None if r.ok else r.message),
        form=form or {},
        today=date.today().isoformat(),
        submission=new_submission_id(),
        done=request.args.get("done"),
    )


@bp.route("/delegations", methods=["GET", "POST"])
def delegations() -> Response | str | tuple[str, int]:
    t = _signed_in()
    d = _own(t)
    if request.method == "GET":
        return _page(d)
    submission = valid_submission_id(request.form.get("submission"))
    if request.form.get("op") == "revoke":
        raw = request.form.get("delegation_id", "")
        if not (raw.isascii() and raw.isdigit()):
            return _page(d, error=_("Délégation introuvable.")), 400
        r = server().revoke_delegation(d, int(raw), submission=submission)
        if not r.ok:
            return _page(d, error=r.message), 400
        return redirect(url_for("acting.delegations", done="revoked"))
    form = {
        "ins": (request.form.get("ins") or "").strip().upper(),
        "birth_name": (request.form.get("birth_name") or "").strip()[:NAME_MAX],
        "categories": [c for c in request.form.getlist("categories") if c in CATEGORIES],
        "until": (request.form.get("until") or "").strip(),
    }
    problem = _check(form)
    if problem is not None:
        return _page(d, error=problem, form=form), 400
    r = server().give_delegation(d, form, submission=submission)
    if not r.ok:
        return _page(d, error=r.message, form=form), 400
    return redirect(url_for("acting.delegations", done="given"))


def _check(form: dict[str, Any]) -> str | None:
    """What the kiosk can tell at once, in French; the server checks everything again."""
    if not INS_RE.match(form["ins"]):
        return _("Le numéro INS a 15 caractères (chiffres, 2A ou 2B pour la Corse).")
    if not form["birth_name"]:
        return _("Le nom de naissance est obligatoire.")
    if not form["categories"]:
        return _("Choisissez au moins une catégorie de documents.")
    if not DAY_RE.match(form["until"]):
        return _("Choisissez la date de fin.")
    return None
