"""Bad input of any kind gets a JSON 4xx: never a 500, never a traceback, never a write.

Hypothesis sends arbitrary JSON, and valid bodies with one field replaced by anything, to
every documented route, as a caller who may act on the dossier.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from server.models import Base
from tests.server.bodies import valid_bodies
from tests.server.conftest import PATIENTS, World, doc, identity

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=12,
)
# Every optional field present, so that each one gets replaced by something wrong.
VALID_BODIES: dict[str, dict[str, Any]] = {
    "/api/v1/dossiers": {
        "patient": identity("jean", phone="+33600000000", used_name="R", notify_channel="sms"),
        "consent": {"given": True, "terminal": "t"},
        "emergency": {"bris_de_glace": True, "centre_15": False},
        "medecin_traitant": "810002813839",
        "representatives": [],
    },
    "documents": doc(
        unique_id="1.2.3",
        created_at="2026-01-01T00:00:00",
        service_start="2026-01-01",
        service_end="2026-01-02T10:00:00+01:00",
        masked_ps=False,
        invisible_patient=False,
        invisible_rep=False,
    ),
    "care-team": {"national_id": "810002813839", "structure_finess": "750000010"},
    "emergency-settings": {"bris_de_glace": True, "centre_15": True},
    "medecin-traitant": {"national_id": "810002813839"},
    "close": {"confirm": True, "delete": False},
    "visibility": {"masked_ps": True, "confirm": True},
    "consents": {"national_id": "810002345675"},
    "emergency-access": {"mode": "bris_de_glace", "reason": "x"},
}
FUZZ = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def operations(world: World) -> list[tuple[str, str]]:
    paths = world.client.get("/openapi.json").get_json()["paths"]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops]


def concrete(path: str, dossier_id: int, logical_id: str) -> str:
    path = path.replace("{dossier_id}", str(dossier_id)).replace("{logical_id}", logical_id)
    path = path.replace("{national_id}", "810003456786").replace("{member_id}", "1")
    path = path.replace("{delegation_id}", "1")
    path = path.replace("{size}", "1").replace("{receipt_id}", "A" * 22)
    path = path.replace("{case_id}", "1").replace("{export_id}", "A" * 22)
    assert not re.search(r"{\w+}", path), path
    return path


def assert_clean(response: Any) -> None:
    assert response.status_code < 500, response.get_data(as_text=True)
    if response.mimetype == "application/json" and response.status_code >= 400:
        body = response.get_json()
        assert set(body) == {"error", "reason", "message"}
        assert "Traceback" not in body["message"]


@pytest.fixture
def target(world: World, marie_dossier: int) -> tuple[World, int, str]:
    logical_id = world.deposit("gp", marie_dossier)["logical_id"]
    return world, marie_dossier, logical_id


@FUZZ
@given(body=JSON)
def test_any_json_body_on_any_route(target: tuple[World, int, str], body: Any) -> None:
    world, dossier_id, logical_id = target
    for method, path in operations(world):
        r = world.client.open(
            concrete(path, dossier_id, logical_id),
            method=method,
            json=body,
            headers=world.h("marie" if "history" in path else "gp"),
        )
        assert_clean(r)


@FUZZ
@given(key=st.sampled_from(sorted(VALID_BODIES)), data=st.data())
def test_valid_bodies_with_one_field_replaced(
    target: tuple[World, int, str], key: str, data: st.DataObject
) -> None:
    world, dossier_id, logical_id = target
    body = {k: dict(v) if isinstance(v, dict) else v for k, v in VALID_BODIES[key].items()}
    # Mostly a field the route knows (nested ones too), sometimes an unknown one.
    holder = data.draw(st.sampled_from([body, *[v for v in body.values() if isinstance(v, dict)]]))
    field = data.draw(st.sampled_from(sorted(holder)) | st.text(max_size=12))
    holder[field] = data.draw(JSON)
    for method, path in operations(world):
        if key in path and method in ("POST", "PATCH", "PUT"):
            r = world.client.open(
                concrete(path, dossier_id, logical_id),
                method=method,
                json=body,
                headers=world.h("gp"),
            )
            assert_clean(r)


@FUZZ
@given(
    query=st.dictionaries(
        st.sampled_from(["all", "category", "before"]), st.text(max_size=10), max_size=3
    )
)
def test_any_query_string(target: tuple[World, int, str], query: dict[str, str]) -> None:
    world, dossier_id, _ = target
    for path in (
        f"/api/v1/dossiers/{dossier_id}/documents",
        f"/api/v1/dossiers/{dossier_id}/history",
    ):
        assert_clean(world.client.get(path, query_string=query, headers=world.h("marie")))


# ---- a hand-made corpus of hostile inputs (issue 10, section 3) ------------------------

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
DEEP = 50_000
# A replacement for a valid string value; None where it does not apply to that value.
HOSTILE_STRINGS: dict[str, Any] = {
    "nul": lambda v: v + "\x00",
    "lone_surrogate": lambda v: v + "\ud800",
    "escape": lambda v: v + "\x1b[2J",
    "c1_control": lambda v: "\x85" + v,
    "bidi_override": lambda v: "\u202e" + v,
    "bidi_isolate": lambda v: v + "\u2067",
    "arabic_digits": lambda v: v.translate(ARABIC_INDIC) if any(c.isdigit() for c in v) else None,
    "superscripts": lambda v: v.translate(SUPERSCRIPT) if any(c.isdigit() for c in v) else None,
    "int64": lambda v: 2**63,
    "deep": lambda v: "[" * DEEP + "]" * DEEP,  # raw JSON, spliced below
}
ROW_COUNTED = ["patients", "dossiers", "documents", "document_entries", "audit_entries"]


def row_counts(world: World) -> dict[str, int]:
    with world.rt.engine.connect() as conn:
        return {
            table.name: conn.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
            if table.name not in ("sessions", "idempotency_records")
        }


def raw_body(body: dict[str, Any], path: list[str], value: Any) -> bytes:
    """The body with the field at `path` replaced, as JSON text: ASCII escapes keep a
    lone surrogate sendable, and a "deep" value is spliced in unparsed."""
    holder = body
    for key in path[:-1]:
        holder = holder[key]
    deep = value == "[" * DEEP + "]" * DEEP
    holder[path[-1]] = "@@DEEP@@" if deep else value
    text = json.dumps(body)
    return text.replace('"@@DEEP@@"', value).encode() if deep else text.encode()


def string_fields(body: Any, path: list[str]) -> list[list[str]]:
    if isinstance(body, dict):
        return [p for key, value in body.items() for p in string_fields(value, [*path, key])]
    return [path] if isinstance(body, str) else []


def actor_for(path: str) -> str:
    return "marie" if path.startswith("/api/v1/me/") else "gp"


def assert_refused(response: Any) -> None:
    assert 400 <= response.status_code < 500, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error", "reason", "message"}, body


@pytest.mark.parametrize(("method", "path"), sorted(valid_bodies()))
def test_hostile_values_in_every_body_field_are_refused_and_write_nothing(
    target: tuple[World, int, str], method: str, path: str
) -> None:
    world, dossier_id, logical_id = target
    url = concrete(path, dossier_id, logical_id)
    operation = world.client.get("/openapi.json").get_json()["paths"][path][method.lower()]
    public = operation.get("security") == []
    before = row_counts(world)
    for field in string_fields(valid_bodies()[method, path], []):
        for name, make in HOSTILE_STRINGS.items():
            body = valid_bodies()[method, path]
            holder = body
            for key in field[:-1]:
                holder = holder[key]
            value = make(holder[field[-1]])
            if value is None:
                continue
            r = world.client.open(
                url,
                method=method,
                data=raw_body(body, field, value),
                content_type="application/json",
                headers=world.h(actor_for(path)),
            )
            assert_refused(r)
            if name == "deep":
                assert r.get_json()["reason"] == "json_too_deep"
    after = row_counts(world)
    if public or "/card/" in path or "in-person" in path:
        # A refused sign-in or card proof is traced (that write is the point): nothing else.
        after = {k: v for k, v in after.items() if not k.startswith("audit_")}
        before = {k: v for k, v in before.items() if not k.startswith("audit_")}
    assert after == before


@pytest.mark.parametrize(
    "ident",
    [str(2**31), str(2**63), str(2**64), "99999999999999999999", "0", "١", "¹"],
)
def test_row_ids_beyond_the_database_range_name_nothing(
    target: tuple[World, int, str], ident: str
) -> None:
    world, dossier_id, logical_id = target
    for url in (
        f"/api/v1/dossiers/{ident}",
        f"/api/v1/dossiers/{ident}/documents",
        f"/api/v1/dossiers/{ident}/history",
        f"/api/v1/dossiers/{ident}/documents/{logical_id}",
        f"/api/v1/dossiers/{dossier_id}/care-team/{ident}",
    ):
        method = "DELETE" if "care-team" in url else "GET"
        r = world.client.open(url, method=method, headers=world.h("marie"))
        assert r.status_code == 404, (url, r.get_json())
        assert_refused(r)


@pytest.mark.parametrize(
    "before", [str(2**31), str(2**63), "0", "-1", "١٢", "¹²", "1e3", " 1", "", "1\x00"]
)
def test_history_before_is_an_ascii_id_in_range(
    target: tuple[World, int, str], before: str
) -> None:
    world, dossier_id, _ = target
    r = world.client.get(
        f"/api/v1/dossiers/{dossier_id}/history",
        query_string={"before": before},
        headers=world.h("marie"),
    )
    assert (r.status_code, r.get_json()["reason"]) == (422, "before_invalid")


@pytest.mark.parametrize("segment", ["x%00", "%ED%A0%80", "%E2%80%AEabc", "..%2F..", "a" * 300])
def test_malformed_path_segments_name_nothing(target: tuple[World, int, str], segment: str) -> None:
    world, dossier_id, _ = target
    before = row_counts(world)
    for method, url in (
        ("GET", f"/api/v1/dossiers/{dossier_id}/documents/{segment}"),
        ("DELETE", f"/api/v1/dossiers/{dossier_id}/documents/{segment}"),
        ("PUT", f"/api/v1/dossiers/{dossier_id}/blocks/{segment}"),
        ("PUT", f"/api/v1/dossiers/{dossier_id}/blocks/8{segment}"),
    ):
        r = world.client.open(url, method=method, headers=world.h("marie"))
        assert r.status_code == 404, (url, r.get_json())
        assert_refused(r)
    assert row_counts(world) == before


def test_deep_json_is_refused_before_parsing_even_on_public_routes(world: World) -> None:
    for path in ("/api/v1/signin/password", "/api/v1/dossiers", "/api/v1/dossiers/lookup"):
        for bomb in ("[" * DEEP + "]" * DEEP, '{"a":' * DEEP + "1" + "}" * DEEP):
            r = world.client.post(
                path, data=bomb, content_type="application/json", headers=world.h("gp")
            )
            assert (r.status_code, r.get_json()["reason"]) == (400, "json_too_deep")
    # Brackets inside strings are text, not nesting.
    r = world.call("POST", "gp", "/dossiers/lookup", {"ins": "[" * 100})
    assert (r.status_code, r.get_json()["reason"]) == (422, "ins_invalid")


@pytest.mark.parametrize(
    "title", ["\u200b\u200b", " \u00a0\u3000", "\u2060\ufeff", "\u202e", "\U000e0041", "\x00"]
)
def test_a_title_must_show_something(target: tuple[World, int, str], title: str) -> None:
    world, dossier_id, _ = target
    before = row_counts(world)
    r = world.client.post(
        f"/api/v1/dossiers/{dossier_id}/documents",
        data=json.dumps(doc(title=title)),
        content_type="application/json",
        headers=world.h("gp"),
    )
    assert (r.status_code, r.get_json()["reason"]) == (422, "title_invalid")
    assert row_counts(world) == before


def test_an_ins_in_other_digits_is_not_a_second_person(world: World) -> None:
    before = row_counts(world)
    for digits in (ARABIC_INDIC, SUPERSCRIPT):
        arabic = identity("marie", ins=PATIENTS["marie"][0].translate(digits))
        body = {"patient": arabic, "consent": {"given": True, "terminal": "t"}}
        assert_refused(world.call("POST", "admissions", "/dossiers", body))
        ins = PATIENTS["marie"][0].translate(digits)
        assert_refused(world.call("POST", "gp", "/dossiers/lookup", {"ins": ins}))
    assert row_counts(world) == before


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"created_at": "0001-01-01T00:30:00+01:00"}, "created_at_invalid"),
        ({"service_end": "9999-12-31T23:30:00-01:00"}, "service_end_invalid"),
        ({"service_start": "9999-12-31"}, "service_start_invalid"),
        ({"created_at": "2026-02-31"}, "created_at_invalid"),
        (
            {"service_start": "2026-01-02T10:00:00+01:00", "service_end": "2026-01-02T08:00:00Z"},
            "service_start_after_service_end",
        ),
    ],
)
def test_dates_stay_within_years_1_to_9999_and_periods_run_forward(
    target: tuple[World, int, str], fields: dict[str, str], reason: str
) -> None:
    world, dossier_id, _ = target
    before = row_counts(world)
    r = world.call("POST", "gp", f"/dossiers/{dossier_id}/documents", doc(**fields))
    assert (r.status_code, r.get_json()["reason"]) == (422, reason)
    assert row_counts(world) == before


def test_a_period_of_one_instant_is_accepted(target: tuple[World, int, str]) -> None:
    world, dossier_id, _ = target
    same = "2026-01-02T09:00:00+01:00"
    world.deposit("gp", dossier_id, service_start=same, service_end="2026-01-02T08:00:00Z")


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/xml", "multipart/form-data"],
)
def test_a_body_in_another_media_type_is_415(
    target: tuple[World, int, str], content_type: str
) -> None:
    world, dossier_id, _ = target
    before = row_counts(world)
    for (method, path), body in valid_bodies().items():
        r = world.client.open(
            concrete(path, dossier_id, _),
            method=method,
            data=json.dumps(body),
            content_type=content_type,
            headers=world.h(actor_for(path)),
        )
        assert (r.status_code, r.get_json()["reason"]) == (415, "content_type_unsupported")
    assert row_counts(world) == before


def test_405_names_the_allowed_methods_in_json(target: tuple[World, int, str]) -> None:
    world, dossier_id, _ = target
    r = world.client.patch(f"/api/v1/dossiers/{dossier_id}", headers=world.h("marie"))
    assert r.status_code == 405
    assert set(r.headers["Allow"].split(", ")) >= {"GET"}
    assert_refused(r)


def test_every_api_answer_is_no_store(target: tuple[World, int, str]) -> None:
    world, dossier_id, logical_id = target
    d = f"/api/v1/dossiers/{dossier_id}"
    answers = [
        world.client.get(d, headers=world.h("marie")),
        world.client.get(d + "/documents", headers=world.h("gp")),
        world.client.get(d + f"/documents/{logical_id}/content", headers=world.h("gp")),
        world.client.get(d + "/history", headers=world.h("marie")),
        world.client.get(d, headers=world.h("pharmacien")),
        world.client.get(d),
        world.client.get("/api/v1/nowhere"),
        world.client.patch(d, headers=world.h("marie")),
    ]
    assert {r.status_code for r in answers} >= {200, 401, 403, 404, 405}
    assert all(r.headers["Cache-Control"] == "no-store" for r in answers)


def test_an_empty_medecin_traitant_body_is_a_400_and_clears_nothing(
    world: World, marie_dossier: int
) -> None:
    path = f"/dossiers/{marie_dossier}/medecin-traitant"
    r = world.call("PUT", "marie", path, {})
    assert (r.status_code, r.get_json()["reason"]) == (400, "national_id_required")
    summary = world.call("GET", "marie", f"/dossiers/{marie_dossier}").get_json()
    assert summary["medecin_traitant"]["national_id"] == world.nid("gp")
    # An explicit null still clears it: that is what the spec says null means.
    assert world.call("PUT", "marie", path, {"national_id": None}).status_code == 200


def test_a_superscript_rpps_is_not_an_rpps(target: tuple[World, int, str]) -> None:
    world, dossier_id, _ = target
    before = row_counts(world)
    nid = "8" + world.nid("pharmacien")[1:].translate(SUPERSCRIPT)
    for method, path, body in (
        ("POST", f"/dossiers/{dossier_id}/consents", {"national_id": nid}),
        ("POST", f"/dossiers/{dossier_id}/care-team", {"national_id": nid}),
        ("PUT", f"/dossiers/{dossier_id}/medecin-traitant", {"national_id": nid}),
    ):
        r = world.call(method, "marie", path, body)
        assert (r.status_code, r.get_json()["reason"]) == (422, "national_id_invalid")
    r = world.client.put(f"/api/v1/dossiers/{dossier_id}/blocks/{nid}", headers=world.h("marie"))
    assert r.status_code == 404
    assert row_counts(world) == before
