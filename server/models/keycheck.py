"""The record that binds a database to the master key it was first opened with."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, LargeBinary
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime

KEY_CHECK_ID = 1


class MasterKeyCheck(Base):
    """One row: a random key wrapped (RFC 3394) by the master key of the first process
    that opened the database. Every later start unwraps it and refuses another master
    key, even before any dossier exists: a key made by mistake (another working
    directory's var/master.key) would otherwise seal the first dossiers, TOTP seeds and
    sent codes with a key nobody keeps. The wrapped key protects nothing."""

    __tablename__ = "master_key_check"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
