"""INS (NIR/NIA, Corsica, OIDs), RPPS, ADELI and FINESS checks."""

from __future__ import annotations

import pytest

from server.identifiers import IdentifierError, InsKind, parse_finess, parse_ins, parse_national_id

VALID_INS = ["255081416802538", "253072B07300470", "253072A07300443", "279035121518989"]


@pytest.mark.parametrize("ins", VALID_INS)
def test_known_valid_ins(ins: str) -> None:
    parsed = parse_ins(ins)
    assert (parsed.matricule, parsed.kind, parsed.oid) == (ins, InsKind.NIR, "1.2.250.1.213.1.4.8")


def test_test_oids_and_nia() -> None:
    assert parse_ins("279035121518989", test=True).oid == "1.2.250.1.213.1.4.10"
    nia = "7" + "55081416802538"[:12]
    nia += f"{97 - int(nia) % 97:02d}"
    assert parse_ins(nia).kind is InsKind.NIA
    assert parse_ins(nia, test=True).oid == "1.2.250.1.213.1.4.11"


@pytest.mark.parametrize(
    ("value", "oid", "message"),
    [
        ("255081416802539", None, "clé"),
        ("253072B07300471", None, "clé"),
        ("25307B207300470", None, "15 caractères"),  # 2B outside positions 6-7
        ("2550814168025", None, "15 caractères"),
        ("955081416802538", None, "15 caractères"),
        ("279035121518989", "1.2.250.1.213.1.4.9", "OID"),  # a NIR announced as a NIA
    ],
)
def test_invalid_ins(value: str, oid: str | None, message: str) -> None:
    with pytest.raises(IdentifierError, match=message):
        parse_ins(value, oid)


def test_corsican_keys_differ_between_2a_and_2b() -> None:
    # The same digits with 2A and 2B need different keys (19 vs 18 substituted).
    with pytest.raises(IdentifierError):
        parse_ins("253072A07300470")


@pytest.mark.parametrize(
    "nid", ["810002813839", "810001234565", "0751234567", "02A1234567", "3750000010/ADM0042"]
)
def test_valid_national_ids(nid: str) -> None:
    assert parse_national_id(nid) == nid


@pytest.mark.parametrize(
    "nid",
    ["810002813838", "81000281383", "910002813839", "075123456", "0751234A67", "3750000011/ADM1"],
)
def test_invalid_national_ids(nid: str) -> None:
    with pytest.raises(IdentifierError):
        parse_national_id(nid)


@pytest.mark.parametrize(
    ("finess", "ok"),
    [
        ("750000010", True),
        ("750000011", False),
        ("2A0000050", True),
        ("75000001", False),
        ("ABC000010", False),
    ],
)
def test_finess(finess: str, ok: bool) -> None:
    if ok:
        assert parse_finess(finess) == finess
    else:
        with pytest.raises(IdentifierError):
            parse_finess(finess)


def test_card_profession_codes_are_the_matrix_professions_cards_may_carry() -> None:
    from cardreader.identity import PROFESSIONS
    from server.policy import default_matrix_path, load_matrix
    from server.signin.sessions import OFFICER_PROFESSION

    matrix = load_matrix(default_matrix_path())
    eligible = {code for code, rules in matrix.professions.items() if rules.eligible}
    # The privacy officer's card (docs/alerts.md) opens no dossier: its holder signs in
    # as a privacy officer, whom the policy refuses every dossier act.
    assert eligible | {OFFICER_PROFESSION} == PROFESSIONS
    assert OFFICER_PROFESSION not in eligible


# Python's `\d`, str.isdigit() and int() take other scripts' digits: "٢٧٩..." would be
# read as the INS 279... of an existing person, and become a second identity.
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@pytest.mark.parametrize("digits", [ARABIC_INDIC, SUPERSCRIPT, FULLWIDTH])
def test_identifiers_are_ascii(digits: dict[int, str]) -> None:
    with pytest.raises(IdentifierError):
        parse_ins("279035121518989".translate(digits))
    with pytest.raises(IdentifierError):
        parse_ins("27903512151898" + "9".translate(digits))
    with pytest.raises(IdentifierError):
        parse_national_id("8" + "10002813839".translate(digits))
    with pytest.raises(IdentifierError):
        parse_national_id("0" + "751234567".translate(digits))
    with pytest.raises(IdentifierError):
        parse_finess("750000010".translate(digits))
