"""The patient's access history as FHIR AuditEvents (issue #14), after IHE BALP where it
fits: one AuditEvent per trace entry of the dossier, newest first.

A door onto `services.history` like the kiosk's page: the same decision (HISTORY_READ:
the patient and a minor's representatives), the same trace of the reading, the same
codes. Nothing here decides access.

Mapping (docs/fhir.md, "AuditEvent"):
- `type`: DICOM 110110 "Patient Record"; `subtype`: the trace's action code, under this
  server's system (`urn:dmp-kiosk:trace-action`), with its words in `display`.
- `action`: C, R, U, D or E (BALP's create/read/update/delete/execute) from the action;
  `recorded`: when; `outcome` 0 (success) or 4 (refused) with the reason's code.
- `agent`: who acted (name, profession as role), requestor; `purposeOfEvent`: how the
  access was allowed (the mode), as text.
- `source.observer`: this records server; `entity`: the patient (`Patient/{dossier}`),
  and the entry's place in the verifiable log (`log_index`) when sequenced.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from server.errors import MalformedRequest
from server.fhir.params import bad
from server.services import history
from server.services.context import Ctx, Principal
from server.validation import ID_MAX, ascii_int

DCM = "http://dicom.nema.org/resources/ontology/DCM"
ACTION_SYSTEM = "urn:dmp-kiosk:trace-action"
OBJECT_ROLE = "http://terminology.hl7.org/CodeSystem/object-role"
ACTIONS = {
    "create": "C",
    "deposit": "C",
    "read": "R",
    "list": "R",
    "lookup": "R",
    "replace": "U",
    "archive": "U",
    "mask": "U",
    "patient_visibility": "U",
    "rep_visibility": "U",
    "delete": "D",
    "purge": "D",
}
PARAMS = ("patient", "_count", "_before")
DEFAULT_COUNT, MAX_COUNT = 50, history.PAGE


def search(ctx: Ctx, who: Principal, args: Mapping[str, str], base: str) -> dict[str, Any]:
    unknown = sorted(set(args) - set(PARAMS))
    if unknown:
        raise bad(unknown[0], f"Paramètre non pris en charge : {unknown[0]}")
    dossier_id = _patient(args.get("patient"), base)
    count = _int(args, "_count", DEFAULT_COUNT, low=1, high=MAX_COUNT)
    before = _int(args, "_before", None, low=1, high=ID_MAX)
    page = history.history(ctx, who, dossier_id, before=before, limit=count, words=False)
    entries = [
        {
            "fullUrl": f"{base}/AuditEvent/{dossier_id}-{line['seq']}",
            "resource": audit_event(line, dossier_id),
        }
        for line in page["entries"]
    ]
    links = [{"relation": "self", "url": _url(base, dossier_id, count, before)}]
    # Not "a full page": lines hidden from this reader make a page shorter, not the last.
    if page["next_before"] is not None:
        links.append(
            {"relation": "next", "url": _url(base, dossier_id, count, page["next_before"])}
        )
    return {"resourceType": "Bundle", "type": "searchset", "link": links, "entry": entries}


def audit_event(line: Mapping[str, Any], dossier_id: int) -> dict[str, Any]:
    actor = line["actor"]
    action = str(line["action"])
    agent: dict[str, Any] = {
        "type": {"text": actor["kind"]},
        "who": {"display": actor["name"] or actor["kind"]},
        "requestor": True,
    }
    labels = actor.get("profession_label")
    if labels:
        agent["role"] = [{"text": labels["fr"]}]
    event: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": f"{dossier_id}-{line['seq']}",
        "type": {"system": DCM, "code": "110110", "display": "Patient Record"},
        "subtype": [{"system": ACTION_SYSTEM, "code": action}],
        "action": ACTIONS.get(action.partition(":")[2], "E"),
        "recorded": line["at"],
        "outcome": "0" if line["outcome"] == "allowed" else "4",
        "outcomeDesc": str(line["reason"]),
        "agent": [agent],
        "source": {"observer": {"display": "dmp-kiosk records server"}},
        "entity": [
            {
                "what": {"reference": f"Patient/{dossier_id}"},
                "role": {"system": OBJECT_ROLE, "code": "1", "display": "Patient"},
            }
        ],
    }
    if line.get("mode") not in (None, "none", "patient"):
        event["purposeOfEvent"] = [{"text": str(line["mode"])}]
    if line.get("log_index") is not None:
        event["entity"].append(
            {"what": {"display": "verifiable log leaf"}, "name": str(line["log_index"])}
        )
    return event


def _patient(value: str | None, base: str) -> int:
    if not value:
        raise MalformedRequest("patient_required", "La recherche nomme le patient : patient.")
    for prefix in (f"{base}/Patient/", "Patient/"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    dossier_id = ascii_int(value, high=ID_MAX)
    if dossier_id is None:
        raise bad("patient", "« patient » : une référence Patient/<identifiant du dossier>.")
    return dossier_id


def _int(args: Mapping[str, str], name: str, default: int | None, *, low: int, high: int) -> Any:
    raw = args.get(name)
    if raw is None:
        return default
    found = ascii_int(raw, low=low, high=high)
    if found is None:
        raise bad(name, f"« {name} » : un entier de {low} à {high}.")
    return found


def _url(base: str, dossier_id: int, count: int, before: int | None) -> str:
    query: dict[str, Any] = {"patient": f"Patient/{dossier_id}", "_count": count}
    if before is not None:
        query["_before"] = before
    return f"{base}/AuditEvent?{urlencode(query)}"
