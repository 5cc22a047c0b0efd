"""The patient summary (IPS): `Patient/{id}/$summary`, built from the structured documents
the caller may read (issue #12).

Who sees what is the listing's decision, unchanged: the summary is decided as the listing
of GET /api/v1/dossiers/{id}/documents?all=true (`listing.decide`, DOCUMENT_LIST) and draws
only on the rows `listing.shown` gives the caller, i.e. exactly the documents a read by id
would let them open. Of those, only versions that were not replaced contribute (a
replaced document's entries are its replacement's). Each document it drew on is named in
ONE trace entry, action `document:read` with `detail.summary = "ips"` and the list of
their logical ids: a summary is a read of each of them (docs/fhir.md).

The structure of each version (docs/documents.md) is unsealed here, in memory. What the
summary derives from them (the documents drawn on, sections, entries and provenances) is
kept sealed under the dossier's key in the summary cache, found by a key naming exactly
the caller's view (server/fhir/summary_cache.py); the decision and the trace are made
for every request, cached or not. docs/fhir.md gives the mapping, the provenance and the
conformance checks.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from html import escape
from typing import Any

from sqlalchemy import bindparam, select

from server.db import core
from server.fhir import codes, mapping, summary_cache
from server.fhir.codes import coding
from server.fhir.summary_cache import Part
from server.models import Document, DocumentStructure, Dossier, Patient, table_of
from server.policy import Action
from server.services import dossiers, guard, listing
from server.services.context import Ctx, Principal
from server.services.document_text import STRUCTURE
from server.services.facts import DocumentRow

LOINC = "http://loinc.org"
IPS_TYPE = "60591-5"  # Patient summary Document
OWN = "https://dmp-kiosk.invalid/fhir"
# The source of an entry and a contradiction between sources (docs/fhir.md).
EXT_SOURCE = f"{OWN}/StructureDefinition/summary-source"
EXT_CONFLICT = f"{OWN}/StructureDefinition/summary-conflict"
EXT_DOSE = "https://dmp-kiosk.fr/fhir/StructureDefinition/medication-dose"
EMPTY_REASON = "http://terminology.hl7.org/CodeSystem/list-empty-reason"
ALLERGY_CLINICAL = "http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
PROVENANCE_AGENT = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"

# Versions of a document that still stand: current, or archived (put away by its author,
# never replaced). Superseded versions give way to their replacement.
STANDING = frozenset({"current", "archived"})


@dataclass(frozen=True)
class SectionSpec:
    kind: str  # the structure entry kind (docs/documents.md)
    code: str  # LOINC section code
    title_fr: str
    title_en: str
    required: bool  # IPS: the section is always there, empty or not


SECTIONS = (
    SectionSpec("medication", "10160-0", "Traitements", "Medication summary", True),
    SectionSpec("allergy", "48765-2", "Allergies et intolérances", "Allergies", True),
    SectionSpec("problem", "11450-4", "Problèmes de santé", "Problem list", True),
    SectionSpec("vaccination", "11369-6", "Vaccinations", "Immunizations", False),
    SectionSpec("lab_result", "30954-2", "Résultats d'examens", "Results", False),
)
KINDS = {spec.kind: spec for spec in SECTIONS}

_DOC = table_of(Document)
# Every structure of the dossier, the rows not shown filtered before anything is
# decrypted: one statement whose SQL never changes (an IN list of the shown ids would be
# re-rendered and re-planned for every length, the cost of a 500-document summary).
_STRUCTURES = (
    select(DocumentStructure.document_id, DocumentStructure.nonce, DocumentStructure.ciphertext)
    .join(Document, Document.id == DocumentStructure.document_id)
    .where(Document.dossier_id == bindparam("dossier_id"), Document.status != "deleted")
)
_KEY = select(Dossier.wrapped_key).where(Dossier.id == bindparam("dossier_id"))
_ROWS = listing.LISTINGS[True, False].add_columns(_DOC.c.id.label("row_id"))
_FHIR_DATE = re.compile(r"\d{4}(-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)?")
_FHIR_DATETIME = re.compile(
    r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)"
    r"(\.\d{1,9})?(Z|[+-]((0\d|1[0-3]):[0-5]\d|14:00))"
)
_FHIR_CODE = re.compile(r"[^\s]+( [^\s]+)*")
_MAX_TEXT = 1000  # an entry's strings, as shown; the document keeps the whole


@dataclass
class Source:
    """One document version the summary drew on."""

    row: DocumentRow
    entries: list[dict[str, Any]]

    @property
    def provenance_id(self) -> str:
        return f"prov-{self.row.logical_id}"


def summary(
    ctx: Ctx,
    who: Principal,
    dossier_id: int | None,
    base: str,
    ins: tuple[str, str] | None = None,
    *,
    cache: bool = True,
) -> str:
    """The IPS document Bundle, as FHIR JSON text, of the dossier `dossier_id` (or of the
    INS `ins`, found as POST /dossiers/lookup finds it: decided and traced), as `who` may
    see it. `cache`: look the derived part up in the summary cache and store it there
    (False: built from the structures every time, as the bench compares)."""
    found = None
    if ins is not None:
        # As the search by INS: the lookup's decision and entry, then the summary's, on
        # one load of the dossier and one lock of its chain's head.
        found = dossiers.find_subject(ctx, who, ins[0], ins[1])
        dossier_id = found.dossier.id
    if dossier_id is None:
        raise RuntimeError("summary without a patient")
    decided = listing.decide(ctx, who, dossier_id, {"summary": "ips"}, found)
    subject, granted = decided.subject, decided.granted
    conn = core(ctx.session)
    rows = conn.execute(_ROWS, {"dossier_id": dossier_id})
    standing = [r for r in listing.shown(ctx, who, granted, rows) if r.status in STANDING]
    wrapped = conn.execute(_KEY, {"dossier_id": dossier_id}).scalar() if standing else None
    part, key = None, None
    if cache and wrapped is not None:
        key = summary_cache.view_key(ctx, wrapped, dossier_id, base, standing)
        part = summary_cache.get(ctx, wrapped, dossier_id, key)
    if part is None:
        sources = _sources(ctx, dossier_id, standing, wrapped)
        sections, entries = _derive(base, dossier_id, sources)
        part = Part([s.row.logical_id for s in sources], _dumps(sections), _dumps(entries))
        if key is not None and wrapped is not None:
            summary_cache.put(ctx, wrapped, dossier_id, key, part)
    # One entry for the whole summary, worded in the history as reading these documents.
    guard.trace(
        ctx,
        who,
        Action.DOCUMENT_READ,
        granted.decision,
        subject.patient,
        detail={"summary": "ips", "read": len(part.documents), "documents": part.documents},
        head=subject.head,
    )
    emergency = granted.emergency.mode.value if granted.emergency is not None else None
    return _render(base, dossier_id, _patient_row(ctx, subject.patient.id), part, ctx, emergency)


def from_rows(
    ctx: Ctx, dossier_id: int, patient_id: int, shown: list[DocumentRow], base: str
) -> dict[str, Any]:
    """The IPS document Bundle built from rows a decision already showed to the caller
    (the export's listing, server/export/gather.py): no decision and no trace here, the
    caller made and traced them; nothing beyond `shown` is ever opened."""
    standing = [r for r in shown if r.status in STANDING]
    wrapped = core(ctx.session).execute(_KEY, {"dossier_id": dossier_id}).scalar()
    sources = _sources(ctx, dossier_id, standing, wrapped)
    return build(base, dossier_id, _patient_row(ctx, patient_id), sources, ctx, None)


def _patient_row(ctx: Ctx, patient_id: int) -> Patient:
    patient = ctx.session.get(Patient, patient_id)
    if patient is None:  # the dossier's patient row always exists; kept for the type checker
        raise RuntimeError("dossier without its patient")
    return patient


def _sources(
    ctx: Ctx, dossier_id: int, rows: list[DocumentRow], wrapped: bytes | None
) -> list[Source]:
    """The shown standing versions that hold summary entries, newest first (the
    listing's order), each with its entries; the structures unsealed in one statement.
    `wrapped`: the dossier's wrapped key (None: destroyed, nothing to read)."""
    if not rows or wrapped is None:
        return []
    conn = core(ctx.session)
    by_id = {r.row_id: r for r in rows}
    opener = ctx.keyring.opener(wrapped)
    entries: dict[int, list[dict[str, Any]]] = {}
    for found in conn.execute(_STRUCTURES, {"dossier_id": dossier_id}):
        row = by_id.get(found.document_id)
        if row is None:  # not shown to this caller, or replaced: never opened
            continue
        aad = f"{row.logical_id}:{STRUCTURE}".encode()
        structure = json.loads(opener.decrypt(found.nonce, found.ciphertext, aad))
        kept = [e for e in structure.get("entries", []) if e.get("kind") in KINDS]
        if kept:
            entries[found.document_id] = kept
    return [Source(r, entries[r.row_id]) for r in rows if r.row_id in entries]


# --- the Bundle ------------------------------------------------------------------------


def build(
    base: str,
    dossier_id: int,
    patient: Patient,
    sources: list[Source],
    ctx: Ctx,
    emergency: str | None,
) -> dict[str, Any]:
    """The Bundle as a dict (the export's copy of the summary)."""
    sections, entries = _derive(base, dossier_id, sources)
    return _bundle(base, dossier_id, patient, sections, entries, ctx, emergency)


def _dumps(value: Any) -> str:
    # The encoding of resource_response (server/fhir/outcome.py).
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# Placeholders for the cached JSON texts in the Bundle built around them: JSON escapes a
# NUL in every string, so their encoded forms occur nowhere else in that small skeleton
# (_render checks that each occurs once).
_SECTIONS_SLOT, _ENTRIES_SLOT = "\x00sections", "\x00entries"


def _render(
    base: str, dossier_id: int, patient: Patient, part: Part, ctx: Ctx, emergency: str | None
) -> str:
    """The Bundle's JSON text: the request's own parts (ids, instant, Patient, emergency
    mode) encoded, the derived part's texts spliced in where they belong, unparsed."""
    skeleton = _dumps(
        _bundle(base, dossier_id, patient, _SECTIONS_SLOT, [_ENTRIES_SLOT], ctx, emergency)
    )
    sections_slot, entries_slot = _dumps(_SECTIONS_SLOT), "," + _dumps(_ENTRIES_SLOT)
    if skeleton.count(sections_slot) != 1 or skeleton.count(entries_slot) != 1:
        # Never expected (the skeleton holds no NUL of its own); the safe way round.
        sections, entries = json.loads(part.sections), json.loads(part.entries)
        return _dumps(_bundle(base, dossier_id, patient, sections, entries, ctx, emergency))
    entries_text = part.entries[1:-1]
    return skeleton.replace(sections_slot, part.sections).replace(
        entries_slot, "," + entries_text if entries_text else ""
    )


def _derive(
    base: str, dossier_id: int, sources: list[Source]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """What the summary derives from its sources: the Composition's sections, and the
    Bundle's entries (resources by section, then one Provenance per source)."""
    patient_ref = {"reference": f"Patient/{dossier_id}"}
    by_kind: dict[str, list[tuple[str, dict[str, Any], Source]]] = defaultdict(list)
    # Each source's resources, for its Provenance's targets (in section order below).
    targets: dict[int, list[dict[str, str]]] = defaultdict(list)
    for source in sources:
        for index, entry in enumerate(source.entries):
            resource = _resource(entry, patient_ref)
            if resource is None:
                continue
            resource["id"] = f"{entry['kind'].replace('_', '-')}-{source.row.logical_id}-{index}"
            resource["meta"] = {"source": f"{base}/DocumentReference/{source.row.logical_id}"}
            resource["extension"] = [*resource.get("extension", []), _source_extension(source)]
            by_kind[entry["kind"]].append((entry["kind"], resource, source))
    _flag_conflicts(by_kind.get("medication", []))
    for found in by_kind.values():
        for _, r, s in found:
            targets[id(s)].append({"reference": f"{r['resourceType']}/{r['id']}"})
    sections, entries = [], []
    for spec in SECTIONS:
        found = by_kind.get(spec.kind, [])
        if not found and not spec.required:
            continue
        sections.append(_section(spec, [r for _, r, _ in found]))
        entries += [_entry(base, r) for _, r, _ in found]
    entries += [_provenance(base, s, targets[id(s)]) for s in sources]
    return sections, entries


def _bundle(
    base: str,
    dossier_id: int,
    patient: Patient,
    sections: Any,
    entries: list[Any],
    ctx: Ctx,
    emergency: str | None,
) -> dict[str, Any]:
    now = ctx.now.isoformat()
    patient_url = f"{base}/Patient/{dossier_id}"
    patient_ref = {"reference": f"Patient/{dossier_id}"}
    composition_id = str(uuid.uuid4())
    composition = {
        "resourceType": "Composition",
        "id": composition_id,
        "text": {
            "status": "generated",
            "div": _div([f"Synthèse du patient, établie le {now[:10]}"]),
        },
        "status": "final",
        "type": {"coding": [coding(LOINC, IPS_TYPE, "Patient summary Document")]},
        "subject": patient_ref,
        "date": now,
        "author": [{"reference": "Device/dmp-kiosk", "display": "dmp-kiosk"}],
        "title": "Synthèse du patient (Patient Summary)",
        "confidentiality": "N",
        "custodian": mapping.CUSTODIAN,
        "section": sections,
    }
    if emergency is not None:
        composition["extension"] = [
            {"url": f"{OWN}/StructureDefinition/emergency-access", "valueCode": emergency}
        ]
    return {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "document",
        "timestamp": now,
        "entry": [
            {"fullUrl": f"{base}/Composition/{composition_id}", "resource": composition},
            {"fullUrl": patient_url, "resource": _patient(dossier_id, patient)},
            {"fullUrl": f"{base}/Device/dmp-kiosk", "resource": _DEVICE},
            *entries,
        ],
    }


_DEVICE = {
    "resourceType": "Device",
    "id": "dmp-kiosk",
    "deviceName": [{"name": "dmp-kiosk records server", "type": "manufacturer-name"}],
}


def _entry(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource}


def _patient(dossier_id: int, patient: Patient) -> dict[str, Any]:
    """IPS Patient: name and birth date are required; the INS as identifier."""
    given = patient.first_names.split()
    name: dict[str, Any] = {"family": patient.used_name or patient.birth_name}
    if given:
        name["given"] = given
    gender = {"M": "male", "F": "female"}.get(patient.sex, "unknown")
    system = f"urn:oid:{patient.ins_oid}"
    return {
        "resourceType": "Patient",
        "id": str(dossier_id),
        "identifier": [{"system": system, "value": patient.ins}],
        "name": [name],
        "gender": gender,
        "birthDate": patient.birth_date.isoformat(),
    }


def _section(spec: SectionSpec, resources: list[dict[str, Any]]) -> dict[str, Any]:
    section: dict[str, Any] = {
        "title": spec.title_fr,
        "code": {"coding": [coding(LOINC, spec.code, spec.title_en)]},
    }
    if resources:
        section["text"] = {"status": "generated", "div": _div([_line(r) for r in resources])}
        section["entry"] = [{"reference": f"{r['resourceType']}/{r['id']}"} for r in resources]
    else:
        # IPS 2.0.0: a required section with nothing to say carries an emptyReason and a
        # narrative saying so. "unavailable" whatever the cause: a section emptied by
        # hidden documents must not look different from one with none.
        section["text"] = {
            "status": "generated",
            "div": _div(["Aucune information disponible / No information available"]),
        }
        section["emptyReason"] = {
            "coding": [coding(EMPTY_REASON, "unavailable", "Unavailable")],
            "text": "Aucune information disponible",
        }
    return section


def _div(lines: list[str]) -> str:
    items = "".join(f"<li>{escape(line)}</li>" for line in lines)
    return f'<div xmlns="http://www.w3.org/1999/xhtml"><ul>{items}</ul></div>'


def _line(resource: dict[str, Any]) -> str:
    concept = (
        resource.get("medicationCodeableConcept")
        or resource.get("vaccineCode")
        or resource.get("code")
        or {}
    )
    return str(concept.get("text") or "?")


# --- one entry -------------------------------------------------------------------------


_SCALARS = (str, int, float, Decimal)


def _text(value: Any) -> str | None:
    if not isinstance(value, _SCALARS):
        return None
    text = " ".join(str(value).split())[:_MAX_TEXT]
    return text or None


def _concept(entry: dict[str, Any]) -> dict[str, Any]:
    concept: dict[str, Any] = {}
    code = entry.get("code")
    if isinstance(code, dict):
        system, value = _text(code.get("system")), _text(code.get("code"))
        if system and value and _FHIR_CODE.fullmatch(value) and " " not in system:
            found: dict[str, Any] = {"system": system, "code": value}
            if display := _text(code.get("display")):
                found["display"] = display
            concept["coding"] = [found]
    name = _text(entry.get("name"))
    if name is None and concept:
        name = concept["coding"][0].get("display") or concept["coding"][0]["code"]
    concept["text"] = name or "Sans libellé"
    return concept


def _date(value: Any) -> str | None:
    text = _text(value)
    if text and (_FHIR_DATE.fullmatch(text) or _FHIR_DATETIME.fullmatch(text)):
        return text
    return None


def _resource(entry: dict[str, Any], patient: dict[str, str]) -> dict[str, Any] | None:
    kind = entry.get("kind")
    if kind == "medication":
        return _medication(entry, patient)
    if kind == "allergy":
        return _allergy(entry, patient)
    if kind == "problem":
        out: dict[str, Any] = {
            "resourceType": "Condition",
            "code": _concept(entry),
            "subject": patient,
        }
        if onset := _date(entry.get("onset")):
            out["onsetDateTime"] = onset
        return out
    if kind == "vaccination":
        out = {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": _concept(entry),
            "patient": patient,
        }
        when = _date(entry.get("date"))
        if when:
            out["occurrenceDateTime"] = when
        else:  # R4 requires an occurrence: the document did not say when
            out["occurrenceString"] = "date non précisée"
        if lot := _text(entry.get("lot")):
            out["lotNumber"] = lot
        return out
    if kind == "lab_result":
        return _lab_result(entry, patient)
    return None


def _medication(entry: dict[str, Any], patient: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "MedicationStatement",
        # What the document records was prescribed or dispensed; whether it is still
        # taken is not known from it.
        "status": "unknown",
        "medicationCodeableConcept": _concept(entry),
        "subject": patient,
    }
    dosage: dict[str, Any] = {}
    if posology := _text(entry.get("posology")):
        dosage["text"] = posology
    if dose := _text(entry.get("dose")):
        out["extension"] = [{"url": EXT_DOSE, "valueString": dose}]
    if dosage:
        out["dosage"] = [dosage]
    notes = [
        f"{label} : {value}"
        for label, key in (("Forme", "form"), ("Quantité", "quantity"))
        if (value := _text(entry.get(key)))
    ]
    if notes:
        out["note"] = [{"text": "; ".join(notes)}]
    return out


_SEVERITIES = {"mild", "moderate", "severe"}
_CRITICALITIES = {"low", "high", "unable-to-assess"}


def _allergy(entry: dict[str, Any], patient: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": {"coding": [coding(ALLERGY_CLINICAL, "active", "Active")]},
        "code": _concept(entry),
        "patient": patient,
    }
    severity = _text(entry.get("severity"))
    reaction: dict[str, Any] = {}
    if manifestation := _text(entry.get("reaction")):
        reaction["manifestation"] = [{"text": manifestation}]
    if severity in _CRITICALITIES:
        out["criticality"] = severity
    elif severity in _SEVERITIES and reaction:
        reaction["severity"] = severity
    elif severity:
        out["note"] = [{"text": f"Sévérité : {severity}"}]
    if reaction:
        out["reaction"] = [reaction]
    return out


def _lab_result(entry: dict[str, Any], patient: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [coding(OBSERVATION_CATEGORY, "laboratory", "Laboratory")]}],
        "code": _concept(entry),
        "subject": patient,
    }
    if when := _date(entry.get("date")):
        out["effectiveDateTime"] = when
    value, unit = _text(entry.get("value")), _text(entry.get("unit"))
    number = _decimal(value)
    if number is not None:
        quantity: dict[str, Any] = {"value": number}
        if unit:
            quantity["unit"] = unit
        out["valueQuantity"] = quantity
    elif value:
        out["valueString"] = f"{value} {unit}" if unit else value
    if reference := _text(entry.get("reference_range")):
        out["referenceRange"] = [{"text": reference}]
    return out


def _decimal(value: str | None) -> float | int | None:
    if value is None or not re.fullmatch(r"-?\d{1,12}(\.\d{1,9})?", value):
        return None
    try:
        number = Decimal(value)
    except InvalidOperation:
        return None
    return (
        int(number) if number == number.to_integral_value() and "." not in value else float(number)
    )


# --- provenance and contradictions -----------------------------------------------------


def _source_extension(source: Source) -> dict[str, Any]:
    """On each entry: the DocumentReference version it came from (its Provenance says
    more: author, date)."""
    row = source.row
    return {
        "url": EXT_SOURCE,
        "valueReference": {
            "reference": f"DocumentReference/{row.logical_id}",
            "display": f"{row.title} (version {row.version})",
        },
    }


def _provenance(base: str, source: Source, targets: list[dict[str, str]]) -> dict[str, Any]:
    row = source.row
    recorded = mapping.instant(row.submitted_at)
    out: dict[str, Any] = {
        "resourceType": "Provenance",
        "id": source.provenance_id,
        "target": targets,
        "recorded": recorded,
        "agent": [
            {
                "type": {"coding": [coding(PROVENANCE_AGENT, "author", "Author")]},
                "who": _author(row),
            }
        ],
        "entity": [
            {
                "role": "source",
                "what": {
                    "reference": f"DocumentReference/{row.logical_id}",
                    "identifier": {
                        "system": "urn:ietf:rfc:3986",
                        "value": f"urn:uuid:{row.entry_uuid}",
                    },
                    "display": f"{row.title} (version {row.version})",
                },
            }
        ],
    }
    occurred = row.service_start or row.created_at
    if occurred is not None:
        out["occurredDateTime"] = occurred.isoformat()
    return _entry(base, out)


def _author(row: DocumentRow) -> dict[str, Any]:
    """The author as the listing shows it: a professional by name and national id, the
    patient, or the insurer; nothing more."""
    if row.author_professional_id is not None and row.author_national_id is not None:
        return {
            "identifier": {"system": codes.IDNPS, "value": row.author_national_id},
            "display": f"{row.author_first_name} {row.author_last_name}",
        }
    if row.author_patient_id is not None:
        return {"display": "Patient"}
    if row.author_service_id is not None:
        return {"display": mapping.INSURER_NAME}
    return {"display": "Auteur inconnu"}


def _substance(resource: dict[str, Any]) -> str:
    concept = resource["medicationCodeableConcept"]
    for found in concept.get("coding", []):
        return f"{found['system']}|{found['code']}"
    return " ".join(str(concept.get("text", "")).casefold().split())


def _flag_conflicts(found: list[tuple[str, dict[str, Any], Source]]) -> None:
    """The same substance with different doses or posologies in different documents:
    every entry kept, each flagged (never merged, never one chosen). An entry names, for
    each other dosing of its substance, the newest entry of another document giving it:
    a medicine dispensed fifty times under two posologies gives each entry one reference,
    not forty-nine."""
    groups: dict[str, list[tuple[dict[str, Any], Source, tuple[str, str]]]] = defaultdict(list)
    for _, resource, source in found:
        groups[_substance(resource)].append((resource, source, _dosing(resource)))
    for group in groups.values():
        variants: dict[tuple[str, str], list[tuple[dict[str, Any], Source]]] = defaultdict(list)
        for resource, source, dosing in group:
            variants[dosing].append((resource, source))  # newest document first
        if len(variants) < 2:
            continue
        for resource, source, dosing in group:
            others = [
                next(((r, s) for r, s in entries if s is not source), None)
                for other, entries in variants.items()
                if other != dosing
            ]
            differing = [o for o in others if o is not None]
            if not differing:
                continue
            resource["extension"] += [
                {
                    "url": EXT_CONFLICT,
                    "valueReference": {
                        "reference": f"MedicationStatement/{r['id']}",
                        "display": f"{s.row.title} (version {s.row.version})",
                    },
                }
                for r, s in differing
            ]
            n = len(differing)
            resource.setdefault("note", []).append(
                {
                    "text": f"Contradiction : {n} autre(s) dose(s) ou posologie(s) dans "
                    "d'autres documents (extensions summary-conflict)"
                }
            )


def _dosing(resource: dict[str, Any]) -> tuple[str, str]:
    dose = next(
        (e["valueString"] for e in resource.get("extension", []) if e["url"] == EXT_DOSE), ""
    )
    posology = (resource.get("dosage") or [{}])[0].get("text", "")
    return (dose.casefold(), " ".join(posology.casefold().split()))


def capability() -> dict[str, Any]:
    """The Patient resource's entry in the CapabilityStatement: the $summary operation only."""
    return {
        "type": "Patient",
        "documentation": "Patient/<dossier id>: only the IPS $summary operation is served.",
        "operation": [
            {
                "name": "summary",
                "definition": "http://hl7.org/fhir/uv/ips/OperationDefinition/summary",
                "documentation": "IPS document Bundle built from the structured documents the "
                "caller may read (decided as the listing, traced as a read of each document "
                "drawn on); GET Patient/<id>/$summary or Patient/$summary?identifier=<INS>",
            }
        ],
    }
