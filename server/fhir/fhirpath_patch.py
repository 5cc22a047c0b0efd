"""FHIRPath Patch (http://hl7.org/fhir/R4/fhirpatch.html) on a DocumentReference: the
patch format PDSm requires (v3.1, "Mise à jour de documents", flux 03), a `Parameters`
resource sent as `application/fhir+json`.

Only the operations PDSm writes for the metadata the server changes are understood, each
translated into the JSON Patch operation patch.py already applies, so that the decision,
the trace, the receipt and every refusal are JSON Patch's (patch.apply):

- `add` on `DocumentReference`, name `securityLabel`, a valueCodeableConcept:
  `add /securityLabel/-` (a visibility code set);
- `delete` on `DocumentReference.securityLabel.where(coding.code='C')` (or
  `where(coding.system='S' and coding.code='C')`): `remove /securityLabel/i`, i the one
  label found (none found: nothing, as FHIRPath Patch says; more than one: 422);
- `replace` on `DocumentReference.extension.where(url='U').value` with a valueBoolean:
  `replace /extension/i/valueBoolean` (isArchived both ways; none found: 422);
- `add` on `DocumentReference`, name `extension`, a value in parts (`url`,
  `valueBoolean`): `add /extension/-` (PDSm's isDeleted);
- `replace` on `DocumentReference.status` with a valueCode: `replace /status`.

Anything else (other paths, FHIRPath functions other than `where`, `insert`, `move`) is a
422 naming what is unsupported; a body that is not a valid Parameters is a 400. The
Parameters is read alone first (before the caller is known); the indices are found only
once patch.apply has read the resource for a caller who may read it. docs/fhir.md, "PATCH".
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jsonpatch
from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from server.errors import InvalidInput, MalformedRequest
from server.fhir import codes, patch, submit

MEDIA = "application/fhir+json"
OPERATION_TYPES = {"add", "insert", "delete", "replace", "move"}
PART_NAMES = {"type", "path", "name", "value", "index", "source", "destination"}

Resolve = Callable[[dict[str, Any]], list[dict[str, Any]]]

_STRING = r"'([^'\\]*)'"
_EXTENSION_VALUE = re.compile(
    rf"DocumentReference\.extension\.where\(\s*url\s*=\s*{_STRING}\s*\)\.value(?:Boolean)?"
)
_LABEL = re.compile(
    r"DocumentReference\.securityLabel\.where\(\s*"
    rf"(?:coding\.system\s*=\s*{_STRING}\s+and\s+)?coding\.code\s*=\s*{_STRING}\s*\)"
)
_FUNCTION = re.compile(r"([A-Za-z_]\w*)\s*\(")
_HEAD = re.compile(r"[A-Za-z][A-Za-z.]{0,60}")
_NAME = re.compile(r"[A-Za-z]{1,40}")


@dataclass(frozen=True)
class Operation:
    """One translated operation: `sketch` is the JSON Patch operation as far as it is
    known from the Parameters alone (what patch.check and patch's decision read); `find`,
    when the path selects by value, gives the real one against the resource."""

    sketch: dict[str, Any]
    find: Callable[[dict[str, Any]], dict[str, Any] | None] | None = None


def translate(body: Any) -> tuple[list[dict[str, Any]], Resolve]:
    """The Parameters alone: its shape (fhir.resources), the subset understood. Returns
    the operations as patch.apply decides on them, and how to make them JSON Patch."""
    if not isinstance(body, dict) or body.get("resourceType") != "Parameters":
        raise MalformedRequest(
            "parameters_invalid", "FHIRPath Patch : une ressource Parameters est attendue."
        )
    submit.check_strings(body)  # forbidden characters, and a bounded nesting
    parameters = body.get("parameter")
    if not isinstance(parameters, list) or not parameters:
        raise MalformedRequest("patch_invalid", "FHIRPath Patch : au moins une opération.")
    if len(parameters) > patch.MAX_OPS:
        raise InvalidInput("patch_too_long", f"Au plus {patch.MAX_OPS} opérations.")
    _valid(body)
    operations = [_operation(i, p) for i, p in enumerate(parameters)]
    sketches = patch.check([o.sketch for o in operations])
    return sketches, _resolver(operations)


def _valid(body: dict[str, Any]) -> None:
    try:
        get_fhir_model_class("Parameters").model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][:8])
        # The location and kind only: the value is the caller's.
        raise MalformedRequest(
            "parameters_invalid", f"Parameters invalide : {where} ({first['type']})."
        ) from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise MalformedRequest("parameters_invalid", "Parameters invalide.") from None


def _operation(i: int, parameter: dict[str, Any]) -> Operation:
    where = f"Opération {i}"
    parts = parameter.get("part")
    if parameter.get("name") != "operation" or not isinstance(parts, list):
        raise MalformedRequest("patch_invalid", f"{where} : un paramètre « operation » à parties.")
    named: dict[str, dict[str, Any]] = {}
    for part in parts:
        name = part.get("name")
        if name not in PART_NAMES or name in named:
            raise MalformedRequest(
                "patch_invalid", f"{where} : parties type, path, name, value, une fois chacune."
            )
        named[name] = part
    kind = _value(named.get("type"), "valueCode")
    path = _value(named.get("path"), "valueString")
    if not isinstance(kind, str) or not isinstance(path, str):
        raise MalformedRequest("patch_invalid", f"{where} : type (code) et path (string) attendus.")
    if kind not in OPERATION_TYPES:
        raise MalformedRequest(
            "patch_invalid", f"{where} : type add, insert, delete, replace, move."
        )
    if kind in ("insert", "move"):
        raise InvalidInput("patch_op_unsupported", f"{where} : {kind} non pris en charge.")
    path = path.strip()
    functions = sorted({f for f in _FUNCTION.findall(path) if f != "where"})
    if functions:
        raise InvalidInput(
            "fhirpath_unsupported",
            f"{where} : fonction FHIRPath non prise en charge : {', '.join(functions)[:80]}.",
        )
    element = _value(named.get("name"), "valueString")
    value = named.get("value")
    if kind == "add" and path == "DocumentReference" and element == "securityLabel":
        label = _value(value, "valueCodeableConcept")
        if not isinstance(label, dict):
            raise _value_expected(where, "valueCodeableConcept")
        return Operation({"op": "add", "path": "/securityLabel/-", "value": label})
    if kind == "add" and path == "DocumentReference" and element == "extension":
        return Operation({"op": "add", "path": "/extension/-", "value": _complex(where, value)})
    if kind == "replace" and path == "DocumentReference.status":
        status = _value(value, "valueCode")
        if not isinstance(status, str):
            raise _value_expected(where, "valueCode")
        return Operation({"op": "replace", "path": "/status", "value": status})
    matched = _EXTENSION_VALUE.fullmatch(path)
    if kind == "replace" and matched:
        flag = _value(value, "valueBoolean")
        if not isinstance(flag, bool):
            raise _value_expected(where, "valueBoolean")
        return _replace_extension(where, matched.group(1), flag)
    matched = _LABEL.fullmatch(path)
    if kind == "delete" and matched:
        return _delete_label(where, matched.group(1), matched.group(2))
    head = _HEAD.match(path)
    # Named back by its element names only: nothing else the caller wrote is echoed.
    shown = f" ({element})" if isinstance(element, str) and _NAME.fullmatch(element) else ""
    named_path = (head.group(0) if head else "?") + shown
    raise InvalidInput(
        "patch_path_not_allowed",
        f"{where} : {kind} sur {named_path[:100]} non pris en charge ; seuls securityLabel "
        "(codes de visibilité), les extensions isArchived et isDeleted et status (avec "
        "isDeleted) se modifient (docs/fhir.md).",
    )


def _value(part: dict[str, Any] | None, kind: str) -> Any:
    """The part's value if it has that type, else None (the caller says what it expected)."""
    if part is None:
        return None
    return part.get(kind)


def _value_expected(where: str, kind: str) -> InvalidInput:
    return InvalidInput("patch_value_invalid", f"{where} : value attendue en {kind}.")


def _complex(where: str, value: dict[str, Any] | None) -> dict[str, Any]:
    """A complex value given in parts (the spec's form for an Extension): {name: value}."""
    parts = value.get("part") if value is not None else None
    if not isinstance(parts, list) or not parts:
        raise _value_expected(where, "parties (url, valueBoolean)")
    out: dict[str, Any] = {}
    for part in parts:
        values = [v for k, v in part.items() if k.startswith("value")]
        if len(values) != 1 or part["name"] in out:
            raise _value_expected(where, "parties (url, valueBoolean), une valeur chacune")
        out[part["name"]] = values[0]
    return out


def _replace_extension(where: str, url: str, flag: bool) -> Operation:
    # As JSON Patch says it: the boolean of isArchived, or the extension named (so that
    # a patch naming isDeleted is decided as a deletion before the resource is read).
    sketch_value: Any = flag if url == codes.IS_ARCHIVED else {"url": url, "valueBoolean": flag}

    def find(resource: dict[str, Any]) -> dict[str, Any]:
        found = [
            i
            for i, ext in enumerate(resource.get("extension") or [])
            if isinstance(ext, dict) and ext.get("url") == url
        ]
        if not found:
            raise InvalidInput(
                "patch_failed", f"{where} : aucune extension de cette url (add pour l'ajouter)."
            )
        if len(found) > 1:
            raise InvalidInput("patch_failed", f"{where} : plusieurs extensions de cette url.")
        return {"op": "replace", "path": f"/extension/{found[0]}/valueBoolean", "value": flag}

    return Operation({"op": "replace", "path": "/extension", "value": sketch_value}, find)


def _delete_label(where: str, system: str | None, code: str) -> Operation:
    def find(resource: dict[str, Any]) -> dict[str, Any] | None:
        found = [
            i
            for i, label in enumerate(resource.get("securityLabel") or [])
            if isinstance(label, dict)
            and any(
                isinstance(c, dict)
                and c.get("code") == code
                and (system is None or c.get("system") == system)
                for c in label.get("coding") or []
            )
        ]
        if len(found) > 1:
            raise InvalidInput("patch_failed", f"{where} : plusieurs securityLabel désignés.")
        # FHIRPath Patch: delete the element if found; none found is no change.
        return {"op": "remove", "path": f"/securityLabel/{found[0]}"} if found else None

    # No value, as JSON Patch's remove by index: the same decision before the read.
    return Operation({"op": "remove", "path": "/securityLabel"}, find)


def _resolver(operations: list[Operation]) -> Resolve:
    def resolve(current: dict[str, Any]) -> list[dict[str, Any]]:
        """The JSON Patch, each operation found against the resource as the previous ones
        left it (FHIRPath Patch applies them in order)."""
        work, out = copy.deepcopy(current), []
        for operation in operations:
            concrete = operation.sketch if operation.find is None else operation.find(work)
            if concrete is not None:
                work = jsonpatch.apply_patch(work, [concrete])
                out.append(concrete)
        return out

    return resolve
