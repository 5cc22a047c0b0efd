"""Who am I, and sign out."""

from __future__ import annotations

from typing import Any

from server.api import api
from server.api.runtime import run
from server.api.schemas import BOOL, CATEGORY, STR, obj
from server.models import Patient
from server.policy import ActorKind
from server.policy.capabilities import Capabilities, capabilities
from server.services.context import Ctx, Principal
from server.signin import sessions

CATEGORIES = {"type": "array", "items": CATEGORY}
MAY = obj(
    {
        "read_categories": CATEGORIES,
        "deposit_categories": CATEGORIES,
        "emergency": {"type": ["string", "null"], "enum": ["bris_de_glace", "centre_15", None]},
        "clinical_reading": BOOL,
        "join_care_team": BOOL,
    },
    ["read_categories", "deposit_categories", "emergency", "clinical_reading", "join_care_team"],
)
WHOAMI = obj(
    {
        "kind": STR,
        "name": STR,
        "profession": {"type": ["string", "null"]},
        "structure": {"type": ["string", "null"]},
        # What a professional may do in general (the kiosk offers only that); each request
        # is still decided on its own dossier. Null for other callers.
        "may": {"anyOf": [MAY, {"type": "null"}]},
        # A patient's own contact, so that a form she fills in starts with what is on
        # file (the address her code was just sent to). Null for other callers.
        "contact": {
            "anyOf": [
                obj({"email": {"type": ["string", "null"]}, "phone": {"type": ["string", "null"]}}),
                {"type": "null"},
            ]
        },
    },
    ["kind", "name", "may"],
)


def _may(found: Capabilities | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "read_categories": sorted(found.read_categories),
        "deposit_categories": sorted(found.deposit_categories),
        "emergency": found.emergency.value if found.emergency is not None else None,
        "clinical_reading": found.clinical_reading,
        "join_care_team": found.join_care_team,
    }


def _contact(ctx: Ctx, who: Principal) -> dict[str, str | None] | None:
    if who.actor.kind is not ActorKind.PATIENT:
        return None
    patient = ctx.session.get(Patient, who.actor.id)
    if patient is None:
        return None
    return {"email": patient.email, "phone": patient.phone}


@api.route("GET", "/session", "The caller of this session", tag="session", response=WHOAMI)
def whoami() -> Any:
    def work(ctx: Ctx, who: Principal) -> dict[str, Any]:
        return {
            "kind": who.actor.kind.value,
            "name": who.name,
            "profession": who.actor.profession,
            "structure": who.actor.structure,
            "may": _may(capabilities(who.actor, ctx.matrix, ctx.now)),
            "contact": _contact(ctx, who),
        }

    return run(work)


@api.route(
    "DELETE",
    "/session",
    "End this session",
    tag="session",
    response=obj({"ended": {"type": "boolean"}}),
)
def sign_out() -> Any:
    def work(ctx: Ctx, who: Principal) -> dict[str, Any]:
        sessions.end_session(ctx, who)
        return {"ended": True}

    return run(work, write=True)
