"""Building ITI-65 Bundles as professional software would, and counting what is stored."""

from __future__ import annotations

import base64
import copy
import hashlib
import uuid
from typing import Any

from sqlalchemy import func, select

from server.fhir import codes, submit
from server.models import Document
from tests.server.conftest import PATIENTS, PROS, World

NIR_TEST = "urn:oid:1.2.250.1.213.1.4.10"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def sha1(data: bytes) -> str:
    return b64(hashlib.sha1(data, usedforsecurity=False).digest())


def author(who: str) -> list[dict[str, Any]]:
    """The embedded author PDSm asks for, as the caller's software would describe them."""
    if who in PROS:
        return [
            {
                "resourceType": "PractitionerRole",
                "id": "auteur",
                "practitioner": {"reference": "#ps"},
            },
            {
                "resourceType": "Practitioner",
                "id": "ps",
                "identifier": [{"system": codes.IDNPS, "value": PROS[who][0]}],
            },
        ]
    if who in PATIENTS:
        return [{"resourceType": "Patient", "id": "auteur"}]
    return [{"resourceType": "Organization", "id": "auteur", "name": who}]


def document(
    subject: dict[str, Any],
    binary_url: str,
    content: bytes,
    *,
    who: str = "gp",
    title: str = "Compte rendu de consultation",
    category: str = "compte_rendu",
    mime: str = "text/plain",
    labels: tuple[str, ...] = (),
    replaces: str | None = None,
    unique_id: str | None = None,
) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "contained": author(who),
        "masterIdentifier": {
            "system": codes.URI,
            "value": unique_id or f"urn:uuid:{uuid.uuid4()}",
        },
        "status": "current",
        "type": {"coding": [{"system": codes.LOINC, "code": "11488-4"}]},
        "category": [{"coding": [{"system": codes.OWN_CATEGORY, "code": category}]}],
        "subject": subject,
        "date": "2026-06-15T10:00:00+02:00",
        "author": [{"reference": "#auteur"}],
        "custodian": {"display": "DMP"},
        "securityLabel": [
            {"coding": [{"system": codes.CONFIDENTIALITY, "code": "N"}]},
            *({"coding": [{"system": codes.VISIBILITY_TRE_A07, "code": c}]} for c in labels),
        ],
        "content": [
            {
                "attachment": {
                    "contentType": mime,
                    "url": binary_url,
                    "size": len(content),
                    "hash": sha1(content),
                    "title": title,
                    "creation": "2026-06-15T09:30:00+02:00",
                }
            }
        ],
        "context": {"period": {"start": "2026-06-15T09:00:00+02:00"}},
    }
    if replaces is not None:
        resource["relatesTo"] = [
            {"code": "replaces", "target": {"reference": f"DocumentReference/{replaces}"}}
        ]
    return resource


def bundle(dossier_id: int, *docs: dict[str, Any], subject: Any = None) -> dict[str, Any]:
    """A transaction of one submission set and each document with its Binary. `docs`:
    keyword arguments of `document`, with `content` (bytes)."""
    subject = subject or {"reference": f"Patient/{dossier_id}"}
    entries: list[dict[str, Any]] = []
    items = []
    for options in docs or ({},):
        options = dict(options)
        content = options.pop("content", b"Compte rendu : examen normal.")
        doc_url, bin_url = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        items.append({"item": {"reference": doc_url}})
        entries.append(
            {
                "fullUrl": doc_url,
                "resource": document(copy.deepcopy(subject), bin_url, content, **options),
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
        entries.append(
            {
                "fullUrl": bin_url,
                "resource": {
                    "resourceType": "Binary",
                    "contentType": options.get("mime", "text/plain"),
                    "data": b64(content),
                },
                "request": {"method": "POST", "url": "Binary"},
            }
        )
    submission_set = {
        "fullUrl": f"urn:uuid:{uuid.uuid4()}",
        "resource": {
            "resourceType": "List",
            "status": "current",
            "mode": "working",
            "code": {"coding": [{"system": submit.MHD_LIST_TYPES, "code": submit.SUBMISSION_SET}]},
            "subject": copy.deepcopy(subject),
            "date": "2026-06-15T10:00:00+02:00",
            "entry": items,
        },
        "request": {"method": "POST", "url": "List"},
    }
    return {"resourceType": "Bundle", "type": "transaction", "entry": [submission_set, *entries]}


def resources(b: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in b["entry"] if e["resource"]["resourceType"] == kind]


def post(world: World, who: str | None, body: Any, **headers: str) -> Any:
    if who is not None:
        headers = world.h(who, **headers)
    return world.client.post("/fhir/R4", json=body, headers=headers)


def count(world: World) -> int:
    with world.rt.sessions() as s:
        return int(s.scalar(select(func.count()).select_from(Document)) or 0)
