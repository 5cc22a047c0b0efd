"""The population's shortcut for the corpus's own PDFs gives the reader's text exactly.

`bench.population_text.layer_text` replaces the server's PDF reader for the generated
`pdf` documents (20 times faster); wherever it answers, it must answer what
`server.content.understand` reads, over every category, with one to ten pages. Every
other format is always read by the reader itself.
"""

from __future__ import annotations

import random

import pytest

from bench.corpus import MIME, Corpus, random_context
from bench.population import CATEGORY_SPECS
from bench.population_text import layer_text
from server.content.limits import Limits
from server.content.understand import understand


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return Corpus(seed=7)


@pytest.mark.parametrize("category", sorted(CATEGORY_SPECS))
def test_the_known_text_layer_is_the_readers_text(corpus: Corpus, category: str) -> None:
    known = 0
    for i in range(25):
        rng = random.Random(f"{category}:{i}")
        code = rng.choice(CATEGORY_SPECS[category][1])[0]
        ctx = random_context(rng, patient_author=category == "depose_patient")
        pages = rng.choice([None, None, 2, 10])
        doc = corpus.document(rng, category, ctx, type_code=code, fmt="pdf", pages=pages)
        text = layer_text(doc, Limits())
        if text is None:
            continue
        known += 1
        reading = understand(doc.content, doc.mime_type, Limits())
        assert (reading.text, reading.source) == (text, "layer"), (category, i)
    assert known >= 5, category  # remboursement tables often glue cells: the reader reads those


def test_a_text_cut_at_the_limit_is_cut_like_the_readers(corpus: Corpus) -> None:
    rng = random.Random(3)
    doc = corpus.document(rng, "compte_rendu", random_context(rng), fmt="pdf", pages=10)
    limits = Limits(max_text_chars=5000)
    text = layer_text(doc, limits)
    assert text is not None
    assert len(text) == 5000
    assert understand(doc.content, doc.mime_type, limits).text == text


@pytest.mark.parametrize("fmt", sorted(set(MIME) - {"pdf"}))
def test_every_other_format_is_left_to_the_reader(corpus: Corpus, fmt: str) -> None:
    rng = random.Random(fmt)
    doc = corpus.document(rng, "compte_rendu", random_context(rng), fmt=fmt)
    assert layer_text(doc, Limits()) is None
