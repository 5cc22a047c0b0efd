"""Command APDU framing, both directions, short and extended (ISO 7816-4 §5.1)."""

from __future__ import annotations

import pytest

from cardreader.apdu import CommandApdu, decode_command

CASES = [
    # (cla, ins, p1, p2, data, ne, extended, encoding)
    (0x00, 0xA4, 0x04, 0x00, "", None, False, "00A40400"),
    (0x00, 0xB0, 0x81, 0x00, "", 256, False, "00B0810000"),
    (0x00, 0xB0, 0x81, 0x00, "", 0x4C, False, "00B081004C"),
    (0x00, 0x20, 0x00, 0x81, "31323334", None, False, "002000810431323334"),
    (0x00, 0xA4, 0x04, 0x00, "F0444D502D504154", 256, False, "00A4040008F0444D502D50415400"),
    (0x00, 0xB0, 0x00, 0x00, "", 65536, True, "00B00000000000"),
    (0x00, 0xB0, 0x00, 0x00, "", 257, True, "00B00000000101"),
    (0x00, 0x88, 0x00, 0x00, "AA" * 300, None, True, "00880000" + "00012C" + "AA" * 300),
    (0x00, 0x88, 0x00, 0x00, "AA" * 2, 65536, True, "00880000" + "000002AAAA0000"),
]


@pytest.mark.parametrize(("cla", "ins", "p1", "p2", "data", "ne", "extended", "encoding"), CASES)
def test_encode_decode(
    cla: int, ins: int, p1: int, p2: int, data: str, ne: int | None, extended: bool, encoding: str
) -> None:
    command = CommandApdu(cla, ins, p1, p2, bytes.fromhex(data), ne)
    assert command.encode(extended=extended).hex().upper() == encoding
    assert decode_command(bytes.fromhex(encoding)) == (command, extended)


def test_auto_extended_when_needed() -> None:
    assert CommandApdu(0, 0xB0, 0, 0, ne=1000).encode() == bytes.fromhex("00B000000003E8")


def test_short_refused_when_too_long() -> None:
    with pytest.raises(ValueError, match="extended"):
        CommandApdu(0, 0x88, 0, 0, b"\x00" * 256).encode(extended=False)


@pytest.mark.parametrize(
    "hex_data",
    [
        "00A4",
        "00A4040005F0",
        "00A4040002AABBCCDD",
        "00A404000000",
        "00A40400000003AA",
        "00A40400000002AABB00",
    ],
)
def test_decode_rejects(hex_data: str) -> None:
    with pytest.raises(ValueError, match=r"APDU|Lc|extended"):
        decode_command(bytes.fromhex(hex_data))


@pytest.mark.parametrize("field", ["cla", "ins", "p1", "p2"])
def test_header_bytes_are_bytes(field: str) -> None:
    values = {"cla": 0, "ins": 0xA4, "p1": 0, "p2": 0} | {field: 256}
    with pytest.raises(ValueError, match="one byte"):
        CommandApdu(**values)
