"""The OCR worker with the real Tesseract: documents deposited through the API get their
text sealed; failures are retried, then given up, never losing the document; two workers
never read the same document twice; `dmp worker` does it beside the outbox and stops on
SIGTERM."""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography.exceptions import InvalidTag
from sqlalchemy import select

from dmp.cli import main
from server import ocr_worker, worker
from server.app import build_runtime
from server.models import Document, DocumentContent, DocumentText, Dossier
from server.services import document_text
from tests.server import scans
from tests.server.conftest import World

WORDS = ("hypertension artérielle sévère", "amlodipine", "créatinine élevée")


def deposit_scan(
    world: World, dossier_id: int, body: bytes, mime: str = "image/png", who: str = "gp"
) -> str:
    """A scan deposited: the document is stored at once and its text left pending."""
    meta = world.deposit(who, dossier_id, content=body, mime_type=mime, title="Scan")
    row, _, _ = text_row(world, meta["logical_id"])
    assert (row.status, row.attempts) == ("pending", 0)
    return str(meta["logical_id"])


def stored_as(world: World, logical_id: str, body: bytes) -> None:
    """Replaces a document's stored content (sealed as the deposit seals it)."""
    with world.rt.sessions() as s:
        doc = s.scalars(select(Document).where(Document.logical_id == logical_id)).one()
        dossier = s.get(Dossier, doc.dossier_id)
        assert dossier is not None
        assert dossier.wrapped_key is not None
        row = s.get(DocumentContent, doc.id)
        assert row is not None
        row.nonce, row.ciphertext = world.rt.keyring.encrypt(dossier.wrapped_key, body, logical_id)
        doc.sha256, doc.size = hashlib.sha256(body).hexdigest(), len(body)
        s.commit()


def add_text_row(world: World, logical_id: str, status: str | None = "pending") -> None:
    """Sets the text row of a deposited document to `status` (None: no row at all)."""
    with world.rt.sessions() as s:
        doc = s.scalars(select(Document).where(Document.logical_id == logical_id)).one()
        row = s.get(DocumentText, doc.id)
        if status is None:
            if row is not None:
                s.delete(row)
        elif row is None:
            s.add(
                DocumentText(
                    document_id=doc.id, status=status, attempts=0, updated_at=world.clock()
                )
            )
        else:
            row.status = status
        s.commit()


def text_row(world: World, logical_id: str) -> tuple[DocumentText, Document, Dossier]:
    with world.rt.sessions() as s:
        doc = s.scalars(select(Document).where(Document.logical_id == logical_id)).one()
        row = s.get(DocumentText, doc.id)
        dossier = s.get(Dossier, doc.dossier_id)
        assert row is not None
        assert dossier is not None
        return row, doc, dossier


def sealed(world: World, logical_id: str) -> tuple[bytes, bytes, bytes]:
    """The dossier's wrapped key, and the text's nonce and ciphertext."""
    row, _, dossier = text_row(world, logical_id)
    assert dossier.wrapped_key is not None
    assert row.nonce is not None
    assert row.ciphertext is not None
    return dossier.wrapped_key, row.nonce, row.ciphertext


def opened(world: World, logical_id: str) -> str:
    plain = world.rt.keyring.decrypt(*sealed(world, logical_id), f"{logical_id}:text")
    return " ".join(plain.decode().split()).lower()


def content(world: World, dossier_id: int, logical_id: str) -> bytes:
    world.tokens["gp"] = world.open("gp")  # the clock may have run past the old session
    r = world.call("GET", "gp", f"/dossiers/{dossier_id}/documents/{logical_id}/content")
    assert r.status_code == 200
    return bytes(r.data)


@pytest.mark.parametrize(
    ("mime", "body"),
    [
        ("image/jpeg", scans.photo(fmt="JPEG")),
        ("application/pdf", scans.scanned_pdf([scans.REPORT])),
    ],
)
def test_a_scan_gets_its_text_sealed_under_the_dossier_key(
    world: World, marie_dossier: int, mime: str, body: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    logical_id = deposit_scan(world, marie_dossier, body, mime)
    stored = content(world, marie_dossier, logical_id)  # as deposited (a photo, cleaned)
    caplog.set_level(logging.DEBUG)
    [outcome] = ocr_worker.run_once(world.rt)
    assert (outcome.status, outcome.pages) == ("ready", 1)
    row, _, _ = text_row(world, logical_id)
    assert (row.status, row.source, row.next_attempt_at, row.attempts) == ("ready", "ocr", None, 1)
    assert row.ciphertext is not None
    for word in ("amlodipine", "Hypertension", "Créatinine", "créatinine"):
        assert word.encode() not in row.ciphertext
    text = opened(world, logical_id)
    for expected in WORDS:
        assert expected in text
    assert content(world, marie_dossier, logical_id) == stored  # the document is untouched
    logged = caplog.text.lower()
    assert "ready" in logged
    assert "amlodipine" not in logged
    assert "hypertension" not in logged
    assert ocr_worker.run_once(world.rt) == []  # nothing left to read


def test_the_text_is_bound_to_its_document(world: World, marie_dossier: int) -> None:
    logical_id = deposit_scan(world, marie_dossier, scans.photo())
    ocr_worker.run_once(world.rt)
    with pytest.raises(InvalidTag):  # the AAD names this document's text, not its content
        world.rt.keyring.decrypt(*sealed(world, logical_id), logical_id)


def test_only_due_pending_rows_are_read(world: World, marie_dossier: int) -> None:
    later = deposit_scan(world, marie_dossier, scans.photo())
    with world.rt.sessions() as s:
        doc = s.scalars(select(Document).where(Document.logical_id == later)).one()
        row = s.get(DocumentText, doc.id)
        assert row is not None
        row.next_attempt_at = world.clock() + timedelta(minutes=5)
        s.commit()
    assert ocr_worker.run_once(world.rt) == []
    world.clock.advance(minutes=5)
    assert [o.status for o in ocr_worker.run_once(world.rt)] == ["ready"]


def test_a_corrupt_image_is_retried_then_failed_and_the_document_stays_readable(
    world: World, marie_dossier: int, caplog: pytest.LogCaptureFixture
) -> None:
    # The door refuses a corrupt image today; one stored before it existed (or damaged
    # since) reaches the worker all the same.
    corrupt = b"\x89PNG\r\n\x1a\n" + os.urandom(300)
    logical_id = deposit_scan(world, marie_dossier, scans.photo())
    stored_as(world, logical_id, corrupt)
    most = world.rt.settings["OCR_MAX_ATTEMPTS"]
    assert most == 5
    caplog.set_level(logging.WARNING, logger="dmp.ocr")
    waits = []
    for attempt in range(1, most):
        [outcome] = ocr_worker.run_once(world.rt)
        row, _, _ = text_row(world, logical_id)
        assert (outcome.status, row.status, row.attempts) == ("pending", "pending", attempt)
        assert row.next_attempt_at is not None
        waits.append(row.next_attempt_at - world.clock())
        assert ocr_worker.run_once(world.rt) == []  # not due before its back-off
        world.clock.advance(seconds=waits[-1].total_seconds())
    assert [w.total_seconds() for w in waits] == [60, 120, 240, 480]
    [outcome] = ocr_worker.run_once(world.rt)
    row, doc, _ = text_row(world, logical_id)
    assert (outcome.status, row.status, row.attempts, row.ciphertext) == (
        "failed",
        "failed",
        5,
        None,
    )
    world.clock.advance(days=1)
    assert ocr_worker.run_once(world.rt) == []  # given up for good
    assert content(world, marie_dossier, logical_id) == corrupt
    assert (doc.status, doc.sha256) == ("current", hashlib.sha256(corrupt).hexdigest())
    assert "unreadable_image" in caplog.text


def test_a_worker_that_died_during_its_last_attempt_leaves_a_failed_text(
    world: World, marie_dossier: int
) -> None:
    logical_id = deposit_scan(world, marie_dossier, scans.photo())
    lease = ocr_worker.lease_seconds(world.rt.settings)
    for _ in range(world.rt.settings["OCR_MAX_ATTEMPTS"]):
        with ocr_worker.transaction(world.rt) as ctx:  # claims, then dies each time
            assert len(ocr_worker.claim(ctx)) == 1
        world.clock.advance(seconds=lease + 1)
    with ocr_worker.transaction(world.rt) as ctx:
        assert ocr_worker.claim(ctx) == []
    row, _, _ = text_row(world, logical_id)
    assert (row.status, row.attempts) == ("failed", 5)
    assert content(world, marie_dossier, logical_id) == scans.photo()


def test_a_claim_that_outlived_its_lease_cannot_overwrite_the_next_one(
    world: World, marie_dossier: int
) -> None:
    logical_id = deposit_scan(world, marie_dossier, scans.photo())
    with ocr_worker.transaction(world.rt) as ctx:  # a worker that stalls
        [stale] = ocr_worker.claim(ctx)
    with ocr_worker.transaction(world.rt) as ctx:
        assert ocr_worker.claim(ctx) == []  # the lease holds
    world.clock.advance(seconds=ocr_worker.lease_seconds(world.rt.settings) + 1)
    assert [o.status for o in ocr_worker.run_once(world.rt)] == ["ready"]
    assert ocr_worker.read_one(world.rt, stale).status == "lost"
    row, _, _ = text_row(world, logical_id)
    assert (row.status, row.attempts) == ("ready", 2)


def test_two_workers_never_read_the_same_document_twice(
    world: World, marie_dossier: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = [
        deposit_scan(world, marie_dossier, scans.photo([f"Ordonnance numéro {n}"]))
        for n in range(4)
    ]
    made_ready: list[str] = []
    lock = threading.Lock()

    def record(ctx: Any, doc: Document) -> None:
        with lock:
            made_ready.append(doc.logical_id)

    monkeypatch.setattr(document_text, "text_ready", record)
    runtimes = [build_runtime(dict(world.rt.settings), world.clock) for _ in range(2)]
    counts: list[int] = []
    start = threading.Barrier(2)

    def work(rt: Any) -> None:
        start.wait()
        counts.append(ocr_worker.run(rt, threading.Event(), once=True))

    threads = [threading.Thread(target=work, args=(rt,)) for rt in runtimes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for rt in runtimes:
        rt.engine.dispose()
    assert sorted(made_ready) == sorted(ids)  # each once, none twice
    assert sum(counts) == 4
    for n, logical_id in enumerate(ids):
        row, _, _ = text_row(world, logical_id)
        assert (row.status, row.attempts) == ("ready", 1)
        assert f"ordonnance numéro {n}" in opened(world, logical_id)


def test_the_worker_loop_reads_scans_beside_the_outbox(world: World, marie_dossier: int) -> None:
    logical_id = deposit_scan(world, marie_dossier, scans.photo())
    done = worker.serve(world.rt, {}, poll_seconds=0.1, once=True)
    assert done.read == 1
    assert "amlodipine" in opened(world, logical_id)


def test_a_stop_request_releases_the_document_uncounted(world: World, marie_dossier: int) -> None:
    logical_id = deposit_scan(
        world, marie_dossier, scans.scanned_pdf([scans.REPORT] * 10), "application/pdf"
    )
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    assert ocr_worker.run(world.rt, stop, poll_seconds=30) == 0
    assert time.monotonic() - started < 5
    row, _, _ = text_row(world, logical_id)
    assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, world.clock())


@pytest.mark.slow
def test_dmp_worker_stops_on_sigterm_in_the_middle_of_a_scan(
    world: World, marie_dossier: int, settings: dict[str, Any]
) -> None:
    logical_id = deposit_scan(
        world, marie_dossier, scans.scanned_pdf([scans.REPORT] * 20), "application/pdf"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("DMP_")}
    env |= {"DMP_MASTER_KEY": settings["MASTER_KEY"], "DMP_SMTP_PORT": "9"}
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "dmp"),
            "worker",
            "--db",
            settings["DATABASE_URL"],
            "--poll",
            "0.2",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while text_row(world, logical_id)[0].attempts == 0:
            assert process.poll() is None, process.communicate()[0]
            assert time.monotonic() < deadline, "the worker never claimed the scan"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, out
    assert "0 document(s) read by OCR" in out
    assert "amlodipine" not in out.lower()
    row, _, _ = text_row(world, logical_id)
    assert (row.status, row.attempts) == ("pending", 0)  # left for the next start


def test_without_tesseract_the_worker_leaves_scans_pending(
    world: World,
    marie_dossier: int,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    logical_id = deposit_scan(world, marie_dossier, scans.photo())
    monkeypatch.setattr(ocr_worker.ocr, "tesseract_binary", lambda: None)
    assert ocr_worker.run(world.rt, threading.Event(), poll_seconds=30) == 0  # returns at once
    row, _, _ = text_row(world, logical_id)
    assert (row.status, row.attempts) == ("pending", 0)  # no attempt burnt on a missing tool
    assert "tesseract not found" in caplog.text


def test_a_purge_takes_texts_waiting_or_read_and_the_worker_lets_go(
    world: World, marie_dossier: int, settings: dict[str, Any]
) -> None:
    read = deposit_scan(world, marie_dossier, scans.photo())
    ocr_worker.run_once(world.rt)
    assert text_row(world, read)[0].status == "ready"
    waiting = deposit_scan(world, marie_dossier, scans.photo(["Deuxième scan"]))
    with ocr_worker.transaction(world.rt) as ctx:  # a worker is reading it when the purge runs
        [claimed] = ocr_worker.claim(ctx)
    close = {"confirm": True, "delete": True}
    assert world.call("POST", "marie", f"/dossiers/{marie_dossier}/close", close).status_code == 200
    env = {"DMP_MASTER_KEY": settings["MASTER_KEY"]}
    out = CliRunner().invoke(main, ["db", "purge", "--db", settings["DATABASE_URL"]], env=env)
    assert out.output.strip() == "1 dossier(s) purged", out.output
    with world.rt.sessions() as s:
        assert s.scalars(select(DocumentText)).all() == []
    assert ocr_worker.read_one(world.rt, claimed).status == "lost"  # nothing left to write
    with world.rt.sessions() as s:
        assert s.scalars(select(Document).where(Document.logical_id == waiting)).all() == []
        assert s.scalars(select(DocumentText)).all() == []
