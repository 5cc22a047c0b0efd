"""What an export holds, decided and traced: the one short transaction of a build.

The build decides again for the person who asked, at build time (a representative whose
child came of age meanwhile gets nothing), through the same doors as the API: the
export's own decision (DOSSIER_EXPORT), the listing's decision and `listing.shown` for
the documents (so masked, invisible and deleted documents follow the listing's rules
exactly), the history's and the receipts' reads. Each is traced on the patient's chain.
Contents are read later, outside this transaction (`contents`), so that the patient's
trace head is not held locked while the archive is assembled.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select

from server.db import core
from server.fhir import summary as ips
from server.models import Document, DocumentContent, DocumentText, Dossier, Receipt
from server.policy import Action
from server.services import document_text, guard, history, listing, lookup, receipts
from server.services.context import Ctx, Principal
from server.services.facts import DocumentRow

# The whole history, not a page: the export is the patient's complete copy.
ALL_HISTORY = 10**9
CHUNK = 50  # documents whose contents are read per statement


@dataclass(frozen=True, slots=True)
class PatientInfo:
    dossier_id: int
    patient_id: int
    ins: str
    ins_oid: str
    birth_name: str
    first_names: str
    used_name: str | None
    birth_date: date
    sex: str
    status: str


@dataclass(frozen=True, slots=True)
class ReceiptFile:
    receipt_id: str
    action: str
    issued_at: str
    content: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Gathered:
    patient: PatientInfo
    wrapped_key: bytes
    rows: list[DocumentRow]
    history: list[dict[str, Any]]
    checkpoint: str | None
    receipts: list[ReceiptFile]
    mode: str  # patient | representative
    # The IPS patient summary (server/fhir/summary.py) from the shown rows only.
    summary: dict[str, Any] | None = None


class KeyDestroyed(Exception):
    """The dossier's key is gone (purged): nothing can be exported any more."""


def gather(ctx: Ctx, who: Principal, dossier_id: int, export_id: str) -> Gathered:
    """Decides and traces; raises AccessDenied (already traced) when refused. The caller
    commits."""
    row, patient = lookup.dossier(ctx, who, Action.DOSSIER_EXPORT, dossier_id)
    granted = guard.authorize(
        ctx, who, Action.DOSSIER_EXPORT, row, patient, detail={"export": export_id, "step": "build"}
    )
    if row.wrapped_key is None:
        raise KeyDestroyed()
    decided = listing.decide(ctx, who, dossier_id, {"export": export_id})
    # Everything, every category; with each version's row id, which the summary's
    # structures are keyed by (server/fhir/summary.py).
    statement = listing.LISTINGS[True, False].add_columns(Document.id.label("row_id"))
    rows = core(ctx.session).execute(statement, {"dossier_id": dossier_id, "category": None})
    shown = listing.shown(ctx, who, decided.granted, rows)
    listing.trace(ctx, who, decided, returned=len(shown))
    lines = history.history(ctx, who, dossier_id, limit=ALL_HISTORY)
    receipts.list_for(ctx, who, dossier_id)  # the receipts' read decision, traced
    found = ctx.session.scalars(
        select(Receipt).where(Receipt.dossier_id == dossier_id).order_by(Receipt.id)
    )
    return Gathered(
        patient=PatientInfo(
            dossier_id=row.id,
            patient_id=patient.id,
            ins=patient.ins,
            ins_oid=patient.ins_oid,
            birth_name=patient.birth_name,
            first_names=patient.first_names,
            used_name=patient.used_name,
            birth_date=patient.birth_date,
            sex=patient.sex,
            status=row.status,
        ),
        wrapped_key=row.wrapped_key,
        rows=list(shown),
        history=list(reversed(lines["entries"])),  # oldest first, as a record reads
        checkpoint=lines["checkpoint"],
        receipts=[
            ReceiptFile(
                r.receipt_id, r.action, receipts.instant(r.issued_at), r.content, r.signature
            )
            for r in found
        ],
        mode=granted.decision.mode.value,
        summary=ips.from_rows(ctx, row.id, patient.id, list(shown), SUMMARY_BASE),
    )


# The export's FHIR resources name themselves under this base (server/export/fhir_bundle.py).
SUMMARY_BASE = "https://dmp-kiosk.invalid/fhir"


@dataclass(frozen=True, slots=True)
class Opened:
    """One listed document's bytes and ready text, in memory only."""

    body: bytes
    text: str | None


def contents(
    ctx: Ctx, dossier_row: Dossier, logical_ids: list[str]
) -> Iterator[tuple[str, Opened]]:
    """The listed documents' contents, decrypted chunk by chunk with the dossier's key
    unwrapped once. Reads only: no decision here, the listing made it."""
    wrapped = dossier_row.wrapped_key
    if wrapped is None:
        raise KeyDestroyed()
    opener = ctx.keyring.opener(wrapped)
    for start in range(0, len(logical_ids), CHUNK):
        chunk = logical_ids[start : start + CHUNK]
        found = ctx.session.execute(
            select(Document, DocumentContent, DocumentText)
            .join(DocumentContent, DocumentContent.document_id == Document.id)
            .outerjoin(DocumentText, DocumentText.document_id == Document.id)
            .where(Document.dossier_id == dossier_row.id, Document.logical_id.in_(chunk))
        ).all()
        by_id = {doc.logical_id: (doc, stored, text) for doc, stored, text in found}
        for logical_id in chunk:
            if logical_id not in by_id:
                continue  # no stored content: listed in the PDF and the bundle only
            doc, stored, text = by_id[logical_id]
            body = opener.decrypt(stored.nonce, stored.ciphertext, doc.logical_id.encode())
            ready = None
            if text is not None and text.status == "ready" and text.nonce and text.ciphertext:
                aad = f"{doc.logical_id}:{document_text.TEXT}".encode()
                ready = opener.decrypt(text.nonce, text.ciphertext, aad).decode()
            yield logical_id, Opened(body, ready)
