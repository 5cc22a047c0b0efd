"""The server reads every document of the benchmark corpus as the corpus meant it.

The population's documents are only useful to the benches if the server's own reader
(`server/content`, issue #11) accepts them and finds what they hold: text for text
formats, OCR for scans and photographs, coded entries for structured CDA and FHIR.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from bench.corpus import CATALOGUE, IMAGE_FORMATS, Corpus, random_context
from server.content import limits as limits_module
from server.content import understand as understand_module

# (category, type) -> the entry kinds its structured forms must give.
STRUCTURED = {
    ("prescription", "57833-6"): {"medication"},
    ("dispensation", "60593-1"): {"medication"},
    ("traitement_administre", "87273-9"): {"vaccination"},
    ("compte_rendu", "11502-2"): {"lab_result"},
    ("synthese", "60591-5"): {"problem", "medication", "vaccination"},
}


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(seed=11)


def read(doc: Any) -> Any:
    return understand_module.understand(doc.content, doc.mime_type, limits_module.Limits())


def every_kind_and_format() -> list[tuple[str, str, str]]:
    return [
        (category, kind.codes[0], fmt)
        for category, kinds in CATALOGUE.items()
        for kind in kinds
        for fmt, _ in kind.formats
    ]


@pytest.mark.parametrize(("category", "type_code", "fmt"), every_kind_and_format())
def test_the_server_accepts_and_reads_each_kind_in_each_format(
    corpus: Corpus, category: str, type_code: str, fmt: str
) -> None:
    rng = random.Random(f"{category}:{type_code}:{fmt}")
    ctx = random_context(rng, patient_author=category == "depose_patient")
    doc = corpus.document(rng, category, ctx, type_code=type_code, fmt=fmt)
    reading = read(doc)
    if fmt in IMAGE_FORMATS:
        assert reading.ocr
        assert reading.text_status == "pending"
        return
    assert reading.text_status == "ready"
    assert doc.title.lower() in " ".join(reading.text.split()).lower()
    expected = STRUCTURED.get((category, type_code))
    if fmt in ("cda", "fhir") and expected:
        assert expected <= {entry["kind"] for entry in reading.entries}
    if category == "depose_patient":
        assert understand_module.patient_may_deposit(doc.mime_type)
