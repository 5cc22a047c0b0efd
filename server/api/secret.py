"""The secret connection with a minor (issue 13): a property of the professional's session."""

from __future__ import annotations

from typing import Any

from server.api import api
from server.api.runtime import json_body, run
from server.api.schemas import BOOL, obj
from server.services import secret


@api.route(
    "PUT",
    "/dossiers/<int:dossier_id>/secret-connection",
    "Open (or end) a secret connection with a minor's dossier for this session",
    tag="access",
    body=obj({"on": BOOL}, ["on"]),
    response=obj({"secret_connection": BOOL}, ["secret_connection"]),
)
def secret_connection(dossier_id: int) -> Any:
    body = json_body()
    return run(lambda ctx, who: secret.set_secret(ctx, who, dossier_id, body), write=True)
