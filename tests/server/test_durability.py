"""Crash durability: kill -9 the real server (master and workers) mid-stream, restart it,
and check that every acknowledged deposit and its trace entry survived.

Deposits stream from client threads to gunicorn, each with an Idempotency-Key. A 201 is
an acknowledgement: from then on the document and its trace entry must exist. When the
server dies under a request, its outcome is unknown to the client, which retries with the
same key once the server is back: either the deposit had committed (the stored answer is
replayed, same logical id) or it had not (it is made now). So every key ends with exactly
one document, and the checks are equalities, not inclusions.

This proves survival of a process crash, not of a power cut (performance.md): the
synchronous=FULL setting for SQLite is what covers the latter.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import random
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from server.models import AuditEntry, Document, IdempotencyRecord
from server.services import audit
from tests.server.conftest import World, doc
from tests.server.procs import Gunicorn, Reply, audit_verify, live_world, request

pytestmark = pytest.mark.slow

ROUNDS = 3  # kill -9, restart
CLIENTS = 2
RETRYABLE = {409: "concurrent_write", 503: "database_unavailable"}
TEST_DEADLINE = 200.0  # seconds, well under the per-test timeout of 300 s


class Abandoned(Exception):
    pass


@dataclass(frozen=True)
class Ack:
    key: str
    unique_id: str
    logical_id: str
    sha256: str
    replayed: bool


@dataclass
class Stream:
    """What the client threads share with the test."""

    server: Gunicorn  # its port may change only at its first start
    token: str
    dossier_id: int
    deadline: float
    stop: threading.Event = field(default_factory=threading.Event)
    abandon: threading.Event = field(default_factory=threading.Event)
    changed: threading.Condition = field(default_factory=threading.Condition)
    acks: list[Ack] = field(default_factory=list)
    unknown_outcomes: int = 0  # requests cut by a crash (connection error)
    retried_statuses: int = 0
    errors: list[BaseException] = field(default_factory=list)

    def count(self) -> int:
        with self.changed:
            return len(self.acks)


def depositor(stream: Stream, name: str) -> None:
    try:
        n = 0
        while not stream.stop.is_set():
            n += 1
            content = f"{name} n°{n} {uuid.uuid4()}".encode()
            unique_id = f"urn:uuid:{uuid.uuid4()}"
            key = f"durability-{name}-{n}-{uuid.uuid4().hex[:8]}"
            body = json.dumps(
                doc(content=content, title=f"Durabilité {key}", unique_id=unique_id)
            ).encode()
            reply = deposit_until_answered(stream, key, body)
            meta = reply.json()
            assert meta["size"] == len(content)
            ack = Ack(
                key,
                unique_id,
                meta["logical_id"],
                hashlib.sha256(content).hexdigest(),
                reply.headers.get("idempotent-replayed") == "true",
            )
            with stream.changed:
                stream.acks.append(ack)
                stream.changed.notify_all()
    except Abandoned:
        return  # the test has already failed
    except BaseException as exc:  # reported by the test, never swallowed
        with stream.changed:
            stream.errors.append(exc)
            stream.changed.notify_all()


def deposit_until_answered(stream: Stream, key: str, body: bytes) -> Reply:
    """Sends one deposit until it is acknowledged, with the same key and bytes each time."""
    path = f"/api/v1/dossiers/{stream.dossier_id}/documents"
    headers = {"Authorization": f"Bearer {stream.token}", "Idempotency-Key": key}
    while True:
        try:
            reply = request(stream.server.port, "POST", path, body, headers, timeout=30)
        except (OSError, http.client.HTTPException):
            with stream.changed:
                stream.unknown_outcomes += 1
        else:
            if reply.status == 201:
                return reply
            reason = reply.json().get("reason") if reply.body.startswith(b"{") else None
            if RETRYABLE.get(reply.status) != reason:
                raise AssertionError(f"deposit {key}: {reply.status} {reply.body[:300]!r}")
            with stream.changed:
                stream.retried_statuses += 1
        if stream.abandon.is_set():
            raise Abandoned
        if time.monotonic() > stream.deadline:
            raise TimeoutError(f"deposit {key} still unanswered at the deadline")
        time.sleep(0.05)  # the server is down or busy: poll again


def wait_for_acks(stream: Stream, target: int) -> None:
    with stream.changed:
        while len(stream.acks) < target:
            if stream.errors:
                raise stream.errors[0]
            remaining = stream.deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"{len(stream.acks)} acknowledgements, {target} awaited")
            stream.changed.wait(min(remaining, 1.0))


def test_acknowledged_deposits_survive_kill_9(
    settings: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    started = time.monotonic()
    with live_world(settings) as world:
        dossier_id = world.create("admissions", "marie", medecin_traitant=world.nid("gp"))
        server = Gunicorn(settings, tmp_path / "gunicorn.log", workers=2, threads=2)
        stream = Stream(server, world.tokens["gp"], dossier_id, started + TEST_DEADLINE)
        threads = [
            threading.Thread(target=depositor, args=(stream, f"c{i}"), daemon=True)
            for i in range(CLIENTS)
        ]
        kills: list[int] = []  # acknowledgements counted at each kill
        try:
            server.start()
            for thread in threads:
                thread.start()
            for _ in range(ROUNDS):
                wait_for_acks(stream, stream.count() + rng.randint(3, 40))
                time.sleep(rng.uniform(0, 0.03))  # a random instant, not only right after an ack
                server.kill()
                kills.append(stream.count())
                server.start()
            wait_for_acks(stream, stream.count() + 5)  # the restarted server takes deposits
            stream.stop.set()  # each client finishes (resolves) the deposit it has begun
            for thread in threads:
                thread.join(timeout=max(1.0, stream.deadline - time.monotonic()))
            if stream.errors:
                raise stream.errors[0]
            assert not any(t.is_alive() for t in threads), "a client thread is stuck"
            check_after_crashes(world, server, stream, dossier_id)
        except BaseException:
            stream.abandon.set()  # the clients give up at once instead of at the deadline
            raise
        finally:
            stream.stop.set()
            server.stop()
        code, output = audit_verify(settings, tmp_path / "verify.log")
        assert code == 0, output
        assert "all intact" in output, output

    replayed = sum(a.replayed for a in stream.acks)
    with capsys.disabled():
        print(
            f"\n[durability] seed={seed} acked={len(stream.acks)} kills={len(kills)} "
            f"(after {kills} acks) unknown-outcome attempts={stream.unknown_outcomes} "
            f"replayed after crash={replayed} retried 409/503={stream.retried_statuses} "
            f"verify: {output.strip().splitlines()[-1]} "
            f"in {time.monotonic() - started:.1f} s"
        )


def check_after_crashes(world: World, server: Gunicorn, stream: Stream, dossier_id: int) -> None:
    acks = stream.acks
    assert len({a.key for a in acks}) == len(acks)
    by_logical_id = {a.logical_id: a for a in acks}
    assert len(by_logical_id) == len(acks), "two keys acknowledged with one document"
    auth = {"Authorization": f"Bearer {stream.token}"}
    base = f"/api/v1/dossiers/{dossier_id}/documents"

    # Through the API of the restarted server: every acknowledged document, no other one,
    # and its exact bytes (decrypted with the same master key).
    listed = request(server.port, "GET", f"{base}?all=true", headers=auth)
    assert listed.status == 200, listed.body
    assert {d["logical_id"] for d in listed.json()["documents"]} == set(by_logical_id)
    for ack in acks:
        got = request(server.port, "GET", f"{base}/{ack.logical_id}/content", headers=auth)
        assert got.status == 200, (ack, got.body)
        assert hashlib.sha256(got.body).hexdigest() == ack.sha256

    # In the database: one row per key, and one allowed deposit trace entry per document.
    patient_chain = audit.chain_for(world.ids["marie"])
    with world.rt.sessions() as s:
        docs = s.scalars(select(Document).where(Document.dossier_id == dossier_id)).all()
        assert sorted(d.unique_id for d in docs) == sorted(a.unique_id for a in acks)
        deposits = s.scalars(
            select(AuditEntry).where(
                AuditEntry.chain == patient_chain,
                AuditEntry.action == "document:deposit",
                AuditEntry.outcome == "allowed",
            )
        ).all()
        assert sorted(e.target or "" for e in deposits) == sorted(
            f"document:{a.logical_id}" for a in acks
        )
        # The stored answers that make retries safe were committed with their deposits.
        keys = s.scalars(
            select(IdempotencyRecord.key).where(
                IdempotencyRecord.actor == f"professional:{world.ids['gp']}"
            )
        ).all()
        assert sorted(keys) == sorted(a.key for a in acks)
        seqs = list(s.scalars(select(AuditEntry.seq).where(AuditEntry.chain == patient_chain)))
        assert sorted(seqs) == list(range(1, len(seqs) + 1))
        assert list(audit.verify(s)) == []
