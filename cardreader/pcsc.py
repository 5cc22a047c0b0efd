"""PC/SC backend on pyscard: the only module that imports it.

pyscard is imported lazily so that `import cardreader` (and the embedded demo with
in-process cards) works where pyscard is not installed. The low-level `smartcard.scard`
API is used rather than pyscard's object layer: it returns the raw PC/SC codes, which
decide between "card pulled" and "reader gone", and it exposes SCardGetStatusChange's
event counter that the monitor needs.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any, TypeVar

from .connection import Connection
from .errors import CardCommunicationError, CardRemovedError, ReaderUnavailableError

log = logging.getLogger(__name__)
T = TypeVar("T")

PNP_NOTIFICATION = r"\\?PnP?\Notification"
REMOVAL_GRACE = 1.0  # seconds; a little over two pcscd presence polls
SCARD_PRESENT = 0x0004  # SCardStatus state bit (pcsclite.h); pyscard does not export it


def scard() -> Any:
    try:
        import smartcard.scard as module  # lazy on purpose, see docstring
    except ImportError as exc:
        raise ReaderUnavailableError(
            "pyscard is not installed (pip install 'dmp-kiosk[pcsc]')"
        ) from exc
    return module


def raise_for(hresult: int, what: str) -> None:
    """Turn a PC/SC return code into the matching CardError (nothing on success)."""
    s = scard()
    if hresult == s.SCARD_S_SUCCESS:
        return
    message = f"{what}: {s.SCardGetErrorMessage(hresult)} (0x{hresult & 0xFFFFFFFF:08X})"
    if hresult in (
        s.SCARD_W_REMOVED_CARD,
        s.SCARD_W_RESET_CARD,
        s.SCARD_E_NO_SMARTCARD,
        s.SCARD_W_UNPOWERED_CARD,
        s.SCARD_W_UNRESPONSIVE_CARD,
    ):
        raise CardRemovedError(message)
    if hresult in (
        s.SCARD_E_NO_SERVICE,
        s.SCARD_E_SERVICE_STOPPED,
        s.SCARD_E_READER_UNAVAILABLE,
        s.SCARD_E_UNKNOWN_READER,
        s.SCARD_E_NO_READERS_AVAILABLE,
        s.SCARD_E_INVALID_HANDLE,
    ):
        raise ReaderUnavailableError(message)
    raise CardCommunicationError(message)


class PcscContext:
    """An SCard context; each thread that talks to pcscd should own one."""

    def __init__(self) -> None:
        s = scard()
        hresult, self.handle = s.SCardEstablishContext(s.SCARD_SCOPE_USER)
        raise_for(hresult, "SCardEstablishContext")

    def list_readers(self) -> list[str]:
        s = scard()
        hresult, readers = s.SCardListReaders(self.handle, [])
        if hresult == s.SCARD_E_NO_READERS_AVAILABLE:
            return []
        raise_for(hresult, "SCardListReaders")
        return [str(reader) for reader in readers]

    def get_status_change(
        self, states: list[tuple[str, int]], timeout_ms: int
    ) -> list[tuple[str, int, bytes]] | None:
        """Wait for a change against `states`; None on timeout."""
        s = scard()
        hresult, new_states = s.SCardGetStatusChange(self.handle, timeout_ms, states)
        if hresult == s.SCARD_E_TIMEOUT:
            return None
        raise_for(hresult, "SCardGetStatusChange")
        return [(str(reader), int(event), bytes(atr)) for reader, event, atr in new_states]

    def cancel(self) -> None:
        scard().SCardCancel(self.handle)

    def release(self) -> None:
        scard().SCardReleaseContext(self.handle)

    def connect(self, reader: str, *, owns_context: bool = False) -> PcscConnection:
        s = scard()
        hresult, card, protocol = s.SCardConnect(
            self.handle, reader, s.SCARD_SHARE_SHARED, s.SCARD_PROTOCOL_T1
        )
        raise_for(hresult, f"SCardConnect({reader})")
        return PcscConnection(self, reader, card, int(protocol), owns_context=owns_context)


class PcscConnection(Connection):
    """One card handle. Not thread-safe (PC/SC handles are not): see ReaderWorker."""

    def __init__(
        self,
        context: PcscContext,
        reader: str,
        card: Any,
        protocol: int,
        *,
        owns_context: bool = False,
    ) -> None:
        self.context = context
        self._owns_context = owns_context
        self.reader = reader
        self._card = card
        self._protocol = protocol
        s = scard()
        hresult, _, _, _, atr = s.SCardStatus(card)
        raise_for(hresult, "SCardStatus")
        self._atr = bytes(atr)
        # Closing resets the card by default: the next holder must not inherit a
        # verified PIN. A caller keeping the card for the same holder can change it.
        self.reset_on_close = True

    @property
    def atr(self) -> bytes:
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        s = scard()
        hresult, response = s.SCardTransmit(self._card, self._protocol, list(apdu))
        if hresult != s.SCARD_S_SUCCESS or len(response) < 2:
            self._raise_transmit_error(hresult)
        return bytes(response)

    def _raise_transmit_error(self, hresult: int) -> None:
        # A card pulled mid-command first shows up as a generic failure: vpcd answers
        # "success" with an empty response, other drivers SCARD_E_NOT_TRANSACTED, and
        # pcscd only notices the removal at its next presence poll (~400 ms). Ask the
        # card state for a short while so the caller learns what really happened.
        s = scard()
        deadline = time.monotonic() + REMOVAL_GRACE
        while True:
            status, _, state, _, _ = s.SCardStatus(self._card)
            if status != s.SCARD_S_SUCCESS:
                raise_for(status, "SCardTransmit")
            if not state & SCARD_PRESENT:
                raise CardRemovedError("card removed during SCardTransmit")
            if time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        raise_for(hresult, "SCardTransmit")
        raise CardCommunicationError("the reader returned no status word")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        s = scard()
        hresult = s.SCardBeginTransaction(self._card)
        raise_for(hresult, "SCardBeginTransaction")
        try:
            yield
        finally:
            s.SCardEndTransaction(self._card, s.SCARD_LEAVE_CARD)

    def close(self) -> None:
        s = scard()
        disposition = s.SCARD_RESET_CARD if self.reset_on_close else s.SCARD_LEAVE_CARD
        try:
            s.SCardDisconnect(self._card, disposition)
        finally:
            if self._owns_context:
                self.context.release()


def list_readers() -> list[str]:
    context = PcscContext()
    try:
        return context.list_readers()
    finally:
        context.release()


def open_connection(reader: str) -> PcscConnection:
    """A connection with its own context (released on close)."""
    context = PcscContext()
    try:
        return context.connect(reader, owns_context=True)
    except BaseException:
        context.release()
        raise


_Job = tuple[Callable[[Connection], Any] | None, "Future[Any]"]


class ReaderWorker:
    """One thread owns one reader; other threads (web requests) submit jobs to it.

    Each job runs inside one PC/SC transaction and gets the connection. The card handle
    is kept between jobs so a verified PIN survives from "verify" to "sign" of the same
    holder; `end_session()` resets the card. Jobs must never wait for a human: ask the
    PIN first, then submit "verify + sign" as one job.
    """

    def __init__(self, reader: str, *, connect: Callable[[str], Connection] | None = None):
        self.reader = reader
        self._connect = connect or open_connection
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._connection: Connection | None = None
        self._thread = threading.Thread(target=self._run, name=f"reader-{reader}", daemon=True)
        self._thread.start()

    def submit(self, job: Callable[[Connection], T]) -> Future[T]:
        future: Future[T] = Future()
        self._jobs.put((job, future))
        return future

    def end_session(self) -> Future[None]:
        """Reset and release the card (the holder is done): forgets the verified PIN."""
        future: Future[None] = Future()
        self._jobs.put((None, future))
        return future

    def stop(self, timeout: float = 5.0) -> None:
        self._jobs.put(None)
        self._thread.join(timeout)

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # a dead handle cannot fail to be forgotten
                log.debug("closing a dead card handle failed", exc_info=True)

    def _run(self) -> None:
        while True:
            item = self._jobs.get()
            if item is None:
                self._drop()
                return
            job, future = item
            if not future.set_running_or_notify_cancel():
                continue
            if job is None:
                self._drop()
                future.set_result(None)
                continue
            try:
                if self._connection is None:
                    self._connection = self._connect(self.reader)
                connection = self._connection
                if isinstance(connection, PcscConnection):
                    with connection.transaction():
                        result = job(connection)
                else:
                    result = job(connection)
            except CardCommunicationError as exc:
                self._drop()
                future.set_exception(exc)
            except BaseException as exc:  # handed to the caller's future
                future.set_exception(exc)
            else:
                future.set_result(result)
