"""The outbox worker against a real SMTP server and a real (local) HTTP SMS gateway."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.app import build_runtime
from server.models import OutboxMessage, Patient
from server.services import outbox
from server.worker import run as worker_run
from tests.server.conftest import World
from tests.server.otp_helpers import (
    Gateway,
    Inbox,
    card_pending,
    deliver,
    email_senders,
    post,
    sms_senders,
    smtp,
)

__all__ = ["smtp"]  # the fixture, imported for pytest


def outbox_rows(world: World) -> list[OutboxMessage]:
    with world.rt.sessions() as s:
        return list(s.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def use_sms(world: World, patient: str, phone: str = "+33612345678") -> None:
    with world.rt.sessions() as s:
        row = s.get(Patient, world.ids[patient])
        assert row is not None
        row.phone, row.notify_channel = phone, "sms"
        s.commit()


def test_a_new_document_notice_is_mailed_in_french_without_health_content(
    world: World, marie_dossier: int, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    world.deposit("gp", marie_dossier, content=b"diabete de type 2")
    assert deliver(world, email_senders(port)) >= 1
    message = inbox.messages[-1]
    assert message["To"] == "marie@example.org"
    assert message["Subject"] == "Nouveau document dans votre dossier médical"
    body = inbox.bodies()[-1]
    assert "nouveau document a été ajouté à votre dossier médical partagé" in body
    assert "Gp Test" in body
    assert "diabete" not in body
    assert "compte_rendu" not in body  # not even the category
    sent = [r for r in outbox_rows(world) if r.kind == "new_document"]
    assert sent[0].sent_at is not None
    assert sent[0].recipient == "marie@example.org"  # the contact at delivery time


def test_a_sent_code_waits_sealed_and_is_redacted_once_mailed(
    borne: Any, world: World, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    token = card_pending(world, "jean")
    r = post(world, "/signin/code", {"pending_token": token}, borne)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["destination"] == "j***@example.org"
    [row] = outbox_rows(world)
    assert row.body.startswith("sealed:")
    assert deliver(world, email_senders(port)) == 1
    code = inbox.last_code()
    assert inbox.messages[-1]["To"] == "jean@example.org"
    assert inbox.messages[-1]["Subject"] == "Votre code de connexion"
    assert "valable 5 minutes" in inbox.bodies()[-1]
    [row] = outbox_rows(world)
    assert code not in row.body
    assert row.sent_at is not None


def test_sms_gateway_failing_then_recovering_delivers_once(borne: Any, world: World) -> None:
    use_sms(world, "jean")
    token = card_pending(world, "jean")
    assert post(world, "/signin/code", {"pending_token": token}, borne).status_code == 200
    with Gateway(failures=1) as gateway:
        senders = sms_senders(gateway.url)
        assert deliver(world, senders) == 0
        [row] = outbox_rows(world)
        assert (row.attempts, row.last_error, row.sent_at) == (1, "HTTP 500", None)
        assert row.next_attempt_at == world.clock.now + timedelta(seconds=30)
        assert row.claimed_until is None
        assert deliver(world, senders) == 0  # not due yet: nothing is posted
        assert len(gateway.posts) == 1
        world.clock.advance(seconds=31)
        assert deliver(world, senders) == 1
        assert deliver(world, senders) == 0
    assert len(gateway.accepted) == 1
    posted = gateway.accepted[0]
    assert set(posted) == {"to", "text"}
    assert posted["to"] == "+33612345678"
    assert "votre code de connexion" in posted["text"]
    assert "last_error" not in posted["text"]
    [row] = outbox_rows(world)
    assert row.sent_at is not None
    assert row.last_error == "HTTP 500"  # kept for the operator: no content in it


def test_backoff_doubles_and_is_capped(world: World) -> None:
    assert [outbox.backoff(n, 3600).total_seconds() for n in (1, 2, 3, 4, 8, 20)] == [
        30,
        60,
        120,
        240,
        3600,
        3600,
    ]


def test_a_channel_without_a_sender_waits(
    borne: Any, world: World, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    use_sms(world, "jean")
    token = card_pending(world, "jean")
    assert post(world, "/signin/code", {"pending_token": token}, borne).status_code == 200
    assert deliver(world, email_senders(port)) == 0  # no SMS gateway configured
    [row] = outbox_rows(world)
    assert (row.sent_at, row.attempts, row.claimed_until) == (None, 0, None)
    assert inbox.messages == []


def test_a_crashed_workers_claim_expires_and_another_delivers(
    borne: Any, world: World, smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    card_token = card_pending(world, "jean")
    assert post(world, "/signin/code", {"pending_token": card_token}, borne).status_code == 200
    with outbox.transaction(world.rt) as ctx:  # a worker claims, then dies
        assert len(outbox.claim(ctx, {"email"})) == 1
    assert deliver(world, email_senders(port)) == 0  # the lease still holds
    world.clock.advance(seconds=outbox.LEASE_SECONDS + 1)
    assert deliver(world, email_senders(port)) == 1
    assert len(inbox.messages) == 1


def test_two_workers_in_parallel_deliver_each_message_exactly_once(
    world: World, settings: dict[str, object], smtp: tuple[Inbox, int]
) -> None:
    inbox, port = smtp
    with world.rt.sessions() as s:
        for i in range(40):
            s.add(
                OutboxMessage(
                    patient_id=world.ids["marie"],
                    kind="new_document",
                    channel="email",
                    body=f"Bonjour, message {i:03d}.",
                    created_at=world.clock(),
                )
            )
        s.commit()
    # Two runtimes (two engines, two connection pools): two worker processes' view.
    runtimes = [build_runtime(dict(world.rt.settings), world.clock) for _ in range(2)]
    counts: list[int] = []
    start = threading.Barrier(2)

    def work(rt: object) -> None:
        start.wait()
        counts.append(worker_run(rt, email_senders(port), threading.Event(), once=True))  # type: ignore[arg-type]

    threads = [threading.Thread(target=work, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rt in runtimes:
        rt.engine.dispose()
    bodies = sorted(b.strip() for b in inbox.bodies())
    assert bodies == [f"Bonjour, message {i:03d}." for i in range(40)]
    assert sum(counts) == 40
    assert all(r.sent_at is not None for r in outbox_rows(world))


def test_the_worker_stops_when_told(world: World, smtp: tuple[Inbox, int]) -> None:
    _, port = smtp
    stop = threading.Event()
    thread = threading.Thread(
        target=worker_run, args=(world.rt, email_senders(port), stop), kwargs={"poll_seconds": 30}
    )
    thread.start()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
