"""A receipt verifies offline with the openssl CLI exactly as docs/receipts.md tells a
patient to do it, and fails once one byte of its content or signature is altered."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives.serialization import pkcs7

from cardreader.emulator.cli import pki as pki_cli
from server.receipt_signer import load
from tests.server.conftest import World
from tests.server.test_receipts import receipts_of


def openssl_verify(directory: Path, content: bytes, signature: bytes, anchors: bytes) -> Any:
    """docs/receipts.md, step 3, word for word."""
    (directory / "receipt.json").write_bytes(content)
    (directory / "receipt.p7s").write_bytes(signature)
    (directory / "anchors.pem").write_bytes(anchors)
    return subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-binary",
            "-inform",
            "DER",
            "-in",
            "receipt.p7s",
            "-content",
            "receipt.json",
            "-CAfile",
            "anchors.pem",
            "-purpose",
            "any",
            "-out",
            "/dev/null",
        ],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


def last_certificate(chain: bytes) -> bytes:
    """The root: the last PEM block of a chain."""
    marker = b"-----BEGIN CERTIFICATE-----"
    return marker + chain.split(marker)[-1]


@pytest.fixture
def fetched(world: World, marie_dossier: int) -> tuple[bytes, bytes, bytes]:
    """What the patient downloads: the content, its signature and the chain."""
    (line,) = receipts_of(world, marie_dossier)
    rid = line["receipt_id"]
    content = world.call("GET", "marie", f"/receipts/{rid}").data
    signature = world.call("GET", "marie", f"/receipts/{rid}/signature").data
    chain = world.client.get("/api/v1/receipts/certificate").data
    return content, signature, chain


def test_a_receipt_verifies_with_openssl_against_the_chain_and_the_root_alone(
    fetched: tuple[bytes, bytes, bytes], tmp_path: Path
) -> None:
    content, signature, chain = fetched
    done = openssl_verify(tmp_path, content, signature, chain)
    assert done.returncode == 0, done.stderr
    assert "Verification successful" in done.stderr
    # The root alone (the one a patient compares with the published fingerprint): the
    # signature carries the signer's certificate and the server CA's.
    done = openssl_verify(tmp_path, content, signature, last_certificate(chain))
    assert done.returncode == 0, done.stderr


def test_the_signature_is_detached_cms_with_the_signer_and_intermediate(
    fetched: tuple[bytes, bytes, bytes],
) -> None:
    _content, signature, chain = fetched
    carried = pkcs7.load_der_pkcs7_certificates(signature)
    published = x509.load_pem_x509_certificates(chain)
    # The signer's and the server CA's (a set: no order); the root is the verifier's.
    assert set(carried) == set(published[:2])
    eku = published[0].extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [u.dotted_string for u in eku] == ["1.3.6.1.5.5.7.3.36"]  # RFC 9336
    # Detached: the content is nowhere in the signature.
    assert _content[:40] not in signature


@pytest.mark.parametrize("where", [0, 1, 50, -1])
def test_one_altered_byte_of_the_content_fails(
    fetched: tuple[bytes, bytes, bytes], tmp_path: Path, where: int
) -> None:
    content, signature, chain = fetched
    altered = bytearray(content)
    altered[where] ^= 0x01
    done = openssl_verify(tmp_path, bytes(altered), signature, chain)
    assert done.returncode != 0
    assert "Verification failure" in done.stderr


@pytest.mark.parametrize("where", [-1, -5, -40, -100, -130, -160])
def test_one_altered_byte_of_the_signature_fails(
    fetched: tuple[bytes, bytes, bytes], tmp_path: Path, where: int
) -> None:
    """The signer's part, at the end of the DER: the signature value (its last 70-odd
    bytes) and the signed attributes before it (content type, signing time, the
    content's message digest)."""
    content, signature, chain = fetched
    altered = bytearray(signature)
    altered[where] ^= 0x01
    done = openssl_verify(tmp_path, content, bytes(altered), chain)
    assert done.returncode != 0


@pytest.mark.parametrize("where", [80, 200, 400, 800])
def test_one_altered_byte_of_a_carried_certificate_fails_against_the_root(
    fetched: tuple[bytes, bytes, bytes], tmp_path: Path, where: int
) -> None:
    """The certificates the signature carries are not under its signature: against the
    root alone (docs/receipts.md), an altered one breaks the chain to it."""
    content, signature, chain = fetched
    altered = bytearray(signature)
    altered[where] ^= 0x01
    done = openssl_verify(tmp_path, content, bytes(altered), last_certificate(chain))
    assert done.returncode != 0


def test_another_root_does_not_anchor_it(
    fetched: tuple[bytes, bytes, bytes], tmp_path: Path
) -> None:
    content, signature, _chain = fetched
    runner = CliRunner()
    assert runner.invoke(pki_cli, ["init", str(tmp_path / "other")]).exit_code == 0
    other_root = (tmp_path / "other" / "root-ca.pem").read_bytes()
    done = openssl_verify(tmp_path, content, signature, other_root)
    assert done.returncode != 0


def test_the_cli_issues_a_signer_whose_receipts_verify(tmp_path: Path) -> None:
    """`dmp pki init` then `dmp pki issue-receipt-signer`, as docs/receipts.md and the demo
    do: the server accepts the pair, and what it signs verifies on the CLI's own root."""
    runner = CliRunner()
    directory = tmp_path / "pki"
    assert runner.invoke(pki_cli, ["init", str(directory)]).exit_code == 0
    issued = runner.invoke(pki_cli, ["issue-receipt-signer", str(directory)])
    assert issued.exit_code == 0, issued.output
    folder = directory / "receipt-signers"
    now = datetime.now(UTC)  # the CLI issues at the real time
    signer = load(folder / "receipts.key.pem", folder / "receipts.chain.pem", now)
    content = b'{"a":"\xc3\xa9"}'
    signature = signer.sign(content, now)
    root = (directory / "root-ca.pem").read_bytes()
    done = openssl_verify(tmp_path, content, signature, root)
    assert done.returncode == 0, done.stderr
    assert (folder / "receipts.key.pem").stat().st_mode & 0o077 == 0  # private key 0600
