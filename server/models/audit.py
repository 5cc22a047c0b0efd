"""The trace: one append-only hash chain per dossier (per patient), plus its head."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class AuditEntry(Base):
    __tablename__ = "audit_entries"
    # The unique (chain, seq) pair is the last line of defence against a forked chain.
    __table_args__ = (UniqueConstraint("chain", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chain: Mapped[str] = mapped_column(String(40))  # "patient:<id>" or "system"
    seq: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor_kind: Mapped[str] = mapped_column(String(20))
    actor_id: Mapped[int] = mapped_column(Integer)
    actor_name: Mapped[str] = mapped_column(String(200))
    actor_profession: Mapped[str | None] = mapped_column(String(40))
    actor_structure: Mapped[str | None] = mapped_column(String(9))
    action: Mapped[str] = mapped_column(String(40))
    mode: Mapped[str] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(8))  # allowed | denied
    reason: Mapped[str] = mapped_column(String(40))
    target: Mapped[str | None] = mapped_column(String(100))  # e.g. "document:<logical id>"
    category: Mapped[str | None] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(Text, default="{}")  # canonical JSON, no health content
    kiosk: Mapped[str | None] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """Last link of each chain; rows are locked to append, and detect a cut-off tail."""

    __tablename__ = "audit_heads"

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))


class DenialRepeat(Base):
    """Identical denials folded into one trace entry (services/denials.py).

    The first denial of a window is an entry of the chain (`entry_seq`); the identical
    ones that follow within the window only count here, so that nobody can grow another
    patient's history without bound. The next identical denial after the window is a new
    entry whose detail seals this count into the chain."""

    __tablename__ = "denial_repeats"
    __table_args__ = (Index("ix_denial_repeats_chain_key", "chain", "key"),)

    chain: Mapped[str] = mapped_column(String(40), primary_key=True)
    entry_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    # SHA-256 of the denial's identity: actor (kind, id), action, reason, target.
    key: Mapped[str] = mapped_column(String(64))
    repeats: Mapped[int] = mapped_column(Integer)  # identical denials after the entry
    last_at: Mapped[datetime] = mapped_column(UTCDateTime())
    window_until: Mapped[datetime] = mapped_column(UTCDateTime())
