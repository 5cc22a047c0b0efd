"""The patient's notices of this package, through the outbox like every other notice
(server/services/notices.py): who and when at most, never any health content."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from server.models import OutboxMessage, Patient
from server.services.facts import PatientRef

FLAGGED = (
    "Bonjour, un accès inhabituel à votre dossier médical partagé a été signalé le {when}. "
    "Il sera examiné par le délégué à la protection des données de l'établissement "
    "concerné, et le résultat figurera dans l'historique des accès de votre dossier."
)
UNJUSTIFIED = (
    "Bonjour, le délégué à la protection des données a conclu qu'un accès à votre dossier "
    "médical partagé n'était pas justifié. L'historique des accès de votre dossier vous "
    "dit ce que vous pouvez faire : contacter ce délégué, bloquer le professionnel, "
    "adresser une plainte à la CNIL."
)


def channel_of(patient: Patient | PatientRef) -> str | None:
    """The patient's channel, or None when they cannot be reached (notices.queue's rule)."""
    channel = patient.notify_channel
    if channel == "none" or (channel == "email" and not patient.email):
        return None
    if channel == "sms" and not patient.phone:
        return None
    return channel


def queue(
    session: Session, patient: Patient | PatientRef, kind: str, body: str, now: datetime
) -> OutboxMessage | None:
    channel = channel_of(patient)
    if channel is None:
        return None
    message = OutboxMessage(
        patient_id=patient.id, kind=kind, channel=channel, body=body, created_at=now
    )
    session.add(message)
    return message
