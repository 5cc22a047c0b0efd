"""Documents (one row per logical document), their metadata versions and content."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_dossier_submitted", "dossier_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    unique_id: Mapped[str] = mapped_column(String(128), unique=True)  # from the producer
    logical_id: Mapped[str] = mapped_column(String(36), unique=True)
    entry_uuid: Mapped[str] = mapped_column(String(36), unique=True)  # current metadata
    category: Mapped[str] = mapped_column(String(32))
    type_code: Mapped[str] = mapped_column(String(16))  # LOINC
    title: Mapped[str] = mapped_column(String(300))
    author_professional_id: Mapped[int | None] = mapped_column(ForeignKey("professionals.id"))
    author_patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    author_service_id: Mapped[int | None] = mapped_column(ForeignKey("service_accounts.id"))
    author_institution: Mapped[str | None] = mapped_column(String(9))  # FINESS
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())  # creationTime
    service_start: Mapped[datetime | None] = mapped_column(UTCDateTime())
    service_end: Mapped[datetime | None] = mapped_column(UTCDateTime())
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    mime_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(10))  # current|superseded|archived|deleted
    masked_ps: Mapped[bool] = mapped_column(Boolean, default=False)
    invisible_patient: Mapped[bool] = mapped_column(Boolean, default=False)
    invisible_rep: Mapped[bool] = mapped_column(Boolean, default=False)
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("documents.id"))
    version: Mapped[int] = mapped_column(Integer, default=1)


class DocumentEntry(Base):
    """One row per metadata version (XDS entryUUID): masking creates a new entry."""

    __tablename__ = "document_entries"

    entry_uuid: Mapped[str] = mapped_column(String(36), primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(10))
    masked_ps: Mapped[bool] = mapped_column(Boolean)
    invisible_patient: Mapped[bool] = mapped_column(Boolean)
    invisible_rep: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(40))


class DocumentContent(Base):
    """AES-256-GCM ciphertext under the dossier's data key; AAD binds it to its document."""

    __tablename__ = "document_contents"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
