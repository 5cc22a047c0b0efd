"""OCR throughput of the background worker: scanned pages read per second.

    python -m bench.ocr_bench [--documents 20] [--pages 3] [--workers 1] [--db URL]
                              [--out FILE.json]
    python -m bench.ocr_bench --smoke        # two one-page scans, figures meaningless

The bench deposits scanned PDFs (A4 pages typed in French with a real font, rendered to
images at 200 DPI and embedded without a text layer, as a scanner makes them), each
sealed under its dossier key with a pending text row, exactly what a deposit leaves for
the worker. Then it starts `--workers` worker processes (`server.ocr_worker.run`, as
`dmp worker` runs it) and times the wall clock until every text is ready: decryption,
rendering, Tesseract (fra+eng, one thread per process), sealing and the commits. The
pages per second are pages read over that time. Word recall (the share of the typed words
found in the decrypted OCR text) checks that speed was not bought with nonsense.

The database is a temporary SQLite file unless --db names an empty one (the bench
refuses a database with patients: it never wipes anything).
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import multiprocessing
import os
import platform
import random
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen import canvas
from sqlalchemy import func, select

FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")
A4_POINTS = (595, 842)
A4_200_DPI = (1654, 2339)
LINES_PER_PAGE = 22
SENTENCES = [
    "Patient vu en consultation pour suivi de son hypertension artérielle.",
    "Pas de douleur thoracique, pas de dyspnée, examen cardiaque normal.",
    "Tension artérielle mesurée à quinze sur neuf aux deux bras.",
    "Traitement poursuivi par amlodipine cinq milligrammes le matin.",
    "Bilan biologique : créatinine et kaliémie dans les normes.",
    "Allergie connue à la pénicilline, urticaire en deux mille dix.",
    "Vaccination antigrippale réalisée ce jour, lot noté au carnet.",
    "Radiographie pulmonaire sans anomalie, pas de foyer visible.",
    "Glycémie à jeun légèrement élevée, contrôle dans trois mois.",
    "Conseils hygiéno-diététiques donnés, activité physique régulière.",
    "Courrier adressé au cardiologue pour avis complémentaire.",
    "Prochaine consultation prévue dans six semaines au cabinet.",
]


def scanned_pdf(rng: random.Random, pages: int) -> tuple[bytes, list[str]]:
    """A scanned PDF of `pages` typed pages, and the lines typed on it."""
    if not FONT.exists():
        raise SystemExit(f"{FONT} missing: apt-get install fonts-dejavu-core")
    typeface = ImageFont.truetype(str(FONT), 32)
    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4_POINTS)
    typed: list[str] = []
    for _ in range(pages):
        image = Image.new("L", A4_200_DPI, 255)
        draw = ImageDraw.Draw(image)
        for n in range(LINES_PER_PAGE):
            line = rng.choice(SENTENCES)
            typed.append(line)
            draw.text((120, 140 + n * 90), line, fill=0, font=typeface)
        png = io.BytesIO()
        image.save(png, "PNG")
        pdf.drawImage(ImageReader(png), 0, 0, width=A4_POINTS[0], height=A4_POINTS[1])
        pdf.showPage()
    pdf.save()
    return out.getvalue(), typed


def prepare(settings: dict[str, Any], documents: int, pages: int, seed: int) -> list[list[str]]:
    """One patient's dossier with `documents` scans waiting for OCR; the typed lines."""
    from server.app import build_runtime
    from server.models import (
        Document,
        DocumentContent,
        DocumentText,
        Dossier,
        Patient,
        Professional,
    )

    rng = random.Random(seed)
    rt = build_runtime(settings)
    typed: list[list[str]] = []
    try:
        with rt.sessions() as s:
            if s.scalar(select(func.count()).select_from(Patient)):
                raise SystemExit("the database has patients: give the bench an empty one")
            now = datetime.now(UTC)
            pro = Professional(
                national_id="810002813839",
                first_name="Bench",
                last_name="OCR",
                profession="medecin_generaliste",
                structure_finess="750000010",
                active=True,
            )
            patient = Patient(
                ins="279035121518989",
                ins_oid="1.2.250.1.213.1.4.10",
                birth_name="BENCH",
                first_names="Ocr",
                birth_date=date(1979, 3, 15),
                sex="F",
                birth_place="51215",
                notify_channel="none",
                created_at=now,
            )
            s.add_all([pro, patient])
            s.flush()
            dossier = Dossier(
                patient_id=patient.id,
                status="active",
                created_at=now,
                consent_collected_by=f"professional:{pro.id}",
                consent_at=now,
                consent_terminal="bench",
                wrapped_key=rt.keyring.new_wrapped_key(),
            )
            s.add(dossier)
            s.flush()
            assert dossier.wrapped_key is not None
            for _ in range(documents):
                body, lines = scanned_pdf(rng, pages)
                typed.append(lines)
                doc = Document(
                    dossier_id=dossier.id,
                    unique_id=f"urn:uuid:{uuid.uuid4()}",
                    logical_id=str(uuid.uuid4()),
                    entry_uuid=str(uuid.uuid4()),
                    category="compte_rendu",
                    type_code="11488-4",
                    title="Compte rendu scanné",
                    author_professional_id=pro.id,
                    created_at=now,
                    submitted_at=now,
                    mime_type="application/pdf",
                    size=len(body),
                    sha256="0" * 64,
                    status="current",
                    version=1,
                )
                s.add(doc)
                s.flush()
                nonce, sealed = rt.keyring.encrypt(dossier.wrapped_key, body, doc.logical_id)
                s.add(DocumentContent(document_id=doc.id, nonce=nonce, ciphertext=sealed))
                s.add(
                    DocumentText(document_id=doc.id, status="pending", attempts=0, updated_at=now)
                )
            s.commit()
    finally:
        rt.engine.dispose()
    return typed


def _worker(settings: dict[str, Any], ready: Any, go: Any, results: Any) -> None:
    """One worker process: reads until nothing is due, as `dmp worker --once` would.
    The clock starts once every worker has started (imports are not OCR)."""
    from server import ocr_worker
    from server.app import build_runtime

    rt = build_runtime(settings)
    try:
        ready.put(True)
        go.wait()
        results.put(ocr_worker.run(rt, threading.Event(), poll_seconds=0.1, once=True))
    finally:
        rt.engine.dispose()


def read_back(settings: dict[str, Any], typed: list[list[str]]) -> dict[str, Any]:
    """Statuses, and the share of typed words found in the decrypted texts."""
    from server.app import build_runtime
    from server.models import Document, DocumentText, Dossier

    rt = build_runtime(settings)
    statuses: dict[str, int] = {}
    found = expected = 0
    try:
        with rt.sessions() as s:
            rows = s.execute(
                select(DocumentText, Document, Dossier)
                .join(Document, Document.id == DocumentText.document_id)
                .join(Dossier, Dossier.id == Document.dossier_id)
                .order_by(Document.id)
            ).all()
            for (text, doc, dossier), lines in zip(rows, typed, strict=True):
                statuses[text.status] = statuses.get(text.status, 0) + 1
                words = [w.strip(".,:").lower() for line in lines for w in line.split()]
                expected += len(words)
                if text.status != "ready" or text.nonce is None or text.ciphertext is None:
                    continue
                assert dossier.wrapped_key is not None
                read = rt.keyring.decrypt(
                    dossier.wrapped_key, text.nonce, text.ciphertext, f"{doc.logical_id}:text"
                )
                seen = {w.strip(".,:").lower() for w in read.decode().split()}
                found += sum(w in seen for w in words)
    finally:
        rt.engine.dispose()
    return {"statuses": statuses, "word_recall": found / expected if expected else 0.0}


def tesseract_version() -> str:
    out = subprocess.run(
        ["tesseract", "--version"], capture_output=True, text=True, check=False, timeout=30
    )
    return (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"


def run(db_url: str, documents: int, pages: int, workers: int, seed: int) -> dict[str, Any]:
    from server.config import load_settings
    from server.migrate import upgrade

    upgrade(db_url)
    settings = load_settings(
        {"DATABASE_URL": db_url, "MASTER_KEY": base64.b64encode(os.urandom(32)).decode()}
    )
    typed = prepare(settings, documents, pages, seed)
    spawn = multiprocessing.get_context("spawn")  # pdfium: one renderer per process
    started_up, go, results = spawn.Queue(), spawn.Event(), spawn.Queue()
    processes = [
        spawn.Process(target=_worker, args=(settings, started_up, go, results))
        for _ in range(workers)
    ]
    for p in processes:
        p.start()
    for _ in processes:
        started_up.get(timeout=120)
    started = time.perf_counter()
    go.set()
    ready = [results.get(timeout=3600) for _ in processes]
    elapsed = time.perf_counter() - started
    for p in processes:
        p.join()
        if p.exitcode != 0:
            raise SystemExit(f"a worker exited with {p.exitcode}")
    back = read_back(settings, typed)
    total_pages = documents * pages
    return {
        "documents": documents,
        "pages_per_document": pages,
        "pages": total_pages,
        "workers": workers,
        "seconds": round(elapsed, 3),
        "pages_per_second": round(total_pages / elapsed, 3),
        "seconds_per_page_per_worker": round(elapsed * workers / total_pages, 3),
        "ready": sum(ready),
        "statuses": back["statuses"],
        "word_recall": round(back["word_recall"], 4),
        "dpi": 200,
        "tesseract": tesseract_version(),
        "cpus": os.cpu_count(),
        "machine": platform.machine(),
        "database": db_url.split(":", 1)[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=20)
    parser.add_argument("--pages", type=int, default=3, help="pages per document")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--db", help="an empty database (default: a temporary SQLite file)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--smoke", action="store_true", help="two one-page scans")
    parser.add_argument("--out", help="write the JSON report here")
    args = parser.parse_args(argv)
    if args.smoke:
        args.documents, args.pages, args.workers = 2, 1, 1
    with tempfile.TemporaryDirectory(prefix="dmp-ocr-bench-") as tmp:
        db_url = args.db or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        report = run(db_url, args.documents, args.pages, args.workers, args.seed)
    text = json.dumps(report, indent=2)
    if args.out:
        Path(args.out).write_text(text + "\n")
    print(text)
    print(
        f"{report['pages']} page(s) in {report['seconds']} s with {report['workers']} "
        f"worker(s): {report['pages_per_second']} pages/s, word recall "
        f"{report['word_recall']:.1%}"
    )
    return 0 if report["statuses"] == {"ready": args.documents} else 1


if __name__ == "__main__":
    sys.exit(main())
