"""The IHE MHD Document Responder on FHIR R4 (issue #12): metadata, ITI-67 Find Document
References, DocumentReference read, ITI-68 Retrieve Document, ITI-65 Provide Document
Bundle and the PDSm metadata updates (PATCH, DELETE).

A door onto the same services as the JSON API (server/services/): every decision and
trace is theirs, nothing here decides access. docs/fhir.md describes the mapping.
"""

from __future__ import annotations

from flask import Blueprint

PREFIX = "/fhir/R4"
bp = Blueprint("fhir", __name__, url_prefix=PREFIX)

# Registers the views on `bp`: the read side; ITI-65, PATCH and DELETE; the IPS $summary.
from server.fhir import list_routes, routes, summary_routes, write_routes  # noqa: E402, F401
