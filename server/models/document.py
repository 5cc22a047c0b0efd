"""Documents (one row per logical document), their metadata versions and content."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, LargeBinary, String, text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (
        Index("ix_documents_dossier_submitted", "dossier_id", "submitted_at"),
        # Only the few documents waiting for the indexer: what a search and the indexer
        # look up (server/search/index.py).
        Index(
            "ix_documents_search_queued",
            "dossier_id",
            "id",
            postgresql_where=text("search_queued"),
            sqlite_where=text("search_queued"),
        ),
    )

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
    # Why this version was replaced, as its replacer wrote it (set on the OLD version when
    # the new one is deposited; shown in the version history). Free text a clinician types
    # ("posologie corrigée : ...") is health content: sealed under the dossier key like
    # the content (nonce || AES-GCM ciphertext, AAD "<logical_id>:replace_reason").
    replace_reason: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Its search postings are missing or stale: set when the version is stored and when
    # its text becomes ready (after OCR), cleared by the background indexer. A flag on
    # the row the deposit writes anyway, so that queueing costs the deposit nothing; a
    # search confirms such documents against their text (docs/documents.md).
    search_queued: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("false"))
    # The SHA-1 of the stored bytes that IHE MHD and PDSm publish in
    # DocumentReference.content.attachment.hash, sealed under the dossier key (nonce ||
    # AES-GCM, AAD "<logical_id>:sha1"): a digest of a short content can be confirmed by
    # guessing, so it is derived health data and dies with the dossier key. NULL for the
    # documents stored before it was kept (docs/fhir.md: computed from the content then).
    sha1: Mapped[bytes | None] = mapped_column(LargeBinary)


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


class DocumentText(Base):
    """The text read from one document version (PDF text layer, CDA or FHIR narrative and
    entries, plain text, or OCR), sealed like the content under the dossier's data key
    (AAD: "<logical_id>:text"): search snippets and version diffs decrypt it, and
    destroying the dossier key destroys it.

    status: ready (text sealed here; may be empty), pending (OCR to do: the worker reads
    it, `attempts` and `next_attempt_at` pace the retries), failed (OCR gave up after its
    attempts; the document itself is untouched). source: layer, narrative, plain, ocr."""

    __tablename__ = "document_texts"
    __table_args__ = (Index("ix_document_texts_status_next", "status", "next_attempt_at"),)

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    status: Mapped[str] = mapped_column(String(10))
    source: Mapped[str | None] = mapped_column(String(10))
    nonce: Mapped[bytes | None] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class DocumentStructure(Base):
    """A document version's structure, sealed under the dossier's data key (AAD:
    "<logical_id>:structure"): JSON {"sections": [...], "entries": [...]} as described in
    docs/documents.md. Each entry belongs to exactly this row's document version, which
    is what later summaries cite as its source."""

    __tablename__ = "document_structures"

    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id"), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
