"""National identifiers: INS matricule (NIR/NIA), RPPS, ADELI, FINESS.

Rules from the ANS/INSEE public documentation, summarised in shared/context/domain.md.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class IdentifierError(ValueError):
    """An identifier is malformed or its check key is wrong; the message says which."""


class InsKind(StrEnum):
    NIR = "NIR"
    NIA = "NIA"


# OIDs of the INS authorities; the test ones are used by every non-production deployment
# so that test identities can never be confused with real ones downstream.
INS_OIDS: dict[tuple[InsKind, bool], str] = {
    (InsKind.NIR, False): "1.2.250.1.213.1.4.8",
    (InsKind.NIA, False): "1.2.250.1.213.1.4.9",
    (InsKind.NIR, True): "1.2.250.1.213.1.4.10",
    (InsKind.NIA, True): "1.2.250.1.213.1.4.11",
}

_INS_RE = re.compile(r"^[1-478]\d{4}(\d{2}|2A|2B)\d{6}\d{2}$")
# ADELI and FINESS numbers open with the département: two digits, or 2A/2B in Corsica.
_DEPT_THEN_7_DIGITS = re.compile(r"(\d{2}|2A|2B)\d{7}")
# NIA numbers are allotted by INSEE with a leading 7 or 8, while the NIR's first digit
# encodes sex (1/2) or a provisional registration (3/4).
_NIA_PREFIXES = "78"


@dataclass(frozen=True, slots=True)
class Ins:
    matricule: str
    kind: InsKind
    oid: str


def ins_key(first13: str) -> int:
    # Corsica: "2A"/"2B" replace the département digits 19/18, at positions 6-7 only.
    digits = first13[:5] + first13[5:7].replace("2A", "19").replace("2B", "18") + first13[7:]
    if not digits.isdigit():
        raise IdentifierError("INS: caractères non numériques hors département corse")
    return 97 - int(digits) % 97


def parse_ins(value: str, oid: str | None = None, *, test: bool = False) -> Ins:
    """Validates an INS matricule and the OID it comes with (derived when absent)."""
    matricule = value.strip().upper().replace(" ", "")
    if not _INS_RE.match(matricule):
        raise IdentifierError("INS: 15 caractères attendus (13 chiffres, 2A/2B admis, clé)")
    if ins_key(matricule[:13]) != int(matricule[13:]):
        raise IdentifierError("INS: clé de contrôle incorrecte")
    kind = InsKind.NIA if matricule[0] in _NIA_PREFIXES else InsKind.NIR
    if oid is None:
        oid = INS_OIDS[(kind, test)]
    elif oid not in (INS_OIDS[(kind, False)], INS_OIDS[(kind, True)]):
        raise IdentifierError(f"INS: OID {oid} incompatible avec un {kind.value}")
    return Ins(matricule, kind, oid)


def luhn_valid(digits: str) -> bool:
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def parse_national_id(value: str) -> str:
    """A professional national id: "8" + RPPS (11 digits, Luhn) or "0" + ADELI (9 chars)."""
    nid = value.strip()
    if len(nid) == 12 and nid[0] == "8":
        if not luhn_valid(nid[1:]):
            raise IdentifierError("RPPS: clé de Luhn incorrecte")
        return nid
    # ADELI has no public check key: its format is all that can be verified.
    if len(nid) == 10 and nid[0] == "0" and _DEPT_THEN_7_DIGITS.fullmatch(nid[1:]):
        return nid
    raise IdentifierError("identifiant national: '8' + RPPS (11 chiffres) ou '0' + ADELI (9)")


def parse_finess(value: str) -> str:
    finess = value.strip().upper()
    if not _DEPT_THEN_7_DIGITS.fullmatch(finess):
        raise IdentifierError("FINESS: 9 caractères attendus")
    # The key is a Luhn over the digits; Corsican numbers (2A/2B) have no known rule.
    if finess.isdigit() and not luhn_valid(finess):
        raise IdentifierError("FINESS: clé de Luhn incorrecte")
    return finess
