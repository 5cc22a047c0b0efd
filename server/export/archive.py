"""The export's ZIP, assembled in memory from what `gather` decided.

originals/  every document the requester may see, in its original format
dossier.pdf cover, table of contents, each document rendered or attached, history, receipts
fhir-bundle.json  the FHIR R4 Bundle (server/export/fhir_bundle.py)
history.json  the complete access history, as the API gives it
receipts/  each receipt's canonical content (.json), detached CMS signature (.p7s), and
           the signer's certificate chain (certificate-chain.pem)
LISEZMOI.txt  what is where, in French and English
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from datetime import datetime

from server.export import fhir_bundle, pdf
from server.export.gather import Gathered, Opened
from server.export.names import original_name
from server.policy import Matrix

# Already compressed formats are stored as they are: deflating them again costs time
# and gains nothing.
STORED = frozenset({"application/pdf", "image/jpeg", "image/png"})
README = """Export de votre dossier médical partagé / Export of your shared medical record

originals/         vos documents dans leur format d'origine / your documents as deposited
dossier.pdf        le dossier lisible : sommaire, documents, historique, reçus
                   / the readable record: contents, documents, history, receipts
fhir-bundle.json   les mêmes documents au format FHIR R4 (Bundle) / the same as FHIR R4
history.json       l'historique complet des accès / the complete access history
receipts/          vos reçus signés (.json + signature .p7s + certificats)
                   / your signed receipts (content, CMS signature, certificate chain)

Ces fichiers contiennent des données de santé : conservez-les en lieu sûr.
These files hold health data: keep them somewhere safe.
"""


def assemble(
    gathered: Gathered,
    opened: dict[str, Opened],
    *,
    matrix: Matrix,
    now: datetime,
    requester: str,
    chain_pem: bytes | None,
    progress: Callable[[int, int], None] | None = None,
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        z.writestr("LISEZMOI.txt", README)
        for row in gathered.rows:
            found = opened.get(row.logical_id)
            if found is None:
                continue
            kind = zipfile.ZIP_STORED if row.mime_type in STORED else zipfile.ZIP_DEFLATED
            z.writestr(f"originals/{original_name(row)}", found.body, compress_type=kind)
        z.writestr(
            "dossier.pdf",
            pdf.render(gathered, opened, now, requester, progress),
            compress_type=zipfile.ZIP_STORED,
        )
        z.writestr("fhir-bundle.json", fhir_bundle.bundle(gathered, opened, matrix, now))
        history = {
            "format": "dmp-kiosk-history/1",
            "dossier_id": gathered.patient.dossier_id,
            "checkpoint": gathered.checkpoint,
            "entries": gathered.history,
        }
        z.writestr("history.json", json.dumps(history, ensure_ascii=False, indent=1))
        for r in gathered.receipts:
            # The exact bytes signed: a verifier checks the signature over this file.
            z.writestr(f"receipts/{r.receipt_id}.json", r.content)
            z.writestr(f"receipts/{r.receipt_id}.p7s", r.signature)
        if chain_pem is not None:
            z.writestr("receipts/certificate-chain.pem", chain_pem)
    return out.getvalue()
