"""The real tier: pcscd + vsmartcard vpcd + pyscard, with the emulator as the card.

The session fixture (tests/conftest.py) starts a private pcscd of its own, with the vpcd
reader on its own ports, and ends only that one. Every wait polls with a deadline
(robust on a loaded 2-core machine); nothing asserts on a fixed sleep.
"""

from __future__ import annotations

import os
import queue
import re
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from card_helpers import PIN, READER_0, READER_1, Pcscd, wait_for

from cardreader.connection import CountingConnection
from cardreader.emulator.cardfile import CardFile
from cardreader.emulator.virtual import VirtualCard
from cardreader.emulator.vpcd import VpcdBridge
from cardreader.errors import (
    CardCommunicationError,
    CardError,
    CardRemovedError,
    UnknownCardError,
)
from cardreader.monitor import CardEvent, EventKind, ReaderMonitor
from cardreader.patient import PatientSession, read_patient_card
from cardreader.pcsc import PcscContext, open_connection
from cardreader.professional import ProfessionalSession, read_professional_card
from cardreader.profile import PROFESSIONAL_AID
from cardreader.records import encode_fci
from tests.pcsc_stack import (
    DEFAULT_SOCKET,
    SOCKET_VARIABLE,
    ForeignProcess,
    machine_pcscd_pid,
)

pytestmark = pytest.mark.pcsc
STATE_PRESENT = 0x20
STATE_EMPTY = 0x10
REPO = Path(__file__).resolve().parents[2]


def reader_state(reader: str) -> int:
    try:
        context = PcscContext()
    except CardError:
        return 0
    try:
        states = context.get_status_change([(reader, 0)], 0)
    except CardError:
        return 0
    finally:
        context.release()
    return states[0][1] if states else 0


def card_present(reader: str) -> bool:
    return bool(reader_state(reader) & STATE_PRESENT)


def card_absent(reader: str) -> bool:
    return bool(reader_state(reader) & STATE_EMPTY)


@pytest.fixture
def insert(pcscd: Pcscd) -> Iterator[Callable[[VirtualCard, int], VpcdBridge]]:
    bridges: list[VpcdBridge] = []

    def do_insert(card: VirtualCard, slot: int) -> VpcdBridge:
        reader = (READER_0, READER_1)[slot]
        assert wait_for(lambda: card_absent(reader), timeout=20), f"{reader} not empty"
        bridge = VpcdBridge(card, slot, port_base=pcscd.vpcd_port_base)
        bridges.append(bridge)
        bridge.insert()
        assert wait_for(lambda: card_present(reader), timeout=20), f"no card seen in {reader}"
        return bridge

    yield do_insert
    for bridge in bridges:
        bridge.stop()
    for reader in (READER_0, READER_1):
        wait_for(lambda reader=reader: card_absent(reader), timeout=20)


def test_atr_parses_as_t1_only(
    insert: Callable[[VirtualCard, int], VpcdBridge], make_card: Callable[..., CardFile]
) -> None:
    from smartcard.ATR import ATR

    insert(VirtualCard(make_card("patient")), 0)
    with open_connection(READER_0) as connection:
        atr = ATR(list(connection.atr))
    assert atr.checksumOK
    assert atr.getSupportedProtocols() == {"T=1": True}


def test_complete_reads_through_pcscd(
    insert: Callable[[VirtualCard, int], VpcdBridge], make_card: Callable[..., CardFile]
) -> None:
    patient, professional = make_card("patient"), make_card("professional")
    insert(VirtualCard(patient), 0)
    insert(VirtualCard(professional), 1)
    with CountingConnection(open_connection(READER_0)) as connection:
        reading = read_patient_card(PatientSession(connection), os.urandom(32))
        assert reading.identity == patient.identity
        assert connection.count <= 8
    with CountingConnection(open_connection(READER_1)) as connection:
        pro = read_professional_card(ProfessionalSession(connection), PIN, os.urandom(32))
        assert pro.identity == professional.identity
        assert connection.count <= 10


def test_closing_resets_the_pin_state(
    insert: Callable[[VirtualCard, int], VpcdBridge], make_card: Callable[..., CardFile]
) -> None:
    insert(VirtualCard(make_card("professional")), 1)
    with open_connection(READER_1) as connection:
        ProfessionalSession(connection).verify_pin(PIN)
    with open_connection(READER_1) as connection:
        assert not ProfessionalSession(connection).pin_status().verified


def test_card_pulled_mid_command(
    insert: Callable[[VirtualCard, int], VpcdBridge], make_card: Callable[..., CardFile]
) -> None:
    bridge = insert(VirtualCard(make_card("patient")), 0)
    connection = open_connection(READER_0)
    try:
        session = PatientSession(connection)
        bridge.pull_before = lambda apdu: apdu[1] == 0x88
        with pytest.raises(CardRemovedError):
            session.authenticate(os.urandom(32))
        assert wait_for(lambda: card_absent(READER_0), timeout=20)
        with pytest.raises(CardCommunicationError):
            session.read_identity()
    finally:
        connection.close()


def test_unknown_card_through_pcscd(
    insert: Callable[[VirtualCard, int], VpcdBridge], make_card: Callable[..., CardFile]
) -> None:
    class ForeignCard(VirtualCard):
        @property
        def atr(self) -> bytes:
            return bytes.fromhex("3B8F8001804F0CA0000003060300030000000068")

    insert(ForeignCard(make_card("patient")), 0)
    with open_connection(READER_0) as connection, pytest.raises(UnknownCardError):
        PatientSession(connection)


def test_opensc_tool_gets_the_documented_answers(
    insert: Callable[[VirtualCard, int], VpcdBridge], make_card: Callable[..., CardFile]
) -> None:
    card = make_card("professional")
    insert(VirtualCard(card), 1)
    result = subprocess.run(
        [
            "opensc-tool",
            "-r",
            READER_1,
            "-s",
            "00A4040008F0444D502D50524F00",  # SELECT: FCI with the serial
            "-s",
            "00200081",  # VERIFY without data: 63C3
            "-s",
            "0088000010000102030405060708090A0B0C0D0E0F00",
        ],  # signature before PIN
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    answers = _opensc_answers(result.stdout)
    assert answers == [
        (encode_fci(PROFESSIONAL_AID, card.serial), "9000"),
        (b"", "63C3"),
        (b"", "6982"),
    ], result.stdout + result.stderr


def _opensc_answers(output: str) -> list[tuple[bytes, str]]:
    """Parse opensc-tool's "Received (SW1=0x.., SW2=0x..):" blocks (16 hex bytes a line)."""
    answers: list[tuple[bytes, str]] = []
    for block in output.split("Received (")[1:]:
        header, _, rest = block.partition(")")
        sw = re.sub(r"SW[12]=0x|,|\s", "", header).upper()
        data = bytearray()
        for line in rest.splitlines()[1:]:
            if line.startswith("Sending"):
                break
            data += bytes.fromhex(line[:48])
        answers.append((bytes(data), sw))
    return answers


def test_monitor_insert_remove_and_quick_reinsert(
    pcscd: Pcscd,
    insert: Callable[[VirtualCard, int], VpcdBridge],
    make_card: Callable[..., CardFile],
) -> None:
    events: queue.Queue[CardEvent] = queue.Queue()
    gate = threading.Event()
    gate.set()

    def listener(event: CardEvent) -> None:
        if event.reader == READER_0:
            events.put(event)
            gate.wait(60)

    monitor = ReaderMonitor(listener, poll_ms=200).start()
    try:
        bridge = insert(VirtualCard(make_card("patient")), 0)
        assert _next(events, EventKind.INSERTED).atr
        bridge.remove()
        _next(events, EventKind.REMOVED)
        # The listener now blocks the watcher while the card goes out and back in.
        gate.clear()
        bridge.insert()
        _next(events, EventKind.INSERTED)
        bridge.remove()
        assert wait_for(lambda: card_absent(READER_0), timeout=20)
        bridge.insert()
        assert wait_for(lambda: card_present(READER_0), timeout=20)
        gate.set()
        assert _next(events, EventKind.REMOVED).reader == READER_0
        assert _next(events, EventKind.INSERTED).reader == READER_0
    finally:
        gate.set()
        monitor.stop()


def test_monitor_survives_a_pcscd_restart(
    pcscd: Pcscd,
    insert: Callable[[VirtualCard, int], VpcdBridge],
    make_card: Callable[..., CardFile],
) -> None:
    events: queue.Queue[CardEvent] = queue.Queue()
    monitor = ReaderMonitor(events.put, poll_ms=200, backoff=(0.05, 0.5)).start()
    try:
        card = make_card("patient")
        insert(VirtualCard(card), 0)
        _next(events, EventKind.INSERTED, READER_0)
        pcscd.restart()  # the card stays "in the reader": the bridge reconnects
        _next(events, EventKind.SERVICE_LOST)
        _next(events, EventKind.SERVICE_RESTORED)
        _next(events, EventKind.INSERTED, READER_0)
        assert wait_for(lambda: card_present(READER_0), timeout=20)
        with open_connection(READER_0) as connection:
            assert PatientSession(connection).read_identity() == card.identity
    finally:
        monitor.stop()


def _next(events: queue.Queue[CardEvent], kind: EventKind, reader: str | None = None) -> CardEvent:
    while True:
        event = events.get(timeout=30)
        if event.kind is kind and (reader is None or event.reader == reader):
            return event


def test_dmp_card_insert_command(
    pcscd: Pcscd, tmp_path: Path, make_card: Callable[..., CardFile]
) -> None:
    from cardreader.emulator import cardfile

    card = make_card("patient")
    path = tmp_path / "patient.json"
    cardfile.save(card, path)
    assert wait_for(lambda: card_absent(READER_1), timeout=20)
    dmp = Path(sys.executable).with_name("dmp")
    process = subprocess.Popen(
        [
            str(dmp),
            "card",
            "insert",
            "--reader",
            "1",
            "--port-base",
            str(pcscd.vpcd_port_base),
            str(path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert wait_for(lambda: card_present(READER_1), timeout=30)
        with open_connection(READER_1) as connection:
            assert PatientSession(connection).read_identity() == card.identity
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "card inserted" in output
    assert "card removed" in output
    assert wait_for(lambda: card_absent(READER_1), timeout=20)


def test_bench_smoke(pcscd: Pcscd) -> None:
    assert wait_for(lambda: card_absent(READER_0) and card_absent(READER_1), timeout=20)
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "card_bench.py"),
            "--smoke",
            "--port-base",
            str(pcscd.vpcd_port_base),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=240,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "patient read+sign" in result.stdout
    assert "professional PIN+sign" in result.stdout


def test_a_pcscd_the_tests_did_not_start_outlives_them(pcscd: Pcscd, tmp_path: Path) -> None:
    """The machine's pcscd (or a stand-in on the default socket, as a system service runs
    it) keeps running, with its socket and pid file, while a private pcscd starts and
    ends beside it and the session's own one restarts."""
    foreign = ForeignProcess.find_or_start(tmp_path / "foreign")
    try:
        had_socket, machine_pid = DEFAULT_SOCKET.exists(), machine_pcscd_pid()
        own = Pcscd(tmp_path / "own")
        own.start()
        try:
            listing = subprocess.run(
                ["opensc-tool", "--list-readers"],
                env=os.environ | {SOCKET_VARIABLE: str(own.socket)},
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
        finally:
            own.stop()
        pcscd.restart()
        assert READER_0 in listing.stdout, listing.stdout + listing.stderr
        assert foreign.running(), f"pid {foreign.pid} ({foreign.name}) was stopped"
        assert DEFAULT_SOCKET.exists() == had_socket
        assert machine_pcscd_pid() == machine_pid
    finally:
        foreign.stop()
