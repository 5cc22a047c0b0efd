"""A document's version history, and what changed between two of its versions.

A replacement is a new `documents` row linked both ways to the one it replaced
(`replaces_id`, `replaced_by_id`); the chain of those rows is the document's history.
Both use cases are reads of the document named in the path: decided and traced as reading
it (`detail.part`). Each other version is shown only if reading that version by itself
would be allowed (the same pure decision the listing applies to each document), so that
a version masked from a professional stays out of the history they see, as it stays out
of their listing.
"""

from __future__ import annotations

import difflib
from typing import Any

from server.errors import Conflict, InvalidInput
from server.models import Document, DocumentContent, DocumentText, Dossier
from server.policy import Action, decide
from server.services import document_text, guard, lookup, views
from server.services.context import Ctx, Principal
from server.services.facts import document_facts

# A chain longer than this is a bug, not a history: the walk stops there.
MAX_VERSIONS = 1000
# A diff compares at most this much of each text (difflib is quadratic at worst): enough
# for any report; the answer says when a text was cut.
MAX_DIFF_LINES = 2000
MAX_DIFF_CHARS = 200_000
PLAIN = "text/plain"
NONCE_BYTES = 12

TEXT_MISSING = {
    "pending": ("text_pending", "Le texte de cette version est en cours de lecture."),
    "failed": ("text_failed", "Le texte de cette version n'a pas pu être lu."),
    None: ("text_unavailable", "Cette version n'a pas de texte à comparer."),
}


def history(ctx: Ctx, who: Principal, dossier_id: int, logical_id: str) -> dict[str, Any]:
    read, detail = Action.DOCUMENT_READ, {"part": "versions"}
    row, patient = lookup.dossier(ctx, who, read, dossier_id)
    doc = lookup.document(ctx, who, read, row, patient, logical_id, detail)
    granted = guard.authorize(ctx, who, read, row, patient, doc, detail=detail)
    shown = [v for v in chain(ctx, doc) if v is doc or _readable(ctx, who, granted, v)]
    out = {
        "logical_id": doc.logical_id,
        "versions": [_version(ctx, row, v) for v in shown],
    }
    return views.with_banner(out, granted)


def diff(
    ctx: Ctx, who: Principal, dossier_id: int, logical_id: str, against: str | None
) -> dict[str, Any]:
    if not against:
        raise InvalidInput("against_required", "Indiquez la version à comparer (« against »).")
    read, detail = Action.DOCUMENT_READ, {"part": "diff"}
    row, patient = lookup.dossier(ctx, who, read, dossier_id)
    doc = lookup.document(ctx, who, read, row, patient, logical_id, detail)
    granted = guard.authorize(ctx, who, read, row, patient, doc, detail=detail)
    # The other version is read too: decided and traced like reading it, before anything
    # about it (even whether it belongs to this document) is told.
    other = lookup.document(ctx, who, read, row, patient, against, detail)
    guard.authorize(ctx, who, read, row, patient, other, detail=detail)
    if other.id not in {v.id for v in chain(ctx, doc)}:
        raise InvalidInput(
            "not_a_version", "Les deux documents ne sont pas des versions du même document."
        )
    old, new = sorted((doc, other), key=lambda v: v.version)
    before, cut_before = _bounded(_text(ctx, row, old))
    after, cut_after = _bounded(_text(ctx, row, new))
    out = {
        "from": _ref(old),
        "to": _ref(new),
        "lines": line_diff(before, after),
        "truncated": cut_before or cut_after,
    }
    return views.with_banner(out, granted)


def chain(ctx: Ctx, doc: Document) -> list[Document]:
    """Every version of `doc`'s document, oldest first."""
    older: list[Document] = []
    current = doc
    while current.replaces_id is not None and len(older) < MAX_VERSIONS:
        previous = _same_dossier(ctx, current.replaces_id, doc.dossier_id)
        if previous is None:
            break
        older.append(previous)
        current = previous
    newer: list[Document] = []
    current = doc
    while current.replaced_by_id is not None and len(newer) < MAX_VERSIONS:
        following = _same_dossier(ctx, current.replaced_by_id, doc.dossier_id)
        if following is None:
            break
        newer.append(following)
        current = following
    return [*reversed(older), doc, *newer]


def line_diff(before: list[str], after: list[str]) -> list[dict[str, str]]:
    """Lines kept, removed and added, in reading order (a changed line: removed, then
    added)."""
    lines: list[dict[str, str]] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            lines += [{"op": "same", "text": t} for t in before[i1:i2]]
            continue
        lines += [{"op": "removed", "text": t} for t in before[i1:i2]]
        lines += [{"op": "added", "text": t} for t in after[j1:j2]]
    return lines


def _same_dossier(ctx: Ctx, doc_id: int, dossier_id: int) -> Document | None:
    found = ctx.session.get(Document, doc_id)
    return found if found is not None and found.dossier_id == dossier_id else None


def _readable(ctx: Ctx, who: Principal, granted: guard.Granted, version: Document) -> bool:
    """Whether reading `version` by itself would be allowed: the decision is pure, and only
    the document's facts differ from the one just decided (as in the listing)."""
    return decide(
        who.actor,
        Action.DOCUMENT_READ,
        granted.facts,
        document_facts(version),
        granted.context,
        ctx.matrix,
    ).allowed


def _version(ctx: Ctx, row: Dossier, version: Document) -> dict[str, Any]:
    meta = views.document(ctx, version)
    keep = (
        "logical_id",
        "version",
        "title",
        "category",
        "mime_type",
        "created_at",
        "submitted_at",
        "author",
        "author_institution",
        "status",
        "labels",
    )
    return {
        **{name: meta[name] for name in keep},
        "replace_reason": _replace_reason(ctx, row, version),
        "text_status": _text_status(ctx, version),
    }


def _replace_reason(ctx: Ctx, row: Dossier, version: Document) -> str | None:
    sealed = version.replace_reason
    if sealed is None or row.wrapped_key is None:
        return None
    opened = ctx.keyring.decrypt(
        row.wrapped_key,
        sealed[:NONCE_BYTES],
        sealed[NONCE_BYTES:],
        f"{version.logical_id}:replace_reason",
    )
    return opened.decode()


def _text_status(ctx: Ctx, version: Document) -> str:
    """Whether this version can be compared: ready, pending (OCR to come), failed, none."""
    if version.mime_type == PLAIN:
        return "ready"
    stored = ctx.session.get(DocumentText, version.id)
    return stored.status if stored is not None else "none"


def _text(ctx: Ctx, row: Dossier, version: Document) -> str:
    """A version's text: its content for plain text, else its sealed extracted text."""
    if row.wrapped_key is None:
        raise Conflict("content_unavailable", "Le contenu de ce document n'est plus disponible.")
    if version.mime_type == PLAIN:
        stored = ctx.session.get(DocumentContent, version.id)
        if stored is None:
            raise Conflict(
                "content_unavailable", "Le contenu de ce document n'est plus disponible."
            )
        body = ctx.keyring.decrypt(
            row.wrapped_key, stored.nonce, stored.ciphertext, version.logical_id
        )
        return body.decode("utf-8", errors="replace")
    text = ctx.session.get(DocumentText, version.id)
    if text is None or text.status != "ready" or text.ciphertext is None or text.nonce is None:
        reason, message = (
            TEXT_MISSING.get(text.status if text is not None else None) or (TEXT_MISSING[None])
        )
        raise Conflict(reason, f"Version {version.version} : {message}")
    opened = document_text.unseal(
        ctx, row, version, document_text.TEXT, text.nonce, text.ciphertext
    )
    return opened.decode()


def _bounded(text: str) -> tuple[list[str], bool]:
    cut = len(text) > MAX_DIFF_CHARS
    lines = text[:MAX_DIFF_CHARS].splitlines()
    if len(lines) > MAX_DIFF_LINES:
        return lines[:MAX_DIFF_LINES], True
    return lines, cut


def _ref(version: Document) -> dict[str, Any]:
    return {"logical_id": version.logical_id, "version": version.version}
