"""Registered software for the tests (issue #12): a vendor's key, its registration, and a
client signing every request as kiosks do (the same request_signing)."""

from __future__ import annotations

import base64
import json
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from server.models import AuditEntry
from server.services import audit
from server.signin import kiosk_identity, request_signing
from server.signin.kiosk_identity import TerminalKind
from tests.server.cardkit import KioskClient


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def register(app: Any, name: str, kind: str, key: Any, account: str | None = None) -> None:
    rt = app.extensions["dmp"]
    with rt.sessions() as s:
        kiosk_identity.register_software(
            rt.ctx(s), name, TerminalKind(kind), public_pem(key), account
        )
        s.commit()


class SoftwareClient(KioskClient):
    """A registered software: every request signed with its own key, any path."""

    def send(
        self, method: str, target: str, body: bytes = b"", token: str | None = None, **extra: str
    ) -> Any:
        headers = self.headers(method, target, body)
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        headers.update(extra)
        kwargs: dict[str, Any] = {"content_type": "application/json"} if body else {}
        return self.client.open(target, method=method, data=body, headers=headers, **kwargs)

    def insurer_sign_in(self, *, signing_key: Any = None) -> Any:
        """The machine sign-in: a challenge, signed with the pinned key (or another)."""
        r = self.call("POST", "/auth/terminal/challenge")
        if r.status_code != 201:
            return r
        challenge = base64.b64decode(r.get_json()["challenge"])
        signature = request_signing.sign_terminal_challenge(
            signing_key or self.key, self.name, challenge
        )
        body = {"challenge": r.get_json()["challenge"], "signature": signature}
        return self.call("POST", "/auth/terminal/signin", body)


def last_entry(app: Any, chain: str = audit.SYSTEM_CHAIN) -> AuditEntry:
    with app.extensions["dmp"].sessions() as s:
        entry = s.scalars(
            select(AuditEntry).where(AuditEntry.chain == chain).order_by(AuditEntry.seq.desc())
        ).first()
    assert entry is not None
    return entry


def detail(entry: AuditEntry) -> dict[str, Any]:
    value: dict[str, Any] = json.loads(entry.detail) if entry.detail else {}
    return value
