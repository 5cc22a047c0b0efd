"""Long trace chains for the AuditEvent paging bench (issue #14): a dossier whose chain
holds `entries` trace entries, made by real requests through the services.

Every entry is written the way production writes it: by the use case that decides the
access (`documents.list_documents`, `documents.metadata`, a professional outside the care
relation refused), which traces through `guard` and `audit.append` under the chain's
head lock. So the chain stays valid (`dmp audit verify`), the entries carry the details,
modes, outcomes and denial folding of real ones, and their mix is that of a dossier read
often by its médecin traitant:

- 7 in 10: the médecin traitant's listing (`document:list`, the default two-year view);
- 2 in 10: the médecin traitant reading one document's metadata (`document:read`);
- 1 in 10: another professional's listing, allowed or refused by the policy as it
  decides (outside the care relation most are refused: `document:list` denied; identical
  refusals within their window fold into one entry with a count, as in production).

Topping up is idempotent: a chain already this long is left as it is, so a population
seeded once serves every later run. One transaction per `BATCH` requests, each request
at its own instant (`ctx._now = None`, as the other bench preparations do).

Cost, measured here (100,000 dossiers, PostgreSQL, load average 10-15 from other jobs):
47 to 102 entries a second, so 10,000 entries take 100 to 210 s per dossier and the 8
dossiers of an 8-client run about 15 minutes, once.
"""

from __future__ import annotations

import random
import sys
import time

from sqlalchemy import func, select

from server.api.runtime import Runtime
from server.errors import DmpError
from server.models import AuditEntry, Document, Professional
from server.policy import ActorKind
from server.services import audit, documents
from server.signin import sessions

BATCH = 100


def chain_length(rt: Runtime, patient_id: int) -> int:
    with rt.sessions() as s:
        found = s.scalar(
            select(func.max(AuditEntry.seq)).where(AuditEntry.chain == audit.chain_for(patient_id))
        )
    return int(found or 0)


def seed_history(
    rt: Runtime,
    dossier_id: int,
    patient_id: int,
    mt_id: int,
    entries: int,
    seed: int,
    *,
    quiet: bool = False,
) -> int:
    """Tops the patient's chain up to at least `entries` entries; returns its length."""
    have = chain_length(rt, patient_id)
    if have >= entries:
        return have
    rng = random.Random(f"{seed}:trace:{dossier_id}")
    started = time.monotonic()
    with rt.sessions() as s:
        logical_ids = list(
            s.scalars(
                select(Document.logical_id)
                .where(
                    Document.dossier_id == dossier_id,
                    Document.status == "current",
                    Document.masked_ps.is_(False),
                )
                .order_by(Document.id)
            )
        )
        others = list(
            s.scalars(
                select(Professional.id).where(Professional.id != mt_id).order_by(Professional.id)
            )
        )
        ctx = rt.ctx(s)
        mt = sessions.resolve(ctx, sessions.open_session(ctx, ActorKind.PROFESSIONAL, mt_id))
        strangers = [
            sessions.resolve(ctx, sessions.open_session(ctx, ActorKind.PROFESSIONAL, p))
            for p in rng.sample(others, min(5, len(others)))
        ]
        s.commit()
        done = 0
        while have < entries:
            for _ in range(BATCH):
                pick = rng.random()
                try:
                    if pick < 0.7 or not logical_ids:
                        documents.list_documents(ctx, mt, dossier_id)
                    elif pick < 0.9:
                        documents.metadata(ctx, mt, dossier_id, rng.choice(logical_ids))
                    else:
                        # A refusal rolls back what the transaction had begun and traces
                        # in a transaction of its own (guard.record_denial): commit first.
                        s.commit()
                        documents.list_documents(ctx, rng.choice(strangers), dossier_id)
                except DmpError:
                    pass  # a refusal: traced by the use case before it raised
                ctx._now = None
                done += 1
            s.commit()
            have = chain_length(rt, patient_id)
            if not quiet and done % 1000 == 0:
                rate = done / (time.monotonic() - started)
                print(
                    f"   trace of dossier {dossier_id}: {have} entries ({rate:,.0f}/s)",
                    file=sys.stderr,
                    flush=True,
                )
    return have


def main(argv: list[str] | None = None) -> int:
    """Tops up, ahead of a run, the chains `server_bench --scenarios audit_page` would
    top up itself (the same seeded sample of dossiers: one per client)."""
    import argparse

    from bench.population import DEFAULT_KEY_FILE, master_key_b64
    from bench.server_bench import AUDIT_ENTRIES, Preparer, load_population
    from server.app import build_runtime
    from server.config import load_settings

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--db", required=True, metavar="URL")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--entries", type=int, default=AUDIT_ENTRIES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--pool", type=int, default=1000)
    parser.add_argument("--master-key-file", default=DEFAULT_KEY_FILE)
    args = parser.parse_args(argv)
    settings = load_settings({"DATABASE_URL": args.db})
    settings["MASTER_KEY"] = master_key_b64(args.master_key_file)
    rt = build_runtime(settings)
    try:
        prep = Preparer(rt, load_population(rt), args.clients, args.pool, args.seed)
        for dossier_id, patient_id, mt_id in [sh[0] for sh in prep.shares("audit_page")]:
            length = seed_history(rt, dossier_id, patient_id, mt_id, args.entries, args.seed)
            print(f"dossier {dossier_id}: {length} trace entries", flush=True)
    finally:
        rt.engine.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
