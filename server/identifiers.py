"""National identifiers with the server's errors: INS matricule (NIR/NIA), professional
national ids, FINESS. The check algorithms themselves live in `cardreader.identity`, the
one place both the cards and the server take them from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from cardreader.identity import finess_valid, ins_key, national_id_valid


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

# ASCII digits only: `\d` alone matches any script's digits (cardreader.identity).
_INS_RE = re.compile(r"^[12378][0-9]{4}([0-9]{2}|2A|2B)[0-9]{8}$")
# NIA numbers are allotted by INSEE with a leading 7 or 8, while the NIR's first digit
# encodes sex (1/2) or a provisional registration (3/4).
_NIA_PREFIXES = "78"


@dataclass(frozen=True, slots=True)
class Ins:
    matricule: str
    kind: InsKind
    oid: str


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


def parse_national_id(value: str) -> str:
    """ "8" + RPPS (Luhn), "0" + ADELI (format only), or "3" + FINESS + "/" + staff id (CPE)."""
    nid = value.strip()
    if not national_id_valid(nid):
        raise IdentifierError(
            "identifiant national : '8' + RPPS, '0' + ADELI ou '3' + FINESS + '/' + identifiant"
        )
    return nid


def parse_finess(value: str) -> str:
    finess = value.strip().upper()
    if not finess_valid(finess):
        raise IdentifierError("FINESS : 9 caractères dont une clé de Luhn")
    return finess
