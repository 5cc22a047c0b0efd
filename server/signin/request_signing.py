"""Signed kiosk requests: the canonical bytes a kiosk signs, and the kiosk's signing.

Shared by the kiosk (which signs) and the server (which verifies,
`server.signin.kiosk_identity`). It imports nothing but the standard library and
`cryptography`: the kiosk must not load the server's database code.

A kiosk sends four headers:

    X-DMP-Kiosk:     its registered name
    X-DMP-Date:      the request time, RFC 3339 UTC to the second ("2026-11-22T14:09:12Z")
    X-DMP-Nonce:     128 random bits, 32 lowercase hex digits, new for every request
    X-DMP-Signature: base64 of a DER ECDSA P-256 / SHA-256 signature, low-s, of
                     canonical_request(kiosk, method, path?query, date, nonce, body)

A registered software (docs/integrators.md) signs its requests exactly so, its
registered name in X-DMP-Kiosk. The insurer's system also signs a sign-in challenge:
`terminal_signin_message` is what it signs, in its own scheme, so that no signed request
can pass for a signed challenge nor the reverse.

The server remembers each accepted request by the SHA-256 of its canonical bytes (what
was signed, not the signature: ECDSA signatures are malleable, `(r, n - s)` verifies as
well as `(r, s)`), so the nonce is what keeps two honest identical requests of the same
second apart. The server also refuses a high-s signature: one request, one signature.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from datetime import UTC, datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

HEADER_KIOSK = "X-DMP-Kiosk"
HEADER_DATE = "X-DMP-Date"
HEADER_NONCE = "X-DMP-Nonce"
HEADER_SIGNATURE = "X-DMP-Signature"
HEADERS = (HEADER_KIOSK, HEADER_DATE, HEADER_NONCE, HEADER_SIGNATURE)
SCHEME = "DMP-KIOSK-REQUEST-v2"
TERMINAL_SIGNIN_SCHEME = "DMP-TERMINAL-SIGNIN-v1"
DATE_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
NONCE_BYTES = 16
_NONCE = re.compile(f"[0-9a-f]{{{2 * NONCE_BYTES}}}")
P256_ORDER = ec.SECP256R1.group_order


def canonical_request(
    kiosk: str, method: str, target: str, date: str, nonce: str, body: bytes
) -> bytes:
    """What the kiosk signs. `target` is the path with its raw query string, if any."""
    digest = hashlib.sha256(body).hexdigest()
    return "\n".join((SCHEME, kiosk, method.upper(), target, date, nonce, digest)).encode()


def valid_nonce(nonce: str) -> bool:
    return _NONCE.fullmatch(nonce) is not None


def is_low_s(signature: bytes) -> bool:
    """Whether a DER ECDSA P-256 signature is the canonical one of its pair (s <= n/2).
    Raises ValueError when `signature` is not a DER ECDSA signature."""
    _r, s = decode_dss_signature(signature)
    return s <= P256_ORDER // 2


def low_s(signature: bytes) -> bytes:
    """The canonical (low-s) form of a DER ECDSA P-256 signature."""
    r, s = decode_dss_signature(signature)
    if s > P256_ORDER // 2:
        s = P256_ORDER - s
    return encode_dss_signature(r, s)


def sign_request(
    key: ec.EllipticCurvePrivateKey,
    kiosk: str,
    method: str,
    target: str,
    body: bytes,
    now: datetime,
) -> dict[str, str]:
    """The kiosk side: the four headers for one request."""
    date = now.astimezone(UTC).strftime(DATE_FORMAT)
    nonce = secrets.token_hex(NONCE_BYTES)
    signature = key.sign(
        canonical_request(kiosk, method, target, date, nonce, body), ec.ECDSA(hashes.SHA256())
    )
    return {
        HEADER_KIOSK: kiosk,
        HEADER_DATE: date,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: base64.b64encode(low_s(signature)).decode(),
    }


def terminal_signin_message(terminal: str, challenge: bytes) -> bytes:
    """What a registered software signs to sign in as its own identity (the insurer's
    system): the server's challenge, named for this terminal."""
    encoded = base64.b64encode(challenge).decode()
    return "\n".join((TERMINAL_SIGNIN_SCHEME, terminal, encoded)).encode()


def sign_terminal_challenge(
    key: ec.EllipticCurvePrivateKey, terminal: str, challenge: bytes
) -> str:
    """The software side: base64 of the low-s signature of `terminal_signin_message`."""
    signature = key.sign(terminal_signin_message(terminal, challenge), ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(low_s(signature)).decode()
