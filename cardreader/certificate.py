"""Light certificate checks the kiosk can do before sending anything to the server.

These are conveniences for a friendly "carte non reconnue" early; the authoritative
checks (signature, chain, validity, revocation) happen on the server.
"""

from __future__ import annotations

from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID

from .errors import MalformedCardDataError, UntrustedCardError
from .profile import KIND_EKUS, CardKind
from .signature import card_serial


def parse_certificate(der: bytes) -> x509.Certificate:
    try:
        return x509.load_der_x509_certificate(der)
    except ValueError as exc:
        raise MalformedCardDataError("card certificate is not valid DER X.509") from exc


def check_card_certificate(
    certificate: x509.Certificate,
    kind: CardKind,
    serial: bytes,
    trusted_issuers: Sequence[x509.Certificate] = (),
) -> None:
    """Raise unless the certificate is a `kind` card certificate for this card serial."""
    try:
        usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except (x509.ExtensionNotFound, ValueError) as exc:
        raise MalformedCardDataError("card certificate has no extended key usage") from exc
    if x509.ObjectIdentifier(KIND_EKUS[kind]) not in usages:
        raise UntrustedCardError(f"certificate is not a {kind} card certificate")
    if ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE in usages:
        raise UntrustedCardError("card certificate claims any extended key usage")
    if (
        certificate.serial_number.bit_length() > 8 * len(serial)
        or card_serial(certificate.serial_number) != serial
    ):
        raise MalformedCardDataError("certificate serial differs from the card serial")
    if trusted_issuers and not any(_issued_by(certificate, ca) for ca in trusted_issuers):
        raise UntrustedCardError("card certificate is not issued by an expected CA")


def _issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        certificate.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True
