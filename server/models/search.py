"""The search index: keyed token hashes per document (server/search/)."""

from __future__ import annotations

from sqlalchemy import Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class SearchPosting(Base):
    """One (dossier, token, document): the document holds a word, stem or prefix whose
    keyed hash under this dossier's search key is `token` (server/search/tokens.py).

    The primary key leads with the dossier and the token, so that a query token is one
    index range scan that never leaves the dossier; on SQLite the table is that index
    (WITHOUT ROWID). The document index serves re-indexing and deletion.

    No foreign keys: PostgreSQL checks them row by row with a trigger, which for the few
    hundred postings of one deposit cost about 8 ms, most of what indexing added to a
    deposit (bench/search_bench.py). Nothing needs them: a query reads a posting's
    document from `documents` (a posting without one finds nothing), and the purge and
    the logical deletion remove postings with their documents."""

    __tablename__ = "search_postings"
    __table_args__ = (
        Index("ix_search_postings_document_id", "document_id"),
        {"sqlite_with_rowid": False},
    )

    dossier_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    token: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
