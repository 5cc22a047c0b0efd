"""BER-TLV: strict parsing (every malformation is a TlvError) and exact encoding."""

from __future__ import annotations

import pytest

from cardreader import tlv
from cardreader.errors import MalformedCardDataError, TlvError


@pytest.mark.parametrize(
    ("hex_data", "expected"),
    [
        ("8003414243", [(0x80, "414243")]),
        ("800081014A", [(0x80, ""), (0x81, "4A")]),
        ("5F2002AABB", [(0x5F20, "AABB")]),
        ("9F810101FF", [(0x9F8101, "FF")]),
        ("8081" + "80" + "00" * 128, [(0x80, "00" * 128)]),
        ("80820100" + "11" * 256, [(0x80, "11" * 256)]),
    ],
)
def test_parse(hex_data: str, expected: list[tuple[int, str]]) -> None:
    items = tlv.parse(bytes.fromhex(hex_data))
    assert [(item.tag, item.value.hex().upper()) for item in items] == expected


@pytest.mark.parametrize(
    ("hex_data", "reason"),
    [
        ("80", "missing length"),
        ("8005414243", "announces 5"),
        ("5F", "multi-byte tag"),
        ("9F81818101FF", "longer than 3"),
        ("8080", "indefinite"),
        ("8081", "length bytes"),
        ("80817F" + "00" * 127, "non-minimal"),
        ("8082007F" + "00" * 127, "non-minimal"),
        ("8084000000010", "too long"),
    ],
)
def test_malformed_is_a_typed_error(hex_data: str, reason: str) -> None:
    data = bytes.fromhex(hex_data if len(hex_data) % 2 == 0 else hex_data + "0")
    with pytest.raises(TlvError, match=reason):
        tlv.parse(data)


def test_tlv_error_is_a_card_data_error() -> None:
    assert issubclass(TlvError, MalformedCardDataError)


def test_parse_single_refuses_trailing_objects() -> None:
    with pytest.raises(TlvError, match="expected one"):
        tlv.parse_single(bytes.fromhex("800141810142"))


def test_children_of_primitive_is_an_error() -> None:
    with pytest.raises(TlvError, match="primitive"):
        tlv.parse_single(bytes.fromhex("800141")).children()


@pytest.mark.parametrize(
    ("tag", "length", "prefix"),
    [
        (0x80, 0, "8000"),
        (0x80, 127, "807F"),
        (0x80, 128, "808180"),
        (0x65, 300, "6582012C"),
        (0x5F20, 1, "5F2001"),
    ],
)
def test_encode_minimal(tag: int, length: int, prefix: str) -> None:
    encoded = tlv.encode(tag, b"\x00" * length)
    assert encoded.hex().upper().startswith(prefix)
    assert tlv.parse_single(encoded).value == b"\x00" * length
    assert tlv.total_length(encoded[:8]) == len(encoded)
