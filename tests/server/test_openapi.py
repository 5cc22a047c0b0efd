"""The OpenAPI document is generated from the routes, valid, complete and truthful."""

from __future__ import annotations

from typing import Any

import jsonschema
from openapi_spec_validator import validate

from server.api.registry import openapi_path
from tests.server.bodies import valid_bodies
from tests.server.conftest import World


def spec(world: World) -> dict[str, Any]:
    r = world.client.get("/openapi.json")
    assert r.status_code == 200
    result: dict[str, Any] = r.get_json()
    return result


def test_the_document_is_valid_openapi(world: World) -> None:
    validate(spec(world))


def test_every_api_route_is_documented_and_nothing_else(world: World) -> None:
    paths = spec(world)["paths"]
    documented = {(path, method.upper()) for path, ops in paths.items() for method in ops}
    served = set()
    for rule in world.app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path, _ = openapi_path("", rule.rule)
            served |= {(path, m) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
    assert documented == served


def test_answers_match_their_documented_schemas(world: World, marie_dossier: int) -> None:
    paths = spec(world)["paths"]
    world.deposit("gp", marie_dossier)

    def check(path: str, method: str, response: Any, status: str) -> None:
        schema = paths[path][method]["responses"][status]["content"]["application/json"]["schema"]
        jsonschema.validate(response.get_json(), schema)

    d = f"/dossiers/{marie_dossier}"
    check("/api/v1/dossiers/{dossier_id}", "get", world.call("GET", "marie", d), "200")
    check(
        "/api/v1/dossiers/{dossier_id}/documents",
        "get",
        world.call("GET", "gp", d + "/documents"),
        "200",
    )
    check(
        "/api/v1/dossiers/{dossier_id}/history",
        "get",
        world.call("GET", "marie", d + "/history"),
        "200",
    )
    for who in ("gp", "pharmacien", "admissions", "marie"):
        check("/api/v1/session", "get", world.call("GET", who, "/session"), "200")
    error = world.call("GET", "pharmacien", d)
    jsonschema.validate(error.get_json(), spec(world)["components"]["schemas"]["Error"])


def test_writes_document_the_idempotency_header(world: World) -> None:
    op = spec(world)["paths"]["/api/v1/dossiers/{dossier_id}/documents"]["post"]
    assert "Idempotency-Key" in [p["name"] for p in op["parameters"]]


def test_no_documented_route_answers_without_a_session(world: World, marie_dossier: int) -> None:
    logical_id = world.deposit("gp", marie_dossier)["logical_id"]
    before = len(world.trace("marie"))
    for path, ops in spec(world)["paths"].items():
        url = (
            path.replace("{dossier_id}", str(marie_dossier))
            .replace("{logical_id}", logical_id)
            .replace("{national_id}", "810003456786")
            .replace("{member_id}", "1")
            .replace("{delegation_id}", "1")
            .replace("{receipt_id}", "A" * 22)
            .replace("{export_id}", "A" * 22)
            .replace("{case_id}", "1")
        )
        if path.startswith("/api/v1/log/") or path in (
            "/api/v1/receipts/certificate",
            "/api/v1/receipts/card-roots",
        ):
            # Open data on purpose: signed tree heads and hashes (test_trace_log), the
            # receipt signer's certificates (test_receipts), the card roots
            # (test_copresence_openssl).
            continue
        for method, op in ops.items():
            # Public routes (card sign-in) have no session yet, but need a kiosk signature.
            reason = "authentication_failed" if op.get("security") == [] else "session_invalid"
            # A body the route takes: a malformed one is refused before any caller is
            # resolved (server.api.boundary).
            body = valid_bodies().get((method.upper(), path), {})
            for headers in ({}, {"Authorization": "Bearer forged"}):
                r = world.client.open(url, method=method.upper(), json=body, headers=headers)
                assert r.status_code == 401, (method, url)
                assert r.get_json()["reason"] == reason
    assert len(world.trace("marie")) == before  # nothing happened, nothing to trace


def test_every_body_route_has_a_valid_example_that_its_schema_accepts(world: World) -> None:
    examples = valid_bodies()
    with_body = set()
    for path, ops in spec(world)["paths"].items():
        for method, op in ops.items():
            if "requestBody" in op:
                with_body.add((method.upper(), path))
                schema = op["requestBody"]["content"]["application/json"]["schema"]
                jsonschema.validate(examples[method.upper(), path], schema)
    assert with_body == set(examples)
