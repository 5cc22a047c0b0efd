"""The export's machine-readable part: a FHIR R4 Bundle of type `collection`.

The Patient, one DocumentReference per exported document (the API's mapping,
server/fhir/mapping.py, so the export and the FHIR API describe a document alike) and one
Binary per document holding its bytes, which the DocumentReference's attachment names.
The patient summary (an IPS `document` Bundle, server/fhir/summary.py) is one entry of
the collection, built at gathering from the rows the export's listing showed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from typing import Any

from server.export.gather import SUMMARY_BASE, Gathered, Opened
from server.fhir.mapping import document_reference
from server.policy import Matrix

# The bundle stands alone: this base only makes its fullUrls absolute, as R4 asks.
BASE = SUMMARY_BASE
GENDER = {"M": "male", "F": "female", "I": "unknown"}


def bundle(gathered: Gathered, opened: dict[str, Opened], matrix: Matrix, now: datetime) -> bytes:
    p = gathered.patient
    patient_id = str(p.dossier_id)  # the FHIR API names the dossier's patient so
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": f"{BASE}/Patient/{patient_id}",
            "resource": {
                "resourceType": "Patient",
                "id": patient_id,
                "identifier": [{"system": f"urn:oid:{p.ins_oid}", "value": p.ins}],
                "name": [
                    {"use": "official", "family": p.birth_name, "given": p.first_names.split()}
                ]
                + ([{"use": "usual", "family": p.used_name}] if p.used_name else []),
                "gender": GENDER.get(p.sex, "unknown"),
                "birthDate": p.birth_date.isoformat(),
            },
        }
    ]
    authors: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for row in gathered.rows:
        found = opened.get(row.logical_id)
        sha1 = None
        if found is not None:
            sha1 = base64.b64encode(hashlib.sha1(found.body, usedforsecurity=False).digest())
        resource = document_reference(
            row,
            base=BASE,
            dossier_id=p.dossier_id,
            patient_id=p.patient_id,
            sha1=sha1.decode() if sha1 is not None else None,
            matrix=matrix,
            authors=authors,
        )
        entries.append(
            {"fullUrl": f"{BASE}/DocumentReference/{row.logical_id}", "resource": resource}
        )
        if found is not None:
            entries.append(
                {
                    "fullUrl": f"{BASE}/Binary/{row.logical_id}",
                    "resource": {
                        "resourceType": "Binary",
                        "id": row.logical_id,
                        "contentType": row.mime_type,
                        "data": base64.b64encode(found.body).decode(),
                    },
                }
            )
    if gathered.summary is not None:
        summary_id = gathered.summary["identifier"]["value"].removeprefix("urn:uuid:")
        entries.append({"fullUrl": f"{BASE}/Bundle/{summary_id}", "resource": gathered.summary})
    out = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": now.isoformat(),
        "entry": entries,
    }
    return json.dumps(out, ensure_ascii=False).encode()
