"""`dmp worker`: delivers the outbox (e-mail, SMS), reads scans (OCR), indexes new
documents for search, builds dossier exports (and deletes expired ones) and appends the
trace to its verifiable log, until told to stop.

The four run side by side in one process, each in its own thread: a one-time code must
not wait behind a thirty-page scan, nor a trace entry's log proof behind either. Several
workers may run against one database (see server.services.outbox and server.ocr_worker for
why each message is sent, and each document read, once; the log's sequencer takes a lock).
SIGTERM or SIGINT ends the loops after the current batch; a
Tesseract run in progress is cut short and its document left for the next start.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

from server import ocr_worker
from server.alerts import scan as alert_rules
from server.delivery import Sender
from server.export import jobs as exports
from server.search import indexer
from server.services import outbox, trace_log

if TYPE_CHECKING:
    from server.api.runtime import Runtime

log = logging.getLogger("dmp.worker")


def run(
    rt: Runtime,
    senders: Mapping[str, Sender],
    stop: threading.Event,
    *,
    poll_seconds: float = 2.0,
    once: bool = False,
) -> int:
    """Delivers due messages until `stop` is set (or, with once, until none is due);
    returns how many were sent."""
    sent = 0
    while not stop.is_set():
        try:
            batch = outbox.run_once(rt, senders)
        except Exception:
            # The database may be away for a moment (restart, failover): wait and retry
            # rather than die, since nothing is lost while the rows stay in the outbox.
            log.exception("outbox pass failed")
            batch = 0
            if once:
                raise
        sent += batch
        if once and batch < outbox.BATCH:
            break
        if batch == 0:
            stop.wait(poll_seconds)  # returns at once when a signal sets stop
    return sent


@dataclass(frozen=True, slots=True)
class Done:
    sent: int  # messages delivered
    read: int  # document texts made ready by OCR
    logged: int = 0  # trace entries appended to the verifiable log
    indexed: int = 0  # documents indexed for search
    exported: int = 0  # dossier exports built
    flagged: int = 0  # accesses flagged for review (server/alerts)


def serve(rt: Runtime, senders: Mapping[str, Sender], *, poll_seconds: float, once: bool) -> Done:
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %d: stopping after the current batch", signum)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        reader = _Background(
            lambda: ocr_worker.run(rt, stop, poll_seconds=poll_seconds, once=once), "dmp-ocr"
        )
        index = _Background(
            lambda: indexer.run(rt, stop, poll_seconds=min(poll_seconds, 1.0), once=once),
            "dmp-index",
        )
        exporter = _Background(
            lambda: exports.run(rt, stop, poll_seconds=min(poll_seconds, 1.0), once=once),
            "dmp-export",
        )
        every = float(rt.settings["LOG_SEQUENCE_SECONDS"])
        sequencer = _Background(
            lambda: trace_log.loop(rt, stop, poll_seconds=every, once=once), "dmp-log"
        )
        # After the log: the rules read the trace in the log's order (server/alerts/scan.py).
        flags = _Background(
            lambda: alert_rules.loop(rt, stop, poll_seconds=every, once=once), "dmp-alerts"
        )
        try:
            sent = run(rt, senders, stop, poll_seconds=poll_seconds, once=once)
        finally:
            if not once:
                stop.set()  # the outbox loop ended on an error: the others end too
            read = reader.join()
            indexed = index.join()
            exported = exporter.join()
            logged = sequencer.join()
            flagged = flags.join()
        return Done(sent, read, logged, indexed, exported, flagged)
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


class _Background:
    """A loop in a thread whose result, or exception, `join` hands back."""

    def __init__(self, target: Callable[[], int], name: str) -> None:
        self._target = target
        self._result = 0
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name=name)
        self._thread.start()

    def _main(self) -> None:
        try:
            self._result = self._target()
        except BaseException as exc:
            self._error = exc

    def join(self) -> int:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._result
