"""The purge: how long `dmp retention run` takes per dossier (crypto-shredding included).

    python -m bench.retention_bench [--db URL] [--dossiers 100] [--documents 10]
                                    [--out FILE.json]
    python -m bench.retention_bench --smoke      # 5 dossiers of 3 documents

In one process: the records server's app on a migrated database (a temporary SQLite
file unless --db; a --db is emptied of nothing, its own dossiers are added), N dossiers
of D text documents each, deposited through the API and indexed for search, each closed
by its patient with a deletion request. Then one `retention.run` is timed (KEK destroyed
in the vault, rows erased, purge traced, one transaction per dossier), and a second run
(nothing left: the idempotent pass). Reported: total and per-dossier time of each.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.server_bench import receipt_signer_settings
from server.app import create_app
from server.migrate import upgrade
from server.models import Patient, Professional
from server.policy import ActorKind
from server.retention import run
from server.search import indexer
from server.signin import sessions

GP_NID = "810002813839"


def ins_for(n: int) -> str:
    """A valid test INS per n (NIR key = 97 - first 13 digits mod 97), unlikely to clash."""
    base = f"1850175{n:06d}"
    return f"{base}{97 - int(base) % 97:02d}"


def build(workdir: Path, db_url: str | None, dossiers: int, documents: int) -> Any:
    url = db_url or f"sqlite:///{workdir / 'bench.sqlite'}"
    upgrade(url)
    app = create_app(
        {
            "DATABASE_URL": url,
            "MASTER_KEY": base64.b64encode(os.urandom(32)).decode(),
            "MASTER_KEY_FILE": str(workdir / "unused.key"),
            "KEY_VAULT_DIR": str(workdir / "key-vault"),
            **receipt_signer_settings(workdir),
        }
    )
    rt = app.extensions["dmp"]
    client = app.test_client()
    with rt.sessions() as s:
        gp = s.scalars(select(Professional).where(Professional.national_id == GP_NID)).first()
        if gp is None:
            gp = Professional(
                national_id=GP_NID,
                first_name="Claire",
                last_name="Martin",
                profession="medecin_generaliste",
                structure_finess="750000010",
                active=True,
            )
            s.add(gp)
            s.flush()
        gp_token = sessions.open_session(rt.ctx(s), ActorKind.PROFESSIONAL, gp.id, None)
        s.commit()
    pro = {"Authorization": f"Bearer {gp_token}"}
    stamp = int(time.time()) % 10_000 * 100
    for n in range(dossiers):
        patient = {
            "ins": ins_for(stamp + n),
            "birth_name": "BENCH",
            "first_names": "Alex",
            "birth_date": "1985-01-17",
            "sex": "I",
            "birth_place": "75056",
        }
        body = {"patient": patient, "consent": {"given": True, "terminal": "bench"}}
        r = client.post("/api/v1/dossiers", json={**body, "medecin_traitant": GP_NID}, headers=pro)
        if r.status_code != 201:
            raise RuntimeError(f"dossier: {r.status_code} {r.get_data(as_text=True)}")
        dossier_id = int(r.get_json()["dossier_id"])
        for i in range(documents):
            text = f"Compte rendu {i}. Hypertension artérielle, amlodipine 5 mg. " * 20
            doc = {
                "category": "compte_rendu",
                "type_code": "11488-4",
                "title": f"Compte rendu {i + 1}",
                "mime_type": "text/plain",
                "content_base64": base64.b64encode(text.encode()).decode(),
            }
            r = client.post(f"/api/v1/dossiers/{dossier_id}/documents", json=doc, headers=pro)
            if r.status_code != 201:
                raise RuntimeError(f"deposit: {r.status_code} {r.get_data(as_text=True)}")
        with rt.sessions() as s:
            who = s.scalars(select(Patient.id).where(Patient.ins == patient["ins"])).one()
            token = sessions.open_session(rt.ctx(s), ActorKind.PATIENT, who, None)
            s.commit()
        r = client.post(
            f"/api/v1/dossiers/{dossier_id}/close",
            json={"confirm": True, "delete": True},
            headers={"Authorization": f"Bearer {token}"},
        )
        if r.status_code != 200:
            raise RuntimeError(f"close: {r.status_code} {r.get_data(as_text=True)}")
    indexer.run(rt, threading.Event(), once=True)
    return rt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db")
    parser.add_argument("--dossiers", type=int, default=100)
    parser.add_argument("--documents", type=int, default=10)
    parser.add_argument("--smoke", action="store_true")
    parser.add_argument("--out")
    args = parser.parse_args(argv)
    if args.smoke:
        args.dossiers, args.documents = 5, 3
    with tempfile.TemporaryDirectory() as tmp:
        rt = build(Path(tmp), args.db, args.dossiers, args.documents)
        try:
            start = time.perf_counter()
            first = run(rt)
            purge_s = time.perf_counter() - start
            start = time.perf_counter()
            second = run(rt)
            again_s = time.perf_counter() - start
        finally:
            rt.engine.dispose()
    if first.total < args.dossiers or second.total != 0:
        print(f"unexpected: {first.line()} / {second.line()}", file=sys.stderr)
        return 1
    report = {
        "backend": rt.engine.dialect.name,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "dossiers": first.total,
        "documents_per_dossier": args.documents,
        "purge_s": round(purge_s, 3),
        "purge_ms_per_dossier": round(1000 * purge_s / first.total, 2),
        "keys_destroyed": first.keys_destroyed,
        "second_run_s": round(again_s, 3),
    }
    print(json.dumps(report, indent=2))
    if args.out:
        Path(args.out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
