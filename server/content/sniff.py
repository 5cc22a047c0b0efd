"""What a content is, from its bytes; and which declared media types name which format.

The declared type is the caller's claim; the bytes decide. A content whose bytes name
another accepted format than the declared one is refused (a PDF sent as image/png, a
CDA sent as text/plain): readers downstream (the kiosk's viewer, the OCR, the search)
trust the stored type.
"""

from __future__ import annotations

import re
from enum import StrEnum


class Kind(StrEnum):
    PDF = "pdf"
    JPEG = "jpeg"
    PNG = "png"
    TIFF = "tiff"
    RTF = "rtf"
    XML = "xml"  # read as CDA R2
    JSON = "json"  # read as a FHIR R4 document
    TEXT = "text"
    UNKNOWN = "unknown"


# Every media type a deposit may declare, and the format its bytes must have.
DECLARED = {
    "application/pdf": Kind.PDF,
    "image/jpeg": Kind.JPEG,
    "image/png": Kind.PNG,
    "image/tiff": Kind.TIFF,
    "text/plain": Kind.TEXT,
    "text/rtf": Kind.RTF,
    "application/rtf": Kind.RTF,
    "text/xml": Kind.XML,
    "application/xml": Kind.XML,
    "application/json": Kind.JSON,
    "application/fhir+json": Kind.JSON,  # FHIR R4 documents (docs/documents.md)
}
# What patients deposit (a photographed or scanned paper, a note); structured CDA and
# FHIR documents come from professionals' software, never from a patient's upload.
PATIENT_KINDS = frozenset({Kind.PDF, Kind.JPEG, Kind.PNG, Kind.TIFF, Kind.TEXT, Kind.RTF})

_MAGIC = (
    (b"%PDF-", Kind.PDF),
    (b"\xff\xd8\xff", Kind.JPEG),
    (b"\x89PNG\r\n\x1a\n", Kind.PNG),
    (b"II*\x00", Kind.TIFF),
    (b"MM\x00*", Kind.TIFF),
    (b"{\\rtf", Kind.RTF),
)
_BOM = b"\xef\xbb\xbf"
_WHITESPACE = b" \t\r\n"
# C0 controls (and DEL) that no text file carries; tab, line feed, form feed and carriage
# return are text. Searched in the bytes: UTF-8 never uses bytes below 0x80 inside a
# multi-byte character.
_BINARY = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def sniff(data: bytes) -> Kind:
    for magic, kind in _MAGIC:
        if data.startswith(magic):
            return kind
    head = data.removeprefix(_BOM).lstrip(_WHITESPACE)
    # XML starts with its declaration, a comment or an element; JSON documents are
    # objects. A plain text beginning with "<x" or "{" is rare enough to be sent as such.
    if head.startswith((b"<?xml", b"<!--", b"<!DOCTYPE")) or (
        head[:1] == b"<" and head[1:2].isalpha()
    ):
        return Kind.XML
    if head.startswith(b"{"):
        return Kind.JSON
    return Kind.TEXT if text_problem(data) is None else Kind.UNKNOWN


def text_problem(data: bytes) -> str | None:
    """Why `data` is not a plain UTF-8 text (a reason code), or None."""
    if _BINARY.search(data):
        return "text_binary"
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return "text_not_utf8"
    return None
