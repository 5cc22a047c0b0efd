"""The professionals directory (issue 14) and the secret connections with minors (issue 13).

The directory holds public data only (the Annuaire Santé publishes it: name, profession,
establishment, town, national id): no health content, nothing to seal. Its folded keys
(case and accents removed, server/search/normalise.fold) make the name search a prefix
match on an index.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String
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
    # Folded last name and first name, the answers' order; every folded word of both,
    # " "-separated: the source of its DirectoryWord rows. No index on the keys on
    # purpose: with one, PostgreSQL walked the whole directory in name order looking for
    # the first matches of a rare name (120 ms at 100,000 entries); the search starts
    # from the words' index and sorts what it found.
    last_key: Mapped[str] = mapped_column(String(100))
    first_key: Mapped[str] = mapped_column(String(100))
    words: Mapped[str] = mapped_column(String(210))
    # "server": a professional the server knows (professionals row); "annuaire": seeded.
    source: Mapped[str] = mapped_column(String(10))


class DirectoryWord(Base):
    """Each folded word of an entry's name, so that "the words typed begin words of the
    name" is one index range per word (LIKE 'w%'), never a scan of the directory (a
    national extract has over a million entries)."""

    __tablename__ = "directory_words"
    __table_args__ = (
        # varchar_pattern_ops: a prefix LIKE uses the index whatever the database's collation.
        Index("ix_directory_words_word", "word", postgresql_ops={"word": "varchar_pattern_ops"}),
    )

    entry_id: Mapped[int] = mapped_column(ForeignKey("directory_entries.id"), primary_key=True)
    word: Mapped[str] = mapped_column(String(100), primary_key=True)


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
