"""A listed document row as a DocumentReference, after IHE MHD and the French PDSm profile.

The row is the listing's (server/services/listing.py): what the JSON API shows of the
document, plus its author's national id. docs/fhir.md has the element-by-element table.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from server.fhir import codes
from server.fhir.codes import coding
from server.labels import CATEGORIES
from server.policy import Matrix
from server.services.facts import DocumentRow

# PDSm makes the custodian mandatory: the organisation keeping the document, here the
# records server itself (the real DMP names its host; no national id is invented here).
CUSTODIAN = {"display": "Dossier médical partagé (dmp-kiosk)"}
AUTHOR = "author"  # id of the contained author resource, referenced as "#author"
INSURER_NAME = "Assurance Maladie"


def instant(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def author_of(
    row: DocumentRow, dossier_id: int, patient_id: int, matrix: Matrix
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The contained author resources of a listed row and the reference to them, as a
    DocumentReference embeds them (a SubmissionSet List names its source so)."""
    return _author(row, dossier_id, patient_id, matrix, None)


def document_reference(
    row: DocumentRow,
    *,
    base: str,
    dossier_id: int,
    patient_id: int,
    sha1: str | None,
    matrix: Matrix,
    authors: dict[tuple[Any, ...], list[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """`sha1`: base64 SHA-1 of the stored bytes (PDSm's hash); `patient_id`: the dossier's
    patient, to tell the patient's own deposits from a representative's; `authors`: the
    contained author resources already built for this answer (a page repeats a few
    authors many times), shared between its resources, which are not changed after."""
    contained, author = _author(row, dossier_id, patient_id, matrix, authors)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": row.logical_id,
        # The metadata version (XDS entryUUID: masking, archiving... make a new one); the
        # read's ETag, and what a PATCH's If-Match names (server/fhir/patch.py).
        "meta": {"versionId": row.entry_uuid},
    }
    if contained:
        resource["contained"] = contained
    resource |= {
        "extension": [{"url": codes.IS_ARCHIVED, "valueBoolean": row.status == "archived"}],
        "masterIdentifier": _master_identifier(row.unique_id),
        "identifier": [
            {
                "use": "official",
                "type": {"text": "entryUUID"},
                "system": codes.URI,
                "value": f"urn:uuid:{row.entry_uuid}",
            },
            {
                "use": "usual",
                "type": {"text": "logicalID"},
                "system": codes.URI,
                "value": f"urn:uuid:{row.logical_id}",
            },
        ],
        # Archived is still current (PDSm's isArchived says the rest); deleted documents
        # are never listed nor readable, so entered-in-error never leaves the server.
        "status": "superseded" if row.status == "superseded" else "current",
        "docStatus": "final",
        "type": {"coding": [coding(codes.LOINC, row.type_code)]},
        "category": _CATEGORIES[row.category],
        "subject": {"reference": f"Patient/{dossier_id}"},
        "date": instant(row.submitted_at),
    }
    if author is not None:
        resource["author"] = [author]
    resource["custodian"] = CUSTODIAN
    if row.replaces_logical_id is not None:
        resource["relatesTo"] = [
            {
                "code": "replaces",
                "target": {"reference": f"DocumentReference/{row.replaces_logical_id}"},
            }
        ]
    resource["securityLabel"] = [_NORMAL] + [
        label for name, label in _VISIBILITY.items() if getattr(row, name)
    ]
    attachment: dict[str, Any] = {
        "contentType": row.mime_type,
        "url": f"{base}/Binary/{row.logical_id}",
        "size": row.size,
    }
    if sha1 is not None:
        attachment["hash"] = sha1
    attachment |= {"title": row.title, "creation": instant(row.created_at)}
    content: dict[str, Any] = {"attachment": attachment}
    formats = codes.format_codings(row.mime_type)
    if formats:
        content["format"] = coding(*formats[0])
    resource["content"] = [content]
    context: dict[str, Any] = {}
    period = {
        name: instant(value)
        for name, value in (("start", row.service_start), ("end", row.service_end))
        if value is not None
    }
    if period:
        context["period"] = period
    context["sourcePatientInfo"] = {"reference": f"Patient/{dossier_id}"}
    resource["context"] = context
    return resource


def _master_identifier(unique_id: str) -> dict[str, Any]:
    # MHD: a URN (urn:oid:, urn:uuid:) is written with the URI system; an XDS
    # "OID^extension" or another producer's form is kept as it came, without a system.
    if unique_id.startswith("urn:"):
        return {"system": codes.URI, "value": unique_id}
    return {"value": unique_id}


def _category(category: str) -> list[dict[str, Any]]:
    out = [coding(codes.OWN_CATEGORY, category, CATEGORIES[category][0])]
    if category in codes.CLASS_CODES:
        code, display = codes.CLASS_CODES[category]
        out.append(coding(codes.CLASS_TRE_A03, code, display))
    return [{"coding": out}]


# Built once: the same few values in every resource (never changed once built).
_CATEGORIES = {category: _category(category) for category in CATEGORIES}
_NORMAL = {"coding": [coding(codes.CONFIDENTIALITY, codes.NORMAL)]}
_VISIBILITY = {
    name: {"coding": [coding(codes.VISIBILITY_TRE_A07, code)]}
    for name, code in codes.VISIBILITY.items()
}
_AUTHOR_REFERENCE = {"reference": f"#{AUTHOR}"}


def _author(
    row: DocumentRow,
    dossier_id: int,
    patient_id: int,
    matrix: Matrix,
    authors: dict[tuple[Any, ...], list[dict[str, Any]]] | None,
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """The contained author resources (PDSm: author embedded) and the author reference.
    Nothing is said of an author that the JSON listing does not show, but the
    professional's national id (public, from the national directory)."""
    if row.author_professional_id is not None:
        if row.author_national_id is None:  # the professional's row is gone
            return [], None
        key = (
            row.author_national_id,
            row.author_first_name,
            row.author_last_name,
            row.author_profession,
            row.author_institution,
        )
        built = authors.get(key) if authors is not None else None
        if built is None:
            built = _professional(row, matrix)
            if authors is not None:
                authors[key] = built
        return built, _AUTHOR_REFERENCE
    if row.author_patient_id is not None:
        patient: dict[str, Any] = {"resourceType": "Patient", "id": AUTHOR}
        if row.author_patient_id == patient_id:
            # The patient's own deposit; a representative's stays anonymous, as in the
            # JSON listing ({"kind": "patient"}).
            patient["link"] = [{"other": {"reference": f"Patient/{dossier_id}"}, "type": "seealso"}]
        return [patient], _AUTHOR_REFERENCE
    if row.author_service_id is not None:
        insurer = {"resourceType": "Organization", "id": AUTHOR, "name": INSURER_NAME}
        return [insurer], _AUTHOR_REFERENCE
    return [], None


def _professional(row: DocumentRow, matrix: Matrix) -> list[dict[str, Any]]:
    practitioner = {
        "resourceType": "Practitioner",
        "id": "author-practitioner",
        "identifier": [
            {
                "use": "official",
                "type": {"coding": [coding(codes.FR_CORE_V2_0203, "IDNPS")]},
                "system": codes.IDNPS,
                "value": row.author_national_id,
            }
        ],
        "name": [{"family": row.author_last_name, "given": [row.author_first_name]}],
    }
    rules = matrix.rules_for(row.author_profession)
    profession = []
    if row.author_profession in codes.PROFESSION_CODES:
        profession.append(
            coding(codes.PROFESSION_TRE_G15, codes.PROFESSION_CODES[row.author_profession])
        )
    profession.append(
        coding(codes.OWN_PROFESSION, row.author_profession, rules.label_fr if rules else None)
    )
    role: dict[str, Any] = {
        "resourceType": "PractitionerRole",
        "id": AUTHOR,
        "practitioner": {"reference": "#author-practitioner"},
        "code": [{"coding": profession}],
    }
    out = [role, practitioner]
    if row.author_institution is not None:
        role["organization"] = {"reference": "#author-organization"}
        out.append(
            {
                "resourceType": "Organization",
                "id": "author-organization",
                "identifier": [
                    {
                        "use": "official",
                        "type": {"coding": [coding(codes.FR_CORE_V2_0203, "IDNST")]},
                        "system": codes.IDNST,
                        # IDNST: "1" + FINESS (FR Core), the authoring institution.
                        "value": f"1{row.author_institution}",
                    }
                ],
            }
        )
    return out
