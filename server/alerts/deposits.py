"""Deposits by the insurer and by the patient, told to the patient once a month.

domain.md: the patient is notified when a new document is deposited. A professional's
deposit is told at once (services/notices.py, "new_document"). The insurer injects
reimbursement data routinely, often daily, and a patient's own uploads are theirs: one
notice each would be thirty a month that nobody reads, and a patient who ignores
notices misses the one that matters. So these deposits are counted per dossier and
calendar month (Paris time) into one outbox message, held until the month is over
(`next_attempt_at`, which the outbox already honours) and rewritten as the count grows.
The message says how many documents and by whom, never which.

Two deposits of one dossier never race here: each took its chain's head lock when its
decision was traced (services/guard.py), which holds until its transaction ends.
"""

from __future__ import annotations

from datetime import datetime

from server.alerts import notify
from server.frenchtime import PARIS
from server.models import DepositDigest, OutboxMessage, Patient
from server.policy import ActorKind
from server.services.context import Ctx, Principal
from server.services.facts import PatientRef

KIND = "deposits_digest"
MONTHS_FR = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def period_of(moment: datetime) -> tuple[str, datetime]:
    """The month (YYYY-MM, Paris time) of `moment` and the instant it ends."""
    local = moment.astimezone(PARIS)
    year, month = (local.year + 1, 1) if local.month == 12 else (local.year, local.month + 1)
    return f"{local.year:04d}-{local.month:02d}", datetime(year, month, 1, tzinfo=PARIS)


def body(digest: DepositDigest) -> str:
    year, month = digest.period.split("-")
    parts = []
    if digest.insurer:
        parts.append(f"{digest.insurer} par l'Assurance Maladie")
    if digest.patient:
        parts.append(f"{digest.patient} par vous-même ou votre représentant légal")
    total = digest.insurer + digest.patient
    added = "document a été ajouté" if total == 1 else "documents ont été ajoutés"
    return (
        f"Bonjour, en {MONTHS_FR[int(month) - 1]} {year}, {total} {added} à votre dossier "
        f"médical partagé ({', '.join(parts)}). Vous les retrouvez dans votre dossier."
    )


def record(ctx: Ctx, patient: Patient | PatientRef, who: Principal) -> None:
    """Counts a deposit the caller just made, if it is the insurer's or the patient's."""
    if who.actor.kind is ActorKind.INSURER:
        by_insurer = True
    elif who.actor.kind is ActorKind.PATIENT:
        by_insurer = False
    else:
        return
    period, ends = period_of(ctx.now)
    digest = ctx.session.get(DepositDigest, (patient.id, period))
    if digest is None:
        digest = DepositDigest(patient_id=patient.id, period=period, insurer=0, patient=0)
        ctx.session.add(digest)
    if by_insurer:
        digest.insurer += 1
    else:
        digest.patient += 1
    text = body(digest)
    message = ctx.session.get(OutboxMessage, digest.outbox_id) if digest.outbox_id else None
    if message is not None and message.sent_at is None:
        message.body = text
        return
    message = notify.queue(ctx.session, patient, KIND, text, ctx.now)
    if message is None:
        return  # the patient asked for no notice; the count stays for the record
    message.next_attempt_at = ends  # the outbox sends nothing due later than now
    ctx.session.flush()
    digest.outbox_id = message.id
