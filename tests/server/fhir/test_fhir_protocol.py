"""The CapabilityStatement, bad requests (400/406/415/404/405) and the parameter parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from server.fhir import params
from server.frenchtime import PARIS
from tests.server.conftest import PATIENTS, World
from tests.server.fhir.fhirkit import INS_TEST_NIR, get, outcome, search, valid


def test_the_capability_statement_says_exactly_what_is_served(world: World) -> None:
    r = world.client.get("/fhir/R4/metadata")  # public: clients read it before signing in
    assert r.status_code == 200
    statement = valid(r.get_json())
    assert statement["fhirVersion"] == "4.0.1"
    assert statement["format"] == ["application/fhir+json"]
    assert statement["patchFormat"] == ["application/fhir+json", "application/json-patch+json"]
    resources = {x["type"]: x for x in statement["rest"][0]["resource"]}
    assert set(resources) == {"DocumentReference", "Binary", "AuditEvent", "Patient", "List"}
    assert [i["code"] for i in resources["List"]["interaction"]] == ["read", "search-type"]
    # Patient: the IPS $summary operation only, no read or search (test_fhir_summary.py)
    assert "interaction" not in resources["Patient"]
    assert [o["name"] for o in resources["Patient"]["operation"]] == ["summary"]
    assert [i["code"] for i in resources["AuditEvent"]["interaction"]] == ["search-type"]
    assert [i["code"] for i in resources["DocumentReference"]["interaction"]] == [
        "read",
        "search-type",
        "patch",
        "delete",
    ]
    assert [i["code"] for i in statement["rest"][0]["interaction"]] == ["transaction"]
    # Each declared interaction is routed, and no other method is.
    methods: dict[str, set[str]] = {}
    for rule in world.app.url_map.iter_rules():
        if rule.rule.startswith("/fhir/R4"):
            methods.setdefault(rule.rule, set()).update(rule.methods - {"HEAD", "OPTIONS"})
    assert methods["/fhir/R4"] == methods["/fhir/R4/"] == {"POST"}  # transaction
    assert methods["/fhir/R4/DocumentReference/<string:resource_id>"] == {"GET", "PATCH", "DELETE"}
    assert methods["/fhir/R4/Binary/<string:resource_id>"] == {"GET"}
    declared = {p["name"] for p in resources["DocumentReference"]["searchParam"]}
    assert declared == {*params.SEARCH_PARAMETERS, "patient", "patient.identifier"} | {
        "_count",
        "_offset",
    }
    assert "instantiates" not in statement  # neither MHD's nor PDSm's, not yet


MARIE = PATIENTS["marie"][0]
BAD: list[tuple[dict[str, str] | list[tuple[str, str]], str]] = [
    ({}, "patient_required"),
    ({"status": "current"}, "patient_required"),
    ({"patient": "Patient/abc"}, "patient_invalid"),
    ({"patient": "Patient/99999999999999999999"}, "patient_invalid"),
    ({"patient": "Patient/٣"}, "patient_invalid"),  # an Arabic-Indic digit
    ({"patient": "Group/1"}, "patient_invalid"),
    ({"patient:Group": "1"}, "patient_invalid"),
    ([("patient", "Patient/1"), ("patient", "Patient/2")], "patient_invalid"),
    (
        {"patient": "Patient/1", "patient.identifier": f"{INS_TEST_NIR}|{MARIE}"},
        "patient_identifier_invalid",
    ),
    ({"patient.identifier": MARIE}, "patient_identifier_invalid"),
    ({"patient.identifier": f"urn:oid:1.2.3|{MARIE}"}, "patient_identifier_invalid"),
    ({"patient.identifier": f"{INS_TEST_NIR}|279035121518988"}, "patient_identifier_invalid"),
    ({"patient.identifier": f"{INS_TEST_NIR}|٢٧٩٠٣٥١٢١٥١٨٩٨٩"}, "patient_identifier_invalid"),
    ({"patient.identifier": f"urn:oid:1.2.250.1.213.1.4.9|{MARIE}"}, "patient_identifier_invalid"),
    ({"patient": "Patient/1", "_count": "-1"}, "count_invalid"),
    ({"patient": "Patient/1", "_count": "١٠"}, "count_invalid"),
    ({"patient": "Patient/1", "_count": "99999999999999"}, "count_invalid"),
    ({"patient": "Patient/1", "_offset": "100000000"}, "offset_invalid"),
    ({"patient": "Patient/1", "status": "deleted"}, "status_invalid"),
    ({"patient": "Patient/1", "status": "http://x|current"}, "status_invalid"),
    ({"patient": "Patient/1", "isArchived": "yes"}, "isarchived_invalid"),
    ({"patient": "Patient/1", "date": "2026-13-01"}, "date_invalid"),
    ({"patient": "Patient/1", "date": "2026-02-30"}, "date_invalid"),
    ({"patient": "Patient/1", "date": "sa2026"}, "date_invalid"),
    ({"patient": "Patient/1", "date": "yesterday"}, "date_invalid"),
    ({"patient": "Patient/1", "date": "２０２６"}, "date_invalid"),  # full-width digits
    ({"patient": "Patient/1", "period": "2026-01-01T25:00Z"}, "period_invalid"),
    ({"patient": "Patient/1", "date:missing": "true"}, "date_invalid"),
    ({"patient": "Patient/1", "type:text": "compte rendu"}, "type_invalid"),
    ({"patient": "Patient/1", "category": "|"}, "category_invalid"),
    ({"patient": "Patient/1", "category": "a,"}, "category_invalid"),
    ({"patient": "Patient/1", "author.given:fuzzy": "x"}, "author_given_invalid"),
    ({"patient": "Patient/1", "author.family": ""}, "author_family_invalid"),
    ({"patient": "Patient/1", "_id": "a" * 65}, "id_invalid"),
    ({"patient": "Patient/1", "relatesto": "DocumentReference/a b"}, "relatesto_invalid"),
    ({"patient": "Patient/1", "title": "x\x00y"}, "parameter_invalid"),
    ({"patient": "Patient/1", "type": "x" * 300}, "parameter_invalid"),
    ([("patient", "Patient/1")] + [("type", "x")] * 40, "parameters_invalid"),
]


@pytest.mark.parametrize(("query", "reason"), BAD)
def test_bad_parameters_are_a_400_before_anything_is_read(
    world: World, query: dict[str, str] | list[tuple[str, str]], reason: str
) -> None:
    before = len(world.trace("marie"))
    outcome(search(world, "gp", query), 400, reason)
    outcome(search(world, None, query), 400, reason)  # checked before the caller, as /api
    assert len(world.trace("marie")) == before


def test_other_formats_and_bodies_are_refused_in_fhir(world: World, marie_dossier: int) -> None:
    query = {"patient": f"Patient/{marie_dossier}"}
    outcome(search(world, "gp", {**query, "_format": "xml"}), 406, "format_unsupported")
    r = world.client.get(
        "/fhir/R4/DocumentReference",
        query_string=query,
        headers=world.h("gp", Accept="application/fhir+xml"),
    )
    outcome(r, 406, "format_unsupported")
    r = world.client.post("/fhir/R4/DocumentReference/_search", json=query, headers=world.h("gp"))
    outcome(r, 415, "content_type_unsupported")
    outcome(get(world, "gp", "/Patient/1"), 404)
    outcome(get(world, "gp", "/DocumentReference/x/_history"), 404)
    r = world.client.put("/fhir/R4/DocumentReference/x", headers=world.h("gp"))
    outcome(r, 405)
    assert "GET" in r.headers["Allow"]


# --- the parser, without the server -----------------------------------------------------


def test_values_split_on_unescaped_commas_and_bars() -> None:
    assert params.values(r"a,b\,c,d\\") == ["a", "b,c", "d\\"]
    assert params.tokens("t", r"s|c,x\|y,|z,s|") == [
        (True, "s", "c"),
        (False, None, "x|y"),
        (True, None, "z"),
        (True, "s", None),
    ]


D = datetime


@pytest.mark.parametrize(
    ("raw", "low", "high"),
    [
        ("2026", D(2026, 1, 1, tzinfo=PARIS), D(2027, 1, 1, tzinfo=PARIS)),
        ("2026-12", D(2026, 12, 1, tzinfo=PARIS), D(2027, 1, 1, tzinfo=PARIS)),
        ("2026-03-29", D(2026, 3, 29, tzinfo=PARIS), D(2026, 3, 30, tzinfo=PARIS)),
        ("2026-06-15T10:00Z", D(2026, 6, 15, 10, tzinfo=UTC), D(2026, 6, 15, 10, 1, tzinfo=UTC)),
        (
            "2026-06-15T10:00:05.5+02:00",
            D(2026, 6, 15, 8, 0, 5, 500_000, tzinfo=UTC),
            D(2026, 6, 15, 8, 0, 5, 600_000, tzinfo=UTC),
        ),
        # "+02:00" sent unencoded in a URL arrives with a space for its plus sign.
        (
            "2026-06-15T10:00:00 02:00",
            D(2026, 6, 15, 8, tzinfo=UTC),
            D(2026, 6, 15, 8, 0, 1, tzinfo=UTC),
        ),
        ("9999", D(9999, 1, 1, tzinfo=PARIS), None),
    ],
)
def test_a_date_is_the_range_its_precision_covers(
    raw: str, low: datetime, high: datetime | None
) -> None:
    assert params.date_range("date", raw) == (low, high)


JAN = params.date_range("d", "2026-01")
IN, BEFORE, AFTER = (
    D(2026, 1, 10, tzinfo=UTC),
    D(2025, 12, 1, tzinfo=UTC),
    D(2026, 3, 1, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("prefix", "start", "end", "expected"),
    [
        ("eq", IN, IN, True),
        ("eq", BEFORE, IN, False),  # a period must lie inside
        ("eq", IN, None, False),  # an ongoing one never does
        ("ne", BEFORE, BEFORE, True),
        ("gt", IN, IN, False),
        ("gt", IN, AFTER, True),  # overlaps what follows January
        ("gt", IN, None, True),
        ("lt", IN, IN, False),
        ("lt", BEFORE, IN, True),
        ("lt", None, BEFORE, True),
        ("ge", IN, IN, True),
        ("ge", BEFORE, BEFORE, False),
        ("le", IN, IN, True),
        ("le", AFTER, AFTER, False),
        ("le", None, AFTER, True),
    ],
)
def test_date_prefixes_follow_fhir_range_semantics(
    prefix: str, start: datetime | None, end: datetime | None, expected: bool
) -> None:
    assert params.compare(prefix, JAN, start, end) is expected


def test_the_last_instant_of_a_day_is_in_it() -> None:
    low, high = params.date_range("d", "2026-06-15")
    last = datetime(2026, 6, 15, 23, 59, 59, tzinfo=PARIS)
    assert params.compare("eq", (low, high), last, last)
    midnight = last + timedelta(seconds=1)
    assert not params.compare("eq", (low, high), midnight, midnight)
