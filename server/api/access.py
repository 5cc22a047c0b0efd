"""Access routes: overview, blocks, consents, care team, médecin traitant, emergency."""

from __future__ import annotations

from typing import Any

from server.api import api
from server.api.runtime import json_body, run
from server.api.schemas import BOOL, FINESS, NATIONAL_ID, PRO_REF, obj, with_receipt
from server.services import access

TAG = "access"
D = "/dossiers/<int:dossier_id>"
EMERGENCY = obj({"bris_de_glace": BOOL, "centre_15": BOOL})


@api.route("GET", D + "/access", "Who has access and who has read", tag=TAG)
def overview(dossier_id: int) -> Any:
    return run(lambda ctx, who: access.overview(ctx, who, dossier_id))


@api.route(
    "PUT",
    D + "/blocks/<path:national_id>",
    "Block a professional",
    tag=TAG,
    response=with_receipt(obj({"blocked": PRO_REF})),
)
def block(dossier_id: int, national_id: str) -> Any:
    return run(lambda ctx, who: access.block(ctx, who, dossier_id, national_id), write=True)


@api.route(
    "DELETE",
    D + "/blocks/<path:national_id>",
    "Unblock a professional",
    tag=TAG,
    response=with_receipt(obj({"unblocked": PRO_REF})),
)
def unblock(dossier_id: int, national_id: str) -> Any:
    return run(lambda ctx, who: access.unblock(ctx, who, dossier_id, national_id), write=True)


@api.route(
    "POST",
    D + "/consents",
    "Consent to a professional for this consultation",
    tag=TAG,
    body=obj({"national_id": NATIONAL_ID}, ["national_id"]),
    response=with_receipt(),
    status=201,
)
def consent(dossier_id: int) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: access.grant_consent(ctx, who, dossier_id, body), status=201, write=True
    )


@api.route(
    "POST",
    D + "/care-team",
    "Add a professional or a structure to the care team",
    tag=TAG,
    body={
        **obj({"national_id": NATIONAL_ID, "structure_finess": FINESS}),
        "minProperties": 1,
        "x-refusal": "member_required",
    },
    response=with_receipt(),
    status=201,
)
def add_member(dossier_id: int) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: access.add_care_team(ctx, who, dossier_id, body), status=201, write=True
    )


@api.route(
    "POST",
    D + "/care-team/join",
    "Admission: the caller's structure joins the care team",
    tag=TAG,
    response=with_receipt(),
)
def join(dossier_id: int) -> Any:
    return run(lambda ctx, who: access.join_care_team(ctx, who, dossier_id), write=True)


@api.route(
    "DELETE",
    D + "/care-team/<int:member_id>",
    "Remove a care team member",
    tag=TAG,
    response=with_receipt(),
)
def remove_member(dossier_id: int, member_id: int) -> Any:
    return run(
        lambda ctx, who: access.remove_care_team(ctx, who, dossier_id, member_id), write=True
    )


@api.route(
    "PUT",
    D + "/medecin-traitant",
    "Designate (or clear) the médecin traitant",
    tag=TAG,
    # null clears it; a body without the field is refused, never read as "clear".
    body=obj({"national_id": {**NATIONAL_ID, "type": ["string", "null"]}}, ["national_id"]),
    response=with_receipt(),
)
def medecin_traitant(dossier_id: int) -> Any:
    body = json_body()
    return run(lambda ctx, who: access.set_medecin_traitant(ctx, who, dossier_id, body), write=True)


@api.route(
    "PUT",
    D + "/emergency-settings",
    "Allow or withdraw emergency access",
    tag=TAG,
    body=EMERGENCY,
    response=with_receipt(EMERGENCY),
)
def emergency_settings(dossier_id: int) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: access.set_emergency_settings(ctx, who, dossier_id, body), write=True
    )


@api.route(
    "POST",
    D + "/emergency-access",
    "Break the glass, or centre 15 regulation",
    tag=TAG,
    body=obj(
        {
            "mode": {"type": "string", "enum": ["bris_de_glace", "centre_15"]},
            "reason": {"type": "string", "maxLength": 500},
        },
        ["mode"],
    ),
    status=201,
)
def emergency(dossier_id: int) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: access.emergency_access(ctx, who, dossier_id, body), status=201, write=True
    )
