"""Load bench of the records server through the real HTTP stack (gunicorn + Flask).

    python -m bench.server_bench --db URL [--clients 8] [--duration 20] [--workers 4]
    python -m bench.server_bench --smoke            # tiny SQLite population, a few seconds

Scenarios, each run by C client processes for D seconds after a warm-up:

    baseline         GET /bench/baseline: a precomputed listing-sized JSON body, no auth,
                     no database (the stack's ceiling; see bench/app.py)
    list_mt          GET .../documents as the médecin traitant (reads every category)
    list_pharmacist  GET .../documents as a pharmacist with the patient's consent
                     (the matrix drops the categories a pharmacist may not read)
    read_document    GET .../documents/<id>/content as the médecin traitant (decrypts)
    deposit          POST .../documents as the médecin traitant (encrypts, notifies)
    deposit_text     the same with a generated plain-text report (read, indexed)
    deposit_pdf10    the same with a generated 10-page PDF report: its text layer is
                     extracted and indexed in the request (issue #11's deposit bench,
                     reported against deposit_text of the same run: `deposit_ratio`)
    deposit_text10   that 10-page report's text as a plain-text document: the same words
                     to index, so deposit_pdf10 / deposit_text10 is the PDF reading alone
    history          GET .../history as the patient (renders the trace in French)
    list_large       GET .../documents?all=true as the médecin traitant, in dossiers
                     holding --large-docs (500) documents or more
    search_large     GET .../search?q=... as the médecin traitant in those same dossiers,
                     cycling a query mix (a rare word, a frequent word, a typed prefix,
                     two words): issue #11's search bench, reported against list_large
                     (`search_ratios`; target: p99 under 20 ms and at most 1.5 x)
    search_typical   the same query mix in typical dossiers (list_mt's sample), reported
                     against list_mt
    floor_logged     floor and list_mt again while the transparency log's sequencer runs
    list_mt_logged   its passes (every LOG_SEQUENCE_SECONDS, as `dmp worker` does), the log
                     brought up to date just before: issue #14's "the read path gets no
                     slower", reported against floor and list_mt of the same run
    fhir_search      ITI-67 GET /fhir/R4/DocumentReference?patient.identifier=<INS>&
                     status=current as the médecin traitant in list_mt's dossiers: the
                     dossier found by its INS (traced), then listed (traced); issue #12's
                     target, reported against list_mt: p99 at most 1.5 x
    summary_typical  IPS GET /fhir/R4/Patient/<id>/$summary as the médecin traitant in
                     list_mt's dossiers: the listing's decision, every shown standing
                     version's structure unsealed, one trace entry naming the documents
                     drawn on; issue #12's target p99 under 50 ms (through the
                     summary cache)
    summary_large    the same in list_large's dossiers (500 documents or more): p99 under
                     150 ms
    summary_typical_nocache, summary_large_nocache
                     the same summaries built without the summary cache (bench.app's
                     /bench/summary_nocache/<id>: same decision, trace and Bundle). The
                     summary scenarios sample dossiers holding structured documents when
                     the population has any (only those have something to summarise)
    audit_page       issue #14: the patient's API client paging their history as FHIR
                     AuditEvents (GET /fhir/R4/AuditEvent?patient=...&_count=50, random
                     pages through `_before`), one dossier per client whose chain is first
                     topped up to --audit-entries (10,000) real entries
                     (bench/trace_seed.py); target p99 under 30 ms

Sessions are opened through the real service (`sessions.open_session`), consents granted
through `access.grant_consent` as the patient, all traced like any other act. Each client
works on its own share of the sampled dossiers (a professional rarely has two requests in
flight on one dossier); each client has its own sessions.

Client cost: on a 2-core machine the load generator competes with the server for CPU, so
the clients are separate processes speaking HTTP/1.1 keep-alive on raw sockets with
prebuilt requests (about 20 µs of CPU per request, against about 100 µs for http.client);
their CPU time, the server workers' and PostgreSQL's are measured over each window and
reported next to the figures.

Results: a table on stdout and JSON in bench/results/ (gitignored). Any request that does
not answer the expected status is an error: the run exits 1 when there is one.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from multiprocessing import get_context
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from reportlab.pdfgen import canvas
from sqlalchemy import func, select

from bench import trace_seed
from bench.app import BASELINE_ENV
from bench.corpus import Corpus, GeneratedDocument, random_context
from bench.corpus_text import plain_text
from bench.population import DEFAULT_KEY_FILE, check_sample, master_key_b64, populate
from cardreader.emulator.pki import Pki
from server.api.runtime import Runtime
from server.app import build_runtime
from server.config import load_settings
from server.migrate import require_current
from server.models import (
    ConsultationConsent,
    Document,
    DocumentStructure,
    Dossier,
    Patient,
    Professional,
)
from server.policy import ActorKind
from server.search import query
from server.services import access, documents, trace_log
from server.signin import sessions

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
SCENARIOS = (
    "baseline",
    "floor",
    "list_mt",
    "list_pharmacist",
    "read_document",
    "deposit",
    "deposit_text",
    "deposit_pdf10",
    "deposit_text10",
    "history",
    "list_large",
    "search_large",
    "search_typical",
    "fhir_search",
    "floor_logged",
    "list_mt_logged",
    "summary_typical",
    "summary_large",
    "summary_typical_nocache",
    "summary_large_nocache",
    "audit_page",
)
# The issue's deposit comparison: a 10-page PDF with extraction against a text document
# (a typical one; and one holding the same words, which leaves the PDF reading alone).
DEPOSIT_PAIRS = (("deposit_pdf10", "deposit_text"), ("deposit_pdf10", "deposit_text10"))
LISTINGS = ("list_mt", "list_pharmacist")
# The issue's targets, on PostgreSQL at 100,000 dossiers and 8 clients.
TARGET_RATIO = 0.5
TARGET_P99_MS = 25.0
# Issue #11's search bench: a search in a dossier of 500 documents against the listing of
# the same dossiers in the same run (p99 under 20 ms, at most 1.5 x the listing's); and
# the same in typical dossiers, against their usual listing.
SEARCH_PAIRS = (("search_large", "list_large"), ("search_typical", "list_mt"))
TARGET_SEARCH_P99_MS = 20.0
TARGET_SEARCH_RATIO = 1.5
# Issue #12: the FHIR search by patient identifier against the JSON listing of the same
# dossiers, same run, p99 at most 1.5 x.
FHIR_PAIRS = (("fhir_search", "list_mt"),)
TARGET_FHIR_RATIO = 1.5
# Issue #14: the read path with the log's sequencer running against without, same run.
LOG_PAIRS = (("floor_logged", "floor"), ("list_mt_logged", "list_mt"))
LOGGED = "_logged"
# Issue #12: the IPS $summary of a typical dossier and of a 500-document one (p99, ms).
TARGET_SUMMARY_P99_MS = {"summary_typical": 50.0, "summary_large": 150.0}
# The same summaries built without the cache (bench.app's /bench/summary_nocache route:
# the same decision, trace and Bundle), and each against the floor of the same run.
NOCACHE = "_nocache"
SUMMARY_PAIRS = (
    ("summary_typical", "floor"),
    ("summary_large", "floor"),
    ("summary_typical_nocache", "floor"),
    ("summary_large_nocache", "floor"),
    ("summary_typical", "summary_typical_nocache"),
    ("summary_large", "summary_large_nocache"),
)
# Issue #14: an API client paging the patient's history as FHIR AuditEvents, 50 a page,
# in a dossier whose chain holds 10,000 entries (bench/trace_seed.py): p99 under 30 ms.
# The cached summaries are measured warm: each client first asks once for every summary
# of its share (before the warm-up; the uncached twins measure the cold build).
PRIMED = ("summary_typical", "summary_large")
AUDIT_ENTRIES = 10_000
AUDIT_PAGE = 50
TARGET_AUDIT_P99_MS = 30.0
AUDIT_PAIRS = (("audit_page", "floor"),)
LARGE_DOCS = 500
# One query of each kind a professional types, from the corpus's vocabulary
# (bench/corpus_text.py, bench/data/). Probed on the 10,000-dossier population, in 6
# dossiers of 525-658 documents: the allergy 2-9 documents, the author's profession
# ("Médecin généraliste"...) 63-70%, the prefix 30-55, the lab analyte 52-84 (in typical
# dossiers of about 20: 0, 12-23, 1-3, 0-4). Every run probes and reports the counts
# again (`matches`): a query that matches nothing would measure an empty answer.
SEARCH_QUERIES = (
    ("rare word", "pénicilline"),
    ("frequent word", "médecin"),
    ("typed prefix", "cardi"),
    ("two words", "hémoglobine glyquée"),
)
# Dossiers whose matches are counted before a search scenario (one search each, in
# process, traced like any other): enough for a median without delaying the run.
PROBE_DOSSIERS = 30
API = "/api/v1"
# config/gunicorn.conf.py's defaults: 2 x cores + 1 workers (at most 8), 4 threads each.
PRODUCTION_WORKERS = min(2 * (os.cpu_count() or 1) + 1, 8)
PRODUCTION_THREADS = 4


# --- requests ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Target:
    """One request a client may send; `body` set means a POST with a fresh idempotency key."""

    method: str
    path: str
    token: str | None
    expect: int
    body: bytes | None = None
    label: str = ""  # set: its latencies are also reported apart (one query of a mix)


def _request_bytes(target: Target, host: str, key: str | None = None) -> bytes:
    lines = [f"{target.method} {target.path} HTTP/1.1", f"Host: {host}", "User-Agent: dmp-bench"]
    if target.token:
        lines.append(f"Authorization: Bearer {target.token}")
    if target.body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(target.body)}"]
        if key:
            lines.append(f"Idempotency-Key: {key}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head + (target.body or b"")


class HttpConnection:
    """Minimal HTTP/1.1 keep-alive client: Content-Length or chunked bodies, reconnects
    when the server says `Connection: close` (gunicorn's sync workers do every time)."""

    def __init__(self, host: str, port: int) -> None:
        self.address = (host, port)
        self.sock: socket.socket | None = None
        self.buffer = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.address, timeout=60)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buffer = sock, b""
        return sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        self.sock = None

    def _fill(self, sock: socket.socket) -> None:
        data = sock.recv(262144)
        if not data:
            raise ConnectionError("connection closed by the server")
        self.buffer += data

    def request(self, data: bytes) -> tuple[int, bytes]:
        sock = self.sock or self._connect()
        sock.sendall(data)
        while (end := self.buffer.find(b"\r\n\r\n")) < 0:
            self._fill(sock)
        head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
        lines = head.split(b"\r\n")
        status = int(lines[0].split(b" ", 2)[1])
        length, chunked, close = 0, False, False
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                length = int(value)
            elif name == b"transfer-encoding":
                chunked = b"chunked" in value.lower()
            elif name == b"connection":
                close = value.strip().lower() == b"close"
        body = self._chunked(sock) if chunked else self._exactly(sock, length)
        if close:
            self.close()
        return status, body

    def _exactly(self, sock: socket.socket, length: int) -> bytes:
        while len(self.buffer) < length:
            self._fill(sock)
        body, self.buffer = self.buffer[:length], self.buffer[length:]
        return body

    def _chunked(self, sock: socket.socket) -> bytes:
        parts = []
        while True:
            while (end := self.buffer.find(b"\r\n")) < 0:
                self._fill(sock)
            size = int(self.buffer[:end].split(b";")[0], 16)
            self.buffer = self.buffer[end + 2 :]
            parts.append(self._exactly(sock, size + 2)[:size])
            if size == 0:
                return b"".join(parts)


# --- client processes --------------------------------------------------------------------


@dataclass
class ClientResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    bytes_received: int = 0
    cpu_seconds: float = 0.0
    warmup_requests: int = 0
    by_label: dict[str, list[float]] = field(default_factory=dict)


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def client_main(
    pipe: Connection, port: int, targets: list[Target], seed: int, tag: str, prime: bool = False
) -> None:  # pragma: no cover - runs in a child process
    """One closed-loop client: waits for the window, then requests back to back.
    `prime`: first sends each of its distinct requests once (not measured)."""
    host = f"127.0.0.1:{port}"
    rng = random.Random(seed)
    prebuilt = [_request_bytes(t, host) for t in targets]
    conn = HttpConnection("127.0.0.1", port)
    result = ClientResult()
    counter = 0
    if prime:
        # Each distinct request once before the window (a cached scenario measured warm).
        for target, data in dict(zip(targets, prebuilt, strict=True)).items():
            status, body = conn.request(data)
            if status != target.expect:
                result.errors += 1
                if len(result.error_samples) < 3:
                    result.error_samples.append(f"prime {target.path}: {status} {body[:300]!r}")
    pipe.send("ready")
    start, stop = pipe.recv()  # monotonic instants shared by every process on Linux
    cpu_start: float | None = None
    perf = time.perf_counter
    while True:
        now = perf()
        if now >= stop:
            break
        if cpu_start is None and now >= start:
            cpu_start = _cpu()
        i = rng.randrange(len(targets))
        target = targets[i]
        if target.body is not None:
            counter += 1
            data = _request_bytes(target, host, f"{tag}-{counter}")
        else:
            data = prebuilt[i]
        began = perf()
        try:
            status, body = conn.request(data)
        except (OSError, ValueError, IndexError) as exc:
            conn.close()
            status, body = 0, repr(exc).encode()
        ended = perf()
        if status != target.expect:
            # Warm-up errors count too: the bench must run clean from the first request.
            result.errors += 1
            if len(result.error_samples) < 3:
                result.error_samples.append(
                    f"{target.method} {target.path}: {status} {body[:300]!r}"
                )
        if began >= start and ended <= stop:
            result.latencies_ms.append((ended - began) * 1000.0)
            result.bytes_received += len(body)
            if target.label:
                result.by_label.setdefault(target.label, []).append((ended - began) * 1000.0)
        elif ended < start:
            result.warmup_requests += 1
    result.cpu_seconds = _cpu() - (cpu_start if cpu_start is not None else _cpu())
    conn.close()
    pipe.send(result)


# --- CPU accounting ----------------------------------------------------------------------

TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _proc_cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _postgres_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def _machine() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


@dataclass
class CpuSnapshot:
    workers: float
    database: float
    busy: float
    total: float

    @classmethod
    def take(cls, master: int) -> CpuSnapshot:
        workers = sum(_proc_cpu(p) for p in [master, *_children(master)])
        database = sum(_proc_cpu(p) for p in _postgres_pids())
        busy, total = _machine()
        return cls(workers, database, busy, total)


# --- the server under test ---------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerConfig:
    workers: int
    worker_class: str
    threads: int


@contextmanager
def gunicorn(
    config: ServerConfig, env: dict[str, str], log_path: Path
) -> Iterator[tuple[int, int]]:
    """Starts gunicorn on a free port; yields (port, master pid); stops it afterwards.

    The process model is production's: config/gunicorn.conf.py (gthread workers, access
    log on), shaped through its GUNICORN_* variables exactly as a deployment would.
    """
    port = _free_port()
    env = {
        **env,
        "GUNICORN_BIND": f"127.0.0.1:{port}",
        "GUNICORN_WORKERS": str(config.workers),
        "GUNICORN_THREADS": str(config.threads),
        # Production logs every request; to a file here, so that its cost is paid as in
        # production without a pipe to drain.
        "GUNICORN_ACCESSLOG": str(log_path.with_suffix(".access.log")),
        "GUNICORN_ERRORLOG": str(log_path),
        "GUNICORN_LOGLEVEL": "warning",
    }
    cmd = [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "config" / "gunicorn.conf.py")]
    if config.worker_class != "gthread":
        cmd += ["--worker-class", config.worker_class]  # the command line wins over the file
    cmd.append("bench.app:create_bench_app()")
    with log_path.open("ab") as log:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=log)
    try:
        _wait_ready(proc, port, config.workers, log_path)
        yield port, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_ready(proc: subprocess.Popen[bytes], port: int, workers: int, log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            conn = HttpConnection("127.0.0.1", port)
            status, _ = conn.request(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
            conn.close()
            if status == 200 and len(_children(proc.pid)) >= workers:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"gunicorn not ready after 60 s:\n{log.read_text()[-3000:]}")


# --- preparing each scenario through the real services -----------------------------------


@dataclass
class Population:
    dossiers: list[tuple[int, int, int]]  # (dossier id, patient id, médecin traitant id)
    pharmacist_id: int
    pharmacist_nid: str
    # Those of `dossiers` holding at least `large_docs` documents (deleted ones aside: the
    # listing with all=true and the search show every other state), with that count.
    large: list[tuple[int, int, int]] = field(default_factory=list)
    large_docs: int = LARGE_DOCS
    documents: dict[int, int] = field(default_factory=dict)
    # Dossiers holding at least one structured document (a `document_structures` row):
    # the summaries are measured in those (a dossier without any has an empty summary).
    structured: set[int] = field(default_factory=set)


def load_population(rt: Runtime, large_docs: int = LARGE_DOCS) -> Population:
    with rt.sessions() as s:
        rows = s.execute(
            select(Dossier.id, Dossier.patient_id, Dossier.medecin_traitant_id)
            .where(Dossier.status == "active", Dossier.medecin_traitant_id.is_not(None))
            .order_by(Dossier.id)
        ).all()
        big = dict(
            s.execute(
                select(Document.dossier_id, func.count())
                .where(Document.status != "deleted")
                .group_by(Document.dossier_id)
                .having(func.count() >= large_docs)
            ).all()
        )
        # The population's bench pharmacist is its first pharmacist (bench/population.py).
        pharmacist = s.scalars(
            select(Professional)
            .where(Professional.profession == "pharmacien")
            .order_by(Professional.id)
            .limit(1)
        ).first()
        structured = set(
            s.scalars(
                select(Document.dossier_id)
                .join(DocumentStructure, DocumentStructure.document_id == Document.id)
                .distinct()
            )
        )
    if not rows or pharmacist is None:
        raise SystemExit("no population: run `python -m bench.population --db URL` first")
    # The query keeps only dossiers with a médecin traitant: r[2] is never None.
    triples = [(int(r[0]), int(r[1]), int(r[2] or 0)) for r in rows]
    large = [t for t in triples if t[0] in big]
    counts = {d: int(n) for d, n in big.items()}
    return Population(
        triples, pharmacist.id, pharmacist.national_id, large, large_docs, counts, structured
    )


class Preparer:
    """Opens sessions and grants consents with the server's own use cases."""

    def __init__(
        self,
        rt: Runtime,
        pop: Population,
        clients: int,
        pool: int,
        seed: int,
        audit_entries: int = AUDIT_ENTRIES,
    ) -> None:
        self.rt, self.pop, self.clients, self.pool, self.seed = rt, pop, clients, pool, seed
        self.audit_entries = audit_entries
        self.audit_lengths: dict[int, int] = {}

    def shares(self, scenario: str) -> list[list[tuple[int, int, int]]]:
        # A search runs in the very dossiers of the listing it is compared with.
        pool = {
            "search_typical": "list_mt",
            "search_large": "list_large",
            "fhir_search": "list_mt",
            "summary_typical": "list_mt",
            "summary_large": "list_large",
        }.get(scenario.removesuffix(NOCACHE), scenario)
        rng = random.Random(f"{self.seed}:{pool}")
        dossiers, large = self.pop.dossiers, self.pop.large
        if scenario.startswith("summary_") and self.pop.structured:
            # Summaries in dossiers that have something to summarise: in a population
            # where only some dossiers hold realistic contents (bench/README.md), those.
            rng = random.Random(f"{self.seed}:{pool}:structured")
            dossiers = [t for t in dossiers if t[0] in self.pop.structured]
            large = [t for t in large if t[0] in self.pop.structured]
        if scenario.startswith("summary_") and pool == "list_mt":
            # A typical summary is not one of the large ones, which have their own
            # scenario and target: 1 % of them in this pool made the typical p99 the
            # large p50 (bench/README.md, "The same at 100,000 dossiers, second measurement").
            big = {t[0] for t in self.pop.large}
            dossiers = [t for t in dossiers if t[0] not in big]
        if pool == "list_large":
            if not large:
                raise SystemExit(
                    f"{scenario}: no dossier holds {self.pop.large_docs} documents or more "
                    "(bench.population --large-share, or --large-docs here)"
                )
            sample = rng.sample(large, min(self.pool, len(large)))
            if len(sample) < self.clients:
                # Fewer large dossiers than clients (a small population): they are shared.
                return [[sample[i % len(sample)]] for i in range(self.clients)]
        else:
            sample = rng.sample(dossiers, min(self.pool, len(dossiers)))
        return [sample[i :: self.clients] for i in range(self.clients)]

    def tokens(self, kind: ActorKind, actor_ids: list[set[int]]) -> list[dict[int, str]]:
        """One session per client and actor: a session is one person at one terminal."""
        out: list[dict[int, str]] = []
        with self.rt.sessions() as s:
            ctx = self.rt.ctx(s)
            for ids in actor_ids:
                out.append({i: sessions.open_session(ctx, kind, i) for i in sorted(ids)})
            s.commit()
        return out

    def targets(self, scenario: str, bodies: dict[str, bytes]) -> list[list[Target]]:
        # The same requests as the scenario without the log's sequencer: only it differs.
        scenario = scenario.removesuffix(LOGGED)
        if scenario == "baseline":
            return [[Target("GET", "/bench/baseline", None, 200)] for _ in range(self.clients)]
        shares = self.shares(scenario)
        if scenario == "floor":
            # The médecin traitant's session and the patient's chain, as list_mt.
            toks = self.tokens(ActorKind.PROFESSIONAL, [{mt for _, _, mt in sh} for sh in shares])
            return [
                [Target("GET", f"/bench/floor/{p}", tk[mt], 200) for _, p, mt in sh]
                for sh, tk in zip(shares, toks, strict=True)
            ]
        if scenario in ("list_mt", "read_document", *bodies):
            toks = self.tokens(ActorKind.PROFESSIONAL, [{mt for _, _, mt in sh} for sh in shares])
            if scenario == "list_mt":
                return [
                    [Target("GET", f"{API}/dossiers/{d}/documents", tk[mt], 200) for d, _, mt in sh]
                    for sh, tk in zip(shares, toks, strict=True)
                ]
            if scenario in bodies:
                body = bodies[scenario]
                return [
                    [
                        Target("POST", f"{API}/dossiers/{d}/documents", tk[mt], 201, body)
                        for d, _, mt in sh
                    ]
                    for sh, tk in zip(shares, toks, strict=True)
                ]
            docs = self.readable_documents([d for sh in shares for d, _, _ in sh])
            return [
                [
                    Target("GET", f"{API}/dossiers/{d}/documents/{docs[d]}/content", tk[mt], 200)
                    for d, _, mt in sh
                    if d in docs
                ]
                for sh, tk in zip(shares, toks, strict=True)
            ]
        if scenario == "list_pharmacist":
            self.grant_consents([(d, p) for sh in shares for d, p, _ in sh])
            pid = self.pop.pharmacist_id
            toks = self.tokens(ActorKind.PROFESSIONAL, [{pid} for _ in shares])
            return [
                [Target("GET", f"{API}/dossiers/{d}/documents", tk[pid], 200) for d, _, _ in sh]
                for sh, tk in zip(shares, toks, strict=True)
            ]
        if scenario == "history":
            toks = self.tokens(ActorKind.PATIENT, [{p for _, p, _ in sh} for sh in shares])
            return [
                [Target("GET", f"{API}/dossiers/{d}/history", tk[p], 200) for d, p, _ in sh]
                for sh, tk in zip(shares, toks, strict=True)
            ]
        if scenario in ("list_large", "search_large", "search_typical"):
            toks = self.tokens(ActorKind.PROFESSIONAL, [{mt for _, _, mt in sh} for sh in shares])
            if scenario == "list_large":
                paths = [("", "/documents?all=true")]
            else:
                paths = [(label, f"/search?{urlencode({'q': q})}") for label, q in SEARCH_QUERIES]
            # Each client draws uniformly among (dossier, query): the mix is even.
            return [
                [
                    Target("GET", f"{API}/dossiers/{d}{path}", tk[mt], 200, label=label)
                    for d, _, mt in sh
                    for label, path in paths
                ]
                for sh, tk in zip(shares, toks, strict=True)
            ]
        if scenario == "fhir_search":
            toks = self.tokens(ActorKind.PROFESSIONAL, [{mt for _, _, mt in sh} for sh in shares])
            ins = self.patient_identifiers([p for sh in shares for _, p, _ in sh])
            return [
                [
                    Target(
                        "GET",
                        "/fhir/R4/DocumentReference?"
                        + urlencode({"patient.identifier": ins[p], "status": "current"}),
                        tk[mt],
                        200,
                    )
                    for _, p, mt in sh
                ]
                for sh, tk in zip(shares, toks, strict=True)
            ]
        if scenario.removesuffix(NOCACHE) in TARGET_SUMMARY_P99_MS:
            toks = self.tokens(ActorKind.PROFESSIONAL, [{mt for _, _, mt in sh} for sh in shares])
            path = (
                "/bench/summary_nocache/{}"
                if scenario.endswith(NOCACHE)
                else ("/fhir/R4/Patient/{}/$summary")
            )
            return [
                [Target("GET", path.format(d), tk[mt], 200) for d, _, mt in sh]
                for sh, tk in zip(shares, toks, strict=True)
            ]
        if scenario == "audit_page":
            return self.audit_targets(shares)
        raise SystemExit(f"unknown scenario {scenario}")

    def audit_targets(self, shares: list[list[tuple[int, int, int]]]) -> list[list[Target]]:
        """One dossier per client (an API client paging one patient's history), its chain
        topped up to `audit_entries` real entries (bench/trace_seed.py), then every page
        of 50 of it: the newest (no `_before`) and each older one by `_before`, drawn
        uniformly, as the patient's software does following `next` links."""
        picked = [sh[0] for sh in shares]
        owners = [{p} for _, p, _ in picked]
        lengths = {}
        for dossier_id, patient_id, mt_id in dict.fromkeys(picked):
            lengths[dossier_id] = trace_seed.seed_history(
                self.rt, dossier_id, patient_id, mt_id, self.audit_entries, self.seed
            )
        toks = self.tokens(ActorKind.PATIENT, owners)
        out = []
        for (d, p, _), tk in zip(picked, toks, strict=True):
            base = f"/fhir/R4/AuditEvent?patient=Patient/{d}&_count={AUDIT_PAGE}"
            top = lengths[d] + 1
            befores = range(top - AUDIT_PAGE, AUDIT_PAGE, -AUDIT_PAGE)
            pages = [base] + [f"{base}&_before={before}" for before in befores]
            # Latencies also by depth (the newest page, then thirds of the chain): a
            # keyset page costs the same at any depth.
            third = max(1, len(pages) // 3)
            labels = ["newest page"] + [
                ("recent", "middle", "oldest")[min(2, (k - 1) // third)]
                for k in range(1, len(pages))
            ]
            out.append(
                [
                    Target("GET", path, tk[p], 200, label=label)
                    for path, label in zip(pages, labels, strict=True)
                ]
            )
        self.audit_lengths = lengths
        return out

    def patient_identifiers(self, patient_ids: list[int]) -> dict[int, str]:
        """`system|value` of each patient's INS, as professional software searches by it."""
        with self.rt.sessions() as s:
            rows = s.execute(
                select(Patient.id, Patient.ins_oid, Patient.ins).where(
                    Patient.id.in_(set(patient_ids))
                )
            )
            return {pid: f"urn:oid:{oid}|{ins}" for pid, oid, ins in rows}

    def probe_matches(self, scenario: str) -> dict[str, Any]:
        """How many documents each query of the mix matches in the scenario's dossiers (a
        sample of them), as their médecin traitant: one search each through the service,
        traced like any other."""
        sample = list(dict.fromkeys(t for sh in self.shares(scenario) for t in sh))
        sample = sample[:PROBE_DOSSIERS]
        counts: dict[str, list[int]] = {label: [] for label, _ in SEARCH_QUERIES}
        shares: dict[str, list[float]] = {label: [] for label, _ in SEARCH_QUERIES}
        sizes: list[int] = []
        with self.rt.sessions() as s:
            visible = dict(
                s.execute(
                    select(Document.dossier_id, func.count())
                    .where(
                        Document.dossier_id.in_([d for d, _, _ in sample]),
                        Document.status != "deleted",
                    )
                    .group_by(Document.dossier_id)
                ).all()
            )
            ctx = self.rt.ctx(s)
            for dossier_id, _, mt in sample:
                who = sessions.resolve(ctx, sessions.open_session(ctx, ActorKind.PROFESSIONAL, mt))
                size = int(visible.get(dossier_id, 0))
                sizes.append(size)
                for label, q in SEARCH_QUERIES:
                    found = query.search(ctx, who, dossier_id, {"q": q, "limit": "1"})
                    counts[label].append(int(found["count"]))
                    shares[label].append(found["count"] / size if size else 0.0)
                s.commit()
                ctx._now = None
        return {
            "dossiers_probed": len(sample),
            "documents_per_dossier": _spread(sizes),
            "queries": {
                label: {
                    "q": q,
                    **_spread(counts[label]),
                    "median_share": statistics.median(shares[label]) if sample else 0.0,
                    "dossiers_without_match": sum(1 for c in counts[label] if c == 0),
                }
                for label, q in SEARCH_QUERIES
            },
        }

    def readable_documents(self, dossier_ids: list[int]) -> dict[int, str]:
        """One document per dossier that its médecin traitant may read (not deleted)."""
        rng = random.Random(f"{self.seed}:documents")
        found: dict[int, list[str]] = defaultdict(list)
        with self.rt.sessions() as s:
            for start in range(0, len(dossier_ids), 500):
                part = dossier_ids[start : start + 500]
                for dossier_id, logical_id in s.execute(
                    select(Document.dossier_id, Document.logical_id)
                    .where(Document.dossier_id.in_(part), Document.status != "deleted")
                    .order_by(Document.id)
                ):
                    found[dossier_id].append(logical_id)
        return {d: rng.choice(ids) for d, ids in found.items()}

    def grant_consents(self, pairs: list[tuple[int, int]]) -> None:
        """The patient consents to the pharmacist for this consultation, as at the counter."""
        soon = datetime.now(UTC) + timedelta(hours=1)
        with self.rt.sessions() as s:
            live = set(
                s.scalars(
                    select(ConsultationConsent.dossier_id).where(
                        ConsultationConsent.professional_id == self.pop.pharmacist_id,
                        ConsultationConsent.expires_at > soon,
                    )
                )
            )
            ctx = self.rt.ctx(s)
            for dossier_id, patient_id in pairs:
                if dossier_id in live:
                    continue
                token = sessions.open_session(ctx, ActorKind.PATIENT, patient_id)
                who = sessions.resolve(ctx, token)
                access.grant_consent(ctx, who, dossier_id, {"national_id": self.pop.pharmacist_nid})
                s.commit()
                ctx._now = None  # each grant at its own instant, as in production

    def typical_listing(self) -> bytes:
        """A real listing body, as the médecin traitant sees it, of median size."""
        rng = random.Random(f"{self.seed}:baseline")
        sample = rng.sample(self.pop.dossiers, min(11, len(self.pop.dossiers)))
        bodies = []
        with self.rt.sessions() as s:
            ctx = self.rt.ctx(s)
            for dossier_id, _, mt in sample:
                who = sessions.resolve(ctx, sessions.open_session(ctx, ActorKind.PROFESSIONAL, mt))
                result = documents.list_documents(ctx, who, dossier_id)
                s.commit()
                ctx._now = None
                # The same encoding as server.api.runtime.run.
                bodies.append(json.dumps(result, ensure_ascii=False).encode())
        return sorted(bodies, key=len)[len(bodies) // 2]


def _spread(values: list[int]) -> dict[str, float]:
    if not values:
        return {"min": 0, "median": 0, "max": 0}
    return {"min": min(values), "median": statistics.median(values), "max": max(values)}


def deposit_body() -> bytes:
    """A compte rendu the médecin traitant may write: a one-page PDF with a text layer (the
    server checks and reads it at the door)."""
    out = io.BytesIO()
    pdf = canvas.Canvas(out)
    for line in range(40):
        pdf.drawString(72, 780 - 16 * line, f"Compte rendu de consultation, ligne {line}.")
    pdf.save()
    content = out.getvalue()
    return json.dumps(
        {
            "category": "compte_rendu",
            "type_code": "11488-4",
            "title": "Compte rendu de consultation (banc d'essai)",
            "mime_type": "application/pdf",
            "content_base64": base64.b64encode(content).decode(),
        }
    ).encode()


def corpus_report(seed: int, fmt: str, pages: int | None = None) -> GeneratedDocument:
    """A generated consultation report (bench.corpus), seeded: the same bytes every run.
    `fmt="pdf", pages=10` has a text layer on each of its ten pages."""
    rng = random.Random(f"{seed}:deposit:{fmt}:{pages}")
    return Corpus(seed).document(
        rng, "compte_rendu", random_context(rng), type_code="11488-4", fmt=fmt, pages=pages
    )


def _body(doc: GeneratedDocument, content: bytes, mime_type: str) -> bytes:
    return json.dumps(
        {
            "category": doc.category,
            "type_code": doc.type_code,
            "title": doc.title,
            "mime_type": mime_type,
            "content_base64": base64.b64encode(content).decode(),
        }
    ).encode()


def deposit_bodies(seed: int) -> dict[str, bytes]:
    """Each deposit scenario's request body, as the médecin traitant sends it."""
    plain, pdf10 = corpus_report(seed, "text"), corpus_report(seed, "pdf", pages=10)
    if pdf10.pages != 10 or pdf10.report is None:
        raise SystemExit("the corpus did not make the 10-page PDF with a text layer")
    return {
        "deposit": deposit_body(),
        "deposit_text": _body(plain, plain.content, plain.mime_type),
        "deposit_pdf10": _body(pdf10, pdf10.content, pdf10.mime_type),
        "deposit_text10": _body(pdf10, plain_text(pdf10.report).encode(), "text/plain"),
    }


def deposit_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The 10-page PDF's deposit against each text document's, same run: the ratio of
    each percentile (latency) and of the throughputs."""
    return pair_ratios(results, DEPOSIT_PAIRS)


def search_ratios(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each search scenario against the listing of the same dossiers, same run."""
    return pair_ratios(results, SEARCH_PAIRS + FHIR_PAIRS)


@contextmanager
def log_sequencer(settings: dict[str, Any], every: float) -> Iterator[dict[str, int]]:
    """The transparency log's sequencer, as `dmp worker` runs it, beside a scenario: the
    log is first brought up to date (the earlier scenarios' entries are not this one's
    work), then a thread sequences every `every` seconds until the window ends."""
    rt = build_runtime(settings)
    stop = threading.Event()
    counts = {"caught_up": trace_log.run(rt, catch_up=True)[0], "sequenced": 0}

    def passes() -> None:
        counts["sequenced"] = trace_log.loop(rt, stop, poll_seconds=every)

    thread = threading.Thread(target=passes, name="bench-log-sequencer")
    thread.start()
    try:
        yield counts
    finally:
        stop.set()
        thread.join()
        rt.engine.dispose()


def pair_ratios(
    results: list[dict[str, Any]], pairs: tuple[tuple[str, str], ...]
) -> list[dict[str, Any]]:
    """For each (slow, fast) pair run: the ratio of each percentile and of throughputs."""
    by_name = {r["scenario"]: r for r in results}
    out: list[dict[str, Any]] = []
    for slow, fast in pairs:
        a, b = by_name.get(slow), by_name.get(fast)
        if a is None or b is None:
            continue
        pair: dict[str, Any] = {"pair": [slow, fast]}
        for q in ("p50", "p95", "p99"):
            pair[f"{q}_ratio"] = a[f"{q}_ms"] / b[f"{q}_ms"] if b[f"{q}_ms"] else None
        pair["throughput_ratio"] = (
            a["throughput_rps"] / b["throughput_rps"] if b["throughput_rps"] else None
        )
        out.append(pair)
    return out


# --- running one scenario ----------------------------------------------------------------


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an already sorted list."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(q / 100 * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


def run_scenario(
    name: str,
    per_client: list[list[Target]],
    port: int,
    master: int,
    warmup: float,
    duration: float,
    seed: int,
) -> dict[str, Any]:
    spawn = get_context("spawn")
    pipes, procs = [], []
    for i, targets in enumerate(per_client):
        if not targets:
            raise SystemExit(f"{name}: client {i} has nothing to request (population too small)")
        parent, child = spawn.Pipe()
        tag = f"bench-{uuid.uuid4().hex[:12]}-{i}"
        proc = spawn.Process(
            target=client_main,
            args=(child, port, targets, seed * 1000 + i, tag, name in PRIMED),
            daemon=True,
        )
        proc.start()
        pipes.append(parent)
        procs.append(proc)
    for pipe in pipes:
        if pipe.recv() != "ready":
            raise SystemExit(f"{name}: a client failed to start")
    start = time.perf_counter() + warmup
    stop = start + duration
    for pipe in pipes:
        pipe.send((start, stop))
    time.sleep(max(0.0, start - time.perf_counter()))
    before = CpuSnapshot.take(master)
    time.sleep(max(0.0, stop - time.perf_counter()))
    after = CpuSnapshot.take(master)
    results: list[ClientResult] = [pipe.recv() for pipe in pipes]
    for proc in procs:
        proc.join(timeout=30)
    latencies = sorted(x for r in results for x in r.latencies_ms)
    requests = len(latencies)
    labelled: dict[str, list[float]] = defaultdict(list)
    for r in results:
        for label, values in r.by_label.items():
            labelled[label] += values
    busy = after.busy - before.busy
    total = after.total - before.total
    return {
        "scenario": name,
        "clients": len(per_client),
        "duration_s": duration,
        "requests": requests,
        "throughput_rps": requests / duration,
        "p50_ms": percentile(latencies, 50),
        "p95_ms": percentile(latencies, 95),
        "p99_ms": percentile(latencies, 99),
        "max_ms": latencies[-1] if latencies else 0.0,
        "mean_ms": statistics.fmean(latencies) if latencies else 0.0,
        "mean_body_bytes": (sum(r.bytes_received for r in results) / requests) if requests else 0,
        "errors": sum(r.errors for r in results),
        "error_samples": [s for r in results for s in r.error_samples][:5],
        "targets_per_client": round(statistics.fmean(len(t) for t in per_client), 1),
        # Per query of a search mix: the same window, split by what was asked.
        "by_label": {
            label: {
                "requests": len(values),
                "p50_ms": percentile(ordered, 50),
                "p95_ms": percentile(ordered, 95),
                "p99_ms": percentile(ordered, 99),
            }
            for label, values in sorted(labelled.items())
            for ordered in [sorted(values)]
        },
        "cpu": {
            # In cores (CPU seconds per wall second) over the measured window.
            "clients": sum(r.cpu_seconds for r in results) / duration,
            "server_workers": (after.workers - before.workers) / duration,
            "postgresql": (after.database - before.database) / duration,
            "machine_busy_pct": 100.0 * busy / total if total else 0.0,
            # Whatever else ran on the machine meanwhile (another test suite...): a run
            # with much of it is not comparable with a quiet one.
            "other": max(
                0.0,
                busy / TICK / duration
                - sum(r.cpu_seconds for r in results) / duration
                - (after.workers - before.workers) / duration
                - (after.database - before.database) / duration,
            ),
        },
    }


# --- the whole run -----------------------------------------------------------------------


@dataclass
class Options:
    db: str
    clients: int
    duration: float
    warmup: float
    server: ServerConfig
    pool: int
    seed: int
    scenarios: list[str]
    out: Path | None
    key_file: str
    note: str = ""
    large_docs: int = LARGE_DOCS
    audit_entries: int = AUDIT_ENTRIES


RECEIPT_SETTINGS = ("RECEIPT_SIGNER_KEY_FILE", "RECEIPT_SIGNER_CHAIN_FILE")


def receipt_signer_settings(workdir: Path) -> dict[str, str]:
    """A receipt signer made for this run (consents given in the bench get their signed
    receipt, as in production; docs/receipts.md)."""
    issued = Pki.init(workdir / "pki").issue_receipt_signer("receipts-bench")
    return {
        "RECEIPT_SIGNER_KEY_FILE": str(issued.key_path),
        "RECEIPT_SIGNER_CHAIN_FILE": str(issued.chain_path),
    }


def run(opts: Options) -> dict[str, Any]:
    settings = load_settings({"DATABASE_URL": opts.db})
    require_current(opts.db)
    key = master_key_b64(opts.key_file)
    check_sample(opts.db, key)
    settings["MASTER_KEY"] = key
    with tempfile.TemporaryDirectory(prefix="dmp-bench-") as tmp:
        workdir = Path(tmp)
        settings |= receipt_signer_settings(workdir)
        rt = build_runtime(settings)
        try:
            pop = load_population(rt, opts.large_docs)
            prep = Preparer(rt, pop, opts.clients, opts.pool, opts.seed)
            baseline_file = workdir / "baseline.json"
            baseline_file.write_bytes(prep.typical_listing())
        finally:
            rt.engine.dispose()
        env = {
            **os.environ,
            "DMP_DATABASE_URL": opts.db,
            "DMP_MASTER_KEY": key,
            **{f"DMP_{name}": settings[name] for name in RECEIPT_SETTINGS},
            BASELINE_ENV: str(baseline_file),
        }
        env.pop("DMP_CONFIG", None)  # the bench's settings are exactly these
        log_path = workdir / "gunicorn.log"
        results: list[dict[str, Any]] = []
        bodies = deposit_bodies(opts.seed)
        matches: dict[str, Any] = {}
        chains: dict[str, dict[int, int]] = {}
        with gunicorn(opts.server, env, log_path) as (port, master):
            for name in opts.scenarios:
                rt = build_runtime(settings)
                try:
                    prep = Preparer(rt, pop, opts.clients, opts.pool, opts.seed, opts.audit_entries)
                    per_client = prep.targets(name, bodies)
                    if name == "audit_page":
                        chains[name] = prep.audit_lengths
                    if name.startswith("search_"):
                        matches[name] = prep.probe_matches(name)
                finally:
                    rt.engine.dispose()
                print(f"-- {name}: warm-up {opts.warmup:g} s, measure {opts.duration:g} s",
                      file=sys.stderr, flush=True)  # fmt: skip
                with ExitStack() as stack:
                    log_counts = None
                    if name.endswith(LOGGED):
                        every = float(settings["LOG_SEQUENCE_SECONDS"])
                        log_counts = stack.enter_context(log_sequencer(settings, every))
                    result = run_scenario(
                        name, per_client, port, master, opts.warmup, opts.duration, opts.seed
                    )
                if log_counts is not None:
                    result["log"] = dict(log_counts)
                results.append(result)
        server_log = log_path.read_text(errors="replace")[-4000:]
    baseline = next((r for r in results if r["scenario"] == "baseline"), None)
    for r in results:
        r["ratio_to_baseline"] = (
            r["throughput_rps"] / baseline["throughput_rps"]
            if baseline and baseline["throughput_rps"]
            else None
        )
        if r["scenario"] in LISTINGS:
            r["targets"] = {
                f"throughput >= {TARGET_RATIO} x baseline": (r["ratio_to_baseline"] or 0)
                >= TARGET_RATIO,
                f"p99 < {TARGET_P99_MS:g} ms": r["p99_ms"] < TARGET_P99_MS,
            }
        if r["scenario"] in matches:
            r["matches"] = matches[r["scenario"]]
    searches = search_ratios(results)
    for pair in searches:
        if pair["pair"][0] == "search_large":
            found = next(r for r in results if r["scenario"] == "search_large")
            found["targets"] = {
                f"p99 < {TARGET_SEARCH_P99_MS:g} ms": found["p99_ms"] < TARGET_SEARCH_P99_MS,
                f"p99 <= {TARGET_SEARCH_RATIO:g} x list_large p99": pair["p99_ratio"] is not None
                and pair["p99_ratio"] <= TARGET_SEARCH_RATIO,
            }
    for pair in searches:
        if pair["pair"] == list(FHIR_PAIRS[0]):
            found = next(r for r in results if r["scenario"] == "fhir_search")
            found["targets"] = {
                f"p99 <= {TARGET_FHIR_RATIO:g} x list_mt p99": pair["p99_ratio"] is not None
                and pair["p99_ratio"] <= TARGET_FHIR_RATIO,
            }
    logged = pair_ratios(results, LOG_PAIRS)
    for r in results:
        if r["scenario"] in TARGET_SUMMARY_P99_MS:
            limit = TARGET_SUMMARY_P99_MS[r["scenario"]]
            r["targets"] = {f"p99 < {limit:g} ms": r["p99_ms"] < limit}
        if r["scenario"] == "audit_page":
            r["chain_entries"] = chains.get("audit_page", {})
            r["targets"] = {f"p99 < {TARGET_AUDIT_P99_MS:g} ms": r["p99_ms"] < TARGET_AUDIT_P99_MS}
        if r["scenario"].startswith("summary_"):
            r["pool"] = (
                "dossiers holding structured documents" if pop.structured else "no structures"
            )
    report = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": _backend(opts.db),
        "dossiers": len(pop.dossiers),
        "clients": opts.clients,
        "duration_s": opts.duration,
        "warmup_s": opts.warmup,
        "server": asdict(opts.server),
        "pool_dossiers_per_scenario": opts.pool,
        "seed": opts.seed,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "note": opts.note,
        "results": results,
        "deposit_ratios": deposit_ratios(results),
        "search_ratios": searches,
        "log_ratios": logged,
        "summary_ratios": pair_ratios(results, SUMMARY_PAIRS),
        "audit_ratios": pair_ratios(results, AUDIT_PAIRS),
        "large_docs": pop.large_docs,
        "large_dossiers": len(pop.large),
        "deposit_request_bytes": {name: len(b) for name, b in bodies.items()},
        "server_log_tail": server_log if any(r["errors"] for r in results) else "",
    }
    return report


def _backend(url: str) -> str:
    return url.split(":", 1)[0].split("+", 1)[0]


def format_table(report: dict[str, Any]) -> str:
    server = report["server"]
    threads = f" x {server['threads']} threads" if server["worker_class"] == "gthread" else ""
    head = (
        f"{report['database']}, {report['dossiers']:,} active dossiers with a médecin traitant, "
        f"{report['clients']} clients, {report['duration_s']:g} s per scenario, gunicorn "
        f"{server['workers']} x {server['worker_class']}{threads}"
    )
    cols = (
        f"{'scenario':<24}{'req/s':>9}{'ratio':>7}{'p50 ms':>8}{'p95 ms':>8}{'p99 ms':>8}"
        f"{'max ms':>8}{'errors':>7}{'bytes':>7}  cpu cores: client/server/db/other"
    )
    lines = [head, cols, "-" * len(cols)]
    for r in report["results"]:
        ratio = "" if r["ratio_to_baseline"] is None else f"{r['ratio_to_baseline']:.2f}"
        cpu = r["cpu"]
        lines.append(
            f"{r['scenario']:<24}{r['throughput_rps']:>9.0f}{ratio:>7}{r['p50_ms']:>8.2f}"
            f"{r['p95_ms']:>8.2f}{r['p99_ms']:>8.2f}{r['max_ms']:>8.1f}{r['errors']:>7}"
            f"{r['mean_body_bytes']:>7.0f}  {cpu['clients']:.2f}/{cpu['server_workers']:.2f}/"
            f"{cpu['postgresql']:.2f}/{cpu['other']:.2f}"
        )
    pairs = ("deposit_ratios", "search_ratios", "log_ratios", "summary_ratios", "audit_ratios")
    for pair in [p for key in pairs for p in report.get(key, [])]:
        ratios = ", ".join(f"{q} {pair[f'{q}_ratio']:.2f}" for q in ("p50", "p95", "p99")
                           if pair[f"{q}_ratio"] is not None)  # fmt: skip
        lines.append(f"latency {pair['pair'][0]} / {pair['pair'][1]}: {ratios}")
    for r in report["results"]:
        if "matches" not in r:
            continue
        m = r["matches"]
        docs = m["documents_per_dossier"]
        lines.append(
            f"matches {r['scenario']} ({m['dossiers_probed']} dossiers of {docs['min']:g}-"
            f"{docs['max']:g} documents, median {docs['median']:g}):"
        )
        for label, c in m["queries"].items():
            timed = r.get("by_label", {}).get(label)
            latency = (
                f"; {timed['requests']} requests, p50 {timed['p50_ms']:.2f} / p95 "
                f"{timed['p95_ms']:.2f} / p99 {timed['p99_ms']:.2f} ms"
                if timed
                else ""
            )
            lines.append(
                f"  {label} {c['q']!r}: median {c['median']:g} (min {c['min']:g}, max "
                f"{c['max']:g}, {100 * c['median_share']:.0f}% of a dossier), "
                f"{c['dossiers_without_match']} dossier(s) without a match{latency}"
            )
    for r in report["results"]:
        for name, ok in r.get("targets", {}).items():
            lines.append(f"target {r['scenario']}: {name}: {'met' if ok else 'NOT met'}")
        for sample in r["error_samples"]:
            lines.append(f"ERROR {r['scenario']}: {sample}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", metavar="URL", help="a database populated by bench.population")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--duration", type=float, default=20.0, help="seconds per scenario")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--workers", type=int, default=PRODUCTION_WORKERS, help="default: production's"
    )
    parser.add_argument("--worker-class", default="gthread", choices=("gthread", "sync"))
    parser.add_argument(
        "--threads", type=int, default=PRODUCTION_THREADS, help="per gthread worker"
    )
    parser.add_argument("--pool", type=int, default=1000, help="dossiers sampled per scenario")
    parser.add_argument(
        "--large-docs",
        type=int,
        default=LARGE_DOCS,
        help="documents a dossier of list_large and search_large holds, at least",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--audit-entries",
        type=int,
        default=AUDIT_ENTRIES,
        help="trace entries of each audit_page dossier's chain, at least (topped up once)",
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--out", type=Path, help="JSON results (default: bench/results/)")
    parser.add_argument("--master-key-file", default=DEFAULT_KEY_FILE)
    parser.add_argument("--note", default="", help="free text stored with the results")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny population in a temporary SQLite file (unless --db), short windows",
    )
    args = parser.parse_args(argv)
    scenarios = [s for s in args.scenarios.split(",") if s]
    unknown = set(scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}")
    server = ServerConfig(args.workers, args.worker_class, args.threads)
    opts = Options(
        db=args.db or "",
        clients=args.clients,
        duration=args.duration,
        warmup=args.warmup,
        server=server,
        pool=args.pool,
        seed=args.seed,
        scenarios=scenarios,
        out=args.out,
        key_file=args.master_key_file,
        note=args.note,
        large_docs=args.large_docs,
        audit_entries=args.audit_entries,
    )
    if args.smoke:
        return _smoke(opts, given_db=bool(args.db))
    if not args.db:
        parser.error("--db is required (or --smoke)")
    return _finish(run(opts), opts)


# The smoke population: 50 dossiers of about 20 documents, a tenth of them (4 with seed 1)
# holding a few dozen, which the smoke run takes for its "large" dossiers.
SMOKE_POPULATION: dict[str, Any] = {
    "dossiers": 50,
    "docs_per_dossier": 20,
    "large_share": 0.1,
    "large_docs": 30,
}


# The smoke's audit_page chains: a few pages of 50, enough to follow `_before`.
SMOKE_AUDIT_ENTRIES = 160


def _smoke(opts: Options, *, given_db: bool) -> int:
    with tempfile.TemporaryDirectory(prefix="dmp-bench-smoke-") as tmp:
        opts.key_file = str(Path(tmp) / "master.key") if not given_db else opts.key_file
        if not given_db:
            opts.db = f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
            populate(opts.db, seed=opts.seed, key_file=opts.key_file, quiet=True,
                     **SMOKE_POPULATION)  # fmt: skip
        opts.large_docs = min(opts.large_docs, SMOKE_POPULATION["large_docs"])
        opts.clients = min(opts.clients, 2)
        opts.duration, opts.warmup = 1.5, 0.5
        opts.pool = min(opts.pool, 40)
        opts.audit_entries = min(opts.audit_entries, SMOKE_AUDIT_ENTRIES)
        opts.server = ServerConfig(2, opts.server.worker_class, 2)
        opts.note = opts.note or "smoke run: tiny population, short windows (not a measurement)"
        return _finish(run(opts), opts)


def _finish(report: dict[str, Any], opts: Options) -> int:
    print(format_table(report))
    out = opts.out
    if out is None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = RESULTS / f"server-{report['database']}-{opts.clients}c-{stamp}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, ensure_ascii=False))
    print(f"results: {out}", file=sys.stderr)
    errors = sum(r["errors"] for r in report["results"])
    if errors:
        print(f"FAILED: {errors} request(s) did not get the expected answer", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
