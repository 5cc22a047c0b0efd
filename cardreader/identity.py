"""Card holder identities and the check digits of French health identifiers.

Pure: no I/O, no card access; the server may import it freely.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

# INS OIDs (ANS "Référentiel INS"): which register the matricule comes from.
INS_NIR_OID = "1.2.250.1.213.1.4.8"
INS_NIA_OID = "1.2.250.1.213.1.4.9"
INS_NIR_TEST_OID = "1.2.250.1.213.1.4.10"
INS_NIA_TEST_OID = "1.2.250.1.213.1.4.11"
INS_OIDS = frozenset({INS_NIR_OID, INS_NIA_OID, INS_NIR_TEST_OID, INS_NIA_TEST_OID})

# Keys of the server's access matrix: these exact strings are a contract.
PROFESSIONS = frozenset(
    {
        "medecin_generaliste",
        "medecin_specialiste",
        "urgentiste",
        "regulateur_samu",
        "pharmacien",
        "infirmier",
        "sage_femme",
        "chirurgien_dentiste",
        "masseur_kinesitherapeute",
        "biologiste",
        "admissions",
        # An establishment's délégué à la protection des données: reviews flagged
        # accesses, reads no dossier (docs/alerts.md).
        "delegue_protection_donnees",
    }
)

# Identifiers are ASCII: without re.ASCII, `\d` also matches other scripts' digits
# ("١٢٣"), which int() then reads as the same number: a second identity for one person.
_INS_RE = re.compile(r"[12378]\d{4}(?:\d{2}|2A|2B)\d{6}\d{2}", re.ASCII)
_PLACE_RE = re.compile(r"(\d{2}|2A|2B)\d{3}", re.ASCII)
_ADELI_RE = re.compile(r"(\d{2}|2A|2B)\d{7}", re.ASCII)
_CPE_RE = re.compile(r"3(\d{9}|\d{2}[AB]\d{6})/[A-Za-z0-9]{1,20}", re.ASCII)


def _digits(value: str) -> bool:
    """ASCII digits only: str.isdigit() also takes superscripts and other scripts."""
    return value.isascii() and value.isdigit()


class Sex(StrEnum):
    MALE = "M"
    FEMALE = "F"


def ins_key(first13: str) -> int:
    """NIR key: 97 - (number mod 97); Corsica's 2A/2B count as 19/18 (positions 6-7 only)."""
    if len(first13) != 13:
        raise ValueError("an INS matricule without its key has 13 characters")
    department = first13[5:7]
    digits = first13[:5] + {"2A": "19", "2B": "18"}.get(department, department) + first13[7:]
    if not _digits(digits):
        raise ValueError("an INS matricule has only digits, 2A or 2B")
    return 97 - int(digits) % 97


def ins_valid(ins: str) -> bool:
    if not _INS_RE.fullmatch(ins):
        return False
    return ins_key(ins[:13]) == int(ins[13:])


def luhn_valid(digits: str) -> bool:
    if not _digits(digits):
        return False
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def rpps_valid(rpps: str) -> bool:
    return len(rpps) == 11 and luhn_valid(rpps)


def finess_valid(finess: str) -> bool:
    # Corsican FINESS numbers (2A/2B) have no published key: format check only.
    if len(finess) == 9 and finess[:2] in ("2A", "2B") and _digits(finess[2:]):
        return True
    return len(finess) == 9 and luhn_valid(finess)


def national_id_valid(national_id: str) -> bool:
    """Professional national id: "8"+RPPS, "0"+ADELI, or "3"+FINESS+"/"+staff id (CPE)."""
    if national_id.startswith("8"):
        return rpps_valid(national_id[1:])
    if national_id.startswith("0"):
        # ADELI has no public key: département (2 digits, 2A or 2B) then 7 digits.
        return _ADELI_RE.fullmatch(national_id[1:]) is not None
    if _CPE_RE.fullmatch(national_id):
        return finess_valid(national_id[1:10])
    return False


@dataclass(frozen=True)
class PatientIdentity:
    birth_name: str
    first_names: tuple[str, ...]
    birth_date: date
    sex: Sex
    birth_rank: int
    ins: str
    ins_oid: str
    birth_place: str | None = None
    usage_name: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.birth_name or not self.first_names or not all(self.first_names):
            problems.append("names must not be empty")
        if not 1 <= self.birth_rank <= 255:
            problems.append("birth rank out of range")
        if not ins_valid(self.ins):
            problems.append("INS matricule has a bad format or key")
        elif self.ins[0] in "12" and self.ins[0] != {"M": "1", "F": "2"}[self.sex]:
            problems.append("INS sex digit disagrees with the sex")
        if self.ins_oid not in INS_OIDS:
            problems.append("unknown INS OID")
        if self.birth_place is not None and not _PLACE_RE.fullmatch(self.birth_place):
            problems.append("birth place is not an INSEE code")
        if problems:
            raise ValueError("invalid patient identity: " + "; ".join(problems))


@dataclass(frozen=True)
class Structure:
    identifier: str
    name: str


@dataclass(frozen=True)
class ProfessionalIdentity:
    last_name: str
    first_name: str
    national_id: str
    profession: str
    structure: Structure
    specialty: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if not self.last_name or not self.first_name:
            problems.append("names must not be empty")
        if not national_id_valid(self.national_id):
            problems.append("national id has a bad format or key")
        if self.profession not in PROFESSIONS:
            problems.append(f"unknown profession code {self.profession!r}")
        if not finess_valid(self.structure.identifier):
            problems.append("structure FINESS has a bad format or key")
        if problems:
            raise ValueError("invalid professional identity: " + "; ".join(problems))
