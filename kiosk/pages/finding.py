"""Searching a dossier's documents, and a document's versions with what changed (issue 11).

Both pages serve the patient and the professional alike: the server decides what each
may find or compare (the kiosk only relays), and the page links back to each audience's
own document page. Nothing is kept: the words searched for live in the request only.
"""

from __future__ import annotations

import re
from typing import Any

from flask import render_template, request, url_for
from markupsafe import Markup, escape

from kiosk import i18n

from . import server

Q_MAX = 200  # the server's limit too: longer is refused there with a message
_MARK = re.compile(r"\[\[(.*?)\]\]", re.S)


def highlighted(snippet: str) -> Markup:
    """The server's snippet with its [[matched words]] shown as <mark>: every other
    character escaped, so nothing of a document ever becomes markup."""
    out, at = [], 0
    for found in _MARK.finditer(snippet):
        out.append(escape(snippet[at : found.start()]))
        out.append(Markup("<mark>%s</mark>") % found.group(1))
        at = found.end()
    out.append(escape(snippet[at:]))
    return Markup("").join(out)


def _no_word() -> str:
    """The server's answer to a search of only common words (reason "q_empty"), said by
    the kiosk so that it reads in the visitor's language; an empty field gets it too."""
    return i18n.gettext(
        "Saisissez au moins un mot à rechercher (les mots courants comme « de » ou « la » "
        "ne comptent pas)."
    )


def search_page(dossier_id: int, *, audience: str, back: str) -> str:
    """`audience` is the blueprint whose document pages the results open ("pro" or
    "patient")."""
    q = request.args.get("q", "").strip()[:Q_MAX]
    category = request.args.get("category") or None
    results: list[dict[str, Any]] | None = None
    error = None
    if not q:
        error = _no_word()
    else:
        r = server().search_documents(dossier_id, q, category=category)
        if r.ok and isinstance(r.body, dict):
            results = [d for d in r.body.get("documents", []) if isinstance(d, dict)]
        elif r.reason == "q_empty":
            error = _no_word()
        else:
            error = r.message or i18n.gettext("La recherche n'a pas pu aboutir.")
    return render_template(
        "search.html",
        q=q,
        results=results,
        error=error,
        audience=audience,
        back=back,
        action=url_for(f"{audience}.search"),
        highlighted=highlighted,
    )


def versions_page(dossier_id: int, logical_id: str, *, audience: str, back: str) -> str:
    """The versions the caller may read, and, with `?against=`, what changed between this
    version and that one."""
    r = server().document_versions(dossier_id, logical_id)
    if not r.ok or not isinstance(r.body, dict):
        return render_template("error.html", message=r.message)
    versions = [v for v in r.body.get("versions", []) if isinstance(v, dict)]
    against = request.args.get("against")
    diff, diff_error = None, None
    if against:
        d = server().document_diff(dossier_id, logical_id, against)
        if d.ok and isinstance(d.body, dict):
            diff = d.body
        else:
            diff_error = d.message
    return render_template(
        "versions.html",
        logical_id=logical_id,
        versions=versions,
        diff=diff,
        diff_error=diff_error,
        audience=audience,
        back=back,
    )
