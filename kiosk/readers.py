"""Card readers as the kiosk sees them: events in, card jobs out.

Two implementations behind one interface:

- `PcscReaders`: real readers through pcscd (the `cardreader.monitor` watcher for
  insertions and removals, one `cardreader.pcsc.ReaderWorker` thread per reader for the
  card commands);
- `DemoReaders`: two in-process readers holding emulated cards (`cardreader.emulator.virtual`),
  driven by the demo panel (insert, pull). Same events, same card commands, no pcscd.

A job is a function of a `Connection`; it runs on the reader's own thread (PC/SC handles
belong to the thread that opened them) and must never wait for a human.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Protocol, TypeVar

from cardreader.connection import Connection
from cardreader.emulator.virtual import VirtualCard, VirtualConnection
from cardreader.errors import CardRemovedError, ReaderUnavailableError
from cardreader.monitor import CardEvent, EventKind, ReaderMonitor

log = logging.getLogger("dmp.kiosk.readers")
T = TypeVar("T")
JOB_TIMEOUT_SECONDS = 15.0


@dataclass(frozen=True)
class ReaderEvent:
    kind: str  # "inserted" | "removed" | "service_lost" | "service_restored"
    reader: str
    atr: bytes = b""


EventSink = Callable[[ReaderEvent], None]


class CardReaders(Protocol):
    def start(self, sink: EventSink) -> None: ...

    def stop(self) -> None: ...

    def names(self) -> list[str]: ...

    def run(self, reader: str, job: Callable[[Connection], T]) -> T: ...

    def release(self, reader: str) -> None:
        """The holder is done: reset the card, which forgets a verified PIN."""


class DemoReaders:
    """Two virtual readers for the embedded demo: the counter's and the patient's."""

    NAMES = ("Lecteur démo 1 (professionnel)", "Lecteur démo 2 (patient)")

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._slots: dict[str, VirtualConnection | None] = dict.fromkeys(self.NAMES)
        self._cards: dict[str, str] = {}  # reader -> demo card name
        self._sink: EventSink | None = None

    def start(self, sink: EventSink) -> None:
        self._sink = sink

    def stop(self) -> None:
        with self._lock:
            for reader in self.NAMES:
                connection = self._slots[reader]
                if connection is not None:
                    connection.close()
                self._slots[reader] = None

    def names(self) -> list[str]:
        return list(self.NAMES)

    def card_in(self, reader: str) -> str | None:
        with self._lock:
            return self._cards.get(reader)

    def insert(self, reader: str, name: str, card: VirtualCard) -> None:
        if reader not in self._slots:
            raise ValueError("unknown reader")
        with self._lock:
            if self._slots[reader] is not None:
                self._pull(reader)
            connection = VirtualConnection(card)
            self._slots[reader] = connection
            self._cards[reader] = name
        self._emit(ReaderEvent("inserted", reader, connection.atr))

    def remove(self, reader: str) -> None:
        with self._lock:
            if self._slots.get(reader) is None:
                return
            self._pull(reader)
        self._emit(ReaderEvent("removed", reader))

    def _pull(self, reader: str) -> None:
        connection = self._slots[reader]
        if connection is not None:
            connection.pull()
        self._slots[reader] = None
        self._cards.pop(reader, None)

    def _emit(self, event: ReaderEvent) -> None:
        if self._sink is not None:
            self._sink(event)

    def run(self, reader: str, job: Callable[[Connection], T]) -> T:
        with self._lock:
            connection = self._slots.get(reader)
            if connection is None:
                raise CardRemovedError("no card in this reader")
            return job(connection)

    def release(self, reader: str) -> None:
        with self._lock:
            connection = self._slots.get(reader)
            if connection is not None:
                connection.card.reset()


class PcscReaders:
    """Real readers through pcscd."""

    def __init__(self) -> None:
        from cardreader.pcsc import ReaderWorker  # pyscard only where real readers are used

        self._worker_class = ReaderWorker
        self._workers: dict[str, ReaderWorker] = {}
        self._lock = threading.Lock()
        self._known: list[str] = []
        self._sink: EventSink | None = None
        self._monitor = ReaderMonitor(self._on_event, poll_ms=250)

    def start(self, sink: EventSink) -> None:
        self._sink = sink
        self._monitor.start()
        self._monitor.ready.wait(5.0)

    def stop(self) -> None:
        self._monitor.stop()
        with self._lock:
            for worker in self._workers.values():
                worker.stop()
            self._workers.clear()

    def names(self) -> list[str]:
        return list(self._known)

    def _on_event(self, event: CardEvent) -> None:
        reader = event.reader or ""
        if event.kind is EventKind.READER_ADDED and reader not in self._known:
            self._known.append(reader)
        elif event.kind is EventKind.READER_REMOVED and reader in self._known:
            self._known.remove(reader)
        if event.kind in (EventKind.REMOVED, EventKind.READER_REMOVED):
            self._drop_worker(reader)
        kinds = {
            EventKind.INSERTED: "inserted",
            EventKind.REMOVED: "removed",
            EventKind.READER_REMOVED: "removed",
            EventKind.SERVICE_LOST: "service_lost",
            EventKind.SERVICE_RESTORED: "service_restored",
        }
        if event.kind in kinds and self._sink is not None:
            self._sink(ReaderEvent(kinds[event.kind], reader, event.atr))

    def _drop_worker(self, reader: str) -> None:
        with self._lock:
            worker = self._workers.pop(reader, None)
        if worker is not None:
            worker.stop(timeout=1.0)

    def _worker(self, reader: str) -> object:
        with self._lock:
            worker = self._workers.get(reader)
            if worker is None:
                worker = self._workers[reader] = self._worker_class(reader)
            return worker

    def run(self, reader: str, job: Callable[[Connection], T]) -> T:
        worker = self._worker(reader)
        future = worker.submit(job)  # type: ignore[attr-defined]
        try:
            result: T = future.result(timeout=JOB_TIMEOUT_SECONDS)
        except FutureTimeout:
            raise ReaderUnavailableError("the reader did not answer in time") from None
        return result

    def release(self, reader: str) -> None:
        with self._lock:
            worker = self._workers.get(reader)
        if worker is not None:
            try:
                worker.end_session().result(timeout=JOB_TIMEOUT_SECONDS)
            except Exception:  # a reset on a pulled card has nothing left to forget
                log.debug("card reset failed", exc_info=True)
