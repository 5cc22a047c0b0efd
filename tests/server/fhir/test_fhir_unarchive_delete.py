"""Un-archiving (PATCH isArchived false, and the JSON API's POST .../unarchive) and PDSm's
logical deletion by PATCH (isDeleted true, status superseded): the JSON API's services,
decisions and traces (issue #12)."""

from __future__ import annotations

import json

import pytest

from kiosk.history_words import sentence
from server.fhir import codes
from tests.server.conftest import World
from tests.server.fhir.fhirkit import get, ids, outcome, search, valid
from tests.server.fhir.test_fhir_patch import ARCHIVE, _last, _state, patch

UNARCHIVE = [{"op": "replace", "path": "/extension/0/valueBoolean", "value": False}]
DELETE = [
    {"op": "replace", "path": "/status", "value": "superseded"},
    {"op": "add", "path": "/extension/-", "value": {"url": codes.IS_DELETED, "valueBoolean": True}},
]


def _doc(world: World, marie_dossier: int, title: str) -> str:
    return str(world.deposit("gp", marie_dossier, title=title)["logical_id"])


def _archive_json(world: World, marie_dossier: int, lid: str) -> None:
    r = world.call("POST", "gp", f"/dossiers/{marie_dossier}/documents/{lid}/archive")
    assert r.status_code == 200, r.get_json()


def test_patch_unarchives_back_to_current(world: World, marie_dossier: int) -> None:
    lid = _doc(world, marie_dossier, "ancien")
    _archive_json(world, marie_dossier, lid)
    archived = search(world, "gp", {"patient": f"Patient/{marie_dossier}", "isArchived": "true"})
    assert ids(archived.get_json()) == [lid]
    r = patch(world, "gp", lid, UNARCHIVE)
    assert r.status_code == 200, r.get_json()
    done = valid(r.get_json())
    assert done["extension"] == [{"url": codes.IS_ARCHIVED, "valueBoolean": False}]
    assert done["status"] == "current"
    assert _state(world, lid)[0] == "current"
    entry = world.trace("marie")[-1]
    assert (entry.action, entry.outcome) == ("document:archive", "allowed")
    assert json.loads(entry.detail or "{}") == {"op": "unarchive"}
    # The patient's history words it as an un-archive, server and kiosk alike.
    history = world.call("GET", "marie", f"/dossiers/{marie_dossier}/history").get_json()
    line = next(e for e in history["entries"] if e["seq"] == entry.seq)
    assert "a désarchivé un document" in line["text"]
    assert line["params"]["op"] == "unarchive"
    assert "désarchivé un document" in sentence(line, "fr")
    assert "took a document out of the archive" in sentence(line, "en")
    # Not archived any more: a second un-archive changes nothing.
    outcome(patch(world, "gp", lid, UNARCHIVE), 422, "no_change")


def test_an_archived_replaced_version_goes_back_to_superseded(
    world: World, marie_dossier: int
) -> None:
    lid = _doc(world, marie_dossier, "v1")
    body = {
        "category": "compte_rendu",
        "type_code": "11488-4",
        "title": "v2",
        "mime_type": "text/plain",
        "content_base64": "djI=",
    }
    d = f"/dossiers/{marie_dossier}/documents"
    assert world.call("POST", "gp", f"{d}/{lid}/replace", body).status_code == 201
    _archive_json(world, marie_dossier, lid)
    r = world.call("POST", "gp", f"{d}/{lid}/unarchive")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "superseded"
    # The JSON API says so too when the document is not archived.
    r = world.call("POST", "gp", f"{d}/{lid}/unarchive")
    assert (r.status_code, r.get_json()["reason"]) == (409, "document_not_archived")


@pytest.mark.parametrize("who", ["gp", "specialist", "infirmier", "marie", "jean", "insurer"])
def test_each_actor_gets_the_json_apis_unarchive_decision(
    world: World, marie_dossier: int, who: str
) -> None:
    team = {"national_id": world.nid("specialist")}
    world.call("POST", "marie", f"/dossiers/{marie_dossier}/care-team", team)
    json_doc, fhir_doc = _doc(world, marie_dossier, "json"), _doc(world, marie_dossier, "fhir")
    for lid in (json_doc, fhir_doc):
        _archive_json(world, marie_dossier, lid)
    json_r = world.call("POST", who, f"/dossiers/{marie_dossier}/documents/{json_doc}/unarchive")
    json_trace = _last(world)[:4]
    before = _state(world, fhir_doc)
    r = patch(world, who, fhir_doc, UNARCHIVE)
    assert _last(world)[:4] == json_trace
    if json_r.status_code == 200:
        assert r.status_code == 200, r.get_json()
        assert _state(world, fhir_doc)[0] == "current"
    else:
        outcome(r, json_r.status_code, json_r.get_json()["reason"])
        assert _state(world, fhir_doc) == before
    assert (json_r.status_code == 200) == (who in ("gp", "marie"))  # author / MT, patient


def test_archive_then_unarchive_in_patch_round_trip(world: World, marie_dossier: int) -> None:
    lid = _doc(world, marie_dossier, "aller-retour")
    assert patch(world, "gp", lid, ARCHIVE).status_code == 200
    assert _state(world, lid)[0] == "archived"
    assert patch(world, "gp", lid, UNARCHIVE).status_code == 200
    assert _state(world, lid)[0] == "current"


# --- PDSm's logical deletion by PATCH -----------------------------------------------------


def test_the_author_deletes_by_patch_as_pdsm_says(world: World, marie_dossier: int) -> None:
    lid = _doc(world, marie_dossier, "erreur")
    _archive_json(world, marie_dossier, lid)  # an archived current version may be deleted
    r = patch(world, "gp", lid, DELETE)
    assert r.status_code == 200, r.get_json()
    done = valid(r.get_json())
    assert done["status"] == "superseded"
    assert done["extension"] == [
        {"url": codes.IS_ARCHIVED, "valueBoolean": False},  # a deleted one is not archived
        {"url": codes.IS_DELETED, "valueBoolean": True},
    ]
    assert _state(world, lid)[0] == "deleted"
    entry = world.trace("marie")[-1]
    assert (entry.action, entry.outcome) == ("document:delete", "allowed")
    # Gone from every answer; a second deletion finds nothing.
    outcome(get(world, "gp", f"/DocumentReference/{lid}"), 404)
    found = search(world, "gp", {"patient": f"Patient/{marie_dossier}"}).get_json()
    assert lid not in ids(found)
    outcome(patch(world, "gp", lid, DELETE), 404)


def test_only_the_current_version_is_deleted_by_patch(world: World, marie_dossier: int) -> None:
    lid = _doc(world, marie_dossier, "v1")
    body = {
        "category": "compte_rendu",
        "type_code": "11488-4",
        "title": "v2",
        "mime_type": "text/plain",
        "content_base64": "djI=",
    }
    d = f"/dossiers/{marie_dossier}/documents"
    assert world.call("POST", "gp", f"{d}/{lid}/replace", body).status_code == 201
    before = _state(world, lid)
    outcome(patch(world, "gp", lid, DELETE), 422, "deletion_not_current")
    assert _state(world, lid) == before


@pytest.mark.parametrize("who", ["gp", "specialist", "infirmier", "marie", "insurer"])
def test_each_actor_gets_the_json_apis_delete_decision(
    world: World, marie_dossier: int, who: str
) -> None:
    json_doc, fhir_doc = _doc(world, marie_dossier, "json"), _doc(world, marie_dossier, "fhir")
    json_r = world.call("DELETE", who, f"/dossiers/{marie_dossier}/documents/{json_doc}")
    json_trace = _last(world)[:4]
    before = _state(world, fhir_doc)
    r = patch(world, who, fhir_doc, DELETE)
    assert _last(world)[:4] == json_trace
    if json_r.status_code == 200:
        assert r.status_code == 200, r.get_json()
        assert _state(world, fhir_doc)[0] == "deleted"
    else:
        outcome(r, json_r.status_code, json_r.get_json()["reason"])
        assert _state(world, fhir_doc) == before
    assert (json_r.status_code == 200) == (who == "gp")  # the author only
