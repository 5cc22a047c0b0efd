"""Dossiers and the per-professional facts the access rules read."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class Dossier(Base):
    __tablename__ = "dossiers"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), unique=True)
    status: Mapped[str] = mapped_column(String(8))  # active | closed | purged
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # Creation consent evidence: who collected it, when, at which terminal.
    consent_collected_by: Mapped[str] = mapped_column(
        String(40)
    )  # "patient:<id>"|"professional:<id>"
    consent_at: Mapped[datetime] = mapped_column(UTCDateTime())
    consent_terminal: Mapped[str] = mapped_column(String(100))
    bris_de_glace_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    centre_15_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    medecin_traitant_id: Mapped[int | None] = mapped_column(ForeignKey("professionals.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    retention_until: Mapped[datetime | None] = mapped_column(UTCDateTime())
    deletion_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    # The dossier's data key, wrapped (AES-GCM) by the master key: destroying it on
    # purge makes every document of the dossier unreadable, backups included.
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)


class CareTeamMember(Base):
    """A professional, or a whole structure (hospital team), in the patient's care team."""

    __tablename__ = "care_team"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    professional_id: Mapped[int | None] = mapped_column(ForeignKey("professionals.id"))
    structure_finess: Mapped[str | None] = mapped_column(String(9))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime())
    added_by: Mapped[str] = mapped_column(String(40))


class Block(Base):
    __tablename__ = "blocks"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professionals.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ConsultationConsent(Base):
    """The patient's explicit consent for one consultation, valid until `expires_at`."""

    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), index=True)
    professional_id: Mapped[int] = mapped_column(ForeignKey("professionals.id"))
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    granted_by: Mapped[str] = mapped_column(String(40))
