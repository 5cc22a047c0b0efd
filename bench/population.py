"""A realistic, seeded population for the records server benchmarks.

    python -m bench.population --db URL [--dossiers 100000] [--docs-per-dossier 20] [--seed 1]
        [--contents realistic|minimal] [--large-share 0.01] [--large-docs 500] [--workers 1]
        [--no-index]

Professionals of every profession of the access matrix, patients with valid INS, one
dossier each (médecin traitant, care team, consents, blocks, representatives of minors),
about 20 documents per dossier across the 11 categories with realistic metadata (and
--large-share of dossiers with --large-docs or more), their metadata versions, AES-GCM
contents under the dossier's wrapped key (the real Keyring, so that the server decrypts
them): realistic documents from bench.corpus (PDF, scans and photos, CDA, FHIR, text) or
small placeholders with --contents minimal; for realistic ones (unless --no-index) what
their deposit would have stored beside them, their sealed text (or the pending row of a
scan), structure and search postings (bench/population_index.py); and a few trace
entries per dossier chained with the real hash function (so that `dmp audit verify`
passes) with their head rows.

Speed: rows are produced by chunks of dossiers and loaded with COPY on PostgreSQL (Core
executemany on SQLite), one transaction per chunk. Every id is derived from the dossier
number and every chunk has its own random stream, so a chunk is the same whenever it is
generated: an interrupted run continues with --resume where the last committed chunk
ended. Progress (rows/s, ETA) goes to stderr.
"""

from __future__ import annotations

import argparse
import base64
import itertools
import json
import math
import multiprocessing
import os
import random
import sys
import time
import uuid
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, func, select, text
from sqlalchemy.engine import make_url

from bench import population_index
from bench.corpus import Corpus
from bench.corpus_text import Author, Context, Person, place
from bench.corpus_vocab import vocabulary
from cardreader.identity import ins_key, luhn_valid
from server.content.limits import Limits
from server.crypto import Keyring, load_master_key
from server.identifiers import INS_OIDS, InsKind, parse_ins
from server.migrate import upgrade
from server.models import Base, Patient, Professional
from server.policy import Matrix, default_matrix_path, load_matrix
from server.search import tokens as search_tokens
from server.services import audit

# Outside the repository on purpose: var/ is wiped by demos and tests, and a population
# whose master key is lost is unreadable (every dossier key is wrapped by it).
DEFAULT_KEY_FILE = str(
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dmp-bench" / "master.key"
)
CHUNK = 1000  # dossiers per transaction: about 20k documents, a few MB of COPY

# How many professionals of each profession; every profession of the matrix appears
# (checked at start), admissions desks and occupational medicine included.
PROFESSION_COUNTS: dict[str, int] = {
    "medecin_generaliste": 150,
    "medecin_specialiste": 60,
    "urgentiste": 12,
    "regulateur_samu": 6,
    "pharmacien": 40,
    "infirmier": 60,
    "sage_femme": 10,
    "chirurgien_dentiste": 15,
    "masseur_kinesitherapeute": 15,
    "biologiste": 10,
    "admissions": 20,
    "medecin_travail": 4,
}
INSURER_NAME = "Assurance Maladie (injection des remboursements)"
THIRD_PARTY_NAME = "Mutuelle Exemple"

# category: (weight, [(LOINC, title)], writer professions)
CATEGORY_SPECS: dict[str, tuple[int, list[tuple[str, str]]]] = {
    "compte_rendu": (
        20,
        [
            ("11488-4", "Compte rendu de consultation"),
            ("34133-9", "Compte rendu d'hospitalisation"),
            ("11502-2", "Compte rendu de biologie"),
            ("28570-0", "Compte rendu opératoire"),
        ],
    ),
    "synthese": (5, [("60591-5", "Synthèse médicale"), ("34117-2", "Volet de synthèse")]),
    "imagerie": (
        8,
        [("18748-4", "Compte rendu d'imagerie"), ("24627-2", "Radiographie thoracique")],
    ),
    "prescription": (
        20,
        [("57833-6", "Ordonnance"), ("57832-8", "Prescription d'examens de biologie")],
    ),
    "dispensation": (15, [("60593-1", "Délivrance de médicaments")]),
    "plan_soins": (4, [("18776-5", "Plan de soins"), ("77603-9", "Protocole de soins")]),
    "traitement_administre": (
        6,
        [("87273-9", "Vaccination"), ("29549-3", "Traitement administré")],
    ),
    "certificat": (4, [("11369-6", "Certificat médical"), ("67851-6", "Déclaration")]),
    "remboursement": (12, [("96173-0", "Données de remboursement")]),
    "depose_patient": (
        3,
        [("51855-5", "Carnet de vaccination"), ("34108-1", "Document personnel")],
    ),
    "gestion": (3, [("52033-8", "Fiche d'admission")]),
}
MIME_TYPES = (("application/pdf", 60), ("text/xml", 30), ("text/plain", 10))

# French names, shared with the document corpus (bench/data/names.json).
_NAMES = json.loads((Path(__file__).resolve().parent / "data" / "names.json").read_text("utf-8"))
SURNAMES: list[str] = _NAMES["surnames"]
FIRST_F: list[str] = _NAMES["first_f"]
FIRST_M: list[str] = _NAMES["first_m"]
DEPARTMENTS = [f"{d:02d}" for d in range(1, 96) if d != 20] + ["2A", "2B"]
LOREM = (
    "Patient vu ce jour en consultation de suivi. Examen clinique sans particularité. "
    "Tension artérielle 12/8, fréquence cardiaque 72/min, auscultation normale. "
    "Poursuite du traitement en cours, réévaluation dans trois mois. Bilan biologique "
    "prescrit : NFS, ionogramme, créatininémie, HbA1c. Pas d'allergie connue signalée. "
    "Conseils hygiéno-diététiques rappelés. Le patient est informé et d'accord. "
) * 6


# --- identifiers ------------------------------------------------------------------------


def _luhn_complete(payload: str) -> str:
    for digit in "0123456789":
        if luhn_valid(payload + digit):
            return payload + digit
    raise AssertionError("a Luhn check digit always exists")


def national_id(index: int) -> str:
    """ "8" + an RPPS (11 digits, Luhn key) derived from the professional's index."""
    return "8" + _luhn_complete(f"10{index:08d}")


def finess(index: int, dept: str) -> str:
    if dept in ("2A", "2B"):
        # Corsican FINESS numbers have no published key (cardreader.identity checks
        # their format only); Luhn cannot take the letters.
        return f"{dept}0{index:05d}0"
    return _luhn_complete(f"{dept}0{index:05d}")


def make_ins(number: int, sex: str, born: date, dept: str) -> tuple[str, str]:
    """A valid NIR-form INS and the matching INSEE birthplace.

    The commune and order fields are derived from the patient number, so matricules are
    unique up to 998,001 patients whatever the other (random) traits are.
    """
    commune = 1 + (number // 999) % 999
    order = 1 + number % 999
    first13 = f"{1 if sex == 'M' else 2}{born.year % 100:02d}{born.month:02d}{dept}"
    first13 += f"{commune:03d}{order:03d}"
    return f"{first13}{ins_key(first13):02d}", f"{dept}{commune:03d}"


def seeded_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


# --- the fixed part: professionals, structures, service accounts -----------------------


@dataclass(frozen=True, slots=True)
class Pro:
    id: int
    national_id: str
    first_name: str
    last_name: str
    profession: str
    structure: str | None

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}"


@dataclass
class Fixed:
    pros: list[Pro]
    by_profession: dict[str, list[Pro]]
    writers: dict[str, list[Pro]]  # category -> professionals who may deposit it
    hospitals: list[str]
    matrix: Matrix  # the profession labels the index reads an author by
    authors: dict[int, Author] = field(default_factory=dict)  # letterheads, built when needed
    insurer_id: int = 1
    third_party_id: int = 2

    @property
    def bench_pharmacist(self) -> Pro:
        return self.by_profession["pharmacien"][0]


def fixed_part(seed: int) -> Fixed:
    matrix = load_matrix(default_matrix_path())
    missing = set(matrix.professions) ^ set(PROFESSION_COUNTS)
    if missing:
        raise SystemExit(f"PROFESSION_COUNTS and the access matrix differ on {sorted(missing)}")
    rng = random.Random(f"{seed}:fixed")
    hospitals = [finess(i, rng.choice(DEPARTMENTS[:95])) for i in range(1, 13)]
    cabinets = [finess(100 + i, rng.choice(DEPARTMENTS[:95])) for i in range(1, 61)]
    pharmacies = [finess(300 + i, rng.choice(DEPARTMENTS[:95])) for i in range(1, 41)]
    samu = [finess(500 + i, rng.choice(DEPARTMENTS[:95])) for i in range(1, 4)]
    structure_of: dict[str, list[str] | None] = {
        "medecin_generaliste": cabinets,
        "medecin_specialiste": hospitals,
        "urgentiste": hospitals,
        "regulateur_samu": samu,
        "pharmacien": pharmacies,
        "infirmier": cabinets + hospitals,
        "sage_femme": hospitals,
        "chirurgien_dentiste": cabinets,
        "masseur_kinesitherapeute": cabinets,
        "biologiste": hospitals,
        "admissions": hospitals,
        "medecin_travail": None,
    }
    pros: list[Pro] = []
    by_profession: dict[str, list[Pro]] = {}
    for profession, count in PROFESSION_COUNTS.items():
        for _ in range(count):
            index = len(pros) + 1
            places = structure_of[profession]
            first = rng.choice(FIRST_F if rng.random() < 0.5 else FIRST_M)
            pro = Pro(
                id=index,
                national_id=national_id(index),
                first_name=first,
                last_name=rng.choice(SURNAMES).replace("_", " ").title(),
                profession=profession,
                structure=rng.choice(places) if places else None,
            )
            pros.append(pro)
            by_profession.setdefault(profession, []).append(pro)
    writers = {
        category: [p for p in pros if category in {c.value for c in _writes(matrix, p)}]
        for category in CATEGORY_SPECS
    }
    return Fixed(pros, by_profession, writers, hospitals, matrix)


def _writes(matrix: Any, pro: Pro) -> Iterable[Any]:
    rules = matrix.rules_for(pro.profession)
    return rules.write if rules is not None and rules.eligible else ()


def fixed_rows(fixed: Fixed) -> dict[str, list[dict[str, Any]]]:
    return {
        "professionals": [
            {
                "id": p.id,
                "national_id": p.national_id,
                "last_name": p.last_name,
                "first_name": p.first_name,
                "profession": p.profession,
                "specialty": None,
                "structure_finess": p.structure,
                "structure_name": f"Structure {p.structure}" if p.structure else None,
                "active": True,
            }
            for p in fixed.pros
        ],
        "service_accounts": [
            {"id": fixed.insurer_id, "name": INSURER_NAME, "kind": "insurer"},
            {"id": fixed.third_party_id, "name": THIRD_PARTY_NAME, "kind": "third_party"},
        ],
    }


# --- one chunk of dossiers ---------------------------------------------------------------

TABLE_ORDER = (
    "patients",
    "dossiers",
    "representatives",
    "care_team",
    "blocks",
    "consents",
    "documents",
    "document_entries",
    "document_contents",
    "document_texts",
    "document_structures",
    "search_postings",
    "audit_heads",
    "audit_entries",
    "first_accesses",
)


CONTENTS = ("realistic", "minimal")


def max_large_docs(large_share: float, large_docs: int) -> int:
    return large_docs * 3 // 2 if large_share > 0 else 0


def doc_slot(docs_per_dossier: int, large_share: float, large_docs: int) -> int:
    # Document ids are dossier_id * slot + k: stable across runs, so chunks resume.
    most = max(2, 2 * docs_per_dossier, max_large_docs(large_share, large_docs))
    return 1 << math.ceil(math.log2(most + 8))


@dataclass
class Params:
    seed: int
    docs_per_dossier: int
    now: datetime
    keyring: Keyring
    # realistic: bench.corpus documents (PDF, scans, photos, CDA, FHIR, text);
    # minimal: small placeholder contents, for fast runs.
    contents: str = "realistic"
    large_share: float = 0.0  # share of dossiers holding `large_docs` documents or more
    large_docs: int = 500
    # realistic contents only: each document's text, structure and search postings, as
    # its deposit would have stored them (bench/population_index.py)
    index: bool = True
    _corpus: Corpus | None = field(default=None, repr=False)

    @property
    def doc_slot(self) -> int:
        return doc_slot(self.docs_per_dossier, self.large_share, self.large_docs)

    @property
    def max_docs(self) -> int:
        return max(2, 2 * self.docs_per_dossier)

    @property
    def max_large_docs(self) -> int:
        return max_large_docs(self.large_share, self.large_docs)

    @property
    def indexed(self) -> bool:
        return self.index and self.contents == "realistic"

    @property
    def corpus(self) -> Corpus:
        if self._corpus is None:  # one per process: it holds the rendered scan pool
            self._corpus = Corpus(self.seed)
        return self._corpus


@dataclass
class Chunk:
    rows: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {name: [] for name in TABLE_ORDER}
    )
    entry_versions: dict[int, int] = field(default_factory=dict)  # document id -> last

    def count(self) -> int:
        return sum(len(r) for r in self.rows.values())


def _weighted(rng: random.Random, items: list[tuple[Any, int]]) -> Any:
    return rng.choices([i for i, _ in items], weights=[w for _, w in items])[0]


CATEGORY_WEIGHTS = [(name, spec[0]) for name, spec in CATEGORY_SPECS.items()]
ENTRY_SLOT = 16  # trace entries per dossier at most (ids dossier_id * 16 + k)


def _between(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = max((end - start).total_seconds(), 1.0)
    return start + timedelta(seconds=rng.random() * span)


def generate_chunk(first: int, last: int, fixed: Fixed, params: Params) -> Chunk:
    """Dossiers (and patients) numbered first..last inclusive, with everything they own."""
    rng = random.Random(f"{params.seed}:chunk:{first}")
    chunk = Chunk()
    adults: list[int] = []
    minors: list[int] = []
    for number in range(first, last + 1):
        _dossier(rng, number, fixed, params, chunk, adults, minors)
    # Representatives: one adult of the chunk per minor; a minority of minors have one
    # recorded (most families never declare it).
    for minor in minors:
        if adults and rng.random() < 0.3:
            chunk.rows["representatives"].append(
                {
                    "dossier_id": minor,
                    "patient_id": rng.choice(adults),
                    "created_at": params.now - timedelta(days=rng.randint(1, 900)),
                }
            )
    # A dossier's documents arrive over years among everyone else's: shuffle the chunk
    # so that one dossier's rows are spread over the heap as they would be in production
    # instead of sitting on one or two pages (which would flatter the listing).
    for name in ("documents", "document_entries", "document_contents", "audit_entries"):
        rng.shuffle(chunk.rows[name])
    # Their own stream: the rows above stay those of a population without the index.
    extra = random.Random(f"{params.seed}:chunk-index:{first}")
    for name in ("document_texts", "document_structures", "search_postings"):
        extra.shuffle(chunk.rows[name])
    return chunk


def _dossier(
    rng: random.Random,
    number: int,
    fixed: Fixed,
    params: Params,
    chunk: Chunk,
    adults: list[int],
    minors: list[int],
) -> None:
    now = params.now
    sex = "F" if rng.random() < 0.52 else "M"
    age_days = int(rng.triangular(0, 95 * 365.25, 45 * 365.25))
    born = (now - timedelta(days=age_days)).date()
    dept = rng.choice(DEPARTMENTS) if rng.random() < 0.99 else rng.choice(("2A", "2B"))
    ins, birth_place = make_ins(number, sex, born, dept)
    birth_name = rng.choice(SURNAMES).replace("_", " ")
    first_names = " ".join(rng.sample(FIRST_F if sex == "F" else FIRST_M, rng.randint(1, 3)))
    channel = _weighted(rng, [("email", 70), ("sms", 15), ("none", 15)])
    (minors if age_days < 18 * 365.25 else adults).append(number)
    chunk.rows["patients"].append(
        {
            "id": number,
            "ins": ins,
            "ins_oid": INS_OIDS[(InsKind.NIR, True)],
            "birth_name": birth_name,
            "first_names": first_names,
            "birth_date": born,
            "sex": sex,
            "birth_place": birth_place,
            "used_name": None,
            "email": f"patient{number}@example.org" if channel != "none" else None,
            "phone": f"+3361{number:07d}"[:12] if channel == "sms" else None,
            "notify_channel": channel,
            "created_at": now - timedelta(days=6 * 365),
        }
    )
    created = now - timedelta(seconds=rng.random() * 6 * 365 * 86400 + 86400)
    gps = fixed.by_profession["medecin_generaliste"]
    mt = rng.choice(gps) if rng.random() < 0.92 else None
    desk = rng.choice(fixed.by_profession["admissions"])
    by_desk = rng.random() < 0.7
    terminal = f"borne-{desk.structure}-{rng.randint(1, 4)}" if by_desk else "espace-patient"
    closed = rng.random() < 0.005
    chunk.rows["dossiers"].append(
        {
            "id": number,
            "patient_id": number,
            "status": "closed" if closed else "active",
            "created_at": created,
            "consent_collected_by": f"professional:{desk.id}" if by_desk else f"patient:{number}",
            "consent_at": created,
            "consent_terminal": terminal,
            "bris_de_glace_allowed": rng.random() < 0.95,
            "centre_15_allowed": rng.random() < 0.97,
            "medecin_traitant_id": mt.id if mt else None,
            "closed_at": now - timedelta(days=30) if closed else None,
            "retention_until": now + timedelta(days=3622) if closed else None,
            "deletion_requested_at": None,
            "wrapped_key": None,  # set below, with the key that seals the contents
        }
    )
    wrapped = params.keyring.new_wrapped_key()
    chunk.rows["dossiers"][-1]["wrapped_key"] = wrapped

    # Care team: a few professionals and sometimes a hospital team (an admission).
    team: set[int] = set()
    for k in range(rng.choice((0, 1, 1, 2, 2, 3))):
        cid = number * 4 + k
        if rng.random() < 0.25:
            member: dict[str, Any] = {"professional_id": None, "structure_finess": None}
            member["structure_finess"] = rng.choice(fixed.hospitals)
        else:
            pro = rng.choice(
                fixed.by_profession[
                    rng.choice(("medecin_specialiste", "infirmier", "masseur_kinesitherapeute"))
                ]
            )
            team.add(pro.id)
            member = {"professional_id": pro.id, "structure_finess": None}
        chunk.rows["care_team"].append(
            {
                "id": cid,
                "dossier_id": number,
                **member,
                "added_at": _between(rng, created, now),
                "added_by": f"professional:{mt.id}" if mt else f"patient:{number}",
            }
        )
    bench_pharmacist = fixed.bench_pharmacist
    blocked: int | None = None
    if rng.random() < 0.01:
        # A nurse outside the care team: never the médecin traitant (not blockable) nor
        # the bench pharmacist, whose listings must be allowed.
        candidates = [p for p in fixed.by_profession["infirmier"] if p.id not in team]
        blocked = rng.choice(candidates).id
        chunk.rows["blocks"].append(
            {"dossier_id": number, "professional_id": blocked, "created_at": created}
        )
    # Consents last a day: the bench pharmacist holds a live one on ~10% of dossiers
    # (`server_bench` grants fresh ones through the service before measuring), and
    # older, expired consents for other professionals are history.
    consent_at: datetime | None = None
    if rng.random() < 0.10 and not closed:
        consent_at = now - timedelta(seconds=rng.random() * 43200)
        chunk.rows["consents"].append(
            {
                "id": number * 4,
                "dossier_id": number,
                "professional_id": bench_pharmacist.id,
                "granted_at": consent_at,
                "expires_at": consent_at + timedelta(days=1),
                "granted_by": f"patient:{number}",
            }
        )
    if rng.random() < 0.2:
        granted = _between(rng, created, now - timedelta(days=2))
        chunk.rows["consents"].append(
            {
                "id": number * 4 + 1,
                "dossier_id": number,
                "professional_id": rng.choice(fixed.by_profession["pharmacien"][1:]).id,
                "granted_at": granted,
                "expires_at": granted + timedelta(days=1),
                "granted_by": f"patient:{number}",
            }
        )

    person = Person(first_names.split()[0], birth_name, sex, born, ins)
    docs = _documents(rng, number, mt, fixed, params, chunk, created, wrapped, person)
    _trace(
        rng, number, birth_name, first_names, mt, desk if by_desk else None, terminal, docs,
        fixed, params, chunk, created, consent_at, blocked,
    )  # fmt: skip


def _documents(
    rng: random.Random,
    number: int,
    mt: Pro | None,
    fixed: Fixed,
    params: Params,
    chunk: Chunk,
    created: datetime,
    wrapped: bytes,
    person: Person,
) -> list[dict[str, Any]]:
    now = params.now
    mean = params.docs_per_dossier
    count = min(params.max_docs, max(1, round(rng.gauss(mean, mean * 0.3))))
    # Large dossiers (years of chronic care) are drawn from a stream of their own, so
    # that --large-share changes nothing else in the population.
    sizer = random.Random(f"{params.seed}:size:{number}")
    if sizer.random() < params.large_share:
        count = sizer.randint(params.large_docs, params.max_large_docs)
    formats: dict[int, str] = {}  # document id -> corpus format (a new version keeps it)
    texts: dict[int, str | None] = {}  # document id -> its ready text (indexed below)
    limits = Limits()  # the server's defaults: what a deposit is read with
    times = sorted(_between(rng, created, now - timedelta(hours=1)) for _ in range(count))
    docs: list[dict[str, Any]] = []
    for k, submitted in enumerate(times):
        doc_id = number * params.doc_slot + k
        replaced = None
        if docs and rng.random() < 0.03:
            # A new version of an earlier current document, by its author (only the
            # author replaces), same category.
            olds = [d for d in docs if d["status"] == "current" and d["author_professional_id"]]
            replaced = rng.choice(olds) if olds else None
        if replaced is not None:
            category, type_code = replaced["category"], replaced["type_code"]
            title = replaced["title"].split(" (v")[0] + f" (v{replaced['version'] + 1})"
            author_pro: int | None = replaced["author_professional_id"]
            author_patient = author_service = None
            institution = replaced["author_institution"]
        else:
            category = _weighted(rng, CATEGORY_WEIGHTS)
            type_code, title = rng.choice(CATEGORY_SPECS[category][1])
            author_pro = author_patient = author_service = None
            institution = None
            if category == "remboursement":
                author_service = fixed.insurer_id
                title = f"{title} {submitted.year}"
            elif category == "depose_patient":
                author_patient = number
            else:
                gp_category = mt is not None and category in {"compte_rendu", "prescription"}
                author = mt if gp_category and rng.random() < 0.5 else None
                author = author or rng.choice(fixed.writers[category])
                author_pro, institution = author.id, author.structure
        mime = _weighted(rng, list(MIME_TYPES))
        if params.contents == "realistic":
            rng.randint(200, 1400)  # what _content draws: the metadata stream stays the same
            # Each document has its own content stream: its bytes depend on its id only.
            crng = random.Random(f"{params.seed}:content:{doc_id}")
            ctx = Context(person, _author(fixed, author_pro, author_service), submitted)
            fmt = formats.get(replaced["id"]) if replaced is not None else None
            generated = params.corpus.document(crng, category, ctx, type_code=type_code, fmt=fmt)
            body, mime, type_code = generated.content, generated.mime_type, generated.type_code
            formats[doc_id] = generated.fmt
            if replaced is None:
                title = generated.title
                if category == "remboursement":
                    title = f"{title} {submitted.year}"
        else:
            body = _content(rng, mime, title, submitted)
        logical = seeded_uuid(rng)
        entry = seeded_uuid(rng)
        flags = {"masked_ps": False, "invisible_patient": False, "invisible_rep": False}
        if author_pro is not None and rng.random() < 0.005:
            flags["invisible_patient"] = True  # e.g. before a diagnosis is announced
        elif rng.random() < 0.005:
            flags["invisible_rep"] = True
        doc = {
            "id": doc_id,
            "dossier_id": number,
            "unique_id": f"1.2.250.1.999.1.{doc_id}",
            "logical_id": logical,
            "entry_uuid": entry,
            "category": category,
            "type_code": type_code,
            "title": title,
            "author_professional_id": author_pro,
            "author_patient_id": author_patient,
            "author_service_id": author_service,
            "author_institution": institution,
            "created_at": submitted - timedelta(seconds=rng.random() * 30 * 86400),
            "service_start": submitted - timedelta(days=2) if category == "compte_rendu" else None,
            "service_end": submitted - timedelta(days=1) if category == "compte_rendu" else None,
            "submitted_at": submitted,
            "mime_type": mime,
            "size": len(body),
            "sha256": params.keyring.fingerprint(wrapped, body),  # keyed, as a deposit
            "status": "current",
            **flags,
            "replaces_id": replaced["id"] if replaced else None,
            "replaced_by_id": None,
            "replace_reason": None,  # sealed when a replacement gives one; none here
            "version": replaced["version"] + 1 if replaced else 1,
            # Never waiting for the background indexer: with the index, the generator
            # writes the postings itself; without it, the population is not for search.
            "search_queued": False,
        }
        author_ref = (
            f"professional:{author_pro}"
            if author_pro
            else f"patient:{number}"
            if author_patient
            else f"insurer:{author_service}"
        )
        _entry(chunk, entry, doc, 1, submitted, author_ref, flags, "current")
        if params.indexed:
            understood = population_index.read(params.keyring, wrapped, doc, generated, limits)
            body = understood.body  # what a deposit stores (an image loses its EXIF)
            doc["size"], doc["sha256"] = len(body), params.keyring.fingerprint(wrapped, body)
            texts[doc_id] = understood.text
            for name, row in understood.rows.items():
                chunk.rows[name].append(row)
        nonce, sealed = params.keyring.encrypt(wrapped, body, logical)
        chunk.rows["document_contents"].append(
            {"document_id": doc_id, "nonce": nonce, "ciphertext": sealed}
        )
        if replaced is not None:
            replaced["replaced_by_id"] = doc_id
            _change(rng, chunk, replaced, submitted, author_ref, status="superseded")
        docs.append(doc)
    for doc in docs:
        if doc["status"] != "current":
            continue
        roll = rng.random()
        later = _between(rng, doc["submitted_at"], now - timedelta(minutes=5))
        if roll < 0.02 and not doc["invisible_patient"]:
            _change(rng, chunk, doc, later, f"patient:{number}", masked_ps=True)
        elif roll < 0.04 and doc["author_professional_id"]:
            by = f"professional:{doc['author_professional_id']}"
            _change(rng, chunk, doc, later, by, status="archived")
        elif roll < 0.045 and doc["author_professional_id"]:
            by = f"professional:{doc['author_professional_id']}"
            _change(rng, chunk, doc, later, by, status="deleted")
    if params.indexed:
        keyed = search_tokens.for_dossier(params.keyring, wrapped)
        for doc in docs:
            if doc["status"] == "deleted":
                continue  # a logical deletion drops the document's postings
            pro = doc["author_professional_id"]
            about = population_index.described(
                fixed.matrix, doc, fixed.pros[pro - 1] if pro else None
            )
            chunk.rows["search_postings"].append(
                population_index.postings(keyed, about, texts[doc["id"]], doc)
            )
    chunk.rows["documents"].extend(docs)
    return docs


def _entry(
    chunk: Chunk,
    entry_uuid: str,
    doc: dict[str, Any],
    version: int,
    at: datetime,
    by: str,
    flags: dict[str, bool],
    status: str,
) -> None:
    chunk.entry_versions[doc["id"]] = version
    chunk.rows["document_entries"].append(
        {
            "entry_uuid": entry_uuid,
            "document_id": doc["id"],
            "version": version,
            "status": status,
            **flags,
            "created_at": at,
            "created_by": by,
        }
    )


def _change(
    rng: random.Random, chunk: Chunk, doc: dict[str, Any], at: datetime, by: str, **changes: Any
) -> None:
    """A metadata change: a new entryUUID becomes the document's current one."""
    doc.update(changes)
    doc["entry_uuid"] = seeded_uuid(rng)
    version = chunk.entry_versions[doc["id"]]
    flags = {name: doc[name] for name in ("masked_ps", "invisible_patient", "invisible_rep")}
    _entry(chunk, doc["entry_uuid"], doc, version + 1, at, by, flags, doc["status"])


# Profession labels for letterheads; specialists get a specialty from their id.
PROFESSION_LABELS = {
    "medecin_generaliste": "Médecin généraliste",
    "urgentiste": "Médecin urgentiste",
    "regulateur_samu": "Médecin régulateur",
    "pharmacien": "Pharmacien",
    "infirmier": "Infirmier diplômé d'État",
    "sage_femme": "Sage-femme",
    "chirurgien_dentiste": "Chirurgien-dentiste",
    "masseur_kinesitherapeute": "Masseur-kinésithérapeute",
    "biologiste": "Biologiste médical",
    "admissions": "Bureau des admissions",
    "medecin_travail": "Médecin du travail",
}
SPECIALTIES = ("Cardiologue", "Pneumologue", "Gastro-entérologue", "Rhumatologue", "Radiologue",
               "Chirurgien orthopédiste", "Endocrinologue", "Neurologue")  # fmt: skip
INSURER_AUTHOR = Author("", "", "", "Organisme d'assurance maladie", INSURER_NAME, None)


def _author(fixed: Fixed, pro_id: int | None, service_id: int | None) -> Author | None:
    """The document's author as its letterhead shows it (None: the patient)."""
    if service_id is not None:
        return INSURER_AUTHOR
    if pro_id is None:
        return None
    author = fixed.authors.get(pro_id)
    if author is None:
        pro = fixed.pros[pro_id - 1]
        if pro.profession == "medecin_specialiste":
            label = SPECIALTIES[pro.id % len(SPECIALTIES)]
        else:
            label = PROFESSION_LABELS.get(pro.profession, pro.profession)
        # The letterhead's establishment is a function of the FINESS: one name per place.
        where = random.Random(f"finess:{pro.structure}")
        voc = vocabulary()
        pattern = voc.cabinets if pro.profession in CABINET_PROFESSIONS else voc.establishments
        if pro.profession == "pharmacien":
            pattern = voc.pharmacies
        elif pro.profession == "biologiste":
            pattern = voc.labs
        name = place(where.choice(pattern), where.choice(voc.cities))
        author = Author(pro.first_name, pro.last_name, pro.national_id, label, name, pro.structure)
        fixed.authors[pro_id] = author
    return author


CABINET_PROFESSIONS = frozenset(
    {"medecin_generaliste", "chirurgien_dentiste", "masseur_kinesitherapeute", "medecin_travail"}
)


def _content(rng: random.Random, mime: str, title: str, when: datetime) -> bytes:
    filler = LOREM[: rng.randint(200, 1400)]
    body = f"{title}\nDate : {when:%d/%m/%Y}\n{filler}\n"
    if mime == "application/pdf":
        return b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n" + body.encode() + b"\n%%EOF\n"
    if mime == "text/xml":
        return (
            '<?xml version="1.0" encoding="UTF-8"?>\n<ClinicalDocument xmlns="urn:hl7-org:v3">'
            f"<title>{title}</title><text>{filler}</text></ClinicalDocument>\n"
        ).encode()
    return body.encode()


def _trace(
    rng: random.Random,
    number: int,
    birth_name: str,
    first_names: str,
    mt: Pro | None,
    desk: Pro | None,
    terminal: str,
    docs: list[dict[str, Any]],
    fixed: Fixed,
    params: Params,
    chunk: Chunk,
    created: datetime,
    consent_at: datetime | None,
    blocked: int | None,
) -> None:
    """A few plausible, correctly chained entries: creation, deposits, reads, consent."""
    now = params.now
    patient_actor = {
        "actor_kind": "patient",
        "actor_id": number,
        "actor_name": f"{first_names.split()[0]} {birth_name}",
        "actor_profession": None,
        "actor_structure": None,
    }

    def pro_actor(pro: Pro) -> dict[str, Any]:
        return {
            "actor_kind": "professional",
            "actor_id": pro.id,
            "actor_name": pro.name,
            "actor_profession": pro.profession,
            "actor_structure": pro.structure,
        }

    events: list[dict[str, Any]] = []

    def add(at: datetime, actor: dict[str, Any], action: str, mode: str, reason: str,
            outcome: str = "allowed", doc: dict[str, Any] | None = None,
            detail: dict[str, Any] | None = None) -> None:  # fmt: skip
        events.append(
            {
                "at": at,
                **actor,
                "action": action,
                "mode": mode,
                "outcome": outcome,
                "reason": reason,
                "target": f"document:{doc['logical_id']}" if doc else None,
                "category": doc["category"] if doc else None,
                "detail": audit.detail_json(detail),
                "kiosk": None,
            }
        )

    if desk is not None:
        add(created, pro_actor(desk), "dossier:create", "admissions", "creation_with_consent",
            detail={"terminal": terminal})  # fmt: skip
    else:
        add(created, patient_actor, "dossier:create", "patient", "creation_with_consent",
            detail={"terminal": terminal})  # fmt: skip
    first_access: dict[int, datetime] = {}
    pros = {p.id: p for p in fixed.pros}
    authored = [d for d in docs if d["author_professional_id"]]
    for doc in rng.sample(authored, min(len(authored), rng.randint(1, 3))):
        author = pros[doc["author_professional_id"]]
        is_mt = mt is not None and author.id == mt.id
        add(doc["submitted_at"], pro_actor(author), "document:deposit",
            "medecin_traitant" if is_mt else "care_team",
            "medecin_traitant" if is_mt else "care_team_member", doc=doc)  # fmt: skip
    if mt is not None:
        for _ in range(rng.randint(1, 2)):
            at = _between(rng, created, now - timedelta(minutes=1))
            add(at, pro_actor(mt), "document:list", "medecin_traitant", "medecin_traitant",
                detail={"all": False})  # fmt: skip
            first_access[mt.id] = min(at, first_access.get(mt.id, at))
    if consent_at is not None:
        pharmacist = fixed.bench_pharmacist
        add(consent_at, patient_actor, "access:grant", "patient", "patient_own_dossier",
            detail={"op": "consent", "professional": pharmacist.national_id})  # fmt: skip
        at = consent_at + timedelta(seconds=rng.randint(30, 600))
        if at < now:
            add(at, pro_actor(pharmacist), "document:list", "consent", "explicit_consent",
                detail={"all": False})  # fmt: skip
            first_access[pharmacist.id] = at
    if rng.random() < 0.3:
        add(_between(rng, created, now), patient_actor, "history:read", "patient",
            "patient_own_dossier")  # fmt: skip
    if rng.random() < 0.05 or blocked is not None:
        intruder = pros[blocked] if blocked else rng.choice(fixed.by_profession["infirmier"])
        reason = "professional_blocked" if blocked else "no_authorisation"
        add(_between(rng, created, now), pro_actor(intruder), "document:list", "none", reason,
            outcome="denied", detail={"all": False})  # fmt: skip
    events.sort(key=lambda e: e["at"])
    chain = audit.chain_for(number)
    prev = audit.GENESIS
    for seq, values in enumerate(events[:ENTRY_SLOT], start=1):
        values.update(chain=chain, seq=seq)
        digest = audit.link_hash(prev, values)
        chunk.rows["audit_entries"].append(
            {"id": number * ENTRY_SLOT + seq, **values, "prev_hash": prev, "hash": digest}
        )
        prev = digest
    chunk.rows["audit_heads"].append(
        {"chain": chain, "seq": min(len(events), ENTRY_SLOT), "hash": prev, "patient_id": number}
    )
    for pro_id, at in first_access.items():
        chunk.rows["first_accesses"].append(
            {"dossier_id": number, "professional_id": pro_id, "at": at}
        )


# --- loading -----------------------------------------------------------------------------


POSTINGS = "search_postings"
POSTING_COLUMNS = ("dossier_id", "token", "document_id")


def _posting_lines(items: list[dict[str, Any]]) -> Iterator[bytes]:
    """COPY text for the compact postings (one array of tokens per document): one block
    per document, formatted here rather than row by row through write_row (several
    times faster for the tens of millions of postings of a chunk)."""
    for item in items:
        head, tail = f"{item['dossier_id']}\t", f"\t{item['document_id']}\n"
        yield "".join(f"{head}{t}{tail}" for t in item["tokens"]).encode()


def _posting_rows(
    items: list[dict[str, Any]], size: int = 50_000
) -> Iterator[list[dict[str, int]]]:
    """Executemany batches of posting rows (SQLite), bounded in memory."""
    batch: list[dict[str, int]] = []
    for item in items:
        dossier, document = item["dossier_id"], item["document_id"]
        batch.extend(
            {"dossier_id": dossier, "token": t, "document_id": document} for t in item["tokens"]
        )
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


class Loader:
    """Writes rows: COPY on PostgreSQL, executemany on SQLite; one transaction per call."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url)
        self.postgres = self.engine.dialect.name == "postgresql"
        if not self.postgres:

            @event.listens_for(self.engine, "connect")
            def _pragmas(dbapi_conn: Any, _record: Any) -> None:
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                # A bulk load that can be redone (chunks resume): durability per chunk
                # is not needed, the server itself runs with FULL.
                cur.execute("PRAGMA synchronous=OFF")
                # Rows cross-reference within a chunk (a replaced document names its
                # successor): checked once at the end with PRAGMA foreign_key_check.
                cur.execute("PRAGMA foreign_keys=OFF")
                cur.close()

    def write(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        tables = Base.metadata.tables
        if self.postgres:
            raw = self.engine.raw_connection()
            try:
                pg = raw.driver_connection
                assert pg is not None
                with pg.cursor() as cur:
                    for name, items in rows.items():
                        if not items:
                            continue
                        if name == POSTINGS:
                            with cur.copy(
                                f"COPY {name} ({', '.join(POSTING_COLUMNS)}) FROM STDIN"
                            ) as copy:
                                for block in _posting_lines(items):
                                    copy.write(block)
                            continue
                        cols = [c.name for c in tables[name].columns]
                        with cur.copy(f"COPY {name} ({', '.join(cols)}) FROM STDIN") as copy:
                            for item in items:
                                # A column the generator does not fill is NULL, as with
                                # SQLite's executemany (documents.replace_reason came
                                # after the generator and is only set by a replacement).
                                copy.write_row([item.get(c) for c in cols])
                pg.commit()
            finally:
                raw.close()
        else:
            with self.engine.begin() as conn:
                for name, items in rows.items():
                    if name == POSTINGS:
                        for batch in _posting_rows(items):
                            conn.execute(tables[name].insert(), batch)
                    elif items:
                        conn.execute(tables[name].insert(), items)

    def scalar(self, query: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def wipe(self) -> None:
        names = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with self.engine.begin() as conn:
            if self.postgres:
                conn.execute(text(f"TRUNCATE {', '.join(names)} RESTART IDENTITY CASCADE"))
            else:
                for name in names:
                    conn.execute(text(f"DELETE FROM {name}"))  # noqa: S608 - our table names

    def finish(self) -> None:
        """Sequences past the explicit ids; fresh statistics for the planner."""
        if self.postgres:
            with self.engine.begin() as conn:
                for table in Base.metadata.sorted_tables:
                    column = table.columns.get("id")
                    # Only integer keys have a sequence (card_challenges.id is a hex text).
                    if column is not None and column.primary_key and column.type.python_type is int:
                        conn.execute(
                            text(
                                f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "  # noqa: S608
                                f"COALESCE(MAX(id), 0) + 1, false) FROM {table.name}"
                            )
                        )
            with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("VACUUM ANALYZE"))
        else:
            with self.engine.connect() as conn:
                problems = conn.execute(text("PRAGMA foreign_key_check")).all()
                if problems:
                    raise SystemExit(f"foreign key problems after load: {problems[:5]}")
                conn.execute(text("ANALYZE"))
                conn.commit()

    def size_bytes(self) -> int:
        if self.postgres:
            return int(self.scalar(text("SELECT pg_database_size(current_database())")))
        path = Path(make_url(self.url).database or "")
        return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())

    def table_bytes(self, name: str) -> int | None:
        """A table with its indexes (PostgreSQL; None on SQLite, whose file is shared)."""
        if not self.postgres:
            return None
        return int(self.scalar(text(f"SELECT pg_total_relation_size('{name}')")))

    def dispose(self) -> None:
        self.engine.dispose()


def master_key_b64(key_file: str | None = None, *, create: bool = False) -> str:
    """DMP_MASTER_KEY when set, else the bench key file (created, mode 0600, only when
    `create`: a fresh population; anything reading an existing one must find its key)."""
    value = os.environ.get("DMP_MASTER_KEY", "")
    if value:
        return value
    path = Path(key_file or DEFAULT_KEY_FILE)
    if not create and not path.exists():
        raise SystemExit(f"no master key: set DMP_MASTER_KEY or keep {path} from the generation")
    return base64.b64encode(load_master_key("", str(path))).decode()


def _fmt_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


@dataclass
class Report:
    dossiers: int
    rows: dict[str, int]
    seconds: float
    size_bytes: int
    # search_postings with its indexes, and the texts and structures (PostgreSQL only)
    index_bytes: dict[str, int | None] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "dossiers": self.dossiers,
            "rows": self.rows,
            "seconds": round(self.seconds, 1),
            "size_bytes": self.size_bytes,
            "index_bytes": self.index_bytes,
        }


# Generation (Python: identifiers, hashes, AES-GCM) runs in a child process while this
# one streams the previous chunk into the database: on two cores the two overlap and a
# generation takes about the time of the slower side instead of the sum.
_WORKER: dict[str, Any] = {}


def _init_worker(params: Params, key_b64: str) -> None:
    params.keyring = Keyring(base64.b64decode(key_b64))
    _WORKER["fixed"] = fixed_part(params.seed)
    _WORKER["params"] = params


def _generate(first: int, last: int) -> dict[str, list[dict[str, Any]]]:
    return generate_chunk(first, last, _WORKER["fixed"], _WORKER["params"]).rows


def _chunks(
    first_number: int, dossiers: int, size: int, params: Params, key_b64: str, workers: int = 1
) -> Iterator[tuple[int, int, dict[str, list[dict[str, Any]]]]]:
    """Chunks generated by `workers` processes, yielded in order (so --resume holds)."""
    ranges = iter(
        (first, min(dossiers, first + size - 1))
        for first in range(first_number, dossiers + 1, size)
    )
    spawn = multiprocessing.get_context("spawn")
    # The child gets the options, not the keyring (rebuilt there from the key).
    options = Params(params.seed, params.docs_per_dossier, params.now, None,  # type: ignore[arg-type]
                     params.contents, params.large_share, params.large_docs,
                     params.index)  # fmt: skip
    init = (options, key_b64)
    with spawn.Pool(workers, initializer=_init_worker, initargs=init) as pool:
        pending: deque[tuple[int, int, Any]] = deque()

        def submit() -> None:
            for first, last in itertools.islice(ranges, 1):
                pending.append((first, last, pool.apply_async(_generate, (first, last))))

        for _ in range(workers + 1):
            submit()  # one chunk ahead of the loader per worker: bounded memory
        while pending:
            first, last, result = pending.popleft()
            rows = result.get()
            submit()
            yield first, last, rows


def populate(
    url: str,
    *,
    dossiers: int = 100_000,
    docs_per_dossier: int = 20,
    seed: int = 1,
    force: bool = False,
    resume: bool = False,
    key_file: str | None = None,
    chunk_size: int = CHUNK,
    quiet: bool = False,
    contents: str = "realistic",
    large_share: float = 0.01,
    large_docs: int = 500,
    workers: int = 1,
    index: bool = True,
) -> Report:
    """Generates the population; --resume must be given the same options as the first run."""
    if dossiers > 998_001:
        raise SystemExit("at most 998,001 dossiers (INS matricules are derived from numbers)")
    if contents not in CONTENTS:
        raise SystemExit(f"--contents: one of {', '.join(CONTENTS)}")
    if (dossiers + 1) * doc_slot(docs_per_dossier, large_share, large_docs) >= 2**31:
        raise SystemExit("document ids (dossier * slot) would overflow 32 bits: fewer documents")
    started = time.monotonic()
    upgrade(url)
    loader = Loader(url)
    key_b64 = master_key_b64(key_file, create=not resume)
    keyring = Keyring(base64.b64decode(key_b64))
    fixed = fixed_part(seed)

    def log(message: str) -> None:
        if not quiet:
            print(message, file=sys.stderr, flush=True)

    try:
        existing = loader.scalar(select(func.count()).select_from(Patient)) or 0
        first_number = 1
        if force:
            # Whatever is there, even the professionals of a run that failed early.
            log(f"--force: wiping {existing} patients and everything they own")
            loader.wipe()
        elif existing and resume:
            stored = loader.scalar(select(Professional.national_id).where(Professional.id == 1))
            if stored != fixed.pros[0].national_id:
                raise SystemExit("--resume: this database was not generated by this tool")
            done = loader.scalar(text("SELECT MAX(id) FROM dossiers")) or 0
            first_number = done + 1
            log(f"--resume: {done} dossiers present, continuing at {first_number}")
        elif existing:
            raise SystemExit(
                f"the database already holds {existing} patients: use --force to wipe it, "
                "or --resume to complete an interrupted generation"
            )
        # Anchor every date on one instant so that a chunk is identical whenever it runs
        # for a given day; the listing's two-year window is relative to it.
        now = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        params = Params(
            seed, docs_per_dossier, now, keyring, contents, large_share, large_docs, index
        )
        if first_number == 1:
            loader.write(fixed_rows(fixed))
        totals: dict[str, int] = {}
        loaded_rows = 0
        load_started = time.monotonic()
        chunks = _chunks(first_number, dossiers, chunk_size, params, key_b64, workers)
        for _first, last, rows in chunks:
            loader.write(rows)
            for name, items in rows.items():
                # postings travel as one array per document: count the rows they make
                count = sum(len(i["tokens"]) for i in items) if name == POSTINGS else len(items)
                totals[name] = totals.get(name, 0) + count
                loaded_rows += count
            elapsed = time.monotonic() - load_started
            done = last - first_number + 1
            eta = elapsed / done * (dossiers - last)
            documents = totals.get("documents", 0)
            log(
                f"[{last:>7}/{dossiers}] {loaded_rows:>9} rows, {loaded_rows / elapsed:,.0f} "
                f"rows/s, {documents:,} documents ({documents / elapsed:,.0f}/s), "
                f"ETA {_fmt_duration(eta)}"
            )
        log("all chunks loaded; sequences and statistics (VACUUM ANALYZE) ...")
        loader.finish()
        size = loader.size_bytes()
        parts = {n: loader.table_bytes(n) for n in ("search_postings", "document_texts",
                                                     "document_structures")}  # fmt: skip
        report = Report(dossiers, totals, time.monotonic() - started, size, parts)
        log(
            f"done: {dossiers} dossiers, {sum(totals.values()):,} rows in "
            f"{_fmt_duration(report.seconds)}; database {size / 2**20:,.0f} MiB"
        )
        return report
    finally:
        loader.dispose()


def check_sample(url: str, key_b64: str) -> None:
    """Decrypts one document and validates one INS: the population is usable by the server
    with this master key (a lost or different key is caught here, not as 500s later)."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.keywrap import InvalidUnwrap

    from server.models import Document, DocumentContent, Dossier

    keyring = Keyring(base64.b64decode(key_b64))
    loader = Loader(url)
    try:
        with loader.engine.connect() as conn:
            row = conn.execute(
                select(
                    Document.logical_id,
                    Document.sha256,
                    DocumentContent.nonce,
                    DocumentContent.ciphertext,
                    Dossier.wrapped_key,
                )
                .join(DocumentContent, DocumentContent.document_id == Document.id)
                .join(Dossier, Dossier.id == Document.dossier_id)
                .limit(1)
            ).one()
            try:
                body = keyring.decrypt(row.wrapped_key, row.nonce, row.ciphertext, row.logical_id)
            except (InvalidUnwrap, InvalidTag):
                raise SystemExit(
                    "the master key does not open this population's documents "
                    "(DMP_MASTER_KEY or the bench key file differs from the generation's)"
                ) from None
            # The keyed fingerprint (blank for a population made before migration 0020).
            if row.sha256 and keyring.fingerprint(row.wrapped_key, body) != row.sha256:
                raise SystemExit("sample document: content does not match its fingerprint")
            ins = conn.execute(select(Patient.ins).limit(1)).scalar_one()
            parse_ins(ins)
    finally:
        loader.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, metavar="URL", help="database URL")
    parser.add_argument("--dossiers", type=int, default=100_000)
    parser.add_argument("--docs-per-dossier", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=CHUNK, help="dossiers per transaction")
    parser.add_argument(
        "--contents",
        choices=CONTENTS,
        default="realistic",
        help="realistic documents (bench.corpus) or small placeholders for fast runs",
    )
    parser.add_argument(
        "--large-share", type=float, default=0.01, help="share of dossiers with many documents"
    )
    parser.add_argument(
        "--large-docs", type=int, default=500, help="documents of a large dossier, at least"
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="generating processes (realistic contents are CPU-bound; the loader is one more)",
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--force", action="store_true", help="wipe a non-empty database first")
    mode.add_argument("--resume", action="store_true", help="continue an interrupted run")
    parser.add_argument(
        "--master-key-file",
        default=DEFAULT_KEY_FILE,
        help="used when DMP_MASTER_KEY is not set; created on first use (mode 0600)",
    )
    parser.add_argument(
        "--no-index",
        action="store_true",
        help="realistic contents without their texts, structures and search postings",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = populate(
        args.db,
        dossiers=args.dossiers,
        docs_per_dossier=args.docs_per_dossier,
        seed=args.seed,
        force=args.force,
        resume=args.resume,
        key_file=args.master_key_file,
        chunk_size=args.chunk,
        contents=args.contents,
        large_share=args.large_share,
        large_docs=args.large_docs,
        workers=args.workers,
        index=not args.no_index,
    )
    check_sample(args.db, master_key_b64(args.master_key_file))
    if args.json:
        print(json.dumps(report.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
