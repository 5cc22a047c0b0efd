"""The background indexer (server/search/indexer.py): a deposit stores its document
queued and writes no postings; the worker's indexer turns the queue into postings, in batches,
without losing a document whose text arrives while it works (issue #11)."""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import func, select

from server import worker
from server.models import Document, DocumentText, SearchPosting
from server.search import index, indexer
from tests.server.conftest import World

REPORT = "Compte rendu : hypertension artérielle, traitement par amlodipine."


def counts(world: World) -> tuple[int, int]:
    """(queued documents, postings)."""
    with world.rt.sessions() as s:
        return (
            s.scalar(select(func.count()).where(Document.search_queued.is_(True))) or 0,
            s.scalar(select(func.count()).select_from(SearchPosting)) or 0,
        )


def test_a_deposit_queues_its_document_and_writes_no_posting(
    world: World, marie_dossier: int
) -> None:
    world.deposit("gp", marie_dossier, title="Bilan", content=REPORT.encode())
    assert counts(world) == (1, 0)
    assert indexer.drain(world.rt) == 1
    queued, postings = counts(world)
    assert queued == 0
    assert postings > 20  # its stems and prefixes
    assert indexer.drain(world.rt) == 0  # nothing twice


def test_the_indexer_takes_the_queue_in_batches(world: World, marie_dossier: int) -> None:
    for n in range(indexer.BATCH + 3):
        world.deposit("gp", marie_dossier, title=f"Note {n}", content=REPORT.encode())
    assert indexer.run_once(world.rt) == indexer.BATCH
    assert counts(world)[0] == 3
    assert indexer.run(world.rt, threading.Event(), once=True) == 3
    assert counts(world)[0] == 0


def test_text_arriving_while_the_indexer_holds_the_document_queues_it_again(
    world: World, marie_dossier: int
) -> None:
    """The indexer has taken the document (its row locked, its old state read) when the
    OCR makes its text ready: the OCR's transaction waits, then queues it again, so the
    text is indexed on the next pass instead of being lost with the first."""
    world.deposit("gp", marie_dossier, title="Bilan", content=REPORT.encode())
    with world.rt.sessions() as s:
        doc_id = s.scalars(select(Document.id)).one()
    requeued = threading.Event()

    def text_ready_meanwhile() -> None:
        with world.rt.sessions() as other:
            doc = other.get(Document, doc_id)
            assert doc is not None
            index.queue(world.rt.ctx(other), doc)
            other.commit()
        requeued.set()

    with world.rt.sessions() as s:
        assert indexer.index_batch(world.rt.ctx(s)) == 1
        meanwhile = threading.Thread(target=text_ready_meanwhile)
        meanwhile.start()
        time.sleep(0.3)
        assert not requeued.is_set()  # it waits for the indexer's transaction
        s.commit()
    meanwhile.join(timeout=10)
    assert requeued.is_set()
    assert counts(world)[0] == 1  # queued again, for the text
    assert indexer.drain(world.rt) == 1


def test_the_worker_indexes_beside_the_outbox(world: World, marie_dossier: int) -> None:
    world.deposit("gp", marie_dossier, title="Bilan", content=REPORT.encode())
    done = worker.serve(world.rt, {}, poll_seconds=0.1, once=True)
    assert done.indexed == 1
    assert counts(world)[0] == 0


def test_a_text_that_no_longer_opens_does_not_hold_the_queue_back(
    world: World, marie_dossier: int, caplog: Any
) -> None:
    world.deposit("gp", marie_dossier, title="Abîmé", content=REPORT.encode())
    world.deposit("gp", marie_dossier, title="Intact", content=REPORT.encode())
    with world.rt.sessions() as s:
        damaged = s.scalars(select(Document.id).where(Document.title == "Abîmé")).one()
        row = s.get(DocumentText, damaged)
        assert row is not None
        assert row.ciphertext is not None
        row.ciphertext = bytes([row.ciphertext[0] ^ 1]) + row.ciphertext[1:]
        s.commit()
    assert indexer.drain(world.rt) == 2  # both leave the queue
    assert f"document {damaged}: its text does not open" in caplog.text
    assert "hypertension" not in caplog.text  # no content in the log
    r = world.call("GET", "gp", f"/dossiers/{marie_dossier}/search?q=abime")
    assert r.status_code == 200, r.get_json()
    assert [d["title"] for d in r.get_json()["documents"]] == ["Abîmé"]  # by its title
