"""The transport boundary: a connection moves bytes to a card and back, nothing more.

PC/SC, the in-process emulator and scripted test doubles all implement it; a PKCS#11
or licensed-middleware driver would sit at the session level instead.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType


class Connection(ABC):
    @property
    @abstractmethod
    def atr(self) -> bytes:
        """Answer-to-reset of the card currently powered in this connection."""

    @abstractmethod
    def transmit(self, apdu: bytes) -> bytes:
        """Send one command APDU, return the response APDU (data || SW1 SW2)."""

    def close(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release the card; default: nothing to release."""

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class CountingConnection(Connection):
    """Wraps another connection and counts APDUs (benchmarks, APDU budget tests)."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner
        self.count = 0

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def transmit(self, apdu: bytes) -> bytes:
        self.count += 1
        return self.inner.transmit(apdu)

    def close(self) -> None:
        self.inner.close()
