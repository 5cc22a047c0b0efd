"""The "Synthèse" page: the patient summary in plain words, each line opening its source.

The server builds, decides and traces the summary (GET /fhir/R4/Patient/{id}/$summary,
server/fhir/summary.py: only documents this caller may read, traced as a read of each);
the kiosk only words the IPS Bundle it answers, for the patient and the professional
alike, and keeps nothing of it. Every line is one link to the document it came from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import render_template

from kiosk import i18n
from kiosk.i18n import gettext as _

from . import server

SOURCE = "https://dmp-kiosk.invalid/fhir/StructureDefinition/summary-source"
CONFLICT = "https://dmp-kiosk.invalid/fhir/StructureDefinition/summary-conflict"
DOSE = "https://dmp-kiosk.fr/fhir/StructureDefinition/medication-dose"


@dataclass
class Line:
    text: str
    details: list[str]
    source: str | None  # the source document's logical id
    source_label: str
    conflict: bool = False


@dataclass
class Part:
    code: str
    title: str
    lines: list[Line] = field(default_factory=list)


def _titles() -> dict[str, str]:
    return {
        "10160-0": _("Traitements"),
        "48765-2": _("Allergies et intolérances"),
        "11450-4": _("Problèmes de santé"),
        "11369-6": _("Vaccinations"),
        "30954-2": _("Résultats d'examens"),
    }


def synthesis_page(dossier_id: int, *, audience: str, back: str) -> str:
    """`audience`: the blueprint ("pro" or "patient") whose `synthesis_document` page
    opens a line's source."""
    r = server().summary(dossier_id)
    if not r.ok or not isinstance(r.body, dict):
        message = r.body.get("message") if isinstance(r.body, dict) else None
        return render_template("error.html", message=message or _("Synthèse indisponible."))
    return render_template("synthesis.html", parts=parts_of(r.body), audience=audience, back=back)


def parts_of(bundle: dict[str, Any]) -> list[Part]:
    """The Composition's sections in order, each line from the resource it references.
    Anything malformed is left out: the kiosk shows what it understands, no more."""
    entries = [e for e in bundle.get("entry") or [] if isinstance(e, dict)]
    resources = {
        f"{r.get('resourceType')}/{r.get('id')}": r
        for e in entries
        if isinstance(r := e.get("resource"), dict)
    }
    authors = _authors(resources.values())
    composition = entries[0].get("resource") if entries else None
    if not isinstance(composition, dict) or composition.get("resourceType") != "Composition":
        return []
    titles = _titles()
    parts = []
    for section in composition.get("section") or []:
        code = ((section.get("code") or {}).get("coding") or [{}])[0].get("code", "")
        part = Part(code, titles.get(code, str(section.get("title", ""))))
        for ref in section.get("entry") or []:
            resource = resources.get(str(ref.get("reference")))
            if resource is not None:
                part.lines.append(_line(resource, authors))
        parts.append(part)
    return parts


def _authors(resources: Any) -> dict[str, str]:
    """Each entry's "author, date" from the Provenance naming it."""
    out = {}
    for r in resources:
        if r.get("resourceType") != "Provenance":
            continue
        who = ((r.get("agent") or [{}])[0].get("who") or {}).get("display", "")
        when = i18n.day(r.get("occurredDateTime") or r.get("recorded"))
        said = " · ".join(x for x in (who, when) if x)
        for target in r.get("target") or []:
            out[str(target.get("reference"))] = said
    return out


def _concept(resource: dict[str, Any], key: str) -> str:
    return str((resource.get(key) or {}).get("text") or "?")


def _line(resource: dict[str, Any], authors: dict[str, str]) -> Line:
    kind = resource.get("resourceType")
    details: list[str] = []
    extensions = [x for x in resource.get("extension") or [] if isinstance(x, dict)]
    if kind == "MedicationStatement":
        text = _concept(resource, "medicationCodeableConcept")
        details += [x["valueString"] for x in extensions if x.get("url") == DOSE]
        details += [d["text"] for d in resource.get("dosage") or [] if d.get("text")]
    elif kind == "AllergyIntolerance":
        text = _concept(resource, "code")
        for reaction in resource.get("reaction") or []:
            details += [m.get("text", "") for m in reaction.get("manifestation") or []]
    elif kind == "Condition":
        text = _concept(resource, "code")
        if onset := resource.get("onsetDateTime"):
            details.append(_("depuis {date}", date=onset))
    elif kind == "Immunization":
        text = _concept(resource, "vaccineCode")
        if when := resource.get("occurrenceDateTime"):
            details.append(_("le {date}", date=i18n.day(when) or when))
        if lot := resource.get("lotNumber"):
            details.append(_("lot {lot}", lot=lot))
    else:  # Observation
        text = _concept(resource, "code")
        quantity = resource.get("valueQuantity")
        if isinstance(quantity, dict):
            details.append(f"{quantity.get('value', '')} {quantity.get('unit', '')}".strip())
        elif resource.get("valueString"):
            details.append(str(resource["valueString"]))
        for limits in resource.get("referenceRange") or []:
            if limits.get("text"):
                details.append(_("normales : {range}", range=limits["text"]))
        if when := resource.get("effectiveDateTime"):
            details.append(_("le {date}", date=i18n.day(when) or when))
    source = next((x for x in extensions if x.get("url") == SOURCE), None)
    reference = (source or {}).get("valueReference") or {}
    logical_id = str(reference.get("reference", "")).removeprefix("DocumentReference/")
    label = str(reference.get("display", ""))
    said = authors.get(f"{kind}/{resource.get('id')}")
    return Line(
        text=text,
        details=[d for d in details if d],
        source=logical_id or None,
        source_label=" · ".join(x for x in (label, said) if x),
        conflict=any(x.get("url") == CONFLICT for x in extensions),
    )
