"""Who am I, and sign out."""

from __future__ import annotations

from typing import Any

from server.api import api
from server.api.runtime import run
from server.api.schemas import STR, obj
from server.services.context import Ctx, Principal
from server.signin import sessions

WHOAMI = obj(
    {
        "kind": STR,
        "name": STR,
        "profession": {"type": ["string", "null"]},
        "structure": {"type": ["string", "null"]},
    },
    ["kind", "name"],
)


@api.route("GET", "/session", "The caller of this session", tag="session", response=WHOAMI)
def whoami() -> Any:
    def work(_ctx: Ctx, who: Principal) -> dict[str, Any]:
        return {
            "kind": who.actor.kind.value,
            "name": who.name,
            "profession": who.actor.profession,
            "structure": who.actor.structure,
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
