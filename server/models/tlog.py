"""The verifiable log over the trace (docs/transparency.md): leaves, stored subtree
hashes and signed checkpoints. Only hashes: no name, no action, no health content."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, LargeBinary, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class LogLeaf(Base):
    """Leaf `idx` of the log: the trace entry it holds and SHA-256(0x00 || leaf entry),
    where the leaf entry names the entry's chain, sequence number and link hash
    (server/tlog/store.py `leaf_entry`)."""

    __tablename__ = "tlog_leaves"

    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    audit_entry_id: Mapped[int] = mapped_column(ForeignKey("audit_entries.id"), unique=True)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary)
    sequenced_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LogNode(Base):
    """The hash of the complete subtree of 2**level leaves starting at leaf idx * 2**level
    (level >= 1; level 0 is tlog_leaves). Written once, when its last leaf arrives: any
    proof is then a handful of these rows."""

    __tablename__ = "tlog_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class LogCheckpoint(Base):
    """Every checkpoint the log signed, by tree size: a witness or a patient holding an
    older one asks for the consistency proof from it."""

    __tablename__ = "tlog_checkpoints"

    size: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary)
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
