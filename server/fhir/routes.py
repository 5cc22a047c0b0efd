"""FHIR R4 routes: CapabilityStatement, DocumentReference search and read, Binary read.

Every route but `metadata` runs through the JSON API's runner (`runtime.run`): the same
Bearer session, kiosk signature when present, one transaction, the same errors, which
the handlers below answer as OperationOutcome.
"""

from __future__ import annotations

import base64
import logging
import re
from importlib.metadata import version

from flask import Response, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from server.api.runtime import run
from server.errors import DmpError, TooManyRequests, http_message
from server.fhir import PREFIX, audit, bp, capability, params, service
from server.fhir.outcome import (
    NotAcceptable,
    UnsupportedMediaType,
    error_response,
    resource_response,
)
from server.services.context import Ctx, Principal

log = logging.getLogger("dmp.fhir")

FORM = "application/x-www-form-urlencoded"
_FHIR_ID = re.compile(r"[A-Za-z0-9.\-]{1,64}")
_JSON_TYPES = ("application/fhir+json", "application/json")


def base_url() -> str:
    return request.url_root.rstrip("/") + PREFIX


@bp.after_request
def no_store(response: Response) -> Response:
    # FHIR answers carry health data: no browser, proxy or software cache keeps them.
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metadata")
def metadata() -> Response:
    # Public, as FHIR clients read it before signing in; it says nothing of any patient.
    _accept_fhir_json()
    return resource_response(capability.statement(base_url(), version("dmp-kiosk")))


@bp.get("/DocumentReference")
def search_get() -> Response:
    return _search(list(request.args.items(multi=True)))


@bp.post("/DocumentReference/_search")
def search_post() -> Response:
    if request.get_data() and request.mimetype != FORM:
        raise UnsupportedMediaType("content_type_unsupported", f"Corps attendu : {FORM}.")
    # FHIR lets a _search carry parameters in the URL and the body alike.
    pairs = list(request.args.items(multi=True)) + list(request.form.items(multi=True))
    return _search(pairs)


def _search(pairs: list[tuple[str, str]]) -> Response:
    _accept_fhir_json()
    strict = "handling=strict" in request.headers.get("Prefer", "").replace(" ", "")
    base = base_url()
    query = params.parse(pairs, strict=strict, base=base)
    return run(lambda ctx, who: resource_response(service.search(ctx, who, query, base)))


@bp.get("/AuditEvent")
def audit_events() -> Response:
    """The patient's access history as AuditEvents, newest first (server/fhir/audit.py):
    decided and traced as reading the history."""
    _accept_fhir_json()
    args = dict(request.args.items())
    base = base_url()
    return run(lambda ctx, who: resource_response(audit.search(ctx, who, args, base)))


@bp.get("/DocumentReference/<string:resource_id>")
def read(resource_id: str) -> Response:
    _check_id(resource_id)
    _accept_fhir_json()
    _format_param()
    base = base_url()
    return run(lambda ctx, who: resource_response(service.read(ctx, who, resource_id, base)))


@bp.get("/Binary/<string:resource_id>")
def binary(resource_id: str) -> Response:
    """ITI-68: the bytes with their media type; a Binary resource to a client that asks
    for FHIR JSON by name (Accept or _format), as FHIR's Binary read does."""
    _check_id(resource_id)
    as_resource = _format_param() or _names_fhir_json()

    def work(ctx: Ctx, who: Principal) -> Response:
        found = service.retrieve(ctx, who, resource_id)
        if as_resource:
            return resource_response(
                {
                    "resourceType": "Binary",
                    "id": resource_id,
                    "contentType": found.mime_type,
                    "data": base64.b64encode(found.body).decode(),
                }
            )
        response = Response(found.body, 200, mimetype=found.mime_type)
        response.headers["Digest"] = found.digest
        return response

    return run(work)


def _check_id(resource_id: str) -> None:
    if not _FHIR_ID.fullmatch(resource_id):
        raise params.bad("id", "Identifiant FHIR invalide (1 à 64 caractères A-Z a-z 0-9 - .).")


def _names_fhir_json() -> bool:
    return any(kind in _JSON_TYPES and q > 0 for kind, q in request.accept_mimetypes)


def _accept_fhir_json() -> None:
    """406 to a client that accepts neither FHIR JSON nor JSON (XML is not served)."""
    accepted = request.accept_mimetypes
    if request.headers.get("Accept") and accepted.best_match(_JSON_TYPES) is None:
        raise NotAcceptable("format_unsupported", "Seul le format FHIR JSON est servi.")


def _format_param() -> bool:
    """Whether `_format` asks for FHIR JSON; any other format is refused (406)."""
    value = request.args.get("_format")
    if value is None:
        return False
    if value not in params.FORMATS:
        raise NotAcceptable("format_unsupported", "Seul le format FHIR JSON est servi.")
    return True


# --- errors: always an OperationOutcome -------------------------------------------------


@bp.errorhandler(DmpError)
def on_dmp_error(exc: DmpError) -> Response:
    response = error_response(exc.status, exc.reason, exc.message)
    if isinstance(exc, TooManyRequests) and exc.retry_after:
        response.headers["Retry-After"] = str(exc.retry_after)
    return response


@bp.errorhandler(HTTPException)
def on_http_error(exc: HTTPException) -> Response:
    return http_error(exc)


def http_error(exc: HTTPException) -> Response:
    """Also the app's answer to routing errors under /fhir/ (server.app)."""
    status = exc.code or 500
    reason = (exc.name or "error").lower().replace(" ", "_")
    response = error_response(status, reason, http_message(exc))
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value
    return response


@bp.errorhandler(OperationalError)
def on_db_down(exc: OperationalError) -> Response:
    log.error("database unavailable: %s", type(exc.orig).__name__)
    return error_response(503, "database_unavailable", "Service momentanément indisponible.")


@bp.errorhandler(Exception)
def on_bug(exc: Exception) -> Response:
    log.exception("unhandled error")
    return error_response(500, "internal_error", "Erreur interne.")
