"""The TEST PKI: certificate contents, and `openssl verify -crl_check` as the judge."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from cardreader.emulator.cardfile import CardFile
from cardreader.emulator.pki import (
    CA_KINDS,
    CA_NAMES,
    KIOSK_CA,
    PATIENT_CA,
    PROFESSIONAL_CA,
    ROOT,
    SERVER_CA,
    CertificateAuthority,
    Pki,
    PkiError,
    ca_kinds,
)
from cardreader.profile import (
    ATTR_INS_OID,
    ATTR_STRUCTURE_ID,
    EKU_DOCUMENT_SIGNING,
    EKU_KIOSK,
    EKU_PATIENT_CARD,
    EKU_POLICIES,
    EKU_PROFESSIONAL_CARD,
    EKU_SERVER,
)


def _openssl_verify(
    directory: Path, ca: str, leaf_pem: bytes, tmp_path: Path, *options: str
) -> str:
    leaf = tmp_path / "leaf.pem"
    leaf.write_bytes(leaf_pem)
    result = subprocess.run(
        [
            "openssl",
            "verify",
            "-crl_check",
            *options,
            "-CAfile",
            str(directory / "root-ca.pem"),
            "-untrusted",
            str(directory / f"{ca}.pem"),
            "-CRLfile",
            str(directory / f"{ca}.crl.pem"),
            str(leaf),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return result.stdout + result.stderr + f"\nrc={result.returncode}"


@pytest.fixture
def own_pki(tmp_path: Path) -> Pki:
    return Pki.init(tmp_path / "pki")


def _subject(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> str:
    return str(certificate.subject.get_attributes_for_oid(oid)[0].value)


def test_layout(own_pki: Pki) -> None:
    directory = own_pki.directory
    for name in CA_NAMES:
        assert (directory / f"{name}.pem").exists()
        assert (directory / f"{name}.crl.pem").exists()
        assert (directory / "private" / f"{name}.key.pem").stat().st_mode & 0o077 == 0
    assert (directory / "ca-bundle.pem").read_text().count("BEGIN CERTIFICATE") == len(CA_NAMES)
    assert (directory / "crl-bundle.pem").read_text().count("BEGIN X509 CRL") == len(CA_NAMES)
    with pytest.raises(PkiError, match="already"):
        Pki.init(directory)


def test_patient_certificate(
    own_pki: Pki, make_card: Callable[..., CardFile], tmp_path: Path
) -> None:
    card = own_pki.issue_card(make_card("patient").identity)
    certificate = x509.load_pem_x509_certificate(card.certificate_pem)
    assert _subject(certificate, NameOID.SERIAL_NUMBER) == "255081416802538"
    assert _subject(certificate, x509.ObjectIdentifier(ATTR_INS_OID)) == "1.2.250.1.213.1.4.10"
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [x509.ObjectIdentifier(EKU_PATIENT_CARD)]
    key_usage = certificate.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature
    assert not key_usage.key_cert_sign
    output = _openssl_verify(own_pki.directory, PATIENT_CA, card.certificate_pem, tmp_path)
    assert "OK" in output
    assert output.endswith("rc=0")


def test_professional_certificate(own_pki: Pki, make_card: Callable[..., CardFile]) -> None:
    card = own_pki.issue_card(make_card("professional").identity, pin="1234", puk="12345678")
    certificate = x509.load_pem_x509_certificate(card.certificate_pem)
    assert _subject(certificate, NameOID.COMMON_NAME) == "810002813839"
    assert _subject(certificate, NameOID.SERIAL_NUMBER) == "810002813839"
    assert _subject(certificate, NameOID.ORGANIZATIONAL_UNIT_NAME) == "medecin_generaliste"
    assert _subject(certificate, x509.ObjectIdentifier(ATTR_STRUCTURE_ID)) == "750100018"
    usages = certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usages) == [x509.ObjectIdentifier(EKU_PROFESSIONAL_CARD)]


def test_revoked_card_fails_crl_check(
    own_pki: Pki, make_card: Callable[..., CardFile], tmp_path: Path
) -> None:
    kept = own_pki.issue_card(make_card("professional").identity, pin="1234", puk="12345678")
    revoked = own_pki.issue_card(make_card("professional").identity, pin="1234", puk="12345678")
    own_pki.revoke(x509.load_pem_x509_certificate(revoked.certificate_pem))
    own_pki.revoke(x509.load_pem_x509_certificate(revoked.certificate_pem))  # idempotent
    output = _openssl_verify(own_pki.directory, PROFESSIONAL_CA, revoked.certificate_pem, tmp_path)
    assert "certificate revoked" in output
    assert not output.endswith("rc=0")
    output = _openssl_verify(own_pki.directory, PROFESSIONAL_CA, kept.certificate_pem, tmp_path)
    assert output.endswith("rc=0")
    crl = x509.load_pem_x509_crl((own_pki.directory / "professional-ca.crl.pem").read_bytes())
    assert len(list(crl)) == 1
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 3


def test_card_from_another_pki_fails(
    own_pki: Pki, make_card: Callable[..., CardFile], tmp_path: Path
) -> None:
    stranger = Pki.init(tmp_path / "stranger")
    card = stranger.issue_card(make_card("patient").identity)
    output = _openssl_verify(own_pki.directory, PATIENT_CA, card.certificate_pem, tmp_path)
    assert not output.endswith("rc=0")
    with pytest.raises(PkiError, match="not issued by this PKI"):
        own_pki.revoke(x509.load_pem_x509_certificate(card.certificate_pem))


def test_kiosk_and_server_certificates(own_pki: Pki, tmp_path: Path) -> None:
    kiosk = own_pki.issue_kiosk("borne-01")
    server = own_pki.issue_server("localhost", ip_addresses=["127.0.0.1"])
    assert kiosk.key_path.stat().st_mode & 0o077 == 0
    kiosk_usages = kiosk.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert set(kiosk_usages.value) == {
        ExtendedKeyUsageOID.CLIENT_AUTH,
        x509.ObjectIdentifier(EKU_KIOSK),
    }
    server_usages = server.certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert set(server_usages.value) == {
        ExtendedKeyUsageOID.SERVER_AUTH,
        x509.ObjectIdentifier(EKU_SERVER),
    }
    names = server.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == ["localhost"]
    for ca, issued in (("kiosk-ca", kiosk), ("server-ca", server)):
        output = _openssl_verify(
            own_pki.directory, ca, issued.certificate_path.read_bytes(), tmp_path
        )
        assert output.endswith("rc=0"), output
    own_pki.revoke(server.certificate)
    output = _openssl_verify(
        own_pki.directory, "server-ca", server.certificate_path.read_bytes(), tmp_path
    )
    assert "certificate revoked" in output
    with pytest.raises(PkiError, match="bad device name"):
        own_pki.issue_kiosk("../evil")


def test_open_missing(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="no usable PKI"):
        Pki.open(tmp_path / "nothing")


def test_each_ca_carries_the_policy_of_the_kind_it_issues_and_its_leaves_assert_it(
    own_pki: Pki, make_card: Callable[..., CardFile], tmp_path: Path
) -> None:
    def policies(certificate: x509.Certificate) -> list[str]:
        try:
            ext = certificate.extensions.get_extension_for_class(x509.CertificatePolicies)
        except x509.ExtensionNotFound:
            return []
        return [p.policy_identifier.dotted_string for p in ext.value]

    authorities = own_pki.authorities
    assert policies(authorities[ROOT].certificate) == []
    for ca in CA_KINDS:
        # Its own kind first, then the others it issues (the server CA: receipt signers).
        assert policies(authorities[ca].certificate) == [EKU_POLICIES[e] for e in ca_kinds(ca)]
    assert policies(authorities[SERVER_CA].certificate)[1:] == [EKU_POLICIES[EKU_DOCUMENT_SIGNING]]
    signer = own_pki.issue_receipt_signer("receipts-p")
    assert policies(signer.certificate) == [EKU_POLICIES[EKU_DOCUMENT_SIGNING]]
    leaves = {
        PATIENT_CA: own_pki.issue_card(make_card("patient").identity).certificate_pem,
        PROFESSIONAL_CA: own_pki.issue_card(
            make_card("professional").identity, pin="1234", puk="12345678"
        ).certificate_pem,
        KIOSK_CA: own_pki.issue_kiosk("borne-p").certificate_path.read_bytes(),
        SERVER_CA: own_pki.issue_server("server-p").certificate_path.read_bytes(),
    }
    for ca, pem in leaves.items():
        leaf = x509.load_pem_x509_certificate(pem)
        assert policies(leaf) == [EKU_POLICIES[CA_KINDS[ca]]]
    # OpenSSL's RFC 5280 policy processing agrees: the kind's policy, required, holds.
    policy = EKU_POLICIES[CA_KINDS[PROFESSIONAL_CA]]
    out = _openssl_verify(
        own_pki.directory,
        PROFESSIONAL_CA,
        leaves[PROFESSIONAL_CA],
        tmp_path,
        "-policy",
        policy,
        "-explicit_policy",
    )
    assert out.endswith("rc=0"), out
    other = EKU_POLICIES[CA_KINDS[PATIENT_CA]]
    out = _openssl_verify(
        own_pki.directory,
        PROFESSIONAL_CA,
        leaves[PROFESSIONAL_CA],
        tmp_path,
        "-policy",
        other,
        "-explicit_policy",
    )
    assert not out.endswith("rc=0"), out


def test_a_pki_made_before_certificate_policies_does_not_open(own_pki: Pki) -> None:
    root = own_pki.authorities[ROOT]
    old = own_pki.authorities[KIOSK_CA].certificate
    builder = (
        x509.CertificateBuilder()
        .subject_name(old.subject)
        .issuer_name(old.issuer)
        .public_key(old.public_key())  # type: ignore[arg-type]
        .serial_number(old.serial_number)
        .not_valid_before(old.not_valid_before_utc)
        .not_valid_after(old.not_valid_after_utc)
    )
    for extension in old.extensions:
        if not isinstance(extension.value, x509.CertificatePolicies):
            builder = builder.add_extension(extension.value, extension.critical)
    without = builder.sign(root.key, hashes.SHA256())
    (own_pki.directory / f"{KIOSK_CA}.pem").write_bytes(
        without.public_bytes(serialization.Encoding.PEM)
    )
    with pytest.raises(PkiError, match="dmp pki init"):
        Pki.open(own_pki.directory)


def test_the_receipt_signer_is_a_document_signer_chained_to_the_root(
    own_pki: Pki, tmp_path: Path
) -> None:
    """RFC 9336 document signing, never TLS; digitalSignature and nonRepudiation; its chain
    file runs up to the root (what GET /api/v1/receipts/certificate publishes), and openssl
    accepts it under the receipt signer policy."""
    issued = own_pki.issue_receipt_signer("receipts-q")
    leaf = issued.certificate
    eku = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [x509.ObjectIdentifier(EKU_DOCUMENT_SIGNING)]
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature
    assert usage.content_commitment
    assert not usage.key_cert_sign
    chain = x509.load_pem_x509_certificates(issued.chain_path.read_bytes())
    assert chain == [
        leaf,
        own_pki.authorities[SERVER_CA].certificate,
        own_pki.authorities[ROOT].certificate,
    ]
    assert issued.key_path.stat().st_mode & 0o777 == 0o600
    out = _openssl_verify(
        own_pki.directory,
        SERVER_CA,
        leaf.public_bytes(serialization.Encoding.PEM),
        tmp_path,
        "-policy",
        EKU_POLICIES[EKU_DOCUMENT_SIGNING],
        "-explicit_policy",
    )
    assert out.endswith("rc=0"), out


def test_a_pki_made_before_receipt_signers_says_so(own_pki: Pki, tmp_path: Path) -> None:
    old = Pki(own_pki.directory, dict(own_pki.authorities))
    server_ca = own_pki.authorities[SERVER_CA]
    # The server CA as it was made before issue 13: its own policy only.
    builder = (
        x509.CertificateBuilder()
        .subject_name(server_ca.certificate.subject)
        .issuer_name(server_ca.certificate.issuer)
        .public_key(server_ca.key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(server_ca.certificate.not_valid_before_utc)
        .not_valid_after(server_ca.certificate.not_valid_after_utc)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(EKU_POLICIES[EKU_SERVER]), None)]
            ),
            critical=False,
        )
    )
    before = builder.sign(own_pki.authorities[ROOT].key, hashes.SHA256())
    old.authorities[SERVER_CA] = CertificateAuthority(SERVER_CA, server_ca.key, before)
    with pytest.raises(PkiError, match="before receipt signers"):
        old.issue_receipt_signer("receipts-old")
