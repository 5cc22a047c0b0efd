"""What a deposit stores beside a generated document: its text, structure and postings.

The population's documents must search like deposited ones, so nothing here imitates the
server: the bytes are read by the server's own reader (`server.content.understand`, the
call a deposit makes), sealed like `services/document_text` seals them (same AAD, same
JSON), and indexed with `server.search` (the same words, `index.document_words`, and the
dossier's own keyed tokens). Only the writing differs: rows for COPY instead of the ORM.

The text of the corpus's own PDFs is taken from the lines the corpus wrote when that is
exactly what the reader would find (bench/population_text.py, tested against the reader);
everything else is read by the reader itself.

Scans and photos get a `pending` text row, as the deposit leaves them for the OCR worker
(attempts 0, due at the deposit): searchable by their metadata only, like a fresh
deposit. A deleted document has no postings (the deletion drops them).
"""

from __future__ import annotations

import array
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bench.corpus import GeneratedDocument
from bench.population_text import layer_text
from server.content.limits import Limits
from server.content.reading import Reading
from server.content.sniff import Kind
from server.content.understand import understand
from server.crypto import Keyring
from server.policy import Matrix
from server.search import fields, tokens
from server.search.index import document_words
from server.services.document_text import STRUCTURE, TEXT, structure_plain


@dataclass(frozen=True, slots=True)
class Understood:
    """One generated document as a deposit would store it."""

    body: bytes  # what is stored: an image without its metadata (EXIF, GPS)
    text: str | None  # the ready text, None when pending (OCR) or none
    rows: dict[str, dict[str, Any]]  # table -> its row (document_texts, document_structures)


def read(
    keyring: Keyring,
    wrapped: bytes,
    doc: dict[str, Any],
    generated: GeneratedDocument,
    limits: Limits,
) -> Understood:
    """Reads `generated` as the deposit of `doc` (a `documents` row being built) would:
    with the server's reader, except the corpus's own PDFs whose text layer is known
    (population_text: the same text, 20 times faster)."""
    known = layer_text(generated, limits)
    reading: Reading
    if known is not None:
        # What server.content.pdf.read answers for a PDF with a text layer.
        reading = Reading(Kind.PDF, generated.content, known, "layer")
    else:
        reading = understand(generated.content, doc["mime_type"], limits)
    at: datetime = doc["submitted_at"]
    rows: dict[str, dict[str, Any]] = {}
    base = {"document_id": doc["id"], "attempts": 0, "updated_at": at}
    if reading.text is not None:
        nonce, sealed = keyring.encrypt(
            wrapped, reading.text.encode(), f"{doc['logical_id']}:{TEXT}"
        )
        rows["document_texts"] = {
            **base, "status": "ready", "source": reading.source or "plain",
            "nonce": nonce, "ciphertext": sealed, "next_attempt_at": None,
        }  # fmt: skip
    elif reading.ocr:
        rows["document_texts"] = {
            **base, "status": "pending", "source": None,
            "nonce": None, "ciphertext": None, "next_attempt_at": at,
        }  # fmt: skip
    plain = structure_plain(reading)
    if plain is not None:
        nonce, sealed = keyring.encrypt(wrapped, plain, f"{doc['logical_id']}:{STRUCTURE}")
        rows["document_structures"] = {
            "document_id": doc["id"],
            "nonce": nonce,
            "ciphertext": sealed,
        }
    return Understood(reading.body, reading.text, rows)


def described(matrix: Matrix, doc: dict[str, Any], author: Any | None) -> fields.Described:
    """`index.describe` for a row being generated: `author` is the professional (with
    first_name, last_name, profession) or None."""
    return fields.Described(
        doc["title"],
        doc["category"],
        fields.author_text(
            matrix,
            author.first_name if author else None,
            author.last_name if author else None,
            author.profession if author else None,
            patient=doc["author_patient_id"] is not None,
            insurer=doc["author_service_id"] is not None,
        ),
        doc["author_institution"],
        (doc["created_at"], doc["service_start"], doc["service_end"]),
    )


def postings(
    keyed: tokens.DossierTokens, about: fields.Described, text: str | None, doc: dict[str, Any]
) -> dict[str, Any]:
    """One document's postings, compact: `Loader` expands them to (dossier, token,
    document) rows. A signed 32-bit array, not a row per token: a chunk of 1,000 dossiers
    holds tens of millions of postings."""
    found = sorted(keyed.for_document(document_words(about, text)))
    return {
        "dossier_id": doc["dossier_id"],
        "document_id": doc["id"],
        "tokens": array.array("i", found),
    }
