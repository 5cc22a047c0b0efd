"""The "Synthèse" page in Chromium (issue 12): the pharmacist at the counter and the
patient alone read the patient summary the server builds (FHIR $summary), in French and
English, each whole line a large target opening the document it came from, a
contradiction between two documents shown as such, an empty section said in words."""

from __future__ import annotations

import json
from typing import Any

from tests.kiosk.conftest import READER_PATIENT, READER_PRO, Kiosk
from tests.kiosk.test_journey_documents import MARIE, PHARMACIST, deposit
from tests.kiosk.test_touch_targets import MEASURE, MIN_PX

MEDICATIONS = "10160-0"


def _dispensation(title: str, posology: str) -> bytes:
    """A dispensation as another pharmacy's software deposits it (FHIR document)."""
    return json.dumps(
        {
            "resourceType": "Bundle",
            "type": "document",
            "timestamp": "2026-10-02T10:00:00+02:00",
            "entry": [
                {
                    "fullUrl": "urn:uuid:6f1c0000-0000-4000-8000-000000000001",
                    "resource": {
                        "resourceType": "Composition",
                        "status": "final",
                        "type": {"coding": [{"system": "http://loinc.org", "code": "60593-1"}]},
                        "date": "2026-10-02T10:00:00+02:00",
                        "title": title,
                        "section": [
                            {
                                "title": "Médicaments délivrés",
                                "entry": [
                                    {"reference": "urn:uuid:6f1c0000-0000-4000-8000-000000000002"}
                                ],
                            }
                        ],
                    },
                },
                {
                    "fullUrl": "urn:uuid:6f1c0000-0000-4000-8000-000000000002",
                    "resource": {
                        "resourceType": "MedicationDispense",
                        "status": "completed",
                        "medicationCodeableConcept": {"text": "Amlodipine 5 mg, gélule"},
                        "dosageInstruction": [{"text": posology}],
                    },
                },
            ],
        }
    ).encode()


def test_the_pharmacist_and_the_patient_read_the_summary_and_open_its_sources(
    at: Kiosk,
) -> None:
    page: Any = at.page
    at.at_counter(PHARMACIST, MARIE)
    page.click("[data-testid=deposit-dispensation]")
    page.fill("#title", "Délivrance pour l'hypertension")
    page.fill("#line-0-name", "Amlodipine 5 mg, gélule")
    page.fill("#line-0-posology", "1 gélule le matin")
    page.click("[data-testid=save]")
    page.wait_for_selector("[data-testid=saved]")
    # Another pharmacy dispensed the same medicine with another posology.
    deposit(
        at,
        "Délivrance d'une autre pharmacie",
        "application/fhir+json",
        _dispensation("Délivrance d'une autre pharmacie", "2 gélules le soir"),
    )
    page.reload()
    page.click("[data-testid=synthesis]")
    page.wait_for_selector(f"[data-testid=part-{MEDICATIONS}]")
    lines = page.locator(f"[data-testid=part-{MEDICATIONS}] a.row")
    texts = [lines.nth(i).inner_text() for i in range(lines.count())]
    mine = [t for t in texts if "1 gélule le matin" in t]
    theirs = [t for t in texts if "2 gélules le soir" in t]
    assert len(mine) == 1
    assert len(theirs) == 1  # both kept, never merged
    assert "différent dans un autre document" in mine[0]
    assert "Délivrance pour l'hypertension" in mine[0]  # its source, named
    # A required section with nothing in it says so in words.
    assert "Aucune information disponible" in page.inner_text("[data-testid=empty-48765-2]")
    # Every target is large enough for a finger, the whole row included.
    small: list[str] = page.evaluate(MEASURE, MIN_PX)
    assert small == []
    box = lines.first.bounding_box()
    assert box is not None
    assert box["height"] >= MIN_PX
    at.shot("synthesis", "pharmacist")
    # Tapping a line opens its source document; back returns to the summary.
    page.locator(f"[data-testid=part-{MEDICATIONS}] a.row", has_text="1 gélule le matin").click()
    page.wait_for_selector("[data-testid=medications]")
    assert "/pro/dossier/synthesis/" in page.url
    page.click("[data-testid=back]")
    page.wait_for_selector(f"[data-testid=part-{MEDICATIONS}]")
    # In English too.
    page.click("button[name=lang][value=en]")
    page.wait_for_selector(f"[data-testid=part-{MEDICATIONS}]")
    assert "Record summary" in page.inner_text("h1")
    assert "Medicines" in page.inner_text(f"[data-testid=part-{MEDICATIONS}] h2")
    assert "different in another document" in page.inner_text("main")
    page.click("button[name=lang][value=fr]")
    # The patient, alone, from her home page.
    at.pull(READER_PATIENT)
    at.pull(READER_PRO)
    at.sign_in_patient(MARIE)
    page.wait_for_url("**/patient/")
    page.click("[data-testid=tile-synthesis]")
    page.wait_for_selector(f"[data-testid=part-{MEDICATIONS}]")
    row = page.locator(f"[data-testid=part-{MEDICATIONS}] a.row", has_text="2 gélules le soir")
    assert row.count() == 1
    at.shot("synthesis", "patient")
    row.click()
    page.wait_for_selector("[data-testid=reader]")
    assert "/patient/synthesis/" in page.url
