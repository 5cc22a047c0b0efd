"""The reader monitor's logic against a fake PC/SC context (fast tier).

The same monitor runs against the real pcscd in test_pcsc_stack.py.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

import pytest
from card_helpers import wait_for

from cardreader.errors import ReaderUnavailableError
from cardreader.monitor import (
    PNP_NOTIFICATION,
    STATE_CHANGED,
    STATE_EMPTY,
    STATE_PRESENT,
    CardEvent,
    EventKind,
    ReaderMonitor,
)

READER = "Reader A"
ATR = b"\x3b\x00"


class FakeContext:
    """A scripted pcscd: the test sets the state; each poll reports differences."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.released = False

    def list_readers(self) -> list[str]:
        self.world.check_alive()
        return list(self.world.readers)

    def get_status_change(
        self, states: list[tuple[str, int]], timeout_ms: int
    ) -> list[tuple[str, int, bytes]] | None:
        self.world.check_alive()
        with self.world.changed:
            self.world.changed.wait(timeout_ms / 1000)
        self.world.check_alive()
        answer = []
        for reader, current in states:
            if reader == PNP_NOTIFICATION:
                continue
            event = self.world.readers.get(reader)
            if event is not None and event != current & ~STATE_CHANGED:
                atr = ATR if event & STATE_PRESENT else b""
                answer.append((reader, event | STATE_CHANGED, atr))
        return answer or None

    def cancel(self) -> None:
        with self.world.changed:
            self.world.changed.notify_all()

    def release(self) -> None:
        self.released = True


class FakeWorld:
    def __init__(self) -> None:
        self.readers: dict[str, int] = {READER: STATE_EMPTY}
        self.alive = True
        self.changed = threading.Condition()
        self.contexts = 0

    def check_alive(self) -> None:
        if not self.alive:
            raise ReaderUnavailableError("service gone")

    def factory(self) -> FakeContext:
        self.check_alive()
        self.contexts += 1
        return FakeContext(self)

    def set(self, reader: str, present: bool, counter_step: int = 1) -> None:
        with self.changed:
            counter = (self.readers.get(reader, 0) >> 16) + counter_step
            self.readers[reader] = (counter << 16) | (STATE_PRESENT if present else STATE_EMPTY)
            self.changed.notify_all()


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def monitor(world: FakeWorld) -> Iterator[tuple[ReaderMonitor, queue.Queue[CardEvent]]]:
    events: queue.Queue[CardEvent] = queue.Queue()
    started = ReaderMonitor(
        events.put, source_factory=world.factory, poll_ms=50, backoff=(0.01, 0.05)
    ).start()
    yield started, events
    started.stop()


def _next(events: queue.Queue[CardEvent], kind: EventKind) -> CardEvent:
    while True:
        event = events.get(timeout=10)
        if event.kind is kind:
            return event


def test_insert_and_remove(
    world: FakeWorld, monitor: tuple[ReaderMonitor, queue.Queue[CardEvent]]
) -> None:
    _, events = monitor
    assert _next(events, EventKind.READER_ADDED).reader == READER
    world.set(READER, present=True)
    assert _next(events, EventKind.INSERTED) == CardEvent(EventKind.INSERTED, READER, ATR)
    world.set(READER, present=False)
    assert _next(events, EventKind.REMOVED).reader == READER


def test_quick_remove_and_reinsert_is_caught(
    world: FakeWorld, monitor: tuple[ReaderMonitor, queue.Queue[CardEvent]]
) -> None:
    _, events = monitor
    world.set(READER, present=True)
    _next(events, EventKind.INSERTED)
    world.set(READER, present=True, counter_step=2)  # out and in between two polls
    assert _next(events, EventKind.REMOVED).reader == READER
    assert _next(events, EventKind.INSERTED).reader == READER


def test_survives_service_loss(
    world: FakeWorld, monitor: tuple[ReaderMonitor, queue.Queue[CardEvent]]
) -> None:
    _, events = monitor
    world.set(READER, present=True)
    _next(events, EventKind.INSERTED)
    world.alive = False
    with world.changed:
        world.changed.notify_all()
    assert _next(events, EventKind.REMOVED).reader == READER
    _next(events, EventKind.SERVICE_LOST)
    world.alive = True
    _next(events, EventKind.SERVICE_RESTORED)
    assert _next(events, EventKind.INSERTED).reader == READER
    assert world.contexts >= 2


def test_reader_unplugged(
    world: FakeWorld, monitor: tuple[ReaderMonitor, queue.Queue[CardEvent]]
) -> None:
    _, events = monitor
    world.set(READER, present=True)
    _next(events, EventKind.INSERTED)
    with world.changed:
        del world.readers[READER]
        world.changed.notify_all()
    assert _next(events, EventKind.REMOVED).reader == READER
    assert _next(events, EventKind.READER_REMOVED).reader == READER


def test_faulty_listener_does_not_stop_the_watcher(world: FakeWorld) -> None:
    seen: list[CardEvent] = []

    def listener(event: CardEvent) -> None:
        seen.append(event)
        raise RuntimeError("listener bug")

    watcher = ReaderMonitor(listener, source_factory=world.factory, poll_ms=20).start()
    try:
        world.set(READER, present=True)
        assert wait_for(lambda: any(e.kind is EventKind.INSERTED for e in seen))
    finally:
        watcher.stop()
    assert watcher.stopped.is_set()


def test_stop_is_prompt(world: FakeWorld) -> None:
    started = ReaderMonitor(
        lambda event: None, source_factory=world.factory, poll_ms=60_000
    ).start()
    assert wait_for(started.ready.is_set)
    started.stop(timeout=5)
    assert started._thread is not None
    assert not started._thread.is_alive()
