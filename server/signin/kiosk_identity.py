"""Terminal identity: every kiosk-to-server request is signed with the kiosk's own key,
and so is every request of a registered software (a professional's record-keeping
software, the insurer's system): the same headers, the same canonical bytes, the same
checks, the same replay record. Only what is pinned differs (below, "Software").

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

Software: its vendor generates its own P-256 key pair; an operator pins the public key
(`dmp terminal register`, `register_software`), no CA involved, as no health-sector CA
issues keys to software here. Revocation is the operator's (`revoke`). `kind` says what
the terminal may do: "software" relays card sign-ins of professionals, "insurer" signs
in as the insurer's institutional identity (terminal_signin.py), "kiosk" both card kinds.

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
from enum import StrEnum
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from cardreader.profile import EKU_KIOSK
from server.db import core
from server.models import ApiSession, Kiosk, KioskRequestSeen, ServiceAccount, table_of
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
_KIOSK_BY_NAME = select(
    _K.c.id,
    _K.c.name,
    _K.c.kind,
    _K.c.service_account_id,
    _K.c.revoked_at,
    _K.c.cert_pem,
    _K.c.cert_sha256,
).where(_K.c.name == bindparam("name"))
_REMEMBER = insert(table_of(KioskRequestSeen))
_DIRECTORY_MAX = 10_000
_PINNED_KEYS: dict[str, ec.EllipticCurvePublicKey] = {}


class TerminalKind(StrEnum):
    KIOSK = "kiosk"  # a kiosk: certificate from the kiosk CA; both card kinds
    SOFTWARE = "software"  # a professional's software: pinned key; professional cards
    INSURER = "insurer"  # the insurer's system: pinned key; machine sign-in, no card
    ONLINE = "online"  # the patients' online space: pinned key; password sign-ins, no card


@dataclass(frozen=True, slots=True)
class VerifiedKiosk:
    """A terminal whose request signature verified (a kiosk, or a registered software)."""

    id: int
    name: str
    kind: TerminalKind = TerminalKind.KIOSK
    service_account_id: int | None = None  # an insurer terminal's institutional identity


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
    kiosk = directory.get(ctx, name) if directory is not None else _kiosk_row(ctx, name)
    if kiosk is None or kiosk.kind == TerminalKind.KIOSK:
        # PkiUnavailable (503) when PKI_DIR is absent: kiosks need it, software does not.
        trust.anchors()
    if kiosk is None:
        raise _refused(SigninReason.UNKNOWN_KIOSK)
    kind = TerminalKind(kiosk.kind)
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
    certificate = None
    if kind is TerminalKind.KIOSK:
        certificate, public_key = trust.pinned(kiosk.cert_pem, kiosk.cert_sha256)
    else:
        public_key = pinned_key(kiosk.cert_pem, kiosk.cert_sha256)
    if not isinstance(public_key, ec.EllipticCurvePublicKey):
        raise _refused(SigninReason.KIOSK_CERTIFICATE_INVALID)
    signed = canonical_request(name, method, target, date, nonce, body)
    try:
        public_key.verify(signature, signed, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise _refused(SigninReason.KIOSK_SIGNATURE_INVALID) from None
    if certificate is not None:
        # The pinned certificate is checked again on every request: a kiosk revoked in
        # the CRL after registration is refused from the next request on.
        check_kiosk_certificate(trust, certificate, ctx.now, kiosk.cert_sha256)
    if remember:
        _remember(ctx, kiosk.id, signed, sent_at + skew)
    return VerifiedKiosk(kiosk.id, kiosk.name, kind, kiosk.service_account_id)


def pinned_key(pem: str, sha256: str) -> ec.EllipticCurvePublicKey:
    """A software terminal's pinned public key, loaded once per fingerprint."""
    key = _PINNED_KEYS.get(sha256)
    if key is None:
        loaded = serialization.load_pem_public_key(pem.encode("ascii"))
        if not isinstance(loaded, ec.EllipticCurvePublicKey):
            raise _refused(SigninReason.KIOSK_CERTIFICATE_INVALID)
        if len(_PINNED_KEYS) >= _DIRECTORY_MAX:
            _PINNED_KEYS.clear()
        _PINNED_KEYS[sha256] = key = loaded
    return key


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


class RegistrationRefused(ValueError):
    """A software terminal that cannot be registered (the message says why)."""


def key_fingerprint(public_key: ec.EllipticCurvePublicKey) -> str:
    """SHA-256 of the DER SubjectPublicKeyInfo: what pins a software terminal's key."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def register_software(
    ctx: Ctx,
    name: str,
    kind: TerminalKind,
    public_key_pem: bytes,
    account: str | None = None,
) -> Kiosk:
    """Pins a software terminal's public key under `name`. An insurer terminal names the
    institutional identity it signs in as (`account`, created on first use)."""
    if kind is TerminalKind.KIOSK:
        raise RegistrationRefused("a kiosk is registered with its certificate (kiosk-admin)")
    if not name or len(name) > 100 or not name.isascii() or not name.isprintable():
        raise RegistrationRefused("the name must be 1 to 100 printable ASCII characters")
    try:
        key = serialization.load_pem_public_key(public_key_pem)
    except ValueError:
        raise RegistrationRefused("not a PEM public key") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.name != "secp256r1":
        raise RegistrationRefused("the key must be an ECDSA P-256 public key")
    sha = key_fingerprint(key)
    for other in ctx.session.scalars(select(Kiosk).where(Kiosk.kind == TerminalKind.KIOSK)):
        # One key, one terminal: a kiosk's key pinned again as software would let the
        # kiosk speak under two identities.
        pinned = x509.load_pem_x509_certificate(other.cert_pem.encode()).public_key()
        if isinstance(pinned, ec.EllipticCurvePublicKey) and key_fingerprint(pinned) == sha:
            raise RegistrationRefused(f"this key is the key of kiosk {other.name}")
    account_id = None
    if kind is TerminalKind.INSURER:
        if not account:
            raise RegistrationRefused("an insurer terminal needs --account")
        found = ctx.session.scalars(
            select(ServiceAccount).where(ServiceAccount.name == account)
        ).first()
        if found is None:
            found = ServiceAccount(name=account, kind="insurer")
            ctx.session.add(found)
            ctx.session.flush()
        elif found.kind != "insurer":
            raise RegistrationRefused(f"{account} is not an insurer account")
        account_id = found.id
    elif account:
        raise RegistrationRefused("only an insurer terminal signs in as an account")
    terminal = Kiosk(
        name=name,
        kind=kind.value,
        cert_sha256=sha,
        cert_pem=key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        ).decode("ascii"),
        service_account_id=account_id,
        registered_at=ctx.now,
    )
    ctx.session.add(terminal)
    ctx.session.flush()
    return terminal


def revoke(ctx: Ctx, name: str) -> int | None:
    """Refuses every request of terminal `name` from now on and ends its open sessions
    (they could not be used without its signature anyway; ending them says so in the
    database too). The number of sessions ended, None for an unknown name."""
    terminal = ctx.session.scalars(select(Kiosk).where(Kiosk.name == name)).first()
    if terminal is None:
        return None
    terminal.revoked_at = terminal.revoked_at or ctx.now
    ended = ctx.session.execute(
        update(ApiSession)
        .where(ApiSession.kiosk == name, ApiSession.ended_at.is_(None))
        .values(ended_at=ctx.now)
    )
    return int(getattr(ended, "rowcount", 0) or 0)
