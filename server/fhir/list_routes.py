"""FHIR R4 routes of the SubmissionSet `List` (server/fhir/lists.py): search by patient
(GET and POST `_search`, MHD ITI-66 for submission sets) and read. Run through the JSON
API's runner as the other read routes; errors are answered as OperationOutcome by
routes.py's handlers."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from server.api.runtime import run
from server.fhir import bp, lists
from server.fhir.outcome import UnsupportedMediaType, resource_response
from server.fhir.routes import FORM, _accept_fhir_json, _check_id, _format_param, base_url
from server.services.context import Ctx, Principal


@bp.get("/List")
def list_search_get() -> Response:
    return _list_search(list(request.args.items(multi=True)))


@bp.post("/List/_search")
def list_search_post() -> Response:
    if request.get_data() and request.mimetype != FORM:
        raise UnsupportedMediaType("content_type_unsupported", f"Corps attendu : {FORM}.")
    pairs = list(request.args.items(multi=True)) + list(request.form.items(multi=True))
    return _list_search(pairs)


def _list_search(pairs: list[tuple[str, str]]) -> Response:
    _accept_fhir_json()
    strict = "handling=strict" in request.headers.get("Prefer", "").replace(" ", "")
    base = base_url()
    query = lists.parse(pairs, strict=strict, base=base)
    return run(lambda ctx, who: resource_response(lists.search(ctx, who, query, base)))


@bp.get("/List/<string:resource_id>")
def list_read(resource_id: str) -> Response:
    _check_id(resource_id)
    _accept_fhir_json()
    _format_param()
    base = base_url()

    def work(ctx: Ctx, who: Principal) -> Any:
        found = lists.read(ctx, who, resource_id, base)
        return found if isinstance(found, Response) else resource_response(found)

    return run(work)
