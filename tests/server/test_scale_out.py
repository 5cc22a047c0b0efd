"""Scale-out: two independent gunicorn servers on one database serve the same sessions and
write into the same dossier's trace chain without forking it.

The database is the run's own (`database_url`): in the PostgreSQL pass this is the
production shape, several hosts in front of one PostgreSQL; in the SQLite pass it is the
single-host shape, two server processes on one SQLite file (SQLite never spans hosts,
docs/deployment.md). Either way the servers share nothing but the database.

Also here: gunicorn with config/gunicorn.conf.py boots, serves /healthz and
/openapi.json, keeps query strings out of its access log, and refuses a stale schema.
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import time
import uuid
from collections import Counter
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from cardreader.emulator.demo import DEMO_PIN, DEMO_PUK, PROFESSIONALS, professional_file_name
from cardreader.emulator.pki import Pki
from server.app import utc_now
from server.models import AuditEntry, AuditHead
from server.services import audit
from server.signin import kiosk_identity, request_signing
from tests.server.cardkit import load_key, proof_body, read_card
from tests.server.conftest import doc
from tests.server.procs import Gunicorn, Reply, ServerDied, live_world, request
from tests.server.test_card_signin import GP_CARD

pytestmark = pytest.mark.slow

THREADS = 4
REQUESTS_PER_THREAD = 50
CONSENTED = ("specialist", "pharmacien", "infirmier")
# A concurrent twin, or a database briefly busy: the request changed nothing, try again.
RETRYABLE = {409: "concurrent_write", 503: "database_unavailable"}
MAX_ATTEMPTS = 20
DEADLINE = 200.0


def test_gunicorn_boots_with_the_shipped_config(settings: dict[str, Any], tmp_path: Path) -> None:
    log = tmp_path / "gunicorn.log"
    with live_world(settings), Gunicorn(settings, log, workers=1, threads=2) as server:
        health = request(server.port, "GET", "/healthz?ins=279035121518989")
        assert health.status == 200
        assert health.json() == {"status": "ok"}
        spec = request(server.port, "GET", "/openapi.json")
        assert spec.status == 200
        assert spec.json()["openapi"].startswith("3.")
        assert "/api/v1/dossiers" in spec.json()["paths"]
    text = log.read_text()
    assert "Using worker: gthread" in text
    assert '"GET /healthz HTTP/1.1" 200' in text  # the access log is on...
    assert "279035121518989" not in text  # ...without the query string


def test_a_stale_schema_stops_the_workers_at_boot(settings: dict[str, Any], tmp_path: Path) -> None:
    # An empty SQLite file whatever the run's backend: the check is the entry point's.
    empty = {**settings, "DATABASE_URL": f"sqlite:///{tmp_path / 'empty.sqlite'}"}
    server = Gunicorn(empty, tmp_path / "gunicorn.log", workers=1, threads=1)
    with pytest.raises(ServerDied, match="dmp db upgrade"):
        server.start()
    assert server.proc is None


@dataclass
class Tally:
    acked: Counter[str] = field(default_factory=Counter)  # decisions made, by kind
    replayed: int = 0
    retried: Counter[str] = field(default_factory=Counter)
    served_by: Counter[int] = field(default_factory=Counter)
    errors: list[BaseException] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def send(port: int, method: str, path: str, body: Any, headers: dict[str, str], t: Tally) -> Reply:
    """One request, retried while the answer says nothing was done."""
    deadline = time.monotonic() + 60
    for _ in range(MAX_ATTEMPTS):
        reply = request(port, method, f"/api/v1{path}", body, headers)
        if reply.status in (200, 201):
            return reply
        reason = reply.json().get("reason") if reply.body.startswith(b"{") else None
        if RETRYABLE.get(reply.status) != reason or time.monotonic() > deadline:
            break
        with t.lock:
            t.retried[f"{reply.status} {reason}"] += 1
        time.sleep(0.01)
    raise AssertionError(f"{method} {path}: {reply.status} {reply.body[:300]!r}")


def hammer(
    worker: int,
    ports: list[int],
    tokens: dict[str, str],
    nids: dict[str, str],
    dossier: int,
    t: Tally,
) -> None:
    try:
        for j in range(REQUESTS_PER_THREAD):
            port = ports[(worker + j) % len(ports)]
            kind = ("deposit", "emergency", "consent")[(worker + j) % 3]
            if kind == "deposit":
                headers = {
                    "Authorization": f"Bearer {tokens['gp']}",
                    "Idempotency-Key": f"scale-{worker}-{j}-{uuid.uuid4().hex[:8]}",
                }
                body: Any = doc(title=f"Scale {worker}/{j}", content=f"{worker}/{j}".encode())
                reply = send(port, "POST", f"/dossiers/{dossier}/documents", body, headers, t)
            elif kind == "emergency":
                headers = {"Authorization": f"Bearer {tokens['marie']}"}
                body = {"bris_de_glace": j % 2 == 0, "centre_15": (j // 2) % 2 == 0}
                reply = send(
                    port, "PUT", f"/dossiers/{dossier}/emergency-settings", body, headers, t
                )
            else:
                headers = {"Authorization": f"Bearer {tokens['marie']}"}
                body = {"national_id": nids[CONSENTED[j % len(CONSENTED)]]}
                reply = send(port, "POST", f"/dossiers/{dossier}/consents", body, headers, t)
            with t.lock:
                t.served_by[port] += 1
                if reply.headers.get("idempotent-replayed") == "true":
                    t.replayed += 1  # answered from the stored record: no new decision
                else:
                    t.acked[kind] += 1
    except BaseException as exc:
        with t.lock:
            t.errors.append(exc)


def test_two_servers_one_database_one_whole_chain(
    settings: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    with live_world(settings) as world, ExitStack() as stack:
        dossier = world.create("admissions", "marie", medecin_traitant=world.nid("gp"))
        servers = [
            stack.enter_context(Gunicorn(settings, tmp_path / f"{name}.log", workers=2))
            for name in ("a", "b")
        ]
        a, b = (s.port for s in servers)
        assert a != b

        # A session opened in this process (through the services) works on both servers:
        # the servers keep no session state of their own.
        gp = {"Authorization": f"Bearer {world.tokens['gp']}"}
        for port in (a, b):
            who = request(port, "GET", "/api/v1/session", headers=gp)
            assert who.status == 200, who.body
            assert who.json()["profession"] == "medecin_generaliste"
            seen = request(port, "GET", f"/api/v1/dossiers/{dossier}", headers=gp)
            assert seen.status == 200, seen.body
        # Signing out on one server ends the session on the other at once.
        token = world.open("pharmacien")
        bearer = {"Authorization": f"Bearer {token}"}
        assert request(b, "GET", "/api/v1/session", headers=bearer).status == 200
        assert request(a, "DELETE", "/api/v1/session", headers=bearer).status == 200
        assert request(b, "GET", "/api/v1/session", headers=bearer).status == 401

        chain = audit.chain_for(world.ids["marie"])
        before = len(world.trace("marie"))
        tally = Tally()
        nids = {name: world.nid(name) for name in CONSENTED}
        threads = [
            threading.Thread(
                target=hammer, args=(i, [a, b], world.tokens, nids, dossier, tally), daemon=True
            )
            for i in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=max(1.0, started + DEADLINE - time.monotonic()))
        assert not tally.errors, tally.errors[0]
        assert not any(t.is_alive() for t in threads), "a client thread is stuck"
        assert sum(tally.served_by.values()) == THREADS * REQUESTS_PER_THREAD
        assert set(tally.served_by) == {a, b}
        assert tally.replayed == 0  # no key was ever sent twice after a commit

        # The chain is whole: no fork, no gap, one entry per acknowledged decision.
        with world.rt.sessions() as s:
            entries = s.scalars(
                select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq)
            ).all()
            head = s.get(AuditHead, chain)
            breaks = list(audit.verify(s, chain))
            all_breaks = list(audit.verify(s))
        assert breaks == [], breaks
        assert all_breaks == [], all_breaks
        assert [e.seq for e in entries] == list(range(1, len(entries) + 1))
        assert all(e.prev_hash == p.hash for p, e in itertools.pairwise(entries))
        assert head is not None
        assert (head.seq, head.hash) == (entries[-1].seq, entries[-1].hash)
        decisions = sum(tally.acked.values())
        assert len(entries) == before + decisions
        actions = Counter(e.action for e in entries[before:])
        assert actions == {
            "document:deposit": tally.acked["deposit"],
            "emergency:settings": tally.acked["emergency"],
            "access:grant": tally.acked["consent"],
        }
        assert all(e.outcome == "allowed" for e in entries[before:])
        for server in servers:  # neither server logged an unhandled error
            assert "Traceback" not in server.log_tail(200_000), server.log_tail()

    with capsys.disabled():
        print(
            f"\n[scale-out] {THREADS}x{REQUESTS_PER_THREAD} requests over ports {a},{b} "
            f"served {dict(tally.served_by)}; decisions {dict(tally.acked)}; "
            f"retried {dict(tally.retried) or 0}; chain {len(entries)} entries "
            f"({before} from setup), seq 1..{entries[-1].seq}, no break; "
            f"in {time.monotonic() - started:.1f} s"
        )


def test_a_challenge_from_one_server_signs_in_on_the_other_and_only_once(
    settings: dict[str, Any], tmp_path: Path
) -> None:
    # Challenges are never stored (server/signin/challenges.py): another process must
    # recognise them through the master key alone, and their single use must hold across
    # processes, through the database.
    pki = Pki.init(tmp_path / "pki")  # dated now: the servers read the real clock
    gp = next(p for p in PROFESSIONALS if professional_file_name(p.identity) == f"{GP_CARD}.json")
    card = pki.issue_card(gp.identity, pin=DEMO_PIN, puk=DEMO_PUK, demo=True)
    device = pki.issue_kiosk("borne-1")
    key = load_key(device)
    with_pki = {**settings, "PKI_DIR": str(tmp_path / "pki")}
    with live_world(with_pki) as world, ExitStack() as stack:
        rt = world.rt
        with rt.sessions() as s:
            pem = device.certificate_path.read_bytes()
            kiosk_identity.register(rt.ctx(s), rt.trust, "borne-1", pem)
            s.commit()
        servers = []
        for name in ("a", "b"):
            server = Gunicorn(settings, tmp_path / f"{name}.log", workers=1)
            server.env["DMP_PKI_DIR"] = str(tmp_path / "pki")
            servers.append(stack.enter_context(server))
        a, b = (server.port for server in servers)

        def signed(port: int, method: str, path: str, body: bytes = b"", **extra: str) -> Reply:
            headers = request_signing.sign_request(key, "borne-1", method, path, body, utc_now())
            return request(port, method, path, body or None, {**headers, **extra})

        issued = signed(a, "POST", "/api/v1/auth/card/challenge")
        assert issued.status == 201, issued.body
        challenge = base64.b64decode(issued.json()["challenge"])
        body = json.dumps(proof_body(read_card(card, challenge))).encode()
        opened = signed(b, "POST", "/api/v1/auth/card/signin", body)
        assert opened.status == 201, opened.body
        token = opened.json()["token"]
        who = signed(a, "GET", "/api/v1/session", Authorization=f"Bearer {token}")
        assert who.status == 200, who.body
        again = signed(a, "POST", "/api/v1/auth/card/signin", body)
        assert again.status == 401
        with rt.sessions() as s:
            last = s.scalars(
                select(AuditEntry)
                .where(AuditEntry.chain == audit.SYSTEM_CHAIN)
                .order_by(AuditEntry.seq.desc())
            ).first()
        assert last is not None
        assert (last.action, last.outcome, last.reason) == (
            "auth:card",
            "denied",
            "challenge_replayed",
        )
