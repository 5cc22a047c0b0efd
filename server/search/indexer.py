"""The background indexer: turns queued documents into postings, in the worker.

A new document version is born queued (`documents.search_queued`), and an OCR result
queues it again (`index.queue`); this loop, run by `dmp worker` and the demo beside the
OCR and the log sequencer, indexes the queue in batches, oldest first. Each batch is one
short transaction: the rows taken are locked (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so
that two workers share the queue; SQLite writes one transaction at a time anyway),
indexed and unqueued together, so a crash leaves them queued and nothing is lost. A
document whose text becomes ready while its older state is being indexed waits for the
lock, then queues it again once this batch commits.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING

from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from server.models import Document, Dossier
from server.search import index
from server.services import document_text

if TYPE_CHECKING:
    from server.api.runtime import Runtime
    from server.services.context import Ctx

log = logging.getLogger("dmp.indexer")

# Documents per transaction: large enough that a burst of deposits is absorbed in a few
# passes, small enough that a batch holds its locks for tens of milliseconds.
BATCH = 50


def index_batch(ctx: Ctx, batch: int = BATCH) -> int:
    """Indexes up to `batch` queued documents in the caller's transaction (the caller
    commits); returns how many it took off the queue."""
    taken = ctx.session.scalars(
        select(Document)
        .where(Document.search_queued.is_(True))
        .order_by(Document.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    dossiers: dict[int, Dossier | None] = {}
    for doc in taken:
        if doc.dossier_id not in dossiers:
            dossiers[doc.dossier_id] = ctx.session.get(Dossier, doc.dossier_id)
        dossier_row = dossiers[doc.dossier_id]
        if dossier_row is not None and doc.status != "deleted":
            index.index_document(ctx, dossier_row, doc, _text(ctx, dossier_row, doc))
        doc.search_queued = False
    return len(taken)


def _text(ctx: Ctx, dossier_row: Dossier, doc: Document) -> str | None:
    """The document's ready text, None when there is none (yet). A text that no longer
    opens (a damaged row) must not hold the whole queue back batch after batch: the
    document is indexed by its metadata and the operator told which one, not what."""
    if dossier_row.wrapped_key is None:
        return None
    try:
        return document_text.text_of(ctx, dossier_row, doc)[1]
    except (InvalidTag, ValueError):
        log.error("document %d: its text does not open; indexed by its metadata", doc.id)
        return None


def run_once(rt: Runtime, batch: int = BATCH) -> int:
    """One batch, committed; how many documents left the queue."""
    with rt.sessions() as session:
        done = index_batch(rt.ctx(session), batch)
        session.commit()
    return done


def drain(rt: Runtime) -> int:
    """Every queued document, batch after batch (tests, `--once`, the bench)."""
    total = 0
    while done := run_once(rt):
        total += done
    return total


def run(
    rt: Runtime, stop: threading.Event, *, poll_seconds: float = 1.0, once: bool = False
) -> int:
    """Indexes the queue until `stop` is set (or, with once, until it is empty); returns
    how many documents it indexed."""
    indexed = 0
    while not stop.is_set():
        try:
            done = run_once(rt)
        except Exception:
            # The database may be away for a moment: the queue waits, nothing is lost.
            log.exception("indexing pass failed")
            done = 0
            if once:
                raise
        indexed += done
        if done < BATCH:
            if once:
                break
            stop.wait(poll_seconds)  # returns at once when a signal sets stop
    return indexed
