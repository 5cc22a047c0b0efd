"""Identifier check digits and identity validation (pure functions, table driven)."""

from __future__ import annotations

from datetime import date

import pytest

from cardreader.identity import (
    INS_NIR_TEST_OID,
    PatientIdentity,
    ProfessionalIdentity,
    Sex,
    Structure,
    finess_valid,
    ins_key,
    ins_valid,
    national_id_valid,
    rpps_valid,
)


@pytest.mark.parametrize(
    ("ins", "valid"),
    [
        ("255081416802538", True),
        ("253072B07300470", True),  # Corsica 2B counts as 18
        ("253072A07300443", True),  # Corsica 2A counts as 19
        ("279035121518989", True),
        ("115065145412302", True),
        ("255081416802539", False),
        ("253072B07300443", False),  # 2A's key on a 2B number
        ("25508141680253", False),
        ("2550814168025AB", False),
        ("2A5081416802538", False),  # 2A only at positions 6-7
        ("955081416802538", False),
    ],
)
def test_ins(ins: str, valid: bool) -> None:
    assert ins_valid(ins) is valid


def test_ins_key_substitutes_corsica() -> None:
    assert ins_key("253072B073004") == 70
    assert ins_key("2530718073004") == 70


@pytest.mark.parametrize(
    ("value", "valid"),
    [("10002813839", True), ("10003123451", True), ("10002813838", False), ("1000281383", False)],
)
def test_rpps(value: str, valid: bool) -> None:
    assert rpps_valid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("810002813839", True),
        ("810002813838", False),
        ("0123456789", True),  # "0" + ADELI: format only
        ("3510000011/ADM0042", True),
        ("3510000012/ADM0042", False),
        ("3510000011/", False),
        ("910002813839", False),
    ],
)
def test_national_id(value: str, valid: bool) -> None:
    assert national_id_valid(value) is valid


@pytest.mark.parametrize(
    ("value", "valid"), [("750100018", True), ("750100019", False), ("2A0000001", True)]
)
def test_finess(value: str, valid: bool) -> None:
    assert finess_valid(value) is valid


def _patient(**changes: object) -> PatientIdentity:
    values: dict[str, object] = {
        "birth_name": "DURAND",
        "first_names": ("Marie",),
        "birth_date": date(1955, 8, 12),
        "sex": Sex.FEMALE,
        "birth_rank": 1,
        "ins": "255081416802538",
        "ins_oid": INS_NIR_TEST_OID,
        "birth_place": "14168",
    } | changes
    return PatientIdentity(**values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"ins": "255081416802539"}, "bad format or key"),
        ({"sex": Sex.MALE}, "sex digit"),
        ({"ins_oid": "1.2.3"}, "unknown INS OID"),
        ({"birth_rank": 0}, "birth rank"),
        ({"first_names": ()}, "names"),
        ({"birth_place": "2C123"}, "INSEE"),
    ],
)
def test_patient_identity_rejects(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _patient(**changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"profession": "mutuelle"}, "unknown profession"),
        ({"national_id": "810002813838"}, "national id"),
        ({"structure": Structure("750100019", "X")}, "FINESS"),
    ],
)
def test_professional_identity_rejects(changes: dict[str, object], message: str) -> None:
    values: dict[str, object] = {
        "last_name": "DUPONT",
        "first_name": "Jean",
        "national_id": "810002813839",
        "profession": "medecin_generaliste",
        "structure": Structure("750100018", "Cabinet"),
    } | changes
    with pytest.raises(ValueError, match=message):
        ProfessionalIdentity(**values)  # type: ignore[arg-type]
