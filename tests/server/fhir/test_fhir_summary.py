"""The IPS `$summary`: exactly the listing's documents, their provenance, replacement,
contradictions, empty sections, IPS conformance, bad ids, and its trace.

The policy world is the search-policy one (tests/server/search/test_search_policy.py:
masked, invisible, archived, deleted and later-masked documents in an adult's and a
minor's dossiers, and every actor of the policy table), each professional's document a
structured FHIR document holding a problem, a medication line and an allergy named
after the document's own word.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from server.fhir.summary import EXT_CONFLICT, EXT_SOURCE, SECTIONS
from tests.server.conftest import PATIENTS, World
from tests.server.fhir.fhirkit import INS_TEST_NIR, get, outcome, valid
from tests.server.search.test_search_policy import (
    ACTORS,
    Spec,
    _deposit,
    build_dossiers,
)
from tests.server.test_api_versions import replaced

FHIR_JSON = "application/fhir+json"
LOINC = "http://loinc.org"
IPS_REQUIRED = {"10160-0", "48765-2", "11450-4"}
IPS_SECTIONS = {s.code: s.kind for s in SECTIONS}
ENTRY_TYPES = {
    "10160-0": {"MedicationStatement", "MedicationRequest"},
    "48765-2": {"AllergyIntolerance"},
    "11450-4": {"Condition"},
    "11369-6": {"Immunization"},
    "30954-2": {"Observation", "DiagnosticReport"},
}


def medication(name: str, dose: str | None = None, posology: str | None = None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "MedicationRequest",
        "status": "active",
        "intent": "order",
        "medicationCodeableConcept": {"text": name},
    }
    if dose is not None:
        resource["extension"] = [
            {
                "url": "https://dmp-kiosk.fr/fhir/StructureDefinition/medication-dose",
                "valueString": dose,
            }
        ]
    if posology is not None:
        resource["dosageInstruction"] = [{"text": posology}]
    return resource


def condition(name: str) -> dict[str, Any]:
    return {"resourceType": "Condition", "code": {"text": name}, "onsetDateTime": "2019-03"}


def allergy(name: str) -> dict[str, Any]:
    return {
        "resourceType": "AllergyIntolerance",
        "code": {"text": name},
        "reaction": [{"manifestation": [{"text": "urticaire"}], "severity": "moderate"}],
    }


def vaccination(name: str) -> dict[str, Any]:
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"text": name},
        "occurrenceDateTime": "2026-10-02",
        "lotNumber": "X123",
    }


def lab(name: str, value: float) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": "14682-9", "display": name}]},
        "effectiveDateTime": "2026-09-30",
        "valueQuantity": {"value": value, "unit": "µmol/L"},
        "referenceRange": [{"low": {"value": 45}, "high": {"value": 104}}],
    }


def document(patient: str, title: str, resources: list[dict[str, Any]]) -> bytes:
    """A FHIR R4 document Bundle as professional software writes one."""

    def urn() -> str:
        return f"urn:uuid:{uuid.uuid4()}"

    patient_url, author_url = urn(), urn()
    entries = [(urn(), r) for r in resources]
    composition = {
        "resourceType": "Composition",
        "status": "final",
        "type": {"coding": [{"system": LOINC, "code": "11488-4"}]},
        "subject": {"reference": patient_url},
        "date": "2026-10-02T10:00:00+02:00",
        "author": [{"reference": author_url}],
        "title": title,
        "section": [
            {
                "title": title,
                "text": {
                    "status": "generated",
                    "div": '<div xmlns="http://www.w3.org/1999/xhtml"><p>x</p></div>',
                },
                "entry": [{"reference": url} for url, _ in entries],
            }
        ],
    }
    bundle = {
        "resourceType": "Bundle",
        "type": "document",
        "timestamp": "2026-10-02T10:00:00+02:00",
        "entry": [
            {"fullUrl": urn(), "resource": composition},
            {
                "fullUrl": patient_url,
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [
                        {"system": "urn:oid:1.2.250.1.213.1.4.8", "value": PATIENTS[patient][0]}
                    ],
                },
            },
            {"fullUrl": author_url, "resource": {"resourceType": "Practitioner"}},
            *({"fullUrl": url, "resource": r} for url, r in entries),
        ],
    }
    return json.dumps(bundle).encode()


def _structured(world: World, dossier_id: int, spec: Spec) -> str:
    """Each professional's document holds a problem, a medication line and an allergy
    named after its word; the patient's own deposit stays text (no structure)."""
    if spec.author in PATIENTS:
        return _deposit(world, dossier_id, spec)
    owner = "leo" if spec.title in ("vaccins", "secret", "annonce") else "marie"
    content = document(
        owner,
        spec.title,
        [
            condition(f"probleme {spec.word}"),
            medication(f"medicament {spec.word}"),
            allergy(f"allergie {spec.word}"),
        ],
    )
    return _deposit(world, dossier_id, spec, content=content, mime_type=FHIR_JSON)


@pytest.fixture
def summary_dossiers(world: World) -> dict[str, int]:
    return build_dossiers(world, _structured)


def summary_of(world: World, who: str, dossier_id: int) -> Any:
    return get(world, who, f"/Patient/{dossier_id}/$summary")


def ips(response: Any) -> dict[str, Any]:
    """A 200 IPS document Bundle: parsed by fhir.resources (R4B models, as every FHIR
    test here) and checked against the IPS profile (`conformant`)."""
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == FHIR_JSON
    bundle: dict[str, Any] = valid(response.get_json())
    conformant(bundle)
    return bundle


def conformant(bundle: dict[str, Any]) -> None:
    """The IPS checks no validator runs here (docs/fhir.md lists them):
    Bundle-uv-ips: type document, identifier and timestamp 1..1, Composition first, one
    Patient; Composition-uv-ips: status, type LOINC 60591-5, subject -> the Patient,
    date, author 1..*, title; the three required sections (medications, allergies,
    problems) present once each, every section with code, title, text; a section has
    entries or an emptyReason, never both (cmp-2); entries of the section's resource
    types; every reference inside the Composition resolves inside the Bundle; each entry
    has a Provenance naming its source DocumentReference, author and date."""
    assert bundle["type"] == "document"
    assert bundle["identifier"]["value"]
    assert bundle["timestamp"]
    resources = [e["resource"] for e in bundle["entry"]]
    full = {e["fullUrl"].split("/R4/")[-1]: e["resource"] for e in bundle["entry"]}
    composition = resources[0]
    assert composition["resourceType"] == "Composition"
    assert composition["status"] in ("preliminary", "final")
    assert composition["type"]["coding"][0] == {
        "system": LOINC,
        "code": "60591-5",
        "display": "Patient summary Document",
    }
    assert composition["date"]
    assert composition["title"]
    assert composition["author"]
    patients = [r for r in resources if r["resourceType"] == "Patient"]
    assert len(patients) == 1
    assert composition["subject"]["reference"] == f"Patient/{patients[0]['id']}"
    assert patients[0]["name"]
    assert patients[0]["birthDate"]
    for author in composition["author"]:
        assert author["reference"] in full
    codes = [s["code"]["coding"][0]["code"] for s in composition["section"]]
    assert len(codes) == len(set(codes))
    assert IPS_REQUIRED <= set(codes)
    assert set(codes) <= set(IPS_SECTIONS)
    referenced: set[str] = set()
    for section in composition["section"]:
        assert section["title"]
        assert section["text"]["div"]
        code = section["code"]["coding"][0]
        assert code["system"] == LOINC
        has_entries = bool(section.get("entry"))
        assert has_entries != ("emptyReason" in section), section
        if not has_entries:
            assert code["code"] in IPS_REQUIRED  # an optional section is left out, not empty
        for ref in section.get("entry", []):
            target = full[ref["reference"]]
            assert target["resourceType"] in ENTRY_TYPES[code["code"]]
            referenced.add(ref["reference"])
    provenance_targets: dict[str, dict[str, Any]] = {}
    for r in resources:
        if r["resourceType"] == "Provenance":
            assert r["recorded"]
            assert r["agent"][0]["who"]
            what = r["entity"][0]["what"]
            assert what["reference"].startswith("DocumentReference/")
            for target in r["target"]:
                provenance_targets[target["reference"]] = r
    for ref in referenced:
        entry = full[ref]
        source = next(x for x in entry["extension"] if x["url"] == EXT_SOURCE)
        prov = provenance_targets[ref]
        assert prov["entity"][0]["what"]["reference"] == source["valueReference"]["reference"]
        assert entry["meta"]["source"].endswith(source["valueReference"]["reference"])


def section(bundle: dict[str, Any], code: str) -> list[dict[str, Any]]:
    """The resources of one section, in order."""
    full = {e["fullUrl"].split("/R4/")[-1]: e["resource"] for e in bundle["entry"]}
    for s in bundle["entry"][0]["resource"]["section"]:
        if s["code"]["coding"][0]["code"] == code:
            return [full[ref["reference"]] for ref in s.get("entry", [])]
    return []


def names(bundle: dict[str, Any], code: str) -> list[str]:
    out = []
    for r in section(bundle, code):
        concept = r.get("medicationCodeableConcept") or r.get("vaccineCode") or r["code"]
        out.append(concept["text"])
    return out


def sources(bundle: dict[str, Any]) -> set[str]:
    return {
        r["entity"][0]["what"]["reference"].removeprefix("DocumentReference/")
        for e in bundle["entry"]
        if (r := e["resource"])["resourceType"] == "Provenance"
    }


# --- who sees what ---------------------------------------------------------------------


def test_every_actor_gets_exactly_the_listed_documents(
    world: World, summary_dossiers: dict[str, int]
) -> None:
    for actor in ACTORS:
        for kind, dossier_id in summary_dossiers.items():
            where = (actor, kind)
            listing = world.call("GET", actor, f"/dossiers/{dossier_id}/documents?all=true")
            r = summary_of(world, actor, dossier_id)
            if listing.status_code != 200:
                outcome(r, listing.status_code, listing.get_json()["reason"])
                continue
            bundle = ips(r)
            standing = [
                d
                for d in listing.get_json()["documents"]
                if d["status"] in ("current", "archived") and d["author"]["kind"] != "patient"
            ]
            expected_words = sorted(_word(d["title"]) for d in standing)
            problems = names(bundle, "11450-4")
            assert sorted(n.removeprefix("probleme ") for n in problems) == expected_words, where
            meds = names(bundle, "10160-0")
            assert sorted(n.removeprefix("medicament ") for n in meds) == expected_words, where
            assert sources(bundle) == {d["logical_id"] for d in standing}, where
            # Nothing of a document the listing hides, anywhere in the answer.
            text = json.dumps(bundle, ensure_ascii=False)
            hidden = _all_words(kind) - set(expected_words)
            assert not [w for w in hidden if w in text], where


def _word(title: str) -> str:
    from tests.server.search.test_search_policy import ADULT, MINOR

    return next(s.word for s in ADULT + MINOR if s.title == title)


def _all_words(kind: str) -> set[str]:
    from tests.server.search.test_search_policy import ADULT, MINOR

    return {s.word for s in (ADULT if kind == "adult" else MINOR)}


def test_the_proof_covers_every_hiding(world: World, summary_dossiers: dict[str, int]) -> None:
    adult = summary_dossiers["adult"]

    def words(actor: str, dossier: str = "adult") -> set[str]:
        bundle = ips(summary_of(world, actor, summary_dossiers[dossier]))
        return {n.removeprefix("probleme ") for n in names(bundle, "11450-4")}

    assert "bruyere" not in words("infirmier")  # masked to professionals
    assert "bruyere" in words("gp")  # but not to the médecin traitant
    assert "narcisse" not in words("specialist")  # masked after deposit
    assert "camelia" not in words("marie")  # invisible to the patient
    assert "pivoine" not in words("marie", "minor")  # invisible to representatives
    assert "pivoine" in words("leo", "minor")
    assert "magnolia" not in words("gp")  # deleted
    assert "lilas" in words("gp")  # archived: still the standing version
    assert words("radiologue") == {"fuchsia"}  # authorship alone
    pharmacist = words("pharmacien")
    listing = world.call("GET", "pharmacien", f"/dossiers/{adult}/documents?all=true")
    shown = {d["title"] for d in listing.get_json()["documents"]}
    assert pharmacist == {_word(t) for t in shown if t != "mon document"}
    assert "bruyere" not in pharmacist
    assert "camelia" in words("gp")
    # Emergency modes apply unchanged, and the Composition says so.
    bundle = ips(summary_of(world, "urgentiste", adult))
    assert bundle["entry"][0]["resource"]["extension"][0]["valueCode"] == "bris_de_glace"
    assert "bruyere" not in words("urgentiste")


def test_the_summary_is_traced_as_a_read_of_each_document(
    world: World, summary_dossiers: dict[str, int]
) -> None:
    adult = summary_dossiers["adult"]
    bundle = ips(summary_of(world, "infirmier", adult))
    entry = world.trace("marie")[-1]
    assert (entry.action, entry.outcome, entry.actor_name) == (
        "document:read",
        "allowed",
        "Infirmier Test",
    )
    detail = json.loads(entry.detail)
    assert detail["summary"] == "ips"
    assert set(detail["documents"]) == sources(bundle)
    assert detail["read"] == len(sources(bundle))
    # The history says it in the patient's words, with how many documents were read.
    history = world.call("GET", "marie", f"/dossiers/{adult}/history").get_json()
    line = next(e for e in history["entries"] if e["params"].get("summary"))
    assert "synthèse" in line["text"]
    assert f"{detail['read']} documents lus" in line["text"]
    # A refused summary is traced as the listing's refusal, with the summary named.
    r = summary_of(world, "inconnu", adult)
    outcome(r, 403, "no_authorisation")
    denied = world.trace("marie")[-1]
    assert (denied.action, denied.outcome) == ("document:list", "denied")
    assert json.loads(denied.detail)["summary"] == "ips"


# --- replacement, contradictions, empty sections ---------------------------------------


def test_a_replaced_document_contributes_only_its_new_version(
    world: World, marie_dossier: int
) -> None:
    first = world.deposit(
        "gp",
        marie_dossier,
        title="ordonnance",
        mime_type=FHIR_JSON,
        content=document("marie", "ordonnance", [medication("AMLODIPINE", "5 mg")]),
    )["logical_id"]
    before = ips(summary_of(world, "gp", marie_dossier))
    assert names(before, "10160-0") == ["AMLODIPINE"]
    second = replaced(
        world,
        "gp",
        marie_dossier,
        first,
        document("marie", "ordonnance", [medication("AMLODIPINE", "10 mg")]),
        mime_type=FHIR_JSON,
        title="ordonnance",
        replace_reason="Erreur de dose",
    )
    after = ips(summary_of(world, "gp", marie_dossier))
    meds = section(after, "10160-0")
    assert len(meds) == 1
    assert meds[0]["extension"][0]["valueString"] == "10 mg"
    assert sources(after) == {second}
    assert not [x for x in meds[0]["extension"] if x["url"] == EXT_CONFLICT]


def test_contradictions_are_kept_and_flagged(world: World, marie_dossier: int) -> None:
    for author, dose in (("gp", "5 mg"), ("specialist", "10 mg")):
        if author == "specialist":
            r = world.call(
                "POST",
                "marie",
                f"/dossiers/{marie_dossier}/care-team",
                {"national_id": world.nid("specialist")},
            )
            assert r.status_code == 201, r.get_json()
        world.deposit(
            author,
            marie_dossier,
            mime_type=FHIR_JSON,
            content=document(
                "marie",
                f"ordonnance {author}",
                [medication("AMLODIPINE", dose, "1 par jour"), medication("DOLIPRANE", "1 g")],
            ),
        )
    bundle = ips(summary_of(world, "gp", marie_dossier))
    meds = section(bundle, "10160-0")
    amlodipine = [m for m in meds if m["medicationCodeableConcept"]["text"] == "AMLODIPINE"]
    assert len(amlodipine) == 2  # both kept, never merged
    ids = {m["id"] for m in amlodipine}
    for m in amlodipine:
        conflicts = [x for x in m["extension"] if x["url"] == EXT_CONFLICT]
        assert [c["valueReference"]["reference"].split("/")[1] for c in conflicts] == [
            i for i in ids if i != m["id"]
        ]
        assert "Contradiction" in m["note"][-1]["text"]
    # The same dose in two documents is no contradiction.
    doliprane = [m for m in meds if m["medicationCodeableConcept"]["text"] == "DOLIPRANE"]
    assert len(doliprane) == 2
    assert not [x for d in doliprane for x in d["extension"] if x["url"] == EXT_CONFLICT]


def test_empty_sections_say_so(world: World, marie_dossier: int) -> None:
    bundle = ips(summary_of(world, "gp", marie_dossier))  # no document at all
    composition = bundle["entry"][0]["resource"]
    assert [s["code"]["coding"][0]["code"] for s in composition["section"]] == [
        "10160-0",
        "48765-2",
        "11450-4",
    ]
    for s in composition["section"]:
        assert s["emptyReason"]["coding"][0]["code"] == "unavailable"
        assert "entry" not in s
    # Immunizations and results appear when data exist, with the required ones empty.
    world.deposit(
        "gp",
        marie_dossier,
        mime_type=FHIR_JSON,
        content=document("marie", "bilan", [vaccination("Vaccin grippe"), lab("Créatinine", 82)]),
    )
    bundle = ips(summary_of(world, "gp", marie_dossier))
    assert names(bundle, "11369-6") == ["Vaccin grippe"]
    result = section(bundle, "30954-2")[0]
    assert result["valueQuantity"] == {"value": 82, "unit": "µmol/L"}
    assert result["referenceRange"] == [{"text": "45-104"}]
    assert section(bundle, "10160-0") == []


def test_a_masked_document_leaves_its_section_as_empty_as_none(
    world: World, marie_dossier: int
) -> None:
    """A section emptied by hiding looks exactly like one with no data."""
    world.deposit(
        "gp",
        marie_dossier,
        masked_ps=True,
        mime_type=FHIR_JSON,
        content=document("marie", "secret", [allergy("Pénicillines")]),
    )
    r = world.call(
        "POST",
        "marie",
        f"/dossiers/{marie_dossier}/care-team",
        {"national_id": world.nid("infirmier")},
    )
    assert r.status_code == 201, r.get_json()
    hidden = ips(summary_of(world, "infirmier", marie_dossier))
    assert section(hidden, "48765-2") == []
    sections = hidden["entry"][0]["resource"]["section"]
    allergies = next(s for s in sections if s["code"]["coding"][0]["code"] == "48765-2")
    assert allergies["emptyReason"]["coding"][0]["code"] == "unavailable"
    assert names(ips(summary_of(world, "gp", marie_dossier)), "48765-2") == ["Pénicillines"]


# --- the patient by INS, bad requests --------------------------------------------------


def test_by_ins_finds_the_same_summary(world: World, marie_dossier: int) -> None:
    ins = PATIENTS["marie"][0]
    r = get(world, "gp", f"/Patient/$summary?identifier={INS_TEST_NIR}|{ins}")
    bundle = ips(r)
    patient = bundle["entry"][1]["resource"]
    assert patient["id"] == str(marie_dossier)
    assert patient["identifier"][0]["value"] == ins
    actions = [e.action for e in world.trace("marie")[-2:]]
    assert actions == ["dossier:lookup", "document:read"]


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/Patient/99999999999999999999999/$summary", 400),  # beyond 2^31-1
        ("/Patient/" + "9" * 5000 + "/$summary", 400),
        ("/Patient/%D9%A1%D9%A2/$summary", 400),  # Arabic-Indic digits
        ("/Patient/%C2%B9/$summary", 400),  # a superscript one
        ("/Patient/0/$summary", 400),
        ("/Patient/-1/$summary", 400),
        ("/Patient/abc/$summary", 400),
        ("/Patient/1/$summary?profile=x", 400),  # unsupported parameter
        ("/Patient/$summary", 400),  # no identifier
        ("/Patient/$summary?identifier=urn:oid:1.2.250.1.213.1.4.8|123", 400),
        ("/Patient/$summary?identifier=x&identifier=y", 400),
        ("/Patient/$summary?identifier=%00", 400),
        ("/Patient/2147483647/$summary", 403),  # no such dossier: as for any unknown one
        ("/Patient/1/$summary?_format=xml", 406),
    ],
)
def test_bad_requests_are_operation_outcomes(
    world: World, marie_dossier: int, path: str, status: int
) -> None:
    outcome(get(world, "gp", path), status)


def test_anonymous_and_other_patients_get_nothing(world: World, marie_dossier: int) -> None:
    outcome(get(world, None, f"/Patient/{marie_dossier}/$summary"), 401)
    outcome(summary_of(world, "jean", marie_dossier), 403, "not_a_party")
    r = get(world, "gp", f"/Patient/{marie_dossier}/$summary", Accept="application/fhir+xml")
    outcome(r, 406)
    r = world.client.post(f"/fhir/R4/Patient/{marie_dossier}/$summary", headers=world.h("gp"))
    outcome(r, 405)


def test_the_capability_statement_names_the_operation(world: World) -> None:
    statement = valid(get(world, None, "/metadata").get_json())
    resources = {r["type"]: r for r in statement["rest"][0]["resource"]}
    operation = resources["Patient"]["operation"][0]
    assert operation["name"] == "summary"
    assert operation["definition"] == "http://hl7.org/fhir/uv/ips/OperationDefinition/summary"
