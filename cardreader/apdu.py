"""Command APDU framing (ISO 7816-4 §5.1): short and extended cases 1 to 4.

`ne` is the number of response bytes expected: None means "no Le field", 256 is
encoded as Le=00 in a short APDU, 65536 as Le=0000 in an extended one.
"""

from __future__ import annotations

from dataclasses import dataclass

SHORT_MAX_DATA = 255
SHORT_MAX_NE = 256
EXTENDED_MAX_DATA = 65535
EXTENDED_MAX_NE = 65536


@dataclass(frozen=True)
class CommandApdu:
    cla: int
    ins: int
    p1: int
    p2: int
    data: bytes = b""
    ne: int | None = None

    def __post_init__(self) -> None:
        for name in ("cla", "ins", "p1", "p2"):
            if not 0 <= getattr(self, name) <= 0xFF:
                raise ValueError(f"{name} is one byte")
        if len(self.data) > EXTENDED_MAX_DATA:
            raise ValueError("command data too long")
        if self.ne is not None and not 1 <= self.ne <= EXTENDED_MAX_NE:
            raise ValueError("Ne out of range")

    @property
    def needs_extended(self) -> bool:
        return len(self.data) > SHORT_MAX_DATA or (self.ne or 0) > SHORT_MAX_NE

    def encode(self, *, extended: bool | None = None) -> bytes:
        use_extended = self.needs_extended if extended is None else extended
        if self.needs_extended and not use_extended:
            raise ValueError("this command needs an extended APDU")
        header = bytes([self.cla, self.ins, self.p1, self.p2])
        if not use_extended:
            body = bytes([len(self.data)]) + self.data if self.data else b""
            if self.ne is not None:
                body += bytes([self.ne % SHORT_MAX_NE])
            return header + body
        body = b"\x00" + len(self.data).to_bytes(2, "big") + self.data if self.data else b""
        if self.ne is not None:
            le = (self.ne % EXTENDED_MAX_NE).to_bytes(2, "big")
            body += le if self.data else b"\x00" + le
        return header + body

    def with_ne(self, ne: int) -> CommandApdu:
        return CommandApdu(self.cla, self.ins, self.p1, self.p2, self.data, ne)


def decode_command(raw: bytes) -> tuple[CommandApdu, bool]:
    """Parse a command APDU; returns it and whether it was extended. ValueError if bad."""
    if len(raw) < 4:
        raise ValueError("APDU shorter than its header")
    cla, ins, p1, p2 = raw[:4]
    body = raw[4:]
    if not body:
        return CommandApdu(cla, ins, p1, p2), False
    if len(body) == 1:
        return CommandApdu(cla, ins, p1, p2, ne=body[0] or SHORT_MAX_NE), False
    if body[0] != 0:
        lc = body[0]
        if len(body) == 1 + lc:
            return CommandApdu(cla, ins, p1, p2, body[1:]), False
        if len(body) == 2 + lc:
            return CommandApdu(cla, ins, p1, p2, body[1:-1], body[-1] or SHORT_MAX_NE), False
        raise ValueError("Lc disagrees with the APDU length")
    if len(body) < 3:
        raise ValueError("truncated extended length")
    if len(body) == 3:
        ne = int.from_bytes(body[1:3], "big") or EXTENDED_MAX_NE
        return CommandApdu(cla, ins, p1, p2, ne=ne), True
    lc = int.from_bytes(body[1:3], "big")
    if lc == 0:
        raise ValueError("extended Lc of zero")
    data = body[3 : 3 + lc]
    rest = body[3 + lc :]
    if len(data) != lc or len(rest) not in (0, 2):
        raise ValueError("extended Lc disagrees with the APDU length")
    extended_ne = (int.from_bytes(rest, "big") or EXTENDED_MAX_NE) if rest else None
    return CommandApdu(cla, ins, p1, p2, data, extended_ne), True
