"""Signed receipts of consent-bearing changes (docs/receipts.md)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class Receipt(Base):
    """One receipt: its canonical content (the exact bytes signed) and the detached CMS
    signature over them. Kept when a dossier is purged: it is the patient's proof of
    their choices, the deletion request among them, and holds no document content."""

    __tablename__ = "receipts"
    __table_args__ = (
        Index("ix_receipts_dossier_id_issued_at", "dossier_id", "issued_at"),
        # The history page (and its AuditEvents) looks up the receipts of the page's
        # entries: without it, a scan of every receipt (content and signature) per page.
        Index("ix_receipts_audit_entry_id", "audit_entry_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Random and URL-safe (secrets.token_urlsafe(16)): the public name of the receipt.
    receipt_id: Mapped[str] = mapped_column(String(32), unique=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    # The dossier's trace entry the receipt belongs to (its `seq` is in the content too).
    audit_entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"))
    action: Mapped[str] = mapped_column(String(40))
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    content: Mapped[bytes] = mapped_column(LargeBinary)
    signature: Mapped[bytes] = mapped_column(LargeBinary)
    signer_serial: Mapped[str] = mapped_column(String(40))  # hex: which certificate signed
    seq: Mapped[int] = mapped_column(Integer)  # trace sequence number in the patient's chain
