"""Cached patient summaries (server/fhir/summary_cache.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class SummaryCache(Base):
    """The derived part of one IPS `$summary` (its sections, entries, provenances and the
    documents it drew on), sealed under the dossier's data key (AAD
    "summary:<dossier id>:<view key hex>"): it is health content and dies with the key.

    `view_key` is an HMAC under a key of the dossier's (Keyring.dossier_key) of exactly
    the document versions a caller was shown, with every field the summary prints, the
    base URL and the format's version: a caller shown anything else computes another key
    and can never meet this row; a deposit, replacement, flag or status change changes
    the key of everyone shown that document. Rows whose view no longer occurs are never
    read again; a few per dossier are kept (MAX_PER_DOSSIER), the purge erases them."""

    __tablename__ = "summary_cache"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    view_key: Mapped[bytes] = mapped_column(LargeBinary, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
