"""FHIR R4 documents: a JSON `Bundle` of type `document` whose first entry is the
`Composition` (FHIR R4, "Document bundles"). Sections give the narrative (`text.div`,
sanitised) and reference the resources read as entries: MedicationRequest and
MedicationDispense (medication), Immunization (vaccination), AllergyIntolerance
(allergy), Condition (problem), Observation (lab result).

Any value of the wrong JSON type is treated as absent: a hostile bundle is read as far
as it makes sense, never trusted to have the shape the specification gives it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from server.content import narrative, xml
from server.content.cda import MAX_VALUE_CHARS, compose_text
from server.content.errors import ContentRefused
from server.content.limits import Budget
from server.content.reading import Entry, Reading, Section
from server.content.sniff import Kind
from server.validation import json_too_deep


def read(data: bytes, budget: Budget) -> Reading:
    limits = budget.limits
    if json_too_deep(data, limits.max_nesting):
        raise ContentRefused("content_too_deep")
    try:
        # Decimals keep numbers as written ("1.50 g", not 1.5).
        bundle = json.loads(data, parse_float=Decimal)
    except (ValueError, RecursionError):
        raise ContentRefused("content_corrupt") from None
    composition, resources = _document(bundle)
    sections: list[Section] = []
    entries: list[Entry] = []
    used: set[int] = set()
    pending = list(reversed(_list(composition.get("section"))))
    while pending:  # depth first, in document order, without recursion
        budget.check()
        section = _dict(pending.pop())
        index = len(sections)
        div = _dict(section.get("text")).get("div")
        sections.append(
            {
                "title": _str(section.get("title")),
                "code": _first_code(section.get("code")),
                "html": _narrative(div, limits.max_nesting) if isinstance(div, str) else "",
            }
        )
        for reference in _list(section.get("entry")):
            resource = _resolve(_dict(reference).get("reference"), resources)
            if resource is not None and (entry := _entry(resource, resources)) is not None:
                used.add(id(resource))
                entries.append({"kind": entry["kind"], "section": index, **entry})
        pending.extend(reversed(_list(section.get("section"))))
    for resource in _bundle_resources(bundle)[1:]:
        if id(resource) not in used and (entry := _entry(resource, resources)) is not None:
            entries.append({"kind": entry["kind"], "section": None, **entry})
    title = _str(composition.get("title"))
    text = compose_text(title, sections, entries, budget)
    return Reading(Kind.JSON, data, text, "narrative", sections=sections, entries=entries)


def _narrative(div: str, max_nesting: int) -> str:
    """`text.div` is XHTML (FHIR's invariant txt-1: well-formed, XML entities only):
    parsed as XML first, which bounds its nesting (an HTML sanitiser's time grows with
    the square of the depth), then sanitised."""
    try:
        xml.parse(div.encode(), max_nesting)
    except ContentRefused as refused:
        if refused.reason == "content_corrupt":
            raise ContentRefused("fhir_invalid") from None
        raise
    return narrative.sanitise(div)


def _document(bundle: Any) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The Composition and the bundle's resources by reference, or a refusal."""
    if not isinstance(bundle, dict) or bundle.get("resourceType") != "Bundle":
        raise ContentRefused("fhir_invalid")
    if bundle.get("type") != "document":
        raise ContentRefused("fhir_invalid")
    found = _bundle_resources(bundle)
    if not found or found[0].get("resourceType") != "Composition":
        raise ContentRefused("fhir_invalid")
    resources: dict[str, dict[str, Any]] = {}
    for item in _list(bundle.get("entry")):
        resource = _dict(_dict(item).get("resource"))
        kind, rid = _str(resource.get("resourceType")), _str(resource.get("id"))
        if kind is None:
            raise ContentRefused("fhir_invalid")
        full_url = _str(_dict(item).get("fullUrl"))
        if full_url:
            resources[full_url] = resource
            named = _named_type(full_url)
            if named is not None and named != kind:
                # ".../MedicationRequest/rx1" holding an Observation: the bundle
                # contradicts itself, and a reader would take one for the other.
                raise ContentRefused("fhir_invalid")
        if rid:
            resources[f"{kind}/{rid}"] = resource
    return found[0], resources


def _bundle_resources(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [_dict(_dict(item).get("resource")) for item in _list(bundle.get("entry"))]


def _resolve(reference: Any, resources: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    ref = _str(reference)
    if ref is None:
        return None
    resource = resources.get(ref)
    if resource is None:
        return None
    named = _named_type(ref)
    if named is not None and named != resource.get("resourceType"):
        raise ContentRefused("fhir_invalid")
    return resource


def _named_type(reference: str) -> str | None:
    """The resource type a RESTful reference or URL names (".../Type/id"), if any."""
    parts = reference.split("/")
    return parts[-2] if len(parts) >= 2 and not reference.startswith("urn:") else None


def _entry(resource: dict[str, Any], resources: dict[str, dict[str, Any]]) -> Entry | None:
    reader = _READERS.get(_str(resource.get("resourceType")) or "")
    return reader(resource, resources) if reader else None


# Where the kiosk puts a line's strength and form, which R4 has no field for beside a
# coded Medication (kiosk/fhir_documents.py, docs/documents.md).
DOSE_EXTENSION = "https://dmp-kiosk.fr/fhir/StructureDefinition/medication-dose"
FORM_EXTENSION = "https://dmp-kiosk.fr/fhir/StructureDefinition/medication-form"


def _extension(resource: dict[str, Any], url: str) -> str | None:
    for item in _list(resource.get("extension")):
        found = _dict(item)
        if found.get("url") == url:
            return _str(found.get("valueString"))
    return None


def _medication(resource: dict[str, Any], resources: dict[str, dict[str, Any]]) -> Entry:
    concept = _dict(resource.get("medicationCodeableConcept"))
    medication = _resolve(_dict(resource.get("medicationReference")).get("reference"), resources)
    if not concept and medication is not None:
        concept = _dict(medication.get("code"))
    form = _concept_text(_dict(medication.get("form"))) if medication is not None else None
    dosage = _dict(next(iter(_list(resource.get("dosageInstruction"))), None))
    dose_and_rate = _dict(next(iter(_list(dosage.get("doseAndRate"))), None))
    if resource.get("resourceType") == "MedicationRequest":
        quantity = _dict(_dict(resource.get("dispenseRequest")).get("quantity"))
    else:
        quantity = _dict(resource.get("quantity"))
    return {
        "kind": "medication",
        "code": _coding(concept),
        "name": _concept_text(concept),
        "dose": _quantity(_dict(dose_and_rate.get("doseQuantity")))
        or _extension(resource, DOSE_EXTENSION),
        "form": form or _extension(resource, FORM_EXTENSION),
        "quantity": _quantity(quantity),
        "posology": _str(dosage.get("text")),
    }


def _vaccination(resource: dict[str, Any], _resources: dict[str, dict[str, Any]]) -> Entry:
    concept = _dict(resource.get("vaccineCode"))
    return {
        "kind": "vaccination",
        "code": _coding(concept),
        "name": _concept_text(concept),
        "date": _date(resource.get("occurrenceDateTime")),
        "lot": _str(resource.get("lotNumber")),
    }


def _allergy(resource: dict[str, Any], _resources: dict[str, dict[str, Any]]) -> Entry:
    concept = _dict(resource.get("code"))
    reaction = _dict(next(iter(_list(resource.get("reaction"))), None))
    manifestation = _dict(next(iter(_list(reaction.get("manifestation"))), None))
    return {
        "kind": "allergy",
        "code": _coding(concept),
        "name": _concept_text(concept),
        "reaction": _concept_text(manifestation),
        "severity": _str(reaction.get("severity")) or _str(resource.get("criticality")),
    }


def _problem(resource: dict[str, Any], _resources: dict[str, dict[str, Any]]) -> Entry:
    concept = _dict(resource.get("code"))
    return {
        "kind": "problem",
        "code": _coding(concept),
        "name": _concept_text(concept),
        "onset": _date(resource.get("onsetDateTime")),
    }


def _lab_result(resource: dict[str, Any], _resources: dict[str, dict[str, Any]]) -> Entry:
    concept = _dict(resource.get("code"))
    quantity = _dict(resource.get("valueQuantity"))
    value = _number(quantity.get("value"))
    unit = _str(quantity.get("unit")) or _str(quantity.get("code"))
    if value is None:
        value = _str(resource.get("valueString")) or _concept_text(
            _dict(resource.get("valueCodeableConcept"))
        )
        unit = None
    reference = _dict(next(iter(_list(resource.get("referenceRange"))), None))
    bounds = [_number(_dict(reference.get(end)).get("value")) for end in ("low", "high")]
    limits = "-".join(b for b in bounds if b is not None) or None
    return {
        "kind": "lab_result",
        "code": _coding(concept),
        "name": _concept_text(concept),
        "value": value,
        "unit": unit,
        "reference_range": _str(reference.get("text")) or limits,
        "date": _date(resource.get("effectiveDateTime")),
    }


_READERS: dict[str, Callable[[dict[str, Any], dict[str, dict[str, Any]]], Entry]] = {
    "MedicationRequest": _medication,
    "MedicationDispense": _medication,
    "Immunization": _vaccination,
    "AllergyIntolerance": _allergy,
    "Condition": _problem,
    "Observation": _lab_result,
}


def _coding(concept: dict[str, Any]) -> dict[str, str | None] | None:
    coding = _dict(next(iter(_list(concept.get("coding"))), None))
    code = _str(coding.get("code"))
    if code is None:
        return None
    system, display = _str(coding.get("system")), _str(coding.get("display"))
    return {"system": system, "code": code, "display": display}


def _first_code(value: Any) -> str | None:
    coding = _coding(_dict(value))
    return coding["code"] if coding else None


def _concept_text(concept: dict[str, Any]) -> str | None:
    coding = _coding(concept)
    return _str(concept.get("text")) or (coding or {}).get("display")


def _quantity(quantity: dict[str, Any]) -> str | None:
    value = _number(quantity.get("value"))
    if value is None:
        return None
    unit = _str(quantity.get("unit")) or _str(quantity.get("code"))
    return f"{value} {unit}" if unit else value


def _number(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        return None
    return str(value)


def _date(value: Any) -> str | None:
    text = _str(value)
    return text[:10] if text else None


def _str(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = " ".join(value.split())[:MAX_VALUE_CHARS]
    return text or None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
