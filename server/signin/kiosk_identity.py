"""Kiosk identity: every kiosk-to-server request is signed with the kiosk's own key.

A kiosk sends four headers, made by `server.signin.request_signing` (shared with the
kiosk, which must not import this module).

The server checks them against the certificate pinned at registration (`dmp
kiosk-admin register`), which must still chain to the kiosk CA, carry the kiosk EKU and
be absent from the current CRL; the date must be within KIOSK_CLOCK_SKEW_SECONDS; the
signature must be the low-s one of its ECDSA pair; and each signed request is accepted
once: the SHA-256 of what was signed (the canonical request, which names the kiosk and
carries the date and a random nonce) is stored until its date leaves the window, so a
captured request cannot be replayed, on this worker or any other, with its signature as
sent or malleated.

Why signed requests rather than mutual TLS: TLS usually ends at a reverse proxy in front
of the application servers, which would then have to forward the client identity in a
header the application must trust; a signature travels end to end through any proxy,
covers the body, and is verified where the decision is made.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from cardreader.profile import EKU_KIOSK
from server.db import core
from server.models import Kiosk, KioskRequestSeen, table_of
from server.services.context import Ctx
from server.signin.events import SigninAction, SigninFailure, SigninReason
from server.signin.request_signing import (
    HEADERS,
    canonical_request,
    is_low_s,
    valid_nonce,
)
from server.trust import TrustError, TrustStore, fingerprint

_MAX_SIGNATURE = 200  # base64 of a 72-byte DER signature is 96 characters
_KIOSK_TRUST_REASONS = {
    "certificate_untrusted": SigninReason.KIOSK_CERTIFICATE_UNTRUSTED,
    "certificate_expired": SigninReason.KIOSK_CERTIFICATE_EXPIRED,
    "certificate_not_yet_valid": SigninReason.KIOSK_CERTIFICATE_NOT_YET_VALID,
    "certificate_revoked": SigninReason.KIOSK_REVOKED,
    "certificate_usage_invalid": SigninReason.KIOSK_CERTIFICATE_INVALID,
    "wrong_certificate_kind": SigninReason.KIOSK_CERTIFICATE_INVALID,
    "certificate_wrong_issuer": SigninReason.KIOSK_CERTIFICATE_WRONG_ISSUER,
    "certificate_policy_invalid": SigninReason.KIOSK_CERTIFICATE_POLICY_INVALID,
    "revocation_unknown": SigninReason.REVOCATION_UNKNOWN,
}
_K = table_of(Kiosk)
# Core, built once: every kiosk request runs these.
_KIOSK_BY_NAME = select(_K.c.id, _K.c.name, _K.c.revoked_at, _K.c.cert_pem, _K.c.cert_sha256).where(
    _K.c.name == bindparam("name")
)
_REMEMBER = insert(table_of(KioskRequestSeen))
_DIRECTORY_MAX = 10_000


@dataclass(frozen=True, slots=True)
class VerifiedKiosk:
    id: int
    name: str


class KioskDirectory:
    """Registered kiosks as read from the database a few seconds ago, for the one route
    that may act on such a row: asking for a sign-in challenge (no write, nothing
    returned but a challenge that only a request checked against the database can use).
    Every other request reads its kiosk row afresh, so an operator's revocation holds
    from the next request on; here it holds within `ttl` seconds."""

    def __init__(self, ttl: float = 5.0) -> None:
        self._ttl = ttl
        self._rows: dict[str, tuple[Any, float]] = {}

    def get(self, ctx: Ctx, name: str) -> Any:
        hit = self._rows.get(name)
        now = time.monotonic()
        if hit is not None and now - hit[1] < self._ttl:
            return hit[0]
        row = _kiosk_row(ctx, name)
        if row is not None:
            if len(self._rows) >= _DIRECTORY_MAX:
                self._rows.clear()
            self._rows[name] = (row, now)
        return row


def verify_request(
    ctx: Ctx,
    trust: TrustStore,
    method: str,
    target: str,
    headers: Mapping[str, str | None],
    body: bytes,
    *,
    remember: bool = True,
    directory: KioskDirectory | None = None,
) -> VerifiedKiosk | None:
    """The verified kiosk behind a request, or None when it carries no kiosk header at
    all (callers that are not kiosks). Raises SigninFailure on any failed check.

    `remember=False` skips the replay record, for requests whose replay cannot succeed
    or changes nothing: asking for a sign-in challenge (the answer is a fresh challenge
    bound to the same kiosk) and signing in (the body's challenge is single use).
    `directory`: read the kiosk row from there (see KioskDirectory) instead of the
    database."""
    values = [headers.get(name) for name in HEADERS]
    if all(v is None for v in values):
        return None
    name, date, nonce, signature_b64 = values
    if (
        not name
        or not date
        or not nonce
        or not signature_b64
        or len(signature_b64) > _MAX_SIGNATURE
    ):
        raise _refused(SigninReason.KIOSK_SIGNATURE_MISSING)
    trust.anchors()  # PkiUnavailable (503) before anything else when PKI_DIR is absent
    kiosk = directory.get(ctx, name) if directory is not None else _kiosk_row(ctx, name)
    if kiosk is None:
        raise _refused(SigninReason.UNKNOWN_KIOSK)
    if kiosk.revoked_at is not None:
        raise _refused(SigninReason.KIOSK_REVOKED)
    sent_at = _parse_date(date)
    skew = timedelta(seconds=ctx.settings["KIOSK_CLOCK_SKEW_SECONDS"])
    if abs(ctx.now - sent_at) > skew:
        raise _refused(SigninReason.REQUEST_STALE)
    if not valid_nonce(nonce):
        raise _refused(SigninReason.REQUEST_NONCE_INVALID)
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        low = is_low_s(signature)
    except (binascii.Error, ValueError):
        raise _refused(SigninReason.KIOSK_SIGNATURE_INVALID) from None
    if not low:
        # (r, n - s) verifies as well as (r, s): only one of the pair is taken, so that a
        # signature cannot be changed into another valid one of the same request.
        raise _refused(SigninReason.KIOSK_SIGNATURE_NOT_CANONICAL)
    certificate, public_key = trust.pinned(kiosk.cert_pem, kiosk.cert_sha256)
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise _refused(SigninReason.KIOSK_CERTIFICATE_INVALID)
    signed = canonical_request(name, method, target, date, nonce, body)
    try:
        public_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise _refused(SigninReason.KIOSK_SIGNATURE_INVALID) from None
    # The pinned certificate is checked again on every request: a kiosk revoked in the
    # CRL after registration is refused from the next request on.
    check_kiosk_certificate(trust, certificate, ctx.now, kiosk.cert_sha256)
    if remember:
        _remember(ctx, kiosk.id, signed, sent_at + skew)
    return VerifiedKiosk(kiosk.id, kiosk.name)


def _refused(reason: SigninReason) -> SigninFailure:
    return SigninFailure(reason, SigninAction.KIOSK)


def _kiosk_row(ctx: Ctx, name: str) -> Any:
    return core(ctx.session).execute(_KIOSK_BY_NAME, {"name": name}).first()


def _parse_date(date: str) -> datetime:
    # Exactly request_signing.DATE_FORMAT ("2026-11-22T14:09:12Z"); fromisoformat alone
    # would also take dates without a time, offsets and fractions. (strptime cost a tenth
    # of a request.)
    shape = (date[4:5], date[7:8], date[10:11], date[13:14], date[16:17], date[19:])
    if len(date) == 20 and shape == ("-", "-", "T", ":", ":", "Z") and date.isascii():
        try:
            return datetime.fromisoformat(date[:19]).replace(tzinfo=UTC)
        except ValueError:
            pass
    raise _refused(SigninReason.REQUEST_DATE_INVALID)


def check_kiosk_certificate(
    trust: TrustStore, certificate: x509.Certificate, now: datetime, sha256: str | None = None
) -> None:
    try:
        trust.verify(certificate, now, EKU_KIOSK, sha256=sha256)
    except TrustError as exc:
        raise _refused(_KIOSK_TRUST_REASONS.get(exc.reason) or SigninReason(exc.reason)) from None


def _remember(ctx: Ctx, kiosk_id: int, signed: bytes, until: datetime) -> None:
    # Keyed on what was signed, not on the signature: a signature can be altered into
    # another valid one of the same bytes (ECDSA malleability, or any future encoding
    # slack), the signed bytes cannot. The nonce in them keeps two honest requests apart;
    # the same bytes twice are a replay. No savepoint: on a replay the caller rolls the
    # whole transaction back before writing the trace entry.
    try:
        core(ctx.session).execute(
            _REMEMBER,
            {
                "request_sha256": hashlib.sha256(signed).hexdigest(),
                "kiosk_id": kiosk_id,
                "expires_at": until,
            },
        )
    except IntegrityError:
        raise _refused(SigninReason.REQUEST_REPLAYED) from None


def forget_expired(ctx: Ctx, kiosk: VerifiedKiosk) -> None:
    """Drops the kiosk's remembered requests whose date left the skew window (the date
    check refuses those anyway). Called once per sign-in, not on every request."""
    ctx.session.execute(
        delete(KioskRequestSeen).where(
            KioskRequestSeen.kiosk_id == kiosk.id, KioskRequestSeen.expires_at < ctx.now
        )
    )


def register(ctx: Ctx, trust: TrustStore, name: str, certificate_pem: bytes) -> Kiosk:
    """Pins a kiosk certificate under `name` after checking it like every request will."""
    certificate = x509.load_pem_x509_certificate(certificate_pem)
    check_kiosk_certificate(trust, certificate, ctx.now)
    kiosk = Kiosk(
        name=name,
        cert_sha256=fingerprint(certificate),
        cert_pem=certificate_pem.decode("ascii"),
        registered_at=ctx.now,
    )
    ctx.session.add(kiosk)
    ctx.session.flush()
    return kiosk
