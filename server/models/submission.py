"""ITI-65 submission sets (the MHD SubmissionSet `List`), kept so that they can be read
back (ITI-66 Find Document Lists, `List/{id}`): who submitted, when, from which source,
and which documents. docs/fhir.md, "SubmissionSet".

Nothing of a set is health content: its free text (title, note, designation type) is not
kept, only identifiers, times and the documents it deposited. It goes with the dossier's
documents at the purge (server/purge.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class SubmissionSet(Base):
    __tablename__ = "submission_sets"
    __table_args__ = (Index("ix_submission_sets_dossier_submitted", "dossier_id", "submitted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"))
    logical_id: Mapped[str] = mapped_column(String(36), unique=True)  # the List's id
    # The producer's uniqueId (List.identifier, use official) and sourceId (ihe-sourceId):
    # OIDs or URNs naming the submission and the sending system, as the producer gave them.
    unique_id: Mapped[str | None] = mapped_column(String(128))
    source_id: Mapped[str | None] = mapped_column(String(128))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    submitted_by: Mapped[str] = mapped_column(String(40))  # Principal.ref of the caller


class SubmissionSetEntry(Base):
    """One document a set deposited (List.entry), in the Bundle's order."""

    __tablename__ = "submission_set_entries"

    submission_set_id: Mapped[int] = mapped_column(
        ForeignKey("submission_sets.id"), primary_key=True
    )
    document_id: Mapped[int] = mapped_column(
        ForeignKey("documents.id"), primary_key=True, index=True
    )
    position: Mapped[int] = mapped_column(Integer)
