"""Metadata updates on a DocumentReference, as the French profile maps them: JSON Patch
(RFC 6902) on `securityLabel` (the DMP's visibility codes), on the PDSm `isArchived`
extension, and PDSm's logical deletion (the `isDeleted` extension with `status`
superseded); and DELETE (author only). Each change is the JSON API's service: masking and
visibility through `documents.set_visibility`, archive and un-archive through
`documents.archive` / `documents.unarchive`, delete through `documents.delete`, with
their decisions and traces.

A patch is first read alone: only `add`, `remove`, `replace` and `test`, only under
`/securityLabel`, `/extension` and `/status`, at most MAX_OPS operations, else 4xx before
anything is read. It is then applied to the resource as the caller may see it, which it
may see only if it may read the document: a caller who may not gets the refusal the JSON
API gives to its change (decided and traced as that change). The patched resource is
compared with the current one: what changed must be visibility codes, isArchived, or
isDeleted true with status superseded alone; anything else is a 422 and nothing is
written. docs/fhir.md, "PATCH".
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, cast

import jsonpatch
import jsonpointer
from sqlalchemy import or_, select

from server.errors import InvalidInput, MalformedRequest, PreconditionFailed
from server.fhir import codes, params, service, submit
from server.models import Document
from server.policy import Action
from server.services import audit, documents, guard, lookup
from server.services.context import Ctx, Principal

JSON_PATCH = "application/json-patch+json"
MAX_OPS = 16
OPS = {"add", "remove", "replace", "test"}
ROOTS = ("/securityLabel", "/extension", "/status")
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
                f"Opération {i} : seuls securityLabel (visibilité), les extensions isArchived "
                "et isDeleted et status (avec isDeleted) se modifient.",
            )
        if op["op"] != "remove" and "value" not in op:
            raise MalformedRequest("patch_invalid", f"Opération {i} : value attendue.")
    return ops


def apply(
    ctx: Ctx,
    who: Principal,
    logical_id: str,
    ops: list[dict[str, Any]],
    base: str,
    resolve: Callable[[dict[str, Any]], list[dict[str, Any]]] | None = None,
    if_match: str | None = None,
) -> Any:
    """`resolve`, for a FHIRPath Patch (fhirpath_patch.py): `ops` as far as they are known
    before the read (what the decision reads), made JSON Patch against the resource.
    `if_match`: the metadata version (entryUUID) the caller read; the patch applies to
    that version only."""
    action, detail = _action(ops)
    dossier_id = service.dossier_of(ctx, who, logical_id, action, detail)
    row, patient = lookup.dossier(ctx, who, action, dossier_id)
    doc = lookup.document(ctx, who, action, row, patient, logical_id, detail)
    if not guard.permits(ctx, who, Action.DOCUMENT_READ, row, patient, doc):
        # The patch would be applied to what the caller may not see: refused as the
        # JSON API refuses this caller that change (and traced so).
        guard.authorize(ctx, who, action, row, patient, doc, detail=detail)
        raise lookup.no_document()  # allowed to change but not to read: never shown
    if if_match is not None:
        _check_version(ctx, patient.id, doc, if_match)
    current = service.resource(ctx, dossier_id, patient.id, doc.id, base)
    try:
        patched = jsonpatch.apply_patch(current, ops if resolve is None else resolve(current))
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
    (was_archived, _), (archived, deleted) = _extensions(current), _extensions(patched)
    changes = {name: value for name, value in after.items() if before[name] != value}
    status_changed = patched.get("status") != current.get("status")
    if deleted:
        return _delete(ctx, who, dossier_id, doc, current, patched, changes)
    if status_changed:
        raise InvalidInput(
            "status_change_unsupported",
            "status ne change que par un remplacement (ITI-65) ou avec isDeleted (PDSm).",
        )
    if archived == was_archived and not changes:
        raise InvalidInput("no_change", "Le patch ne change rien.")
    if changes:
        # The PATCH is the confirmed act: the software asked its user before sending it.
        documents.set_visibility(ctx, who, dossier_id, logical_id, {**changes, "confirm": True})
    if archived and not was_archived:
        documents.archive(ctx, who, dossier_id, logical_id)
    if was_archived and not archived:
        documents.unarchive(ctx, who, dossier_id, logical_id)
    return service.resource(ctx, dossier_id, patient.id, doc.id, base)


# What a conditional PATCH resolves to when its identifier names no document the server
# keeps: no logical id looks like it, so the PATCH is decided and traced as one on an
# unknown document (service.dossier_of), the caller gets that answer.
NO_DOCUMENT = "-"


def by_identifier(ctx: Ctx, value: str) -> str:
    """The logical id of the one document a conditional PATCH's `identifier` names (its
    masterIdentifier, its current entryUUID or its logical id, as the `identifier` search
    parameter matches them); several: 412, as FHIR's conditional update says."""
    wanted = params.tokens("identifier", value)
    if len(wanted) != 1 or wanted[0][2] is None:
        raise MalformedRequest(
            "identifier_invalid", "« identifier » : une seule valeur, [système|]valeur."
        )
    code = wanted[0][2]
    uuid = code.removeprefix("urn:uuid:") if code.startswith("urn:uuid:") else None
    named = [Document.unique_id == code]
    if uuid is not None:
        named += [Document.logical_id == uuid, Document.entry_uuid == uuid]
    found = [
        doc
        for doc in ctx.session.scalars(
            select(Document).where(or_(*named), Document.status != "deleted")
        )
        if params.token_matches(wanted, codes.identifier_codings(cast(Any, doc)))
    ]
    if len(found) > 1:
        raise PreconditionFailed(
            "identifier_ambiguous", "« identifier » nomme plusieurs documents : PATCH par id."
        )
    return found[0].logical_id if found else NO_DOCUMENT


def _check_version(ctx: Ctx, patient_id: int, doc: Document, if_match: str) -> None:
    """Every change of a dossier's documents writes its trace entry under the chain's head
    lock: taken here first, no other change of this dossier can land between this
    comparison and this patch's own (PostgreSQL; SQLite's writers are serialised from
    BEGIN IMMEDIATE). The same lock order as every writer: head, then documents."""
    audit.locked_head(ctx.session, audit.chain_for(patient_id))
    ctx.session.refresh(doc)
    if doc.entry_uuid != if_match:
        raise PreconditionFailed(
            "version_mismatch",
            "Le document a changé depuis votre lecture (If-Match) : relisez-le, puis recommencez.",
        )


def _delete(
    ctx: Ctx,
    who: Principal,
    dossier_id: int,
    doc: Document,
    current: dict[str, Any],
    patched: dict[str, Any],
    changes: dict[str, bool],
) -> dict[str, Any]:
    """PDSm's logical deletion: isDeleted true with status superseded, on the current
    version, and nothing else; the JSON API's delete (author only). The answer is the
    DocumentReference as PDSm says it now is: superseded, not archived, deleted. It is
    shown once, to the author who just deleted it; every later request finds nothing."""
    if patched.get("status") != "superseded":
        raise InvalidInput(
            "deletion_status_required", "Suppression (PDSm) : isDeleted true et status superseded."
        )
    if current.get("status") != "current":
        raise InvalidInput(
            "deletion_not_current", "Suppression (PDSm) : seule la version en cours se supprime."
        )
    if changes:
        raise InvalidInput(
            "deletion_alone", "Suppression (PDSm) : aucun autre changement dans le même patch."
        )
    documents.delete(ctx, who, dossier_id, doc.logical_id)
    done = copy.deepcopy(current)
    done["status"] = "superseded"
    done["extension"] = [
        {"url": codes.IS_ARCHIVED, "valueBoolean": False},
        {"url": codes.IS_DELETED, "valueBoolean": True},
    ]
    for identifier in done.get("identifier", []):
        if identifier.get("type", {}).get("text") == "entryUUID":
            identifier["value"] = f"urn:uuid:{doc.entry_uuid}"  # the deletion's new entry
    return done


def _action(ops: list[dict[str, Any]]) -> tuple[Action, dict[str, Any]]:
    """The change a patch asks for, told from the patch alone (before the resource is
    read): deletion when it names isDeleted or status, else the first visibility code
    its values carry, else masking for a change of securityLabel, else archiving (or
    un-archiving, when it sets a false). The decision taken and traced on a caller who
    may not read the document, as the JSON API decides the first flag its body names."""
    detail: dict[str, Any] = {"fhir": "PATCH"}
    if any(op["path"].startswith(ROOTS[2]) or _names_deleted(op.get("value")) for op in ops):
        return Action.DOCUMENT_DELETE, detail
    for op in ops:
        if not op["path"].startswith(ROOTS[0]):
            continue
        found = _first_code(op.get("value"))
        if found is not None:
            return documents.FLAG_ACTIONS[_FLAG_CODES[found]], detail
    if any(op["path"].startswith(ROOTS[0]) for op in ops):
        return Action.DOCUMENT_MASK, detail
    if any(op.get("value") is False for op in ops):
        return Action.DOCUMENT_ARCHIVE, {**detail, "op": "unarchive"}
    return Action.DOCUMENT_ARCHIVE, detail


def _names_deleted(value: Any) -> bool:
    if isinstance(value, str):
        return value == codes.IS_DELETED
    items = value.values() if isinstance(value, dict) else value if isinstance(value, list) else []
    return any(_names_deleted(item) for item in items)


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
            if not isinstance(system, str) or not isinstance(code, str):
                raise InvalidInput("security_label_invalid", "securityLabel : system et code.")
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


def _extensions(resource: dict[str, Any]) -> tuple[bool, bool]:
    """(isArchived, isDeleted) of a patched resource: the isArchived extension, always
    there, and PDSm's isDeleted, absent or once; anything else is a 422."""
    extensions = resource.get("extension")
    if not isinstance(extensions, list) or not 1 <= len(extensions) <= 2:
        raise InvalidInput("extension_invalid", "extension : isArchived, et isDeleted (PDSm).")
    found: dict[str, bool] = {}
    for ext in extensions:
        if (
            not isinstance(ext, dict)
            or set(ext) != {"url", "valueBoolean"}
            or ext["url"] not in (codes.IS_ARCHIVED, codes.IS_DELETED)
            or ext["url"] in found
            or not isinstance(ext["valueBoolean"], bool)
        ):
            raise InvalidInput(
                "extension_invalid",
                f"extension : {codes.IS_ARCHIVED} et {codes.IS_DELETED}, valueBoolean seulement.",
            )
        found[ext["url"]] = ext["valueBoolean"]
    if codes.IS_ARCHIVED not in found:
        raise InvalidInput("extension_invalid", f"extension : {codes.IS_ARCHIVED} est requise.")
    return found[codes.IS_ARCHIVED], found.get(codes.IS_DELETED, False)
