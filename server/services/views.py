"""What leaves the server: dossier summaries and document metadata, already filtered."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from server.labels import CATEGORIES, STATES
from server.models import Document, Dossier, Patient, Professional
from server.services.context import Ctx
from server.services.facts import DocumentRow
from server.services.guard import Granted

EMERGENCY_BANNER = (
    "Accès en urgence en cours : chaque consultation est tracée et le patient est informé."
)


def iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def summary(ctx: Ctx, row: Dossier, patient: Patient, *, full: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "dossier_id": row.id,
        "status": row.status,
        "patient": {
            "ins": patient.ins,
            "ins_oid": patient.ins_oid,
            "birth_name": patient.birth_name,
            "first_names": patient.first_names,
            "birth_date": patient.birth_date.isoformat(),
            "sex": patient.sex,
            "birth_place": patient.birth_place,
        },
        "medecin_traitant": professional_ref(ctx, row.medecin_traitant_id),
    }
    if full:
        out["patient"].update(
            email=patient.email, phone=patient.phone, notify_channel=patient.notify_channel
        )
        out.update(
            created_at=iso(row.created_at),
            consent={
                "collected_by": row.consent_collected_by,
                "at": iso(row.consent_at),
                "terminal": row.consent_terminal,
            },
            emergency={
                "bris_de_glace": row.bris_de_glace_allowed,
                "centre_15": row.centre_15_allowed,
            },
            closed_at=iso(row.closed_at),
            retention_until=iso(row.retention_until),
            deletion_requested_at=iso(row.deletion_requested_at),
        )
    return out


def with_banner(out: dict[str, Any], granted: Granted) -> dict[str, Any]:
    if granted.emergency is not None:
        out["emergency_access"] = {
            "mode": granted.emergency.mode.value,
            "until": iso(granted.emergency.until),
            "banner": EMERGENCY_BANNER,
        }
    return out


def professional_ref(ctx: Ctx, pro_id: int | None) -> dict[str, Any] | None:
    if pro_id is None:
        return None
    pro = ctx.session.get(Professional, pro_id)
    if pro is None:
        return None
    return {
        "national_id": pro.national_id,
        "name": f"{pro.first_name} {pro.last_name}",
        "profession": pro.profession,
        "structure": pro.structure_finess,
        "structure_name": pro.structure_name,
    }


def structure_name(ctx: Ctx, finess: str | None) -> str | None:
    """The establishment's name, as its professionals' cards state it: the patient reads
    a name, never a bare FINESS number (there is no establishment directory of its own)."""
    if finess is None:
        return None
    return ctx.session.scalars(
        select(Professional.structure_name)
        .where(Professional.structure_finess == finess, Professional.structure_name.is_not(None))
        .order_by(Professional.id)
        .limit(1)
    ).first()


def document(
    ctx: Ctx,
    doc: Document,
    authors: dict[int, Professional] | None = None,
    links: dict[int, str] | None = None,
) -> dict[str, Any]:
    author = None
    if doc.author_professional_id is not None:
        pro = (authors or {}).get(doc.author_professional_id) or ctx.session.get(
            Professional, doc.author_professional_id
        )
        if pro is not None:
            author = professional_author(pro.first_name, pro.last_name, pro.profession)
    return document_fields(
        doc,
        author,
        _logical_id(ctx, doc.replaces_id, links),
        _logical_id(ctx, doc.replaced_by_id, links),
    )


def professional_author(first_name: str, last_name: str, profession: str) -> dict[str, Any]:
    return {"kind": "professional", "name": f"{first_name} {last_name}", "profession": profession}


def document_fields(
    doc: Document | DocumentRow,
    professional: dict[str, Any] | None,
    replaces: str | None,
    replaced_by: str | None,
) -> dict[str, Any]:
    """A document's metadata as the API shows it, from an ORM instance or a Core row of
    the same columns, given its resolved professional author and replacement links."""
    author = None
    if doc.author_professional_id is not None:
        author = professional  # None when the professional's row is gone
    elif doc.author_patient_id is not None:
        author = {"kind": "patient"}
    elif doc.author_service_id is not None:
        author = {"kind": "insurer", "name": "Assurance Maladie"}
    flags = {
        "masked_ps": doc.masked_ps,
        "invisible_patient": doc.invisible_patient,
        "invisible_rep": doc.invisible_rep,
    }
    return {
        "logical_id": doc.logical_id,
        "unique_id": doc.unique_id,
        "entry_uuid": doc.entry_uuid,
        "version": doc.version,
        "title": doc.title,
        "category": doc.category,
        "category_label": CATEGORIES[doc.category][0],
        "type_code": doc.type_code,
        "author": author,
        "author_institution": doc.author_institution,
        "created_at": iso(doc.created_at),
        "service_start": iso(doc.service_start),
        "service_end": iso(doc.service_end),
        "submitted_at": iso(doc.submitted_at),
        "mime_type": doc.mime_type,
        "size": doc.size,
        "status": doc.status,
        "flags": flags,
        "labels": state_labels(doc),
        "replaces": replaces,
        "replaced_by": replaced_by,
    }


def state_labels(doc: Document | DocumentRow) -> list[str]:
    names = [
        name for name in ("masked_ps", "invisible_patient", "invisible_rep") if getattr(doc, name)
    ]
    if doc.author_patient_id is not None and "invisible_patient" in names:
        # The policy never hides a patient's own deposit from them (PATIENT_DEPOSIT_VISIBLE):
        # a label must not claim a rule that is not applied (a flag set before the rule).
        names.remove("invisible_patient")
    if doc.status in ("archived", "superseded", "deleted"):
        names.append(doc.status)
    return [STATES[name][0] for name in names]


def _logical_id(ctx: Ctx, doc_id: int | None, links: dict[int, str] | None) -> str | None:
    if doc_id is None:
        return None
    if links is not None and doc_id in links:
        return links[doc_id]
    return ctx.session.scalar(select(Document.logical_id).where(Document.id == doc_id))
