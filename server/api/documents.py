"""Document routes: list, metadata, content, deposit, replace, archive, delete, visibility."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from server.api import api
from server.api.runtime import json_body, run
from server.api.schemas import (
    CATEGORY,
    DEPOSIT_NEW,
    DIFF,
    DOCUMENT,
    DOCUMENT_LIST,
    LOGICAL_ID,
    REPLACE,
    STRUCTURE,
    VERSIONS,
    VISIBILITY,
    with_receipt,
)
from server.errors import InvalidInput
from server.services import documents, versions
from server.services.context import Ctx, Principal

TAG = "documents"
DOC = "/dossiers/<int:dossier_id>/documents/<string:logical_id>"
LIST_QUERY = [
    {
        "name": "all",
        "in": "query",
        "required": False,
        "schema": {"type": "boolean"},
        "description": "every date and status instead of two years of current documents",
    },
    {"name": "category", "in": "query", "required": False, "schema": CATEGORY},
]


@api.route(
    "GET",
    "/dossiers/<int:dossier_id>/documents",
    "Documents the caller may see",
    tag=TAG,
    response=DOCUMENT_LIST,
    query=LIST_QUERY,
)
def list_documents(dossier_id: int) -> Any:
    everything = request.args.get("all", "false").lower()
    if everything not in ("true", "false", "1", "0"):
        raise InvalidInput("all_invalid", "« all » vaut true ou false.")
    category = request.args.get("category")
    return run(
        lambda ctx, who: documents.list_documents(
            ctx, who, dossier_id, everything=everything in ("true", "1"), category=category
        )
    )


@api.route(
    "POST",
    "/dossiers/<int:dossier_id>/documents",
    "Deposit a document",
    tag=TAG,
    body=DEPOSIT_NEW,
    response=DOCUMENT,
    status=201,
)
def deposit(dossier_id: int) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: documents.deposit(ctx, who, dossier_id, body), status=201, write=True
    )


@api.route("GET", DOC, "Document metadata", tag=TAG, response=DOCUMENT)
def metadata(dossier_id: int, logical_id: str) -> Any:
    return run(lambda ctx, who: documents.metadata(ctx, who, dossier_id, logical_id))


@api.route(
    "GET",
    DOC + "/content",
    "Document content",
    tag=TAG,
    content_type=tuple(sorted(documents.MIME_TYPES)),
    response={"type": "string", "format": "binary"},
)
def content(dossier_id: int, logical_id: str) -> Any:
    def work(ctx: Ctx, who: Principal) -> Response:
        found = documents.read_content(ctx, who, dossier_id, logical_id)
        response = Response(found.body, 200, mimetype=found.mime_type)
        response.headers["Digest"] = found.digest
        response.headers["Cache-Control"] = "no-store"
        return response

    return run(work)


@api.route(
    "GET",
    DOC + "/structure",
    "Text status, sections and coded entries read from the document",
    tag=TAG,
    response=STRUCTURE,
)
def structure(dossier_id: int, logical_id: str) -> Any:
    return run(lambda ctx, who: documents.structure(ctx, who, dossier_id, logical_id))


@api.route(
    "POST",
    DOC + "/replace",
    "Replace with a new version (the old one is kept)",
    tag=TAG,
    body=REPLACE,
    response=DOCUMENT,
    status=201,
)
def replace(dossier_id: int, logical_id: str) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: documents.replace(ctx, who, dossier_id, logical_id, body),
        status=201,
        write=True,
    )


@api.route(
    "GET",
    DOC + "/versions",
    "Every version of the document the caller may read, oldest first",
    tag=TAG,
    response=VERSIONS,
)
def version_history(dossier_id: int, logical_id: str) -> Any:
    return run(lambda ctx, who: versions.history(ctx, who, dossier_id, logical_id))


@api.route(
    "GET",
    DOC + "/diff",
    "Line diff of the texts of two versions of the document",
    tag=TAG,
    response=DIFF,
    query=[
        {
            "name": "against",
            "in": "query",
            "required": True,
            "schema": LOGICAL_ID,
            "description": "logical id of another version of the same document",
        }
    ],
)
def version_diff(dossier_id: int, logical_id: str) -> Any:
    against = request.args.get("against")
    return run(lambda ctx, who: versions.diff(ctx, who, dossier_id, logical_id, against))


@api.route("POST", DOC + "/archive", "Archive (not delete)", tag=TAG, response=DOCUMENT)
def archive(dossier_id: int, logical_id: str) -> Any:
    return run(lambda ctx, who: documents.archive(ctx, who, dossier_id, logical_id), write=True)


@api.route("POST", DOC + "/unarchive", "Take out of the archive", tag=TAG, response=DOCUMENT)
def unarchive(dossier_id: int, logical_id: str) -> Any:
    return run(lambda ctx, who: documents.unarchive(ctx, who, dossier_id, logical_id), write=True)


@api.route("DELETE", DOC, "Delete logically (author only)", tag=TAG, response=DOCUMENT)
def delete(dossier_id: int, logical_id: str) -> Any:
    return run(lambda ctx, who: documents.delete(ctx, who, dossier_id, logical_id), write=True)


@api.route(
    "PATCH",
    DOC + "/visibility",
    "Change visibility flags (confirmed)",
    tag=TAG,
    body=VISIBILITY,
    response=with_receipt(DOCUMENT),
)
def visibility(dossier_id: int, logical_id: str) -> Any:
    body = json_body()
    return run(
        lambda ctx, who: documents.set_visibility(ctx, who, dossier_id, logical_id, body),
        write=True,
    )
