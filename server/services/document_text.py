"""The text and structure read from each document version, sealed per dossier.

Both are health content: sealed like the content itself under the dossier's data key,
each bound to its document and part by the associated data ("<logical_id>:text",
"<logical_id>:structure"; docs/documents.md), so that a ciphertext moved to another row
or part fails to open, and destroying the dossier key at purge destroys them.
"""

from __future__ import annotations

import json
from typing import Any

from server.content.reading import Reading
from server.models import Document, DocumentStructure, DocumentText, Dossier
from server.search import index as search_index
from server.services.context import Ctx

TEXT, STRUCTURE = "text", "structure"


def seal(
    ctx: Ctx, dossier_row: Dossier, doc: Document, part: str, plain: bytes
) -> tuple[bytes, bytes]:
    """(nonce, ciphertext) of `plain` under the dossier key, bound to `doc` and `part`."""
    if dossier_row.wrapped_key is None:
        raise ValueError("the dossier's key is destroyed")
    return ctx.keyring.encrypt(dossier_row.wrapped_key, plain, f"{doc.logical_id}:{part}")


def unseal(
    ctx: Ctx, dossier_row: Dossier, doc: Document, part: str, nonce: bytes, sealed: bytes
) -> bytes:
    if dossier_row.wrapped_key is None:
        raise ValueError("the dossier's key is destroyed")
    return ctx.keyring.decrypt(dossier_row.wrapped_key, nonce, sealed, f"{doc.logical_id}:{part}")


def store_understood(ctx: Ctx, dossier_row: Dossier, doc: Document, reading: Reading) -> None:
    """The rows of a new version (flushed, so `doc.id` is set): its text, ready or left
    for the OCR worker, and its structure when it has one."""
    if reading.text is not None:
        set_text(ctx, dossier_row, doc, reading.text, reading.source or "plain")
    elif reading.ocr:
        ctx.session.add(
            DocumentText(
                document_id=doc.id,
                status="pending",
                attempts=0,
                next_attempt_at=ctx.now,
                updated_at=ctx.now,
            )
        )
    plain = structure_plain(reading)
    if plain is not None:
        nonce, sealed = seal(ctx, dossier_row, doc, STRUCTURE, plain)
        ctx.session.add(DocumentStructure(document_id=doc.id, nonce=nonce, ciphertext=sealed))


def structure_plain(reading: Reading) -> bytes | None:
    """The JSON stored (sealed) as a document's structure, None when it has none. Pure:
    bench/population.py stores generated documents' structures with it."""
    if not (reading.sections or reading.entries):
        return None
    structure = {"sections": reading.sections, "entries": reading.entries}
    return json.dumps(structure, ensure_ascii=False, separators=(",", ":")).encode()


def set_text(ctx: Ctx, dossier_row: Dossier, doc: Document, text: str, source: str) -> None:
    """Seals `text` as the document's ready text (`source`: layer, narrative, plain, ocr),
    over a pending row if there is one. At deposit, the new version is born queued for
    the search indexer; a text read later (OCR) is announced with `text_ready`."""
    row = ctx.session.get(DocumentText, doc.id)
    if row is None:
        row = DocumentText(document_id=doc.id, attempts=0)
        ctx.session.add(row)
    row.nonce, row.ciphertext = seal(ctx, dossier_row, doc, TEXT, text.encode())
    row.status, row.source = "ready", source
    row.next_attempt_at = None
    row.updated_at = ctx.now


def text_ready(ctx: Ctx, doc: Document) -> None:
    """Called when the OCR worker has read a stored document's text: the document is
    queued again for the indexer in the same transaction. A search confirms queued
    documents against their text, so it is searchable by its words exactly when its text
    is stored (server/search/index.py); the indexer reads the text back, sealed."""
    search_index.queue(ctx, doc)


def text_of(ctx: Ctx, dossier_row: Dossier, doc: Document) -> tuple[str, str | None]:
    """(status, text): status ready, pending, failed or none (no text row)."""
    row = ctx.session.get(DocumentText, doc.id)
    if row is None:
        return "none", None
    if row.status != "ready" or row.nonce is None or row.ciphertext is None:
        return row.status, None
    return "ready", unseal(ctx, dossier_row, doc, TEXT, row.nonce, row.ciphertext).decode()


def structure_view(ctx: Ctx, dossier_row: Dossier, doc: Document) -> dict[str, Any]:
    """The answer of GET .../structure (docs/documents.md)."""
    text = ctx.session.get(DocumentText, doc.id)
    out: dict[str, Any] = {
        "text_status": text.status if text is not None else "none",
        "sections": [],
        "entries": [],
    }
    stored = ctx.session.get(DocumentStructure, doc.id)
    if stored is not None:
        plain = unseal(ctx, dossier_row, doc, STRUCTURE, stored.nonce, stored.ciphertext)
        structure = json.loads(plain)
        out["sections"], out["entries"] = structure["sections"], structure["entries"]
    return out
