"""The IPS `$summary` operation's routes (server/fhir/summary.py builds the Bundle).

Kept apart from routes.py: the same runner, the same checks of the request (FHIR JSON
only, ids checked before anything is read), the same OperationOutcome errors (the
blueprint's handlers).
"""

from __future__ import annotations

from flask import Response, request

from server.api.runtime import run
from server.fhir import bp, params, summary
from server.fhir.outcome import FHIR_JSON
from server.fhir.routes import _accept_fhir_json, _format_param, base_url
from server.validation import ID_MAX, ascii_int


@bp.get("/Patient/<string:resource_id>/$summary")
def patient_summary(resource_id: str) -> Response:
    _accept_fhir_json()
    _format_param()
    _no_other_parameters()
    # The Patient id is the dossier's number (docs/fhir.md): ASCII digits, a 32-bit id.
    dossier_id = ascii_int(resource_id, high=ID_MAX) if len(resource_id) <= 64 else None
    if dossier_id is None:
        raise params.bad("id", "Patient/<identifiant du dossier> : un nombre.")
    base = base_url()
    return run(lambda ctx, who: _fhir_json(summary.summary(ctx, who, dossier_id, base)))


@bp.get("/Patient/$summary")
def patient_summary_by_identifier() -> Response:
    """The type-level form of the operation: the patient named by their INS
    (`identifier=<INS system>|<matricule>`), found as an ITI-67 search by INS finds it."""
    _accept_fhir_json()
    _format_param()
    _no_other_parameters(allowed=("identifier",))
    values = request.args.getlist("identifier")
    if len(values) != 1:
        raise params.bad("identifier", "Un seul « identifier » : <système INS>|<matricule INS>.")
    found = params.parse([("patient.identifier", values[0])], strict=True, base="")
    base = base_url()
    return run(lambda ctx, who: _fhir_json(summary.summary(ctx, who, None, base, ins=found.ins)))


def _fhir_json(body: str) -> Response:
    """The summary comes encoded (its derived part spliced in as cached, unparsed)."""
    return Response(body, 200, mimetype=FHIR_JSON)


def _no_other_parameters(allowed: tuple[str, ...] = ()) -> None:
    """IPS $summary's optional parameters (profile, graph) are not supported: refused
    rather than ignored, since ignoring them would answer something else than asked."""
    for name in request.args:
        if name not in (*allowed, "_format"):
            raise params.bad("parameter", "Paramètre non pris en charge par $summary.")
