"""Consents given at a desk with both cards (server/signin/copresence.py): a dossier
opened, a minor's representative named with their own card. Each is a draft, signed by
the patient's (or representative's) card and the professional's, then the change; the
consultation consent at the counter has its pair in auth_cards.py."""

from __future__ import annotations

from typing import Any

from server.api import api
from server.api.auth_cards import COPRESENCE_BODY, COPRESENCE_FIELDS, DRAFT
from server.api.representation import REPRESENTATIVES
from server.api.runtime import json_body, run_card, runtime
from server.api.schemas import CREATE_DOSSIER, INS, SUMMARY, obj, with_receipt
from server.errors import CopresenceRefused
from server.services import dossiers, representatives
from server.services.context import Ctx, Principal
from server.signin.kiosk_identity import VerifiedKiosk

D = "/dossiers/<int:dossier_id>"


@api.route(
    "POST",
    "/dossiers/in-person/draft",
    "A dossier to open at the desk: the draft both cards sign (the creation request)",
    tag="dossiers",
    body=CREATE_DOSSIER,
    response=DRAFT,
    status=201,
)
def creation_draft() -> Any:
    body = json_body()
    return run_card(
        lambda ctx, who, kiosk: dossiers.creation_draft(ctx, who, kiosk, body), status=201
    )


@api.route(
    "POST",
    "/dossiers/in-person",
    "Open a dossier at the desk: the request, and both cards' signatures of its draft",
    tag="dossiers",
    body=obj({"request": CREATE_DOSSIER, **COPRESENCE_FIELDS}, ["request", *COPRESENCE_FIELDS]),
    response=with_receipt(SUMMARY),
    status=201,
)
def create_in_person() -> Any:
    body = json_body()

    def work(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk) -> dict[str, Any]:
        return dossiers.create_in_person(ctx, runtime().trust, who, kiosk, body)

    return run_card(work, status=201, write=True, refusal=CopresenceRefused)


@api.route(
    "POST",
    D + "/representatives/in-person/draft",
    "A minor's representative to name at the desk: the draft their card and the desk's sign",
    tag="representation",
    body=obj({"ins": INS}, ["ins"]),
    response=DRAFT,
    status=201,
)
def representative_draft(dossier_id: int) -> Any:
    body = json_body()
    return run_card(
        lambda ctx, who, kiosk: representatives.add_draft(ctx, who, kiosk, dossier_id, body),
        status=201,
    )


@api.route(
    "POST",
    D + "/representatives/in-person",
    "Name a minor's representative at the desk with their own card (both cards signed)",
    tag="representation",
    body=COPRESENCE_BODY,
    response=with_receipt(REPRESENTATIVES),
    status=201,
)
def representative_add_in_person(dossier_id: int) -> Any:
    body = json_body()

    def work(ctx: Ctx, who: Principal, kiosk: VerifiedKiosk) -> dict[str, Any]:
        trust = runtime().trust
        return representatives.add_in_person(ctx, trust, who, kiosk, dossier_id, body)

    return run_card(work, status=201, write=True, refusal=CopresenceRefused)
