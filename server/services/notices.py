"""Patient notices queued in the outbox, in French, never with health content.

domain.md: the patient is told of a professional's first access, of every emergency
access and of each new document. Only who and when are said, never what the document is.
"""

from __future__ import annotations

from server.frenchtime import fr_datetime
from server.models import OutboxMessage, Patient
from server.services.context import Ctx, Principal
from server.services.facts import PatientRef

TEMPLATES = {
    "first_access": (
        "Bonjour, {who} a consulté votre dossier médical partagé pour la première fois "
        "le {when}. Retrouvez le détail dans l'historique des accès de votre dossier."
    ),
    "bris_de_glace": (
        "Bonjour, {who} a accédé à votre dossier médical partagé en urgence (bris de "
        "glace) le {when}. Le motif déclaré figure dans l'historique des accès."
    ),
    "centre_15": (
        "Bonjour, le centre de régulation (centre 15), par {who}, a accédé à votre "
        "dossier médical partagé le {when}."
    ),
    "new_document": (
        "Bonjour, un nouveau document a été ajouté à votre dossier médical partagé le "
        "{when} par {who}."
    ),
}


def queue(ctx: Ctx, patient: Patient | PatientRef, kind: str, who: Principal) -> None:
    channel = patient.notify_channel
    if channel == "none" or (channel == "email" and not patient.email):
        return
    if channel == "sms" and not patient.phone:
        return
    body = TEMPLATES[kind].format(who=who.name, when=fr_datetime(ctx.now))
    ctx.session.add(
        OutboxMessage(
            patient_id=patient.id, kind=kind, channel=channel, body=body, created_at=ctx.now
        )
    )
