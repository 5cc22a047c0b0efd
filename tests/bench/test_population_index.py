"""The generated population searches like deposited documents (issue #11's benches).

A small population is generated on the suite's database (SQLite or PostgreSQL), then one
of its dossiers is rebuilt through the API (the same documents deposited by the same
authors into a new dossier): the same searches, through the real Flask app, give the
same answers in both. Every sealed text and structure opens to what the server's reader
makes of the stored bytes.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from sqlalchemy import func, select

from bench.population import make_ins, populate
from server.content.limits import Limits
from server.content.understand import understand
from server.crypto import Keyring
from server.models import (
    CareTeamMember,
    Document,
    DocumentContent,
    DocumentStructure,
    DocumentText,
    Dossier,
    Professional,
    SearchPosting,
)
from server.policy import ActorKind
from server.search import indexer, normalise
from server.services.document_text import structure_plain
from server.signin import sessions
from tests.conftest import Clock, wipe

KEY = os.urandom(32)
KEYRING = Keyring(KEY)


@pytest.fixture
def app(
    database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    receipt_signer: Any,
) -> Iterator[Any]:
    """The real app over a freshly generated population (its master key)."""
    from server.app import create_app

    wipe(database_url)
    monkeypatch.setenv("DMP_MASTER_KEY", base64.b64encode(KEY).decode())
    started = time.monotonic()
    report = populate(
        database_url, dossiers=30, docs_per_dossier=8, chunk_size=15, force=True,
        quiet=True, large_share=0.0,
    )  # fmt: skip
    print(
        f"population with index: {report.rows['documents']} documents, "
        f"{report.rows['search_postings']} postings in {time.monotonic() - started:.1f} s"
    )
    settings = {
        "DATABASE_URL": database_url,
        "MASTER_KEY": base64.b64encode(KEY).decode(),
        "MASTER_KEY_FILE": str(tmp_path / "unused.key"),
        # The deposited twin's dossier is created through the API: a consent, signed.
        "RECEIPT_SIGNER_KEY_FILE": str(receipt_signer.key_path),
        "RECEIPT_SIGNER_CHAIN_FILE": str(receipt_signer.chain_path),
    }
    application = create_app(settings, clock=Clock(datetime.now(UTC)))
    yield application
    application.extensions["dmp"].engine.dispose()


class Api:
    def __init__(self, app: Any) -> None:
        self.rt = app.extensions["dmp"]
        self.client = app.test_client()

    def token(self, kind: ActorKind, actor_id: int) -> str:
        with self.rt.sessions() as s:
            token = sessions.open_session(self.rt.ctx(s), kind, actor_id, None)
            s.commit()
        return str(token)

    def call(self, method: str, token: str, path: str, body: Any = None) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        return self.client.open(f"/api/v1{path}", method=method, json=body, headers=headers)


def test_sealed_texts_and_structures_are_what_the_reader_makes_of_the_bytes(app: Any) -> None:
    rt = app.extensions["dmp"]
    statuses: dict[str, int] = {}
    with rt.sessions() as s:
        query = (
            select(Document, DocumentContent, Dossier.wrapped_key)
            .join(DocumentContent, DocumentContent.document_id == Document.id)
            .join(Dossier, Dossier.id == Document.dossier_id)
        )
        for doc, content, wrapped in s.execute(query):
            body = KEYRING.decrypt(wrapped, content.nonce, content.ciphertext, doc.logical_id)
            reading = understand(body, doc.mime_type, Limits())
            # Stored as a deposit stores it: a photo without its metadata (a JPEG is
            # encoded again at each reading, so only its lack of EXIF is comparable).
            if doc.mime_type == "image/jpeg":
                assert b"Exif" not in body
            else:
                assert reading.body == body
            row = s.get(DocumentText, doc.id)
            assert row is not None, doc.mime_type  # the corpus has no RTF
            statuses[row.status] = statuses.get(row.status, 0) + 1
            if reading.text is None:
                assert reading.ocr
                assert row.status == "pending"
                assert row.ciphertext is None
                assert row.next_attempt_at == doc.submitted_at
                assert row.attempts == 0
            else:
                assert row.status == "ready"
                assert row.source == reading.source
                assert row.nonce is not None
                assert row.ciphertext is not None
                aad = f"{doc.logical_id}:text"
                text = KEYRING.decrypt(wrapped, row.nonce, row.ciphertext, aad).decode()
                assert text == reading.text
            structure = s.get(DocumentStructure, doc.id)
            expected = structure_plain(reading)
            if expected is None:
                assert structure is None
            else:
                assert structure is not None
                aad = f"{doc.logical_id}:structure"
                assert KEYRING.decrypt(wrapped, structure.nonce, structure.ciphertext, aad) == (
                    expected
                )
        deleted = s.scalars(select(Document.id).where(Document.status == "deleted")).all()
        indexed = select(func.count()).select_from(SearchPosting)
        assert s.scalar(indexed.where(SearchPosting.document_id.in_(deleted))) == 0
    assert statuses.get("ready", 0) > 100
    assert statuses.get("pending", 0) > 0


def _rebuildable(s: Any) -> tuple[Dossier, list[Document]]:
    """A dossier whose documents an API can deposit again as they are: current first
    versions, no visibility flags, and texts, structures and scans among them."""
    best: tuple[int, Dossier, list[Document]] | None = None
    for dossier in s.scalars(select(Dossier).where(Dossier.medecin_traitant_id.is_not(None))):
        docs = list(
            s.scalars(
                select(Document)
                .where(Document.dossier_id == dossier.id)
                .order_by(Document.submitted_at)
            )
        )
        plain = all(
            d.status == "current" and d.version == 1 and d.replaced_by_id is None
            and not (d.masked_ps or d.invisible_patient or d.invisible_rep)
            for d in docs
        )  # fmt: skip
        if not plain:
            continue
        kinds = {d.mime_type for d in docs}
        score = len(kinds) * 100 + len(docs)
        if best is None or score > best[0]:
            best = (score, dossier, docs)
    assert best is not None, "no dossier to rebuild: raise the population's size"
    return best[1], best[2]


def _queries(texts: list[str], titles: list[str]) -> list[str]:
    """Words of the dossier's own texts and titles, a typed prefix, two-word queries."""
    found: list[str] = []
    for text in texts:
        words = [w for w in normalise.words(text) if len(w) >= 6 and w.isalpha()]
        words = [w for w in words if w not in normalise.STOP_WORDS]
        if len(words) >= 4:
            found += [words[0], words[len(words) // 2][:5], f"{words[1]} {words[-1]}"]
    found += [normalise.words(t)[0] for t in titles[:3]]
    return [*list(dict.fromkeys(found))[:16], "consultation", "traitement", "introuvablexyz"]


def test_a_generated_dossier_searches_like_the_same_documents_deposited_through_the_api(
    app: Any,
) -> None:
    api = Api(app)
    rt = api.rt
    with rt.sessions() as s:
        dossier, docs = _rebuildable(s)
        mt = s.get(Professional, dossier.medecin_traitant_id)
        assert mt is not None
        admissions = s.scalars(
            select(Professional).where(Professional.profession == "admissions")
        ).first()
        assert admissions is not None
        bodies, texts = [], []
        for doc in docs:
            content = s.get(DocumentContent, doc.id)
            assert content is not None
            assert dossier.wrapped_key is not None
            bodies.append(
                KEYRING.decrypt(
                    dossier.wrapped_key, content.nonce, content.ciphertext, doc.logical_id
                )
            )
            reading = understand(bodies[-1], doc.mime_type, Limits())
            if reading.text:
                texts.append(reading.text)
        authors = {d.author_professional_id for d in docs if d.author_professional_id}
        nids = {p.id: p.national_id for p in s.scalars(select(Professional))}
        team = set(
            s.scalars(
                select(CareTeamMember.professional_id).where(
                    CareTeamMember.dossier_id == dossier.id
                )
            )
        )
        s.expunge_all()
    assert len(docs) >= 4
    assert texts

    # The same documents, deposited by the same authors into a new dossier.
    ins, place = make_ins(990_000, "F", date(1970, 5, 4), "75")
    created = api.call(
        "POST",
        api.token(ActorKind.PROFESSIONAL, admissions.id),
        "/dossiers",
        {
            "patient": {
                "ins": ins, "birth_name": "REBATIE", "first_names": "Claire",
                "birth_date": "1970-05-04", "sex": "F", "birth_place": place,
                "email": "claire@example.org",
            },
            "consent": {"given": True, "terminal": "test-kiosk"},
            "medecin_traitant": mt.national_id,
        },
    )  # fmt: skip
    assert created.status_code == 201, created.get_json()
    rebuilt = int(created.get_json()["dossier_id"])
    with rt.sessions() as s:
        patient_id = s.get(Dossier, rebuilt).patient_id
    patient = api.token(ActorKind.PATIENT, patient_id)
    for pro in sorted((authors | team) - {mt.id, None}):
        r = api.call("POST", patient, f"/dossiers/{rebuilt}/care-team", {"national_id": nids[pro]})
        assert r.status_code == 201, r.get_json()
    for doc, body in zip(docs, bodies, strict=True):
        if doc.author_professional_id:
            who = api.token(ActorKind.PROFESSIONAL, doc.author_professional_id)
        elif doc.author_patient_id:
            who = patient
        else:
            who = api.token(ActorKind.INSURER, doc.author_service_id)
        fields: dict[str, Any] = {
            "category": doc.category,
            "type_code": doc.type_code,
            "title": doc.title,
            "mime_type": doc.mime_type,
            "content_base64": base64.b64encode(body).decode(),
            "created_at": doc.created_at.isoformat(),
        }
        if doc.service_start is not None and doc.service_end is not None:
            fields["service_start"] = doc.service_start.isoformat()
            fields["service_end"] = doc.service_end.isoformat()
        r = api.call("POST", who, f"/dossiers/{rebuilt}/documents", fields)
        assert r.status_code == 201, r.get_json()

    reader = api.token(ActorKind.PROFESSIONAL, mt.id)

    def answer(dossier_id: int, q: str) -> tuple[int, list[tuple[str, ...]]]:
        r = api.call("GET", reader, f"/dossiers/{dossier_id}/search?{urlencode({'q': q})}")
        assert r.status_code == 200, r.get_json()
        body = r.get_json()
        hits = [
            (d["title"], d["category"], d["mime_type"], d["snippet"]) for d in body["documents"]
        ]
        return body["count"], sorted(hits)

    queries = _queries(texts, [d.title for d in docs])
    found = 0
    for q in queries:
        generated = answer(dossier.id, q)
        # The deposits wait in the indexer's queue (confirmed against their texts)...
        assert generated == answer(rebuilt, q), q
        found += generated[0] > 0
    # ...and give the same answers once the background indexer has made their postings.
    assert indexer.drain(rt) == len(docs)
    for q in queries:
        assert answer(dossier.id, q) == answer(rebuilt, q), q
    assert found >= len(queries) // 2, queries
    kinds = sorted({d.mime_type for d in docs})
    print(f"{len(queries)} queries, {found} with results, {len(docs)} documents of {kinds}")

    # And each document holds as many postings as its deposited twin (same words, the
    # other dossier's keys).
    with rt.sessions() as s:

        def sizes(dossier_id: int) -> list[int]:
            return list(
                s.scalars(
                    select(func.count(SearchPosting.token))
                    .join(Document, Document.id == SearchPosting.document_id)
                    .where(SearchPosting.dossier_id == dossier_id)
                    .group_by(Document.id)
                    .order_by(Document.submitted_at, Document.id)
                )
            )

        assert sizes(dossier.id) == sizes(rebuilt)
