"""Any query string, id, Bundle or patch on the FHIR routes: an OperationOutcome 4xx or a
valid answer, never a 500, never a document the JSON listing does not show the caller,
and a refused Bundle writes nothing."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from server.fhir import codes, params
from tests.server.conftest import World
from tests.server.fhir import mhdkit
from tests.server.fhir.fhirkit import ids, valid

FUZZ = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NAMES = [*params.SEARCH_PARAMETERS, "_count", "_offset", "_format", "patient.identifier"]
# Values near the grammar: prefixes, separators, escapes, digits of other scripts.
PIECES = st.sampled_from(
    [
        "ge",
        "lt",
        "sa",
        "2026",
        "-01",
        "-31",
        "T10:00",
        "Z",
        "+02:00",
        ",",
        "|",
        "\\",
        "٣",
        "urn:oid:1.2.250.1.213.1.4.10",
        "279035121518989",
        "current",
        "N",
        "MASQUE_PS",
        ":",
        "/",
        '"',
        "hépatite",
        "submissionset",
    ]
)
VALUE = st.one_of(st.text(max_size=30), st.lists(PIECES, max_size=6).map("".join))


@pytest.fixture
def target(world: World, marie_dossier: int) -> tuple[World, int, set[str]]:
    member = {"national_id": world.nid("infirmier")}
    world.call("POST", "marie", f"/dossiers/{marie_dossier}/care-team", member)
    world.deposit("gp", marie_dossier, title="visible")
    world.deposit("gp", marie_dossier, title="masqué", masked_ps=True)
    sent = mhdkit.bundle(
        marie_dossier,
        {"title": "lot visible", "content": b"hepatite"},
        {"title": "lot masque", "content": b"hepatite B", "labels": ("MASQUE_PS",)},
    )
    assert mhdkit.post(world, "gp", sent).status_code == 200
    listing = world.call("GET", "infirmier", f"/dossiers/{marie_dossier}/documents?all=true")
    shown = {d["logical_id"] for d in listing.get_json().get("documents", [])}
    assert shown  # the care team reads the unmasked documents, never the masked ones
    return world, marie_dossier, shown


def clean(response: Any) -> dict[str, Any]:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.mimetype == "application/fhir+json"
    body: dict[str, Any] = valid(response.get_json())
    if response.status_code >= 400:
        assert body["resourceType"] == "OperationOutcome"
    return body


@FUZZ
@given(query=st.lists(st.tuples(st.sampled_from(NAMES), VALUE), max_size=4))
def test_any_search_is_clean_and_never_shows_more_than_the_listing(
    target: tuple[World, int, set[str]], query: list[tuple[str, str]]
) -> None:
    world, dossier_id, shown = target
    for who in ("gp", "infirmier"):
        r = world.client.get(
            "/fhir/R4/DocumentReference",
            query_string=[("patient", f"Patient/{dossier_id}"), *query],
            headers=world.h(who),
        )
        body = clean(r)
        if who == "infirmier" and r.status_code == 200:
            assert set(ids(body)) <= shown


LIST_NAMES = ["code", "status", "_count", "_offset", "_format", "patient.identifier", "patient"]


@FUZZ
@given(query=st.lists(st.tuples(st.sampled_from(LIST_NAMES), VALUE), max_size=4))
def test_any_list_search_is_clean_and_never_shows_more_than_the_listing(
    target: tuple[World, int, set[str]], query: list[tuple[str, str]]
) -> None:
    world, dossier_id, shown = target
    r = world.client.get(
        "/fhir/R4/List",
        query_string=[("patient", f"Patient/{dossier_id}"), *query],
        headers=world.h("infirmier"),
    )
    body = clean(r)
    if r.status_code == 200:
        for entry in body.get("entry", []):
            for item in entry["resource"]["entry"]:
                assert item["item"]["reference"].removeprefix("DocumentReference/") in shown


@FUZZ
@given(resource_id=st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s))
def test_any_id_is_clean(target: tuple[World, int, set[str]], resource_id: str) -> None:
    world, _, _ = target
    for kind in ("DocumentReference", "Binary", "List"):
        r = world.client.get(
            f"/fhir/R4/{kind}/{resource_id}",
            headers=world.h("gp", Accept="application/fhir+json"),
        )
        clean(r)


# --- the write routes: ITI-65 Bundles and PATCH -------------------------------------------

# Bundle paths a mutation may hit, and values to put there: near the grammar and far off.
WRITE_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.text(max_size=20),
    st.sampled_from(["current", "urn:uuid:x", "Patient/1", "#auteur", "N", "MASQUE_PS", "AAAA"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=3),
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            out += _paths(item, (*prefix, i))
    return out


def _mutate(tree: Any, path: tuple[Any, ...], value: Any, drop: bool) -> None:
    *steps, last = path
    for step in steps:
        tree = tree[step]
    if drop:
        del tree[last]
    else:
        tree[last] = value


@pytest.fixture
def writer(world: World, marie_dossier: int) -> tuple[World, int, list[tuple[Any, ...]]]:
    template = mhdkit.bundle(marie_dossier, {}, {})
    return world, marie_dossier, _paths(template)


@FUZZ
@given(data=st.data())
def test_any_mutated_bundle_is_clean_and_all_or_nothing(
    writer: tuple[World, int, list[tuple[Any, ...]]], data: st.DataObject
) -> None:
    world, dossier_id, paths = writer
    sent = mhdkit.bundle(dossier_id, {}, {})
    for _ in range(data.draw(st.integers(min_value=1, max_value=3))):
        path = data.draw(st.sampled_from(paths))
        try:
            _mutate(sent, path, data.draw(WRITE_VALUES), data.draw(st.booleans()))
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed or replaced the parent
    before = mhdkit.count(world)
    r = world.client.post("/fhir/R4", json=sent, headers=world.h("gp"))
    body = clean(r)
    if r.status_code >= 400:
        assert mhdkit.count(world) == before
    else:
        assert body["type"] == "transaction-response"
        assert mhdkit.count(world) == before + 2  # both documents, never one


PATCH_OPS = st.lists(
    st.fixed_dictionaries(
        {
            "op": st.sampled_from(["add", "remove", "replace", "test", "move", "x"]),
            "path": st.sampled_from(
                [
                    "/securityLabel",
                    "/securityLabel/-",
                    "/securityLabel/0",
                    "/securityLabel/1",
                    "/securityLabel/0/coding/0/code",
                    "/extension/0/valueBoolean",
                    "/extension",
                    "/extension/-",
                    "/title",
                    "",
                    "/securityLabel/99",
                ]
            ),
        },
        optional={"value": WRITE_VALUES, "from": st.sampled_from(["/securityLabel/0", "/id"])},
    ),
    max_size=4,
)


@FUZZ
@given(ops=st.one_of(PATCH_OPS, WRITE_VALUES))
def test_any_patch_is_clean(target: tuple[World, int, set[str]], ops: Any) -> None:
    world, dossier_id, _ = target
    listing = world.call("GET", "gp", f"/dossiers/{dossier_id}/documents?all=true").get_json()
    logical_id = listing["documents"][0]["logical_id"]
    for who in ("gp", "infirmier"):
        r = world.client.patch(
            f"/fhir/R4/DocumentReference/{logical_id}",
            data=json.dumps(ops),
            headers=world.h(who, **{"Content-Type": "application/json-patch+json"}),
        )
        clean(r)


# FHIRPath Patch: operations near PDSm's (paths, functions, value types) and far off.
_FHIRPATH_VALUE = st.one_of(
    st.fixed_dictionaries({"valueBoolean": st.booleans()}),
    st.fixed_dictionaries({"valueCode": st.sampled_from(["superseded", "current", "N", ""])}),
    st.fixed_dictionaries({"valueString": st.text(min_size=1, max_size=10)}),
    st.fixed_dictionaries(
        {
            "valueCodeableConcept": st.fixed_dictionaries(
                {
                    "coding": st.lists(
                        st.fixed_dictionaries(
                            {"code": st.sampled_from(["MASQUE_PS", "N", "INVISIBLE_PATIENT", "x"])},
                            optional={"system": st.sampled_from([codes.VISIBILITY_TRE_A07, "x"])},
                        ),
                        min_size=1,
                        max_size=2,
                    )
                }
            )
        }
    ),
    st.fixed_dictionaries(
        {
            "part": st.lists(
                st.sampled_from(
                    [
                        {"name": "url", "valueUri": codes.IS_DELETED},
                        {"name": "url", "valueUri": codes.IS_ARCHIVED},
                        {"name": "valueBoolean", "valueBoolean": True},
                        {"name": "valueBoolean", "valueBoolean": False},
                        {"name": "x", "valueString": "y"},
                        {"name": "url", "valueBoolean": True},
                    ]
                ),
                min_size=1,
                max_size=3,
            )
        }
    ),
)
_FHIRPATH_PATHS = st.sampled_from(
    [
        "DocumentReference",
        "DocumentReference.status",
        "DocumentReference.securityLabel",
        "DocumentReference.securityLabel.where(coding.code='MASQUE_PS')",
        "DocumentReference.securityLabel.where(coding.code='N')",
        f"DocumentReference.extension.where(url='{codes.IS_ARCHIVED}').value",
        f"DocumentReference.extension.where(url='{codes.IS_DELETED}').value",
        "DocumentReference.extension.where(url=').value",
        "DocumentReference.securityLabel.first()",
        "DocumentReference.content.attachment.title",
        "",
        "((((",
    ]
)
FHIRPATH_OPS = st.lists(
    st.builds(
        lambda kind, path, name, value: {
            "name": "operation",
            "part": [
                {"name": "type", "valueCode": kind},
                {"name": "path", "valueString": path},
                *([{"name": "name", "valueString": name}] if name else []),
                *([{"name": "value", **value}] if value else []),
            ],
        },
        st.sampled_from(["add", "delete", "replace", "insert", "move", "x"]),
        _FHIRPATH_PATHS,
        st.sampled_from([None, "securityLabel", "extension", "note"]),
        st.one_of(st.none(), _FHIRPATH_VALUE),
    ),
    min_size=1,
    max_size=4,
).map(lambda ops: {"resourceType": "Parameters", "parameter": ops})


@FUZZ
@given(body=st.one_of(FHIRPATH_OPS, WRITE_VALUES))
def test_any_fhirpath_patch_is_clean(target: tuple[World, int, set[str]], body: Any) -> None:
    world, dossier_id, _ = target
    listing = world.call("GET", "gp", f"/dossiers/{dossier_id}/documents?all=true").get_json()
    logical_id = listing["documents"][0]["logical_id"]
    for who in ("gp", "infirmier"):
        r = world.client.patch(
            f"/fhir/R4/DocumentReference/{logical_id}",
            data=json.dumps(body),
            headers=world.h(who, **{"Content-Type": "application/fhir+json"}),
        )
        clean(r)


@FUZZ
@given(
    resource_id=st.one_of(
        st.text(min_size=1, max_size=80).filter(lambda s: "/" not in s),
        st.integers(min_value=-(2**70), max_value=2**70).map(str),
    ),
    query=st.lists(
        st.tuples(st.sampled_from(["identifier", "_format", "profile", "patient"]), VALUE),
        max_size=3,
    ),
)
def test_any_summary_request_is_clean(
    target: tuple[World, int, set[str]], resource_id: str, query: list[tuple[str, str]]
) -> None:
    """IPS $summary, instance and type level (server/fhir/summary_routes.py)."""
    world, dossier_id, shown = target
    # Percent-encoded: a "?" or "#" in the id is the id's, not a query or a fragment.
    quoted = quote(resource_id, safe="")
    for path in (f"/fhir/R4/Patient/{quoted}/$summary", "/fhir/R4/Patient/$summary"):
        r = world.client.get(path, query_string=query, headers=world.h("infirmier"))
        clean(r)
    r = world.client.get(f"/fhir/R4/Patient/{dossier_id}/$summary", headers=world.h("infirmier"))
    body = clean(r)
    drew_on = {
        e["resource"]["entity"][0]["what"]["reference"].split("/")[1]
        for e in body.get("entry", [])
        if e["resource"]["resourceType"] == "Provenance"
    }
    assert drew_on <= shown


@pytest.mark.parametrize("filler", [None, [], {}, "", 0], ids=repr)
def test_every_field_emptied_in_turn_is_clean_and_writes_nothing(
    writer: tuple[World, int, list[tuple[Any, ...]]], filler: Any
) -> None:
    """Each field of the Bundle set to null or an empty value, one at a time (the random
    search above once found `type: null` taken for an absent type, then read as an object):
    a 4xx and no write, or a full write, never a 500."""
    world, dossier_id, paths = writer
    for path in paths:
        sent = mhdkit.bundle(dossier_id, {}, {})
        _mutate(sent, path, filler, drop=False)
        before = mhdkit.count(world)
        r = world.client.post("/fhir/R4", json=sent, headers=world.h("gp"))
        clean(r)
        assert mhdkit.count(world) in (before, before + 2), path
