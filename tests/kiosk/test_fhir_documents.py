"""The FHIR documents the kiosk deposits (kiosk/fhir_documents.py, docs/documents.md)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from kiosk.fhir_documents import (
    CIS,
    DISPENSATION,
    PRESCRIPTION,
    XHTML,
    Author,
    MedicationLine,
    Subject,
    VaccinationLine,
    medication_bundle,
    vaccination_bundle,
)
from server.content import xml as safe_xml

NOW = datetime(2026, 11, 22, 10, 30, tzinfo=UTC)
MARIE = Subject(
    "279035121518989", "1.2.250.1.213.1.4.10", "DURAND", ("Marie", "Anne"), date(1979, 3, 15), "F"
)
MOREAU = Author("810003123451", "Claire", "MOREAU")
LINES = [
    MedicationLine(
        "Amoxicilline 1 g, comprimé",
        "1 g",
        "comprimé",
        2,
        "boîtes",
        "1 comprimé matin et soir pendant 7 jours",
        code="60000000",
    ),
    MedicationLine("Sirop maison", posology="1 cuillère le soir"),
]


def ids() -> Any:
    counter = itertools.count(1)
    return lambda: f"00000000-0000-4000-8000-{next(counter):012d}"


def resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def check_document(bundle: dict[str, Any]) -> dict[str, Any]:
    """The shape docs/documents.md promises: a document Bundle, Composition first, every
    reference resolved inside the bundle; returns the Composition."""
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "document"
    assert bundle["identifier"]["value"].startswith("urn:uuid:")
    assert bundle["timestamp"] == "2026-11-22T10:30:00+00:00"
    urls = [e["fullUrl"] for e in bundle["entry"]]
    assert len(set(urls)) == len(urls)
    by_url = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["status"] == "final"
    assert by_url[composition["subject"]["reference"]]["resourceType"] == "Patient"
    assert by_url[composition["author"][0]["reference"]]["resourceType"] == "Practitioner"
    for entry in composition["section"][0]["entry"]:
        assert entry["reference"] in by_url
    json.dumps(bundle)  # plain JSON all the way down
    return composition


def test_a_dispensation_is_a_document_bundle_of_medication_dispenses() -> None:
    bundle = medication_bundle(
        DISPENSATION, "Délivrance", LINES, MARIE, MOREAU, now=NOW, new_id=ids()
    )
    composition = check_document(bundle)
    assert composition["type"]["coding"][0] == {
        "system": "http://loinc.org",
        "code": "60593-1",
        "display": "Medication dispensed.brief",
    }
    assert composition["title"] == "Délivrance"
    dispenses = resources(bundle, "MedicationDispense")
    assert len(dispenses) == 2
    section = composition["section"][0]
    assert [e["reference"] for e in section["entry"]] == [
        e["fullUrl"] for e in bundle["entry"] if e["resource"] in dispenses
    ]
    first, second = dispenses
    assert first["medicationCodeableConcept"] == {
        "text": "Amoxicilline 1 g, comprimé",
        "coding": [{"system": CIS, "code": "60000000"}],
    }
    assert first["quantity"] == {"value": 2, "unit": "boîtes"}
    assert first["dosageInstruction"] == [{"text": "1 comprimé matin et soir pendant 7 jours"}]
    assert {x["valueString"] for x in first["extension"]} == {"1 g", "comprimé"}
    # A medicine typed freely: its text, no invented code, nothing empty sent.
    assert second["medicationCodeableConcept"] == {"text": "Sirop maison"}
    assert "quantity" not in second
    assert "extension" not in second
    patient = resources(bundle, "Patient")[0]
    assert patient["identifier"] == [
        {"system": "urn:oid:1.2.250.1.213.1.4.10", "value": "279035121518989"}
    ]
    assert patient["gender"] == "female"
    practitioner = resources(bundle, "Practitioner")[0]
    assert practitioner["identifier"][0]["value"] == "810003123451"


def test_a_prescription_is_made_of_medication_requests() -> None:
    bundle = medication_bundle(
        PRESCRIPTION, "Ordonnance", LINES, MARIE, MOREAU, now=NOW, new_id=ids()
    )
    composition = check_document(bundle)
    assert composition["type"]["coding"][0]["code"] == "57833-6"
    requests = resources(bundle, "MedicationRequest")
    assert len(requests) == 2
    assert resources(bundle, "MedicationDispense") == []
    assert requests[0]["intent"] == "order"
    assert requests[0]["dispenseRequest"]["quantity"] == {"value": 2, "unit": "boîtes"}
    assert requests[0]["dosageInstruction"][0]["text"].startswith("1 comprimé")


def test_a_vaccination_is_an_immunization() -> None:
    line = VaccinationLine("Vaxigrip Tetra (grippe)", date(2026, 10, 2), "X123")
    bundle = vaccination_bundle("Vaccination", [line], MARIE, MOREAU, now=NOW, new_id=ids())
    composition = check_document(bundle)
    assert composition["type"]["coding"][0]["code"] == "11369-6"
    (shot,) = resources(bundle, "Immunization")
    assert shot["vaccineCode"] == {"text": "Vaxigrip Tetra (grippe)"}
    assert shot["occurrenceDateTime"] == "2026-10-02"
    assert shot["lotNumber"] == "X123"
    assert "02/10/2026" in composition["section"][0]["text"]["div"]


def test_a_vaccination_is_not_a_medication_bundle() -> None:
    from kiosk.fhir_documents import VACCINATION

    with pytest.raises(ValueError, match="dispensation or a prescription"):
        medication_bundle(VACCINATION, "x", LINES, MARIE, MOREAU, now=NOW, new_id=ids())


HOSTILE = [
    '<script>alert("x")</script>',
    "</td></tr></table></div><img src=x onerror=alert(1)>",
    "AT&T <b>gras</b> ' \" ]]>",
]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_the_narrative_is_well_formed_xhtml_with_every_value_escaped(hostile: str) -> None:
    line = MedicationLine(hostile, hostile, hostile, 1, hostile, hostile)
    bundle = medication_bundle(DISPENSATION, hostile, [line], MARIE, MOREAU, now=NOW, new_id=ids())
    text = bundle["entry"][0]["resource"]["section"][0]["text"]
    assert text["status"] == "generated"
    div = text["div"]
    # Well-formed XML in the XHTML namespace, and the markup typed is only text in it.
    # Parsed as the server parses XML: no DTD, no entity, no network (server/content/xml.py).
    root = safe_xml.parse(div.encode(), max_nesting=16)
    assert root.tag == f"{{{XHTML}}}div"
    assert {e.tag.removeprefix(f"{{{XHTML}}}") for e in root.iter() if e is not root} <= {
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
    }
    cells = [td.text for td in root.iter(f"{{{XHTML}}}td") if td.text]
    assert cells.count(hostile) == 4  # name, dose, form, posology: verbatim, as text
    assert "<script" not in div
    # The structured values stay as typed (JSON escapes them itself).
    dispense = resources(bundle, "MedicationDispense")[0]
    assert dispense["medicationCodeableConcept"]["text"] == hostile
