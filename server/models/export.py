"""Exports of a dossier (issue 13, docs/export.md): the job, its sealed archive, its link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class DossierExport(Base):
    """One export asked by the patient or a minor's representative, built by the worker.

    The archive is health content: sealed with the dossier's data key (AES-GCM, the
    export's public id as associated data), so that destroying that key destroys it. The
    download link's token and one-time code are kept only as digests."""

    __tablename__ = "exports"
    __table_args__ = (Index("ix_exports_status_id", "status", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random and URL-safe (secrets.token_urlsafe(16)): the name the API knows it by.
    export_id: Mapped[str] = mapped_column(String(32), unique=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    # Who asked: the build decides again for them (what they may see at build time).
    requester_kind: Mapped[str] = mapped_column(String(20))
    requester_id: Mapped[int] = mapped_column(Integer)
    requester_name: Mapped[str] = mapped_column(String(200))
    kiosk: Mapped[str | None] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(12))  # queued|running|ready|failed|expired
    progress: Mapped[int] = mapped_column(Integer, default=0)  # percent
    documents: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(100))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ready_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    archive: Mapped[bytes | None] = mapped_column(LargeBinary)
    size: Mapped[int | None] = mapped_column(Integer)
    # The download link: SHA-256 of its token, its end, when it was used, and the
    # HMAC of its one-time code (keyed by the master key: a database leak alone does
    # not give it), with the wrong tries spent on it.
    link_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    link_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    link_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    code_mac: Mapped[str | None] = mapped_column(String(64))
    code_tries: Mapped[int] = mapped_column(Integer, default=0)
