"""The professionals directory (issue 14) and the secret connections with minors (issue 13).

The directory holds public data only (the Annuaire Santé publishes it: name, profession,
establishment, town, national id): no health content, nothing to seal. Its folded keys
(case and accents removed, server/search/normalise.fold) make the name search a prefix
match on an index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class DirectoryEntry(Base):
    __tablename__ = "directory_entries"

    id: Mapped[int] = mapped_column(primary_key=True)
    national_id: Mapped[str] = mapped_column(String(40), unique=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    profession: Mapped[str] = mapped_column(String(40))  # key of the access matrix
    establishment: Mapped[str | None] = mapped_column(String(200))
    town: Mapped[str | None] = mapped_column(String(100))
    # Folded last name and first name, each searched by prefix on its own index, and
    # every folded word of both (" "-separated, with a leading space) for the next words.
    last_key: Mapped[str] = mapped_column(String(100), index=True)
    first_key: Mapped[str] = mapped_column(String(100), index=True)
    words: Mapped[str] = mapped_column(String(210))
    # "server": a professional the server knows (professionals row); "annuaire": seeded.
    source: Mapped[str] = mapped_column(String(10))


class SecretConnection(Base):
    """A professional's session in "connexion secrète" with a minor's dossier (CSP art.
    L1111-5): chosen when the dossier is opened, it lasts as long as that session, and
    while it lasts every deposit must be invisible to the legal representatives."""

    __tablename__ = "secret_connections"

    id: Mapped[int] = mapped_column(primary_key=True)
    session_hash: Mapped[str] = mapped_column(ForeignKey("sessions.token_hash"), index=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    professional_id: Mapped[int] = mapped_column(ForeignKey("professionals.id"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
