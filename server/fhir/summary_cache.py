"""The `$summary` cache: the derived part of a patient summary, sealed under the dossier's
key and found by a key that names exactly the view it was built from (issue #12).

What is cached is what a summary derives from the documents: the documents it drew on,
its sections and its entries (resources and provenances), as the JSON text they are
served in. What changes at every request (the Bundle's and Composition's ids, the
instant, the Patient resource, an emergency mode) is built fresh around it.

The view key is HMAC-SHA256, under a key of the dossier's own (`Keyring.dossier_key`,
purpose "summary-cache"), of the format's version, the base URL, the dossier and every
column of every document version the caller was shown (`summary.STANDING` rows of
`listing.shown`: ids, version, status, the three flags, title, dates, authors,
replacement links). So:
- a caller shown another set of documents, or the same ones with another flag or
  status, computes another key: a cache row is only ever served to a view identical to
  the one that built it, whoever holds it, and the summary is a function of that view;
- a deposit, a replacement (the old version leaves the standing set, the new one enters
  it), a mask, a visibility change, an archive or a deletion changes the key of every
  view it touches: nothing needs invalidating, a stale row is never matched again;
- a document version's structure is written once, with the version (document_text.py),
  so the version's row id stands for it.

The decision and the trace are the summary's, unchanged: a hit is decided as the listing
and traced as a read of every document it drew on, like a miss.

Stored sealed (AES-256-GCM under the dossier's data key, AAD naming the dossier and the
view key): a summary is health content, and crypto-shredding the dossier (its KEK
destroyed) leaves any copy of the row unreadable; the purge also deletes the rows.
At most MAX_PER_DOSSIER rows per dossier are kept (the newest), since views that no
longer occur are never read again.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from server.db import core
from server.models import SummaryCache
from server.services.context import Ctx

# Bumped whenever the cached part's content or shape changes: older rows are then
# never matched (their key was computed with another version).
FORMAT = 1
PURPOSE = "summary-cache"
MAX_PER_DOSSIER = 8

_GET = select(SummaryCache.nonce, SummaryCache.ciphertext).where(
    SummaryCache.dossier_id == bindparam("dossier_id"),
    SummaryCache.view_key == bindparam("view_key"),
)


@dataclass(frozen=True, slots=True)
class Part:
    """The derived part of a summary: the logical ids it drew on (for the trace) and the
    JSON text of its sections and of its entries (each a JSON array)."""

    documents: list[str]
    sections: str
    entries: str

    def seal_plain(self) -> bytes:
        # JSON text never holds a raw newline (json.dumps escapes it): three lines.
        head = json.dumps(self.documents, separators=(",", ":"))
        return "\n".join((head, self.sections, self.entries)).encode()

    @classmethod
    def unseal_plain(cls, plain: bytes) -> Part:
        head, sections, entries = plain.decode().split("\n", 2)
        return cls(json.loads(head), sections, entries)


def view_key(
    ctx: Ctx, wrapped_key: bytes, dossier_id: int, base: str, rows: Iterable[Sequence[Any]]
) -> bytes:
    """The key of this view: see the module's docstring."""
    mac = hmac.new(ctx.keyring.dossier_key(wrapped_key, PURPOSE), digestmod=hashlib.sha256)
    # Every column of every row, in the statement's order, as one JSON text (dates as
    # their ISO form with offset).
    view = [FORMAT, dossier_id, base, [list(row) for row in rows]]
    mac.update(json.dumps(view, default=str).encode())
    return mac.digest()


def _aad(dossier_id: int, key: bytes) -> bytes:
    return f"summary:{dossier_id}:{key.hex()}".encode()


def get(ctx: Ctx, wrapped_key: bytes, dossier_id: int, key: bytes) -> Part | None:
    found = core(ctx.session).execute(_GET, {"dossier_id": dossier_id, "view_key": key}).first()
    if found is None:
        return None
    plain = ctx.keyring.decrypt(
        wrapped_key, found.nonce, found.ciphertext, _aad(dossier_id, key).decode()
    )
    return Part.unseal_plain(plain)


def put(ctx: Ctx, wrapped_key: bytes, dossier_id: int, key: bytes, part: Part) -> None:
    """Stores the part (a concurrent request that stored the same view first wins: both
    hold the same content), then drops this dossier's oldest rows beyond the limit."""
    nonce, sealed = ctx.keyring.encrypt(
        wrapped_key, part.seal_plain(), _aad(dossier_id, key).decode()
    )
    values = {
        "dossier_id": dossier_id,
        "view_key": key,
        "created_at": ctx.now,
        "nonce": nonce,
        "ciphertext": sealed,
    }
    dialect = ctx.session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    conn = core(ctx.session)
    conn.execute(insert(SummaryCache).values(values).on_conflict_do_nothing())
    kept = (
        select(SummaryCache.view_key)
        .where(SummaryCache.dossier_id == dossier_id)
        .order_by(SummaryCache.created_at.desc(), SummaryCache.view_key)
        .limit(MAX_PER_DOSSIER)
    )
    conn.execute(
        delete(SummaryCache).where(
            SummaryCache.dossier_id == dossier_id, SummaryCache.view_key.not_in(kept)
        )
    )
