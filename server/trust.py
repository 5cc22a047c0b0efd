"""Trust anchors and certificate verification for card and kiosk certificates.

The server trusts exactly what PKI_DIR holds: `ca-bundle.pem` (root and intermediate CA
certificates) and `crl-bundle.pem` (one CRL per CA). Chains are verified by hand with
`cryptography`: its `x509.verification` module implements the TLS (RFC 5280 + CA/B
Forum) profile, which rejects our custom EKUs, so the checks our profile needs are done
here, in this order: chain signature up to a self-signed root of the bundle, basic
constraints, validity dates of every link, key usage and critical extensions of the
leaf, extended key usage (the card kind), revocation of the leaf and its intermediate.

Both bundles are parsed once and cached; a change of either file (inode, size or
mtime: `dmp pki revoke` replaces the file atomically) reloads them on the next check,
so a revocation takes effect without restarting the server. A missing or stale CRL
fails closed.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from server.errors import DmpError

CA_BUNDLE = "ca-bundle.pem"
CRL_BUNDLE = "crl-bundle.pem"
# A leaf may mark only these extensions critical; any other critical extension is one we
# do not understand, and RFC 5280 §4.2 says to refuse the certificate then.
_LEAF_CRITICAL_OK = frozenset({ExtensionOID.BASIC_CONSTRAINTS, ExtensionOID.KEY_USAGE})
_CHAIN_CACHE_MAX = 10_000


class PkiUnavailable(DmpError):
    """PKI_DIR is missing or unreadable: card and kiosk authentication cannot run."""

    status = 503
    error = "unavailable"

    def __init__(self) -> None:
        super().__init__(
            "pki_not_configured",
            "PKI non configurée : l'authentification par carte est indisponible.",
        )


class TrustError(Exception):
    """A certificate failed a check; `reason` names the check (for the trace only)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def fingerprint(certificate: x509.Certificate) -> str:
    return hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest()


@dataclass
class Anchors:
    """One parsed state of the two bundles."""

    roots: list[x509.Certificate]
    # intermediate -> the root it verified under (checked once, at load)
    intermediates: list[tuple[x509.Certificate, x509.Certificate]]
    # CA subject (DER) -> (revoked serials, next_update), only from CRLs whose signature
    # verified under that CA
    crls: dict[bytes, tuple[frozenset[int], datetime]]
    # leaf fingerprint -> index in `intermediates`: the chain signatures are checked once
    # per certificate and state; dates and revocation are checked on every call
    chain_cache: dict[str, int] = field(default_factory=dict)


class TrustStore:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[int, int, int], ...] | None = None
        self._anchors: Anchors | None = None
        self._parsed: dict[str, x509.Certificate] = {}

    @property
    def configured(self) -> bool:
        return (self.directory / CA_BUNDLE).is_file()

    def anchors(self) -> Anchors:
        paths = (self.directory / CA_BUNDLE, self.directory / CRL_BUNDLE)
        try:
            stats = [p.stat() for p in paths]
        except OSError:
            raise PkiUnavailable from None
        stamp = tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in stats)
        with self._lock:
            if self._anchors is None or stamp != self._stamp:
                try:
                    self._anchors = _load(paths[0].read_bytes(), paths[1].read_bytes())
                except (OSError, ValueError):
                    raise PkiUnavailable from None
                self._stamp = stamp
            return self._anchors

    def parsed(self, pem: str, sha256: str) -> x509.Certificate:
        """A pinned certificate, parsed once (kiosk certificates are used per request)."""
        certificate = self._parsed.get(sha256)
        if certificate is None:
            certificate = x509.load_pem_x509_certificate(pem.encode("ascii"))
            if len(self._parsed) >= _CHAIN_CACHE_MAX:
                self._parsed.clear()
            self._parsed[sha256] = certificate
        return certificate

    def verify(self, leaf: x509.Certificate, now: datetime, eku: str) -> None:
        """Raises TrustError(reason) unless `leaf` is a valid end-entity certificate of
        the bundle's PKI, carrying `eku`, unrevoked at `now`."""
        anchors = self.anchors()
        intermediate, root = _chain(anchors, leaf)
        for link in (root, intermediate, leaf):
            if now < link.not_valid_before_utc:
                raise TrustError("certificate_not_yet_valid")
            if now > link.not_valid_after_utc:
                raise TrustError("certificate_expired")
        _check_leaf_usage(leaf)
        try:
            usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        except x509.ExtensionNotFound:
            raise TrustError("wrong_certificate_kind") from None
        if x509.ObjectIdentifier(eku) not in usages:
            raise TrustError("wrong_certificate_kind")
        _check_revocation(anchors, root, intermediate.serial_number, now)
        _check_revocation(anchors, intermediate, leaf.serial_number, now)


def _load(ca_pem: bytes, crl_pem: bytes) -> Anchors:
    cas = x509.load_pem_x509_certificates(ca_pem)
    roots = [c for c in cas if c.issuer == c.subject and _is_ca(c) and _signed_by(c, c)]
    intermediates = [
        (c, root)
        for c in cas
        if c.issuer != c.subject and _is_ca(c)
        for root in roots
        if _signed_by(c, root)
    ]
    crls: dict[bytes, tuple[frozenset[int], datetime]] = {}
    for crl in _load_crls(crl_pem):
        issuer = next(
            (
                ca
                for ca in cas
                if ca.subject == crl.issuer and crl.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
            ),
            None,
        )
        if issuer is None or crl.next_update_utc is None:
            continue  # a CRL we cannot authenticate counts as no CRL: checks fail closed
        crls[issuer.subject.public_bytes()] = (
            frozenset(r.serial_number for r in crl),
            crl.next_update_utc,
        )
    return Anchors(roots, intermediates, crls)


def _load_crls(pem: bytes) -> Iterable[x509.CertificateRevocationList]:
    marker = b"-----END X509 CRL-----"
    for chunk in pem.split(marker):
        if b"-----BEGIN X509 CRL-----" in chunk:
            yield x509.load_pem_x509_crl(chunk.strip() + b"\n" + marker + b"\n")


def _is_ca(certificate: x509.Certificate) -> bool:
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
        usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca and usage.value.key_cert_sign


def _signed_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _chain(anchors: Anchors, leaf: x509.Certificate) -> tuple[x509.Certificate, x509.Certificate]:
    key = fingerprint(leaf)
    index = anchors.chain_cache.get(key)
    if index is None:
        index = next(
            (
                i
                for i, (ca, _root) in enumerate(anchors.intermediates)
                if ca.subject == leaf.issuer and _signed_by(leaf, ca)
            ),
            None,
        )
        if index is None:
            raise TrustError("certificate_untrusted")
        if len(anchors.chain_cache) >= _CHAIN_CACHE_MAX:
            anchors.chain_cache.clear()
        anchors.chain_cache[key] = index
    return anchors.intermediates[index]


def _check_leaf_usage(leaf: x509.Certificate) -> None:
    try:
        constraints = leaf.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        raise TrustError("certificate_usage_invalid") from None
    if constraints.ca or not usage.digital_signature:
        raise TrustError("certificate_usage_invalid")
    if any(e.critical and e.oid not in _LEAF_CRITICAL_OK for e in leaf.extensions):
        raise TrustError("certificate_usage_invalid")


def _check_revocation(anchors: Anchors, ca: x509.Certificate, serial: int, now: datetime) -> None:
    entry = anchors.crls.get(ca.subject.public_bytes())
    if entry is None or now > entry[1]:
        raise TrustError("revocation_unknown")
    if serial in entry[0]:
        raise TrustError("certificate_revoked")
