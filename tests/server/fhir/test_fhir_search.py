"""ITI-67 Find Document References: patient, INS, paging, every filter, traces (issue #12)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from server.fhir import codes
from tests.server.conftest import PATIENTS, World
from tests.server.content_samples import CDA
from tests.server.fhir.fhirkit import (
    BASE,
    INS_TEST_NIR,
    follow,
    ids,
    link,
    outcome,
    search,
    valid,
)

MARIE_INS = PATIENTS["marie"][0]


@pytest.fixture
def docs(world: World, marie_dossier: int) -> dict[str, str]:
    """Marie's documents, deposited a day apart, by name -> logical id:
    cr (replaced by cr2), ordo (masked), mine (hers), old (archived), cda (structured)."""
    made: dict[str, str] = {}

    def deposit(name: str, who: str, **fields: Any) -> dict[str, Any]:
        doc = world.deposit(who, marie_dossier, title=name, **fields)
        made[name] = doc["logical_id"]
        world.clock.advance(days=1)
        for actor in world.tokens:  # a day later, everyone signs in again
            world.tokens[actor] = world.open(actor)
        return doc

    d = f"/dossiers/{marie_dossier}/documents"
    deposit(
        "cr",
        "gp",
        created_at="2026-01-10T09:00:00+01:00",
        service_start="2026-01-05T08:00:00+01:00",
        service_end="2026-01-06T18:00:00+01:00",
    )
    deposit(
        "ordo",
        "gp",
        category="prescription",
        type_code="57833-6",
        masked_ps=True,
        created_at="2025-05-01T10:00:00+02:00",
    )
    deposit("mine", "marie", category="depose_patient", type_code="51855-5")
    deposit("old", "gp")
    assert world.call("POST", "gp", f"{d}/{made['old']}/archive").status_code == 200
    deposit("cda", "gp", mime_type="text/xml", content=CDA, type_code="11506-3")
    body = {
        "category": "compte_rendu",
        "type_code": "11488-4",
        "title": "cr2",
        "mime_type": "text/plain",
        "content_base64": "Y29ycmlnw6k=",
        "service_start": "2026-01-05T08:00:00+01:00",
    }
    r = world.call("POST", "gp", f"{d}/{made['cr']}/replace", body)
    assert r.status_code == 201, r.get_json()
    made["cr2"] = r.get_json()["logical_id"]
    return made


def _names(docs: dict[str, str], bundle: dict[str, Any]) -> set[str]:
    by_id = {v: k for k, v in docs.items()}
    return {by_id[i] for i in ids(bundle)}


def test_search_by_patient_is_the_json_listing_as_a_valid_searchset(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    r = search(world, "gp", {"patient": f"Patient/{marie_dossier}"})
    assert r.status_code == 200
    assert r.mimetype == "application/fhir+json"
    assert r.headers["Cache-Control"] == "no-store"
    bundle = valid(r.get_json())
    assert bundle["type"] == "searchset"
    listing = world.call("GET", "gp", f"/dossiers/{marie_dossier}/documents?all=true").get_json()
    assert ids(bundle) == [d["logical_id"] for d in listing["documents"]]  # same order too
    assert bundle["total"] == len(listing["documents"]) == 6
    for entry in bundle["entry"]:
        assert entry["fullUrl"] == f"{BASE}/DocumentReference/{entry['resource']['id']}"
        assert entry["search"] == {"mode": "match"}
    # Absolute reference and bare id alike.
    for value in (f"{BASE}/Patient/{marie_dossier}", str(marie_dossier)):
        again = search(world, "gp", {"patient": value}).get_json()
        assert ids(again) == ids(bundle)


def test_search_by_ins_finds_the_dossier_as_the_lookup_does_and_keeps_it_out_of_links(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    by_patient = search(world, "gp", {"patient": f"Patient/{marie_dossier}"}).get_json()
    before = len(world.trace("marie"))
    r = search(world, "gp", {"patient.identifier": f"{INS_TEST_NIR}|{MARIE_INS}", "_count": "2"})
    bundle = valid(r.get_json())
    assert ids(bundle) == ids(by_patient)[:2]
    assert bundle["total"] == by_patient["total"]
    assert MARIE_INS not in json.dumps(bundle["link"])
    assert f"patient=Patient%2F{marie_dossier}" in str(link(bundle, "next"))
    # Two decisions, as POST /dossiers/lookup then GET .../documents: both traced.
    actions = [(e.action, e.outcome) for e in world.trace("marie")[before:]]
    assert actions == [("dossier:lookup", "allowed"), ("document:list", "allowed")]
    # POST _search keeps the INS out of the URL altogether.
    form = {"patient.identifier": f"{INS_TEST_NIR}|{MARIE_INS}"}
    r = world.client.post("/fhir/R4/DocumentReference/_search", data=form, headers=world.h("gp"))
    assert ids(valid(r.get_json())) == ids(by_patient)


def test_an_ins_under_another_authority_names_no_one(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    # Marie's test identity (OID .10) is not the real NIR of the same digits (.8).
    r = search(world, "gp", {"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.8|{MARIE_INS}"})
    outcome(r, 404, "dossier_not_found")
    json_answer = world.call("POST", "gp", "/dossiers/lookup", {"ins": "255081416802538"})
    assert json_answer.status_code == 404  # the JSON lookup answers an unknown INS alike


def test_paging_follows_next_links_to_every_document_once(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    everything = ids(search(world, "gp", {"patient": f"Patient/{marie_dossier}"}).get_json())
    seen: list[str] = []
    r = search(world, "gp", {"patient": f"Patient/{marie_dossier}", "_count": "4"})
    pages = 0
    while True:
        bundle = valid(r.get_json())
        assert bundle["total"] == len(everything)
        seen += ids(bundle)
        pages += 1
        nxt = link(bundle, "next")
        if nxt is None:
            break
        r = follow(world, "gp", nxt)
    assert (pages, seen) == (2, everything)
    assert link(bundle, "previous") is not None
    counted = search(world, "gp", {"patient": f"Patient/{marie_dossier}", "_count": "0"})
    assert (counted.get_json()["total"], ids(counted.get_json())) == (len(everything), [])
    capped = search(world, "gp", {"patient": f"Patient/{marie_dossier}", "_count": "100000"})
    assert "_count=100&" in str(link(capped.get_json(), "self"))


TRE_A03 = codes.CLASS_TRE_A03
FILTERS: list[tuple[dict[str, str], set[str]]] = [
    ({"status": "current"}, {"cr2", "ordo", "mine", "old", "cda"}),
    ({"status": "superseded"}, {"cr"}),
    ({"status": "entered-in-error"}, set()),
    ({"status": "superseded,current"}, {"cr", "cr2", "ordo", "mine", "old", "cda"}),
    ({"isArchived": "true"}, {"old"}),
    ({"isArchived": "false", "status": "current"}, {"cr2", "ordo", "mine", "cda"}),
    ({"category": "prescription"}, {"ordo"}),
    ({"category": f"{codes.OWN_CATEGORY}|depose_patient"}, {"mine"}),
    ({"category": f"{TRE_A03}|10"}, {"cr", "cr2", "old", "cda"}),
    ({"category": f"{TRE_A03}|"}, {"cr", "cr2", "old", "cda"}),
    ({"category": "prescription,depose_patient"}, {"ordo", "mine"}),
    ({"type": "http://loinc.org|57833-6"}, {"ordo"}),
    ({"type": "other|57833-6"}, set()),
    ({"security-label": "MASQUE_PS"}, {"ordo"}),
    ({"security-label": f"{codes.CONFIDENTIALITY}|N"}, {"cr", "cr2", "ordo", "mine", "old", "cda"}),
    (
        {"format": f"{codes.FORMAT_IHE}|{codes.MIME_SUFFICIENT}"},
        {"cr", "cr2", "ordo", "mine", "old"},
    ),
    ({"date": "2026-06-15"}, {"cr"}),  # submitted on the clock's first day, Paris time
    ({"date": "ge2026-06-18"}, {"old", "cda", "cr2"}),
    ({"date": "lt2026-06-16T12:00:00+02:00"}, {"cr"}),
    ({"date": "ge2026-06-16", "_count": "50"}, {"ordo", "mine", "old", "cda", "cr2"}),
    ({"creation": "2025"}, {"ordo"}),
    ({"creation": "2026-01-10T09:00+01:00"}, {"cr"}),
    ({"period": "2026-01"}, {"cr"}),  # cr2 has no end: an ongoing period is not inside
    ({"period": "ge2026-01-06"}, {"cr", "cr2"}),
    ({"period": "lt2026-01-01"}, set()),
    ({"period-start": "2026-01-05"}, {"cr", "cr2"}),
    ({"period-end": "le2026-01-07"}, {"cr"}),
    ({"author.family": "tes"}, {"cr", "cr2", "ordo", "old", "cda"}),
    ({"author.given": "GP"}, {"cr", "cr2", "ordo", "old", "cda"}),
    ({"author.given:exact": "gp"}, set()),
    ({"author.given:contains": "p"}, {"cr", "cr2", "ordo", "old", "cda"}),
    ({"author.given": "marie"}, set()),  # a patient author has no professional name
    ({"relation": "replaces"}, {"cr2"}),
    ({"facility": "SA01"}, set()),  # not recorded: nothing answers
    ({"setting": "x"}, set()),
    ({"event": "x"}, set()),
    ({"related": "x"}, set()),
    ({"unknown-parameter": "ignored"}, {"cr", "cr2", "ordo", "mine", "old", "cda"}),
]


@pytest.mark.parametrize(("filters", "expected"), FILTERS)
def test_each_filter_narrows_the_listing(
    world: World,
    marie_dossier: int,
    docs: dict[str, str],
    filters: dict[str, str],
    expected: set[str],
) -> None:
    query = {"patient": f"Patient/{marie_dossier}", **filters}
    bundle = valid(search(world, "gp", query).get_json())
    assert _names(docs, bundle) == expected
    assert bundle["total"] == len(expected)


def test_filters_by_ids_and_relations(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    def names(**filters: str) -> set[str]:
        query = {"patient": f"Patient/{marie_dossier}", **filters}
        return _names(docs, valid(search(world, "gp", query).get_json()))

    cr2 = world.call("GET", "gp", f"/dossiers/{marie_dossier}/documents/{docs['cr2']}")
    meta = cr2.get_json()
    assert names(_id=docs["cr2"]) == {"cr2"}
    assert names(_id=f"{docs['cr2']},{docs['old']}") == {"cr2", "old"}
    assert names(identifier=f"urn:ietf:rfc:3986|urn:uuid:{meta['entry_uuid']}") == {"cr2"}
    assert names(identifier=meta["unique_id"]) == {"cr2"}
    assert names(relatesto=f"DocumentReference/{docs['cr']}") == {"cr2"}
    assert names(relatesto=f"{BASE}/DocumentReference/{docs['cr']}") == {"cr2"}


def test_unknown_parameters_fail_a_strict_search(world: World, marie_dossier: int) -> None:
    query = {"patient": f"Patient/{marie_dossier}", "unknown-parameter": "x"}
    r = world.client.get(
        "/fhir/R4/DocumentReference",
        query_string=query,
        headers=world.h("gp", Prefer="handling=strict"),
    )
    outcome(r, 400, "parameter_unknown")
    lenient = search(world, "gp", query).get_json()
    assert "unknown-parameter" not in json.dumps(lenient["link"])  # ignored, not echoed


def test_each_search_is_traced_as_a_listing_with_what_it_returned_not_what_it_sought(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    query = {"patient": f"Patient/{marie_dossier}", "category": "prescription", "_count": "1"}
    assert search(world, "gp", query).status_code == 200
    entry = world.trace("marie")[-1]
    assert (entry.action, entry.outcome, entry.mode) == (
        "document:list",
        "allowed",
        "medecin_traitant",
    )
    detail = json.loads(entry.detail)
    assert detail == {
        "all": True,
        "fhir": "ITI-67",
        "filters": ["category"],
        "matched": 1,
        "returned": 1,
    }
    history = world.call("GET", "marie", f"/dossiers/{marie_dossier}/history").get_json()
    assert "1 document trouvé" in json.dumps(history, ensure_ascii=False)


def test_the_patient_searches_her_own_dossier(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    hidden = world.deposit("gp", marie_dossier, title="annonce", invisible_patient=True)
    bundle = valid(search(world, "marie", {"patient": f"Patient/{marie_dossier}"}).get_json())
    assert hidden["logical_id"] not in ids(bundle)
    assert bundle["total"] == 6
    mine = next(e["resource"] for e in bundle["entry"] if e["resource"]["id"] == docs["mine"])
    author = mine["contained"][0]
    assert author["resourceType"] == "Patient"
    assert author["link"][0]["other"]["reference"] == f"Patient/{marie_dossier}"


def test_callers_the_listing_refuses_get_the_same_refusal(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    for who, reason in (
        ("pharmacien", "no_authorisation"),
        ("jean", "not_a_party"),
        ("insurer", "insurer_reads_nothing"),
        ("mutuelle", "forbidden_actor"),
        ("travail", "not_an_eligible_profession"),
    ):
        listing = world.call("GET", who, f"/dossiers/{marie_dossier}/documents?all=true")
        r = search(world, who, {"patient": f"Patient/{marie_dossier}"})
        outcome(r, listing.status_code, listing.get_json()["reason"])
        assert listing.get_json()["reason"] == reason
    unknown = search(world, "gp", {"patient": "Patient/999999"})
    listing = world.call("GET", "gp", "/dossiers/999999/documents?all=true")
    outcome(unknown, listing.status_code, listing.get_json()["reason"])


def test_anonymous_and_unknown_tokens_get_401(world: World, marie_dossier: int) -> None:
    query = {"patient": f"Patient/{marie_dossier}"}
    r = search(world, None, query)
    outcome(r, 401)
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = world.client.get(
        "/fhir/R4/DocumentReference",
        query_string=query,
        headers={"Authorization": "Bearer not-a-session"},
    )
    outcome(r, 401, "session_invalid")


def test_an_ongoing_emergency_is_said_in_the_bundle(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    r = world.call(
        "POST",
        "urgentiste",
        f"/dossiers/{marie_dossier}/emergency-access",
        {"mode": "bris_de_glace", "reason": "AVC"},
    )
    assert r.status_code in (200, 201), r.get_json()
    bundle = valid(search(world, "urgentiste", {"patient": f"Patient/{marie_dossier}"}).get_json())
    notes = [e for e in bundle["entry"] if e["search"]["mode"] == "outcome"]
    assert len(notes) == 1
    assert notes[0]["resource"]["issue"][0]["severity"] == "warning"
    assert "ordo" not in _names(docs, bundle)  # masked stays hidden under bris de glace
    assert bundle["total"] == len(ids(bundle))


def test_dates_without_a_zone_are_paris_days(
    world: World, marie_dossier: int, docs: dict[str, str]
) -> None:
    # cr was submitted at 10:00 UTC on 15 June: 12:00 in Paris, still the 15th.
    assert world.clock.now > datetime(2026, 6, 15, tzinfo=UTC)
    query = {"patient": f"Patient/{marie_dossier}", "date": "2026-06-15T11:59Z"}
    assert ids(search(world, "gp", query).get_json()) == []
    query["date"] = "2026-06-15T12:00+02:00"
    assert ids(search(world, "gp", query).get_json()) == [docs["cr"]]
