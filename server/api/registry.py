"""Routes declared once: the same declaration registers the Flask view and its OpenAPI
operation, so the document at /openapi.json cannot drift from the code."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint

from server.api.schemas import PATH_PARAMS, ROW_ID
from server.validation import SAFE_PATTERN


@dataclass
class Operation:
    method: str
    rule: str
    summary: str
    tag: str
    body: dict[str, Any] | None
    response: dict[str, Any]
    status: int
    query: list[dict[str, Any]]
    content_type: str | tuple[str, ...]
    public: bool
    secret_response: bool = False
    endpoint: str = ""


@dataclass
class Registry:
    blueprint: Blueprint
    operations: list[Operation] = field(default_factory=list)
    # Flask endpoints declared secret_response=True (see `route`).
    secret_endpoints: set[str] = field(default_factory=set)

    def route(
        self,
        method: str,
        rule: str,
        summary: str,
        *,
        tag: str,
        body: dict[str, Any] | None = None,
        response: dict[str, Any] | None = None,
        status: int = 200,
        query: list[dict[str, Any]] | None = None,
        content_type: str | tuple[str, ...] = "application/json",
        public: bool = False,
        secret_response: bool = False,
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """`secret_response`: the answer holds a secret (a TOTP seed): the route takes no
        Idempotency-Key, which would keep a copy of the answer in the idempotency store,
        and the OpenAPI document does not offer one."""

        def register(view: Callable[..., Any]) -> Callable[..., Any]:
            endpoint = f"{method.lower()}_{view.__name__}"
            self.blueprint.add_url_rule(rule, endpoint, view, methods=[method])
            if secret_response:
                self.secret_endpoints.add(f"{self.blueprint.name}.{endpoint}")
            self.operations.append(
                Operation(
                    method,
                    rule,
                    summary,
                    tag,
                    body,
                    response or {"type": "object"},
                    status,
                    query or [],
                    content_type,
                    public,
                    secret_response,
                    f"{self.blueprint.name}.{endpoint}",
                )
            )
            return view

        return register


_CONVERTER = re.compile(r"<(?:(int|string|path):)?([a-z_]+)>")


def openapi_path(prefix: str, rule: str) -> tuple[str, list[dict[str, Any]]]:
    params = [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": ROW_ID if conv == "int" else PATH_PARAMS.get(name, {"type": "string"}),
        }
        for conv, name in _CONVERTER.findall(rule)
    ]
    return prefix + _CONVERTER.sub(r"{\2}", rule), params


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error", "reason"],
    "properties": {
        "error": {"type": "string"},
        "reason": {"type": "string"},
        "message": {"type": "string"},
    },
}


def operation_id(method: str, path: str) -> str:
    return f"{method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}"


def build_spec(registry: Registry, prefix: str, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for op in registry.operations:
        path, params = openapi_path(prefix, op.rule)
        responses: dict[str, Any] = {
            str(op.status): {
                "description": "OK",
                "content": {
                    media: {"schema": op.response}
                    for media in (
                        (op.content_type,) if isinstance(op.content_type, str) else op.content_type
                    )
                },
            },
            "default": {
                "description": "Error (4xx): machine reason and French message",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
            },
        }
        operation: dict[str, Any] = {
            "summary": op.summary,
            "tags": [op.tag],
            "operationId": operation_id(op.method, path),
            "parameters": params + op.query,
            "responses": responses,
        }
        if op.method in ("POST", "PUT", "PATCH", "DELETE") and not (
            op.public or op.secret_response
        ):
            operation["parameters"] = [*operation["parameters"], IDEMPOTENCY_PARAM]
        if op.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": request_schema(op.body)}},
            }
        if op.public:
            operation["security"] = []
        paths.setdefault(path, {})[op.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "dmp-kiosk records server",
            "version": version,
            "description": "Every call runs for the actor of a server-side session; the server "
            "decides every access and traces it.",
        },
        "paths": paths,
        "components": {
            "schemas": {"Error": ERROR_SCHEMA},
            "securitySchemes": {"session": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"session": []}],
    }


def request_schema(schema: Any) -> Any:
    """A body schema as the server enforces it (server.api.boundary): every free string
    (no pattern, enum or const of its own) also refuses the forbidden code points."""
    if isinstance(schema, list):
        return [request_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: request_schema(v) for k, v in schema.items()}
    types = schema.get("type")
    is_string = types == "string" or (isinstance(types, list) and "string" in types)
    if is_string and not {"pattern", "enum", "const"} & set(schema):
        out["pattern"] = SAFE_PATTERN
    return out


IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": "A retried write with the same key replays the first answer.",
    "schema": {"type": "string", "maxLength": 100, "pattern": "^[ -~]+$"},
}
