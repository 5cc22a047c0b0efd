"""Patient card (Carte Vitale-like): identity, certificate, signature without PIN."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from .identity import PatientIdentity
from .profile import SFI_IDENTITY, CardKind
from .records import decode_patient_identity
from .session import CardAuthentication, CardSession


class PatientSession(CardSession):
    KIND = CardKind.PATIENT

    def read_identity(self) -> PatientIdentity:
        return decode_patient_identity(self.read_file(SFI_IDENTITY))


@dataclass(frozen=True)
class PatientReading:
    identity: PatientIdentity
    certificate: x509.Certificate
    authentication: CardAuthentication


def read_patient_card(session: PatientSession, challenge: bytes) -> PatientReading:
    """The complete patient-card read: identity, certificate, challenge signature."""
    identity = session.read_identity()
    certificate = session.read_certificate()
    signature = session.authenticate(challenge)
    return PatientReading(
        identity,
        certificate,
        CardAuthentication(
            CardKind.PATIENT,
            session.aid,
            session.serial,
            certificate.public_bytes(Encoding.DER),
            challenge,
            signature,
        ),
    )
