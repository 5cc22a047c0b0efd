"""Metadata updates on a DocumentReference, as the French profile maps them: JSON Patch
(RFC 6902) on `securityLabel` (the DMP's visibility codes) and on the PDSm `isArchived`
extension, and DELETE (author only). Each change is the JSON API's service: masking and
visibility through `documents.set_visibility`, archive through `documents.archive`,
delete through `documents.delete`, with their decisions and traces.

A patch is first read alone: only `add`, `remove`, `replace` and `test`, only under
`/securityLabel` and `/extension`, at most MAX_OPS operations, else 4xx before anything is
read. It is then applied to the resource as the caller may see it, which it may see only
if it may read the document: a caller who may not gets the refusal the JSON API gives to
its change (decided and traced as that change). The patched resource is compared with the
current one: what changed must be a visibility code or isArchived false -> true; anything
else is a 422 and nothing is written. docs/fhir.md, "PATCH".
"""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from server.errors import InvalidInput, MalformedRequest
from server.fhir import codes, service, submit
from server.policy import Action
from server.services import documents, guard, lookup
from server.services.context import Ctx, Principal

JSON_PATCH = "application/json-patch+json"
MAX_OPS = 16
OPS = {"add", "remove", "replace", "test"}
ROOTS = ("/securityLabel", "/extension")
_FLAG_CODES = {code: name for name, code in codes.VISIBILITY.items()}


def check(ops: Any) -> list[dict[str, Any]]:
    """The patch document alone: its grammar and the elements it may touch."""
    if not isinstance(ops, list) or not ops:
        raise MalformedRequest("patch_invalid", "Un document JSON Patch (liste d'opérations).")
    if len(ops) > MAX_OPS:
        raise InvalidInput("patch_too_long", f"Au plus {MAX_OPS} opérations.")
    submit.check_strings(ops)  # forbidden characters, and a bounded nesting
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise MalformedRequest("patch_invalid", f"Opération {i} : op et path attendus.")
        if op.get("op") not in OPS:
            raise InvalidInput(
                "patch_op_unsupported", f"Opération {i} : add, remove, replace ou test."
            )
        path = op["path"]
        if not any(path == root or path.startswith(f"{root}/") for root in ROOTS):
            raise InvalidInput(
                "patch_path_not_allowed",
                f"Opération {i} : seuls securityLabel (visibilité) et l'extension isArchived "
                "se modifient.",
            )
        if op["op"] != "remove" and "value" not in op:
            raise MalformedRequest("patch_invalid", f"Opération {i} : value attendue.")
    return ops


def apply(ctx: Ctx, who: Principal, logical_id: str, ops: list[dict[str, Any]], base: str) -> Any:
    action = _action(ops)
    detail = {"fhir": "PATCH"}
    dossier_id = service.dossier_of(ctx, who, logical_id, action, detail)
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    doc = lookup.document(ctx, who, action, row, patient, logical_id, detail)
    if not guard.permits(ctx, who, Action.DOCUMENT_READ, row, patient, doc):
        # The patch would be applied to what the caller may not see: refused as the
        # JSON API refuses this caller that change (and traced so).
        guard.authorize(ctx, who, action, row, patient, doc, detail=detail)
        raise lookup.no_document()  # allowed to change but not to read: never shown
    current = service.resource(ctx, dossier_id, patient.id, doc.id, base)
    try:
        patched = jsonpatch.apply_patch(current, ops)
    except (
        jsonpatch.JsonPatchException,
        jsonpointer.JsonPointerException,
        TypeError,
        ValueError,
        KeyError,
        IndexError,
    ) as exc:
        raise InvalidInput(
            "patch_failed", f"Le patch ne s'applique pas : {type(exc).__name__}."
        ) from None
    before, after = _flags(current), _flags(patched)
    was_archived, archived = _archived(current), _archived(patched)
    changes = {name: value for name, value in after.items() if before[name] != value}
    if archived == was_archived and not changes:
        raise InvalidInput("no_change", "Le patch ne change rien.")
    if was_archived and not archived:
        raise InvalidInput("unarchive_unsupported", "Un document archivé le reste.")
    if changes:
        # The PATCH is the confirmed act: the software asked its user before sending it.
        documents.set_visibility(ctx, who, dossier_id, logical_id, {**changes, "confirm": True})
    if archived and not was_archived:
        documents.archive(ctx, who, dossier_id, logical_id)
    return service.resource(ctx, dossier_id, patient.id, doc.id, base)


def _action(ops: list[dict[str, Any]]) -> Action:
    """The change a patch asks for, told from the patch alone (before the resource is
    read): the first visibility code its values carry, else masking for a change of
    securityLabel, else archiving. The decision taken and traced on a caller who may not
    read the document, as the JSON API decides the first flag its body names."""
    for op in ops:
        if not op["path"].startswith(ROOTS[0]):
            continue
        found = _first_code(op.get("value"))
        if found is not None:
            return documents.FLAG_ACTIONS[_FLAG_CODES[found]]
    if any(op["path"].startswith(ROOTS[0]) for op in ops):
        return Action.DOCUMENT_MASK
    return Action.DOCUMENT_ARCHIVE


def _first_code(value: Any) -> str | None:
    if isinstance(value, str):
        return value if value in _FLAG_CODES else None
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    for item in items:
        found = _first_code(item)
        if found is not None:
            return found
    return None


def delete(ctx: Ctx, who: Principal, logical_id: str) -> None:
    """Author-only logical deletion, the JSON API's: the document leaves every answer."""
    dossier_id = service.dossier_of(ctx, who, logical_id, Action.DOCUMENT_DELETE, None)
    documents.delete(ctx, who, dossier_id, logical_id)


def _flags(resource: dict[str, Any]) -> dict[str, bool]:
    """The visibility flags a patched securityLabel says; anything else in it is a 422."""
    labels = resource.get("securityLabel")
    if not isinstance(labels, list):
        raise InvalidInput("security_label_invalid", "securityLabel : une liste de codes.")
    flags = dict.fromkeys(codes.VISIBILITY, False)
    normal = 0
    for label in labels:
        codings = label.get("coding") if isinstance(label, dict) else None
        if not isinstance(codings, list) or set(label) - {"coding"}:
            raise InvalidInput("security_label_invalid", "securityLabel : {coding: [...]}.")
        for c in codings:
            if not isinstance(c, dict) or set(c) - {"system", "code", "display"}:
                raise InvalidInput("security_label_invalid", "securityLabel : system et code.")
            system, code = c.get("system"), c.get("code")
            if system == codes.CONFIDENTIALITY and code == codes.NORMAL:
                normal += 1
            elif system == codes.VISIBILITY_TRE_A07 and code in _FLAG_CODES:
                if flags[_FLAG_CODES[code]]:
                    raise InvalidInput("security_label_invalid", f"securityLabel : {code} répété.")
                flags[_FLAG_CODES[code]] = True
            else:
                raise InvalidInput(
                    "security_label_unsupported",
                    "securityLabel : N et les codes de visibilité TRE_A07 seulement.",
                )
    if normal != 1:
        raise InvalidInput(
            "confidentiality_required", "securityLabel : un et un seul code de confidentialité (N)."
        )
    return flags


def _archived(resource: dict[str, Any]) -> bool:
    extensions = resource.get("extension")
    if not isinstance(extensions, list) or len(extensions) != 1:
        raise InvalidInput("extension_invalid", "extension : l'extension isArchived seule.")
    ext = extensions[0]
    if (
        not isinstance(ext, dict)
        or set(ext) != {"url", "valueBoolean"}
        or ext["url"] != codes.IS_ARCHIVED
        or not isinstance(ext["valueBoolean"], bool)
    ):
        raise InvalidInput(
            "extension_invalid", f"extension : {codes.IS_ARCHIVED}, valueBoolean seulement."
        )
    return ext["valueBoolean"]
