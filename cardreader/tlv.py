"""Strict BER-TLV (ISO 7816-4 §5.2 / X.690 definite lengths) parsing and encoding.

Strict on purpose: a card is an untrusted input, so indefinite lengths, non-minimal
length encodings, truncation and trailing bytes are all errors, never guesses.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from .errors import TlvError

_MAX_TAG_BYTES = 3
_MAX_LENGTH_BYTES = 3  # 16 MiB is far beyond any card file; longer is malformed


@dataclass(frozen=True)
class Tlv:
    tag: int
    value: bytes

    @property
    def constructed(self) -> bool:
        return bool(_first_tag_byte(self.tag) & 0x20)

    def children(self) -> list[Tlv]:
        if not self.constructed:
            raise TlvError(f"tag {self.tag:X} is primitive, it has no children")
        return parse(self.value)


def _first_tag_byte(tag: int) -> int:
    while tag > 0xFF:
        tag >>= 8
    return tag


def read_header(data: bytes, offset: int = 0) -> tuple[int, int, int]:
    """Return (tag, length, header_size) of the TLV starting at `offset`."""
    pos = offset
    if pos >= len(data):
        raise TlvError("truncated TLV: missing tag")
    tag = data[pos]
    pos += 1
    if tag & 0x1F == 0x1F:
        while True:
            if pos >= len(data):
                raise TlvError("truncated TLV: multi-byte tag")
            if pos - offset >= _MAX_TAG_BYTES:
                raise TlvError("TLV tag longer than 3 bytes")
            tag = (tag << 8) | data[pos]
            pos += 1
            if not data[pos - 1] & 0x80:
                break
    if pos >= len(data):
        raise TlvError("truncated TLV: missing length")
    first = data[pos]
    pos += 1
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise TlvError("indefinite TLV length is not allowed")
    else:
        count = first & 0x7F
        if count > _MAX_LENGTH_BYTES:
            raise TlvError("TLV length field too long")
        if pos + count > len(data):
            raise TlvError("truncated TLV: length bytes")
        length = int.from_bytes(data[pos : pos + count], "big")
        if length < 0x80 or length < 1 << (8 * (count - 1)):
            raise TlvError("non-minimal TLV length encoding")
        pos += count
    return tag, length, pos - offset


def iter_tlv(data: bytes) -> Iterator[Tlv]:
    pos = 0
    while pos < len(data):
        tag, length, header = read_header(data, pos)
        start = pos + header
        end = start + length
        if end > len(data):
            raise TlvError(f"truncated TLV: tag {tag:X} announces {length} bytes")
        yield Tlv(tag, bytes(data[start:end]))
        pos = end


def parse(data: bytes) -> list[Tlv]:
    return list(iter_tlv(data))


def parse_single(data: bytes) -> Tlv:
    """Exactly one TLV covering all of `data` (a whole card file, an FCI)."""
    items = parse(data)
    if len(items) != 1:
        raise TlvError(f"expected one TLV object, found {len(items)}")
    return items[0]


def encode_length(length: int) -> bytes:
    if length < 0:
        raise ValueError("negative length")
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    if len(raw) > _MAX_LENGTH_BYTES:
        raise ValueError("value too long for a card file")
    return bytes([0x80 | len(raw)]) + raw


def encode_tag(tag: int) -> bytes:
    if tag < 0:
        raise ValueError("negative tag")
    return tag.to_bytes(max(1, (tag.bit_length() + 7) // 8), "big")


def encode(tag: int, value: bytes) -> bytes:
    return encode_tag(tag) + encode_length(len(value)) + value


def total_length(data: bytes) -> int:
    """Size of the whole TLV (header + value) whose start is in `data`."""
    _, length, header = read_header(data)
    return header + length
