"""The benchmark corpus: every format is what it claims to be, and a seed fixes the bytes.

Each format is parsed back the way a reader would (pypdf, lxml without DTD or network,
json, Pillow), so a change that produces a broken PDF, an invalid CDA or a FHIR Bundle
without its Composition first fails here and not in a benchmark run.
"""

from __future__ import annotations

import base64
import dataclasses
import io
import json
import random
from datetime import timedelta
from typing import Any

import pytest
from lxml import etree
from PIL import Image
from pypdf import PdfReader

from bench.corpus import (
    CATALOGUE,
    IMAGE_FORMATS,
    MIME,
    Corpus,
    GeneratedDocument,
    measure,
    random_context,
)
from bench.corpus_text import (
    Author,
    Context,
    LabResult,
    MedicationLine,
    VaccinationItem,
    plain_text,
)

HL7 = "{urn:hl7-org:v3}"
NS = {"h": "urn:hl7-org:v3"}


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(seed=7)


def make(
    corpus: Corpus,
    category: str,
    fmt: str,
    *,
    type_code: str | None = None,
    seed: int = 1,
    patient_author: bool = False,
) -> GeneratedDocument:
    rng = random.Random(f"test:{category}:{fmt}:{type_code}:{seed}")
    ctx = random_context(rng, patient_author=patient_author)
    doc = corpus.document(rng, category, ctx, type_code=type_code, fmt=fmt)
    assert doc.fmt == fmt
    assert doc.mime_type == MIME[fmt]
    assert doc.category == category
    return doc


def parse_xml(content: bytes) -> Any:
    """As a careful server would: no DTD, no entities, no network."""
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False
    )
    root = etree.fromstring(content, parser)
    assert root.getroottree().docinfo.doctype == ""
    return root


def pdf_text(content: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(content), strict=True)
    return len(reader.pages), "\n".join(page.extract_text() for page in reader.pages)


def squash(text: str) -> str:
    return " ".join(text.split())


# --- PDFs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "type_code"),
    [("compte_rendu", "11488-4"), ("compte_rendu", "34133-9"), ("imagerie", "18748-4")],
)
def test_pdf_has_a_text_layer_with_the_reports_french_words(
    corpus: Corpus, category: str, type_code: str
) -> None:
    doc = make(corpus, category, "pdf", type_code=type_code)
    pages, text = pdf_text(doc.content)
    assert pages == doc.pages >= 1
    assert doc.report is not None
    flat = squash(text)
    assert doc.report.title in flat
    assert doc.report.ctx.patient.family.replace("_", " ").upper() in flat
    # Every paragraph's first words come back, accents included.
    for section in doc.report.sections:
        assert section.title in flat
        for para in section.paragraphs:
            assert " ".join(para.split()[:4]) in flat


def test_long_reports_span_several_pages_up_to_ten(corpus: Corpus) -> None:
    counts = {
        make(corpus, "compte_rendu", "pdf", type_code="34133-9", seed=s).pages for s in range(40)
    }
    assert min(counts) >= 2
    assert max(counts) <= 10
    assert len(counts) >= 3


@pytest.mark.parametrize(
    ("fmt", "type_code", "pages"),
    [("pdf", "34133-9", 10), ("pdf", "11488-4", 1), ("cda_pdf", "34133-9", 3)],
)
def test_a_number_of_pages_can_be_asked_for(
    corpus: Corpus, fmt: str, type_code: str, pages: int
) -> None:
    """The deposit bench's 10-page PDF with a text layer (issue #11)."""
    rng = random.Random(f"pages:{fmt}:{pages}")
    doc = corpus.document(
        rng, "compte_rendu", random_context(rng), type_code=type_code, fmt=fmt, pages=pages
    )
    content = doc.content
    if fmt == "cda_pdf":
        body = parse_xml(content).find("h:component/h:nonXMLBody/h:text", NS)
        assert body.get("mediaType") == "application/pdf"
        content = base64.b64decode(body.text)
    count, text = pdf_text(content)
    assert count == doc.pages == pages
    assert len(text) > 1500 * pages * 0.5


def test_reportlab_ordonnance_lists_its_medicines(corpus: Corpus) -> None:
    doc = make(corpus, "prescription", "pdf_reportlab", type_code="57833-6")
    _, text = pdf_text(doc.content)
    assert doc.report is not None
    lines = [e for e in doc.report.entries() if isinstance(e, MedicationLine)]
    assert lines
    words = set(squash(text).split())
    for line in lines:
        # Long names and posologies wrap within their column: every word is there.
        assert set(line.medicine.name.split()) <= words
        assert set(line.posology.split()) <= words


@pytest.mark.parametrize("category", ["compte_rendu", "depose_patient", "certificat"])
def test_scanned_pdfs_have_pages_but_no_text_layer(corpus: Corpus, category: str) -> None:
    doc = make(corpus, category, "pdf_scan", patient_author=category == "depose_patient")
    pages, text = pdf_text(doc.content)
    assert pages == doc.pages >= 1
    assert text.strip() == ""
    assert not doc.has_text_layer
    reader = PdfReader(io.BytesIO(doc.content))
    for page in reader.pages:
        [image] = page.images  # one full-page image, nothing else
        assert image.image is not None
        assert image.image.width >= 800  # enough pixels for OCR


@pytest.mark.parametrize(
    ("fmt", "pil_format"), [("jpeg", "JPEG"), ("png", "PNG"), ("tiff", "TIFF")]
)
def test_photos_and_scans_are_images_of_their_type(
    corpus: Corpus, fmt: str, pil_format: str
) -> None:
    doc = make(corpus, "depose_patient", fmt, patient_author=True)
    image = Image.open(io.BytesIO(doc.content))
    assert image.format == pil_format
    assert image.width >= 800
    assert image.height >= 1000
    image.verify()
    assert fmt in IMAGE_FORMATS


def test_phone_photos_carry_the_metadata_the_server_must_strip(corpus: Corpus) -> None:
    doc = make(corpus, "depose_patient", "jpeg", patient_author=True)
    exif = Image.open(io.BytesIO(doc.content)).getexif()
    assert exif[0x010F]  # camera maker
    gps = exif.get_ifd(0x8825)
    assert gps[1] == "N"
    assert 43 <= gps[2][0] <= 50  # somewhere in France


# --- CDA ---------------------------------------------------------------------------------


def test_structured_cda_prescription_has_coded_medications(corpus: Corpus) -> None:
    doc = make(corpus, "prescription", "cda", type_code="57833-6")
    root = parse_xml(doc.content)
    assert root.tag == f"{HL7}ClinicalDocument"
    assert root.find("h:code", NS).get("code") == "57833-6"
    assert root.find("h:recordTarget/h:patientRole/h:id", NS).get("root") == "1.2.250.1.213.1.4.8"
    sections = root.findall(".//h:structuredBody/h:component/h:section", NS)
    assert [s.find("h:title", NS).text for s in sections] == ["Prescription"]
    meds = root.findall(".//h:substanceAdministration", NS)
    assert doc.report is not None
    lines = [e for e in doc.report.entries() if isinstance(e, MedicationLine)]
    assert len(meds) == len(lines) >= 1
    for med, line in zip(meds, lines, strict=True):
        code = med.find(".//h:manufacturedMaterial/h:code", NS)
        assert code.get("code") == line.medicine.atc
        assert code.get("codeSystem") == "2.16.840.1.113883.6.73"
        assert code.find("h:translation", NS).get("code") == line.medicine.cis
        # The entry's text points to its posology cell in the narrative, whose row names
        # the medicine; the form and quantity are coded beside it.
        ref = med.find("h:text/h:reference", NS).get("value").lstrip("#")
        cell = root.find(f".//h:td[@ID='{ref}']", NS)
        assert cell is not None
        assert cell.text == line.posology
        assert cell.getparent().find("h:td", NS).text == line.medicine.name
        form = med.find(".//{urn:ihe:pharm}formCode")
        assert form.get("displayName") == line.medicine.form
        assert med.find(".//h:supply/h:quantity", NS).get("value") == str(line.quantity)


def test_structured_cda_lab_results_have_loinc_codes_units_and_ranges(corpus: Corpus) -> None:
    doc = make(corpus, "compte_rendu", "cda", type_code="11502-2")
    root = parse_xml(doc.content)
    observations = root.findall(".//h:observation", NS)
    assert doc.report is not None
    results = [e for e in doc.report.entries() if isinstance(e, LabResult)]
    assert len(observations) == len(results) >= 2
    xsi = "{http://www.w3.org/2001/XMLSchema-instance}type"
    for obs, result in zip(observations, results, strict=True):
        assert obs.find("h:code", NS).get("code") == result.analyte.loinc
        assert obs.find("h:code", NS).get("codeSystem") == "2.16.840.1.113883.6.1"
        value = obs.find("h:value", NS)
        assert value.get(xsi) == "PQ"
        assert value.get("unit") == result.analyte.ucum
        assert float(value.get("value")) == pytest.approx(result.value)
        assert obs.find(".//h:referenceRange//h:low", NS) is not None
    # Narrative tables carry the same values for any CDA reader.
    assert root.findall(".//h:section/h:text/h:table", NS)


def test_structured_cda_synthesis_has_problems_allergies_treatments_vaccinations(
    corpus: Corpus,
) -> None:
    doc = make(corpus, "synthese", "cda", type_code="60591-5")
    root = parse_xml(doc.content)
    codes = [c.get("code") for c in root.findall(".//h:section/h:code", NS)]
    assert codes[:4] == ["11450-4", "48765-2", "10160-0", "11369-6"]
    problems = root.findall(".//h:observation/h:value[@codeSystem='2.16.840.1.113883.6.3']", NS)
    assert problems  # CIM-10 coded problems
    assert "hypertension" in etree.tostring(root, encoding="unicode") or problems


def test_reimbursements_are_written_by_an_organisation_not_a_person(corpus: Corpus) -> None:
    rng = random.Random("insurer")
    ctx = random_context(rng)
    insurer = Author("", "", "", "Organisme d'assurance maladie", "Assurance Maladie", None)
    ctx = Context(ctx.patient, insurer, ctx.when)
    doc = corpus.document(rng, "remboursement", ctx, type_code="96173-0", fmt="cda")
    root = parse_xml(doc.content)
    author = root.find("h:author/h:assignedAuthor", NS)
    assert author.find("h:assignedPerson", NS) is None
    assert author.find("h:representedOrganization/h:name", NS).text == "Assurance Maladie"
    assert root.findall(".//h:substanceAdministration", NS)  # reimbursed medicines, coded


def test_non_structured_cda_embeds_a_readable_pdf_or_text(corpus: Corpus) -> None:
    seen = set()
    for seed in range(40):
        doc = make(corpus, "compte_rendu", "cda_pdf", type_code="34133-9", seed=seed)
        root = parse_xml(doc.content)
        assert root.find(".//h:structuredBody", NS) is None
        body = root.find("h:component/h:nonXMLBody/h:text", NS)
        assert body.get("representation") == "B64"
        data = base64.b64decode(body.text)
        media = body.get("mediaType")
        seen.add(media)
        if media == "application/pdf":
            _, text = pdf_text(data)
        else:
            assert media == "text/plain"
            text = data.decode()
        assert doc.title.lower() in squash(text).lower()
    assert seen == {"application/pdf", "text/plain"}


# --- FHIR --------------------------------------------------------------------------------


def bundle_of(doc: GeneratedDocument) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    bundle = json.loads(doc.content)
    assert bundle["resourceType"] == "Bundle"
    assert bundle["type"] == "document"
    resources = {e["fullUrl"]: e["resource"] for e in bundle["entry"]}
    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["type"]["coding"][0]["code"] == doc.type_code
    patient = resources[composition["subject"]["reference"]]
    assert patient["resourceType"] == "Patient"
    assert patient["identifier"][0]["system"] == "urn:oid:1.2.250.1.213.1.4.8"
    author = resources[composition["author"][0]["reference"]]
    assert author["resourceType"] == "Practitioner"
    assert author["identifier"][0]["system"] == "urn:oid:1.2.250.1.71.4.2.1"
    for section in composition["section"]:
        div = etree.fromstring(section["text"]["div"].encode())  # well-formed XHTML
        assert div.tag == "{http://www.w3.org/1999/xhtml}div"
    return composition, resources


def section_resources(
    composition: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    return [resources[r["reference"]] for s in composition["section"] for r in s.get("entry", [])]


def test_fhir_prescription_is_a_document_of_medication_requests(corpus: Corpus) -> None:
    doc = make(corpus, "prescription", "fhir", type_code="57833-6")
    composition, resources = bundle_of(doc)
    requests = section_resources(composition, resources)
    assert requests
    for request in requests:
        assert request["resourceType"] == "MedicationRequest"
        coding = request["medicationCodeableConcept"]["coding"][0]
        assert coding["system"] == "https://data.esante.gouv.fr/ansm/medicament/codeCIS"
        assert request["medicationCodeableConcept"]["text"]
        assert request["dosageInstruction"][0]["text"]
        assert request["dispenseRequest"]["quantity"]["value"] >= 1


def test_fhir_dispensation_lists_medication_dispenses(corpus: Corpus) -> None:
    doc = make(corpus, "dispensation", "fhir", type_code="60593-1")
    composition, resources = bundle_of(doc)
    dispenses = section_resources(composition, resources)
    assert dispenses
    assert {d["resourceType"] for d in dispenses} == {"MedicationDispense"}
    assert all(d["quantity"]["unit"] and d["dosageInstruction"][0]["text"] for d in dispenses)
    div = composition["section"][0]["text"]["div"]
    assert dispenses[0]["medicationCodeableConcept"]["text"] in div.replace("&amp;", "&")


def test_fhir_vaccination_uses_the_kiosks_type_and_immunization(corpus: Corpus) -> None:
    doc = make(corpus, "traitement_administre", "fhir", type_code="87273-9")
    assert doc.type_code == "11369-6"  # docs/documents.md: what the kiosk deposits
    composition, resources = bundle_of(doc)
    [immunization] = section_resources(composition, resources)
    assert immunization["resourceType"] == "Immunization"
    assert immunization["lotNumber"]
    assert immunization["vaccineCode"]["coding"][0]["code"].startswith("J07")
    assert doc.report is not None
    [item] = [e for e in doc.report.entries() if isinstance(e, VaccinationItem)]
    assert immunization["occurrenceDateTime"] == item.on.isoformat()


def test_fhir_lab_report_has_observations_with_units(corpus: Corpus) -> None:
    doc = make(corpus, "compte_rendu", "fhir", type_code="11502-2")
    composition, resources = bundle_of(doc)
    observations = section_resources(composition, resources)
    assert observations
    for obs in observations:
        assert obs["resourceType"] == "Observation"
        assert obs["code"]["coding"][0]["system"] == "http://loinc.org"
        assert obs["valueQuantity"]["system"] == "http://unitsofmeasure.org"
        assert obs["valueQuantity"]["code"]


# --- plain text, French ------------------------------------------------------------------


def test_plain_text_is_french_utf8(corpus: Corpus) -> None:
    doc = make(corpus, "synthese", "cda", type_code="60591-5")
    assert doc.report is not None
    text = plain_text(doc.report)
    assert any(ch in text for ch in "éèàçô")
    doc = make(corpus, "plan_soins", "text", type_code="18776-5")
    body = doc.content.decode("utf-8")
    assert doc.title.upper() in body
    assert "Patient" in body


def test_the_vocabulary_speaks_french_with_accents() -> None:
    corpus = Corpus(seed=3)
    syntheses = " ".join(
        make(corpus, "synthese", "text", type_code="60591-5", seed=s).content.decode()
        for s in range(60)
    ).lower()
    for expected in ("hypertension artérielle", "allergie à la pénicilline", "hépatite b"):
        assert expected in syntheses, expected
    labs = make(corpus, "compte_rendu", "text", type_code="11502-2").content.decode()
    assert "µmol/L" in labs or "mmol/L" in labs


def test_children_are_not_given_diseases_of_old_age(corpus: Corpus) -> None:
    for seed in range(30):
        rng = random.Random(f"child:{seed}")
        adult = random_context(rng)
        born = adult.when.date().replace(year=adult.when.year - 7)
        child = Context(
            dataclasses.replace(adult.patient, birth_date=born), adult.author, adult.when
        )
        doc = corpus.document(rng, "synthese", child, type_code="60591-5", fmt="text")
        text = doc.content.decode().lower()
        for disease in ("alzheimer", "parkinson", "ostéoporose", "prostate"):
            assert disease not in text


@pytest.mark.parametrize("category", sorted(CATALOGUE))
def test_documents_dated_before_the_birth_of_the_patient_still_make_sense(
    corpus: Corpus, category: str
) -> None:
    """The population dates some of a newborn's documents before birth (pregnancy)."""
    rng = random.Random(f"unborn:{category}")
    ctx = random_context(rng, patient_author=category == "depose_patient")
    unborn = dataclasses.replace(ctx.patient, birth_date=ctx.when.date() + timedelta(days=90))
    for kind in CATALOGUE[category]:
        for fmt, _ in kind.formats:
            doc = corpus.document(
                rng, category, Context(unborn, ctx.author, ctx.when), type_code=kind.codes[0],
                fmt=fmt,
            )  # fmt: skip
            assert b"-1 ans" not in doc.content


# --- determinism -------------------------------------------------------------------------


def _series(corpus: Corpus, seed: int, order: range | list[int]) -> dict[int, bytes]:
    categories = ["compte_rendu", "prescription", "dispensation", "depose_patient", "synthese"]
    out = {}
    for i in order:
        rng = random.Random(f"{seed}:doc:{i}")
        category = categories[i % len(categories)]
        ctx = random_context(rng, patient_author=category == "depose_patient")
        out[i] = corpus.document(rng, category, ctx).content
    return out


def test_same_seed_same_bytes_whatever_the_order_of_generation() -> None:
    first = _series(Corpus(seed=5), 5, range(120))
    # A fresh corpus (its scan pool empty) generating the same documents backwards: the
    # bytes are those of the document's stream, not of what was rendered before.
    second = _series(Corpus(seed=5), 5, list(reversed(range(120))))
    assert first == second
    other = _series(Corpus(seed=6), 6, range(120))
    assert sum(first[i] != other[i] for i in range(120)) > 100


def test_measure_reports_speed_and_every_format(capsys: pytest.CaptureFixture[str]) -> None:
    report = measure(800, seed=1)
    with capsys.disabled():
        print(
            f"\ncorpus: {report['documents_per_second']} documents/s over {report['documents']}"
            f" (scan pool rendered in {report['scan_pool_seconds']} s), mean "
            f"{report['mean_bytes']} bytes; formats {json.dumps(report['formats'])}"
        )
    formats = report["formats"]
    assert isinstance(formats, dict)
    assert set(formats) >= set(MIME) - {"tiff"}  # tiff is rare (faxes)
    speed = report["documents_per_second"]
    assert isinstance(speed, float)
    assert speed > 50  # 2 shared cores; about 1,000 when quiet
