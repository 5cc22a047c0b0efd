"""One entry point: check a deposited content at the door and read what is inside.

`understand` runs before anything is written. The declared media type names a format;
the bytes must have it (sniff.py); the format's module then checks the content (a
refusal is a ContentRefused, a 422 with its reason) and reads its text and structure.
"""

from __future__ import annotations

from server.content import cda, fhir, images, pdf, plain, rtf
from server.content.errors import ContentRefused
from server.content.limits import Budget, Limits
from server.content.reading import Reading
from server.content.sniff import DECLARED, PATIENT_KINDS, Kind, sniff, text_problem


def understand(data: bytes, declared: str, limits: Limits) -> Reading:
    """`declared` is one of sniff.DECLARED (the deposit's schema enforces it)."""
    expected = DECLARED[declared]
    found = sniff(data)
    if found is not expected:
        if expected is Kind.TEXT and found is Kind.UNKNOWN:
            raise ContentRefused(text_problem(data) or "text_binary")
        raise ContentRefused("content_type_mismatch")
    budget = Budget(limits)
    if found is Kind.PDF:
        return pdf.read(data, budget)
    if found in images.PILLOW_FORMATS:
        return images.read(data, found, budget)
    if found is Kind.XML:
        return cda.read(data, budget)
    if found is Kind.JSON:
        return fhir.read(data, budget)
    if found is Kind.RTF:
        return rtf.read(data, budget)
    return plain.read(data, limits)


def patient_may_deposit(declared: str) -> bool:
    return DECLARED[declared] in PATIENT_KINDS


def ocr_source(data: bytes, mime_type: str) -> tuple[bytes, Kind]:
    """What the OCR worker reads for a document whose text is pending: the stored bytes,
    or, for a CDA with a non-structured body, the document it embeds."""
    kind = DECLARED[mime_type]
    if kind is Kind.XML:
        embedded = cda.embedded(data)
        if embedded is not None:
            return embedded
    return data, kind
