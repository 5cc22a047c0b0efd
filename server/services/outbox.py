"""Delivering the outbox: claim, send, mark sent; on failure, retry with back-off.

Delivery is at least once, and exactly once in the normal case:

1. Claim (one short transaction): due, unsent, unclaimed rows get `claimed_until = now +
   LEASE`. PostgreSQL takes them with FOR UPDATE SKIP LOCKED, so concurrent workers split
   the rows instead of waiting; SQLite's BEGIN IMMEDIATE serialises the claims.
2. Send, outside any transaction (an SMTP exchange must not hold database locks).
3. Mark (one short transaction, right after the far end accepted): `sent_at` is set only
   if the row still carries this worker's claim.

SMTP and SMS gateways cannot take part in our transaction, so a window remains between the
far end's acceptance and the commit of step 3: a worker that dies there leaves a claim
that expires after LEASE_SECONDS, and another worker sends the message again. Nothing is
ever lost; a duplicate needs a crash inside a window of a few milliseconds. A send slower
than the lease could also be duplicated, which is why the adapters' timeouts are well
inside it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import or_, select, update

from server.delivery import DeliveryError, Sender
from server.models import OutboxMessage, Patient
from server.services.context import Ctx
from server.signin import sent_codes

if TYPE_CHECKING:
    from server.api.runtime import Runtime

log = logging.getLogger("dmp.outbox")

LEASE_SECONDS = 120
BASE_BACKOFF_SECONDS = 30
BATCH = 20
REDACTED = "[code de connexion effacé après envoi]"
SUBJECTS = {
    "otp_code": "Votre code de connexion",
    "first_access": "Un professionnel a consulté votre dossier médical",
    "bris_de_glace": "Accès en urgence à votre dossier médical",
    "centre_15": "Accès du centre 15 à votre dossier médical",
    "new_document": "Nouveau document dans votre dossier médical",
    "export_link": "Votre export du dossier médical est prêt",
    "export_code": "Le code de votre export du dossier médical",
    "unusual_access": "Accès inhabituel à votre dossier médical",
    "access_unjustified": "Résultat de l'examen d'un accès à votre dossier médical",
    "deposits_digest": "Documents ajoutés à votre dossier médical ce mois-ci",
}
# Messages carrying a secret (a sign-in code, an export's link or code): sealed while
# they wait, redacted once delivered.
SECRET_KINDS = frozenset({"otp_code", "export_link", "export_code"})


@dataclass(frozen=True)
class Claimed:
    id: int
    claimed_until: datetime


def backoff(attempts: int, cap_seconds: int) -> timedelta:
    """30 s, 60 s, 120 s... doubling per failed attempt, capped."""
    return timedelta(seconds=min(cap_seconds, BASE_BACKOFF_SECONDS * 2 ** max(attempts - 1, 0)))


def claim(ctx: Ctx, channels: set[str], batch: int = BATCH) -> list[Claimed]:
    """Takes a lease on due messages of the given channels; the caller commits."""
    now = ctx.now
    rows = ctx.session.scalars(
        select(OutboxMessage)
        .where(
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.channel.in_(sorted(channels)),
            or_(OutboxMessage.next_attempt_at.is_(None), OutboxMessage.next_attempt_at <= now),
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until <= now),
        )
        .order_by(OutboxMessage.id)
        .limit(batch)
        .with_for_update(skip_locked=True)
    ).all()
    until = now + timedelta(seconds=LEASE_SECONDS)
    for row in rows:
        row.claimed_until = until
    return [Claimed(row.id, until) for row in rows]


def prepare(ctx: Ctx, message_id: int) -> tuple[OutboxMessage, str | None, str]:
    """The row, its recipient (resolved now for notices: the patient's current contact on
    the message's channel) and its text (a sealed code is opened here, in memory only)."""
    row = ctx.session.get(OutboxMessage, message_id)
    if row is None:
        raise LookupError(message_id)
    recipient = row.recipient
    if recipient is None:
        patient = ctx.session.get(Patient, row.patient_id)
        recipient = sent_codes.contact(patient, row.channel) if patient is not None else None
    return row, recipient, sent_codes.open_body(ctx, f"outbox:{row.id}", row.body)


@contextmanager
def transaction(rt: Runtime) -> Iterator[Ctx]:
    """One short transaction with its own clock reading: committed when the block ends
    normally, rolled back otherwise. The worker never holds one across a network call."""
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        yield ctx
        session.commit()


def run_once(rt: Runtime, senders: Mapping[str, Sender], batch: int = BATCH) -> int:
    """Claims a batch of due messages and delivers them; returns how many were sent."""
    with transaction(rt) as ctx:
        claimed = claim(ctx, set(senders), batch)
    return sum(deliver_one(rt, c, senders) for c in claimed)


def mark_sent(ctx: Ctx, claimed: Claimed, recipient: str, kind: str) -> bool:
    """Sets sent_at if this worker's claim still holds; the caller commits at once."""
    values: dict[str, object] = {"sent_at": ctx.now, "claimed_until": None, "recipient": recipient}
    if kind in SECRET_KINDS:
        values["body"] = REDACTED  # the code has no use once delivered
    result = ctx.session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == claimed.id,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.claimed_until == claimed.claimed_until,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def mark_failed(ctx: Ctx, claimed: Claimed, error: str) -> None:
    row = ctx.session.get(OutboxMessage, claimed.id)
    if row is None or row.sent_at is not None or row.claimed_until != claimed.claimed_until:
        return
    row.attempts += 1
    row.last_error = error[:300]
    row.next_attempt_at = ctx.now + backoff(
        row.attempts, int(ctx.settings["OUTBOX_MAX_BACKOFF_SECONDS"])
    )
    row.claimed_until = None


def deliver_one(rt: Runtime, claimed: Claimed, senders: Mapping[str, Sender]) -> bool:
    """Sends one claimed message; True when it was sent and marked."""
    with transaction(rt) as ctx:
        row, recipient, text = prepare(ctx, claimed.id)
        kind, channel, message_id = row.kind, row.channel, row.id
    error = None
    try:
        if not recipient:
            raise DeliveryError("no_recipient")  # retried: the patient may add a contact
        senders[channel].send(recipient, SUBJECTS.get(kind, "Votre dossier médical"), text)
    except DeliveryError as exc:
        error = str(exc)
    except Exception as exc:
        # An adapter bug must not kill the worker nor strand the claim; only the type is
        # kept, since an unknown exception's text might quote the address or the message.
        error = type(exc).__name__
    if error is not None:
        log.warning("outbox message %d (%s) not delivered: %s", message_id, channel, error)
        with transaction(rt) as ctx:
            mark_failed(ctx, claimed, error)
        return False
    with transaction(rt) as ctx:
        marked = mark_sent(ctx, claimed, recipient or "", kind)
    if marked:
        log.info("outbox message %d delivered by %s", message_id, channel)
    else:
        log.warning("outbox message %d: claim lost during delivery (lease too short?)", message_id)
    return marked
