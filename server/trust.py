"""Trust anchors and certificate verification for card and kiosk certificates.

The server trusts exactly what PKI_DIR holds: `ca-bundle.pem` (root and intermediate CA
certificates) and `crl-bundle.pem` (one CRL per CA). Chains are verified by hand with
`cryptography`: its `x509.verification` module implements the TLS (RFC 5280 + CA/B
Forum) profile, which rejects our custom EKUs, so the checks our profile needs are done
here, in this order: chain signature up to a self-signed root of the bundle, basic
constraints, validity dates of every link, key usage and critical extensions of the
leaf, extended key usage (the certificate kind), the issuing CA certified for that kind
(its certificate carries the kind's policy), the kind's policy asserted by the leaf,
revocation of the leaf and its intermediate.

Why the issuer check: every intermediate of the bundle chains to the same root, so
without it a leaf with the right EKU passed whichever CA signed it, and the key of one CA
(the kiosk CA, say) could mint another kind of certificate (a professional card).

Both bundles are parsed once and cached; a change of either file (inode, size or
mtime: `dmp pki revoke` replaces the file atomically) reloads them on the next check,
so a revocation takes effect without restarting the server. A missing or stale CRL
fails closed.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtensionOID

from cardreader.profile import EKU_POLICIES
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
    return der_fingerprint(certificate.public_bytes(Encoding.DER))


def der_fingerprint(der: bytes) -> str:
    """SHA-256 of a certificate's DER, hex: how certificates are named and pinned."""
    return hashlib.sha256(der).hexdigest()


@dataclass
class Anchors:
    """One parsed state of the two bundles."""

    roots: list[x509.Certificate]
    # intermediate -> the root it verified under (checked once, at load)
    intermediates: list[tuple[x509.Certificate, x509.Certificate]]
    # CA subject (DER) -> (revoked serials, next_update), only from CRLs whose signature
    # verified under that CA
    crls: dict[bytes, tuple[frozenset[int], datetime]]
    # (leaf fingerprint, EKU) -> what this state says of it: the chain signature and the
    # other fixed checks run once per certificate and state; dates and CRL freshness are
    # still compared with the time of every call (Verdict.check)
    verdicts: dict[tuple[str, str], Verdict] = field(default_factory=dict)


class TrustStore:
    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self._paths = (str(self.directory / CA_BUNDLE), str(self.directory / CRL_BUNDLE))
        self._lock = threading.Lock()
        self._stamp: tuple[tuple[int, int, int], ...] | None = None
        self._anchors: Anchors | None = None
        self._parsed: dict[str, x509.Certificate] = {}
        self._parsed_der: dict[bytes, x509.Certificate] = {}
        self._pinned: dict[str, tuple[x509.Certificate, PublicKeyTypes]] = {}

    @property
    def configured(self) -> bool:
        return (self.directory / CA_BUNDLE).is_file()

    def anchors(self) -> Anchors:
        # Both files are looked at on every check (a revocation takes effect at once);
        # plain os.stat on prepared strings, as this runs several times per sign-in.
        paths = self._paths
        try:
            stats = [os.stat(p) for p in paths]
        except OSError:
            raise PkiUnavailable from None
        stamp = tuple((s.st_ino, s.st_size, s.st_mtime_ns) for s in stats)
        with self._lock:
            if self._anchors is None or stamp != self._stamp:
                try:
                    self._anchors = _load(Path(paths[0]).read_bytes(), Path(paths[1]).read_bytes())
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

    def pinned(self, pem: str, sha256: str) -> tuple[x509.Certificate, PublicKeyTypes]:
        """A pinned certificate and its public key, both made once."""
        entry = self._pinned.get(sha256)
        if entry is None:
            certificate = self.parsed(pem, sha256)
            entry = (certificate, certificate.public_key())
            if len(self._pinned) >= _CHAIN_CACHE_MAX:
                self._pinned.clear()
            self._pinned[sha256] = entry
        return entry

    def parsed_der(self, der: bytes) -> x509.Certificate:
        """A certificate sent in a request (a card's), parsed once per distinct value."""
        certificate = self._parsed_der.get(der)
        if certificate is None:
            certificate = x509.load_der_x509_certificate(der)  # ValueError if malformed
            if len(self._parsed_der) >= _CHAIN_CACHE_MAX:
                self._parsed_der.clear()
            self._parsed_der[der] = certificate
        return certificate

    def verify(
        self, leaf: x509.Certificate, now: datetime, eku: str, *, sha256: str | None = None
    ) -> None:
        """Raises TrustError(reason) unless `leaf` is a valid end-entity certificate of
        the bundle's PKI, carrying `eku`, unrevoked at `now`. `sha256`: the leaf's
        fingerprint when the caller already has it (it keys the verdict cache)."""
        anchors = self.anchors()
        key = (sha256 or fingerprint(leaf), eku)
        verdict = anchors.verdicts.get(key)
        if verdict is None:
            verdict = _verdict(anchors, leaf, eku)
            if len(anchors.verdicts) >= _CHAIN_CACHE_MAX:
                anchors.verdicts.clear()
            anchors.verdicts[key] = verdict
        verdict.check(now)

    def issuer(self, leaf: x509.Certificate) -> x509.Certificate:
        """The intermediate CA of the bundle that issued `leaf` (after `verify`): what a
        co-presence receipt carries so that anyone checks a card's chain to the root."""
        return _chain(self.anchors(), leaf)[0]


@dataclass(frozen=True, slots=True)
class Verdict:
    """What one state of the anchors says of one leaf for one EKU, reduced to the checks
    that depend on the time: computed once (the chain signature, usage, EKU and CRL
    lookups cost more than the ECDSA verification of a sign-in), then `check(now)`
    answers exactly as the full sequence of checks would, in the same order."""

    failure: str | None  # the chain itself is untrusted
    validity: tuple[tuple[datetime, datetime], ...]  # root, intermediate, leaf
    static: str | None  # usage, EKU, issuer or policy failure, found after the dates
    # per CRL consulted, in order: (next update, None when there is no CRL; revoked?)
    revocation: tuple[tuple[datetime | None, bool], ...]

    def check(self, now: datetime) -> None:
        if self.failure:
            raise TrustError(self.failure)
        for not_before, not_after in self.validity:
            if now < not_before:
                raise TrustError("certificate_not_yet_valid")
            if now > not_after:
                raise TrustError("certificate_expired")
        if self.static:
            raise TrustError(self.static)
        for next_update, revoked in self.revocation:
            if next_update is None or now > next_update:
                raise TrustError("revocation_unknown")
            if revoked:
                raise TrustError("certificate_revoked")


def _verdict(anchors: Anchors, leaf: x509.Certificate, eku: str) -> Verdict:
    try:
        intermediate, root = _chain(anchors, leaf)
    except TrustError as exc:
        return Verdict(exc.reason, (), None, ())
    validity = tuple(
        (link.not_valid_before_utc, link.not_valid_after_utc) for link in (root, intermediate, leaf)
    )
    static: str | None = None
    try:
        _check_leaf_usage(leaf)
        _check_kind(leaf, intermediate, eku)
    except TrustError as exc:
        static = exc.reason
    revocation = tuple(
        _revocation(anchors, ca, serial)
        for ca, serial in ((root, intermediate.serial_number), (intermediate, leaf.serial_number))
    )
    return Verdict(None, validity, static, revocation)


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
    for intermediate, root in anchors.intermediates:
        if intermediate.subject == leaf.issuer and _signed_by(leaf, intermediate):
            return intermediate, root
    raise TrustError("certificate_untrusted")


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


def _check_kind(leaf: x509.Certificate, issuer: x509.Certificate, eku: str) -> None:
    """The leaf is of the kind `eku` names, from the CA that issues that kind."""
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        raise TrustError("wrong_certificate_kind") from None
    if x509.ObjectIdentifier(eku) not in usages:
        raise TrustError("wrong_certificate_kind")
    policy = EKU_POLICIES.get(eku)
    # Explicitly: a CA asserting anyPolicy is certified for no kind in particular.
    if policy is None or policy not in _policies(issuer):
        raise TrustError("certificate_wrong_issuer")
    if policy not in _policies(leaf):
        raise TrustError("certificate_policy_invalid")


def _policies(certificate: x509.Certificate) -> frozenset[str]:
    try:
        extension = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return frozenset()
    return frozenset(p.policy_identifier.dotted_string for p in extension.value)


def _revocation(
    anchors: Anchors, ca: x509.Certificate, serial: int
) -> tuple[datetime | None, bool]:
    entry = anchors.crls.get(ca.subject.public_bytes())
    if entry is None:
        return None, False
    return entry[1], serial in entry[0]
