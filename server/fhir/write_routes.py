"""FHIR R4 write routes (issue #12): ITI-65 Provide Document Bundle on the base URL,
PATCH and DELETE on a DocumentReference. Kept apart from the read routes (routes.py).

Each runs through the JSON API's runner (`runtime.run`, write=True): the same Bearer
session, kiosk signature when present, Idempotency-Key, one transaction; errors are
answered as OperationOutcome by routes.py's handlers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from flask import Response, request

from server.api.runtime import run
from server.errors import MalformedRequest
from server.fhir import bp, fhirpath_patch, patch, submit
from server.fhir.outcome import UnsupportedMediaType, operation_outcome, resource_response
from server.fhir.routes import _accept_fhir_json, _check_id, base_url
from server.services.context import Ctx, Principal

_FHIR_BODY = ("application/fhir+json", "application/json")
# FHIR's id type, which meta.versionId is: 1 to 64 ASCII letters, digits, "-" and ".".
_VERSION_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")


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
    return _patch(lambda ctx: resource_id)


@bp.patch("/DocumentReference")
def patch_document_by_identifier() -> Response:
    """PDSm's conditional PATCH: `PATCH [base]/DocumentReference?identifier=...`, the
    document named by its masterIdentifier, entryUUID or logical id."""
    names = set(request.args) - {"_format"}
    values = request.args.getlist("identifier")
    if names != {"identifier"} or len(values) != 1 or len(values[0]) > 256:
        raise MalformedRequest(
            "identifier_invalid", "PATCH conditionnel : un seul paramètre « identifier »."
        )
    return _patch(lambda ctx: patch.by_identifier(ctx, values[0]))


def _patch(target: Callable[[Ctx], str]) -> Response:
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
    version = _if_match()

    def work(ctx: Ctx, who: Principal) -> Response:
        logical_id = target(ctx)
        return resource_response(
            patch.apply(ctx, who, logical_id, ops, base, resolve, if_match=version)
        )

    return run(work, write=True)


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


def _if_match() -> str | None:
    """The version an If-Match header names (W/"<versionId>" or "<versionId>", the read's
    ETag), None without one or for `*` (any current version: the document exists, which
    the patch needs anyway). Anything else is a 400: a condition the server cannot read
    is not silently dropped."""
    raw = request.headers.get("If-Match")
    if raw is None or raw.strip() == "*":
        return None
    value = raw.strip()
    value = value[2:] if value.startswith("W/") else value
    inner = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else ""
    if _VERSION_ID.fullmatch(inner) is None:
        raise MalformedRequest(
            "if_match_invalid", 'If-Match : W/"<meta.versionId>", l\'ETag de la lecture.'
        )
    return inner


def _body() -> Any:
    raw = request.get_data()
    if not raw:
        raise MalformedRequest("body_required", "Un corps JSON est attendu.")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedRequest("json_malformed", "Le corps n'est pas du JSON valide.") from None
