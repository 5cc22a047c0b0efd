"""OCR in the background: `document_texts` rows waiting for it (`pending`) get their text.

A scan or a photograph is stored at deposit at once, with a pending text row; this worker
reads it later, so that no request waits for Tesseract (issue #11). Each row goes:

1. Claim (one short transaction): a due pending row takes one attempt (`attempts + 1`)
   and a lease (`next_attempt_at = now + lease`, so that no other worker finds it due).
   PostgreSQL takes rows with FOR UPDATE SKIP LOCKED, so that concurrent workers split
   them instead of waiting; SQLite's BEGIN IMMEDIATE serialises the claims. The attempt
   is counted when it begins: a document that crashes the worker still ends `failed`.
2. Read (one short transaction): the content is decrypted, in memory only.
3. OCR, outside any transaction (seconds per page).
4. Store (one short transaction), only if the row still carries this claim (status
   pending and the same attempt count): the text sealed under the dossier key, status
   `ready`, source `ocr`, and the search index told (`text_ready`) in the same commit.
   On failure: back off and retry; after OCR_MAX_ATTEMPTS, status `failed`.

The document itself (its row and its sealed content) is never written here: a failed OCR
costs the document its searchability, never its content. Logs name rows and reason
codes, never a word of a document.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import or_, select

from server.content import ocr
from server.models import Document, DocumentContent, DocumentText, Dossier
from server.services import document_text
from server.services.context import Ctx

if TYPE_CHECKING:
    from server.api.runtime import Runtime

log = logging.getLogger("dmp.ocr")

# One document per pass: a claim holds no more than what is being read, so that a second
# worker takes the next document instead of waiting behind this one's batch.
BATCH = 1
BASE_BACKOFF_SECONDS = 60
# The lease outlives the OCR deadline by this much (reading, sealing, committing).
LEASE_MARGIN_SECONDS = 60


@dataclass(frozen=True, slots=True)
class Claimed:
    document_id: int
    attempt: int  # the row's `attempts` once claimed: this claim's token


@dataclass(frozen=True, slots=True)
class Outcome:
    document_id: int
    status: str  # ready | pending (retry later) | failed | released | lost
    pages: int = 0


def limits(settings: dict[str, Any]) -> ocr.Limits:
    return ocr.Limits(
        max_pages=int(settings["OCR_MAX_PAGES"]),
        max_pixels=int(settings["OCR_MAX_PIXELS"]),
        seconds=float(settings["OCR_SECONDS"]),
    )


def backoff(attempts: int, cap_seconds: int) -> timedelta:
    """60 s, 120 s, 240 s... doubling per failed attempt, capped."""
    return timedelta(seconds=min(cap_seconds, BASE_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)))


def lease_seconds(settings: dict[str, Any]) -> float:
    return float(settings["OCR_SECONDS"]) + LEASE_MARGIN_SECONDS


def claim(ctx: Ctx, batch: int = BATCH) -> list[Claimed]:
    """Takes an attempt and a lease on due pending rows; the caller commits."""
    now = ctx.now
    rows = ctx.session.scalars(
        select(DocumentText)
        .where(
            DocumentText.status == "pending",
            or_(DocumentText.next_attempt_at.is_(None), DocumentText.next_attempt_at <= now),
        )
        .order_by(DocumentText.document_id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    most = int(ctx.settings["OCR_MAX_ATTEMPTS"])
    until = now + timedelta(seconds=lease_seconds(ctx.settings))
    claimed = []
    for row in rows:
        row.updated_at = now
        if row.attempts >= most:
            # Its last attempt never came back (the worker died during it).
            row.status, row.next_attempt_at = "failed", None
            log.warning("document %d: OCR given up after %d attempts", row.document_id, most)
            continue
        row.attempts += 1
        row.next_attempt_at = until
        claimed.append(Claimed(row.document_id, row.attempts))
    return claimed


@contextmanager
def transaction(rt: Runtime) -> Iterator[Ctx]:
    """One short transaction with its own clock reading, committed when the block ends
    normally. Never held across the OCR itself."""
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        yield ctx
        session.commit()


def run_once(
    rt: Runtime, cancel: threading.Event | None = None, batch: int = BATCH
) -> list[Outcome]:
    """Claims due pending rows and reads them; one outcome per claimed row."""
    with transaction(rt) as ctx:
        claimed = claim(ctx, batch)
    return [read_one(rt, c, cancel) for c in claimed]


def read_one(rt: Runtime, claimed: Claimed, cancel: threading.Event | None = None) -> Outcome:
    with transaction(rt) as ctx:
        found = _sealed_content(ctx, claimed.document_id)
    if found is None:
        with transaction(rt) as ctx:
            return _give_up(ctx, claimed, "content_unavailable")
    body, mime_type = found
    error: ocr.OcrError | None = None
    try:
        read = ocr.read_text(body, mime_type, limits(rt.settings), cancel=cancel)
    except ocr.OcrCancelled:
        with transaction(rt) as ctx:
            return _release(ctx, claimed)
    except ocr.OcrError as exc:
        error = exc
    except Exception as exc:
        # A decoder's bug must not kill the worker nor strand the claim; only the type is
        # kept, since an unknown exception's text might quote the document.
        error = ocr.OcrError(type(exc).__name__)
    with transaction(rt) as ctx:
        if error is not None:
            if error.permanent:
                return _give_up(ctx, claimed, error.reason)
            return _failed(ctx, claimed, error.reason)
        return _ready(ctx, claimed, read)


def _sealed_content(ctx: Ctx, document_id: int) -> tuple[bytes, str] | None:
    doc = ctx.session.get(Document, document_id)
    if doc is None:
        return None
    dossier = ctx.session.get(Dossier, doc.dossier_id)
    stored = ctx.session.get(DocumentContent, doc.id)
    if dossier is None or dossier.wrapped_key is None or stored is None:
        return None  # purged: the key is destroyed, nothing can be read any more
    body = ctx.keyring.decrypt(dossier.wrapped_key, stored.nonce, stored.ciphertext, doc.logical_id)
    return body, doc.mime_type


def _still_mine(ctx: Ctx, claimed: Claimed) -> DocumentText | None:
    """The row, locked, if it still carries this claim; None if another worker took it
    over (this one outlived its lease) or it is no longer pending."""
    row = ctx.session.scalars(
        select(DocumentText)
        .where(
            DocumentText.document_id == claimed.document_id,
            DocumentText.status == "pending",
            DocumentText.attempts == claimed.attempt,
        )
        .with_for_update()
    ).first()
    if row is None:
        log.warning(
            "document %d: OCR claim lost (taken over after its lease, or purged)",
            claimed.document_id,
        )
    return row


def _ready(ctx: Ctx, claimed: Claimed, read: ocr.Read) -> Outcome:
    row = _still_mine(ctx, claimed)
    doc = ctx.session.get(Document, claimed.document_id)
    dossier = ctx.session.get(Dossier, doc.dossier_id) if doc is not None else None
    if row is None or doc is None or dossier is None:
        return Outcome(claimed.document_id, "lost")
    if dossier.wrapped_key is None:
        return _give_up(ctx, claimed, "dossier_key_destroyed")
    # Sealed over the claimed row, and announced to the search index.
    document_text.set_text(ctx, dossier, doc, read.text, "ocr")
    document_text.text_ready(ctx, doc)
    log.info(
        "document %d: OCR text ready (%d page(s)%s)",
        claimed.document_id,
        read.pages,
        ", first pages only" if read.truncated else "",
    )
    return Outcome(claimed.document_id, "ready", read.pages)


def _failed(ctx: Ctx, claimed: Claimed, reason: str) -> Outcome:
    row = _still_mine(ctx, claimed)
    if row is None:
        return Outcome(claimed.document_id, "lost")
    row.updated_at = ctx.now
    most = int(ctx.settings["OCR_MAX_ATTEMPTS"])
    if row.attempts >= most:
        row.status, row.next_attempt_at = "failed", None
        log.warning("document %d: OCR failed (%s), given up", claimed.document_id, reason)
        return Outcome(claimed.document_id, "failed")
    row.next_attempt_at = ctx.now + backoff(
        row.attempts, int(ctx.settings["OCR_MAX_BACKOFF_SECONDS"])
    )
    log.warning(
        "document %d: OCR failed (%s), attempt %d of %d",
        claimed.document_id,
        reason,
        row.attempts,
        most,
    )
    return Outcome(claimed.document_id, "pending")


def _give_up(ctx: Ctx, claimed: Claimed, reason: str) -> Outcome:
    """Retrying cannot help: not a scan, or nothing left to read (purged)."""
    row = _still_mine(ctx, claimed)
    if row is None:
        return Outcome(claimed.document_id, "lost")
    row.status, row.next_attempt_at, row.updated_at = "failed", None, ctx.now
    log.warning("document %d: OCR not possible (%s)", claimed.document_id, reason)
    return Outcome(claimed.document_id, "failed")


def _release(ctx: Ctx, claimed: Claimed) -> Outcome:
    """The worker is stopping: the row is due again at once, its attempt not counted."""
    row = _still_mine(ctx, claimed)
    if row is None:
        return Outcome(claimed.document_id, "lost")
    row.attempts -= 1
    row.next_attempt_at, row.updated_at = ctx.now, ctx.now
    return Outcome(claimed.document_id, "released")


def run(
    rt: Runtime,
    stop: threading.Event,
    *,
    poll_seconds: float = 2.0,
    once: bool = False,
) -> int:
    """Reads due pending texts until `stop` is set (or, with once, until none is due);
    returns how many texts became ready. Setting `stop` also cuts a running Tesseract
    short: its row is released for the next start."""
    if ocr.tesseract_binary() is None:
        log.error("tesseract not found: documents waiting for OCR stay pending")
        return 0
    done = 0
    while not stop.is_set():
        try:
            outcomes = run_once(rt, stop)
        except Exception:
            # The database may be away for a moment: wait and retry rather than die.
            log.exception("OCR pass failed")
            outcomes = []
            if once:
                raise
        done += sum(o.status == "ready" for o in outcomes)
        if not outcomes:
            if once:
                break
            stop.wait(poll_seconds)  # returns at once when a signal sets stop
    return done
