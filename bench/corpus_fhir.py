"""FHIR R4 document Bundles of the corpus, in the shape docs/documents.md gives the kiosk's.

`Bundle` of type `document`; its first entry the `Composition` (type: the document's
LOINC code; subject the `Patient` with the INS; author the `Practitioner` with the RPPS);
one Composition section per report section, its `text.div` XHTML narrative built from
the same lines, its entries referencing `MedicationRequest` (prescription),
`MedicationDispense` (dispensation), `Immunization` (vaccination) or `Observation`
(lab results) resources of the Bundle.
"""

from __future__ import annotations

import json
import random
import uuid
from datetime import datetime
from typing import Any

from bench.corpus_cda import x
from bench.corpus_text import LabResult, MedicationLine, Report, Section, VaccinationItem

CIS_SYSTEM = "https://data.esante.gouv.fr/ansm/medicament/codeCIS"
ATC_SYSTEM = "http://www.whocc.no/atc"
INS_SYSTEM = "urn:oid:1.2.250.1.213.1.4.8"
RPPS_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"


def _urn(rng: random.Random) -> str:
    return f"urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}"


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def _div(section: Section) -> str:
    parts = [f"<p>{x(p)}</p>" for p in section.paragraphs]
    if section.header:
        head = "".join(f"<th>{x(h)}</th>" for h in section.header)
        rows = "".join(
            "<tr>" + "".join(f"<td>{x(c)}</td>" for c in r) + "</tr>" for r in section.rows
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    return '<div xmlns="http://www.w3.org/1999/xhtml">' + "".join(parts) + "</div>"


def _medication(line: MedicationLine) -> dict[str, Any]:
    m = line.medicine
    return {
        "coding": [
            {"system": CIS_SYSTEM, "code": m.cis, "display": m.name},
            {"system": ATC_SYSTEM, "code": m.atc, "display": m.dci},
        ],
        "text": m.name,
    }


def _plural(line: MedicationLine) -> str:
    """ "2 boîtes", as the kiosk writes it (docs/documents.md)."""
    return line.quantity_text.split(" ", 1)[1]


def _resource(
    line: Any, report: Report, patient: str, author: str, kind: str
) -> dict[str, Any] | None:
    when = _iso(report.ctx.when)
    if isinstance(line, MedicationLine) and kind == "dispensation":
        return {
            "resourceType": "MedicationDispense",
            "status": "completed",
            "medicationCodeableConcept": _medication(line),
            "subject": {"reference": patient},
            "performer": [{"actor": {"reference": author}}],
            "quantity": {"value": line.quantity, "unit": _plural(line)},
            "whenHandedOver": when,
            "dosageInstruction": [{"text": line.posology}],
        }
    if isinstance(line, MedicationLine):
        return {
            "resourceType": "MedicationRequest",
            "status": "active",
            "intent": "order",
            "medicationCodeableConcept": _medication(line),
            "subject": {"reference": patient},
            "authoredOn": when,
            "requester": {"reference": author},
            "dosageInstruction": [{"text": line.posology}],
            "dispenseRequest": {"quantity": {"value": line.quantity, "unit": _plural(line)}},
        }
    if isinstance(line, VaccinationItem):
        v = line.vaccine
        return {
            "resourceType": "Immunization",
            "status": "completed",
            "vaccineCode": {
                "coding": [{"system": ATC_SYSTEM, "code": v.atc, "display": v.label}],
                "text": f"{v.label} ({v.product})",
            },
            "patient": {"reference": patient},
            "occurrenceDateTime": line.on.isoformat(),
            "lotNumber": line.lot,
            "performer": [{"actor": {"reference": author}}],
        }
    if isinstance(line, LabResult):
        a = line.analyte
        quantity = {"unit": a.unit, "system": "http://unitsofmeasure.org", "code": a.ucum}
        return {
            "resourceType": "Observation",
            "status": "final",
            "category": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
                            "code": "laboratory",
                        }
                    ]
                }
            ],
            "code": {
                "coding": [{"system": "http://loinc.org", "code": a.loinc, "display": a.label}],
                "text": a.label,
            },
            "subject": {"reference": patient},
            "effectiveDateTime": when,
            "valueQuantity": {"value": line.value, **quantity},
            "interpretation": [
                {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation",
                            "code": line.flag,
                        }
                    ]
                }
            ],
            "referenceRange": [
                {"low": {"value": a.low, **quantity}, "high": {"value": a.high, **quantity}}
            ],
        }
    return None  # problems and allergies stay in the narrative of a FHIR document here


def bundle(rng: random.Random, report: Report) -> bytes:
    ctx = report.ctx
    p = ctx.patient
    patient_url, author_url, composition_url = _urn(rng), _urn(rng), _urn(rng)
    patient = {
        "resourceType": "Patient",
        "identifier": [{"system": INS_SYSTEM, "value": p.ins}],
        "name": [{"family": p.family, "given": p.given.split()}],
        "gender": "female" if p.sex == "F" else "male",
        "birthDate": p.birth_date.isoformat(),
    }
    entries: list[dict[str, Any]] = []
    if ctx.author is not None:
        a = ctx.author
        practitioner: dict[str, Any] = {
            "resourceType": "Practitioner",
            "identifier": [{"system": RPPS_SYSTEM, "value": a.rpps}],
            "name": [{"family": a.family, "given": [a.given], "prefix": ["Dr"]}],
        }
    else:
        author_url = patient_url  # a patient's own document
        practitioner = {}
    sections = []
    for section in report.sections:
        refs = []
        for line in section.entries:
            resource = _resource(line, report, patient_url, author_url, report.kind)
            if resource is not None:
                url = _urn(rng)
                entries.append({"fullUrl": url, "resource": resource})
                refs.append({"reference": url})
        item: dict[str, Any] = {
            "title": section.title,
            "code": {"coding": [{"system": "http://loinc.org", "code": section.code}]},
            "text": {"status": "generated", "div": _div(section)},
        }
        if refs:
            item["entry"] = refs
        sections.append(item)
    composition = {
        "resourceType": "Composition",
        "status": "final",
        "type": {
            "coding": [
                {"system": "http://loinc.org", "code": report.type_code, "display": report.title}
            ]
        },
        "subject": {"reference": patient_url},
        "date": _iso(ctx.when),
        "author": [{"reference": author_url}],
        "title": report.title,
        "section": sections,
    }
    head = [
        {"fullUrl": composition_url, "resource": composition},
        {"fullUrl": patient_url, "resource": patient},
    ]
    if practitioner:
        head.append({"fullUrl": author_url, "resource": practitioner})
    document = {
        "resourceType": "Bundle",
        "identifier": {"system": "urn:ietf:rfc:3986", "value": _urn(rng)},
        "type": "document",
        "timestamp": _iso(ctx.when),
        "entry": head + entries,
    }
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
