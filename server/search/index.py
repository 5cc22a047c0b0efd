"""Keeping a document's postings: built from its metadata and text, dropped on demand.

A document is queued (`documents.search_queued`) when it is stored and whenever its text
becomes known (after OCR: `services/document_text.text_ready`), in the same transaction; the
indexer of the background worker (server/search/indexer.py) then calls `index_document`,
which replaces whatever postings the document had. Until then, a search confirms queued
documents against their text directly (server/search/query.py), so that a document is
found from the moment it is stored while its deposit pays for one column of the row it
writes anyway, not for hundreds of postings. Visibility is no part of the index: masking
changes no posting, because every query applies the policy's current answer to each
candidate.
"""

from __future__ import annotations

from sqlalchemy import Integer, bindparam, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm.attributes import set_committed_value

from server.db import core
from server.models import Document, Dossier, Professional, SearchPosting, table_of
from server.search import fields, normalise, tokens
from server.services.context import Ctx

_POSTINGS = table_of(SearchPosting)
_INSERT = insert(_POSTINGS)
# PostgreSQL: one statement with the tokens as one array parameter. An executemany of a
# few hundred rows took 12-15 ms, this 3-5 ms (bench/search_bench.py).
_INSERT_PG = insert(_POSTINGS).from_select(
    ["dossier_id", "token", "document_id"],
    select(
        bindparam("dossier_id", type_=Integer),
        func.unnest(bindparam("tokens", type_=ARRAY(Integer))),
        bindparam("document_id", type_=Integer),
    ),
)
_FORGET = delete(_POSTINGS).where(_POSTINGS.c.document_id == bindparam("document_id"))
_DOC = table_of(Document)
_UNQUEUE = update(_DOC).where(_DOC.c.id == bindparam("document_id")).values(search_queued=False)
_QUEUE = update(_DOC).where(_DOC.c.id == bindparam("document_id")).values(search_queued=True)


def queue(ctx: Ctx, doc: Document) -> None:
    """Queues a stored document version again for the background indexer (a new version
    is born queued; this is for its text read later by the OCR). Always an UPDATE, never
    the ORM's view of the flag: when the indexer holds the row (it is indexing an older
    state of the document and will clear the flag), the flag may still read as set here,
    but the UPDATE waits for the indexer's transaction and sets it again after it."""
    core(ctx.session).execute(_QUEUE, {"document_id": doc.id})
    set_committed_value(doc, "search_queued", True)


def describe(ctx: Ctx, doc: Document) -> fields.Described:
    pro = (
        ctx.session.get(Professional, doc.author_professional_id)
        if doc.author_professional_id is not None
        else None
    )
    return fields.Described(
        doc.title,
        doc.category,
        fields.author_text(
            ctx.matrix,
            pro.first_name if pro else None,
            pro.last_name if pro else None,
            pro.profession if pro else None,
            patient=doc.author_patient_id is not None,
            insurer=doc.author_service_id is not None,
        ),
        doc.author_institution,
        (doc.created_at, doc.service_start, doc.service_end),
    )


def index_document(ctx: Ctx, dossier_row: Dossier, doc: Document, text: str | None) -> int:
    """(Re)builds `doc`'s postings from its metadata and `text` (None: no text known yet).
    Returns how many postings it holds. Nothing is indexed for a dossier whose key is
    destroyed: there is nothing left to search."""
    forget_document(ctx, doc.id)
    if dossier_row.wrapped_key is None:
        return 0
    found = document_words(describe(ctx, doc), text)
    keyed = tokens.for_dossier(ctx.keyring, dossier_row.wrapped_key).for_document(found)
    conn = core(ctx.session)
    if keyed and conn.dialect.name == "postgresql":
        params = {"dossier_id": dossier_row.id, "tokens": sorted(keyed), "document_id": doc.id}
        conn.execute(_INSERT_PG, params)
    elif keyed:
        conn.execute(
            _INSERT,
            [{"dossier_id": dossier_row.id, "token": t, "document_id": doc.id} for t in keyed],
        )
    return len(keyed)


def document_words(described: fields.Described, text: str | None) -> list[str]:
    """The words a document is indexed by: its metadata and its text (None: not read
    yet). Pure, so that bench/population.py indexes generated documents exactly as a
    deposit does."""
    return normalise.words(f"{described.title}\n{described.line()}\n{text or ''}")


def forget_document(ctx: Ctx, document_id: int) -> None:
    core(ctx.session).execute(_FORGET, {"document_id": document_id})


def forget_entirely(ctx: Ctx, document_id: int) -> None:
    """Its postings, and its place in the indexer's queue (a deleted document)."""
    forget_document(ctx, document_id)
    core(ctx.session).execute(_UNQUEUE, {"document_id": document_id})


def forget_logical(ctx: Ctx, dossier_id: int, logical_id: str) -> None:
    """Drops the postings of a document named by its logical id (a logical deletion)."""
    found = ctx.session.scalar(
        select(Document.id).where(
            Document.dossier_id == dossier_id, Document.logical_id == logical_id
        )
    )
    if found is not None:
        forget_entirely(ctx, found)
