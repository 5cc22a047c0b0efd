"""DocumentReference read and ITI-68 Binary: the JSON API's read decision and trace."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from sqlalchemy import select

from server.fhir import codes
from server.models import AuditEntry
from server.services import audit
from tests.server.conftest import World
from tests.server.fhir.fhirkit import BASE, get, outcome, valid

BODY = b"Compte rendu : tension 12/8, poursuite du traitement."


@pytest.fixture
def cr(world: World, marie_dossier: int) -> dict[str, Any]:
    return world.deposit(
        "gp",
        marie_dossier,
        content=BODY,
        title="Consultation",
        unique_id="urn:oid:1.2.250.1.999.1.42",
        service_start="2026-06-01T08:00:00+02:00",
        service_end="2026-06-01T09:00:00+02:00",
    )


def _last(world: World) -> tuple[Any, ...]:
    e = world.trace("marie")[-1]
    return (e.action, e.outcome, e.reason, e.mode, e.target, e.category, json.loads(e.detail))


def test_read_maps_every_element_the_profile_asks_for(
    world: World, marie_dossier: int, cr: dict[str, Any]
) -> None:
    r = get(world, "gp", f"/DocumentReference/{cr['logical_id']}")
    assert r.status_code == 200
    doc = valid(r.get_json())
    assert doc["id"] == cr["logical_id"]
    assert doc["masterIdentifier"] == {"system": codes.URI, "value": cr["unique_id"]}
    assert {i["value"] for i in doc["identifier"]} == {
        f"urn:uuid:{cr['entry_uuid']}",
        f"urn:uuid:{cr['logical_id']}",
    }
    assert (doc["status"], doc["docStatus"]) == ("current", "final")
    assert doc["extension"] == [{"url": codes.IS_ARCHIVED, "valueBoolean": False}]
    assert doc["type"]["coding"] == [{"system": codes.LOINC, "code": "11488-4"}]
    category = {(c["system"], c["code"]) for c in doc["category"][0]["coding"]}
    assert category == {(codes.OWN_CATEGORY, "compte_rendu"), (codes.CLASS_TRE_A03, "10")}
    assert doc["subject"] == {"reference": f"Patient/{marie_dossier}"}
    assert doc["date"] == cr["submitted_at"]
    attachment = doc["content"][0]["attachment"]
    assert attachment == {
        "contentType": "text/plain",
        "url": f"{BASE}/Binary/{cr['logical_id']}",
        "size": len(BODY),
        "hash": base64.b64encode(hashlib.sha1(BODY).digest()).decode(),  # noqa: S324
        "title": "Consultation",
        "creation": cr["created_at"],
    }
    assert doc["context"]["period"] == {"start": cr["service_start"], "end": cr["service_end"]}
    assert doc["securityLabel"] == [{"coding": [{"system": codes.CONFIDENTIALITY, "code": "N"}]}]
    # The author, embedded: the professional with national id, profession, institution.
    contained = {c["id"]: c for c in doc["contained"]}
    role = contained[doc["author"][0]["reference"][1:]]
    assert role["resourceType"] == "PractitionerRole"
    practitioner = contained[role["practitioner"]["reference"][1:]]
    assert practitioner["identifier"][0]["system"] == codes.IDNPS
    assert practitioner["identifier"][0]["value"] == world.nid("gp")
    profession = {(c["system"], c["code"]) for c in role["code"][0]["coding"]}
    assert (codes.PROFESSION_TRE_G15, "10") in profession
    organization = contained[role["organization"]["reference"][1:]]
    assert organization["identifier"][0]["value"] == "1750000010"
    assert doc["custodian"]


def test_replacement_visibility_and_archive_are_mapped(
    world: World, marie_dossier: int, cr: dict[str, Any]
) -> None:
    d = f"/dossiers/{marie_dossier}/documents/{cr['logical_id']}"
    body = {
        "category": "compte_rendu",
        "type_code": "11488-4",
        "title": "v2",
        "mime_type": "text/plain",
        "content_base64": base64.b64encode(b"v2").decode(),
        "invisible_rep": True,
    }
    new = world.call("POST", "gp", d + "/replace", body).get_json()
    old = valid(get(world, "gp", f"/DocumentReference/{cr['logical_id']}").get_json())
    assert old["status"] == "superseded"
    doc = valid(get(world, "gp", f"/DocumentReference/{new['logical_id']}").get_json())
    assert doc["relatesTo"] == [
        {"code": "replaces", "target": {"reference": f"DocumentReference/{cr['logical_id']}"}}
    ]
    codes_ = [c["code"] for label in doc["securityLabel"] for c in label["coding"]]
    assert codes_ == ["N", "INVISIBLE_REPRESENTANTS_LEGAUX"]
    masked = world.deposit("gp", marie_dossier, title="m", masked_ps=True)
    doc = valid(get(world, "gp", f"/DocumentReference/{masked['logical_id']}").get_json())
    assert [c["code"] for label in doc["securityLabel"] for c in label["coding"]] == [
        "N",
        "MASQUE_PS",
    ]
    path = f"/dossiers/{marie_dossier}/documents/{new['logical_id']}/archive"
    assert world.call("POST", "gp", path).status_code == 200
    doc = valid(get(world, "gp", f"/DocumentReference/{new['logical_id']}").get_json())
    assert doc["status"] == "current"
    assert doc["extension"] == [{"url": codes.IS_ARCHIVED, "valueBoolean": True}]


def test_read_and_binary_are_traced_exactly_as_the_json_reads(
    world: World, marie_dossier: int, cr: dict[str, Any]
) -> None:
    d = f"/dossiers/{marie_dossier}/documents/{cr['logical_id']}"
    assert world.call("GET", "gp", d).status_code == 200
    json_read = _last(world)
    assert get(world, "gp", f"/DocumentReference/{cr['logical_id']}").status_code == 200
    assert _last(world) == json_read
    assert json_read[-1] == {"part": "metadata"}
    assert world.call("GET", "gp", d + "/content").status_code == 200
    json_content = _last(world)
    r = get(world, "gp", f"/Binary/{cr['logical_id']}")
    assert (r.status_code, r.data, r.mimetype) == (200, BODY, "text/plain")
    assert r.headers["Cache-Control"] == "no-store"
    assert _last(world) == json_content
    assert json_content[-1] == {"part": "content"}


@pytest.mark.parametrize(
    ("headers", "query"),
    [
        ({"Accept": "application/fhir+json"}, ""),
        ({"Accept": "application/json"}, ""),
        ({}, "?_format=json"),
        ({}, "?_format=application%2Ffhir%2Bjson"),
    ],
)
def test_binary_is_a_resource_when_fhir_json_is_asked_for(
    world: World, cr: dict[str, Any], headers: dict[str, str], query: str
) -> None:
    r = get(world, "gp", f"/Binary/{cr['logical_id']}{query}", **headers)
    assert r.status_code == 200
    binary = valid(r.get_json())
    assert binary["resourceType"] == "Binary"
    assert (binary["contentType"], base64.b64decode(binary["data"])) == ("text/plain", BODY)


def test_hidden_documents_read_as_the_json_api_answers(world: World, marie_dossier: int) -> None:
    world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("infirmier")},
    )
    masked = world.deposit("gp", marie_dossier, title="masqué", masked_ps=True)
    hidden = world.deposit("gp", marie_dossier, title="annonce", invisible_patient=True)
    for who, doc, status, reason in (
        ("infirmier", masked, 404, "document_not_found"),
        ("marie", hidden, 403, "invisible_to_patient"),
        ("pharmacien", masked, 403, "no_authorisation"),
        ("insurer", masked, 403, "insurer_reads_nothing"),
    ):
        d = f"/dossiers/{marie_dossier}/documents/{doc['logical_id']}"
        for fhir_path, json_path in (("DocumentReference", d), ("Binary", d + "/content")):
            json_answer = world.call("GET", who, json_path)
            assert (json_answer.status_code, json_answer.get_json()["reason"]) == (status, reason)
            outcome(get(world, who, f"/{fhir_path}/{doc['logical_id']}"), status, reason)
            entry = world.trace("marie")[-1]
            assert (entry.outcome, entry.target) == ("denied", f"document:{doc['logical_id']}")


def test_an_id_naming_no_document_is_decided_as_a_request_on_no_dossier(
    world: World, marie_dossier: int
) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    outcome(get(world, "gp", f"/DocumentReference/{unknown}"), 403, "no_authorisation")
    with world.rt.sessions() as s:
        entry = s.scalars(
            select(AuditEntry)
            .where(AuditEntry.chain == audit.SYSTEM_CHAIN)
            .order_by(AuditEntry.seq.desc())
        ).first()
    assert entry is not None
    assert (entry.action, entry.outcome, entry.reason, entry.actor_id) == (
        "document:read",
        "denied",
        "no_authorisation",
        world.ids["gp"],
    )
    outcome(get(world, "marie", f"/Binary/{unknown}"), 403, "not_a_party")
    outcome(get(world, "gp", "/DocumentReference/not-one-of-ours"), 403, "no_authorisation")


@pytest.mark.parametrize(
    "path",
    ["/DocumentReference/" + "a" * 65, "/DocumentReference/bad_id", "/Binary/%C3%A9t%C3%A9"],
)
def test_malformed_ids_are_a_400(world: World, path: str) -> None:
    outcome(get(world, "gp", path), 400, "id_invalid")


def test_reads_need_a_session(world: World, cr: dict[str, Any]) -> None:
    for path in (f"/DocumentReference/{cr['logical_id']}", f"/Binary/{cr['logical_id']}"):
        r = get(world, None, path)
        outcome(r, 401, "session_invalid")
        assert "WWW-Authenticate" in r.headers
