"""Signed kiosk requests: the canonical bytes a kiosk signs, and the kiosk's signing.

Shared by the kiosk (which signs) and the server (which verifies,
`server.signin.kiosk_identity`). It imports nothing but the standard library and
`cryptography`: the kiosk must not load the server's database code.

A kiosk sends three headers:

    X-DMP-Kiosk:     its registered name
    X-DMP-Date:      the request time, RFC 3339 UTC to the second ("2026-11-22T14:09:12Z")
    X-DMP-Signature: base64 of a DER ECDSA P-256 / SHA-256 signature of
                     canonical_request(kiosk, method, path?query, date, body)
"""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

HEADER_KIOSK = "X-DMP-Kiosk"
HEADER_DATE = "X-DMP-Date"
HEADER_SIGNATURE = "X-DMP-Signature"
HEADERS = (HEADER_KIOSK, HEADER_DATE, HEADER_SIGNATURE)
SCHEME = "DMP-KIOSK-REQUEST-v1"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def canonical_request(kiosk: str, method: str, target: str, date: str, body: bytes) -> bytes:
    """What the kiosk signs. `target` is the path with its raw query string, if any."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((SCHEME, kiosk, method.upper(), target, date, digest)).encode()


def sign_request(
    key: ec.EllipticCurvePrivateKey,
    kiosk: str,
    method: str,
    target: str,
    body: bytes,
    now: datetime,
) -> dict[str, str]:
    """The kiosk side: the three headers for one request."""
    date = now.astimezone(UTC).strftime(DATE_FORMAT)
    signature = key.sign(
        canonical_request(kiosk, method, target, date, body), ec.ECDSA(hashes.SHA256())
    )
    return {
        HEADER_KIOSK: kiosk,
        HEADER_DATE: date,
        HEADER_SIGNATURE: base64.b64encode(signature).decode(),
    }
