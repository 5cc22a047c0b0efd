"""Bad input of any kind gets a JSON 4xx: never a 500, never a traceback, never a write.

Hypothesis sends arbitrary JSON, and valid bodies with one field replaced by anything, to
every documented route, as a caller who may act on the dossier.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.conftest import World, doc, identity

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
