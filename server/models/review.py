"""Unusual accesses flagged for a human review, and batched deposit notices (issue 14).

No health content: a case names a trace entry, the rules that flagged it and the
establishment whose privacy officer reviews it; the officer's comment is sealed with
the dossier's key (destroyed with the dossier). A digest counts deposits, nothing more.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class ReviewCase(Base):
    """One flagged trace entry and the officer's outcome (docs/alerts.md)."""

    __tablename__ = "review_cases"
    __table_args__ = (
        Index("ix_review_cases_establishment_status", "establishment", "status", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    audit_entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"), unique=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    professional_id: Mapped[int] = mapped_column(Integer)  # the entry's actor
    # FINESS of the professional's structure when they acted: whose officer reviews it.
    establishment: Mapped[str | None] = mapped_column(String(9))
    rules: Mapped[str] = mapped_column(String(200))  # rule codes, space-separated
    status: Mapped[str] = mapped_column(String(16))  # a_traiter|en_cours|justifiee|non_justifiee
    flagged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    decided_by: Mapped[int | None] = mapped_column(Integer)  # the officer (professionals.id)
    comment_nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    comment: Mapped[bytes | None] = mapped_column(LargeBinary)  # AES-GCM, dossier key


class AlertCursor(Base):
    """How far the rules have read the trace, by leaf of the verifiable log: the log's
    order is gap-free and final, so no committed entry is skipped or read twice."""

    __tablename__ = "alert_cursor"

    name: Mapped[str] = mapped_column(String(20), primary_key=True)
    next_leaf: Mapped[int] = mapped_column(Integer)


class AlertSeen(Base):
    """The rules' own memory of who opened which dossier, kept by the scanner as it reads
    the trace (so that no rule scans the trace itself: the trace has no index by actor,
    and adding one would slow every request's append). One row per professional and
    dossier: their first and last allowed access, and the last one without a care
    relation (the volume rule counts those within its window)."""

    __tablename__ = "alert_seen"
    __table_args__ = (
        Index("ix_alert_seen_professional_unrelated", "professional_id", "unrelated_at"),
    )

    professional_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    first_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    unrelated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class DepositDigest(Base):
    """Deposits by the insurer and by the patient, counted per dossier and month into one
    outbox message sent after the month ends (docs/alerts.md, "Batched deposit notices")."""

    __tablename__ = "deposit_digests"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7), primary_key=True)  # YYYY-MM, Paris time
    insurer: Mapped[int] = mapped_column(Integer, default=0)
    patient: Mapped[int] = mapped_column(Integer, default=0)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox.id"))
