"""The search index: keyed token hashes per document (server/search/)."""

from __future__ import annotations

from sqlalchemy import ForeignKey, Index, Integer
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base


class SearchPosting(Base):
    """One (dossier, token, document): the document holds a word, stem or prefix whose
    keyed hash under this dossier's search key is `token` (server/search/tokens.py).

    The primary key leads with the dossier and the token, so that a query token is one
    index range scan that never leaves the dossier; on SQLite the table is that index
    (WITHOUT ROWID). The document index serves re-indexing and deletion."""

    __tablename__ = "search_postings"
    __table_args__ = (
        Index("ix_search_postings_document_id", "document_id"),
        {"sqlite_with_rowid": False},
    )

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    token: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
