"""The records server's receipt signer: a key and its certificate chain, from settings.

Receipts (docs/receipts.md) are signed as CMS SignedData (RFC 5652), detached, DER, by
`cryptography`'s PKCS7SignatureBuilder, so that anyone verifies one offline with
`openssl cms -verify` against the published chain. The key and chain come from
RECEIPT_SIGNER_KEY_FILE and RECEIPT_SIGNER_CHAIN_FILE (`dmp pki issue-receipt-signer`
makes both). Without them the server still starts, but no consent-bearing change is
made: each answers 503 `receipt_signer_not_configured`, because a change the patient
could not prove afterwards is exactly what receipts exist to prevent. A signer that is
configured but unusable (unreadable, mismatched, wrong usage, broken chain) stops the
server at startup instead, with the reason.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from cardreader.profile import EKU_DOCUMENT_SIGNING
from server.errors import DmpError

KEY_SETTING = "RECEIPT_SIGNER_KEY_FILE"
CHAIN_SETTING = "RECEIPT_SIGNER_CHAIN_FILE"
# Binary: the content is signed byte for byte (no S/MIME CRLF canonicalisation);
# NoCapabilities: an S/MIME capabilities attribute says nothing useful of a receipt.
SIGN_OPTIONS = [
    pkcs7.PKCS7Options.DetachedSignature,
    pkcs7.PKCS7Options.Binary,
    pkcs7.PKCS7Options.NoCapabilities,
]


class ReceiptSignerError(Exception):
    """The configured signer cannot be used: the server refuses to start."""


class SignerUnavailable(DmpError):
    """No usable signer right now: receipts, and so consent-bearing changes, wait."""

    status = 503
    error = "unavailable"

    def __init__(self, reason: str = "receipt_signer_not_configured") -> None:
        super().__init__(
            reason,
            "Reçus signés indisponibles : aucune modification de consentement n'est "
            "possible pour le moment. / Signed receipts unavailable: consent changes "
            "cannot be made right now.",
        )


@dataclass(frozen=True)
class ReceiptSigner:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    chain: tuple[x509.Certificate, ...]  # the signer's certificate first, the root last

    @property
    def certificate(self) -> x509.Certificate:
        return self.chain[0]

    @property
    def serial_hex(self) -> str:
        return format(self.certificate.serial_number, "x")

    def chain_pem(self) -> bytes:
        return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in self.chain)

    def sign(self, content: bytes, now: datetime) -> bytes:
        """Detached CMS SignedData over `content`, DER; the intermediates ride along so a
        verifier needs only the root. Refused past the certificate's validity: a receipt
        signed by an expired certificate would not verify, and would prove nothing."""
        if not self.certificate.not_valid_before_utc <= now <= self.certificate.not_valid_after_utc:
            raise SignerUnavailable("receipt_signer_expired")
        builder = (
            pkcs7.PKCS7SignatureBuilder()
            .set_data(content)
            .add_signer(self.certificate, self.key, hashes.SHA256())
        )
        for certificate in self.chain[1:-1]:
            builder = builder.add_certificate(certificate)
        return builder.sign(serialization.Encoding.DER, SIGN_OPTIONS)


def configured(settings: dict[str, Any]) -> bool:
    return bool(settings.get(KEY_SETTING)) or bool(settings.get(CHAIN_SETTING))


def from_settings(settings: dict[str, Any], now: datetime) -> ReceiptSigner | None:
    """The configured signer, checked; None when neither setting is set."""
    if not configured(settings):
        return None
    key_file, chain_file = settings.get(KEY_SETTING), settings.get(CHAIN_SETTING)
    if not key_file or not chain_file:
        raise ReceiptSignerError(f"set both {KEY_SETTING} and {CHAIN_SETTING}, or neither")
    return load(Path(key_file), Path(chain_file), now)


def load(key_file: Path, chain_file: Path, now: datetime) -> ReceiptSigner:
    try:
        key = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        chain = tuple(x509.load_pem_x509_certificates(chain_file.read_bytes()))
    except (OSError, ValueError, TypeError) as exc:
        raise ReceiptSignerError(f"receipt signer unreadable: {exc}") from exc
    if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise ReceiptSignerError(f"{key_file}: an EC or RSA private key is expected")
    check_chain(key, chain, now)
    return ReceiptSigner(key, chain)


def check_chain(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    chain: tuple[x509.Certificate, ...],
    now: datetime,
) -> None:
    """What a verifier will check, checked once at startup, with a reason each."""
    if len(chain) < 2:
        raise ReceiptSignerError("the chain file must hold the signer's certificate up to the root")
    leaf = chain[0]
    if leaf.public_key() != key.public_key():
        raise ReceiptSignerError("the key does not match the chain's first certificate")
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = None
    if usages is None or x509.ObjectIdentifier(EKU_DOCUMENT_SIGNING) not in usages:
        raise ReceiptSignerError(
            "the signer's certificate lacks the document signing usage (RFC 9336): "
            "issue one with `dmp pki issue-receipt-signer`"
        )
    for child, parent in itertools.pairwise(chain):
        try:
            child.verify_directly_issued_by(parent)
        except (ValueError, TypeError, InvalidSignature) as exc:
            raise ReceiptSignerError(
                f"chain broken: {child.subject.rfc4514_string()} is not issued by the next "
                "certificate (order: signer first, root last)"
            ) from exc
    root = chain[-1]
    try:
        root.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise ReceiptSignerError("the chain's last certificate is not a self-signed root") from exc
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise ReceiptSignerError("the signer's certificate is not valid now")
