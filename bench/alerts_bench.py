"""What the alerts cost: the history page with and without the review lookup, alternated
in one run, the document listing (whose path the alerts do not touch) beside it, and the
rules' throughput in the worker (trace entries per second).

    python -m bench.alerts_bench --db sqlite:///var/alerts_bench.sqlite
    python -m bench.alerts_bench --db postgresql+psycopg://root@127.0.0.1/dmp_alerts

The database is emptied first. Figures in docs/alerts.md ("Cost").
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import text

from cardreader.emulator.pki import Pki
from server.alerts import scan
from server.db import make_engine
from server.migrate import upgrade
from server.models import Base, Patient, Professional
from server.policy import ActorKind
from server.services import trace_log
from server.signin import sessions


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


def wipe(url: str) -> None:
    engine = make_engine(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        else:
            Base.metadata.drop_all(conn)
            conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()


def percentiles(samples: list[float]) -> str:
    ordered = sorted(samples)
    q = statistics.quantiles(ordered, n=100)
    return f"p50 {q[49] * 1000:.2f} ms, p95 {q[94] * 1000:.2f} ms, p99 {q[98] * 1000:.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--db", required=True)
    parser.add_argument("--entries", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=300)
    args = parser.parse_args()
    wipe(args.db)
    upgrade(args.db)
    work = Path(tempfile.mkdtemp(prefix="alerts-bench-"))
    issued = Pki.init(work / "pki").issue_receipt_signer("receipts-bench")
    from server.app import create_app

    clock = Clock()
    app = create_app(
        {
            "DATABASE_URL": args.db,
            "MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "MASTER_KEY_FILE": str(work / "unused.key"),
            "RECEIPT_SIGNER_KEY_FILE": str(issued.key_path),
            "RECEIPT_SIGNER_CHAIN_FILE": str(issued.chain_path),
        },
        clock=clock,
    )
    rt = app.extensions["dmp"]
    client = app.test_client()
    with rt.sessions() as s:
        desk = Professional(
            national_id="810004567896",
            first_name="Desk",
            last_name="Bench",
            profession="admissions",
            structure_finess="510000011",
            active=True,
        )
        pro = Professional(
            national_id="810005678908",
            first_name="Urg",
            last_name="Bench",
            profession="urgentiste",
            structure_finess="510000011",
            active=True,
        )
        s.add_all([desk, pro])
        s.flush()
        tokens = {
            "desk": sessions.open_session(rt.ctx(s), ActorKind.PROFESSIONAL, desk.id),
            "pro": sessions.open_session(rt.ctx(s), ActorKind.PROFESSIONAL, pro.id),
        }
        s.commit()
        pro_id = pro.id

    def call(who: str, method: str, path: str, body: Any = None) -> Any:
        r = client.open(
            f"/api/v1{path}",
            method=method,
            json=body,
            headers={"Authorization": f"Bearer {tokens[who]}"},
        )
        assert r.status_code < 300, (path, r.status_code, r.get_json())
        return r.get_json()

    identity = {
        "ins": "279035121518989",
        "birth_name": "DUPONT",
        "first_names": "Marie",
        "birth_date": "1979-03-15",
        "sex": "F",
        "birth_place": "51215",
        "email": "marie@example.org",
    }
    dossier = call(
        "desk",
        "POST",
        "/dossiers",
        {"patient": identity, "consent": {"given": True, "terminal": "bench"}},
    )["dossier_id"]
    with rt.sessions() as s:
        patient_id = s.query(Patient.id).scalar()
        tokens["patient"] = sessions.open_session(rt.ctx(s), ActorKind.PATIENT, patient_id)
        s.commit()
    # The hospital joins the care team (an admission); the physician then reads.
    call("desk", "POST", f"/dossiers/{dossier}/care-team/join")
    # A long trace: the physician reading every 7 minutes, day and night.
    started = time.perf_counter()
    for n in range(args.entries):
        clock.now += timedelta(minutes=7)
        if n % 20 == 0:
            tokens["pro"] = _reopen(rt, ActorKind.PROFESSIONAL, pro_id)
        call("pro", "GET", f"/dossiers/{dossier}")
    tokens["patient"] = _reopen(rt, ActorKind.PATIENT, patient_id)
    tokens["pro"] = _reopen(rt, ActorKind.PROFESSIONAL, pro_id)
    print(f"{args.entries} reads written in {time.perf_counter() - started:.1f} s")
    trace_log.run(rt)
    started = time.perf_counter()
    opened = scan.run(rt)
    spent = time.perf_counter() - started
    print(
        f"rules: {args.entries + 5} entries in {spent:.2f} s "
        f"({(args.entries + 5) / spent:.0f} entries/s), {opened} case(s) opened"
    )

    def timed(fn: Callable[[], Any]) -> float:
        t0 = time.perf_counter()
        fn()
        return time.perf_counter() - t0

    history: list[float] = []
    listing: list[float] = []
    for _ in range(args.rounds):
        history.append(timed(lambda: call("patient", "GET", f"/dossiers/{dossier}/history")))
        listing.append(timed(lambda: call("pro", "GET", f"/dossiers/{dossier}/documents")))
    print(f"history page (200 lines, reviews joined): {percentiles(history)}")
    print(f"document listing (path unchanged by the alerts):     {percentiles(listing)}")
    rt.engine.dispose()


def _reopen(rt: Any, kind: ActorKind, actor_id: int) -> str:
    with rt.sessions() as s:
        token = sessions.open_session(rt.ctx(s), kind, actor_id)
        s.commit()
    return str(token)


if __name__ == "__main__":
    main()
