"""Export jobs: asked through the API (or a flow such as "export then close"), built by
the worker, sealed with the dossier's key, deleted when they expire (docs/export.md).

A job goes queued -> running -> ready (or failed); `expire` turns any job past its
`expires_at` into expired and drops its archive. Claims work like the indexer's and the
outbox's: one short transaction takes the oldest due job `FOR UPDATE SKIP LOCKED`
(PostgreSQL; SQLite writes one transaction at a time) with a lease, so several workers
share the queue and a job whose worker died is taken again once its lease ends.
"""

from __future__ import annotations

import logging
import re
import secrets
import threading
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, or_, select, update

from server.errors import AccessDenied, NotFound
from server.export import archive
from server.export.gather import CHUNK, KeyDestroyed, Opened, contents, gather
from server.models import Dossier, DossierExport
from server.policy import Action, Actor, ActorKind
from server.services import guard, lookup, views
from server.services.context import Ctx, Principal

if TYPE_CHECKING:
    from server.api.runtime import Runtime

log = logging.getLogger("dmp.export")

EXPORT_ID_BYTES = 16
EXPORT_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{22}$")
LEASE = timedelta(minutes=10)  # well above a 500-document build (docs/export.md)
MAX_ATTEMPTS = 3
UNDER_WAY = ("queued", "running")
FINAL = ("ready", "failed", "expired")
# Progress: what each stage of a build weighs, in percent.
GATHERED, READ, ASSEMBLED = 5, 45, 95


def no_export() -> NotFound:
    return NotFound("export_not_found", "Export introuvable.")


# ---- asking and following ---------------------------------------------------------------


def request(ctx: Ctx, who: Principal, dossier_id: int) -> dict[str, Any]:
    """Queues an export of what `who` may see of the dossier (decided and traced), or
    answers the one already under way for them: asking twice builds once."""
    row, patient = lookup.dossier(ctx, who, Action.DOSSIER_EXPORT, dossier_id)
    existing = ctx.session.scalars(
        select(DossierExport).where(
            DossierExport.dossier_id == row.id,
            DossierExport.requester_kind == who.actor.kind.value,
            DossierExport.requester_id == who.actor.id,
            DossierExport.status.in_(UNDER_WAY),
        )
    ).first()
    export_id = existing.export_id if existing else secrets.token_urlsafe(EXPORT_ID_BYTES)
    guard.authorize(
        ctx,
        who,
        Action.DOSSIER_EXPORT,
        row,
        patient,
        detail={"export": export_id, "step": "request"},
    )
    if existing is not None:
        return view(existing)
    job = DossierExport(
        export_id=export_id,
        dossier_id=row.id,
        requester_kind=who.actor.kind.value,
        requester_id=who.actor.id,
        requester_name=who.name[:200],
        kiosk=who.kiosk,
        status="queued",
        progress=0,
        attempts=0,
        code_tries=0,
        created_at=ctx.now,
        expires_at=ctx.now + timedelta(days=ctx.settings["EXPORT_KEEP_DAYS"]),
    )
    ctx.session.add(job)
    ctx.session.flush()
    return view(job)


def own(ctx: Ctx, who: Principal, export_id: str, *, lock: bool = False) -> DossierExport:
    """The caller's own export. Another person's, and none, answer alike (404): an export
    id is nobody else's business, not even whether it exists."""
    if not EXPORT_ID_PATTERN.match(export_id):
        raise no_export()
    query = select(DossierExport).where(DossierExport.export_id == export_id)
    if lock:
        query = query.with_for_update()
    job = ctx.session.scalars(query).first()
    if (
        job is None
        or job.requester_kind != who.actor.kind.value
        or job.requester_id != who.actor.id
    ):
        raise no_export()
    return job


def status(ctx: Ctx, who: Principal, export_id: str) -> dict[str, Any]:
    """Polled every second or two by the kiosk while it shows the progress: not traced
    (it says a percentage, to the one who asked; the request, the build, the link and
    every download are)."""
    return view(own(ctx, who, export_id))


def view(job: DossierExport) -> dict[str, Any]:
    link = None
    if job.link_expires_at is not None:
        link = {"expires_at": views.iso(job.link_expires_at), "used": job.link_used_at is not None}
    return {
        "export_id": job.export_id,
        "dossier_id": job.dossier_id,
        "status": job.status,
        "progress": job.progress,
        "documents": job.documents,
        "size": job.size,
        "created_at": views.iso(job.created_at),
        "ready_at": views.iso(job.ready_at) if job.ready_at else None,
        "expires_at": views.iso(job.expires_at),
        "error": job.error,
        "link": link,
    }


def requester(job: DossierExport) -> Principal:
    """Who asked, as the build and the download decide for them again. No session: the
    session hash only ever matters for professionals, who cannot export."""
    actor = Actor(ActorKind(job.requester_kind), job.requester_id)
    return Principal(actor, job.requester_name, session_hash="", kiosk=job.kiosk)


# ---- building (the worker) ------------------------------------------------------------------


def claim(ctx: Ctx, export_id: str | None = None) -> int | None:
    """Takes the oldest due job (or that one) with a lease; the caller commits."""
    now = ctx.now
    query = select(DossierExport).where(
        or_(
            DossierExport.status == "queued",
            and_(DossierExport.status == "running", DossierExport.claimed_until <= now),
        )
    )
    if export_id is not None:
        query = query.where(DossierExport.export_id == export_id)
    job = ctx.session.scalars(
        query.order_by(DossierExport.id).limit(1).with_for_update(skip_locked=True)
    ).first()
    if job is None:
        return None
    job.status, job.claimed_until = "running", now + LEASE
    job.attempts += 1
    job.progress = max(job.progress, 1)
    return job.id


def build(rt: Runtime, job_id: int) -> str:
    """Builds one claimed job; returns its final status (or "queued" for a retry)."""
    try:
        return _build(rt, job_id)
    except Exception as exc:
        # Only the type: a message could quote content. The job is retried, then failed.
        log.error("export %d: build failed (%s)", job_id, type(exc).__name__)
        with rt.sessions() as session:
            job = session.get(DossierExport, job_id)
            if job is None:
                return "failed"
            retry = job.attempts < MAX_ATTEMPTS
            job.status = "queued" if retry else "failed"
            job.error = None if retry else "build_failed"
            job.claimed_until = None
            session.commit()
            return job.status


def _build(rt: Runtime, job_id: int) -> str:
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        job = session.get(DossierExport, job_id)
        if job is None:
            return "failed"
        who, dossier_id, export_id = requester(job), job.dossier_id, job.export_id
        try:
            gathered = gather(ctx, who, dossier_id, export_id)
        except AccessDenied:
            # Traced and committed by the guard: the requester may no longer export.
            return _finish(rt, job_id, "failed", "refused")
        except KeyDestroyed:
            session.rollback()
            return _finish(rt, job_id, "failed", "key_destroyed")
        session.commit()
    progress = _Progress(rt, job_id)
    progress.set(GATHERED)
    ids = [r.logical_id for r in gathered.rows]
    opened: dict[str, Opened] = {}
    for start in range(0, max(len(ids), 1), CHUNK):
        # A short read per chunk: no transaction stays open while the progress is
        # written (SQLite without WAL would make that write wait for it).
        with rt.sessions() as session:
            ctx = rt.ctx(session)
            row = session.get(Dossier, dossier_id)
            if row is None or row.wrapped_key is None:
                return _finish(rt, job_id, "failed", "key_destroyed")
            opened.update(contents(ctx, row, ids[start : start + CHUNK]))
            signer, now = ctx.receipts, ctx.now
        done = min(start + CHUNK, len(ids))
        progress.set(GATHERED + (READ - GATHERED) * done // max(len(ids), 1))
    data = archive.assemble(
        gathered,
        opened,
        matrix=rt.matrix,
        now=now,
        requester=who.name,
        chain_pem=signer.chain_pem() if signer is not None else None,
        progress=lambda d, t: progress.set(READ + (ASSEMBLED - READ) * d // max(t, 1)),
    )
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        job = session.get(DossierExport, job_id, with_for_update=True)
        row = session.get(Dossier, dossier_id)
        if job is None or job.status != "running":
            return job.status if job is not None else "failed"
        if row is None or row.wrapped_key is None:  # purged while this was built
            session.rollback()
            return _finish(rt, job_id, "failed", "key_destroyed")
        job.nonce, job.archive = ctx.keyring.encrypt(row.wrapped_key, data, aad(job))
        job.size = len(data)
        job.documents = len(gathered.rows)
        job.status, job.progress, job.ready_at = "ready", 100, ctx.now
        job.expires_at = ctx.now + timedelta(days=ctx.settings["EXPORT_KEEP_DAYS"])
        job.claimed_until = None
        session.commit()
    return "ready"


def aad(job: DossierExport) -> str:
    """The archive's associated data: a sealed archive moved to another row fails."""
    return f"export:{job.export_id}"


def _finish(rt: Runtime, job_id: int, status: str, error: str | None) -> str:
    with rt.sessions() as session:
        session.execute(
            update(DossierExport)
            .where(DossierExport.id == job_id)
            .values(status=status, error=error, claimed_until=None)
        )
        session.commit()
    return status


class _Progress:
    """Writes the percentage in short transactions of its own, only when it moved: the
    kiosk polls it while the build runs."""

    def __init__(self, rt: Runtime, job_id: int) -> None:
        self.rt, self.job_id, self.last = rt, job_id, 0

    def set(self, percent: int) -> None:
        percent = min(int(percent), 99)
        if percent < self.last + 2:
            return
        self.last = percent
        with self.rt.sessions() as session:
            session.execute(
                update(DossierExport)
                .where(DossierExport.id == self.job_id, DossierExport.status == "running")
                .values(progress=percent)
            )
            session.commit()


def expire(rt: Runtime) -> int:
    """Drops the archives of exports past their end (and ends their links); how many."""
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        result = session.execute(
            update(DossierExport)
            .where(DossierExport.expires_at <= ctx.now, DossierExport.status != "expired")
            .values(status="expired", archive=None, nonce=None, claimed_until=None)
        )
        session.commit()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def run_once(rt: Runtime, export_id: str | None = None) -> str | None:
    """Claims and builds one job (the oldest, or that one); its final status, None when
    there was nothing to do."""
    with rt.sessions() as session:
        job_id = claim(rt.ctx(session), export_id)
        session.commit()
    if job_id is None:
        return None
    return build(rt, job_id)


def run(
    rt: Runtime, stop: threading.Event, *, poll_seconds: float = 1.0, once: bool = False
) -> int:
    """The worker's loop: expires old exports, builds queued ones, until `stop` is set (or,
    with once, until none is due); returns how many it built."""
    built = 0
    while not stop.is_set():
        try:
            expire(rt)
            done = run_once(rt)
        except Exception:
            # The database may be away for a moment: the jobs wait, nothing is lost.
            log.exception("export pass failed")
            done = None
            if once:
                raise
        if done is not None:
            built += 1
            continue
        if once:
            break
        stop.wait(poll_seconds)
    return built


# ---- for flows (export then close) ------------------------------------------------------------


def start(rt: Runtime, who: Principal, dossier_id: int) -> str:
    """Queues an export for `who` in a transaction of its own; its id. Raises what the API
    would answer (AccessDenied, NotFound) when refused."""
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        export_id = str(request(ctx, who, dossier_id)["export_id"])
        session.commit()
    return export_id


def wait(
    rt: Runtime,
    export_id: str,
    *,
    timeout: float = 120.0,
    poll: float = 0.25,
    build_here: bool = False,
) -> str:
    """Waits until the export is ready, failed or expired and returns that status, or the
    current one after `timeout` seconds. `build_here`: builds it in this thread if no
    worker has taken it (a flow that must not depend on a worker running)."""
    deadline = time.monotonic() + timeout
    while True:
        if build_here:
            run_once(rt, export_id)
        with rt.sessions() as session:
            job = session.scalars(
                select(DossierExport).where(DossierExport.export_id == export_id)
            ).first()
            current = job.status if job is not None else "failed"
        if current in FINAL or time.monotonic() >= deadline:
            return current
        time.sleep(poll)
