"""The bench's WSGI app: the real records server plus one ceiling endpoint.

    gunicorn 'bench.app:create_bench_app()'

`/bench/baseline` answers a precomputed JSON body shaped and sized like a real document
listing, with no session, no database and no policy: what the same Flask + gunicorn
stack costs on its own, so that the access-checked endpoints are reported as a ratio of
it. This module is never imported by the server and its route never exists in
production (the production entry point is `server.app:create_app()`).

The body is read from the file named by DMP_BENCH_BASELINE (`server_bench` captures a
real listing there before starting gunicorn); without it a synthetic listing of the same
shape is used, so the app also starts on its own.

`/bench/floor/<patient id>` is the floor of an access-checked read: session, durable
trace entry, the same body (see `floor` below).

`/bench/summary_nocache/<dossier id>` is `GET /fhir/R4/Patient/<id>/$summary` with the
summary cache bypassed (same decision, trace and Bundle, built from the structures at
every request): what the cache saves, measured in the same run.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response

from server.api.runtime import run
from server.app import create_app
from server.fhir import summary
from server.fhir.outcome import FHIR_JSON
from server.fhir.routes import base_url
from server.policy import Action
from server.policy.model import Decision, Mode, Reason
from server.services import guard
from server.services.context import Ctx, Principal
from server.services.facts import PatientRef

BASELINE_ENV = "DMP_BENCH_BASELINE"
FLOOR_DECISION = Decision(True, Reason.MEDECIN_TRAITANT, Mode.MEDECIN_TRAITANT)


def create_bench_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = create_app(test_config)
    body = baseline_body()
    bench = Blueprint("bench", __name__)

    @bench.get("/bench/baseline")
    def baseline() -> Response:
        # The same Response construction the API uses, minus the work it measures.
        return Response(body, 200, mimetype="application/json")

    @bench.get("/bench/floor/<int:patient_id>")
    def floor(patient_id: int) -> Response:
        # What no access-checked read can skip under issue #2's rules: the caller's
        # session resolved, a trace entry appended to the patient's chain under its head
        # lock and committed durably before the answer. Then the same body as the
        # baseline. No dossier lookup, no policy, no document query: the gap between this
        # and the baseline is the floor's cost, the gap to the listing is the listing's.
        def work(ctx: Ctx, who: Principal) -> Response:
            # The entry a listing writes, through the function that writes it; only the
            # patient's id matters to it.
            patient = PatientRef(patient_id, date.min, None, None, "email")
            guard.trace(
                ctx, who, Action.DOCUMENT_LIST, FLOOR_DECISION, patient, None, {"all": False}
            )
            return Response(body, 200, mimetype="application/json")

        return run(work)

    @bench.get("/bench/summary_nocache/<int:dossier_id>")
    def summary_nocache(dossier_id: int) -> Response:
        base = base_url()

        def work(ctx: Ctx, who: Principal) -> Response:
            body = summary.summary(ctx, who, dossier_id, base, cache=False)
            return Response(body, 200, mimetype=FHIR_JSON)

        return run(work)

    app.register_blueprint(bench)
    return app


def baseline_body() -> bytes:
    path = os.environ.get(BASELINE_ENV)
    if path:
        return Path(path).read_bytes()
    return json.dumps(synthetic_listing(), ensure_ascii=False).encode()


def synthetic_listing(count: int = 12) -> dict[str, Any]:
    """A listing of `count` documents with every field the API returns."""
    doc = {
        "logical_id": "3f1c2b9e-8d4a-4c6e-9b1f-2a7d5e6c8b90",
        "unique_id": "1.2.250.1.999.1.6400001",
        "entry_uuid": "b2e4f6a8-1c3d-4e5f-8a9b-0c1d2e3f4a5b",
        "version": 1,
        "title": "Compte rendu de consultation",
        "category": "compte_rendu",
        "category_label": "Compte rendu",
        "type_code": "11488-4",
        "author": {"kind": "professional", "name": "Claire Martin", "profession": "medecin"},
        "author_institution": "750000010",
        "created_at": "2026-03-01T09:12:44.123456+00:00",
        "service_start": "2026-02-27T00:00:00+00:00",
        "service_end": "2026-02-28T00:00:00+00:00",
        "submitted_at": "2026-03-03T10:00:00.654321+00:00",
        "mime_type": "application/pdf",
        "size": 812,
        "sha256": "9" * 64,
        "status": "current",
        "flags": {"masked_ps": False, "invisible_patient": False, "invisible_rep": False},
        "labels": [],
        "replaces": None,
        "replaced_by": None,
    }
    return {"dossier_id": 1, "all": False, "documents": [doc] * count}
