"""Search route: a dossier's documents by words and filters (issue #11, docs/documents.md)."""

from __future__ import annotations

from typing import Any

from flask import request

from server.api import api
from server.api.runtime import run
from server.api.schemas import CATEGORY, DATE_PARAM, FINESS, SEARCH_RESULT
from server.search import query
from server.validation import SAFE_PATTERN

SEARCH_QUERY = [
    {
        "name": "q",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "maxLength": query.Q_MAX, "pattern": SAFE_PATTERN},
        "description": "words, all required (AND); case and accents are ignored, a word "
        "also finds its French stem variants and the words it begins (3 letters or more); "
        f'a "quoted" word finds that word only; at most {query.MAX_TERMS} words',
    },
    {"name": "category", "in": "query", "required": False, "schema": CATEGORY},
    {
        "name": "author",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": query.AUTHOR_MAX, "pattern": SAFE_PATTERN},
        "description": "words that begin words of the author's name or profession",
    },
    {
        "name": "institution",
        "in": "query",
        "required": False,
        "schema": FINESS,
        "description": "FINESS of the author's establishment",
    },
    {
        "name": "from",
        "in": "query",
        "required": False,
        "schema": DATE_PARAM,
        "description": "created on or after this day (Paris time)",
    },
    {
        "name": "to",
        "in": "query",
        "required": False,
        "schema": DATE_PARAM,
        "description": "created on or before this day (Paris time)",
    },
    {
        "name": "status",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": list(query.STATUSES)},
        "description": "only documents in this state (default: all but deleted, as the "
        "listing with all=true)",
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "schema": {"type": "integer", "minimum": 1, "maximum": query.MAX_LIMIT},
        "description": f"documents answered (default {query.DEFAULT_LIMIT}); `count` counts "
        "every match",
    },
]


@api.route(
    "GET",
    "/dossiers/<int:dossier_id>/search",
    "Search the documents the caller may see, by words and filters",
    tag="documents",
    response=SEARCH_RESULT,
    query=SEARCH_QUERY,
)
def search(dossier_id: int) -> Any:
    args = request.args.to_dict(flat=True)
    return run(lambda ctx, who: query.search(ctx, who, dossier_id, args))
