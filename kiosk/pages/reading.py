"""One document, read in the kiosk page itself (issue 11): never a new tab, never a file.

PDF pages are rendered to PNG by the kiosk (kiosk/viewer.py), images shown scaled, text
as text, CDA and FHIR documents as their sections and tables when the server gives their
structure, a non-structured CDA as the document it embeds (its PDF's pages, its scan, its
text; an RTF as its text). The bytes fetched for the page stay in the
session's memory (`Dossier.viewed`) so that the page's <img> requests are answered from
there; they leave with the dossier or the session. Page images are served like every
kiosk page: only to the kiosk's own browser (guard.py) and `no-store`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, abort, render_template
from markupsafe import Markup

from kiosk import viewer
from kiosk.viewer import Fetched, Unreadable

from . import server, terminal

bp = Blueprint("reading", __name__, url_prefix="/view")


@dataclass
class Structure:
    """What the document page shows of a structured document: each section with its
    medicines and vaccinations as tables (in place of its narrative, which says the same
    thing less legibly), or with its narrative; entries tied to no section at the end."""

    sections: list[dict[str, Any]] = field(default_factory=list)
    medications: list[dict[str, str]] = field(default_factory=list)
    vaccinations: list[dict[str, str]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.sections or self.medications or self.vaccinations)


MEDICATION_FIELDS = ("name", "dose", "form", "quantity", "posology")
VACCINATION_FIELDS = ("name", "date", "lot")
# What the page shows of the document a non-structured CDA embeds; anything else is said
# to be unreadable on the kiosk rather than shown as raw markup.
SHOWN_EMBEDDED = frozenset({"pdf", "image", "text", "rtf"})


def structure_of(raw: Any) -> Structure:
    """The server's structure answer, reduced to what the page shows: strings only, the
    narrative sanitised again (it is rendered as HTML in the kiosk's own page)."""
    out = Structure()
    if not isinstance(raw, dict):
        return out
    for section in _list(raw.get("sections")):
        html = _text(section.get("html")) if isinstance(section, dict) else ""
        out.sections.append(
            {
                "title": _text(section.get("title")) if isinstance(section, dict) else "",
                "html": Markup(viewer.safe_narrative(html)),  # noqa: S704 - sanitised by nh3 just now
                "medications": [],
                "vaccinations": [],
            }
        )
    for entry in _list(raw.get("entries")):
        if not isinstance(entry, dict) or entry.get("kind") not in ("medication", "vaccination"):
            continue
        kind = entry["kind"]
        names = MEDICATION_FIELDS if kind == "medication" else VACCINATION_FIELDS
        line = {k: _text(entry.get(k)) for k in names}
        index = entry.get("section")
        place: dict[str, Any] = (
            out.sections[index]
            if isinstance(index, int) and 0 <= index < len(out.sections)
            else {"medications": out.medications, "vaccinations": out.vaccinations}
        )
        place["medications" if kind == "medication" else "vaccinations"].append(line)
    return out


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def document_page(dossier_id: int, logical_id: str, *, back: str, audience: str) -> str:
    """The document page: metadata, the content shown by its kind, and the actions this
    caller may take (`audience`: "pro" may replace what the server allows, "patient"
    masks and unmasks)."""
    meta = server().document(dossier_id, logical_id)
    if not meta.ok:
        return render_template("error.html", message=meta.message)
    doc = meta.body
    kind = viewer.kind_of(str(doc.get("mime_type", "")))
    shown: dict[str, Any] = {
        "kind": kind,
        "pages": 0,
        "frames": 1,
        "text": None,
        "unreadable": False,
    }
    structure, text_status = Structure(), None
    if kind != "none":
        content = server().document_content(dossier_id, logical_id)
        if content.ok and isinstance(content.body, bytes):
            structure, text_status = _structure(dossier_id, logical_id)
            _show(shown, kind, logical_id, content.body, str(doc["mime_type"]), structure)
        else:
            shown["unreadable"] = True
    t = terminal()
    may_replace = (
        audience == "pro"
        and doc.get("may_replace") is True
        and t.pro is not None
        and bool(t.pro.may.deposit_categories)
    )
    return render_template(
        "document.html",
        doc=doc,
        shown=shown,
        structure=structure,
        text_status=text_status,
        max_pages=viewer.MAX_PAGES,
        back=back,
        audience=audience,
        can_replace=may_replace,
        emergency=t.dossier.emergency if t.dossier is not None else None,
    )


def _structure(dossier_id: int, logical_id: str) -> tuple[Structure, str | None]:
    answer = server().document_structure(dossier_id, logical_id)
    if not answer.ok or not isinstance(answer.body, dict):
        return Structure(), None  # not (yet) served: the page shows the text instead
    status = answer.body.get("text_status")
    return structure_of(answer.body), status if isinstance(status, str) else None


def _show(
    shown: dict[str, Any],
    kind: str,
    logical_id: str,
    body: bytes,
    mime_type: str,
    structure: Structure,
) -> None:
    t = terminal()
    try:
        if kind == "structured" and not structure and mime_type in viewer.XML:
            kind, mime_type, body = _embedded(kind, mime_type, body)
            shown["kind"] = kind
        if kind == "rtf":
            # An RTF reads as its text, never as its markup.
            shown["kind"] = "text"
            shown["text"] = viewer.rtf_text(body)
            shown["unreadable"] = shown["text"] is None
            return
        if kind == "pdf":
            fetched = Fetched(mime_type, body, pages=viewer.pdf_page_count(body))
            shown["pages"] = fetched.pages
        elif kind == "image":
            fetched = Fetched(
                mime_type,
                body,
                image=viewer.image_for_screen(body),
                frames=viewer.image_frames(body),
            )
            shown["frames"] = fetched.frames
        else:
            # Text, or a structured document whose structure is not served: its text.
            if kind == "text" or (kind == "structured" and not structure):
                shown["text"] = viewer.text_of(body)
                shown["unreadable"] = shown["text"] is None
            return
    except Unreadable:
        shown["unreadable"] = True
        return
    if t.dossier is not None:
        t.dossier.viewed.put(logical_id, fetched)


def _embedded(kind: str, mime_type: str, body: bytes) -> tuple[str, str, bytes]:
    """A non-structured CDA is shown as the document it carries (a PDF's pages, a scan,
    a letter's text), never as its XML and base64; a structured one is left as it is."""
    inner = viewer.cda_embedded(body)
    if inner is None:
        return kind, mime_type, body
    inner_type, inner_body = inner
    inner_kind = viewer.kind_of(inner_type)
    return (inner_kind if inner_kind in SHOWN_EMBEDDED else "none"), inner_type, inner_body


def _fetched(logical_id: str) -> Fetched:
    """A document this session opened, from memory; nothing else is ever served here."""
    t = terminal()
    if t.token() is None or t.dossier is None:
        abort(404)
    fetched = t.dossier.viewed.get(logical_id)
    if fetched is None:
        abort(404)
    return fetched


@bp.get("/<logical_id>/page/<int:number>.png")
def page(logical_id: str, number: int) -> Response:
    fetched = _fetched(logical_id)
    if not 1 <= number <= min(fetched.pages, viewer.MAX_PAGES):
        abort(404)
    try:
        png = viewer.render_pdf_page(fetched.body, number - 1)
    except Unreadable:
        abort(404)
    return _no_store(Response(png, mimetype="image/png"))


@bp.get("/<logical_id>/image")
def image(logical_id: str) -> Response:
    fetched = _fetched(logical_id)
    if fetched.image is None:
        abort(404)
    body, mime_type = fetched.image
    return _no_store(Response(body, mimetype=mime_type))


@bp.get("/<logical_id>/image/<int:number>.png")
def image_page(logical_id: str, number: int) -> Response:
    """One page of a multi-page scan (TIFF), converted when the browser asks for it."""
    fetched = _fetched(logical_id)
    if fetched.image is None or not 1 <= number <= min(fetched.frames, viewer.MAX_PAGES):
        abort(404)
    try:
        body, mime_type = (
            fetched.image if number == 1 else viewer.image_for_screen(fetched.body, number - 1)
        )
    except Unreadable:
        abort(404)
    return _no_store(Response(body, mimetype=mime_type))


def _no_store(response: Response) -> Response:
    # Health content: the browser keeps no copy (the app sets it too; said here on purpose).
    response.headers["Cache-Control"] = "no-store"
    return response
