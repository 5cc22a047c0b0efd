"""Dossier routes: create, find by INS, summary, close, reopen, history."""

from __future__ import annotations

from typing import Any

from flask import request

from server.api import api
from server.api.auth_cards import COPRESENCE_BODY, DRAFT
from server.api.runtime import json_body, run, run_card, runtime
from server.api.schemas import (
    BOOL,
    CREATE_DOSSIER,
    HISTORY,
    INS,
    ROW_ID,
    STR,
    SUMMARY,
    obj,
    with_receipt,
)
from server.errors import CopresenceRefused, InvalidInput
from server.services import dossiers, history
from server.services.context import Ctx, Principal
from server.signin.kiosk_identity import VerifiedKiosk
from server.validation import ascii_int

TAG = "dossiers"
CLOSE_BODY = obj({"confirm": {"const": True}, "delete": BOOL}, ["confirm"])


@api.route(
    "POST",
    "/dossiers",
    "Create a dossier with the patient's explicit consent",
    tag=TAG,
    body=CREATE_DOSSIER,
    response=with_receipt(SUMMARY),
    status=201,
)
def create() -> Any:
    body = json_body()
    return run(lambda ctx, who: dossiers.create(ctx, who, body), status=201, write=True)


@api.route(
    "POST",
    "/dossiers/lookup",
    "Find a dossier by INS (kept out of URLs and logs)",
    tag=TAG,
    body=obj({"ins": INS}, ["ins"]),
    response=obj({"dossier_id": ROW_ID, "status": STR}),
)
def find() -> Any:
    body = json_body()
    if not isinstance(body, dict):
        raise InvalidInput("ins_invalid", "INS attendu.")
    return run(lambda ctx, who: dossiers.find(ctx, who, body.get("ins")))


@api.route(
    "GET",
    "/dossiers/<int:dossier_id>",
    "Dossier summary (what the caller may see)",
    tag=TAG,
    response=SUMMARY,
)
def summary(dossier_id: int) -> Any:
    return run(lambda ctx, who: dossiers.summary(ctx, who, dossier_id))


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/close",
    "Close the dossier (kept 10 years, or deleted on request)",
    tag=TAG,
    body=CLOSE_BODY,
    response=with_receipt(SUMMARY),
)
def close(dossier_id: int) -> Any:
    body = json_body()
    return run(lambda ctx, who: dossiers.close(ctx, who, dossier_id, body), write=True)


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/close/in-person/draft",
    "The closure at the desk (the patient's choice), for both cards to sign",
    tag=TAG,
    body=CLOSE_BODY,
    response=DRAFT,
    status=201,
)
def close_in_person_draft(dossier_id: int) -> Any:
    body = json_body()
    return run_card(
        lambda ctx, who, kiosk: dossiers.close_draft(ctx, who, kiosk, dossier_id, body),
        status=201,
    )


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/close/in-person",
    "A professional closes the dossier at the desk: the patient's card and theirs signed it",
    tag=TAG,
    body=COPRESENCE_BODY,
    response=with_receipt(SUMMARY),
)
def close_in_person(dossier_id: int) -> Any:
    body = json_body()

    def work(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk) -> dict[str, Any]:
        return dossiers.close_in_person(ctx, runtime().trust, who, kiosk, dossier_id, body)

    # A failed check refuses the evidence, not the professional's own session.
    return run_card(work, write=True, refusal=CopresenceRefused)


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/reopen",
    "Reopen a closed dossier",
    tag=TAG,
    response=with_receipt(SUMMARY),
)
def reopen(dossier_id: int) -> Any:
    return run(lambda ctx, who: dossiers.reopen(ctx, who, dossier_id), write=True)


@api.route(
    "GET",
    "/dossiers/<int:dossier_id>/history",
    "The access history, in plain French",
    tag=TAG,
    response=HISTORY,
    query=[
        {
            "name": "before",
            "in": "query",
            "required": False,
            "schema": ROW_ID,
        }
    ],
)
def access_history(dossier_id: int) -> Any:
    raw = request.args.get("before")
    before = ascii_int(raw) if raw is not None else None
    if raw is not None and before is None:
        raise InvalidInput("before_invalid", "« before » doit être un entier positif.")
    return run(lambda ctx, who: history.history(ctx, who, dossier_id, before=before))
