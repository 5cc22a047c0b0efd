"""Test doubles for code built on a Connection (python-fido2's scripted-device shape).

Shipped in the package because the kiosk's tests need them too.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..connection import Connection
from ..errors import CardRemovedError


class ScriptedConnection(Connection):
    """Plays a fixed script: each transmit must send exactly the expected bytes.

    A response of None in the script means "the card is pulled at this command".
    """

    def __init__(self, atr: bytes, script: Iterable[tuple[bytes, bytes | None]]) -> None:
        self._atr = atr
        self.script = list(script)
        self.sent: list[bytes] = []

    @property
    def atr(self) -> bytes:
        return self._atr

    def transmit(self, apdu: bytes) -> bytes:
        if len(self.sent) >= len(self.script):
            raise AssertionError(f"unexpected extra command {apdu.hex().upper()}")
        expected, response = self.script[len(self.sent)]
        self.sent.append(bytes(apdu))
        if bytes(apdu) != expected:
            raise AssertionError(
                f"command {len(self.sent)}: sent {apdu.hex().upper()}, "
                f"expected {expected.hex().upper()}"
            )
        if response is None:
            raise CardRemovedError("scripted card pulled")
        return response

    @property
    def finished(self) -> bool:
        return len(self.sent) == len(self.script)


class RecordingConnection(Connection):
    """Passes through to another connection and keeps (command, response) pairs."""

    def __init__(self, inner: Connection) -> None:
        self.inner = inner
        self.exchanges: list[tuple[bytes, bytes]] = []

    @property
    def atr(self) -> bytes:
        return self.inner.atr

    def transmit(self, apdu: bytes) -> bytes:
        response = self.inner.transmit(apdu)
        self.exchanges.append((bytes(apdu), response))
        return response

    def close(self) -> None:
        self.inner.close()
