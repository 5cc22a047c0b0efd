"""APDU trace lines with secrets and personal data removed.

Logged at DEBUG on "cardreader.apdu". Command data of VERIFY, CHANGE REFERENCE DATA and
RESET RETRY COUNTER (PIN, PUK) is never shown. Response data is shown only for SELECT
(AID, serial, version) and INTERNAL AUTHENTICATE (a signature over a public challenge):
the identity file and the certificate both carry the holder's names and INS or
national id, and a GET RESPONSE may continue any of them, so all other response data
is reduced to its length. yubikey-manager logs PIN bytes at its traffic level; we don't.
"""

from __future__ import annotations

from .apdu import decode_command
from .profile import (
    INS_CHANGE_REFERENCE_DATA,
    INS_INTERNAL_AUTHENTICATE,
    INS_RESET_RETRY_COUNTER,
    INS_SELECT,
    INS_VERIFY,
)

SECRET_COMMANDS = frozenset({INS_VERIFY, INS_CHANGE_REFERENCE_DATA, INS_RESET_RETRY_COUNTER})
PUBLIC_RESPONSES = frozenset({INS_SELECT, INS_INTERNAL_AUTHENTICATE})


def _hidden(length: int) -> str:
    return f"<redacted {length} bytes>"


def describe_command(raw: bytes) -> str:
    try:
        command, extended = decode_command(raw)
    except ValueError:
        # Unparseable: we cannot tell where the data field starts, so show only the header.
        return raw[:4].hex(" ").upper() + " " + _hidden(max(0, len(raw) - 4))
    text = raw[:4].hex(" ").upper()
    if command.data:
        shown = (
            _hidden(len(command.data))
            if command.ins in SECRET_COMMANDS
            else command.data.hex(" ").upper()
        )
        text += f" Lc={len(command.data)} {shown}"
    if command.ne is not None:
        text += f" Ne={command.ne}"
    return text + (" (extended)" if extended else "")


def describe_response(command_raw: bytes, response: bytes) -> str:
    if len(response) < 2:
        return f"malformed response of {len(response)} bytes"
    data, sw = response[:-2], response[-2:].hex().upper()
    if not data:
        return f"SW={sw}"
    ins = command_raw[1] if len(command_raw) > 1 else -1
    shown = data.hex(" ").upper() if ins in PUBLIC_RESPONSES else _hidden(len(data))
    return f"{shown} SW={sw}"
