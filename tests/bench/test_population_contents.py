"""The population's document contents: realistic by default, minimal on request, large
dossiers, and the same determinism and chunk/resume behaviour as the rest of it.

Chunks are generated in process where possible (fast); one small real run goes through
`populate` on the suite's database (SQLite or PostgreSQL) and reports its time.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pypdf import PdfReader
from sqlalchemy import create_engine, func, select

from bench.population import Params, check_sample, fixed_part, generate_chunk, populate
from cardreader.identity import finess_valid
from server.crypto import Keyring
from server.models import Document, DocumentContent, Dossier
from tests.conftest import wipe

NOW = datetime(2026, 11, 28, tzinfo=UTC)
KEYRING = Keyring(os.urandom(32))


def chunk(contents: str, last: int = 40, **options: Any) -> Any:
    params = Params(1, 20, NOW, KEYRING, contents, **options)
    return generate_chunk(1, last, fixed_part(1), params)


def docs_by_id(rows: dict[str, list[dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    return {d["id"]: d for d in rows["documents"]}


def test_realistic_contents_keep_every_other_row_of_the_minimal_population() -> None:
    """--contents changes what documents hold, not who, when or which: the benches can
    compare the two populations dossier by dossier."""
    minimal, realistic = chunk("minimal"), chunk("realistic")
    assert set(minimal.rows) == set(realistic.rows)
    for name in ("patients", "dossiers", "care_team", "consents", "audit_entries"):
        strip = {"wrapped_key", "hash", "prev_hash"}  # keys are fresh per run
        rows_a = [{k: v for k, v in r.items() if k not in strip} for r in minimal.rows[name]]
        rows_b = [{k: v for k, v in r.items() if k not in strip} for r in realistic.rows[name]]
        assert rows_a == rows_b, name
    a, b = docs_by_id(minimal.rows), docs_by_id(realistic.rows)
    assert a.keys() == b.keys()
    for doc_id, doc in a.items():
        other = b[doc_id]
        for key in ("logical_id", "category", "submitted_at", "author_professional_id", "status"):
            assert doc[key] == other[key], key
    assert Counter(d["mime_type"] for d in b.values()).keys() > {"application/pdf", "text/xml"}


def test_realistic_contents_are_sealed_and_match_their_metadata() -> None:
    rows = chunk("realistic", last=30).rows
    keys = {d["id"]: d["wrapped_key"] for d in rows["dossiers"]}
    sealed = {c["document_id"]: c for c in rows["document_contents"]}
    mimes: Counter[str] = Counter()
    for doc in rows["documents"]:
        content = sealed[doc["id"]]
        body = KEYRING.decrypt(
            keys[doc["dossier_id"]], content["nonce"], content["ciphertext"], doc["logical_id"]
        )
        assert len(body) == doc["size"]
        mime = doc["mime_type"]
        mimes[mime] += 1
        if mime == "application/pdf":
            assert len(PdfReader(io.BytesIO(body)).pages) >= 1
        elif mime == "text/xml":
            root = etree.fromstring(body, etree.XMLParser(resolve_entities=False, no_network=True))
            code = root.find("{urn:hl7-org:v3}code").get("code")
            assert code == doc["type_code"]
        elif mime == "application/fhir+json":
            bundle = json.loads(body)
            composition = bundle["entry"][0]["resource"]
            assert composition["resourceType"] == "Composition"
            assert composition["type"]["coding"][0]["code"] == doc["type_code"]
        elif mime == "text/plain":
            assert body.decode("utf-8")
        else:
            assert mime in {"image/jpeg", "image/png", "image/tiff"}
            assert doc["category"] in {"depose_patient", "prescription"}
    # Dispensations from pharmacies are mostly FHIR; a patient's deposits are images or PDFs.
    by_category: dict[str, Counter[str]] = {}
    for doc in rows["documents"]:
        by_category.setdefault(doc["category"], Counter())[doc["mime_type"]] += 1
    assert by_category["dispensation"].most_common(1)[0][0] == "application/fhir+json"
    assert set(by_category["depose_patient"]) <= {
        "image/jpeg", "image/png", "image/tiff", "application/pdf", "text/plain",
    }  # fmt: skip
    assert len(mimes) >= 4


def test_large_share_gives_that_share_of_dossiers_hundreds_of_documents() -> None:
    rows = chunk("minimal", last=200, large_share=0.05, large_docs=100).rows
    per_dossier = Counter(d["dossier_id"] for d in rows["documents"])
    large = [n for n, count in per_dossier.items() if count >= 100]
    assert 3 <= len(large) <= 20  # 5% of 200, drawn
    assert max(per_dossier.values()) <= 150
    assert all(per_dossier[n] <= 40 for n in per_dossier if n not in large)
    # The same dossiers are large whatever their size: their own stream decides.
    again = chunk("minimal", last=200, large_share=0.05, large_docs=120).rows
    again_per_dossier = Counter(d["dossier_id"] for d in again["documents"])
    assert sorted(n for n, count in again_per_dossier.items() if count >= 120) == sorted(large)
    # Without large dossiers, document ids keep their old slot.
    assert Params(1, 20, NOW, KEYRING, "minimal").doc_slot == 64
    assert Params(1, 20, NOW, KEYRING, "minimal", 0.01, 500).doc_slot == 1024


@pytest.fixture
def population_db(database_url: str) -> Iterator[str]:
    """The suite's database, emptied afterwards: the tests after these expect no population."""
    yield database_url
    wipe(database_url)


def _shas(url: str, key_file: str) -> dict[int, str]:
    """Each document's SHA-256, of its decrypted content: the stored fingerprint is keyed
    by its dossier's key, which each generation draws anew."""
    from bench.population import master_key_b64

    keyring = Keyring(base64.b64decode(master_key_b64(key_file)))
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(
                    Document.id,
                    Document.logical_id,
                    DocumentContent.nonce,
                    DocumentContent.ciphertext,
                    Dossier.wrapped_key,
                )
                .join(DocumentContent, DocumentContent.document_id == Document.id)
                .join(Dossier, Dossier.id == Document.dossier_id)
            )
            return {
                row.id: hashlib.sha256(
                    keyring.decrypt(row.wrapped_key, row.nonce, row.ciphertext, row.logical_id)
                ).hexdigest()
                for row in rows
            }
    finally:
        engine.dispose()


def test_population_smoke_with_realistic_contents(
    population_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    monkeypatch.delenv("DMP_MASTER_KEY", raising=False)
    key = tmp_path / "master.key"
    started = time.monotonic()
    report = populate(
        population_db, dossiers=40, docs_per_dossier=10, chunk_size=20, force=True,
        key_file=str(key), quiet=True, large_share=0.1, large_docs=60,
    )  # fmt: skip
    seconds = time.monotonic() - started
    documents = report.rows["documents"]
    with capsys.disabled():
        print(
            f"\npopulation smoke (realistic, {report.dossiers} dossiers, {documents} documents):"
            f" {seconds:.1f} s, {documents / seconds:.0f} documents/s including process start"
            f" and scan pool"
        )
    from bench.population import master_key_b64

    check_sample(population_db, master_key_b64(str(key)))
    engine = create_engine(population_db)
    try:
        with engine.connect() as conn:
            query = select(Document.mime_type, func.count()).group_by(Document.mime_type)
            mimes = {mime: count for mime, count in conn.execute(query)}
            biggest = conn.execute(
                select(func.count())
                .select_from(Document)
                .group_by(Document.dossier_id)
                .order_by(func.count().desc())
            ).first()
    finally:
        engine.dispose()
    assert set(mimes) >= {"application/pdf", "text/xml", "application/fhir+json", "text/plain"}
    assert biggest is not None
    assert biggest[0] >= 60  # at least one large dossier
    assert seconds < 120


def test_an_interrupted_or_parallel_realistic_population_has_the_same_documents(
    population_db: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DMP_MASTER_KEY", raising=False)
    key = str(tmp_path / "master.key")
    options: dict[str, Any] = {
        "docs_per_dossier": 6, "chunk_size": 10, "key_file": key, "quiet": True,
        "large_share": 0.0,
    }  # fmt: skip
    # Generated by two processes at once, loaded in order: the same population.
    populate(population_db, dossiers=30, force=True, workers=2, **options)
    whole = _shas(population_db, key)
    populate(population_db, dossiers=20, force=True, **options)
    populate(population_db, dossiers=30, resume=True, **options)
    assert _shas(population_db, key) == whole
    assert len(whole) > 100


@pytest.mark.parametrize("seed", [1, 2, 5])
def test_every_seed_makes_valid_structures_corsica_included(seed: int) -> None:
    fixed = fixed_part(seed)
    structures = {p.structure for p in fixed.pros if p.structure}
    assert all(finess_valid(f) for f in structures)
