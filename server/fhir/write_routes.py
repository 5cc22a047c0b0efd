"""FHIR R4 write routes (issue #12): ITI-65 Provide Document Bundle on the base URL,
PATCH and DELETE on a DocumentReference. Kept apart from the read routes (routes.py).

Each runs through the JSON API's runner (`runtime.run`, write=True): the same Bearer
session, kiosk signature when present, Idempotency-Key, one transaction; errors are
answered as OperationOutcome by routes.py's handlers.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Response, request

from server.api.runtime import run
from server.errors import MalformedRequest
from server.fhir import bp, fhirpath_patch, patch, submit
from server.fhir.outcome import UnsupportedMediaType, operation_outcome, resource_response
from server.fhir.routes import _accept_fhir_json, _check_id, base_url
from server.services.context import Ctx, Principal

_FHIR_BODY = ("application/fhir+json", "application/json")


@bp.post("")
@bp.post("/")
def transaction() -> Response:
    """ITI-65: a transaction Bundle, answered by a transaction-response Bundle."""
    _accept_fhir_json()
    if request.mimetype not in _FHIR_BODY:
        raise UnsupportedMediaType("content_type_unsupported", "Corps attendu : FHIR JSON.")
    base = base_url()
    body = _body()

    def work(ctx: Ctx, who: Principal) -> Response:
        # Checked once the caller is known: validating a large Bundle is work the server
        # does for signed-in callers only. Nothing is read before the Bundle is checked.
        planned = submit.plan(body, base)
        return resource_response(submit.execute(ctx, who, planned))

    return run(work, write=True)


@bp.patch("/DocumentReference/<string:resource_id>")
def patch_document(resource_id: str) -> Response:
    _check_id(resource_id)
    _accept_fhir_json()
    resolve: fhirpath_patch.Resolve | None = None
    if request.mimetype == patch.JSON_PATCH:
        ops = patch.check(_body())
    elif request.mimetype == fhirpath_patch.MEDIA:  # FHIRPath Patch, PDSm's format
        ops, resolve = fhirpath_patch.translate(_body())
    else:
        raise UnsupportedMediaType(
            "content_type_unsupported",
            f"Corps attendu : {patch.JSON_PATCH} ou {fhirpath_patch.MEDIA} (FHIRPath Patch).",
        )
    base = base_url()
    return run(
        lambda ctx, who: resource_response(patch.apply(ctx, who, resource_id, ops, base, resolve)),
        write=True,
    )


@bp.delete("/DocumentReference/<string:resource_id>")
def delete_document(resource_id: str) -> Response:
    _check_id(resource_id)
    _accept_fhir_json()

    def work(ctx: Ctx, who: Principal) -> Response:
        patch.delete(ctx, who, resource_id)
        done = operation_outcome(200, "deleted", "Document supprimé (suppression logique).")
        done["issue"][0] |= {"severity": "information", "code": "informational"}
        return resource_response(done)

    return run(work, write=True)


def _body() -> Any:
    raw = request.get_data()
    if not raw:
        raise MalformedRequest("body_required", "Un corps JSON est attendu.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedRequest("json_malformed", "Le corps n'est pas du JSON valide.") from None
