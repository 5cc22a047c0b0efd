"""Time-boxed delegations: a patient lets another adult read chosen categories (issue 13)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class Delegation(Base):
    """Kept after it ends or is revoked: the patient's history and receipts refer to it,
    and a revoked delegation never comes back to life (a new one is given instead)."""

    __tablename__ = "delegations"
    __table_args__ = (
        Index("ix_delegations_delegate_patient_id", "delegate_patient_id"),
        Index("ix_delegations_dossier_id", "dossier_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    delegate_patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    # Category codes, sorted, comma-separated (at most the 11 of the policy): which kinds
    # of documents the patient shares, never anything of their content.
    categories: Mapped[str] = mapped_column(String(200))
    valid_until: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(40))  # "patient:<id>"
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_by: Mapped[str | None] = mapped_column(String(40))
