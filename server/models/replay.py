"""Kiosk requests already seen: a signed request is accepted once."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class KioskRequestSeen(Base):
    """The SHA-256 of each accepted kiosk request's signed bytes (its canonical request:
    kiosk, method, target, date, nonce, body digest), kept while its date is inside the
    clock-skew window (after that the date check alone refuses a replay). What was
    signed, not the signature, which ECDSA lets anyone alter into another valid one.
    Stored in the database, not in process memory, so that a replay sent to another
    worker or another server instance is refused as well."""

    __tablename__ = "kiosk_requests_seen"

    request_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"), index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
