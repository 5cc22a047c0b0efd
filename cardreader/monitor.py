"""Card insertion/removal events per reader, that survive a pcscd restart.

pyscard's CardMonitor/ReaderMonitor threads die for good when pcscd restarts; a kiosk
cannot live with that. This watcher calls SCardGetStatusChange with a timeout,
re-establishes the context with back-off when the service goes away, and compares the
event counter (high 16 bits of dwEventState) so that a card pulled and reinserted
between two polls is still reported as a removal then an insertion: the new holder
must never inherit the previous holder's session.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from .errors import CardError

log = logging.getLogger(__name__)

# SCARD_STATE_* bits (PC/SC part 5, identical in pcsc-lite and WinSCard).
STATE_CHANGED = 0x0002
STATE_UNAVAILABLE = 0x0008
STATE_EMPTY = 0x0010
STATE_PRESENT = 0x0020
STATE_MUTE = 0x0200
PNP_NOTIFICATION = r"\\?PnP?\Notification"


class StatusSource(Protocol):
    """The slice of a PC/SC context the monitor needs (PcscContext, or a test fake)."""

    def list_readers(self) -> list[str]: ...

    def get_status_change(
        self, states: list[tuple[str, int]], timeout_ms: int
    ) -> list[tuple[str, int, bytes]] | None: ...

    def cancel(self) -> None: ...

    def release(self) -> None: ...


class EventKind(StrEnum):
    INSERTED = "inserted"
    REMOVED = "removed"
    READER_ADDED = "reader_added"
    READER_REMOVED = "reader_removed"
    SERVICE_LOST = "service_lost"
    SERVICE_RESTORED = "service_restored"


@dataclass(frozen=True)
class CardEvent:
    kind: EventKind
    reader: str | None = None
    atr: bytes = b""


@dataclass
class _ReaderState:
    event_state: int
    present: bool

    @property
    def counter(self) -> int:
        return self.event_state >> 16


def _default_source() -> StatusSource:
    from .pcsc import PcscContext

    return PcscContext()


class ReaderMonitor:
    def __init__(
        self,
        callback: Callable[[CardEvent], None],
        *,
        source_factory: Callable[[], StatusSource] = _default_source,
        poll_ms: int = 500,
        backoff: tuple[float, float] = (0.1, 2.0),
    ) -> None:
        self.callback = callback
        self.source_factory = source_factory
        self.poll_ms = poll_ms
        self.backoff = backoff
        self.stopped = threading.Event()
        self.ready = threading.Event()  # set after each successful scan of the readers
        self._source: StatusSource | None = None
        self._readers: dict[str, _ReaderState] = {}
        self._pnp_state = 0
        self._service_lost = False
        self._thread: threading.Thread | None = None

    # ---- lifecycle ------------------------------------------------------------------
    def start(self) -> ReaderMonitor:
        self._thread = threading.Thread(target=self.run, name="reader-monitor", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self.stopped.set()
        source = self._source
        if source is not None:
            try:
                source.cancel()
            except CardError:
                pass
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        delay = self.backoff[0]
        while not self.stopped.is_set():
            if self._source is None:
                try:
                    self._source = self.source_factory()
                except CardError as exc:
                    self._lose(exc)
                    self.stopped.wait(delay)
                    delay = min(delay * 2, self.backoff[1])
                    continue
                if self._service_lost:
                    self._service_lost = False
                    self._emit(CardEvent(EventKind.SERVICE_RESTORED))
            try:
                self.poll_once()
            except CardError as exc:
                self._lose(exc)
                self.stopped.wait(delay)
                delay = min(delay * 2, self.backoff[1])
            else:
                delay = self.backoff[0]
        self._release()

    # ---- one round --------------------------------------------------------------------
    def poll_once(self) -> None:
        source = self._source
        if source is None:
            return
        self._sync_readers(source.list_readers())
        self.ready.set()
        states = [(name, state.event_state) for name, state in self._readers.items()]
        states.append((PNP_NOTIFICATION, self._pnp_state))
        changes = source.get_status_change(states, self.poll_ms)
        for reader, event_state, atr in changes or []:
            if reader == PNP_NOTIFICATION:
                self._pnp_state = event_state & ~STATE_CHANGED
            elif reader in self._readers:
                self._update(reader, event_state, atr)

    def _sync_readers(self, names: list[str]) -> None:
        for gone in [name for name in self._readers if name not in names]:
            if self._readers.pop(gone).present:
                self._emit(CardEvent(EventKind.REMOVED, gone))
            self._emit(CardEvent(EventKind.READER_REMOVED, gone))
        for name in names:
            if name not in self._readers:
                # State 0 (SCARD_STATE_UNAWARE): the next call reports the current state.
                self._readers[name] = _ReaderState(0, present=False)
                self._emit(CardEvent(EventKind.READER_ADDED, name))

    def _update(self, reader: str, event_state: int, atr: bytes) -> None:
        previous = self._readers[reader]
        present = bool(event_state & STATE_PRESENT)
        current = _ReaderState(event_state & ~STATE_CHANGED, present)
        self._readers[reader] = current
        if previous.event_state == 0:  # first report for this reader
            if present:
                self._emit(CardEvent(EventKind.INSERTED, reader, atr))
            return
        if present and previous.present and current.counter != previous.counter:
            # Still present but the counter moved: it left and came back between polls.
            self._emit(CardEvent(EventKind.REMOVED, reader))
            self._emit(CardEvent(EventKind.INSERTED, reader, atr))
        elif present and not previous.present:
            self._emit(CardEvent(EventKind.INSERTED, reader, atr))
        elif previous.present and not present:
            self._emit(CardEvent(EventKind.REMOVED, reader))

    # ---- service loss -----------------------------------------------------------------
    def _lose(self, exc: Exception) -> None:
        if self.stopped.is_set():
            return
        log.info("PC/SC service unavailable: %s", exc)
        self._release()
        for name, state in list(self._readers.items()):
            if state.present:
                self._emit(CardEvent(EventKind.REMOVED, name))
        self._readers.clear()
        self._pnp_state = 0
        self.ready.clear()
        if not self._service_lost:
            self._service_lost = True
            self._emit(CardEvent(EventKind.SERVICE_LOST))

    def _release(self) -> None:
        source, self._source = self._source, None
        if source is not None:
            try:
                source.release()
            except CardError:
                pass

    def _emit(self, event: CardEvent) -> None:
        try:
            self.callback(event)
        except Exception:  # a faulty listener must not stop the watcher
            log.exception("card event listener failed on %s", event)
