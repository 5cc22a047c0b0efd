"""A seeded generator of realistic French clinical documents for the benchmark population.

    python -m bench.corpus [--count 2000] [--seed 1] [--out DIR] [--json]

Each document is drawn from the caller's random stream: the same stream gives the same
bytes. For a category (and optionally the LOINC type the population already chose) the
corpus picks a kind of document (consultation, hospital stay, operation, imaging, lab
results, synthesis, ordonnance, dispensation, vaccination...), writes its French content
from the vocabulary of `bench/data/` (`corpus_text`), then renders it in one of the
formats the field uses for that kind, in realistic proportions (`CATALOGUE`):

- `pdf`: a report with a text layer, one to ten pages (`corpus_pdf`'s direct writer);
- `pdf_reportlab`: a one-page ordonnance or certificate laid out by reportlab;
- `pdf_scan`: a scanner's PDF, JPEG pages only, no text layer;
- `jpeg`, `png`, `tiff`: a phone photograph, a black and white scan, a fax;
- `cda`: CDA R2 with a structured body (narrative tables and coded entries);
- `cda_pdf`: CDA R2 with a non-structured body (base64 PDF, sometimes plain text);
- `fhir`: a FHIR R4 document Bundle (Composition first);
- `text`: plain text.

Images and scanned PDFs reuse a pool of pre-rendered pages (`corpus_images.ScanPool`),
rendered once per process: rendering is the only slow part.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TypeVar

from bench import corpus_cda, corpus_fhir
from bench.corpus_images import ScanPool
from bench.corpus_pdf import image_pdf, layout, paginate, report_pdf, reportlab_pdf
from bench.corpus_text import (
    EXTRA_NOTES,
    SECTION_CODES,
    Author,
    Context,
    Person,
    Report,
    Section,
    as_letter,
    build,
    evolution_paragraph,
    pick,
    place,
    plain_text,
)
from bench.corpus_vocab import vocabulary

MIME = {
    "pdf": "application/pdf",
    "pdf_reportlab": "application/pdf",
    "pdf_scan": "application/pdf",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tiff": "image/tiff",
    "cda": "text/xml",
    "cda_pdf": "text/xml",
    "fhir": "application/fhir+json",
    "text": "text/plain",
}
# Formats whose bytes hold no text: the server reads them by OCR.
IMAGE_FORMATS = frozenset({"pdf_scan", "jpeg", "png", "tiff"})

T = TypeVar("T")
Weighted = tuple[tuple[str, int], ...]
ONE_PAGE: tuple[tuple[int, int], ...] = ((1, 1),)


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of document: its LOINC codes, titles, formats and lengths in the field."""

    kind: str  # a builder of corpus_text.BUILDERS
    codes: tuple[str, ...]  # LOINC document types it answers to (the first is its own)
    titles: tuple[str, ...]
    formats: Weighted
    pages: tuple[tuple[int, int], ...] = ONE_PAGE
    weight: int = 1


# category -> kinds. Codes follow population.CATEGORY_SPECS, so a type the population has
# drawn finds its kind. Format weights: hospital reports travel as PDFs or CDA with an
# embedded PDF, labs send structured CDA, pharmacies and the kiosk FHIR documents,
# patients photographs and scans. reportlab (about 3 ms a page here, against under 1 ms for
# the direct writer) stays a minority producer, for speed.
CATALOGUE: dict[str, tuple[Kind, ...]] = {
    "compte_rendu": (
        Kind("consultation", ("11488-4",),
             ("Compte rendu de consultation de {service}", "Courrier au médecin traitant",
              "Compte rendu de consultation"),
             (("pdf", 50), ("pdf_reportlab", 5), ("cda_pdf", 20), ("cda", 8), ("pdf_scan", 7),
              ("text", 10)),
             ((1, 75), (2, 25)), 5),
        Kind("hospitalisation", ("34133-9",),
             ("Compte rendu d'hospitalisation en {service}", "Lettre de liaison à la sortie"),
             (("pdf", 55), ("cda_pdf", 30), ("cda", 8), ("pdf_scan", 5), ("text", 2)),
             ((2, 30), (3, 30), (4, 20), (6, 12), (10, 8)), 3),
        Kind("lab", ("11502-2",), ("Compte rendu de biologie médicale", "Résultats d'analyses"),
             (("cda", 60), ("pdf", 25), ("fhir", 5), ("pdf_scan", 5), ("cda_pdf", 5)),
             ((1, 60), (2, 30), (3, 10)), 4),
        Kind("operative", ("28570-0",), ("Compte rendu opératoire",),
             (("pdf", 60), ("cda_pdf", 30), ("pdf_scan", 7), ("text", 3)),
             ((1, 50), (2, 40), (3, 10)), 1),
    ),
    "synthese": (
        Kind("synthesis", ("60591-5", "34117-2"),
             ("Volet de synthèse médicale", "Synthèse médicale"),
             (("cda", 55), ("pdf", 30), ("cda_pdf", 10), ("pdf_scan", 5)),
             ((2, 50), (3, 30), (4, 20))),
    ),
    "imagerie": (
        Kind("imaging", ("18748-4", "24627-2"), ("Compte rendu d'imagerie",),
             (("pdf", 60), ("cda_pdf", 30), ("pdf_scan", 6), ("text", 4)),
             ((1, 80), (2, 20))),
    ),
    "prescription": (
        Kind("prescription", ("57833-6",), ("Ordonnance", "Ordonnance de médicaments"),
             (("fhir", 35), ("pdf", 28), ("pdf_reportlab", 12), ("cda", 10), ("pdf_scan", 8),
              ("jpeg", 2), ("text", 5)), weight=3),
        Kind("lab_prescription", ("57832-8",), ("Prescription d'examens de biologie",),
             (("pdf", 50), ("pdf_reportlab", 20), ("cda_pdf", 15), ("pdf_scan", 10), ("text", 5))),
    ),
    "dispensation": (
        Kind("dispensation", ("60593-1",), ("Délivrance de médicaments",),
             (("fhir", 70), ("cda", 20), ("pdf", 10))),
    ),
    "plan_soins": (
        Kind("care_plan", ("18776-5", "77603-9"), ("Plan de soins", "Protocole de soins"),
             (("pdf", 65), ("text", 20), ("cda_pdf", 10), ("pdf_scan", 5))),
    ),
    "traitement_administre": (
        # docs/documents.md: the kiosk deposits vaccinations as FHIR with type 11369-6.
        Kind("vaccination", ("87273-9", "11369-6"), ("Vaccination",),
             (("fhir", 55), ("cda", 25), ("pdf", 15), ("pdf_scan", 5))),
        Kind("administered", ("29549-3",), ("Traitement administré",),
             (("cda", 45), ("pdf", 45), ("text", 10))),
    ),
    "certificat": (
        Kind("certificate", ("11369-6",), ("Certificat médical",),
             (("pdf", 50), ("pdf_reportlab", 20), ("pdf_scan", 15), ("text", 15))),
        Kind("certificate", ("67851-6",), ("Déclaration",),
             (("pdf", 70), ("pdf_scan", 20), ("text", 10))),
    ),
    "remboursement": (
        Kind("reimbursement", ("96173-0",), ("Données de remboursement",),
             (("cda", 60), ("pdf", 40))),
    ),
    "depose_patient": (
        Kind("vaccination", ("51855-5",), ("Carnet de vaccination", "Photo du carnet de santé"),
             (("jpeg", 50), ("png", 15), ("pdf_scan", 25), ("tiff", 5), ("pdf", 5))),
        Kind("personal", ("34108-1",), ("Document personnel", "Ancien compte rendu (scan)"),
             (("jpeg", 40), ("pdf", 25), ("pdf_scan", 20), ("png", 10), ("tiff", 2), ("text", 3))),
    ),
    "gestion": (
        Kind("admission", ("52033-8",), ("Fiche d'admission",),
             (("pdf", 60), ("text", 30), ("pdf_scan", 10))),
    ),
}  # fmt: skip
FHIR_VACCINATION_CODE = "11369-6"


@dataclass(frozen=True, slots=True)
class GeneratedDocument:
    mime_type: str
    content: bytes
    category: str
    type_code: str  # LOINC
    title: str
    fmt: str  # a key of MIME
    pages: int
    # What the document says, for tests and indexing (None for the pooled scans: their
    # text is that of the pool page, not of this report).
    report: Report | None = field(default=None, compare=False, repr=False)

    @property
    def has_text_layer(self) -> bool:
        return self.fmt not in IMAGE_FORMATS


def _weighted(rng: random.Random, items: Sequence[tuple[T, int]]) -> T:
    """One value, drawn with its weight (one random number: cheaper than rng.choices)."""
    total = sum(w for _, w in items)
    roll = rng.random() * total
    for value, weight in items:
        roll -= weight
        if roll < 0:
            return value
    return items[-1][0]


def find_kind(category: str, type_code: str | None, rng: random.Random) -> Kind:
    kinds = CATALOGUE[category]
    if type_code is not None:
        for kind in kinds:
            if type_code in kind.codes:
                return kind
        return kinds[0]
    return _weighted(rng, [(k, k.weight) for k in kinds])


class Corpus:
    """Draws documents; holds the scan pool, so keep one per process."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.pool = ScanPool(seed)
        vocabulary()  # load the data once, before timing anything

    def document(
        self,
        rng: random.Random,
        category: str,
        ctx: Context,
        *,
        type_code: str | None = None,
        fmt: str | None = None,
        pages: int | None = None,
    ) -> GeneratedDocument:
        """A document of this category; of this LOINC type, format and (for a PDF, alone
        or in a CDA) number of pages when given (the deposit bench's 10-page PDF): at
        least what the kind's own content takes (a hospital stay does not fit one page)."""
        kind = find_kind(category, type_code, rng)
        fmt = fmt or _weighted(rng, kind.formats)
        code = type_code or kind.codes[0]
        if kind.kind == "vaccination" and fmt == "fhir":
            code = FHIR_VACCINATION_CODE
        drawn = _weighted(rng, kind.pages)
        voc = vocabulary()
        title = pick(rng, kind.titles).format(service=pick(rng, voc.services))
        if fmt in IMAGE_FORMATS:
            return self._image(rng, fmt, category, code, title, ctx.when)
        # Only PDFs (alone or inside a CDA) grow to several pages; structured documents
        # keep the kind's own sections.
        long = fmt in ("pdf", "cda_pdf")
        report = build(rng, kind.kind, category, code, title, ctx, (pages or drawn) if long else 1)
        if kind.kind == "imaging":
            report.title = report.sections[0].paragraphs[0].rstrip(".")
        if title.startswith(("Courrier", "Lettre")):
            as_letter(rng, report)
        # A non-structured CDA embeds plain text rather than a PDF now and then (never
        # when a number of pages is asked for).
        embed_text = fmt == "cda_pdf" and rng.random() < 0.15 and pages is None
        content, made = self._render(fmt, report, rng, embed_text)
        if pages is not None and long:
            content, made = self._fit(rng, fmt, report, pages, content, made)
        return GeneratedDocument(
            MIME[fmt], content, category, code, report.title, fmt, made, report
        )

    def _fit(
        self, rng: random.Random, fmt: str, report: Report, pages: int, content: bytes, made: int
    ) -> tuple[bytes, int]:
        """Adds or removes follow-up notes until the PDF has exactly `pages` pages (the
        line estimate of `build` is close, not exact). Counts pages by layout alone and
        renders once at the end."""
        if made == pages:
            return content, made
        extra = report.sections[-1]
        if extra.title != EXTRA_NOTES:
            if made > pages:
                return content, made  # the kind's own content needs more pages
            extra = Section(EXTRA_NOTES, SECTION_CODES["evolution"])
            report.sections.append(extra)
        day = len(extra.paragraphs) + 1
        count = made
        for _ in range(400):
            if count < pages:
                # About 18 notes fill a page: close the gap quickly, then one by one.
                for _ in range(max(1, (pages - count - 1) * 18)):
                    extra.paragraphs.append(evolution_paragraph(rng, vocabulary(), day))
                    day += 1
            elif count > pages and extra.paragraphs:
                extra.paragraphs.pop()
            else:
                break
            count = len(paginate(layout(report)))
        return self._render(fmt, report, rng)

    def _render(
        self, fmt: str, report: Report, rng: random.Random, embed_text: bool = False
    ) -> tuple[bytes, int]:
        if fmt == "pdf":
            return report_pdf(report)
        if fmt == "pdf_reportlab":
            return reportlab_pdf(report)
        if fmt == "cda":
            return corpus_cda.structured(rng, report), 1
        if fmt == "cda_pdf":
            if embed_text:
                return corpus_cda.non_structured(
                    rng, report, plain_text(report).encode(), "text/plain"
                ), 1
            pdf, pages = report_pdf(report)
            return corpus_cda.non_structured(rng, report, pdf, "application/pdf"), pages
        if fmt == "fhir":
            return corpus_fhir.bundle(rng, report), 1
        return plain_text(report).encode(), 1

    def _image(
        self, rng: random.Random, fmt: str, category: str, code: str, title: str, when: datetime
    ) -> GeneratedDocument:
        slot = rng.randrange(self.pool.size)
        if fmt == "pdf_scan":
            pages = rng.choice((1, 1, 1, 2, 2, 3))
            scans = [self.pool.scan(slot + i) for i in range(pages)]
            content = image_pdf(scans, title, when)
        else:
            pages = 1
            content = {"jpeg": self.pool.photo, "png": self.pool.png, "tiff": self.pool.tiff}[fmt](
                slot
            )
        return GeneratedDocument(MIME[fmt], content, category, code, title, fmt, pages)


# --- standalone use: random people, a measured run ---------------------------------------


def random_context(rng: random.Random, *, patient_author: bool = False) -> Context:
    """A made-up patient, author and date, for tests and the standalone run."""
    voc = vocabulary()
    sex = "F" if rng.random() < 0.5 else "M"
    born = date(1940, 1, 1) + timedelta(days=rng.randint(0, 80 * 365))
    patient = Person(
        pick(rng, voc.first_f if sex == "F" else voc.first_m),
        pick(rng, voc.surnames),
        sex,
        born,
        f"{1 if sex == 'M' else 2}{born.year % 100:02d}{born.month:02d}75"
        f"{rng.randint(100000, 999999)}{rng.randint(1, 97):02d}",
    )
    city = pick(rng, voc.cities)
    author = Author(
        pick(rng, voc.first_f + voc.first_m),
        pick(rng, voc.surnames),
        "810" + f"{rng.randint(0, 10**9 - 1):09d}",
        rng.choice(
            ("Médecin généraliste", "Cardiologue", "Pneumologue", "Chirurgien", "Pharmacien")
        ),
        place(pick(rng, voc.establishments), city),
        f"75{rng.randint(0, 9999999):07d}",
    )
    when = datetime(2020, 1, 1, tzinfo=UTC) + timedelta(seconds=rng.randint(0, 6 * 365 * 86400))
    return Context(patient, None if patient_author else author, when)


CATEGORY_WEIGHTS = (
    ("compte_rendu", 20),
    ("synthese", 5),
    ("imagerie", 8),
    ("prescription", 20),
    ("dispensation", 15),
    ("plan_soins", 4),
    ("traitement_administre", 6),
    ("certificat", 4),
    ("remboursement", 12),
    ("depose_patient", 3),
    ("gestion", 3),
)  # fmt: skip  (population.CATEGORY_SPECS' weights)


def measure(count: int, seed: int, out: Path | None = None) -> dict[str, object]:
    """Generates `count` documents of the population's category mix; speed and mix.

    The scan pool is rendered first and timed apart: a population pays it once per
    process, the documents/second are the steady state.
    """
    corpus = Corpus(seed)
    started = time.perf_counter()
    corpus.pool.warm()
    pool_seconds = time.perf_counter() - started
    rng = random.Random(f"{seed}:measure")
    formats: dict[str, list[float]] = {}  # fmt -> [count, seconds, bytes]
    size = 0
    started = time.perf_counter()
    for i in range(count):
        category = _weighted(rng, CATEGORY_WEIGHTS)
        ctx = random_context(rng, patient_author=category == "depose_patient")
        t0 = time.perf_counter()
        doc = corpus.document(rng, category, ctx)
        stats = formats.setdefault(doc.fmt, [0, 0.0, 0])
        stats[0] += 1
        stats[1] += time.perf_counter() - t0
        stats[2] += len(doc.content)
        size += len(doc.content)
        if out is not None:
            ext = {"application/pdf": "pdf", "text/xml": "xml", "application/fhir+json": "json",
                   "text/plain": "txt", "image/jpeg": "jpg", "image/png": "png",
                   "image/tiff": "tif"}[doc.mime_type]  # fmt: skip
            (out / f"{i:05d}-{doc.fmt}.{ext}").write_bytes(doc.content)
    seconds = time.perf_counter() - started
    return {
        "documents": count,
        "seconds": round(seconds, 2),
        "documents_per_second": round(count / seconds, 1),
        "mean_bytes": round(size / count),
        "scan_pool_seconds": round(pool_seconds, 2),
        "formats": {
            fmt: {
                "share": round(n / count, 3),
                "ms": round(t / n * 1000, 2),
                "mean_bytes": round(b / n),
            }
            for fmt, (n, t, b) in sorted(formats.items())
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, help="write every document into this directory")
    args = parser.parse_args(argv)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    print(json.dumps(measure(args.count, args.seed, args.out), ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
