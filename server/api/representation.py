"""Who may act for whom (issue 13): a minor's representatives after creation, delegations,
and the dossiers a card holder may act on for someone else."""

from __future__ import annotations

from typing import Any

from server.api import api
from server.api.runtime import json_body, run
from server.api.schemas import BOOL, CATEGORY, INS, ROW_ID, STR, obj, visible, with_receipt
from server.services import delegations, representatives

TAG = "representation"
D = "/dossiers/<int:dossier_id>"
NULLABLE = {"type": ["string", "null"]}
REP_BODY = obj({"ins": INS, "identity_checked": BOOL}, ["ins", "identity_checked"])
REPRESENTATIVES = obj(
    {
        "representatives": {
            "type": "array",
            "items": obj({"ins": STR, "first_names": STR, "birth_name": STR}),
        }
    },
    ["representatives"],
)
DAY = {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
DELEGATION = obj(
    {
        "delegation_id": ROW_ID,
        "delegate": obj({"first_names": STR, "birth_name": STR}),
        "categories": {"type": "array", "items": CATEGORY},
        "valid_until": STR,
        "created_at": STR,
        "revoked_at": NULLABLE,
        "state": {"type": "string", "enum": ["active", "ended", "revoked"]},
    }
)
GIVE = obj(
    {
        "ins": INS,
        "birth_name": visible(100),
        "categories": {
            "type": "array",
            "items": CATEGORY,
            "minItems": 1,
            "maxItems": 11,
            "uniqueItems": True,
        },
        "until": DAY,
    },
    ["ins", "birth_name", "categories", "until"],
)
ENTRY = {"dossier_id": ROW_ID, "status": STR, "first_names": STR, "birth_name": STR}
MINE = obj(
    {
        "represented": {"type": "array", "items": obj({**ENTRY, "birth_date": STR})},
        "delegated": {
            "type": "array",
            "items": obj(
                {
                    **ENTRY,
                    "birth_date": STR,
                    "categories": {"type": "array", "items": CATEGORY},
                    "valid_until": STR,
                }
            ),
        },
    },
    ["represented", "delegated"],
)


@api.route(
    "GET",
    D + "/representatives",
    "A minor's legal representatives",
    tag=TAG,
    response=REPRESENTATIVES,
)
def representative_list(dossier_id: int) -> Any:
    return run(lambda ctx, who: representatives.list_for(ctx, who, dossier_id))


@api.route(
    "POST",
    D + "/representatives",
    "Add a minor's legal representative (admissions desk, identity checked)",
    tag=TAG,
    body=REP_BODY,
    response=with_receipt(REPRESENTATIVES),
    status=201,
)
def representative_add(dossier_id: int) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: representatives.add(ctx, who, dossier_id, body), status=201, write=True
    )


@api.route(
    "POST",
    D + "/representatives/remove",
    "Remove a minor's legal representative (admissions desk, identity checked)",
    tag=TAG,
    body=REP_BODY,
    response=with_receipt(REPRESENTATIVES),
)
def representative_remove(dossier_id: int) -> Any:
    body = json_body()
    return run(lambda ctx, who: representatives.remove(ctx, who, dossier_id, body), write=True)


@api.route(
    "GET",
    "/me/dossiers",
    "Dossiers the caller may act on for someone else (children, delegations)",
    tag=TAG,
    response=MINE,
)
def mine() -> Any:
    return run(representatives.mine)


@api.route(
    "GET",
    D + "/delegations",
    "The patient's delegations (in force, ended, revoked)",
    tag=TAG,
    response=obj({"delegations": {"type": "array", "items": DELEGATION}}, ["delegations"]),
)
def delegation_list(dossier_id: int) -> Any:
    return run(lambda ctx, who: delegations.list_for(ctx, who, dossier_id))


@api.route(
    "POST",
    D + "/delegations",
    "Give an adult read access to chosen categories until a date",
    tag=TAG,
    body=GIVE,
    response=with_receipt(DELEGATION),
    status=201,
)
def delegation_give(dossier_id: int) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: delegations.give(ctx, who, dossier_id, body), status=201, write=True
    )


@api.route(
    "POST",
    D + "/delegations/<int:delegation_id>/revoke",
    "Revoke a delegation at once",
    tag=TAG,
    response=with_receipt(DELEGATION),
)
def delegation_revoke(dossier_id: int, delegation_id: int) -> Any:
    return run(lambda ctx, who: delegations.revoke(ctx, who, dossier_id, delegation_id), write=True)
