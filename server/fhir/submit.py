"""ITI-65 Provide Document Bundle: a `transaction` Bundle of one SubmissionSet (`List`),
DocumentReferences and their Binaries, deposited all or nothing through the JSON API's
deposit and replace services (the same decision, the same trace).

Two stages. `plan` reads the Bundle alone (no database): the resources checked by the
fhir.resources R4 models, the references inside the Bundle resolved, each Binary's bytes
against the SHA-1 and size its DocumentReference declares, PDSm's mandatory elements,
and each DocumentReference turned into the JSON API's deposit body (checked by the same
schema as POST /api/v1/dossiers/{id}/documents). `execute` then deposits (or replaces)
them one by one in the request's single transaction: any refusal, by the policy or by a
check on stored data, undoes every deposit of the Bundle. docs/fhir.md, "ITI-65".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from pydantic import ValidationError
from sqlalchemy import select

from server.api.registry import request_schema
from server.api.schemas import DEPOSIT
from server.errors import DmpError, InvalidInput, MalformedRequest
from server.fhir import codes
from server.labels import CATEGORIES
from server.models import Professional
from server.policy import ActorKind
from server.services import documents, dossiers, views
from server.services.context import Ctx, Principal
from server.validation import safe_text

MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
SUBMISSION_SET = "submissionset"
SOURCE_ID = "https://profiles.ihe.net/ITI/MHD/StructureDefinition/ihe-sourceId"
MAX_SET_IDENTIFIER = 128  # the columns of submission_sets
MAX_DOCUMENTS = 20  # per Bundle: one transaction, one lock on the patient's trace
MAX_ENTRIES = 2 * MAX_DOCUMENTS + 1
MAX_DEPTH = 32  # nesting of the Bundle's JSON (a DocumentReference needs about 8)
AUTHOR_TYPES = {"Practitioner", "PractitionerRole", "Patient", "Organization", "Device"}
_HEX = "[0-9a-fA-F]"
_UUID_URL = re.compile(f"urn:uuid:{_HEX}{{8}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{4}}-{_HEX}{{12}}")
_FHIR_ID = re.compile(r"[A-Za-z0-9.\-]{1,64}")
_CLASS_TO_CATEGORY = {code: category for category, (code, _) in codes.CLASS_CODES.items()}
_VISIBILITY_FLAGS = {code: name for name, code in codes.VISIBILITY.items()}
_DEPOSIT_SCHEMA = Draft202012Validator(request_schema(DEPOSIT))


def malformed(reason: str, message: str) -> MalformedRequest:
    return MalformedRequest(reason, message)


def unprocessable(reason: str, message: str) -> InvalidInput:
    return InvalidInput(reason, message)


@dataclass(frozen=True, slots=True)
class Submission:
    """One DocumentReference of the Bundle, as the JSON API's deposit (or replace) body."""

    index: int  # its entry in the Bundle
    binary_index: int  # the entry of its Binary
    body: dict[str, Any]
    replaces: str | None  # logical id of the version it replaces
    author_ids: frozenset[str]  # IDNPS national ids of its embedded Practitioners


@dataclass(slots=True)
class Plan:
    dossier_id: int | None
    ins: tuple[str, str] | None  # (matricule, OID) when the subject names an INS
    list_index: int
    entries: int
    submissions: list[Submission] = field(default_factory=list)
    # The SubmissionSet's identifiers as the producer gave them (kept: server/fhir/lists.py).
    set_unique_id: str | None = None
    set_source_id: str | None = None


# --- stage 1: the Bundle alone ----------------------------------------------------------


def plan(bundle: Any, base: str) -> Plan:
    """Everything that can be checked without the database, before anything is read."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise malformed("bundle_expected", "Un Bundle FHIR de type transaction est attendu.")
    if bundle.get("type") != "transaction":
        raise malformed("bundle_type_invalid", "ITI-65 : le Bundle doit être de type transaction.")
    check_strings(bundle)
    entries = bundle.get("entry")
    if not isinstance(entries, list) or not entries:
        raise malformed("bundle_empty", "Le Bundle ne contient aucune entrée.")
    if len(entries) > MAX_ENTRIES:
        raise unprocessable("bundle_too_large", f"Au plus {MAX_DOCUMENTS} documents par Bundle.")
    _valid(bundle)
    by_url: dict[str, tuple[int, dict[str, Any]]] = {}
    lists, references, binaries = [], [], {}
    for i, entry in enumerate(entries):
        resource, url = entry.get("resource"), entry.get("fullUrl")
        if not isinstance(resource, dict):
            raise malformed("entry_resource_missing", f"Entrée {i} : ressource absente.")
        kind = resource.get("resourceType")
        if not isinstance(url, str) or not _UUID_URL.fullmatch(url):
            raise malformed("full_url_invalid", f"Entrée {i} : fullUrl doit être urn:uuid:<UUID>.")
        if url.lower() in by_url:
            raise malformed("full_url_duplicate", f"Entrée {i} : fullUrl déjà employé.")
        request = entry.get("request") or {}
        if request.get("method") != "POST" or request.get("url") != kind:
            raise unprocessable(
                "entry_request_unsupported",
                f"Entrée {i} : seule la création (POST {kind}) est prise en charge.",
            )
        by_url[url.lower()] = (i, resource)
        if kind == "List":
            lists.append(i)
        elif kind == "DocumentReference":
            references.append(i)
        elif kind == "Binary":
            binaries[url.lower()] = i
        else:
            raise unprocessable(
                "resource_type_unsupported",
                f"Entrée {i} : {kind} n'est pas pris en charge (List, DocumentReference, "
                "Binary ; l'auteur est contenu dans le DocumentReference).",
            )
    if len(lists) != 1:
        raise unprocessable(
            "submission_set_required", "ITI-65 : un et un seul lot de soumission (List)."
        )
    if not references:
        raise unprocessable("document_required", "Le Bundle ne contient aucun DocumentReference.")
    if len(references) > MAX_DOCUMENTS:
        raise unprocessable("bundle_too_large", f"Au plus {MAX_DOCUMENTS} documents par Bundle.")
    out = Plan(dossier_id=None, ins=None, list_index=lists[0], entries=len(entries))
    used_binaries: set[int] = set()
    for i in references:
        submission = _document(i, entries[i]["resource"], binaries, entries, base, out)
        if submission.binary_index in used_binaries:
            raise malformed("binary_shared", f"Entrée {i} : ce Binary sert déjà un autre document.")
        used_binaries.add(submission.binary_index)
        out.submissions.append(submission)
    unused = set(binaries.values()) - used_binaries
    if unused:
        raise malformed(
            "binary_unreferenced", f"Entrée {min(unused)} : Binary qu'aucun document ne désigne."
        )
    _submission_set(entries[out.list_index]["resource"], out, by_url, references, base)
    _no_duplicates(out.submissions)
    return out


def check_strings(value: Any, depth: int = 0) -> None:
    """Every key and string: the forbidden code points of the JSON API (NUL, controls,
    bidi overrides), and the nesting bound (a Bundle or a patch alike)."""
    if depth > MAX_DEPTH:
        raise malformed("json_too_deep", "JSON imbriqué trop profondément.")
    if isinstance(value, str):
        if not safe_text(value):
            raise unprocessable("character_forbidden", "Le Bundle contient un caractère interdit.")
    elif isinstance(value, list):
        for item in value:
            check_strings(item, depth + 1)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_strings(key, depth + 1)
            check_strings(item, depth + 1)


def _valid(bundle: dict[str, Any]) -> None:
    """fhir.resources' R4 models (R4B: Bundle, List, DocumentReference and Binary are
    R4's): types, cardinalities, base64, no unknown element, nested resources included."""
    try:
        get_fhir_model_class("Bundle").model_validate(bundle)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][:8])
        # The location and kind only: the value is the caller's, and may be health data.
        message = f"Ressource FHIR invalide : {where} ({first['type']})."
        raise malformed("resource_invalid", message) from None
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        # fhir.resources' validators raise these on some malformed shapes (an element
        # where a list of objects is expected...): still the caller's bad resource.
        raise malformed("resource_invalid", "Ressource FHIR invalide.") from None


def _document(
    i: int,
    doc: dict[str, Any],
    binaries: dict[str, int],
    entries: list[dict[str, Any]],
    base: str,
    out: Plan,
) -> Submission:
    where = f"Entrée {i} (DocumentReference)"
    if doc.get("status") != "current":
        raise unprocessable("status_unsupported", f"{where} : status doit valoir current.")
    _patient(doc.get("subject"), base, out, where)
    for name in ("date", "custodian", "author", "masterIdentifier", "securityLabel"):
        if not doc.get(name):
            raise unprocessable(f"{_snake(name)}_required", f"{where} : {name} est obligatoire.")
    author_ids = _authors(doc, where)
    unique_id = doc["masterIdentifier"].get("value")
    if not unique_id:
        raise unprocessable("master_identifier_required", f"{where} : masterIdentifier.value.")
    # A null `type` passes the model's validation as an absent one (pydantic), hence `or`.
    codings = (doc.get("type") or {}).get("coding") or []
    loinc = [c for c in codings if isinstance(c, dict) and c.get("system") == codes.LOINC]
    type_code = loinc[0].get("code") if loinc else None
    if type_code is None:
        raise unprocessable("type_required", f"{where} : type, un code LOINC ({codes.LOINC}).")
    contents = doc.get("content") or []
    if len(contents) != 1:
        raise unprocessable("content_invalid", f"{where} : un et un seul content.")
    attachment = contents[0].get("attachment") or {}
    for name in ("contentType", "url", "size", "hash", "title"):
        if attachment.get(name) in (None, ""):
            raise unprocessable(
                f"attachment_{_snake(name)}_required",
                f"{where} : content.attachment.{name} est obligatoire (PDSm).",
            )
    if "data" in attachment:
        raise unprocessable(
            "attachment_data_unsupported", f"{where} : le contenu va dans un Binary du Bundle."
        )
    binary_index = binaries.get(str(attachment["url"]).lower())
    if binary_index is None:
        raise malformed(
            "reference_unresolved",
            f"{where} : content.attachment.url ne désigne aucun Binary du Bundle.",
        )
    binary = entries[binary_index]["resource"]
    data = _bytes(binary, binary_index)
    if binary.get("contentType") != attachment["contentType"]:
        raise unprocessable(
            "content_type_mismatch", f"{where} : le Binary n'a pas le type de son document."
        )
    if len(data) != attachment["size"]:
        raise unprocessable(
            "size_mismatch", f"{where} : la taille déclarée n'est pas celle du Binary."
        )
    sha1 = hashlib.sha1(data, usedforsecurity=False).digest()  # the digest PDSm names
    if _declared_hash(attachment["hash"], where) != sha1:
        raise unprocessable(
            "hash_mismatch", f"{where} : le SHA-1 déclaré n'est pas celui du Binary."
        )
    body: dict[str, Any] = {
        "unique_id": unique_id,
        "category": _category(doc.get("category") or [], where),
        "type_code": type_code,
        "title": attachment["title"],
        "mime_type": attachment["contentType"],
        "content_base64": binary["data"],
        **_flags(doc["securityLabel"], where),
    }
    if attachment.get("creation"):
        body["created_at"] = attachment["creation"]
    period = (doc.get("context") or {}).get("period") or {}
    for name, key in (("start", "service_start"), ("end", "service_end")):
        if period.get(name):
            body[key] = period[name]
    _deposit_body(body, where)
    return Submission(i, binary_index, body, _replaces(doc, base, where), author_ids)


def _snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


def _bytes(binary: dict[str, Any], i: int) -> bytes:
    raw = binary.get("data")
    if not isinstance(raw, str) or not raw:
        raise unprocessable("binary_data_required", f"Entrée {i} (Binary) : data est obligatoire.")
    try:
        return base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise malformed("binary_data_invalid", f"Entrée {i} (Binary) : base64 invalide.") from None


def _declared_hash(value: Any, where: str) -> bytes:
    try:
        digest = base64.b64decode(str(value), validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != hashlib.sha1(usedforsecurity=False).digest_size:
        raise unprocessable(
            "hash_invalid", f"{where} : attachment.hash, le SHA-1 en base64 (PDSm)."
        )
    return digest


def _patient(subject: Any, base: str, out: Plan, where: str) -> None:
    """The subject: Patient/{dossier id} (as this server's resources name it), or a
    logical reference by INS. Every resource of the Bundle names the same patient."""
    if not isinstance(subject, dict):
        raise unprocessable("subject_required", f"{where} : subject (le patient) est obligatoire.")
    dossier_id, ins = None, None
    reference = subject.get("reference")
    identifier = subject.get("identifier")
    if isinstance(reference, str):
        local = reference.removeprefix(f"{base}/")
        kind, _, value = local.partition("/")
        if kind != "Patient" or not value.isascii() or not value.isdigit() or len(value) > 10:
            raise unprocessable("subject_invalid", f"{where} : subject, Patient/<dossier>.")
        dossier_id = int(value)
    elif isinstance(identifier, dict):
        oid = codes.INS_SYSTEMS.get(str(identifier.get("system")))
        if oid is None or not isinstance(identifier.get("value"), str):
            raise unprocessable("subject_invalid", f"{where} : subject.identifier, un INS.")
        ins = (identifier["value"], oid)
    else:
        raise unprocessable("subject_invalid", f"{where} : subject, Patient/<dossier> ou INS.")
    if out.dossier_id is None and out.ins is None:
        out.dossier_id, out.ins = dossier_id, ins
    elif (out.dossier_id, out.ins) != (dossier_id, ins):
        raise unprocessable("subject_mismatch", f"{where} : un seul patient par Bundle.")


def _authors(doc: dict[str, Any], where: str) -> frozenset[str]:
    """PDSm: the author is embedded (contained). Returns the IDNPS of its Practitioners."""
    contained = {c.get("id"): c for c in doc.get("contained") or [] if isinstance(c, dict)}
    ids: set[str] = set()
    for author in doc["author"]:
        target = str(author.get("reference") or "")
        found = contained.get(target[1:]) if target.startswith("#") else None
        if found is None or found.get("resourceType") not in AUTHOR_TYPES:
            raise unprocessable(
                "author_not_contained", f"{where} : l'auteur est contenu (PDSm), « #id »."
            )
    for resource in contained.values():
        if resource.get("resourceType") != "Practitioner":
            continue
        for identifier in resource.get("identifier") or []:
            if identifier.get("system") == codes.IDNPS and identifier.get("value"):
                ids.add(str(identifier["value"]))
    return frozenset(ids)


def _category(concepts: list[dict[str, Any]], where: str) -> str:
    found = set()
    for concept in concepts:
        for c in concept.get("coding") or []:
            if c.get("system") == codes.OWN_CATEGORY and c.get("code") in CATEGORIES:
                found.add(c["code"])
            elif c.get("system") == codes.CLASS_TRE_A03 and c.get("code") in _CLASS_TO_CATEGORY:
                found.add(_CLASS_TO_CATEGORY[c["code"]])
    if len(found) != 1:
        raise unprocessable(
            "category_invalid",
            f"{where} : category, une catégorie ({codes.OWN_CATEGORY}) ou une classe TRE_A03 "
            "reconnue.",
        )
    return str(found.pop())


def _flags(labels: list[dict[str, Any]], where: str) -> dict[str, bool]:
    """securityLabel (PDSm): one confidentiality code, N (the server records no other),
    and the DMP's visibility codes (TRE_A07)."""
    confidentiality, flags = 0, {}
    for label in labels:
        for c in label.get("coding") or []:
            system, code = c.get("system"), c.get("code")
            if system == codes.CONFIDENTIALITY and code == codes.NORMAL:
                confidentiality += 1
            elif system == codes.VISIBILITY_TRE_A07 and code in _VISIBILITY_FLAGS:
                if _VISIBILITY_FLAGS[code] in flags:
                    raise unprocessable("security_label_invalid", f"{where} : {code} répété.")
                flags[_VISIBILITY_FLAGS[code]] = True
            else:
                raise unprocessable(
                    "security_label_unsupported",
                    f"{where} : securityLabel, N ({codes.CONFIDENTIALITY}) et les codes de "
                    "visibilité TRE_A07 seulement.",
                )
    if confidentiality != 1:
        raise unprocessable(
            "confidentiality_required", f"{where} : un et un seul code de confidentialité (N)."
        )
    return flags


def _replaces(doc: dict[str, Any], base: str, where: str) -> str | None:
    relations = doc.get("relatesTo") or []
    if not relations:
        return None
    if len(relations) > 1 or relations[0].get("code") != "replaces":
        raise unprocessable(
            "relation_unsupported", f"{where} : relatesTo, un seul « replaces » pris en charge."
        )
    target = str((relations[0].get("target") or {}).get("reference") or "")
    kind, _, logical_id = target.removeprefix(f"{base}/").partition("/")
    if kind != "DocumentReference" or not _FHIR_ID.fullmatch(logical_id):
        raise unprocessable(
            "relation_target_invalid",
            f"{where} : relatesTo.target, DocumentReference/<id> du document remplacé.",
        )
    return logical_id


def _deposit_body(body: dict[str, Any], where: str) -> None:
    """The JSON API's own schema for a deposit: the same bounds on every field."""
    errors = list(_DEPOSIT_SCHEMA.iter_errors(body))
    if errors:
        path = [p for p in best_match(errors).absolute_path if isinstance(p, str)]
        name = path[-1] if path else "document"
        raise unprocessable(f"{name}_invalid", f"{where} : « {name} » est invalide.")


def _submission_set(
    listed: dict[str, Any],
    out: Plan,
    by_url: dict[str, tuple[int, dict[str, Any]]],
    references: list[int],
    base: str,
) -> None:
    where = f"Entrée {out.list_index} (List)"
    kinds = {
        (c.get("system"), c.get("code")) for c in (listed.get("code") or {}).get("coding") or []
    }
    if (MHD_LIST_TYPES, SUBMISSION_SET) not in kinds:
        raise unprocessable(
            "submission_set_code_required", f"{where} : code {MHD_LIST_TYPES}|{SUBMISSION_SET}."
        )
    if listed.get("subject") is not None:
        _patient(listed["subject"], base, out, where)
    for identifier in listed.get("identifier") or []:
        if identifier.get("use") == "usual" and identifier.get("value"):
            out.set_unique_id = _kept(identifier["value"], "identifier", where)
    for ext in listed.get("extension") or []:
        if ext.get("url") == SOURCE_ID and (ext.get("valueIdentifier") or {}).get("value"):
            out.set_source_id = _kept(ext["valueIdentifier"]["value"], "source_id", where)
    items = set()
    for item in listed.get("entry") or []:
        target = str((item.get("item") or {}).get("reference") or "").lower()
        found = by_url.get(target)
        if found is None or found[1].get("resourceType") != "DocumentReference":
            raise malformed(
                "reference_unresolved", f"{where} : entry.item ne désigne aucun document du Bundle."
            )
        items.add(found[0])
    if items != set(references):
        raise unprocessable(
            "submission_set_incomplete", f"{where} : le lot liste chaque document du Bundle."
        )


def _kept(value: Any, name: str, where: str) -> str:
    if not isinstance(value, str) or len(value) > MAX_SET_IDENTIFIER:
        raise unprocessable(
            f"submission_set_{name}_invalid",
            f"{where} : {name}, au plus {MAX_SET_IDENTIFIER} caractères.",
        )
    return value


def _no_duplicates(submissions: list[Submission]) -> None:
    seen_ids: set[str] = set()
    seen_targets: set[str] = set()
    for s in submissions:
        if s.body["unique_id"] in seen_ids:
            raise unprocessable(
                "unique_id_duplicate", f"Entrée {s.index} : masterIdentifier déjà employé."
            )
        seen_ids.add(s.body["unique_id"])
        if s.replaces is not None:
            if s.replaces in seen_targets:
                raise unprocessable(
                    "replaced_twice", f"Entrée {s.index} : ce document est déjà remplacé."
                )
            seen_targets.add(s.replaces)


# --- stage 2: the deposits, in one transaction ------------------------------------------


def execute(ctx: Ctx, who: Principal, planned: Plan) -> dict[str, Any]:
    dossier_id = planned.dossier_id
    if planned.ins is not None:
        # Found as POST /dossiers/lookup finds it: DOSSIER_LOOKUP, decided and traced.
        matricule, oid = planned.ins
        dossier_id = int(dossiers.find(ctx, who, matricule, oid)["dossier_id"])
    if dossier_id is None:  # plan requires a subject
        raise RuntimeError("submission without a patient")
    _check_author(ctx, who, planned)
    made: dict[int, dict[str, Any]] = {}
    for s in planned.submissions:
        try:
            if s.replaces is None:
                made[s.index] = documents.deposit(ctx, who, dossier_id, s.body)
            else:
                made[s.index] = documents.replace(ctx, who, dossier_id, s.replaces, s.body)
        except DmpError as error:
            # Which document of the Bundle was refused, for the vendor; the reason is the
            # JSON API's. Everything deposited before it is rolled back by the runner.
            error.message = f"Entrée {s.index} : {error.message}"
            raise
    from server.fhir import lists  # it reads this module's constants: no cycle at import

    kept = lists.store(
        ctx,
        who,
        dossier_id,
        [made[s.index]["logical_id"] for s in planned.submissions],
        unique_id=planned.set_unique_id,
        source_id=planned.set_source_id,
    )
    return _response(planned, made, kept)


def _check_author(ctx: Ctx, who: Principal, planned: Plan) -> None:
    """The author recorded is always the signed-in caller: an embedded Practitioner
    naming another professional is refused, never deposited under the caller's name."""
    named = set().union(*(s.author_ids for s in planned.submissions))
    if not named:
        return
    own = None
    if who.actor.kind is ActorKind.PROFESSIONAL:
        own = ctx.session.scalar(
            select(Professional.national_id).where(Professional.id == who.actor.id)
        )
    if named != {own}:
        raise unprocessable(
            "author_mismatch", "L'auteur d'un document déposé est le professionnel connecté."
        )


def _response(planned: Plan, made: dict[int, dict[str, Any]], kept: Any) -> dict[str, Any]:
    entries: list[dict[str, Any]] = [{} for _ in range(planned.entries)]
    entries[planned.list_index] = {
        # The submission set is kept, readable as List/{id} (server/fhir/lists.py).
        "response": {
            "status": "201 Created",
            "location": f"List/{kept.logical_id}",
            "lastModified": views.iso(kept.submitted_at),
        }
    }
    for s in planned.submissions:
        doc = made[s.index]
        location = {"lastModified": doc["submitted_at"]}
        entries[s.index] = {
            "response": {
                "status": "201 Created",
                "location": f"DocumentReference/{doc['logical_id']}",
                **location,
            }
        }
        entries[s.binary_index] = {
            "response": {
                "status": "201 Created",
                "location": f"Binary/{doc['logical_id']}",
                **location,
            }
        }
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}
