"""The FHIR R4 documents the kiosk deposits for structured records (issue 11).

A dispensation, a prescription and a vaccination typed at the kiosk are deposited as a
`Bundle` of type `document` (docs/documents.md, "What the kiosk deposits for structured
documents"): the `Composition` first, then the `Patient` (INS) and the `Practitioner`
(national id), then one `MedicationDispense`, `MedicationRequest` or `Immunization` per
line, all referenced from the Composition's one section. The section's narrative
(`text.div`, XHTML) is built from the same lines, every value escaped, so that any FHIR
reader shows the document and a hostile line cannot inject markup.

Pure: no I/O, no clock, no randomness of its own (ids and instants are passed in).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

FHIR_MIME_TYPE = "application/fhir+json"
LOINC = "http://loinc.org"
CIS = "https://data.esante.gouv.fr/ansm/medicament/codeCIS"
# The ANS OID of the national identifier of health professionals ("8" + RPPS).
NATIONAL_ID_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
# Where the kiosk puts a line's dose (strength) and form: R4 has no field for them beside
# a coded concept, so two extensions of this project carry them (docs/documents.md).
DOSE_EXTENSION = "https://dmp-kiosk.fr/fhir/StructureDefinition/medication-dose"
FORM_EXTENSION = "https://dmp-kiosk.fr/fhir/StructureDefinition/medication-form"
XHTML = "http://www.w3.org/1999/xhtml"


@dataclass(frozen=True)
class Kind:
    """One structured document the kiosk records."""

    name: str  # dispensation, prescription, vaccination
    category: str  # the server's category code
    loinc: str
    loinc_display: str
    section_title: str


DISPENSATION = Kind(
    "dispensation", "dispensation", "60593-1", "Medication dispensed.brief", "Médicaments délivrés"
)
PRESCRIPTION = Kind(
    "prescription", "prescription", "57833-6", "Prescription for medication", "Prescription"
)
VACCINATION = Kind(
    "vaccination",
    "traitement_administre",
    "11369-6",
    "History of Immunization Narrative",
    "Vaccination",
)
KINDS = {k.name: k for k in (DISPENSATION, PRESCRIPTION, VACCINATION)}


@dataclass(frozen=True)
class MedicationLine:
    name: str
    dose: str = ""  # strength, e.g. "1 g"
    form: str = ""  # e.g. "comprimé"
    quantity: float | None = None
    unit: str = ""  # e.g. "boîte"
    posology: str = ""
    code: str | None = None  # CIS code, only when known for certain


@dataclass(frozen=True)
class VaccinationLine:
    vaccine: str
    when: date
    lot: str = ""
    code: str | None = None


@dataclass(frozen=True)
class Subject:
    ins: str
    ins_oid: str
    birth_name: str
    first_names: tuple[str, ...]
    birth_date: date | None = None
    sex: str | None = None  # "M", "F" or None


@dataclass(frozen=True)
class Author:
    national_id: str
    first_name: str
    last_name: str


def medication_bundle(
    kind: Kind,
    title: str,
    lines: Sequence[MedicationLine],
    subject: Subject,
    author: Author,
    *,
    now: datetime,
    new_id: Callable[[], str],
) -> dict[str, Any]:
    if kind not in (DISPENSATION, PRESCRIPTION):
        raise ValueError("a medication bundle is a dispensation or a prescription")
    patient_url, author_url = _urn(new_id), _urn(new_id)
    build = _dispense if kind is DISPENSATION else _request
    resources = [(_urn(new_id), build(line, patient_url, author_url, now)) for line in lines]
    rows = [
        [line.name, line.dose, line.form, _quantity_text(line), line.posology] for line in lines
    ]
    div = _table(["Médicament", "Dosage", "Forme", "Quantité", "Posologie"], rows)
    return _bundle(
        kind, title, div, resources, subject, author, patient_url, author_url, now, new_id
    )


def vaccination_bundle(
    title: str,
    lines: Sequence[VaccinationLine],
    subject: Subject,
    author: Author,
    *,
    now: datetime,
    new_id: Callable[[], str],
) -> dict[str, Any]:
    patient_url, author_url = _urn(new_id), _urn(new_id)
    resources = [(_urn(new_id), _immunization(line, patient_url, author_url)) for line in lines]
    rows = [[line.vaccine, line.when.strftime("%d/%m/%Y"), line.lot] for line in lines]
    div = _table(["Vaccin", "Date", "Lot"], rows)
    return _bundle(
        VACCINATION, title, div, resources, subject, author, patient_url, author_url, now, new_id
    )


def _bundle(
    kind: Kind,
    title: str,
    div: str,
    resources: list[tuple[str, dict[str, Any]]],
    subject: Subject,
    author: Author,
    patient_url: str,
    author_url: str,
    now: datetime,
    new_id: Callable[[], str],
) -> dict[str, Any]:
    instant = now.isoformat(timespec="seconds")
    composition = {
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": kind.loinc, "display": kind.loinc_display}]},
        "subject": {"reference": patient_url},
        "date": instant,
        "author": [{"reference": author_url}],
        "title": title,
        "section": [
            {
                "title": kind.section_title,
                "code": {"coding": [{"system": LOINC, "code": kind.loinc}]},
                "text": {"status": "generated", "div": div},
                "entry": [{"reference": url} for url, _resource in resources],
            }
        ],
    }
    entries = [
        (_urn(new_id), composition),
        (patient_url, _patient(subject)),
        (author_url, _practitioner(author)),
        *resources,
    ]
    return {
        "resourceType": "Bundle",
        # A document bundle has an identifier and a timestamp (FHIR R4 bdl-9, bdl-10).
        "identifier": {"system": "urn:ietf:rfc:3986", "value": _urn(new_id)},
        "type": "document",
        "timestamp": instant,
        "entry": [{"fullUrl": url, "resource": resource} for url, resource in entries],
    }


def _urn(new_id: Callable[[], str]) -> str:
    return f"urn:uuid:{new_id()}"


def _patient(subject: Subject) -> dict[str, Any]:
    patient: dict[str, Any] = {
        "resourceType": "Patient",
        "identifier": [{"system": f"urn:oid:{subject.ins_oid}", "value": subject.ins}],
        "name": [{"family": subject.birth_name, "given": list(subject.first_names)}],
    }
    if subject.birth_date is not None:
        patient["birthDate"] = subject.birth_date.isoformat()
    if subject.sex in ("M", "F"):
        patient["gender"] = "male" if subject.sex == "M" else "female"
    return patient


def _practitioner(author: Author) -> dict[str, Any]:
    return {
        "resourceType": "Practitioner",
        "identifier": [{"system": NATIONAL_ID_SYSTEM, "value": author.national_id}],
        "name": [{"family": author.last_name, "given": [author.first_name]}],
    }


def _concept(text: str, code: str | None) -> dict[str, Any]:
    concept: dict[str, Any] = {"text": text}
    if code:
        concept["coding"] = [{"system": CIS, "code": code}]
    return concept


def _medication(line: MedicationLine) -> dict[str, Any]:
    extensions = [
        {"url": url, "valueString": value}
        for url, value in ((DOSE_EXTENSION, line.dose), (FORM_EXTENSION, line.form))
        if value
    ]
    out: dict[str, Any] = {"medicationCodeableConcept": _concept(line.name, line.code)}
    if extensions:
        out["extension"] = extensions
    return out


def _quantity(line: MedicationLine) -> dict[str, Any] | None:
    if line.quantity is None:
        return None
    # 2, not 2.0: a whole number of boxes reads as one everywhere the bundle goes.
    value = int(line.quantity) if float(line.quantity).is_integer() else line.quantity
    quantity: dict[str, Any] = {"value": value}
    if line.unit:
        quantity["unit"] = line.unit
    return quantity


def _dosage(line: MedicationLine) -> list[dict[str, Any]]:
    return [{"text": line.posology}] if line.posology else []


def _dispense(line: MedicationLine, patient: str, author: str, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "MedicationDispense",
        "status": "completed",
        **_medication(line),
        "subject": {"reference": patient},
        "performer": [{"actor": {"reference": author}}],
        "whenHandedOver": now.isoformat(timespec="seconds"),
    }
    if (quantity := _quantity(line)) is not None:
        out["quantity"] = quantity
    if dosage := _dosage(line):
        out["dosageInstruction"] = dosage
    return out


def _request(line: MedicationLine, patient: str, author: str, now: datetime) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        **_medication(line),
        "subject": {"reference": patient},
        "authoredOn": now.isoformat(timespec="seconds"),
        "requester": {"reference": author},
    }
    if dosage := _dosage(line):
        out["dosageInstruction"] = dosage
    if (quantity := _quantity(line)) is not None:
        out["dispenseRequest"] = {"quantity": quantity}
    return out


def _immunization(line: VaccinationLine, patient: str, author: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": _concept(line.vaccine, line.code),
        "patient": {"reference": patient},
        "occurrenceDateTime": line.when.isoformat(),
        "performer": [{"actor": {"reference": author}}],
    }
    if line.lot:
        out["lotNumber"] = line.lot
    return out


def _quantity_text(line: MedicationLine) -> str:
    if line.quantity is None:
        return ""
    value = f"{line.quantity:g}".replace(".", ",")
    return f"{value} {line.unit}".strip()


def _table(headers: list[str], rows: list[list[str]]) -> str:
    """XHTML narrative: every value escaped (quotes too), so the div stays well-formed."""

    def cell(tag: str, value: str) -> str:
        return f"<{tag}>{html.escape(value, quote=True)}</{tag}>"

    head = "".join(cell("th", h) for h in headers)
    body = "".join("<tr>" + "".join(cell("td", v) for v in row) + "</tr>" for row in rows)
    return (
        f'<div xmlns="{XHTML}"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{body}</tbody></table></div>"
    )
