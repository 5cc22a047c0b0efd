"""The TEST PKI standing in for the health PKI (IGC-Santé): CAs, issuing, CRLs.

Everything uses pyca/cryptography. Keys are generated at run time into DIR and never
committed. Layout of DIR (docs/card-profile.md describes it for the server):

    <ca>.pem, <ca>.crl.pem        for ca in CA_NAMES; ca-bundle.pem, crl-bundle.pem
    private/<ca>.key.pem          CA keys (0600, directory 0700)
    kiosks/<name>.{pem,key.pem,chain.pem}, servers/<name>.{pem,key.pem,chain.pem}
    receipt-signers/<name>.{pem,key.pem,chain.pem}   (chain: up to the root, docs/receipts.md)
    pki.json                      CRL numbers and the revoked serials per CA
"""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from ..identity import PatientIdentity, ProfessionalIdentity
from ..profile import (
    ATTR_INS_OID,
    ATTR_STRUCTURE_ID,
    CARD_SERIAL_LENGTH,
    EKU_DOCUMENT_SIGNING,
    EKU_KIOSK,
    EKU_POLICIES,
    EKU_SERVER,
    KIND_EKUS,
    PIN_MAX_TRIES,
    PUK_MAX_TRIES,
    CardKind,
)
from ..signature import card_serial
from .cardfile import CardFile, ReferenceData, write_private_json

ROOT = "root-ca"
PATIENT_CA = "patient-ca"
PROFESSIONAL_CA = "professional-ca"
KIOSK_CA = "kiosk-ca"
SERVER_CA = "server-ca"
CA_NAMES = (ROOT, PATIENT_CA, PROFESSIONAL_CA, KIOSK_CA, SERVER_CA)
_CA_TITLES = {
    ROOT: "Root CA",
    PATIENT_CA: "Patient Card CA",
    PROFESSIONAL_CA: "Professional Card CA",
    KIOSK_CA: "Kiosk CA",
    SERVER_CA: "Server CA",
}
CARD_CAS = {CardKind.PATIENT: PATIENT_CA, CardKind.PROFESSIONAL: PROFESSIONAL_CA}
# What each intermediate CA issues, named by the EKU of that kind: its certificate
# carries that kind's policy (profile.EKU_POLICIES), which hosts require of the issuer.
CA_KINDS = {
    PATIENT_CA: KIND_EKUS[CardKind.PATIENT],
    PROFESSIONAL_CA: KIND_EKUS[CardKind.PROFESSIONAL],
    KIOSK_CA: EKU_KIOSK,
    SERVER_CA: EKU_SERVER,
}
# Kinds a CA issues besides its own: the server CA also certifies the records server's
# receipt signer (a document-signing key, never a TLS one), so its certificate carries
# that policy too and no other CA of the hierarchy can mint a receipt signer.
CA_EXTRA_KINDS = {SERVER_CA: (EKU_DOCUMENT_SIGNING,)}


def ca_kinds(name: str) -> tuple[str, ...]:
    """Every kind (named by its EKU) that the intermediate CA `name` issues."""
    return (CA_KINDS[name], *CA_EXTRA_KINDS.get(name, ()))


ORGANIZATION = "dmp-kiosk TEST PKI (not for production)"

SKEW = timedelta(minutes=5)  # kiosks' clocks drift; a certificate born "now" must verify
ROOT_LIFETIME = timedelta(days=20 * 365)
CA_LIFETIME = timedelta(days=10 * 365)
CARD_LIFETIME = timedelta(days=5 * 365)
DEVICE_LIFETIME = timedelta(days=365)
CRL_LIFETIME = timedelta(days=30)
STATE_FORMAT = "dmp-kiosk-pki/1"


class PkiError(Exception):
    """The PKI directory is missing, incomplete, or asked something impossible."""


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write(path: Path, data: bytes, *, private: bool = False) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    os.replace(temp, path)


def _serial() -> int:
    # Random (unpredictable serials defeat chosen-prefix attacks), positive, and small
    # enough to be the 16-byte card serial as well.
    while True:
        value = secrets.randbits(8 * CARD_SERIAL_LENGTH - 1)
        if value:
            return value


@dataclass(frozen=True)
class CertificateAuthority:
    name: str
    key: ec.EllipticCurvePrivateKey
    certificate: x509.Certificate


@dataclass(frozen=True)
class IssuedDevice:
    key_path: Path
    certificate_path: Path
    chain_path: Path
    certificate: x509.Certificate


class Pki:
    def __init__(self, directory: Path, authorities: dict[str, CertificateAuthority]) -> None:
        self.directory = Path(directory)
        self.authorities = authorities

    # ---- creation and loading -------------------------------------------------------
    @classmethod
    def init(cls, directory: Path, *, now: datetime | None = None) -> Pki:
        directory = Path(directory)
        if (directory / f"{ROOT}.pem").exists():
            raise PkiError(f"{directory} already holds a PKI")
        (directory / "private").mkdir(parents=True, exist_ok=True)
        (directory / "private").chmod(0o700)
        moment = _now(now)
        root_key = _new_key()
        root = CertificateAuthority(ROOT, root_key, _ca_certificate(ROOT, root_key, None, moment))
        authorities = {ROOT: root}
        for name in CA_NAMES[1:]:
            key = _new_key()
            authorities[name] = CertificateAuthority(
                name, key, _ca_certificate(name, key, root, moment)
            )
        for authority in authorities.values():
            _write(
                directory / "private" / f"{authority.name}.key.pem",
                _key_pem(authority.key),
                private=True,
            )
            _write(directory / f"{authority.name}.pem", _pem(authority.certificate))
        bundle = b"".join(_pem(authority.certificate) for authority in authorities.values())
        _write(directory / "ca-bundle.pem", bundle)
        pki = cls(directory, authorities)
        pki._save_state({"format": STATE_FORMAT, "crl_numbers": {}, "revoked": {}})
        pki.publish_crls(now=moment)
        return pki

    @classmethod
    def open(cls, directory: Path) -> Pki:
        directory = Path(directory)
        authorities = {}
        for name in CA_NAMES:
            try:
                pem = (directory / f"{name}.pem").read_bytes()
                certificate = x509.load_pem_x509_certificate(pem)
                key = serialization.load_pem_private_key(
                    (directory / "private" / f"{name}.key.pem").read_bytes(), password=None
                )
            except (OSError, ValueError) as exc:
                raise PkiError(f"no usable PKI in {directory} ({name}): {exc}") from exc
            if not isinstance(key, ec.EllipticCurvePrivateKey):
                raise PkiError(f"{name} key is not an EC key")
            if name in CA_KINDS and not _asserts(certificate, CA_KINDS[name]):
                # Its leaves would be refused by every host (wrong issuer): say so now.
                raise PkiError(
                    f"{directory} was made before certificate policies (issue 10): "
                    "make a new one with `dmp pki init`"
                )
            authorities[name] = CertificateAuthority(name, key, certificate)
        return cls(directory, authorities)

    @classmethod
    def open_or_init(cls, directory: Path) -> Pki:
        if (Path(directory) / f"{ROOT}.pem").exists():
            return cls.open(directory)
        return cls.init(directory)

    # ---- issuing --------------------------------------------------------------------
    def issue_card(
        self,
        identity: PatientIdentity | ProfessionalIdentity,
        *,
        pin: str | None = None,
        puk: str | None = None,
        demo: bool = False,
        now: datetime | None = None,
    ) -> CardFile:
        """Key pair, certificate and card file for one holder (not yet written to disk)."""
        kind = CardKind.PATIENT if isinstance(identity, PatientIdentity) else CardKind.PROFESSIONAL
        if kind is CardKind.PROFESSIONAL and (pin is None or puk is None):
            raise PkiError("a professional card needs a PIN and a PUK")
        issuer = self.authorities[CARD_CAS[kind]]
        key = _new_key()
        serial = _serial()
        builder = _leaf_builder(
            _card_subject(identity), key, issuer, _now(now), CARD_LIFETIME, serial
        ).add_extension(
            x509.ExtendedKeyUsage([x509.ObjectIdentifier(KIND_EKUS[kind])]), critical=False
        )
        builder = builder.add_extension(policies(KIND_EKUS[kind]), critical=False)
        certificate = builder.sign(issuer.key, hashes.SHA256())
        return CardFile(
            kind=kind,
            serial=card_serial(serial),
            identity=identity,
            private_key_pem=_key_pem(key),
            certificate_pem=_pem(certificate),
            chain_pem=[_pem(issuer.certificate), _pem(self.authorities[ROOT].certificate)],
            pin=ReferenceData.create(pin, PIN_MAX_TRIES) if pin is not None else None,
            puk=ReferenceData.create(puk, PUK_MAX_TRIES) if puk is not None else None,
            demo=demo,
        )

    def issue_kiosk(self, name: str, *, now: datetime | None = None) -> IssuedDevice:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "kiosk"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH, x509.ObjectIdentifier(EKU_KIOSK)]
        return self._issue_device("kiosks", name, subject, usages, KIOSK_CA, [], now)

    def issue_server(
        self,
        name: str,
        *,
        dns_names: Sequence[str] = (),
        ip_addresses: Sequence[str] = (),
        now: datetime | None = None,
    ) -> IssuedDevice:
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "server"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        unique_names = dict.fromkeys([name, *dns_names])
        alt_names: list[x509.GeneralName] = [x509.DNSName(n) for n in unique_names]
        alt_names += [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
        usages = [ExtendedKeyUsageOID.SERVER_AUTH, x509.ObjectIdentifier(EKU_SERVER)]
        return self._issue_device("servers", name, subject, usages, SERVER_CA, alt_names, now)

    def issue_receipt_signer(self, name: str, *, now: datetime | None = None) -> IssuedDevice:
        """The records server's receipt key: signs receipts (CMS, docs/receipts.md) and
        nothing else. EKU id-kp-documentSigning (RFC 9336) and the receipt signer policy;
        key usage digitalSignature and nonRepudiation (contentCommitment), the usages of a
        signature meant as evidence. Its chain file runs up to the root, as published."""
        issuer = self.authorities[SERVER_CA]
        if not _asserts(issuer.certificate, EKU_DOCUMENT_SIGNING):
            raise PkiError(
                f"{self.directory} was made before receipt signers (issue 13): "
                "make a new one with `dmp pki init`"
            )
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
                x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "receipt signer"),
                x509.NameAttribute(NameOID.COMMON_NAME, name),
            ]
        )
        usages = [x509.ObjectIdentifier(EKU_DOCUMENT_SIGNING)]
        return self._issue_device(
            "receipt-signers",
            name,
            subject,
            usages,
            SERVER_CA,
            [],
            now,
            kind=EKU_DOCUMENT_SIGNING,
            commitment=True,
            chain_to_root=True,
        )

    def _issue_device(
        self,
        folder: str,
        name: str,
        subject: x509.Name,
        usages: list[x509.ObjectIdentifier],
        ca_name: str,
        alt_names: list[x509.GeneralName],
        now: datetime | None,
        *,
        kind: str | None = None,
        commitment: bool = False,
        chain_to_root: bool = False,
    ) -> IssuedDevice:
        if not name or "/" in name or name.startswith("."):
            raise PkiError(f"bad device name {name!r}")
        issuer = self.authorities[ca_name]
        key = _new_key()
        builder = _leaf_builder(
            subject, key, issuer, _now(now), DEVICE_LIFETIME, _serial(), commitment=commitment
        )
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        builder = builder.add_extension(policies(kind or CA_KINDS[ca_name]), critical=False)
        if alt_names:
            builder = builder.add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
        certificate = builder.sign(issuer.key, hashes.SHA256())
        target = self.directory / folder
        target.mkdir(exist_ok=True)
        key_path = target / f"{name}.key.pem"
        cert_path = target / f"{name}.pem"
        chain_path = target / f"{name}.chain.pem"
        _write(key_path, _key_pem(key), private=True)
        _write(cert_path, _pem(certificate))
        chain = _pem(certificate) + _pem(issuer.certificate)
        if chain_to_root:
            chain += _pem(self.authorities[ROOT].certificate)
        _write(chain_path, chain)
        return IssuedDevice(key_path, cert_path, chain_path, certificate)

    # ---- revocation -----------------------------------------------------------------
    def issuer_of(self, certificate: x509.Certificate) -> CertificateAuthority:
        for authority in self.authorities.values():
            if authority.certificate.subject != certificate.issuer:
                continue
            try:
                certificate.verify_directly_issued_by(authority.certificate)
            except (ValueError, TypeError, InvalidSignature):
                continue
            return authority
        raise PkiError("certificate was not issued by this PKI")

    def revoke(
        self,
        certificate: x509.Certificate,
        *,
        reason: x509.ReasonFlags = x509.ReasonFlags.unspecified,
        now: datetime | None = None,
    ) -> Path:
        """Add the certificate to its CA's CRL and publish that CRL; returns its path."""
        authority = self.issuer_of(certificate)
        if authority.name == ROOT:
            raise PkiError("intermediate CAs are not revoked by this tool")
        state = self._state()
        revoked = state["revoked"].setdefault(authority.name, [])
        serial_hex = format(certificate.serial_number, "x")
        if all(entry["serial"] != serial_hex for entry in revoked):
            revoked.append(
                {
                    "serial": serial_hex,
                    "revoked_at": _now(now).isoformat(),
                    "reason": reason.value,
                }
            )
            self._save_state(state)
        return self._publish_crl(authority, state, _now(now))

    def publish_crls(self, *, now: datetime | None = None) -> list[Path]:
        state = self._state()
        return [self._publish_crl(a, state, _now(now)) for a in self.authorities.values()]

    def _publish_crl(
        self, authority: CertificateAuthority, state: dict[str, Any], moment: datetime
    ) -> Path:
        number = int(state["crl_numbers"].get(authority.name, 0)) + 1
        state["crl_numbers"][authority.name] = number
        self._save_state(state)
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(authority.certificate.subject)
            .last_update(moment - SKEW)
            .next_update(moment + CRL_LIFETIME)
            .add_extension(x509.CRLNumber(number), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.key.public_key()),
                critical=False,
            )
        )
        for entry in state["revoked"].get(authority.name, []):
            builder = builder.add_revoked_certificate(
                x509.RevokedCertificateBuilder()
                .serial_number(int(entry["serial"], 16))
                .revocation_date(datetime.fromisoformat(entry["revoked_at"]))
                .add_extension(x509.CRLReason(x509.ReasonFlags(entry["reason"])), critical=False)
                .build()
            )
        crl = builder.sign(authority.key, hashes.SHA256())
        path = self.directory / f"{authority.name}.crl.pem"
        _write(path, crl.public_bytes(serialization.Encoding.PEM))
        _write(
            self.directory / "crl-bundle.pem",
            b"".join(
                (self.directory / f"{n}.crl.pem").read_bytes()
                for n in CA_NAMES
                if (self.directory / f"{n}.crl.pem").exists()
            ),
        )
        return path

    def _state(self) -> dict[str, Any]:
        try:
            state: dict[str, Any] = json.loads((self.directory / "pki.json").read_text())
        except (OSError, ValueError) as exc:
            raise PkiError(f"cannot read {self.directory / 'pki.json'}: {exc}") from exc
        if state.get("format") != STATE_FORMAT:
            raise PkiError("pki.json has an unknown format")
        return state

    def _save_state(self, state: dict[str, Any]) -> None:
        write_private_json(self.directory / "pki.json", state)


def policies(*ekus: str) -> x509.CertificatePolicies:
    """The certificate policies extension of a certificate of the kinds named by `ekus`
    (one for a leaf; a CA's own kind first, then the others it issues)."""
    return x509.CertificatePolicies(
        [x509.PolicyInformation(x509.ObjectIdentifier(EKU_POLICIES[eku]), None) for eku in ekus]
    )


def _asserts(certificate: x509.Certificate, eku: str) -> bool:
    """Whether the certificate carries the policy of the kind named by `eku`."""
    try:
        found = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
    except x509.ExtensionNotFound:
        return False
    wanted = EKU_POLICIES[eku]
    return any(p.policy_identifier.dotted_string == wanted for p in found.value)


def _pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def _ca_certificate(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: CertificateAuthority | None,
    moment: datetime,
) -> x509.Certificate:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANIZATION),
            x509.NameAttribute(NameOID.COMMON_NAME, f"DMP-Kiosk TEST {_CA_TITLES[name]}"),
        ]
    )
    signer_key = issuer.key if issuer else key
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(_serial())
        .not_valid_before(moment - SKEW)
        .not_valid_after(moment + (CA_LIFETIME if issuer else ROOT_LIFETIME))
        # Root may sign intermediates only; intermediates sign end entities only.
        .add_extension(
            x509.BasicConstraints(ca=True, path_length=0 if issuer else 1), critical=True
        )
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        )
    )
    if name in CA_KINDS:
        builder = builder.add_extension(policies(*ca_kinds(name)), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def _leaf_builder(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: CertificateAuthority,
    moment: datetime,
    lifetime: timedelta,
    serial: int,
    *,
    commitment: bool = False,
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.certificate.subject)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(moment - SKEW)
        .not_valid_after(min(moment + lifetime, issuer.certificate.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=commitment,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )


def _card_subject(identity: PatientIdentity | ProfessionalIdentity) -> x509.Name:
    # Patient certificates carry no name: the INS identifies, the identity file names.
    if isinstance(identity, PatientIdentity):
        return x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
                x509.NameAttribute(x509.ObjectIdentifier(ATTR_INS_OID), identity.ins_oid),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, identity.ins),
                x509.NameAttribute(NameOID.COMMON_NAME, identity.ins),
            ]
        )
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, identity.structure.name),
            x509.NameAttribute(
                x509.ObjectIdentifier(ATTR_STRUCTURE_ID), identity.structure.identifier
            ),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, identity.profession),
            x509.NameAttribute(NameOID.SURNAME, identity.last_name),
            x509.NameAttribute(NameOID.GIVEN_NAME, identity.first_name),
            x509.NameAttribute(NameOID.SERIAL_NUMBER, identity.national_id),
            x509.NameAttribute(NameOID.COMMON_NAME, identity.national_id),
        ]
    )


def load_certificate_file(path: Path) -> x509.Certificate:
    """A PEM certificate, or the certificate inside a card file."""
    raw = Path(path).read_bytes()
    if raw.lstrip().startswith(b"{"):
        try:
            pem = json.loads(raw)["certificate_pem"].encode()
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise PkiError(f"{path} is not a card file") from exc
        return x509.load_pem_x509_certificate(pem)
    try:
        return x509.load_pem_x509_certificate(raw)
    except ValueError as exc:
        raise PkiError(f"{path} is not a PEM certificate") from exc
