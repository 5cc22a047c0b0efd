"""The professionals directory: search by name (issue 14, docs/access-rules.md)."""

from __future__ import annotations

from typing import Any

from flask import request

from server.api import api
from server.api.runtime import run, run_public
from server.api.schemas import NATIONAL_ID
from server.policy.directory import DirectoryPurpose
from server.services import directory
from server.signin.kiosk_identity import TerminalKind, VerifiedKiosk
from server.validation import SAFE_PATTERN

NULLABLE_STR = {"type": ["string", "null"]}
DIRECTORY_RESULT = {
    "type": "object",
    "required": ["results", "page", "next_page"],
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["national_id", "name", "profession", "profession_label"],
                "properties": {
                    "national_id": NATIONAL_ID,
                    "first_name": {"type": "string"},
                    "last_name": {"type": "string"},
                    "name": {"type": "string"},
                    "profession": {"type": "string"},
                    "profession_label": {"type": "string"},
                    "profession_label_en": {"type": "string"},
                    "establishment": NULLABLE_STR,
                    "town": NULLABLE_STR,
                },
            },
        },
        "page": {"type": "integer", "minimum": 1},
        "next_page": {"type": ["integer", "null"]},
    },
}
DIRECTORY_QUERY = [
    {
        "name": "q",
        "in": "query",
        "required": True,
        "schema": {
            "type": "string",
            "minLength": directory.MIN_PREFIX,
            "maxLength": directory.Q_MAX,
            "pattern": SAFE_PATTERN,
        },
        "description": "the beginning of each word of the name (last and first names, any "
        "order); case and accents are ignored; two letters at least",
    },
    {
        "name": "purpose",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": [p.value for p in DirectoryPurpose]},
        "description": "medecin_traitant: physicians only; care_team (default): every "
        "eligible profession",
    },
    {
        "name": "during",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["dossier_opening"]},
        "description": "a kiosk without a session says it is opening a dossier",
    },
    {
        "name": "page",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": directory.MAX_PAGE},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": directory.MAX_LIMIT},
        "description": f"answers per page (default {directory.DEFAULT_LIMIT})",
    },
]


@api.route(
    "GET",
    "/directory/professionals",
    "Search the professionals directory by name (public directory data)",
    tag="directory",
    response=DIRECTORY_RESULT,
    query=DIRECTORY_QUERY,
)
def search_professionals() -> Any:
    args = request.args.to_dict(flat=True)
    if "Authorization" in request.headers:
        return run(lambda ctx, who: directory.search(ctx, who, who.kiosk, args))
    # No session: only a registered kiosk opening a dossier (policy/directory.py).
    return run_public(lambda ctx, kiosk: directory.search(ctx, None, _kiosk_name(kiosk), args))


def _kiosk_name(terminal: VerifiedKiosk | None) -> str | None:
    # A registered software terminal is no kiosk: it has no dossier-opening screen.
    if terminal is None or terminal.kind is not TerminalKind.KIOSK:
        return None
    return terminal.name
