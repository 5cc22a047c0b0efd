"""FHIR answers: resources as application/fhir+json, every error an OperationOutcome."""

from __future__ import annotations

import json
from typing import Any

from flask import Response

from server.errors import DmpError
from server.fhir.codes import OWN_REASON

FHIR_JSON = "application/fhir+json"

# The OperationOutcome issue type (R4 value set issue-type) of each HTTP status we send.
ISSUE_TYPES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    406: "not-supported",
    409: "conflict",
    412: "conflict",
    413: "too-costly",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    503: "transient",
}


class NotAcceptable(DmpError):
    status = 406
    error = "not_acceptable"


class UnsupportedMediaType(DmpError):
    status = 415
    error = "unsupported_media_type"


def resource_response(resource: dict[str, Any], status: int = 200) -> Response:
    body = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    response = Response(body, status, mimetype=FHIR_JSON)
    version = resource.get("meta", {}).get("versionId")
    if version:
        # FHIR's version-aware updates: the ETag is W/"<meta.versionId>", what If-Match names.
        response.headers["ETag"] = f'W/"{version}"'
    return response


def operation_outcome(status: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": ISSUE_TYPES.get(status, "exception"),
                "details": {
                    "coding": [{"system": OWN_REASON, "code": reason}],
                    "text": message,
                },
            }
        ],
    }


def error_response(status: int, reason: str, message: str) -> Response:
    response = resource_response(operation_outcome(status, reason, message), status)
    if status == 401:
        # RFC 6750 3: a bearer-token resource answers its challenge.
        response.headers["WWW-Authenticate"] = 'Bearer realm="dmp"'
    return response
