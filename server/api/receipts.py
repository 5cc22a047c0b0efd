"""Receipt routes (docs/receipts.md): a dossier's receipts, each receipt's canonical
content and detached signature, and the signer's certificate chain.

The content is served as the exact bytes that were signed: a verifier saves the answer
as it is and checks the signature over it, with nothing re-encoded in between.
"""

from __future__ import annotations

import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from flask import Response

from server import receipt_pdf
from server.api import api
from server.api.runtime import run, runtime
from server.api.schemas import RECEIPT_ID, ROW_ID, STR, obj
from server.errors import NotFound
from server.receipt_signer import SignerUnavailable
from server.services import receipts
from server.services.context import Ctx, Principal

TAG = "receipts"
CMS_TYPE = "application/pkcs7-signature"
PEM_TYPE = "application/x-pem-file"
PDF_TYPE = "application/pdf"
RECEIPT_LINE = obj(
    {"receipt_id": RECEIPT_ID, "action": STR, "issued_at": STR, "trace_seq": ROW_ID},
    ["receipt_id", "action", "issued_at", "trace_seq"],
)


@api.route(
    "GET",
    "/dossiers/<int:dossier_id>/receipts",
    "The dossier's signed receipts (read like its history)",
    tag=TAG,
    response=obj({"receipts": {"type": "array", "items": RECEIPT_LINE}}, ["receipts"]),
)
def receipt_list(dossier_id: int) -> Any:
    return run(lambda ctx, who: receipts.list_for(ctx, who, dossier_id))


@api.route(
    "GET",
    "/receipts/certificate",
    "The receipt signer's certificate chain (PEM), up to the root",
    tag=TAG,
    content_type=PEM_TYPE,
    response={"type": "string"},
    public=True,
)
def receipt_certificate() -> Any:
    # Public and untraced like the log's key: it names no one, and a verifier needs it
    # without an account. The root must still be checked against the published one.
    signer = runtime().receipt_signer
    if signer is None:
        raise SignerUnavailable()
    return Response(signer.chain_pem(), 200, mimetype=PEM_TYPE)


@api.route(
    "GET",
    "/receipts/card-roots",
    "The roots of the card PKI the server trusts (PEM): to verify a co-presence receipt",
    tag=TAG,
    content_type=PEM_TYPE,
    response={"type": "string"},
    public=True,
)
def card_roots() -> Any:
    # Public and untraced like the signer's chain: a verifier of a co-presence receipt
    # checks each card up to one of these, after checking the root itself against the
    # fingerprint the card authority publishes (docs/receipts.md).
    trust = runtime().trust
    if not trust.configured:  # a server without card PKI has no card root to publish
        raise NotFound("card_pki_not_configured", "Aucune PKI de cartes sur ce serveur.")
    roots = trust.anchors().roots
    pem = b"".join(root.public_bytes(serialization.Encoding.PEM) for root in roots)
    return Response(pem, 200, mimetype=PEM_TYPE)


@api.route(
    "GET",
    "/receipts/<receipt_id>",
    "A receipt's canonical content: the exact bytes signed",
    tag=TAG,
    response={"type": "object"},
)
def receipt_content(receipt_id: str) -> Any:
    def work(ctx: Ctx, who: Principal) -> Response:
        found = receipts.read(ctx, who, receipt_id, "receipt")
        return Response(found.content, 200, mimetype="application/json")

    return run(work)


@api.route(
    "GET",
    "/receipts/<receipt_id>/signature",
    "A receipt's detached signature (CMS SignedData, DER)",
    tag=TAG,
    content_type=CMS_TYPE,
    response={"type": "string", "format": "binary"},
)
def receipt_signature(receipt_id: str) -> Any:
    def work(ctx: Ctx, who: Principal) -> Response:
        found = receipts.read(ctx, who, receipt_id, "receipt_signature")
        return Response(found.signature, 200, mimetype=CMS_TYPE)

    return run(work)


@api.route(
    "GET",
    "/receipts/<receipt_id>/pdf",
    "A receipt rendered for people (PDF, in French): a reading of it, not the proof",
    tag=TAG,
    content_type=PDF_TYPE,
    response={"type": "string", "format": "binary"},
)
def receipt_pdf_view(receipt_id: str) -> Any:
    def work(ctx: Ctx, who: Principal) -> Response:
        found = receipts.read(ctx, who, receipt_id, "receipt_pdf")
        pdf = receipt_pdf.render(json.loads(found.content))
        response = Response(pdf, 200, mimetype=PDF_TYPE)
        # It names the patient: no cache on the way, and shown, not downloaded.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Content-Disposition"] = f'inline; filename="recu-{receipt_id}.pdf"'
        return response

    return run(work)
