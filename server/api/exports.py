"""Export routes (docs/export.md): ask for an export, follow it, get its download link."""

from __future__ import annotations

from typing import Any

from flask import request

from server.api import api
from server.api.runtime import run, runtime
from server.api.schemas import DATETIME, EXPORT_ID, ROW_ID, STR, obj
from server.export import handover, jobs

TAG = "exports"
NULL_INT = {"type": ["integer", "null"]}
EXPORT = obj(
    {
        "export_id": EXPORT_ID,
        "dossier_id": ROW_ID,
        "status": {"type": "string", "enum": ["queued", "running", "ready", "failed", "expired"]},
        "progress": {"type": "integer", "minimum": 0, "maximum": 100},
        "documents": NULL_INT,
        "size": NULL_INT,
        "created_at": STR,
        "ready_at": DATETIME,
        "expires_at": STR,
        "error": {"type": ["string", "null"]},
        "link": {"type": ["object", "null"]},
    },
    ["export_id", "dossier_id", "status", "progress"],
)
LINK = obj(
    {
        "url": STR,
        "expires_at": STR,
        "link_sent_to": STR,
        "code_sent_to": STR,
        "code_channel": {"type": "string", "enum": ["email", "sms"]},
    },
    ["url", "expires_at"],
)


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/exports",
    "Export everything the caller may see (built in the background)",
    tag=TAG,
    response=EXPORT,
    status=202,
)
def start(dossier_id: int) -> Any:
    return run(lambda ctx, who: jobs.request(ctx, who, dossier_id), status=202, write=True)


@api.route(
    "GET",
    "/exports/<export_id>",
    "An export's progress and state (its requester only)",
    tag=TAG,
    response=EXPORT,
)
def status(export_id: str) -> Any:
    return run(lambda ctx, who: jobs.status(ctx, who, export_id))


@api.route(
    "POST",
    "/exports/<export_id>/link",
    "A single-use download link for a ready export; its code goes to the address on file",
    tag=TAG,
    response=LINK,
    status=201,
    secret_response=True,
)
def link(export_id: str) -> Any:
    base = base_url()
    return run(lambda ctx, who: handover.issue(ctx, who, export_id, base), status=201)


def base_url() -> str:
    """Where the patient's browser reaches this server (EXPORT_PUBLIC_URL, else the
    address this request came to)."""
    configured = str(runtime().settings["EXPORT_PUBLIC_URL"])
    return configured or request.url_root
