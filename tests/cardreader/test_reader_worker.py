"""ReaderWorker: one thread owns the card; jobs come from any thread as futures."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest
from card_helpers import PIN

from cardreader.connection import Connection
from cardreader.emulator.cardfile import CardFile
from cardreader.emulator.virtual import VirtualCard, VirtualConnection
from cardreader.errors import CardRemovedError, PinRequiredError
from cardreader.pcsc import ReaderWorker
from cardreader.professional import ProfessionalSession


def test_jobs_run_on_one_thread_and_keep_the_pin_until_end_session(
    make_card: Callable[..., CardFile],
) -> None:
    card = VirtualCard(make_card("professional"))
    threads: set[int] = set()

    def connect(reader: str) -> Connection:
        return VirtualConnection(card)

    worker = ReaderWorker("virtual", connect=connect)
    try:

        def verify(connection: Connection) -> None:
            threads.add(threading.get_ident())
            ProfessionalSession(connection).verify_pin(PIN)

        def sign(connection: Connection) -> bytes:
            threads.add(threading.get_ident())
            return ProfessionalSession(connection).authenticate(os.urandom(32))

        worker.submit(verify).result(timeout=10)
        assert worker.submit(sign).result(timeout=10)  # same holder, same card handle
        worker.end_session().result(timeout=10)
        with pytest.raises(PinRequiredError):
            worker.submit(sign).result(timeout=10)
        assert len(threads) == 1
        assert threading.get_ident() not in threads
    finally:
        worker.stop()


def test_pulled_card_drops_the_handle(make_card: Callable[..., CardFile]) -> None:
    card = VirtualCard(make_card("patient"))
    connections: list[VirtualConnection] = []

    def connect(reader: str) -> Connection:
        connections.append(VirtualConnection(card))
        return connections[-1]

    worker = ReaderWorker("virtual", connect=connect)
    try:

        def pull(connection: Connection) -> None:
            assert isinstance(connection, VirtualConnection)
            connection.pull()
            connection.transmit(b"\x00\xa4\x04\x00")

        with pytest.raises(CardRemovedError):
            worker.submit(pull).result(timeout=10)
        worker.submit(lambda connection: connection.atr).result(timeout=10)
        assert len(connections) == 2  # a fresh connection after the removal
    finally:
        worker.stop()
