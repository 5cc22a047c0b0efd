"""Review routes (docs/alerts.md): the privacy officer's queue of flagged accesses of
their establishment, one case, and the outcome."""

from __future__ import annotations

from typing import Any

from flask import request

from server.alerts import reviews
from server.api import api
from server.api.runtime import json_body, run
from server.api.schemas import ROW_ID, STR, obj

TAG = "reviews"
NULLABLE_STR = {"type": ["string", "null"]}
STATUS = {"type": "string", "enum": list(reviews.STATUSES)}
CASE = obj(
    {
        "id": ROW_ID,
        "status": STATUS,
        "rules": {"type": "array", "items": STR},
        "flagged_at": STR,
        "decided_at": NULLABLE_STR,
        # The trace line: when, which act, under which title, the outcome and its reason,
        # the document category it concerned, the stated reason of an emergency.
        "entry": {"type": ["object", "null"]},
        "professional": {"type": ["object", "null"]},
        "patient": {"type": ["object", "null"]},
        "comment": NULLABLE_STR,
    },
    ["id", "status", "rules", "flagged_at", "entry", "professional"],
)


@api.route(
    "GET",
    "/reviews",
    "The privacy officer's queue: flagged accesses of their establishment",
    tag=TAG,
    response=obj({"cases": {"type": "array", "items": CASE}}, ["cases"]),
    query=[{"name": "status", "in": "query", "required": False, "schema": STATUS}],
)
def review_queue() -> Any:
    status = request.args.get("status")
    return run(lambda ctx, who: reviews.queue(ctx, who, status))


@api.route("GET", "/reviews/<int:case_id>", "One flagged access", tag=TAG, response=CASE)
def review_case(case_id: int) -> Any:
    return run(lambda ctx, who: reviews.read(ctx, who, case_id))


@api.route(
    "PUT",
    "/reviews/<int:case_id>/outcome",
    "Record the outcome of a review (justifiée, non justifiée, en cours)",
    tag=TAG,
    body=obj(
        {
            "outcome": {"type": "string", "enum": list(reviews.OUTCOMES)},
            "comment": {"type": "string", "maxLength": reviews.COMMENT_MAX},
        },
        ["outcome"],
    ),
    response=CASE,
)
def review_outcome(case_id: int) -> Any:
    body = json_body()
    return run(lambda ctx, who: reviews.decide(ctx, who, case_id, body), write=True)
