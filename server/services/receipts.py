"""Signed receipts: issued with each consent-bearing change, read by the dossier's owner.

A receipt is canonical JSON (sorted keys, no insignificant whitespace, UTF-8) saying what
changed, for whom, by whom, when, at which terminal and in which mode, tied to the trace
entry of the change; the server signs those exact bytes (server/receipt_signer.py). It
is written in the change's own transaction: a change that rolls back leaves no receipt,
and a change whose receipt cannot be signed does not happen (docs/receipts.md).
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from server.errors import AccessDenied, NotFound
from server.models import AuditEntry, Dossier, Patient, Professional, Receipt
from server.policy import Action, ActorKind
from server.receipt_signer import SignerUnavailable
from server.services import audit, guard, lookup, trace_log
from server.services.context import Ctx, Principal

# Version 2 added `log_checkpoint`: the log's signed checkpoint when the receipt was issued.
# Version 3 added `change.copresence` on consents given in person: the draft both cards
# signed, their signatures and certificates (server/signin/copresence.py).
FORMAT = "dmp-kiosk-receipt/3"
RECEIPT_ID_BYTES = 16  # 128 random bits: 22 URL-safe characters, never guessed
RECEIPT_ID_PATTERN = "^[A-Za-z0-9_-]{22}$"


def canonical(content: dict[str, Any]) -> bytes:
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def instant(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def issue(
    ctx: Ctx,
    who: Principal,
    action: Action,
    dossier: Dossier,
    patient: Patient,
    change: dict[str, Any],
) -> Receipt:
    """The receipt of the change `action` just made, signed and added to the session.

    Called after the change's allowed decision was traced: the latest entry of the
    patient's chain, whose head this transaction holds locked, is the change's own."""
    signer = ctx.receipts
    if signer is None:
        raise SignerUnavailable()
    entry = ctx.session.scalars(
        select(AuditEntry)
        .where(AuditEntry.chain == audit.chain_for(patient.id))
        .order_by(AuditEntry.seq.desc())
        .limit(1)
    ).one()
    receipt_id = secrets.token_urlsafe(RECEIPT_ID_BYTES)
    content = {
        "format": FORMAT,
        "receipt_id": receipt_id,
        "issued_at": instant(ctx.now),
        "action": action.value,
        "change": change,
        "dossier": {"id": dossier.id, "patient": patient_ref(patient)},
        "actor": actor_ref(ctx, who),
        "terminal": who.kiosk,
        "mode": entry.mode,
        "trace_entry": {"id": entry.id, "seq": entry.seq},
        "signer": {"serial": signer.serial_hex},
        # The log as it stood (docs/receipts.md): signed inside the receipt, the patient
        # can later ask for a consistency proof from it and catch a rewritten history.
        "log_checkpoint": current_checkpoint(ctx),
    }
    data = canonical(content)
    row = Receipt(
        receipt_id=receipt_id,
        dossier_id=dossier.id,
        audit_entry_id=entry.id,
        action=action.value,
        issued_at=ctx.now,
        content=data,
        signature=signer.sign(data, ctx.now),
        signer_serial=signer.serial_hex,
        seq=entry.seq,
    )
    ctx.session.add(row)
    # The API answers the change with this id (server/api/runtime.py adds it).
    ctx.receipt_id = receipt_id
    return row


def current_checkpoint(ctx: Ctx) -> str | None:
    """The latest signed checkpoint's note; None only before the log's first pass."""
    signed = trace_log.latest(ctx.session)
    return signed.note if signed is not None else None


def patient_ref(patient: Patient) -> dict[str, Any]:
    return {
        "ins": patient.ins,
        "ins_oid": patient.ins_oid,
        "birth_name": patient.birth_name,
        "first_names": patient.first_names,
        "birth_date": patient.birth_date.isoformat(),
    }


def actor_ref(ctx: Ctx, who: Principal) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": who.actor.kind.value, "id": who.actor.id, "name": who.name}
    if who.actor.kind is ActorKind.PROFESSIONAL:
        pro = ctx.session.get(Professional, who.actor.id)
        out |= {
            "national_id": pro.national_id if pro else None,
            "profession": who.actor.profession,
            "structure": who.actor.structure,
        }
    return out


def professional_ref(pro: Professional | None) -> dict[str, Any] | None:
    if pro is None:
        return None
    return {
        "national_id": pro.national_id,
        "name": f"{pro.first_name} {pro.last_name}",
        "profession": pro.profession,
    }


# ---- reading ---------------------------------------------------------------------------
# Receipts are read like the dossier's history (Action.HISTORY_READ): the patient, and a
# minor's legal representatives; never a professional, not even the one who made the
# change (the kiosk hands the patient their receipt, docs/receipts.md). Every read, and
# every refusal, is traced on the patient's chain.


def list_for(ctx: Ctx, who: Principal, dossier_id: int) -> dict[str, Any]:
    row, patient = lookup.dossier(ctx, who, Action.HISTORY_READ, dossier_id)
    guard.authorize(ctx, who, Action.HISTORY_READ, row, patient, detail={"view": "receipts"})
    found = ctx.session.scalars(
        select(Receipt).where(Receipt.dossier_id == row.id).order_by(Receipt.id)
    )
    return {
        "receipts": [
            {
                "receipt_id": r.receipt_id,
                "action": r.action,
                "issued_at": instant(r.issued_at),
                "trace_seq": r.seq,
            }
            for r in found
        ]
    }


def no_receipt() -> NotFound:
    return NotFound("receipt_not_found", "Reçu introuvable.")


def read(ctx: Ctx, who: Principal, receipt_id: str, part: str) -> Receipt:
    """The receipt, once `who` is allowed to read its dossier's history.

    Unknown, and not the caller's to read, answer alike (404): a refusal would confirm
    that a receipt exists. Both are decided and traced all the same, the second on the
    patient's chain (its history shows who asked for their receipt)."""
    receipt = ctx.session.scalars(select(Receipt).where(Receipt.receipt_id == receipt_id)).first()
    try:
        if receipt is None:
            guard.refuse_missing(ctx, who, Action.HISTORY_READ, None, None, no_receipt())
        row, patient = lookup.dossier(ctx, who, Action.HISTORY_READ, receipt.dossier_id)
        guard.authorize(
            ctx,
            who,
            Action.HISTORY_READ,
            row,
            patient,
            detail={"view": part, "receipt": receipt_id},
            missing=no_receipt(),
        )
    except AccessDenied:
        raise no_receipt() from None
    return receipt
