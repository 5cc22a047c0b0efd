"""The IHE MHD Document Responder on FHIR R4 (issue #12), read side: metadata, ITI-67
Find Document References, DocumentReference read and ITI-68 Retrieve Document.

A door onto the same services as the JSON API (server/services/): every decision and
trace is theirs, nothing here decides access. docs/fhir.md describes the mapping.
"""

from __future__ import annotations

from flask import Blueprint

PREFIX = "/fhir/R4"
bp = Blueprint("fhir", __name__, url_prefix=PREFIX)

# Registers the views on `bp`: the MHD routes, then the IPS $summary operation.
from server.fhir import routes, summary_routes  # noqa: E402, F401
