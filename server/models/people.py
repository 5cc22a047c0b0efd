"""Patients and professionals: the people a dossier is about or accessed by."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Boolean, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class Patient(Base):
    __tablename__ = "patients"

    id: Mapped[int] = mapped_column(primary_key=True)
    ins: Mapped[str] = mapped_column(String(15), unique=True)
    ins_oid: Mapped[str] = mapped_column(String(32))
    # The five INS identity traits.
    birth_name: Mapped[str] = mapped_column(String(100))
    first_names: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(String(1))  # M, F (INS) or I (indéterminé)
    birth_place: Mapped[str] = mapped_column(String(5))  # INSEE code (99xxx abroad)
    used_name: Mapped[str | None] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(String(254))
    phone: Mapped[str | None] = mapped_column(String(20))
    notify_channel: Mapped[str] = mapped_column(String(8), default="email")  # email|sms|none
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Professional(Base):
    __tablename__ = "professionals"

    id: Mapped[int] = mapped_column(primary_key=True)
    # "8"+RPPS, "0"+ADELI or "3"+FINESS+"/"+staff id (CPE cards of non-clinical staff)
    national_id: Mapped[str] = mapped_column(String(40), unique=True)
    last_name: Mapped[str] = mapped_column(String(100))
    first_name: Mapped[str] = mapped_column(String(100))
    profession: Mapped[str] = mapped_column(String(40))  # key of the access matrix
    specialty: Mapped[str | None] = mapped_column(String(40))
    structure_finess: Mapped[str | None] = mapped_column(String(9), index=True)
    structure_name: Mapped[str | None] = mapped_column(String(200))
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class ServiceAccount(Base):
    """Non-human callers: the insurer's injection service, and the always-refused kinds."""

    __tablename__ = "service_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # insurer | third_party


class RepresentativeLink(Base):
    """A legal representative (a patient with their own card) of a minor's dossier."""

    __tablename__ = "representatives"

    dossier_id: Mapped[int] = mapped_column(ForeignKey("dossiers.id"), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
