"""JSON Schemas of the API's bodies and answers, used by the OpenAPI document."""

from __future__ import annotations

from typing import Any

from server.identifiers import INS_OIDS
from server.labels import CATEGORIES
from server.services.documents import MIME_TYPES
from server.validation import FORBIDDEN, ID_MAX, VISIBLE_PATTERN

STR = {"type": "string"}
BOOL = {"type": "boolean"}
DATETIME = {"type": ["string", "null"], "format": "date-time"}
CATEGORY = {"type": "string", "enum": sorted(CATEGORIES)}
ROW_ID = {"type": "integer", "minimum": 1, "maximum": ID_MAX}

# Identifiers are ASCII: `\d` would also match other scripts' digits (server/identifiers.py).
DEPARTMENT = "(?:[0-9]{2}|2A|2B)"
NATIONAL_ID = {
    "type": "string",
    "description": '"8" + RPPS (Luhn key), "0" + ADELI, or "3" + FINESS + "/" + staff id (CPE)',
    "pattern": f"^(?:8[0-9]{{11}}|0{DEPARTMENT}[0-9]{{7}}|3(?:[0-9]{{9}}|[0-9]{{2}}[AB][0-9]{{6}})"
    "/[A-Za-z0-9]{1,20})$",
    "maxLength": 31,
}
INS = {
    "type": "string",
    "description": "INS matricule: 15 characters, 2A/2B for Corsica, key checked (mod 97)",
    "pattern": f"^[12378][0-9]{{4}}{DEPARTMENT}[0-9]{{8}}$",
}
FINESS = {
    "type": "string",
    "description": "FINESS: 9 characters, Luhn key (numeric départements)",
    "pattern": "^(?:[0-9]{9}|2[AB][0-9]{7})$",
}
LOGICAL_ID = {
    "type": "string",
    "format": "uuid",
    "pattern": "^[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}$",
}
RECEIPT_ID = {
    "type": "string",
    "description": "A receipt's random id: 22 URL-safe base64 characters (128 bits)",
    "pattern": "^[A-Za-z0-9_-]{22}$",
}


def with_receipt(schema: dict[str, Any] | None = None) -> dict[str, Any]:
    """The answer of a consent-bearing change: its own fields and the id of the signed
    receipt it produced (docs/receipts.md), always present."""
    base = schema or {"type": "object"}
    return {
        **base,
        "properties": {**base.get("properties", {}), "receipt_id": RECEIPT_ID},
        "required": sorted({*base.get("required", []), "receipt_id"}),
    }


EXPORT_ID = {
    "type": "string",
    "description": "An export's random id: 22 URL-safe base64 characters (128 bits)",
    "pattern": "^[A-Za-z0-9_-]{22}$",
}


# Path parameters that are not row ids, by name.
PATH_PARAMS: dict[str, dict[str, Any]] = {
    "export_id": EXPORT_ID,
    "logical_id": LOGICAL_ID,
    "national_id": NATIONAL_ID,
    "receipt_id": RECEIPT_ID,
}


def visible(max_len: int) -> dict[str, Any]:
    """Free text that must show something: a title, a name."""
    return {"type": "string", "maxLength": max_len, "pattern": VISIBLE_PATTERN}


DATE = "[0-9]{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
HOUR, MINUTE = "(?:[01][0-9]|2[0-3])", "[0-5][0-9]"
INSTANT = {
    "type": "string",
    "description": "ISO 8601 date or date-time (UTC when no offset), years 1-9999 in UTC",
    "pattern": f"^{DATE}(?:T{HOUR}:{MINUTE}(?::{MINUTE}(?:[.][0-9]{{1,6}})?)?"
    f"(?:Z|[+-]{HOUR}:{MINUTE})?)?$",
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
        "structure_name": {"type": ["string", "null"]},  # the establishment, by name
    },
}

PATIENT_IDENTITY = obj(
    {
        "ins": INS,
        "ins_oid": {"type": "string", "enum": sorted(INS_OIDS.values())},
        "birth_name": visible(100),
        "first_names": visible(200),
        "birth_date": {"type": "string", "format": "date", "pattern": f"^{DATE}$"},
        "sex": {"type": "string", "enum": ["M", "F", "I"]},
        "birth_place": {
            "type": "string",
            "description": "INSEE code",
            "pattern": f"^{DEPARTMENT}[0-9]{{3}}$",
        },
        "used_name": visible(100),
        "email": {
            "type": "string",
            "maxLength": 254,
            "pattern": f"^[^@\\s{FORBIDDEN}]{{1,64}}@[^@\\s{FORBIDDEN}]{{1,189}}\\.[A-Za-z]{{2,}}$",
        },
        "phone": {"type": "string", "pattern": r"^\+?[0-9]{6,15}$"},
        "notify_channel": {"type": "string", "enum": ["email", "sms", "none"]},
    },
    ["ins", "birth_name", "first_names", "birth_date", "sex", "birth_place"],
)

CREATE_DOSSIER = obj(
    {
        "patient": PATIENT_IDENTITY,
        "consent": obj(
            {
                "given": {
                    "type": ["boolean", "integer", "string", "null"],
                    "maxLength": 10,
                    "description": "Consent is an explicit act: anything but the literal true "
                    "is refused by the access policy (403 consent_missing, traced).",
                },
                "terminal": visible(100),
            },
            ["terminal"],
        ),
        "emergency": obj({"bris_de_glace": BOOL, "centre_15": BOOL}),
        "medecin_traitant": NATIONAL_ID,
        "representatives": {"type": "array", "items": INS, "maxItems": 4},
    },
    ["patient", "consent"],
)

SUMMARY = obj(
    {
        "dossier_id": ROW_ID,
        "status": {"type": "string", "enum": ["active", "closed", "purged"]},
        "patient": {"type": "object"},
        "medecin_traitant": PRO_REF,
        "readable_categories": {"type": "array", "items": CATEGORY},
        # For a professional: this session is in secret connection with the minor.
        "secret_connection": BOOL,
        "minor": BOOL,
        "emergency_access": {"type": "object"},
        # For the patient (and representatives): what the policy allows them now
        # (server/services/capabilities.py), so the kiosk never offers a refused act.
        "actions": {"type": "array", "items": STR},
        # Closing and reopening: the signed receipt of the change (docs/receipts.md).
        "receipt_id": RECEIPT_ID,
        # For the holder only: others' accesses since their previous visit, or null on
        # a first visit (server/services/history.py).
        "since_last_visit": {
            "type": ["object", "null"],
            "properties": {
                "since": STR,
                "accesses": {"type": "integer", "minimum": 0},
                "emergency": {"type": "integer", "minimum": 0},
                "refused": {"type": "integer", "minimum": 0},
            },
        },
        # For the holder only: accesses flagged for review she was not told of yet
        # (since her previous visit; all on a first visit), with the officer's outcome.
        "flagged_since_last_visit": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "at": STR,
                    "action": STR,
                    "mode": STR,
                    "actor": {"type": "object"},
                    "status": {
                        "type": "string",
                        "enum": ["a_traiter", "en_cours", "justifiee", "non_justifiee"],
                    },
                    "rules": {"type": "array", "items": STR},
                    "decided_since": BOOL,
                },
            },
        },
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
        "status": {"type": "string", "enum": ["current", "superseded", "archived", "deleted"]},
        "flags": obj({"masked_ps": BOOL, "invisible_patient": BOOL, "invisible_rep": BOOL}),
        "labels": {"type": "array", "items": STR},
        "replaces": {"type": ["string", "null"]},
        "replaced_by": {"type": ["string", "null"]},
        "may_replace": BOOL,  # metadata only: whether the caller may replace this version
        "emergency_access": {"type": "object"},
    },
    ["logical_id", "unique_id", "entry_uuid", "category", "status", "flags", "labels"],
)

# A search hit: a listed document and the passage that matched (docs/documents.md).
SEARCH_HIT = {
    **DOCUMENT,
    "properties": {**DOCUMENT["properties"], "snippet": STR},
    "required": [*DOCUMENT["required"], "snippet"],
}
SEARCH_RESULT = obj(
    {
        "dossier_id": ROW_ID,
        "count": {"type": "integer", "minimum": 0},
        "documents": {"type": "array", "items": SEARCH_HIT},
        "emergency_access": {"type": "object"},
    },
    ["dossier_id", "count", "documents"],
)
DATE_PARAM = {"type": "string", "format": "date", "pattern": f"^{DATE}$"}

DEPOSIT = obj(
    {
        "unique_id": {"type": "string", "pattern": "^[!-~]{1,128}$"},
        "category": CATEGORY,
        "type_code": {"type": "string", "pattern": "^[0-9]{1,7}-[0-9]$"},
        "title": visible(300),
        "mime_type": {"type": "string", "enum": sorted(MIME_TYPES)},
        "content_base64": {
            "type": "string",
            "contentEncoding": "base64",
            "pattern": "^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$",
            "minLength": 4,
        },
        "created_at": INSTANT,
        "service_start": INSTANT,
        "service_end": INSTANT,
        "masked_ps": BOOL,
        "invisible_patient": BOOL,
        "invisible_rep": BOOL,
    },
    ["category", "type_code", "title", "mime_type", "content_base64"],
)

NULLABLE_STR = {"type": ["string", "null"]}
# docs/documents.md: sections with sanitised HTML, entries of five kinds (their fields
# depend on the kind: the object stays open).
STRUCTURE = obj(
    {
        "text_status": {"type": "string", "enum": ["ready", "pending", "failed", "none"]},
        "sections": {
            "type": "array",
            "items": obj({"title": NULLABLE_STR, "code": NULLABLE_STR, "html": STR}),
        },
        "entries": {
            "type": "array",
            "items": obj(
                {
                    "kind": {
                        "type": "string",
                        "enum": ["medication", "allergy", "problem", "vaccination", "lab_result"],
                    },
                    "section": {"type": ["integer", "null"]},
                    "code": {"type": ["object", "null"]},
                    "name": NULLABLE_STR,
                },
                ["kind"],
                closed=False,
            ),
        },
        "emergency_access": {"type": "object"},
    },
    ["text_status", "sections", "entries"],
)

# A professional in secret connection with a minor (issue 13) says so on the deposit; a
# replacement cannot (it names an existing document, whose visibility is its own).
DEPOSIT_NEW = obj(
    {**DEPOSIT["properties"], "secret_connection": BOOL},
    DEPOSIT["required"],
)

# A replacement is a deposit that may say why the old version is replaced.
REPLACE = obj(
    {**DEPOSIT["properties"], "replace_reason": visible(500)},
    DEPOSIT["required"],
)

_AUTHOR = {"type": ["object", "null"]}
VERSIONS = obj(
    {
        "logical_id": STR,
        "versions": {
            "type": "array",
            "items": obj(
                {
                    "logical_id": STR,
                    "version": {"type": "integer"},
                    "title": STR,
                    "category": CATEGORY,
                    "mime_type": STR,
                    "created_at": DATETIME,
                    "submitted_at": DATETIME,
                    "author": _AUTHOR,
                    "author_institution": {"type": ["string", "null"]},
                    "status": {
                        "type": "string",
                        "enum": ["current", "superseded", "archived", "deleted"],
                    },
                    "labels": {"type": "array", "items": STR},
                    "replace_reason": {"type": ["string", "null"]},
                    "text_status": {
                        "type": "string",
                        "enum": ["ready", "pending", "failed", "none"],
                    },
                },
                ["logical_id", "version", "status", "replace_reason", "text_status"],
            ),
        },
        "emergency_access": {"type": "object"},
    },
    ["logical_id", "versions"],
)

_VERSION_REF = obj({"logical_id": STR, "version": {"type": "integer"}}, ["logical_id", "version"])
DIFF = obj(
    {
        "from": _VERSION_REF,
        "to": _VERSION_REF,
        "lines": {
            "type": "array",
            "items": obj(
                {"op": {"type": "string", "enum": ["same", "added", "removed"]}, "text": STR},
                ["op", "text"],
            ),
        },
        "truncated": BOOL,
        "emergency_access": {"type": "object"},
    },
    ["from", "to", "lines", "truncated"],
)

DOCUMENT_LIST = obj(
    {
        "dossier_id": ROW_ID,
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
                    "own": BOOL,
                    "params": {"type": "object"},
                    # The entry's leaf in the verifiable log, once sequenced (about a
                    # second after the action): docs/transparency.md.
                    "log_index": {"type": ["integer", "null"]},
                    # The signed receipt this action produced, if any (docs/receipts.md).
                    "receipt_id": {**RECEIPT_ID, "type": ["string", "null"]},
                    # A flagged access under review: the privacy officer's outcome
                    # (a_traiter, en_cours, justifiee, non_justifiee) and the rules that
                    # flagged it (docs/alerts.md); null for any other line.
                    "review": {"type": ["object", "null"]},
                    # Every field the line's hash covers, as hashed, and the previous
                    # line's hash: the patient's side recomputes `hash` from them
                    # (server/tlog/links.py, docs/transparency.md).
                    "hashed": {"type": "object"},
                    "prev_hash": STR,
                }
            ),
        },
        "next_before": {"type": ["integer", "null"]},
        # What a patient's software needs to check the page against the log: the chain
        # named in each leaf, and the latest signed checkpoint (C2SP note), or null.
        "chain": STR,
        "checkpoint": {"type": ["string", "null"]},
    },
    ["entries"],
)
