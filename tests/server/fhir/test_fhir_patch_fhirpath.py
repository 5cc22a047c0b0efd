"""FHIRPath Patch (PDSm's patch format, a Parameters as application/fhir+json) on a
DocumentReference: each supported operation gives what its JSON Patch gives (the same
document state, answer and trace) for every kind of caller; anything else is a 4xx that
writes nothing (issue #12)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from server.fhir import codes
from server.models import Receipt
from tests.server.conftest import World
from tests.server.fhir.fhirkit import outcome, valid
from tests.server.fhir.test_fhir_patch import MASQUE, _last, _state, patch

FHIR_JSON = "application/fhir+json"
CONF = codes.CONFIDENTIALITY
TRE_A07 = codes.VISIBILITY_TRE_A07


def op(kind: str, path: str, name: str | None = None, **value: Any) -> dict[str, Any]:
    """One `operation` parameter; `value` as its value[x] (valueCode=..., part=[...])."""
    parts: list[dict[str, Any]] = [
        {"name": "type", "valueCode": kind},
        {"name": "path", "valueString": path},
    ]
    if name is not None:
        parts.append({"name": "name", "valueString": name})
    if value:
        parts.append({"name": "value", **value})
    return {"name": "operation", "part": parts}


def params(*ops: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(ops)}


def fp(world: World, who: str, logical_id: str, body: Any, mimetype: str = FHIR_JSON) -> Any:
    return patch(world, who, logical_id, body, mimetype=mimetype)


def label(code: str) -> dict[str, Any]:
    return {"coding": [{"system": TRE_A07, "code": code}]}


def add_label(code: str) -> dict[str, Any]:
    return op("add", "DocumentReference", "securityLabel", valueCodeableConcept=label(code))


def delete_label(code: str) -> dict[str, Any]:
    return op("delete", f"DocumentReference.securityLabel.where(coding.code='{code}')")


def ext_value(url: str) -> str:
    return f"DocumentReference.extension.where(url='{url}').value"


DELETED_EXTENSION = op(
    "add",
    "DocumentReference",
    "extension",
    part=[
        {"name": "url", "valueUri": codes.IS_DELETED},
        {"name": "valueBoolean", "valueBoolean": True},
    ],
)
PDSM_DELETE = params(
    op("replace", "DocumentReference.status", valueCode="superseded"), DELETED_EXTENSION
)
JSON_DELETE = [
    {"op": "replace", "path": "/status", "value": "superseded"},
    {"op": "add", "path": "/extension/-", "value": {"url": codes.IS_DELETED, "valueBoolean": True}},
]


def _set_flag(flag: str) -> Callable[[World, int, str], None]:
    def setup(world: World, dossier: int, lid: str) -> None:
        # The patient masks; the author hides from the patient or the representatives.
        who = "marie" if flag == "masked_ps" else "specialist"
        r = world.call(
            "PATCH",
            who,
            f"/dossiers/{dossier}/documents/{lid}/visibility",
            {flag: True, "confirm": True},
        )
        assert r.status_code == 200, r.get_json()

    return setup


def _archived(world: World, dossier: int, lid: str) -> None:
    r = world.call("POST", "specialist", f"/dossiers/{dossier}/documents/{lid}/archive")
    assert r.status_code == 200, r.get_json()


Setup = Callable[[World, int, str], None] | None
# (name, setup applied to both documents, JSON Patch, FHIRPath Patch)
CASES: list[tuple[str, Setup, list[dict[str, Any]], dict[str, Any]]] = [
    (
        "mask",
        None,
        [{"op": "add", "path": "/securityLabel/-", "value": label("MASQUE_PS")}],
        params(add_label("MASQUE_PS")),
    ),
    (
        "hide_from_patient",
        None,
        [{"op": "add", "path": "/securityLabel/-", "value": label("INVISIBLE_PATIENT")}],
        params(add_label("INVISIBLE_PATIENT")),
    ),
    (
        "hide_from_representatives",
        None,
        [
            {
                "op": "add",
                "path": "/securityLabel/-",
                "value": label("INVISIBLE_REPRESENTANTS_LEGAUX"),
            }
        ],
        params(add_label("INVISIBLE_REPRESENTANTS_LEGAUX")),
    ),
    (
        "unmask",
        _set_flag("masked_ps"),
        [{"op": "remove", "path": "/securityLabel/1"}],
        params(delete_label("MASQUE_PS")),
    ),
    (
        "show_to_patient",
        _set_flag("invisible_patient"),
        [{"op": "remove", "path": "/securityLabel/1"}],
        params(
            op(
                "delete",
                "DocumentReference.securityLabel.where("
                f"coding.system='{TRE_A07}' and coding.code='INVISIBLE_PATIENT')",
            )
        ),
    ),
    (
        "show_to_representatives",
        _set_flag("invisible_rep"),
        [{"op": "remove", "path": "/securityLabel/1"}],
        params(delete_label("INVISIBLE_REPRESENTANTS_LEGAUX")),
    ),
    (
        "archive",
        None,
        [{"op": "replace", "path": "/extension/0/valueBoolean", "value": True}],
        params(op("replace", ext_value(codes.IS_ARCHIVED), valueBoolean=True)),
    ),
    (
        "unarchive",
        _archived,
        [{"op": "replace", "path": "/extension/0/valueBoolean", "value": False}],
        params(op("replace", ext_value(codes.IS_ARCHIVED), valueBoolean=False)),
    ),
    ("delete", None, JSON_DELETE, PDSM_DELETE),
]
# The author (the specialist deposits), the médecin traitant, the patient, a pharmacist
# outside the care team, the insurer.
ACTORS = ["specialist", "gp", "marie", "pharmacien", "insurer"]


def _receipts(world: World) -> list[tuple[str, Any]]:
    """Every receipt issued: its action and the change it states, the document's id
    left out (each patch names its own document)."""
    with world.rt.sessions() as s:
        out = []
        for receipt in s.scalars(select(Receipt).order_by(Receipt.id)):
            change = json.loads(receipt.content)["change"]
            for stated in change.values():
                if isinstance(stated, dict):
                    stated.pop("document", None)
            out.append((receipt.action, change))
        return out


def _answer(r: Any) -> tuple[Any, ...]:
    body = r.get_json()
    if r.status_code != 200:
        return (r.status_code, body["issue"][0]["details"]["coding"][0]["code"])
    valid(body)
    return (200, body["status"], body["extension"], body["securityLabel"])


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize(
    ("name", "setup", "json_ops", "fhirpath"), CASES, ids=[c[0] for c in CASES]
)
def test_fhirpath_patch_is_its_json_patch(
    world: World,
    marie_dossier: int,
    who: str,
    name: str,
    setup: Setup,
    json_ops: list[dict[str, Any]],
    fhirpath: dict[str, Any],
) -> None:
    team = {"national_id": world.nid("specialist")}
    assert (
        world.call("POST", "marie", f"/dossiers/{marie_dossier}/care-team", team).status_code < 300
    )
    json_doc = world.deposit("specialist", marie_dossier, title="json")["logical_id"]
    fhir_doc = world.deposit("specialist", marie_dossier, title="fhir")["logical_id"]
    if setup is not None:
        setup(world, marie_dossier, json_doc)
        setup(world, marie_dossier, fhir_doc)
    json_before = _state(world, json_doc)
    fhir_before = _state(world, fhir_doc)
    traced = len(world.trace("marie"))
    receipts = _receipts(world)
    json_r = patch(world, who, json_doc, json_ops)
    json_traced = len(world.trace("marie")) - traced
    json_receipts = _receipts(world)[len(receipts) :]
    json_trace = _last(world)[:4]
    json_after = _state(world, json_doc)
    r = fp(world, who, fhir_doc, fhirpath)
    # As many trace entries as the JSON Patch wrote, the last one the same decision.
    assert len(world.trace("marie")) - traced == 2 * json_traced > 0
    assert _last(world)[:4] == json_trace
    assert _answer(r) == _answer(json_r)
    # The same receipts (a visibility change issues one), stating the same change.
    assert _receipts(world)[len(receipts) + len(json_receipts) :] == json_receipts
    after = _state(world, fhir_doc)
    # The same row state (status, flags, entry count) and a new entryUUID when JSON made one.
    assert (after[:4], after[5]) == (json_after[:4], json_after[5])
    assert (after[4] != fhir_before[4]) == (json_after[4] != json_before[4])
    if who == "specialist":  # the author may do each of them
        assert r.status_code == 200, r.get_json()


def test_the_pdsm_example_archives(world: World, marie_dossier: int) -> None:
    """PDSm's own example (status current, archive), minus the confidentiality change the
    server does not make: a replace of status with the same value changes nothing."""
    lid = world.deposit("gp", marie_dossier)["logical_id"]
    body = params(
        op("replace", "DocumentReference.status", valueCode="current"),
        op("replace", ext_value(codes.IS_ARCHIVED), valueBoolean=True),
    )
    r = fp(world, "gp", lid, body)
    assert r.status_code == 200, r.get_json()
    assert valid(r.get_json())["extension"] == [{"url": codes.IS_ARCHIVED, "valueBoolean": True}]
    assert _state(world, lid)[0] == "archived"
    assert _last(world)[:2] == ("document:archive", "allowed")


def test_operations_apply_in_order(world: World, marie_dossier: int) -> None:
    lid = world.deposit("gp", marie_dossier)["logical_id"]
    body = params(add_label("MASQUE_PS"), add_label("INVISIBLE_PATIENT"), delete_label("MASQUE_PS"))
    r = fp(world, "gp", lid, body)
    assert r.status_code == 200, r.get_json()
    assert [c["code"] for x in r.get_json()["securityLabel"] for c in x["coding"]] == [
        "N",
        "INVISIBLE_PATIENT",
    ]
    assert _state(world, lid)[1:4] == (False, True, False)


def _many(n: int) -> dict[str, Any]:
    return params(*[add_label("MASQUE_PS")] * n)


BAD: list[tuple[str, Any, int, str]] = [
    ("not_parameters", {"resourceType": "Bundle"}, 400, "parameters_invalid"),
    ("a_list", [{"op": "add"}], 400, "parameters_invalid"),
    ("no_operation", {"resourceType": "Parameters"}, 400, "patch_invalid"),
    ("empty", params(), 400, "patch_invalid"),
    (
        "unknown_element",
        {**params(add_label("MASQUE_PS")), "foo": 1},
        400,
        "parameters_invalid",
    ),
    (
        "two_values",
        params(
            {
                "name": "operation",
                "part": [{"name": "type", "valueCode": "add", "valueString": "x"}],
            }
        ),
        400,
        "parameters_invalid",
    ),
    (
        "not_operation",
        params({"name": "op", "part": [{"name": "type", "valueCode": "add"}]}),
        400,
        "patch_invalid",
    ),
    (
        "no_path",
        params({"name": "operation", "part": [{"name": "type", "valueCode": "add"}]}),
        400,
        "patch_invalid",
    ),
    (
        "path_as_code",
        params(
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "delete"},
                    {"name": "path", "valueCode": "DocumentReference.status"},
                ],
            }
        ),
        400,
        "patch_invalid",
    ),
    (
        "unknown_part",
        params(
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "add"},
                    {"name": "path", "valueString": "DocumentReference"},
                    {"name": "foo", "valueString": "x"},
                ],
            }
        ),
        400,
        "patch_invalid",
    ),
    ("unknown_type", params(op("upsert", "DocumentReference.status")), 400, "patch_invalid"),
    (
        "insert",
        params(
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "insert"},
                    {"name": "path", "valueString": "DocumentReference.securityLabel"},
                    {"name": "index", "valueInteger": 0},
                    {"name": "value", "valueCodeableConcept": MASQUE},
                ],
            }
        ),
        422,
        "patch_op_unsupported",
    ),
    (
        "move",
        params(
            {
                "name": "operation",
                "part": [
                    {"name": "type", "valueCode": "move"},
                    {"name": "path", "valueString": "DocumentReference.securityLabel"},
                    {"name": "source", "valueInteger": 0},
                    {"name": "destination", "valueInteger": 1},
                ],
            }
        ),
        422,
        "patch_op_unsupported",
    ),
    (
        "title",
        params(op("replace", "DocumentReference.content.attachment.title", valueString="x")),
        422,
        "patch_path_not_allowed",
    ),
    (
        "add_other_element",
        params(op("add", "DocumentReference", "note", valueString="x")),
        422,
        "patch_path_not_allowed",
    ),
    (
        "confidentiality",
        params(
            op(
                "replace",
                f"DocumentReference.securityLabel.coding.where(system='{CONF}').code",
                valueCode="R",
            )
        ),
        422,
        "patch_path_not_allowed",
    ),
    (
        "first_function",
        params(op("delete", "DocumentReference.securityLabel.first()")),
        422,
        "fhirpath_unsupported",
    ),
    (
        "exists_in_where",
        params(op("delete", "DocumentReference.securityLabel.where(coding.exists())")),
        422,
        "fhirpath_unsupported",
    ),
    (
        "where_other_field",
        params(op("delete", "DocumentReference.securityLabel.where(text='MASQUE_PS')")),
        422,
        "patch_path_not_allowed",
    ),
    (
        "replace_label",
        params(
            op(
                "replace",
                "DocumentReference.securityLabel.where(coding.code='N')",
                valueCodeableConcept=MASQUE,
            )
        ),
        422,
        "patch_path_not_allowed",
    ),
    (
        "delete_normal",
        params(delete_label("N")),
        422,
        "confidentiality_required",
    ),
    (
        "unknown_code",
        params(add_label("SECRET")),
        422,
        "security_label_unsupported",
    ),
    (
        "label_twice",
        params(add_label("MASQUE_PS"), add_label("MASQUE_PS")),
        422,
        "security_label_invalid",
    ),
    (
        "label_as_string",
        params(op("add", "DocumentReference", "securityLabel", valueString="MASQUE_PS")),
        422,
        "patch_value_invalid",
    ),
    (
        "incompatible",
        params(add_label("MASQUE_PS"), add_label("INVISIBLE_PATIENT")),
        422,
        "flags_incompatible",
    ),
    (
        "archive_as_string",
        params(op("replace", ext_value(codes.IS_ARCHIVED), valueString="true")),
        422,
        "patch_value_invalid",
    ),
    (
        "replace_absent_deleted",
        params(
            op("replace", "DocumentReference.status", valueCode="superseded"),
            op("replace", ext_value(codes.IS_DELETED), valueBoolean=True),
        ),
        422,
        "patch_failed",
    ),
    (
        "other_extension",
        params(op("replace", ext_value("https://example.org/x"), valueBoolean=True)),
        422,
        "patch_failed",
    ),
    (
        "add_other_extension",
        params(
            op(
                "add",
                "DocumentReference",
                "extension",
                part=[
                    {"name": "url", "valueUri": "https://example.org/x"},
                    {"name": "valueBoolean", "valueBoolean": True},
                ],
            )
        ),
        422,
        "extension_invalid",
    ),
    (
        "extension_without_parts",
        params(op("add", "DocumentReference", "extension", valueBoolean=True)),
        422,
        "patch_value_invalid",
    ),
    (
        "deleted_still_current",
        params(DELETED_EXTENSION),
        422,
        "deletion_status_required",
    ),
    (
        "deleted_and_masked",
        params(*PDSM_DELETE["parameter"], add_label("MASQUE_PS")),
        422,
        "deletion_alone",
    ),
    (
        "status_alone",
        params(op("replace", "DocumentReference.status", valueCode="entered-in-error")),
        422,
        "status_change_unsupported",
    ),
    ("nothing", params(delete_label("MASQUE_PS")), 422, "no_change"),
    (
        "bidi",
        params(add_label("MASQUE_PS\u202e")),
        422,
        "character_forbidden",
    ),
    ("too_long", _many(17), 422, "patch_too_long"),
]


@pytest.mark.parametrize(("name", "body", "status", "reason"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_fhirpath_patch_writes_nothing(
    world: World, marie_dossier: int, name: str, body: Any, status: int, reason: str
) -> None:
    lid = world.deposit("gp", marie_dossier)["logical_id"]
    before = _state(world, lid)
    outcome(fp(world, "gp", lid, body), status, reason)
    assert _state(world, lid) == before


def test_fhirpath_protocol_errors(world: World, marie_dossier: int) -> None:
    lid = world.deposit("gp", marie_dossier)["logical_id"]
    body = params(add_label("MASQUE_PS"))
    # A Parameters sent as JSON Patch is not a JSON Patch; as plain JSON, not accepted.
    outcome(fp(world, "gp", lid, body, mimetype="application/json-patch+json"), 400)
    outcome(fp(world, "gp", lid, body, mimetype="application/json"), 415)
    r = world.client.patch(
        f"/fhir/R4/DocumentReference/{lid}",
        data=b"{not json",
        headers=world.h("gp", **{"Content-Type": FHIR_JSON}),
    )
    outcome(r, 400, "json_malformed")
    r = world.client.patch(
        f"/fhir/R4/DocumentReference/{lid}",
        data=json.dumps(body),
        headers={"Content-Type": FHIR_JSON},
    )
    outcome(r, 401)
    # Deleted: then found no more (PDSm: 404).
    assert fp(world, "gp", lid, PDSM_DELETE).status_code == 200
    outcome(fp(world, "gp", lid, body), 404)


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (params(op("delete", "DocumentReference.securityLabel.first()")), "first"),
        (params(op("delete", "DocumentReference.securityLabel.where(exists())")), "exists"),
        (
            params(op("replace", "DocumentReference.content.attachment.title", valueString="x")),
            "DocumentReference.content.attachment.title",
        ),
        (params(op("add", "DocumentReference", "note", valueString="x")), "(note)"),
        (params(op("move", "DocumentReference.securityLabel")), "move"),
    ],
    ids=["function", "function_in_where", "path", "element", "move"],
)
def test_the_refusal_names_what_is_unsupported(
    world: World, marie_dossier: int, body: dict[str, Any], named: str
) -> None:
    lid = world.deposit("gp", marie_dossier)["logical_id"]
    text = outcome(fp(world, "gp", lid, body), 422)["issue"][0]["details"]["text"]
    assert named in text
