"""FCI and identity files: exact encodings (vectors) and typed errors on bad content."""

from __future__ import annotations

from typing import Any

import pytest
from card_helpers import load_vectors

from cardreader import records
from cardreader.emulator import cardfile
from cardreader.errors import MalformedCardDataError
from cardreader.identity import PatientIdentity
from cardreader.profile import CardKind

EXCHANGES = load_vectors("card_exchanges.json")


def _recorded_response(name: str, command: str) -> str:
    scenario = next(s for s in EXCHANGES["scenarios"] if s["name"] == name)
    entry = next(e for e in scenario["exchanges"] if e.get("c") == command)
    return str(entry["r"])[:-4]


@pytest.mark.parametrize(
    ("kind", "scenario"),
    [("patient", "identity read by SFI"), ("professional", "identity read")],
)
def test_identity_encoding_matches_vectors(kind: str, scenario: str) -> None:
    raw: dict[str, Any] = EXCHANGES["identity"][kind]
    identity = cardfile.identity_from_json(CardKind(kind), raw)
    if isinstance(identity, PatientIdentity):
        encoded = records.encode_patient_identity(identity)
        decoded: object = records.decode_patient_identity(encoded)
    else:
        encoded = records.encode_professional_identity(identity)
        decoded = records.decode_professional_identity(encoded)
    assert encoded.hex().upper() == _recorded_response(scenario, "00B0810000")
    assert decoded == identity


def test_fci_encoding_matches_vectors() -> None:
    fci = records.encode_fci(b"\xf0DMP-PAT", bytes(range(16)))
    assert fci.hex().upper() == _recorded_response(
        "select returns the FCI", "00A4040008F0444D502D50415400"
    )
    assert records.decode_fci(fci) == records.Fci(b"\xf0DMP-PAT", bytes(range(16)), 1)


@pytest.mark.parametrize(
    "dotted", ["1.2.250.1.213.1.4.8", "1.2.250.1.213.1.4.10", "2.999.1", "1.3.6.1.4.1.55555.2.1"]
)
def test_oid_round_trip(dotted: str) -> None:
    assert records.decode_oid(records.encode_oid(dotted)) == dotted


def test_ins_oid_der() -> None:
    assert records.encode_oid("1.2.250.1.213.1.4.10").hex().upper() == "2A817A01815501040A"


@pytest.mark.parametrize("raw", ["2A81", "", "2A8001"])
def test_bad_oid(raw: str) -> None:
    with pytest.raises(MalformedCardDataError, match="OID"):
        records.decode_oid(bytes.fromhex(raw))


@pytest.mark.parametrize(
    ("hex_data", "message"),
    [
        ("64028000", "identity template"),
        ("6506800141800142", "appears 2 times"),
        ("65088006445552414E44", "mandatory"),
        ("650B80064455524E414481014D", "mandatory"),
    ],
)
def test_bad_patient_identity(hex_data: str, message: str) -> None:
    with pytest.raises(MalformedCardDataError, match=message):
        records.decode_patient_identity(bytes.fromhex(hex_data))


def test_patient_identity_rejects_bad_date() -> None:
    raw = bytes.fromhex(_recorded_response("identity read by SFI", "00B0810000"))
    broken = raw.replace(b"19550812", b"19551312")
    with pytest.raises(MalformedCardDataError, match="YYYYMMDD"):
        records.decode_patient_identity(broken)


def test_patient_identity_rejects_bad_utf8() -> None:
    raw = bytes.fromhex(_recorded_response("identity read by SFI", "00B0810000"))
    broken = raw.replace(b"DURAND", b"DUR\xffND")
    with pytest.raises(MalformedCardDataError, match="UTF-8"):
        records.decode_patient_identity(broken)


def test_unknown_tags_are_tolerated() -> None:
    raw = bytes.fromhex(_recorded_response("identity read by SFI", "00B0810000"))
    extended = bytes([0x65, raw[1] + 3]) + raw[2:] + bytes.fromhex("9F01")[:1] + b"\x01\x00"
    assert records.decode_patient_identity(extended).ins == "255081416802538"
