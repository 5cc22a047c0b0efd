"""The ITI-65 SubmissionSet kept and read back as FHIR List (search by patient, read):
who submitted, when, its source, its entries; never an entry the caller may not read
(issue #12)."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from server.fhir import submit
from server.models import Dossier, SubmissionSet, SubmissionSetEntry
from server.purge import erase
from tests.server.conftest import PATIENTS, World
from tests.server.fhir.fhirkit import INS_TEST_NIR, follow, get, link, outcome, valid
from tests.server.fhir.mhdkit import bundle, post

SOURCE = "urn:oid:1.2.250.1.999.7"
UNIQUE = "urn:oid:1.2.250.1.999.7.1.42"


def _submit(world: World, dossier_id: int, *docs: dict[str, Any], who: str = "gp") -> str:
    sent = bundle(dossier_id, *docs)
    listed = sent["entry"][0]["resource"]
    listed["identifier"] = [{"use": "usual", "value": f"{UNIQUE}.{len(world.trace('marie'))}"}]
    listed["extension"] = [{"url": submit.SOURCE_ID, "valueIdentifier": {"value": SOURCE}}]
    r = post(world, who, sent)
    assert r.status_code == 200, r.get_json()
    location = valid(r.get_json())["entry"][0]["response"]["location"]
    assert location.startswith("List/")
    return str(location.removeprefix("List/"))


def _lists(world: World, who: str, params: dict[str, str]) -> Any:
    return get(world, who, f"/List?{urlencode(params)}")


def _entries(resource: dict[str, Any]) -> list[str]:
    return [e["item"]["reference"].removeprefix("DocumentReference/") for e in resource["entry"]]


def _documents(world: World, who: str, dossier_id: int) -> list[str]:
    found = get(world, who, f"/DocumentReference?patient=Patient/{dossier_id}").get_json()
    return [e["resource"]["id"] for e in found.get("entry", [])]


@pytest.fixture
def team(world: World, marie_dossier: int) -> None:
    r = world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("infirmier")},
    )
    assert r.status_code == 201, r.get_json()


def test_a_submission_set_is_kept_and_read_back(world: World, marie_dossier: int) -> None:
    list_id = _submit(
        world,
        marie_dossier,
        {"title": "Consultation"},
        {"title": "Ordonnance", "content": b"Ordonnance", "labels": ("MASQUE_PS",)},
    )
    before = len(world.trace("marie"))
    r = _lists(world, "gp", {"patient": f"Patient/{marie_dossier}"})
    assert r.status_code == 200, r.get_json()
    found = valid(r.get_json())
    assert found["total"] == 1
    (kept,) = [e["resource"] for e in found["entry"]]
    assert kept["id"] == list_id
    assert kept["code"]["coding"] == [
        {"system": submit.MHD_LIST_TYPES, "code": submit.SUBMISSION_SET}
    ]
    assert kept["subject"] == {"reference": f"Patient/{marie_dossier}"}
    assert kept["date"]  # when it was submitted
    assert kept["extension"] == [{"url": submit.SOURCE_ID, "valueIdentifier": {"value": SOURCE}}]
    assert any(i["value"].startswith(UNIQUE) for i in kept["identifier"] if i["use"] == "usual")
    # Who submitted: the contained author, the GP with their national id.
    source = kept["source"]["reference"].removeprefix("#")
    contained = {c["id"]: c for c in kept["contained"]}
    assert source in contained
    assert world.nid("gp") in json.dumps(kept["contained"])
    # Its entries, in the Bundle's order, are the documents deposited.
    assert sorted(_entries(kept)) == sorted(_documents(world, "gp", marie_dossier))
    # Read by id: the same List. Traced as listings.
    read = get(world, "gp", f"/List/{list_id}")
    assert valid(read.get_json()) == kept
    added = world.trace("marie")[before:]
    # (the List search, the DocumentReference search above, the read)
    assert [(e.action, e.outcome) for e in added] == [("document:list", "allowed")] * 3
    details = [json.loads(e.detail) for e in added]
    assert [d["fhir"] for d in details] == ["ITI-66", "ITI-67", "List"]
    assert (details[0]["matched"], details[2]["matched"]) == (1, 1)


@pytest.mark.usefixtures("team")
def test_a_list_never_reveals_an_entry_the_caller_may_not_read(
    world: World, marie_dossier: int
) -> None:
    mixed = _submit(
        world,
        marie_dossier,
        {"title": "Consultation"},
        {"title": "Ordonnance", "content": b"Ordonnance", "labels": ("MASQUE_PS",)},
    )
    hidden = _submit(world, marie_dossier, {"title": "Masqué", "labels": ("MASQUE_PS",)})
    assert len(_entries(valid(get(world, "gp", f"/List/{hidden}").get_json()))) == 1
    visible = set(_documents(world, "infirmier", marie_dossier))
    found = valid(_lists(world, "infirmier", {"patient": f"Patient/{marie_dossier}"}).get_json())
    # The set of only a masked document is not there; the mixed one shows one entry.
    assert found["total"] == 1
    (kept,) = [e["resource"] for e in found["entry"]]
    assert kept["id"] == mixed
    assert len(_entries(kept)) == 1
    assert set(_entries(kept)) <= visible
    outcome(get(world, "infirmier", f"/List/{hidden}"), 404, "list_not_found")
    assert len(_entries(valid(get(world, "infirmier", f"/List/{mixed}").get_json()))) == 1
    # The pharmacist, by consent, reads no compte rendu: no List at all.
    r = world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/consents",
        {"national_id": world.nid("pharmacien")},
    )
    assert r.status_code in (200, 201), r.get_json()
    assert _documents(world, "pharmacien", marie_dossier) == []
    none = valid(_lists(world, "pharmacien", {"patient": f"Patient/{marie_dossier}"}).get_json())
    assert (none["total"], none.get("entry", []), link(none, "next")) == (0, [], None)
    # Someone with no relation: the listing's refusal, as an OperationOutcome.
    json_r = world.call("GET", "jean", f"/dossiers/{marie_dossier}/documents?all=true")
    outcome(
        _lists(world, "jean", {"patient": f"Patient/{marie_dossier}"}),
        json_r.status_code,
        json_r.get_json()["reason"],
    )
    # A deleted document leaves its List.
    first = _entries(valid(get(world, "gp", f"/List/{mixed}").get_json()))[0]
    assert (
        world.call("DELETE", "gp", f"/dossiers/{marie_dossier}/documents/{first}").status_code
        == 200
    )
    assert first not in _entries(valid(get(world, "gp", f"/List/{mixed}").get_json()))


def test_lists_by_ins_paged_and_posted(world: World, marie_dossier: int) -> None:
    made = [_submit(world, marie_dossier, {"title": f"cr {i}"}) for i in range(3)]
    ins = f"{INS_TEST_NIR}|{PATIENTS['marie'][0]}"
    first = valid(_lists(world, "gp", {"patient.identifier": ins, "_count": "2"}).get_json())
    assert first["total"] == 3
    nxt = link(first, "next")
    assert nxt is not None
    assert PATIENTS["marie"][0] not in nxt
    second = valid(follow(world, "gp", nxt).get_json())
    ids = [e["resource"]["id"] for e in first["entry"] + second["entry"]]
    assert ids == list(reversed(made))  # newest first
    r = world.client.post(
        "/fhir/R4/List/_search",
        data={"patient.identifier": ins, "code": f"{submit.MHD_LIST_TYPES}|submissionset"},
        headers=world.h("gp"),
    )
    assert valid(r.get_json())["total"] == 3
    folders = {"patient": f"Patient/{marie_dossier}", "code": f"{submit.MHD_LIST_TYPES}|folder"}
    assert valid(_lists(world, "gp", folders).get_json())["total"] == 0
    retired = {"patient": f"Patient/{marie_dossier}", "status": "retired"}
    assert valid(_lists(world, "gp", retired).get_json())["total"] == 0


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({}, "patient_required"),
        ({"patient": "Patient/x"}, "patient_invalid"),
        ({"patient": "Patient/1", "status": "draft"}, "status_invalid"),
        ({"patient": "Patient/1", "code:text": "x"}, "code_invalid"),
        ({"patient": "Patient/1", "_count": "-1"}, "count_invalid"),
    ],
)
def test_bad_list_searches_are_400(world: World, params: dict[str, str], reason: str) -> None:
    outcome(_lists(world, "gp", params), 400, reason)


def test_an_unknown_list_is_refused_as_an_unknown_dossier(world: World, marie_dossier: int) -> None:
    outcome(get(world, "gp", "/List/0b1e7c38-0000-4000-8000-000000000000"), 403, "no_authorisation")
    outcome(get(world, "gp", "/List/not an id"), 400)
    outcome(world.client.get(f"/fhir/R4/List?patient=Patient/{marie_dossier}"), 401)


def _sets(world: World) -> tuple[int, int]:
    with world.rt.sessions() as s:
        return (
            int(s.scalar(select(func.count()).select_from(SubmissionSet)) or 0),
            int(s.scalar(select(func.count()).select_from(SubmissionSetEntry)) or 0),
        )


def test_a_refused_bundle_keeps_no_set_and_the_purge_erases_them(
    world: World, marie_dossier: int
) -> None:
    # The pharmacist may not deposit a compte rendu: nothing of the Bundle is kept.
    r = post(world, "pharmacien", bundle(marie_dossier, {"who": "pharmacien"}))
    assert r.status_code >= 400
    assert _sets(world) == (0, 0)
    _submit(world, marie_dossier, {"title": "a"}, {"title": "b", "content": b"b"})
    assert _sets(world) == (1, 2)
    with world.rt.sessions() as s:
        erase(s, s.get(Dossier, marie_dossier))
        s.commit()
    assert _sets(world) == (0, 0)
