"""What every API request must be before a use case sees it, checked once, here.

The route's own declaration (server.api.registry) is the contract: a request with a body
names the media type the route takes (else 415), its JSON is shallow enough to parse
(else 400), carries no string a database cannot store or a screen would show otherwise
than it reads (else 422), and matches the route's body schema, the one published at
/openapi.json (a missing required field is a 400, any other mismatch a 422). Path and
query parameters are checked against their declared schemas as well. Nothing has been
read or written when one of these refuses: the caller is not even resolved yet.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, Response, g, request
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from werkzeug.routing import BaseConverter
from werkzeug.routing import ValidationError as NoMatch

from server.api.registry import Operation, Registry, openapi_path, request_schema
from server.errors import DmpError, InvalidInput, MalformedRequest, NotFound
from server.validation import ID_MAX, ascii_int, json_too_deep, safe_text

JSON_TYPE = "application/json"
# Our bodies nest three levels; a depth bound far above that refuses the "[[[[..." bombs
# that would make the parser recurse tens of thousands of times.
MAX_DEPTH = 32


STRING = {"type": "string"}
# Reasons keep the names the use cases gave them before this check existed.
REASON_NAMES = {"content_base64": "content"}


class UnsupportedMediaType(DmpError):
    status = 415
    error = "unsupported_media_type"


class RowId(BaseConverter):
    """`<int:...>` of this application: a row id in ASCII digits within the database's
    integer range. Werkzeug's own takes any length and, through `\\d`, other scripts'
    digits; out of range, the path names nothing (404) instead of failing in the driver."""

    regex = r"[0-9]{1,10}"
    part_isolating = True

    def to_python(self, value: str) -> int:
        number = ascii_int(value, high=ID_MAX)
        if number is None:
            raise NoMatch
        return number

    def to_url(self, value: Any) -> str:
        return str(int(value))


def install(app: Flask, registry: Registry) -> None:
    """Registers the converter (before the API blueprint) and the request checks."""
    app.url_map.converters["int"] = RowId
    operations = {op.endpoint: (op, path_schemas(op)) for op in registry.operations}
    prefix = registry.blueprint.url_prefix or ""

    @app.before_request
    def check_request() -> None:
        found = operations.get(request.endpoint or "")
        if found is not None:
            check(*found)

    @app.after_request
    def no_store(response: Response) -> Response:
        # API answers carry health data: no browser, proxy or kiosk cache keeps them.
        if request.path.startswith(prefix):
            response.headers["Cache-Control"] = "no-store"
        return response


def path_schemas(op: Operation) -> dict[str, dict[str, Any]]:
    _, params = openapi_path("", op.rule)
    return {p["name"]: p["schema"] for p in params}


def check(op: Operation, schemas: dict[str, dict[str, Any]]) -> None:
    for name, value in (request.view_args or {}).items():
        # A malformed path names nothing, like an out-of-range row id (RowId).
        if isinstance(value, str) and not _valid(value, schemas.get(name, STRING)):
            raise NotFound(f"{name}_invalid", f"« {name} » ne désigne rien.")
    for param in op.query:
        raw = request.args.get(param["name"])
        if raw is not None:
            _check_query(param["name"], raw, param["schema"])
    # A route that takes no body ignores one (a kiosk signs the bytes it sends; the
    # signature check, not this one, answers a body that was not signed).
    if op.body is None or not request.get_data():
        return
    if request.mimetype != JSON_TYPE:
        raise UnsupportedMediaType(
            "content_type_unsupported", f"Cette route attend un corps {JSON_TYPE}."
        )
    data = parse(request.get_data())
    _check_strings(data, "body")
    g.dmp_parsed_body = data  # runtime.json_body() answers this, without a second parse
    # Public sign-in routes answer every malformed credential with the one generic 401
    # (after their own checks: the kiosk signature first), never a schema error.
    if not op.public:
        _check_body(op, data)


def parse(raw: bytes) -> Any:
    """JSON, refused before parsing when nested deeper than MAX_DEPTH."""
    if json_too_deep(raw, MAX_DEPTH):
        raise MalformedRequest(
            "json_too_deep", f"JSON imbriqué trop profondément (maximum {MAX_DEPTH})."
        )
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise MalformedRequest(
            "json_malformed", "Le corps de la requête n'est pas du JSON valide."
        ) from None


def _check_strings(value: Any, name: str) -> None:
    """Every key and string, at any depth: see server.validation.FORBIDDEN."""
    if isinstance(value, str):
        if not safe_text(value):
            raise InvalidInput(f"{name}_invalid", f"« {name} » contient un caractère interdit.")
    elif isinstance(value, list):
        for item in value:
            _check_strings(item, name)
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_strings(key, "field_name")
            _check_strings(item, key)


def _check_body(op: Operation, data: Any) -> None:
    assert op.body is not None  # noqa: S101 - callers check
    errors = list(_validator(id(op.body), op.body).iter_errors(data))
    if not errors:
        return
    # As the use cases did: unknown fields first, then missing ones, then the values.
    for kind in ("additionalProperties", "required"):
        found = [e for e in errors if e.validator == kind]
        if found:
            raise _refusal(min(found, key=lambda e: len(e.absolute_path)))
    raise _refusal(best_match(errors))


_VALIDATORS: dict[int, Draft202012Validator] = {}


def _validator(key: int, schema: dict[str, Any]) -> Draft202012Validator:
    validator = _VALIDATORS.get(key)
    if validator is None:
        validator = _VALIDATORS[key] = Draft202012Validator(request_schema(schema))
    return validator


def _refusal(error: ValidationError) -> DmpError:
    path = [p for p in error.absolute_path if isinstance(p, str)]
    if error.validator == "required":
        missing = next(n for n in error.validator_value if n not in error.instance)
        if missing == "confirm":
            return InvalidInput("confirmation_required", "Cette action doit être confirmée.")
        return MalformedRequest(f"{missing}_required", f"Le champ « {missing} » est obligatoire.")
    if error.validator == "additionalProperties":
        known = set(error.schema.get("properties", {})) if isinstance(error.schema, dict) else set()
        unknown = sorted(str(k) for k in error.instance if k not in known)[:5]
        names = ", ".join(f"« {name[:40]} »" for name in unknown)
        return InvalidInput("unknown_field", f"Champ(s) inconnu(s) : {names}.")
    hint = error.schema.get("x-refusal") if isinstance(error.schema, dict) else None
    if hint:  # the route's own reason for a rule on the whole body
        return InvalidInput(hint, "Le corps de la requête est incomplet.")
    if not path:
        return MalformedRequest("json_object_expected", "Un objet JSON est attendu.")
    name = REASON_NAMES.get(path[-1], path[-1])
    if error.validator == "minLength" and error.instance == "":
        return InvalidInput(f"{name}_required", f"Le champ « {name} » est vide.")
    if name == "confirm":
        return InvalidInput("confirmation_required", "Cette action doit être confirmée.")
    return InvalidInput(f"{name}_invalid", f"Le champ « {name} » est invalide.")


def _valid(value: str, schema: dict[str, Any]) -> bool:
    return safe_text(value) and _validator(id(schema), schema).is_valid(value)


def _check_query(name: str, raw: str, schema: dict[str, Any]) -> None:
    if schema.get("type") == "integer":
        if ascii_int(raw, low=schema.get("minimum", 0), high=schema.get("maximum", ID_MAX)) is None:
            raise InvalidInput(f"{name}_invalid", f"« {name} » doit être un entier positif.")
    elif schema.get("type") == "string" and not _valid(raw, schema):
        raise InvalidInput(f"{name}_invalid", f"« {name} » est invalide.")
