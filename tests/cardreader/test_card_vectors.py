"""The emulated card answers the recorded exchanges of vectors/card_exchanges.json.

Exact bytes everywhere except where the data is a fresh ECDSA signature (verified with
the card's certificate over signed_message) or a slice of the run-time certificate
(compared with the certificate's DER).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from card_helpers import load_vectors
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from cardreader.emulator.cardfile import CardFile
from cardreader.emulator.virtual import VirtualCard
from cardreader.signature import signed_message

VECTORS = load_vectors("card_exchanges.json")
SCENARIOS = VECTORS["scenarios"]


def _check_signature(card: CardFile, command: bytes, signature: bytes) -> None:
    challenge = command[5 : 5 + command[4]]
    certificate = x509.load_pem_x509_certificate(card.certificate_pem)
    public_key = certificate.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    public_key.verify(
        signature, signed_message(card.aid, card.serial, challenge), ec.ECDSA(hashes.SHA256())
    )


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s["name"] for s in SCENARIOS])
def test_card_exchange(scenario: dict[str, Any], make_card: Callable[..., CardFile]) -> None:
    card_file = make_card(scenario["card"])
    card_file.serial = bytes.fromhex(VECTORS["serial"])
    card = VirtualCard(card_file)
    card.power_on()
    certificate = x509.load_pem_x509_certificate(card_file.certificate_pem)
    der = certificate.public_bytes(serialization.Encoding.DER)
    previous = b""
    signing_command = b""
    cert_offset = 0
    for entry in scenario["exchanges"]:
        if "action" in entry:
            getattr(card, entry["action"])()
            continue
        command = bytes.fromhex(entry["c"])
        if entry.get("le") == "previous":
            command += previous[-1:]
        response = card.process(command)
        previous = response
        if command[1] == 0x88:
            signing_command = command
        if "r" in entry:
            assert response.hex().upper() == entry["r"]
        elif "sw1" in entry:
            assert response[:-1].hex().upper() == entry["sw1"]
            assert len(response) == 2
        else:
            assert response[-2:].hex().upper() == entry["sw"]
            data = response[:-2]
            if entry["data"] == "signature":
                _check_signature(card_file, signing_command, data)
            else:
                assert data == der[cert_offset : cert_offset + len(data)]
                cert_offset += len(data)
    if cert_offset:
        assert cert_offset == len(der)
