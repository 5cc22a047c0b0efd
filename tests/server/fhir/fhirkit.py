"""Calling the FHIR door as professional software would, and checking what it answers."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode, urlsplit

from fhir.resources.R4B import get_fhir_model_class

from tests.server.conftest import World

BASE = "http://localhost/fhir/R4"
INS_TEST_NIR = "urn:oid:1.2.250.1.213.1.4.10"
FHIR_STATUSES = {"current", "superseded", "entered-in-error"}


def get(world: World, who: str | None, path: str, **headers: str) -> Any:
    if who is not None:
        headers = world.h(who, **headers)
    return world.client.get(f"/fhir/R4{path}", headers=headers)


def search(world: World, who: str | None, params: dict[str, str] | list[tuple[str, str]]) -> Any:
    return get(world, who, f"/DocumentReference?{urlencode(params)}")


def follow(world: World, who: str, url: str) -> Any:
    """A `next` link, as a client follows it: the absolute URL, path and query kept."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == "http://localhost", url
    return world.client.get(f"{parts.path}?{parts.query}", headers=world.h(who))


def valid(resource: dict[str, Any]) -> dict[str, Any]:
    """Parsed by fhir.resources' R4 models (types, cardinalities of required elements,
    base64, no unknown element), plus what those models do not check of ours."""
    model = get_fhir_model_class(resource["resourceType"])
    model.model_validate(resource)
    if resource["resourceType"] == "Bundle":
        for entry in resource.get("entry", []):
            if "resource" in entry or resource["type"] != "transaction-response":
                valid(entry["resource"])
            if "outcome" in entry.get("response", {}):
                valid(entry["response"]["outcome"])
    if resource["resourceType"] == "DocumentReference":
        pdsm(resource)
    return resource


def pdsm(doc: dict[str, Any]) -> None:
    """What PDSm makes mandatory and fhir.resources does not check (docs/fhir.md)."""
    assert doc["status"] in FHIR_STATUSES
    assert doc["custodian"]
    assert doc["date"]
    assert doc["author"]
    assert doc["contained"]
    contained = {c["id"] for c in doc["contained"]}
    for author in doc["author"]:
        assert author["reference"].removeprefix("#") in contained
    attachment = doc["content"][0]["attachment"]
    for name in ("size", "hash", "title", "contentType", "url", "creation"):
        assert attachment.get(name) is not None, name
    assert doc["masterIdentifier"]["value"]
    labels = [c for label in doc["securityLabel"] for c in label["coding"]]
    assert sum(1 for c in labels if c["code"] == "N") == 1  # one confidentiality code


def outcome(response: Any, status: int, reason: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    body: dict[str, Any] = valid(response.get_json())
    assert body["resourceType"] == "OperationOutcome"
    if reason is not None:
        assert body["issue"][0]["details"]["coding"][0]["code"] == reason
    return body


def ids(bundle: dict[str, Any]) -> list[str]:
    return [
        e["resource"]["id"]
        for e in bundle.get("entry", [])
        if e["resource"]["resourceType"] == "DocumentReference"
    ]


def link(bundle: dict[str, Any], relation: str) -> str | None:
    return next((x["url"] for x in bundle["link"] if x["relation"] == relation), None)
