"""Loading the rows a request names, with one NotFound for anything unknown."""

from __future__ import annotations

from sqlalchemy import select

from server.errors import InvalidInput, NotFound
from server.identifiers import IdentifierError, parse_national_id
from server.models import Document, Dossier, Patient, Professional
from server.services.context import Ctx


def dossier(ctx: Ctx, dossier_id: int) -> tuple[Dossier, Patient]:
    found = ctx.session.execute(
        select(Dossier, Patient)
        .join(Patient, Patient.id == Dossier.patient_id)
        .where(Dossier.id == dossier_id)
    ).first()
    if found is None:
        raise NotFound("dossier_not_found", "Dossier introuvable.")
    row, patient = found
    return row, patient


def document(ctx: Ctx, dossier_row: Dossier, logical_id: str) -> Document:
    doc = ctx.session.scalars(
        select(Document).where(
            Document.logical_id == logical_id, Document.dossier_id == dossier_row.id
        )
    ).first()
    if doc is None:
        raise NotFound("document_not_found", "Document introuvable.")
    return doc


def professional(ctx: Ctx, national_id: object) -> Professional:
    if not isinstance(national_id, str):
        raise InvalidInput("national_id_invalid", "Identifiant national du professionnel attendu.")
    try:
        nid = parse_national_id(national_id)
    except IdentifierError as exc:
        raise InvalidInput("national_id_invalid", str(exc)) from None
    pro = ctx.session.scalars(select(Professional).where(Professional.national_id == nid)).first()
    if pro is None:
        raise NotFound("professional_not_found", "Professionnel inconnu.")
    return pro
