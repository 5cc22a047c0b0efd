"""What a kiosk journey checks of a consent given in person (docs/receipts.md,
co-presence): the server's receipt carries both cards, whose certificates name the
person who consented and the professional, and their signatures of the draft hold."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from cardreader.profile import PATIENT_AID, PROFESSIONAL_AID
from cardreader.signature import copresence_challenge, signed_message
from dmp.demo import RunningDemo
from server.models import Receipt


def holder(part: dict[str, Any]) -> str:
    """The card holder's identifier (INS, or national id) from its certificate."""
    certificate = x509.load_der_x509_certificate(base64.b64decode(part["certificate"]))
    return str(certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)[0].value)


def _signed(part: dict[str, Any], aid: bytes, challenge: bytes) -> None:
    certificate = x509.load_der_x509_certificate(base64.b64decode(part["certificate"]))
    key = certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    message = signed_message(aid, bytes.fromhex(part["serial"]), challenge)
    key.verify(base64.b64decode(part["signature"]), message, ec.ECDSA(hashes.SHA256()))


def last_copresence(running: RunningDemo, action: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The newest receipt of `action`: its co-presence part (signatures checked) and the
    draft both cards signed."""
    rt = running.server_app.extensions["dmp"]
    with rt.sessions() as s:
        row = s.scalars(
            select(Receipt).where(Receipt.action == action).order_by(Receipt.id.desc())
        ).first()
        assert row is not None, action
        content = json.loads(row.content)
    part: dict[str, Any] = content["change"]["copresence"]
    draft = base64.b64decode(part["draft"])
    challenge = copresence_challenge(draft)
    _signed(part["patient_card"], PATIENT_AID, challenge)
    _signed(part["professional_card"], PROFESSIONAL_AID, challenge)
    return part, json.loads(draft)


def last_receipt_id(running: RunningDemo, action: str) -> str:
    """The id of the newest receipt of `action`, as the server issued it."""
    rt = running.server_app.extensions["dmp"]
    with rt.sessions() as s:
        found = s.scalar(
            select(Receipt.receipt_id).where(Receipt.action == action).order_by(Receipt.id.desc())
        )
    assert found is not None, action
    return str(found)
