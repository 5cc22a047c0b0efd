"""A co-presence receipt verifies by hand with the openssl binary exactly as
docs/receipts.md says: the block of shell commands there is run as it is (server
signature, the draft's challenge, each card's chain and signature), on receipts of the
four consents given in person. A receipt whose draft, card signature or card
certificate was changed fails it, even with the server's signature step left out."""

from __future__ import annotations

import base64
import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import select

from cardreader.emulator.pki import Pki
from server.models import Receipt
from tests.server.cardkit import CERT_TIME, CardPki, KioskClient
from tests.server.conftest import World, identity
from tests.server.test_copresence import (
    DESK_CARD,
    LUCIA_CARD,
    MARIE_CARD,
    SPECIALIST_CARD,
    creation_request,
    draft,
    sign_in,
    signed,
)
from tests.server.test_receipts_openssl import last_certificate

DOCS = Path(__file__).resolve().parents[2] / "docs" / "receipts.md"
SERVER_STEP = re.compile(r"^# 1\..*?(?=^# 2\.)", re.MULTILINE | re.DOTALL)


def documented_block() -> str:
    text = DOCS.read_text(encoding="utf-8")
    found = re.search(r"<!-- copresence-verify[^>]*-->\n```sh\n(.*?)```", text, re.DOTALL)
    assert found is not None, "docs/receipts.md lost its co-presence block"
    return found.group(1)


def run_block(
    directory: Path, content: bytes, signature: bytes, roots: tuple[bytes, bytes], script: str
) -> Any:
    """`roots`: the receipts' root and the card PKI's (two PKIs in these tests)."""
    (directory / "receipt.json").write_bytes(content)
    (directory / "receipt.p7s").write_bytes(signature)
    (directory / "root.pem").write_bytes(roots[0])
    (directory / "card-root.pem").write_bytes(roots[1])
    return subprocess.run(
        ["sh", "-c", script],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )


def stored(world: World, receipt_id: str) -> tuple[bytes, bytes]:
    """The bytes the API serves (GET /receipts/{id} and …/signature), as stored."""
    with world.rt.sessions() as s:
        row = s.scalars(select(Receipt).where(Receipt.receipt_id == receipt_id)).one()
        return bytes(row.content), bytes(row.signature)


def consent_receipt(world: World, test_pki: CardPki, borne: KioskClient, dossier: int) -> str:
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    path = f"/dossiers/{dossier}/consents/in-person"
    r = borne.call(
        "POST", path, signed(test_pki, draft(borne, token, path + "/draft")), token=token
    )
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["receipt_id"])


def creation_receipt(world: World, test_pki: CardPki, borne: KioskClient, _dossier: int) -> str:
    desk = sign_in(borne, test_pki, DESK_CARD)
    request = creation_request()
    made = draft(borne, desk, "/dossiers/in-person/draft", request)
    body = {"request": request, **signed(test_pki, made, patient=LUCIA_CARD, pro=DESK_CARD)}
    r = borne.call("POST", "/dossiers/in-person", body, token=desk)
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["receipt_id"])


def representative_receipt(
    world: World, test_pki: CardPki, borne: KioskClient, _dossier: int
) -> str:
    leo = world.create("admissions", "leo")
    desk = sign_in(borne, test_pki, DESK_CARD)
    path = f"/dossiers/{leo}/representatives/in-person"
    made = draft(borne, desk, path + "/draft", {"ins": identity("marie")["ins"]})
    r = borne.call(
        "POST", path, signed(test_pki, made, patient=MARIE_CARD, pro=DESK_CARD), token=desk
    )
    assert r.status_code == 201, r.get_json()
    return str(r.get_json()["receipt_id"])


def closure_receipt(world: World, test_pki: CardPki, borne: KioskClient, dossier: int) -> str:
    token = sign_in(borne, test_pki, SPECIALIST_CARD)
    path = f"/dossiers/{dossier}/close/in-person"
    made = draft(borne, token, path + "/draft", {"confirm": True, "delete": False})
    r = borne.call("POST", path, signed(test_pki, made), token=token)
    assert r.status_code == 200, r.get_json()
    return str(r.get_json()["receipt_id"])


MAKERS = {
    "counter consent": consent_receipt,
    "dossier opened at a desk": creation_receipt,
    "representative named with their card": representative_receipt,
    "dossier closed at a desk": closure_receipt,
}


@pytest.fixture
def roots(world: World, test_pki: CardPki) -> tuple[bytes, bytes]:
    """The receipts' root (last of the published chain) and the card PKI's root."""
    chain = bytes(world.client.get("/api/v1/receipts/certificate").data)
    # The card root as the server publishes it, and it is the card PKI's own.
    served = world.client.get("/api/v1/receipts/card-roots")
    assert (served.status_code, served.mimetype) == (200, "application/x-pem-file")
    card_root = bytes(served.data)
    assert card_root == (test_pki.directory / "root-ca.pem").read_bytes()
    return last_certificate(chain), card_root


@pytest.mark.parametrize("made_by", list(MAKERS))
def test_the_three_signatures_verify_with_openssl_as_documented(
    world: World,
    test_pki: CardPki,
    borne: KioskClient,
    marie_dossier: int,
    roots: tuple[bytes, bytes],
    tmp_path: Path,
    made_by: str,
) -> None:
    receipt_id = MAKERS[made_by](world, test_pki, borne, marie_dossier)
    content, signature = stored(world, receipt_id)
    if made_by == "counter consent":  # the patient downloads the same bytes
        assert world.call("GET", "marie", f"/receipts/{receipt_id}").data == content
    done = run_block(tmp_path, content, signature, roots, documented_block())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CMS Verification successful" in done.stderr
    assert done.stdout.count("Verified OK") == 2
    assert "patient.pem: OK" in done.stdout
    assert "professional.pem: OK" in done.stdout
    # What the by-hand reader then reads: the draft names this operation and dossier.
    draft_content = json.loads((tmp_path / "draft.json").read_bytes())
    receipt = json.loads(content)
    assert draft_content["operation"] == receipt["action"]
    assert draft_content["dossier_id"] in (receipt["dossier"]["id"], None)


def _forge(content: bytes, change: Any) -> bytes:
    receipt = json.loads(content)
    change(receipt["change"]["copresence"])
    return json.dumps(receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _flip(value: str) -> str:
    raw = bytearray(base64.b64decode(value))
    raw[-1] ^= 0x01
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize("part", ["draft", "patient_signature", "professional_signature", "card"])
def test_a_forged_part_fails_the_card_checks_by_themselves(
    world: World,
    test_pki: CardPki,
    borne: KioskClient,
    marie_dossier: int,
    roots: tuple[bytes, bytes],
    tmp_path: Path,
    part: str,
) -> None:
    receipt_id = consent_receipt(world, test_pki, borne, marie_dossier)
    content, signature = stored(world, receipt_id)
    rogue = Pki.init(tmp_path / "rogue", now=CERT_TIME).issue_card(
        test_pki.card(MARIE_CARD).identity, now=CERT_TIME
    )
    rogue_der = x509.load_pem_x509_certificate(rogue.certificate_pem).public_bytes(Encoding.DER)

    def change(copresence: dict[str, Any]) -> None:
        if part == "draft":  # other content: the challenge no longer is its hash
            draft_bytes = base64.b64decode(copresence["draft"]).replace(b'"terms"', b'"Terms"')
            copresence["draft"] = base64.b64encode(draft_bytes).decode()
        elif part == "patient_signature":
            copresence["patient_card"]["signature"] = _flip(copresence["patient_card"]["signature"])
        elif part == "professional_signature":
            card = copresence["professional_card"]
            card["signature"] = _flip(card["signature"])
        else:  # the same person's card from another PKI: not chained to the root
            copresence["patient_card"]["certificate"] = base64.b64encode(rogue_der).decode()

    forged = _forge(content, change)
    # The whole block fails (the server's signature first of all)…
    done = run_block(tmp_path, forged, signature, roots, documented_block())
    assert done.returncode != 0
    # …and so do the card steps alone, without the server's signature to rely on.
    cards_only = SERVER_STEP.sub("", documented_block())
    assert "openssl cms" not in cards_only
    done = run_block(tmp_path, forged, signature, roots, cards_only)
    assert done.returncode != 0, done.stdout + done.stderr
    # The genuine receipt passes the card steps alone (the forgery is what fails).
    assert run_block(tmp_path, content, signature, roots, cards_only).returncode == 0
