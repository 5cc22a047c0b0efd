"""APDU protocol layer: framing, 61xx / GET RESPONSE, 6Cxx re-issue, typed errors.

PC/SC's transmit() hands back whatever the card said; following 61xx and 6Cxx is the
host's job (cards.md), and doing it here keeps every session free of transport quirks.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from .apdu import SHORT_MAX_NE, CommandApdu
from .connection import Connection
from .errors import ApduError, NotFoundError, ProtocolError, SecurityStatusError
from .profile import (
    CLA,
    INS_GET_RESPONSE,
    SW1_MORE_DATA,
    SW1_WRONG_LE,
    SW_NOT_FOUND,
    SW_OK,
    SW_SECURITY_STATUS,
)
from .redact import describe_command, describe_response

log = logging.getLogger("cardreader.apdu")

MAX_RESPONSE = 65536  # no object of the profile comes near; more means a looping card
MAX_GET_RESPONSES = MAX_RESPONSE // SHORT_MAX_NE + 1


@dataclass(frozen=True)
class Response:
    data: bytes
    sw: int

    @property
    def ok(self) -> bool:
        return self.sw == SW_OK


def error_for_sw(sw: int) -> ApduError:
    """Generic mapping; sessions refine PIN-related words (63Cx, 6983) per command."""
    if sw == SW_SECURITY_STATUS:
        return SecurityStatusError(sw)
    if sw == SW_NOT_FOUND:
        return NotFoundError(sw)
    return ApduError(sw)


class ApduProtocol:
    def __init__(self, connection: Connection, *, extended: bool = False) -> None:
        self.connection = connection
        self.extended = extended

    def _exchange(self, raw: bytes) -> Response:
        if log.isEnabledFor(logging.DEBUG):
            log.debug(">> %s", describe_command(raw))
        response = self.connection.transmit(raw)
        if log.isEnabledFor(logging.DEBUG):
            log.debug("<< %s", describe_response(raw, response))
        if len(response) < 2:
            raise ProtocolError(f"response of {len(response)} bytes has no status word")
        return Response(bytes(response[:-2]), int.from_bytes(response[-2:], "big"))

    def transceive(self, command: CommandApdu) -> Response:
        """Send `command`, following 6Cxx once and 61xx to the end; any SW comes back."""
        response = self._exchange(command.encode(extended=self.extended or None))
        if response.sw >> 8 == SW1_WRONG_LE:
            # 6Cxx: "wrong Le, xx bytes available": the card wants the same command again.
            corrected = command.with_ne((response.sw & 0xFF) or SHORT_MAX_NE)
            response = self._exchange(corrected.encode(extended=self.extended or None))
            if response.sw >> 8 == SW1_WRONG_LE:
                raise ProtocolError("card answered 6Cxx twice to the same command")
        data = bytearray(response.data)
        rounds = 0
        while response.sw >> 8 == SW1_MORE_DATA:
            rounds += 1
            if rounds > MAX_GET_RESPONSES or len(data) > MAX_RESPONSE:
                raise ProtocolError("card keeps announcing more data (61xx loop)")
            get_response = CommandApdu(
                CLA, INS_GET_RESPONSE, 0, 0, ne=(response.sw & 0xFF) or SHORT_MAX_NE
            )
            response = self._exchange(get_response.encode())
            data += response.data
        return Response(bytes(data), response.sw)

    def send(self, command: CommandApdu) -> bytes:
        """Send `command` and return its data; any SW but 9000 raises an ApduError."""
        response = self.transceive(command)
        if not response.ok:
            raise error_for_sw(response.sw)
        return response.data
