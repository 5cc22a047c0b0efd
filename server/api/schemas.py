"""JSON Schemas of the API's bodies and answers, used by the OpenAPI document."""

from __future__ import annotations

from typing import Any

from server.labels import CATEGORIES

STR = {"type": "string"}
BOOL = {"type": "boolean"}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
CATEGORY = {"type": "string", "enum": sorted(CATEGORIES)}
NATIONAL_ID = {
    "type": "string",
    "description": '"8" + RPPS, "0" + ADELI, or "3" + FINESS + "/" + staff id (CPE)',
    "maxLength": 40,
}


def obj(
    props: dict[str, Any], required: list[str] | None = None, *, closed: bool = True
) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": props}
    if required:
        schema["required"] = required
    if closed:
        schema["additionalProperties"] = False
    return schema


PRO_REF = {
    "type": ["object", "null"],
    "properties": {
        "national_id": STR,
        "name": STR,
        "profession": STR,
        "structure": {"type": ["string", "null"]},
    },
}

PATIENT_IDENTITY = obj(
    {
        "ins": {"type": "string", "description": "INS matricule (15 characters, key checked)"},
        "ins_oid": STR,
        "birth_name": STR,
        "first_names": STR,
        "birth_date": {"type": "string", "format": "date"},
        "sex": {"type": "string", "enum": ["M", "F", "I"]},
        "birth_place": {"type": "string", "description": "INSEE code"},
        "used_name": STR,
        "email": STR,
        "phone": STR,
        "notify_channel": {"type": "string", "enum": ["email", "sms", "none"]},
    },
    ["ins", "birth_name", "first_names", "birth_date", "sex", "birth_place"],
)

CREATE_DOSSIER = obj(
    {
        "patient": PATIENT_IDENTITY,
        "consent": obj({"given": {"const": True}, "terminal": STR}, ["given", "terminal"]),
        "emergency": obj({"bris_de_glace": BOOL, "centre_15": BOOL}),
        "medecin_traitant": NATIONAL_ID,
        "representatives": {"type": "array", "items": STR, "maxItems": 4},
    },
    ["patient", "consent"],
)

SUMMARY = obj(
    {
        "dossier_id": {"type": "integer"},
        "status": {"type": "string", "enum": ["active", "closed", "purged"]},
        "patient": {"type": "object"},
        "medecin_traitant": PRO_REF,
        "readable_categories": {"type": "array", "items": CATEGORY},
        "emergency_access": {"type": "object"},
    },
    ["dossier_id", "status", "patient"],
    closed=False,
)

DOCUMENT = obj(
    {
        "logical_id": STR,
        "unique_id": STR,
        "entry_uuid": STR,
        "version": {"type": "integer"},
        "title": STR,
        "category": CATEGORY,
        "category_label": STR,
        "type_code": STR,
        "author": {"type": ["object", "null"]},
        "author_institution": {"type": ["string", "null"]},
        "created_at": DATETIME,
        "service_start": DATETIME,
        "service_end": DATETIME,
        "submitted_at": DATETIME,
        "mime_type": STR,
        "size": {"type": "integer"},
        "sha256": STR,
        "status": {"type": "string", "enum": ["current", "superseded", "archived", "deleted"]},
        "flags": obj({"masked_ps": BOOL, "invisible_patient": BOOL, "invisible_rep": BOOL}),
        "labels": {"type": "array", "items": STR},
        "replaces": {"type": ["string", "null"]},
        "replaced_by": {"type": ["string", "null"]},
        "emergency_access": {"type": "object"},
    },
    ["logical_id", "unique_id", "entry_uuid", "category", "status", "flags", "labels"],
)

DEPOSIT = obj(
    {
        "unique_id": STR,
        "category": CATEGORY,
        "type_code": {"type": "string", "pattern": r"^\d{1,7}-\d$"},
        "title": STR,
        "mime_type": STR,
        "content_base64": {"type": "string", "contentEncoding": "base64"},
        "created_at": STR,
        "service_start": STR,
        "service_end": STR,
        "masked_ps": BOOL,
        "invisible_patient": BOOL,
        "invisible_rep": BOOL,
    },
    ["category", "type_code", "title", "mime_type", "content_base64"],
)

DOCUMENT_LIST = obj(
    {
        "dossier_id": {"type": "integer"},
        "all": BOOL,
        "documents": {"type": "array", "items": DOCUMENT},
        "emergency_access": {"type": "object"},
    },
    ["dossier_id", "documents"],
)

VISIBILITY = obj(
    {
        "masked_ps": BOOL,
        "invisible_patient": BOOL,
        "invisible_rep": BOOL,
        "confirm": {"const": True},
    },
    ["confirm"],
)

HISTORY = obj(
    {
        "entries": {
            "type": "array",
            "items": obj(
                {
                    "seq": {"type": "integer"},
                    "at": STR,
                    "actor": {"type": "object"},
                    "action": STR,
                    "mode": STR,
                    "outcome": {"type": "string", "enum": ["allowed", "denied"]},
                    "reason": STR,
                    "category": {"type": ["string", "null"]},
                    "text": STR,
                    "repeated": {"type": "integer", "minimum": 0},
                    "hash": STR,
                }
            ),
        },
        "next_before": {"type": ["integer", "null"]},
    },
    ["entries"],
)
