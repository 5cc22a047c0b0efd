"""Search beside the listing, in one run, in a dossier of 500 documents of French text.

    python -m bench.search_bench [--db URL] [--documents 500] [--iterations 1000]
                                 [--out FILE.json]
    python -m bench.search_bench --smoke      # 40 documents, a few dozen requests

In one process: the records server's Flask app on a migrated database (a temporary
SQLite file unless --db), a médecin traitant's session, one dossier, and N text/plain
documents of generated French clinical text (200-400 words each, a seeded vocabulary)
deposited through the API, which indexes them as it would in production. Then, in the
same loop, alternately: the listing of every document (`?all=true`), and a search
cycling over a rare word, a frequent word, a typed prefix and two words. Each request is
timed from the WSGI call to the last byte, on an environ built beforehand (building a
request is client work), as bench/signin_bench.py does. Reported: median, p95, p99 of
both and the ratio of the p99s (the issue's target: search p99 at most 1.5 x the
listing's), the documents each search returned, the index size per document, and text
deposits of the same run with and without the index.
Any answer other than 200 is an error and the run exits 1.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import random
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sqlalchemy import event, func, select, text
from werkzeug.test import EnvironBuilder

from bench.population import master_key_b64
from bench.server_bench import receipt_signer_settings
from bench.signin_bench import summary
from bench.wsgi_timing import timed_call
from server.app import create_app
from server.migrate import upgrade
from server.models import Document, Patient, Professional, SearchPosting
from server.policy import ActorKind
from server.search import indexer
from server.signin import sessions

TARGET_RATIO = 1.5
LISTINGS_WITHOUT_INDEX = 100
SEED = 11
GP_NID = "810002813839"
INS = "279035121518989"

# A seeded vocabulary of French clinical writing: the words repeat across documents as
# they do in a real record (a few frequent words, many rare ones).
OPENINGS = [
    "Compte rendu de consultation.",
    "Courrier de sortie d'hospitalisation.",
    "Compte rendu opératoire.",
    "Lettre de liaison au médecin traitant.",
    "Ordonnance et conseils.",
]
FINDINGS = [
    "hypertension artérielle",
    "diabète de type 2",
    "insuffisance rénale chronique",
    "hépatite B chronique",
    "allergie à la pénicilline",
    "fibrillation atriale",
    "asthme allergique",
    "hypothyroïdie",
    "dyslipidémie",
    "lombalgie chronique",
    "anémie ferriprive",
    "bronchopneumopathie obstructive",
    "insuffisance cardiaque",
    "arthrose du genou",
    "syndrome dépressif",
    "migraine sans aura",
]
DRUGS = [
    "amlodipine 5 mg",
    "metformine 1000 mg",
    "ramipril 10 mg",
    "lévothyroxine 75 µg",
    "atorvastatine 20 mg",
    "apixaban 5 mg",
    "paracétamol 1 g",
    "salbutamol",
    "sertraline 50 mg",
    "furosémide 40 mg",
]
EXAMS = [
    "échographie abdominale",
    "électrocardiogramme",
    "radiographie thoracique",
    "bilan biologique",
    "scanner cérébral",
    "IRM lombaire",
    "épreuve d'effort",
]
# About one document in a hundred mentions one of these: what "a rare word" means.
RARE = ["sarcoïdose", "amylose", "porphyrie", "hémochromatose", "myasthénie"]
RESULTS = ["normal", "sans particularité", "à surveiller", "rassurant", "perturbé"]
SENTENCES = [
    "Patient(e) de {age} ans suivi(e) pour {finding}.",
    "Antécédents : {finding} et {finding2}.",
    "Le traitement par {drug} est poursuivi, bien toléré.",
    "On introduit {drug} en raison de {finding}.",
    "L'{exam} réalisé(e) le {day} est {result}.",
    "Pas de signe clinique de {finding2} à l'examen.",
    "Tension artérielle à {ta}/{td} mmHg, fréquence cardiaque {fc} par minute.",
    "Créatinine à {creat} µmol/L, hémoglobine glyquée à {hba1c} %.",
    "Revoir en consultation dans {weeks} semaines avec les résultats.",
    "Éducation thérapeutique réalisée, observance satisfaisante.",
]
QUERIES = [
    ("rare word", "sarcoïdose"),
    ("frequent word", "traitement"),
    ("typed prefix", "hypert"),
    ("two words", "diabète metformine"),
]


def french_text(rng: random.Random) -> str:
    out = [rng.choice(OPENINGS)]
    while sum(len(s.split()) for s in out) < rng.randint(200, 400):
        out.append(
            rng.choice(SENTENCES).format(
                age=rng.randint(18, 95),
                finding=rng.choice(FINDINGS),
                finding2=rng.choice(FINDINGS),
                drug=rng.choice(DRUGS),
                exam=rng.choice(EXAMS),
                result=rng.choice(RESULTS),
                day=date(2026, rng.randint(1, 12), rng.randint(1, 28)).strftime("%d/%m/%Y"),
                ta=rng.randint(100, 180),
                td=rng.randint(60, 100),
                fc=rng.randint(50, 110),
                creat=rng.randint(50, 200),
                hba1c=round(rng.uniform(5, 10), 1),
                weeks=rng.randint(2, 26),
            )
        )
    if rng.random() < 0.05:
        out.insert(1, f"Bilan étiologique : {rng.choice(RARE)} évoquée.")
    return " ".join(out)


class Bench:
    def __init__(self, workdir: Path, db_url: str | None, documents: int) -> None:
        url = db_url or f"sqlite:///{workdir / 'bench.sqlite'}"
        upgrade(url)
        self.app = create_app(
            {
                "DATABASE_URL": url,
                # A --db given twice is bound to the bench key it was first opened with.
                "MASTER_KEY": master_key_b64(create=True)
                if db_url
                else base64.b64encode(os.urandom(32)).decode(),
                "MASTER_KEY_FILE": str(workdir / "unused.key"),
                # The bench's dossier is created with a consent, which gets its receipt.
                **receipt_signer_settings(workdir),
            }
        )
        rt = self.app.extensions["dmp"]
        self.rt = rt
        with rt.sessions() as s:
            # A --db given twice gets a fresh patient and dossier each run.
            gp = s.scalars(select(Professional).where(Professional.national_id == GP_NID)).first()
            if gp is None:
                gp = Professional(
                    national_id=GP_NID,
                    first_name="Claire",
                    last_name="Martin",
                    profession="medecin_generaliste",
                    structure_finess="750000010",
                    active=True,
                )
                s.add(gp)
                s.flush()
            token = sessions.open_session(rt.ctx(s), ActorKind.PROFESSIONAL, gp.id, None)
            s.commit()
        self.headers = {"Authorization": f"Bearer {token}"}
        client = self.app.test_client()
        ins = self._free_ins()
        r = client.post(
            "/api/v1/dossiers",
            json={
                "patient": {
                    "ins": ins,
                    "birth_name": "DURAND",
                    "first_names": "Marie",
                    "birth_date": "1979-03-15",
                    "sex": "F",
                    "birth_place": "51215",
                },
                "consent": {"given": True, "terminal": "bench"},
                "medecin_traitant": GP_NID,
            },
            headers=self.headers,
        )
        if r.status_code != 201:
            raise RuntimeError(f"dossier: {r.status_code} {r.get_data(as_text=True)}")
        self.dossier_id = int(r.get_json()["dossier_id"])
        rng = random.Random(SEED)
        self.deposit_s: list[float] = []
        for i in range(documents):
            body = {
                "category": "compte_rendu",
                "type_code": "11488-4",
                "title": f"{rng.choice(OPENINGS)[:-1]} {i + 1}",
                "mime_type": "text/plain",
                "content_base64": base64.b64encode(french_text(rng).encode()).decode(),
            }
            start = time.perf_counter()
            r = client.post(
                f"/api/v1/dossiers/{self.dossier_id}/documents", json=body, headers=self.headers
            )
            self.deposit_s.append(time.perf_counter() - start)
            if r.status_code != 201:
                raise RuntimeError(f"deposit: {r.status_code} {r.get_data(as_text=True)}")
        # The background indexer's work (server/search/indexer.py), timed: the searches
        # below then find these documents by their postings, as once `dmp worker` has
        # caught up (a search also confirms queued documents, but that is the moment
        # right after a deposit, not the steady state measured here).
        # The listing before any posting exists (the index empty), for the comparison
        # with the listing of the measured loop, on the same documents.
        self.client = client
        before = self.environ(f"/api/v1/dossiers/{self.dossier_id}/documents?all=true")
        self.listing_without_index: list[float] = []
        for i in range(LISTINGS_WITHOUT_INDEX + 10):
            took, status, _body = self.serve(dict(before))
            if status != 200:
                raise RuntimeError(f"listing: {status}")
            if i >= 10:
                self.listing_without_index.append(took)
        start = time.perf_counter()
        indexed = indexer.drain(rt)
        took = time.perf_counter() - start
        self.indexing = {
            "documents": indexed,
            "seconds": round(took, 3),
            "documents_per_second": round(indexed / took, 1) if took else None,
        }
        self.documents = documents
        self.rng = rng
        self.client = client

    def deposits_with_and_without_index(self, pairs: int) -> dict[str, list[float]]:
        """Seconds of text deposits into the same dossier, alternately with the search
        index and without it (the same run, the same dossier growing): what the index
        adds to a deposit. All a deposit does for the index is to store its document
        queued (`documents.search_queued`, the background indexer does the rest); without
        the index, the documents are stored unqueued (a mapper event clears the flag
        before the INSERT), so that nothing would ever index them. Called after the
        measured loop: these documents change nothing that was measured."""

        def unqueued(_mapper: Any, _conn: Any, doc: Document) -> None:
            doc.search_queued = False

        out: dict[str, list[float]] = {"with_index": [], "without_index": []}
        for i in range(2 * pairs):
            without = i % 2 == 1
            body = {
                "category": "compte_rendu",
                "type_code": "11488-4",
                "title": f"Contrôle {i}",
                "mime_type": "text/plain",
                "content_base64": base64.b64encode(french_text(self.rng).encode()).decode(),
            }
            if without:
                event.listen(Document, "before_insert", unqueued)
            try:
                start = time.perf_counter()
                r = self.client.post(
                    f"/api/v1/dossiers/{self.dossier_id}/documents", json=body, headers=self.headers
                )
                took = time.perf_counter() - start
            finally:
                if without:
                    event.remove(Document, "before_insert", unqueued)
            if r.status_code != 201:
                raise RuntimeError(f"deposit: {r.status_code} {r.get_data(as_text=True)}")
            out["without_index" if without else "with_index"].append(took)
        with self.rt.sessions() as s:
            queued = s.scalar(
                select(func.count()).where(
                    Document.dossier_id == self.dossier_id,
                    Document.title.like("Contrôle %"),
                    Document.search_queued.is_(True),
                )
            )
        if queued != pairs:  # the switch did not take: the comparison would be a lie
            raise RuntimeError(f"{queued} deposits queued for indexing, {pairs} expected")
        return out

    def _free_ins(self) -> str:
        """The test INS the first time, then other valid ones (a --db reused)."""
        with self.rt.sessions() as s:
            taken = set(s.scalars(select(Patient.ins)))
        for n in range(10_000):
            body = f"2790351{215 + n:03d}{18 + n % 80:03d}"[:13]
            candidate = body + f"{97 - int(body) % 97:02d}"
            if candidate not in taken and (n or candidate == INS):
                return candidate
        raise RuntimeError("no free INS")

    def environ(self, path: str) -> dict[str, Any]:
        return EnvironBuilder(path=path, method="GET", headers=self.headers).get_environ()

    def serve(self, environ: dict[str, Any]) -> tuple[float, int, bytes]:
        return timed_call(self.app, environ)

    def index_size(self) -> dict[str, Any]:
        with self.rt.sessions() as s:
            postings = s.scalar(
                select(func.count())
                .select_from(SearchPosting)
                .where(SearchPosting.dossier_id == self.dossier_id)
            )
            out: dict[str, Any] = {
                "postings_per_document": round((postings or 0) / self.documents, 1),
                # Three 4-byte integers per posting, before the engine's overhead.
                "payload_bytes_per_document": round(12 * (postings or 0) / self.documents),
            }
            if s.get_bind().dialect.name == "postgresql":
                size = s.scalar(text("SELECT pg_total_relation_size('search_postings')"))
                total = s.scalar(select(func.count()).select_from(SearchPosting))
                out["postgresql_bytes_per_posting"] = round((size or 0) / max(total or 1, 1), 1)
                out["postgresql_bytes_per_document"] = round(
                    out["postgresql_bytes_per_posting"] * (postings or 0) / self.documents
                )
        return out

    def close(self) -> None:
        self.rt.engine.dispose()


def run(documents: int, iterations: int, warmup: int, db_url: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="dmp-search-bench-") as tmp:
        bench = Bench(Path(tmp), db_url, documents)
        try:
            base = f"/api/v1/dossiers/{bench.dossier_id}"
            listing = bench.environ(base + "/documents?all=true")
            searches = [
                (name, bench.environ(f"{base}/search?{urlencode({'q': q})}")) for name, q in QUERIES
            ]
            samples: dict[str, list[float]] = {"listing": [], "search": []}
            per_query: dict[str, list[float]] = {name: [] for name, _ in QUERIES}
            returned: dict[str, int] = {}
            listed = 0
            for i in range(warmup + iterations):
                # A fresh environ each time: WSGI input streams are read once.
                took, status, body = bench.serve(dict(listing))
                if status != 200:
                    raise RuntimeError(f"listing: {status} {body.decode()}")
                listed = len(json.loads(body)["documents"])
                name, environ = searches[i % len(searches)]
                took_search, status, body = bench.serve(dict(environ))
                if status != 200:
                    raise RuntimeError(f"search {name}: {status} {body.decode()}")
                returned[name] = json.loads(body)["count"]
                if i >= warmup:
                    samples["listing"].append(took)
                    samples["search"].append(took_search)
                    per_query[name].append(took_search)
            size = bench.index_size()
            deposits = summary(bench.deposit_s)
            # After the searches: these extra documents do not change what was measured.
            compared = bench.deposits_with_and_without_index(10 if documents < 100 else 100)
        finally:
            bench.close()
    stats = {name: summary(values) for name, values in samples.items()}
    ratio = round(stats["search"]["p99_ms"] / stats["listing"]["p99_ms"], 3)
    return {
        "bench": "search",
        "at": datetime.now(UTC).isoformat(),
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "database": (db_url or "sqlite (temporary file)").split("://")[0],
        "documents": documents,
        "listed": listed,
        "iterations": iterations,
        **stats,
        "per_query": {
            name: {**summary(values), "returned": returned[name]}
            for name, values in per_query.items()
        },
        "p99_ratio": ratio,
        "target_ratio": TARGET_RATIO,
        "target_met": ratio <= TARGET_RATIO,
        "index": size,
        "deposit_with_indexing": deposits,
        "background_indexing": bench.indexing,
        "listing_before_indexing": summary(bench.listing_without_index),
        "deposit_same_run": {name: summary(values) for name, values in compared.items()},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--documents", type=int, default=500)
    parser.add_argument("--iterations", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--smoke", action="store_true", help="a small run, no figures")
    parser.add_argument("--out", type=Path, help="write the JSON report there")
    args = parser.parse_args(argv)
    documents, iterations, warmup = (
        (40, 24, 4) if args.smoke else (args.documents, args.iterations, args.warmup)
    )
    report = run(documents, iterations, warmup, args.db)
    print(
        f"search vs listing, {documents} documents, {iterations} iterations each, "
        f"{report['database']}"
    )
    print(f"{'':28}{'median':>10}{'p95':>10}{'p99':>10}  (ms)")
    rows = [("listing (all)", report["listing"]), ("search (all queries)", report["search"])]
    rows += [(f"  {name}", stats) for name, stats in report["per_query"].items()]
    for label, stats in rows:
        print(
            f"{label:28}{stats['median_ms']:>10.3f}{stats['p95_ms']:>10.3f}{stats['p99_ms']:>10.3f}"
        )
    verdict = "met" if report["target_met"] else "NOT met"
    print(
        f"search p99 / listing p99: {report['p99_ratio']:.2f} "
        f"(target <= {TARGET_RATIO}: {verdict}); listing shows {report['listed']} documents"
    )
    print(
        "returned: "
        + ", ".join(f"{name} {stats['returned']}" for name, stats in report["per_query"].items())
    )
    print(f"index: {report['index']}")
    empty = report["listing_before_indexing"]
    print(
        f"listing before the index was built (no posting yet): {empty['median_ms']:.2f} ms "
        f"median, {empty['p99_ms']:.2f} ms p99"
    )
    work = report["background_indexing"]
    print(
        f"background indexer: {work['documents']} documents in {work['seconds']} s "
        f"({work['documents_per_second']} documents/s)"
    )
    same = report["deposit_same_run"]
    print(
        "deposit, same run, with / without the index: "
        f"{same['with_index']['median_ms']:.2f} / {same['without_index']['median_ms']:.2f} ms "
        f"median, {same['with_index']['p95_ms']:.2f} / {same['without_index']['p95_ms']:.2f} ms p95"
    )
    if args.out:
        args.out.write_text(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
