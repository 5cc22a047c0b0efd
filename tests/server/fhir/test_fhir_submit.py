"""ITI-65 Provide Document Bundle: deposits and replacements through the JSON API's
services (same decision, same trace), all or nothing, every answer valid FHIR."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fhirpy import SyncFHIRClient
from sqlalchemy import select, update
from werkzeug.serving import make_server

from server.fhir import codes
from server.labels import CATEGORIES
from server.models import Document
from tests.server.conftest import PATIENTS, World, doc
from tests.server.fhir.fhirkit import get, outcome, valid
from tests.server.fhir.mhdkit import NIR_TEST, bundle, count, post, resources, sha1

BODY = "Compte rendu : tension 12/8, poursuite du traitement. Été.".encode()


def _last(world: World, patient: str = "marie") -> tuple[Any, ...]:
    e = world.trace(patient)[-1]
    return (e.action, e.outcome, e.reason, e.mode, e.category)


def _locations(answer: dict[str, Any]) -> list[str | None]:
    return [e["response"].get("location") for e in answer["entry"]]


def test_a_bundle_deposits_each_document_with_its_binary(world: World, marie_dossier: int) -> None:
    sent = bundle(
        marie_dossier,
        {"content": BODY, "title": "Consultation"},
        {"content": b"Ordonnance : paracetamol", "title": "Ordonnance", "labels": ("MASQUE_PS",)},
    )
    before = len(world.trace("marie"))
    r = post(world, "gp", sent)
    assert r.status_code == 200, r.get_json()
    assert r.mimetype == "application/fhir+json"
    answer = valid(r.get_json())
    assert answer["type"] == "transaction-response"
    # One answer per entry, in order: the submission set kept, each resource created.
    statuses = [e["response"]["status"] for e in answer["entry"]]
    assert statuses == ["201 Created"] * 5
    locations = _locations(answer)
    assert str(locations[0]).startswith("List/")  # test_fhir_lists.py reads it back
    doc_ids = [loc.split("/")[1] for loc in locations[1::2] if loc]
    assert locations[2::2] == [f"Binary/{i}" for i in doc_ids]
    # Each is read back as PDSm wants it, with the hash and size of what was sent.
    first = valid(get(world, "gp", f"/DocumentReference/{doc_ids[0]}").get_json())
    attachment = first["content"][0]["attachment"]
    assert (attachment["hash"], attachment["size"]) == (sha1(BODY), len(BODY))
    assert attachment["title"] == "Consultation"
    assert first["context"]["period"]["start"].startswith("2026-06-15T07:00:00")
    second = valid(get(world, "gp", f"/DocumentReference/{doc_ids[1]}").get_json())
    codes_ = {c["code"] for label in second["securityLabel"] for c in label["coding"]}
    assert codes_ == {"N", "MASQUE_PS"}
    content = world.client.get(f"/fhir/R4/Binary/{doc_ids[0]}", headers=world.h("gp"))
    assert content.get_data() == BODY
    # The same trace as two JSON deposits: document:deposit, allowed, by the GP.
    added = world.trace("marie")[before:]
    deposits = [e for e in added if e.action == "document:deposit"]
    assert [(e.outcome, e.actor_kind) for e in deposits] == [("allowed", "professional")] * 2
    json_made = world.deposit("gp", marie_dossier)
    assert json_made["logical_id"] not in doc_ids
    assert _last(world)[:4] == (
        deposits[0].action,
        *(deposits[0].outcome, deposits[0].reason, deposits[0].mode),
    )


def test_the_sha1_is_kept_sealed_and_older_rows_still_get_theirs(
    world: World, marie_dossier: int
) -> None:
    r = post(world, "gp", bundle(marie_dossier, {"content": BODY}))
    logical_id = r.get_json()["entry"][1]["response"]["location"].split("/")[1]
    digest = hashlib.sha1(BODY, usedforsecurity=False).digest()
    with world.rt.sessions() as s:
        sealed = s.scalar(select(Document.sha1).where(Document.logical_id == logical_id))
    assert sealed is not None
    assert digest not in sealed  # not in clear at rest
    assert len(sealed) == 12 + 20 + 16  # nonce, digest, tag
    # A JSON deposit keeps it too (the same service).
    made = world.deposit("gp", marie_dossier, content=b"autre")
    with world.rt.sessions() as s:
        row = s.scalars(select(Document).where(Document.logical_id == made["logical_id"])).one()
        assert row.sha1 is not None
        # A row stored before migration 0015: no sealed digest, computed from the content.
        s.execute(update(Document).where(Document.id == row.id).values(sha1=None))
        s.commit()
    old = valid(get(world, "gp", f"/DocumentReference/{made['logical_id']}").get_json())
    assert old["content"][0]["attachment"]["hash"] == sha1(b"autre")
    new = valid(get(world, "gp", f"/DocumentReference/{logical_id}").get_json())
    assert new["content"][0]["attachment"]["hash"] == sha1(BODY)


def test_a_bundle_by_ins_finds_the_dossier_as_the_lookup_does(
    world: World, marie_dossier: int
) -> None:
    subject = {"identifier": {"system": NIR_TEST, "value": PATIENTS["marie"][0]}}
    r = post(world, "gp", bundle(marie_dossier, {}, subject=subject))
    assert r.status_code == 200, r.get_json()
    actions = [e.action for e in world.trace("marie")[-2:]]
    assert actions == ["dossier:lookup", "document:deposit"]
    # An INS under the real NIR's OID is another identifier: nobody's.
    real = {"identifier": {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": PATIENTS["marie"][0]}}
    n = count(world)
    r = post(world, "gp", bundle(marie_dossier, {}, subject=real))
    assert r.status_code in (403, 404), r.get_json()
    outcome(r, r.status_code)
    assert count(world) == n


def test_replacement_supersedes_the_old_version(world: World, marie_dossier: int) -> None:
    old = world.deposit("gp", marie_dossier, title="v1", content=b"version 1")
    r = post(
        world,
        "gp",
        bundle(
            marie_dossier, {"content": b"version 2", "title": "v2", "replaces": old["logical_id"]}
        ),
    )
    assert r.status_code == 200, r.get_json()
    new_id = r.get_json()["entry"][1]["response"]["location"].split("/")[1]
    was = valid(get(world, "gp", f"/DocumentReference/{old['logical_id']}").get_json())
    assert was["status"] == "superseded"
    now = valid(get(world, "gp", f"/DocumentReference/{new_id}").get_json())
    assert now["status"] == "current"
    assert now["relatesTo"] == [
        {"code": "replaces", "target": {"reference": f"DocumentReference/{old['logical_id']}"}}
    ]
    found = world.client.get(
        f"/fhir/R4/DocumentReference?patient=Patient/{marie_dossier}&status=superseded",
        headers=world.h("gp"),
    ).get_json()
    assert [e["resource"]["id"] for e in found["entry"]] == [old["logical_id"]]
    replaced = [e for e in world.trace("marie") if e.action == "document:replace"]
    assert [(e.outcome, e.target) for e in replaced] == [
        ("allowed", f"document:{old['logical_id']}")
    ]
    # Replacing it again (it is superseded now) is the JSON API's refusal, nothing written.
    n = count(world)
    again = bundle(marie_dossier, {"replaces": old["logical_id"]})
    r = post(world, "gp", again)
    json_r = world.call(
        "POST", "gp", f"/dossiers/{marie_dossier}/documents/{old['logical_id']}/replace", doc()
    )
    assert r.status_code == json_r.status_code >= 400
    outcome(r, json_r.status_code, json_r.get_json()["reason"])
    assert count(world) == n


# --- every rejection writes nothing ------------------------------------------------------


def _doc(b: dict[str, Any], i: int = 0) -> dict[str, Any]:
    return resources(b, "DocumentReference")[i]


def _attachment(b: dict[str, Any], i: int = 0) -> dict[str, Any]:
    found: dict[str, Any] = _doc(b, i)["content"][0]["attachment"]
    return found


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(b: dict[str, Any]) -> None:
        target: Any = b
        *steps, last = path.split(".")
        for step in steps:
            target = target[int(step)] if step.isdigit() else target[step]
        if value is _DELETE:
            del target[int(last) if last.isdigit() else last]
        else:
            target[int(last) if last.isdigit() else last] = value

    return change


def _both(*changes: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def change(b: dict[str, Any]) -> None:
        for one in changes:
            one(b)

    return change


_DELETE = object()
SECOND_DOC = "entry.3.resource"  # the second document of a two-document Bundle
CASES: list[tuple[str, Callable[[dict[str, Any]], None], int, str]] = [
    ("hash", _set(f"{SECOND_DOC}.content.0.attachment.hash", sha1(b"other")), 422, "hash_mismatch"),
    ("hash_not_sha1", _set(f"{SECOND_DOC}.content.0.attachment.hash", "AAAA"), 422, "hash_invalid"),
    ("size", _set(f"{SECOND_DOC}.content.0.attachment.size", 3), 422, "size_mismatch"),
    (
        "binary_unresolved",
        _set(
            f"{SECOND_DOC}.content.0.attachment.url",
            "urn:uuid:6a1c3d1e-0000-4000-8000-000000000000",
        ),
        400,
        "reference_unresolved",
    ),
    (
        "list_unresolved",
        _set(
            "entry.0.resource.entry.0.item.reference",
            "urn:uuid:6a1c3d1e-0000-4000-8000-000000000001",
        ),
        400,
        "reference_unresolved",
    ),
    (
        "not_a_number",
        _set(f"{SECOND_DOC}.content.0.attachment.size", "big"),
        400,
        "resource_invalid",
    ),
    ("unknown_element", _set(f"{SECOND_DOC}.colour", "blue"), 400, "resource_invalid"),
    ("superseded_status", _set(f"{SECOND_DOC}.status", "superseded"), 422, "status_unsupported"),
    (
        "no_title",
        _set(f"{SECOND_DOC}.content.0.attachment.title", _DELETE),
        422,
        "attachment_title_required",
    ),
    (
        "no_hash",
        _set(f"{SECOND_DOC}.content.0.attachment.hash", _DELETE),
        422,
        "attachment_hash_required",
    ),
    (
        "no_size",
        _set(f"{SECOND_DOC}.content.0.attachment.size", _DELETE),
        422,
        "attachment_size_required",
    ),
    ("no_custodian", _set(f"{SECOND_DOC}.custodian", _DELETE), 422, "custodian_required"),
    ("no_date", _set(f"{SECOND_DOC}.date", _DELETE), 422, "date_required"),
    ("no_author", _set(f"{SECOND_DOC}.author", _DELETE), 422, "author_required"),
    (
        "author_outside",
        _set(f"{SECOND_DOC}.author.0.reference", "Practitioner/1"),
        422,
        "author_not_contained",
    ),
    (
        "not_loinc",
        _set(f"{SECOND_DOC}.type.coding.0.system", "http://snomed.info/sct"),
        422,
        "type_required",
    ),
    (
        "category",
        _set(f"{SECOND_DOC}.category.0.coding.0.code", "inconnue"),
        422,
        "category_invalid",
    ),
    (
        "restricted",
        _set(f"{SECOND_DOC}.securityLabel.0.coding.0.code", "R"),
        422,
        "security_label_unsupported",
    ),
    (
        "no_confidentiality",
        _set(
            f"{SECOND_DOC}.securityLabel",
            [{"coding": [{"system": codes.VISIBILITY_TRE_A07, "code": "MASQUE_PS"}]}],
        ),
        422,
        "confidentiality_required",
    ),
    (
        "other_patient",
        _set(f"{SECOND_DOC}.subject.reference", "Patient/999"),
        422,
        "subject_mismatch",
    ),
    ("mime", _set("entry.4.resource.contentType", "application/pdf"), 422, "content_type_mismatch"),
    ("base64", _set("entry.4.resource.data", "%%%"), 400, "binary_data_invalid"),
    ("batch", _set("type", "batch"), 400, "bundle_type_invalid"),
    ("put", _set("entry.3.request.method", "PUT"), 422, "entry_request_unsupported"),
    ("full_url", _set("entry.3.fullUrl", "DocumentReference/1"), 400, "full_url_invalid"),
    ("no_list", _set("entry.0", _DELETE), 422, "submission_set_required"),
    (
        "list_code",
        _set("entry.0.resource.code.coding.0.code", "folder"),
        422,
        "submission_set_code_required",
    ),
    (
        "list_incomplete",
        _set("entry.0.resource.entry", [{"item": {"reference": "#x"}}]),
        400,
        "reference_unresolved",
    ),
    (
        "relation",
        _set(
            f"{SECOND_DOC}.relatesTo",
            [{"code": "appends", "target": {"reference": "DocumentReference/x"}}],
        ),
        422,
        "relation_unsupported",
    ),
    (
        "inline_data",
        _set(f"{SECOND_DOC}.content.0.attachment.data", "QUJD"),
        422,
        "attachment_data_unsupported",
    ),
    (
        "title_control",
        _set(f"{SECOND_DOC}.content.0.attachment.title", "a\u202eb"),
        422,
        "character_forbidden",
    ),
    (
        "long_title",
        _set(f"{SECOND_DOC}.content.0.attachment.title", "é" * 301),
        422,
        "title_invalid",
    ),
    ("bad_loinc", _set(f"{SECOND_DOC}.type.coding.0.code", "abc"), 422, "type_code_invalid"),
    (
        "invisible_and_masked",
        _set(
            f"{SECOND_DOC}.securityLabel",
            [
                {"coding": [{"system": codes.CONFIDENTIALITY, "code": "N"}]},
                {"coding": [{"system": codes.VISIBILITY_TRE_A07, "code": "MASQUE_PS"}]},
                {"coding": [{"system": codes.VISIBILITY_TRE_A07, "code": "INVISIBLE_PATIENT"}]},
            ],
        ),
        422,
        "flags_incompatible",
    ),
    (
        "patient_resource",
        _both(
            _set("entry.4.resource", {"resourceType": "Patient"}),
            _set("entry.4.request.url", "Patient"),
        ),
        422,
        "resource_type_unsupported",
    ),
]


@pytest.mark.parametrize(("name", "change", "status", "reason"), CASES, ids=[c[0] for c in CASES])
def test_a_bad_bundle_writes_nothing(
    world: World,
    marie_dossier: int,
    name: str,
    change: Callable[[dict[str, Any]], None],
    status: int,
    reason: str,
) -> None:
    sent = bundle(marie_dossier, {"content": b"premier"}, {"content": b"second"})
    change(sent)
    n, traced = count(world), len(world.trace("marie"))
    outcome(post(world, "gp", sent), status, reason)
    assert count(world) == n
    # The first document was valid: nothing of it is kept, not even an allowed trace.
    assert all(e.outcome == "denied" for e in world.trace("marie")[traced:])


def test_a_second_document_refused_at_deposit_undoes_the_first(
    world: World, marie_dossier: int
) -> None:
    taken = world.deposit("gp", marie_dossier, unique_id="urn:oid:1.2.3.4")
    sent = bundle(marie_dossier, {}, {"unique_id": taken["unique_id"]})
    n = count(world)
    outcome(post(world, "gp", sent), 409, "unique_id_exists")
    assert count(world) == n
    last = world.trace("marie")[-1]
    assert (last.action, last.outcome, last.reason) == (
        "document:deposit",
        "denied",
        "unique_id_exists",
    )
    # A PDF that is not one: the content check of the JSON API, nothing written.
    fake = bundle(marie_dossier, {}, {"mime": "application/pdf", "content": b"not a pdf"})
    r = post(world, "gp", fake)
    assert 400 <= r.status_code < 500
    outcome(r, r.status_code)
    assert count(world) == n


def test_the_author_is_the_signed_in_professional(world: World, marie_dossier: int) -> None:
    sent = bundle(marie_dossier, {"who": "infirmier"})
    n = count(world)
    outcome(post(world, "gp", sent), 422, "author_mismatch")
    assert count(world) == n


def test_protocol_errors_are_outcomes(world: World, marie_dossier: int) -> None:
    sent = bundle(marie_dossier)
    outcome(post(world, None, sent), 401)
    r = world.client.post(
        "/fhir/R4/", data=json.dumps(sent), headers=world.h("gp", **{"Content-Type": "text/xml"})
    )
    outcome(r, 415, "content_type_unsupported")
    r = world.client.post(
        "/fhir/R4", data=b"{", headers=world.h("gp", **{"Content-Type": "application/fhir+json"})
    )
    outcome(r, 400, "json_malformed")
    outcome(post(world, "gp", [1, 2]), 400, "bundle_expected")
    deep: Any = "x"
    for _ in range(40):
        deep = {"a": deep}
    outcome(post(world, "gp", {"resourceType": "Bundle", "type": "transaction", "x": deep}), 400)
    many = bundle(marie_dossier, *({} for _ in range(21)))
    outcome(post(world, "gp", many), 422, "bundle_too_large")
    # The trailing slash form of the base URL is the same endpoint.
    r = world.client.post("/fhir/R4/", json=bundle(marie_dossier), headers=world.h("gp"))
    assert r.status_code == 200, r.get_json()


# --- same decision, same trace as the JSON API ------------------------------------------


ACTORS = ["gp", "infirmier", "pharmacien", "travail", "marie", "jean", "insurer", "mutuelle"]


@pytest.mark.parametrize("who", ACTORS)
def test_each_actor_gets_the_json_apis_decision_for_each_category(
    world: World, marie_dossier: int, who: str
) -> None:
    for category in CATEGORIES:
        mime = "text/plain"
        json_r = world.call(
            "POST", who, f"/dossiers/{marie_dossier}/documents", doc(category, content=b"json")
        )
        json_trace = _last(world)
        n = count(world)
        r = post(
            world, who, bundle(marie_dossier, {"who": who, "category": category, "mime": mime})
        )
        assert r.status_code == json_r.status_code or (
            r.status_code == 200 and json_r.status_code == 201
        ), (category, r.get_json(), json_r.get_json())
        if r.status_code == 200:
            valid(r.get_json())
            assert count(world) == n + 1
        else:
            outcome(r, json_r.status_code, json_r.get_json()["reason"])
            assert count(world) == n
        assert _last(world) == json_trace, category


def test_an_unknown_patient_is_the_json_apis_answer(world: World, marie_dossier: int) -> None:
    n = count(world)
    json_r = world.call("POST", "gp", "/dossiers/987654/documents", doc())
    r = post(world, "gp", bundle(987654))
    outcome(r, json_r.status_code, json_r.get_json()["reason"])
    assert count(world) == n


def test_a_patient_cannot_hide_a_document_from_herself(world: World, marie_dossier: int) -> None:
    n = count(world)
    sent = bundle(marie_dossier, {"who": "marie", "labels": ("INVISIBLE_PATIENT",)})
    outcome(post(world, "marie", sent), 422, "flag_not_allowed")
    assert count(world) == n


# --- a real client ------------------------------------------------------------------------


@pytest.fixture
def served(world: World) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, world.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/fhir/R4"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def test_fhirpy_submits_a_bundle_and_reads_it_back(
    world: World, marie_dossier: int, served: str
) -> None:
    client = SyncFHIRClient(served, authorization=f"Bearer {world.tokens['gp']}")
    answer = client.execute("", method="post", data=bundle(marie_dossier, {"content": BODY}))
    valid(answer)
    location = answer["entry"][1]["response"]["location"]
    kind, logical_id = location.split("/")
    read = client.reference(kind, logical_id).to_resource()
    assert read["content"][0]["attachment"]["hash"] == sha1(BODY)
    found = client.resources("DocumentReference").search(patient=f"Patient/{marie_dossier}")
    assert [d.id for d in found.fetch_all()] == [logical_id]
    binary = client.reference("Binary", logical_id).to_resource()
    assert base64.b64decode(binary["data"]) == BODY
    # A Bundle the server refuses: fhirpy raises with the OperationOutcome.
    bad = bundle(marie_dossier)
    _attachment(bad)["hash"] = sha1(b"x")
    with pytest.raises(Exception, match="hash_mismatch"):
        client.execute("", method="post", data=copy.deepcopy(bad))


def test_a_foreign_document_cannot_be_replaced_through_another_dossier(
    world: World, marie_dossier: int
) -> None:
    jean = world.create("admissions", "jean", medecin_traitant=world.nid("gp"))
    his = world.deposit("gp", jean, title="Jean")
    n = count(world)
    # The GP may write to both dossiers, but a Bundle for Marie names Jean's document.
    r = post(world, "gp", bundle(marie_dossier, {"replaces": his["logical_id"]}))
    outcome(r, 404, "document_not_found")
    assert count(world) == n
    status = world.call("GET", "gp", f"/dossiers/{jean}/documents/{his['logical_id']}").get_json()
    assert status["status"] == "current"
    # Nor a document of nobody: the same answer, nothing written.
    r = post(
        world, "gp", bundle(marie_dossier, {"replaces": "0b1e7c38-0000-4000-8000-000000000000"})
    )
    outcome(r, 404, "document_not_found")
    assert count(world) == n


def test_the_guides_example_bundle_is_accepted(world: World, marie_dossier: int) -> None:
    """docs/fhir.md's copy-paste example, as written there (the patient and the author's
    national id made this world's)."""
    text = (Path(__file__).parents[3] / "docs" / "fhir.md").read_text()
    example = text.split("<<'JSON'\n", 1)[1].split("\nJSON\n", 1)[0]
    example = example.replace("Patient/42", f"Patient/{marie_dossier}")
    r = world.client.post(
        "/fhir/R4",
        data=example.encode(),
        headers=world.h("gp", **{"Content-Type": "application/fhir+json"}),
    )
    assert r.status_code == 200, r.get_json()
    location = r.get_json()["entry"][1]["response"]["location"]
    read = valid(get(world, "gp", f"/{location}").get_json())
    assert read["masterIdentifier"]["value"] == "urn:oid:1.2.250.1.999.1.42"
    assert read["content"][0]["attachment"]["hash"] == "fTe50PFOFyTaDreJd7PkiZs8Ayw="


def test_an_anonymous_bundle_is_not_even_checked(world: World, marie_dossier: int) -> None:
    bad = bundle(marie_dossier)
    bad["type"] = "batch"
    outcome(post(world, None, bad), 401)
    outcome(post(world, None, bad, Authorization="Bearer forged"), 401)


def test_the_insurer_deposits_reimbursement_data_and_reads_nothing(
    world: World, marie_dossier: int
) -> None:
    sent = bundle(
        marie_dossier,
        {"who": "insurer", "category": "remboursement", "title": "Remboursements 2026"},
    )
    r = post(world, "insurer", sent)
    assert r.status_code == 200, r.get_json()
    logical_id = r.get_json()["entry"][1]["response"]["location"].split("/")[1]
    made = valid(get(world, "gp", f"/DocumentReference/{logical_id}").get_json())
    author = {c["id"]: c for c in made["contained"]}["author"]
    assert (author["resourceType"], author["name"]) == ("Organization", "Assurance Maladie")
    # Reading, its own deposit included, is refused and traced, as in the JSON API.
    outcome(get(world, "insurer", f"/DocumentReference/{logical_id}"), 403, "insurer_reads_nothing")
    search = get(world, "insurer", f"/DocumentReference?patient=Patient/{marie_dossier}")
    outcome(search, 403, "insurer_reads_nothing")
    assert _last(world)[:3] == ("document:list", "denied", "insurer_reads_nothing")
    # Any other category is refused to it.
    n = count(world)
    other = bundle(marie_dossier, {"who": "insurer", "category": "compte_rendu"})
    assert post(world, "insurer", other).status_code == 403
    assert count(world) == n
