"""Sign-in state (issue #4): kiosks, card challenges, one-time codes, passwords.

Secrets are stored only as hashes, or (TOTP seeds, which the server must read back)
encrypted under the master key.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Integer, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from server.models.base import Base, UTCDateTime


class Kiosk(Base):
    """A registered terminal: whatever signs requests with a key the server pinned.

    `kind` "kiosk": a kiosk, its certificate from the kiosk CA pinned (`cert_pem`, and
    `cert_sha256` its DER's SHA-256). "software": a professional's record-keeping
    software, whose vendor made its own key pair; the server pins the bare public key (no
    CA involved): `cert_pem` holds its SubjectPublicKeyInfo PEM and `cert_sha256` the
    SHA-256 of that DER, so one key pins one terminal. "insurer": the insurer's system,
    pinned the same way, signing in as the institutional identity `service_account_id`
    (no card). One table, so that request replay records, card challenges, card bindings
    and sessions name every terminal alike. (The columns keep their kiosk-era names: on
    SQLite renaming them would rebuild a table that other tables reference.)
    """

    __tablename__ = "kiosks"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    kind: Mapped[str] = mapped_column(String(20), default="kiosk", server_default="kiosk")
    cert_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    cert_pem: Mapped[str] = mapped_column(Text)
    service_account_id: Mapped[int | None] = mapped_column(ForeignKey("service_accounts.id"))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CardChallenge(Base):
    """A card challenge that has been used: challenges themselves are never stored
    (services/challenges.py); this row makes the second use of one fail. Kept until the
    challenge expires."""

    __tablename__ = "card_challenges"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # hex of its random part
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    purpose: Mapped[str] = mapped_column(String(20))  # signin | resign
    session_hash: Mapped[str | None] = mapped_column(String(64))  # for resign
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class CardBinding(Base):
    """What binds a session to the card that opened it and the kiosk it runs on."""

    __tablename__ = "card_bindings"

    session_hash: Mapped[str] = mapped_column(ForeignKey("sessions.token_hash"), primary_key=True)
    kiosk_id: Mapped[int] = mapped_column(ForeignKey("kiosks.id"))
    card_cert_sha256: Mapped[str] = mapped_column(String(64))
    card_serial: Mapped[str] = mapped_column(String(64))
    last_signature_at: Mapped[datetime] = mapped_column(UTCDateTime())


class PendingSignIn(Base):
    """A patient's sign-in between its first factor (card, or INS + password) and the
    one-time code; only the hash of its token is stored."""

    __tablename__ = "pending_signins"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    first_factor: Mapped[str] = mapped_column(String(20))  # card | password
    kiosk_id: Mapped[int | None] = mapped_column(ForeignKey("kiosks.id"))
    card_cert_sha256: Mapped[str | None] = mapped_column(String(64))
    card_serial: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TotpCredential(Base):
    __tablename__ = "totp_credentials"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    nonce: Mapped[bytes] = mapped_column(LargeBinary)
    sealed_secret: Mapped[bytes] = mapped_column(LargeBinary)  # AES-GCM under the master key
    confirmed: Mapped[bool] = mapped_column(Boolean, default=False)
    # The last accepted time step: a code of that step or earlier is never accepted again.
    last_step: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OneTimeCode(Base):
    """A code sent by e-mail or SMS: only its hash is kept; only the latest is valid."""

    __tablename__ = "one_time_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    channel: Mapped[str] = mapped_column(String(8))
    code_hash: Mapped[str] = mapped_column(String(128))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    superseded_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class AuthThrottle(Base):
    """Failure counting and lockout per patient and factor (RFC 4226 §7.3)."""

    __tablename__ = "auth_throttles"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    factor: Mapped[str] = mapped_column(String(20), primary_key=True)  # totp|code|password
    failures: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PatientPassword(Base):
    __tablename__ = "patient_passwords"

    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), primary_key=True)
    argon2_hash: Mapped[str] = mapped_column(String(200))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
