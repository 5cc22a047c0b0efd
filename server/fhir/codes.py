"""Code systems, identifier systems and the codings a stored document maps to.

The national systems are those the French profile (PDSm, ans.fhir.fr.pdsm) and FR Core
use; where the server keeps a value no national terminology we could check names (our
eleven categories, our profession keys), it says so with a code system of its own beside
the national coding rather than guess a national code (docs/fhir.md lists which).
"""

from __future__ import annotations

from typing import Any

from server.content.sniff import DECLARED, PATIENT_KINDS
from server.identifiers import INS_OIDS
from server.services.facts import DocumentRow

OWN = "https://dmp-kiosk.invalid/fhir"  # this server's own code systems
OWN_CATEGORY = f"{OWN}/CodeSystem/category"
OWN_PROFESSION = f"{OWN}/CodeSystem/profession"
OWN_REASON = f"{OWN}/CodeSystem/reason"  # the API's `reason`, in an OperationOutcome

LOINC = "http://loinc.org"
URI = "urn:ietf:rfc:3986"
CLASS_TRE_A03 = "https://mos.esante.gouv.fr/NOS/TRE_A03-ClasseDocument/FHIR/TRE-A03-ClasseDocument"
PROFESSION_TRE_G15 = (
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
)
VISIBILITY_TRE_A07 = (
    "https://mos.esante.gouv.fr/NOS/TRE_A07-StatusVisibiliteDocument/FHIR/"
    "TRE-A07-StatusVisibiliteDocument"
)
CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
FORMAT_IHE = "http://ihe.net/fhir/ihe.formatcode.fhir/CodeSystem/formatcode"
FR_CORE_V2_0203 = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
IDNPS = "urn:oid:1.2.250.1.71.4.2.1"  # professionals' national ids ("8" + RPPS...)
IDNST = "urn:oid:1.2.250.1.71.4.2.2"  # structures' national ids ("1" + FINESS)
IS_ARCHIVED = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-archived"
# PDSm_IsDeleted (boolean, on DocumentReference): logical deletion, with status superseded.
IS_DELETED = "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/pdsm-ext-is-deleted"
PDSM_PROFILE = (
    "https://interop.esante.gouv.fr/ig/fhir/pdsm/StructureDefinition/"
    "pdsm-comprehensive-document-reference"
)

# INS systems patient.identifier takes: the real NIR and NIA, and the test ones.
INS_SYSTEMS = {f"urn:oid:{oid}": oid for oid in INS_OIDS.values()}

# TRE_A03 class codes checked in the PDSm IG's own examples; the other categories carry
# our code alone until the national table is imported (a guessed code would mislead).
CLASS_CODES = {"compte_rendu": ("10", "Compte rendu"), "gestion": ("95", "Document de gestion")}
# TRE_G15 profession codes (Médecin, Pharmacien, Chirurgien-dentiste, Sage-femme,
# Infirmier, Masseur-kinésithérapeute). None for the functions without a profession of
# their own (admissions desk, SAMU regulator) nor for biologists, who may be physicians
# or pharmacists: the card record does not say which.
PROFESSION_CODES = {
    "medecin_generaliste": "10",
    "medecin_specialiste": "10",
    "urgentiste": "10",
    "pharmacien": "21",
    "chirurgien_dentiste": "40",
    "sage_femme": "50",
    "infirmier": "60",
    "masseur_kinesitherapeute": "70",
}

# Visibility flags (domain.md) as the DMP's TRE_A07 codes.
VISIBILITY = {
    "masked_ps": "MASQUE_PS",
    "invisible_patient": "INVISIBLE_PATIENT",
    "invisible_rep": "INVISIBLE_REPRESENTANTS_LEGAUX",
}
# The server records no confidentiality code: every document is "normal" (PDSm's
# default), the visibility codes saying who it is hidden from.
NORMAL = "N"

# Content readable as it is, with no format of its own to announce (IHE's "the MIME type
# is sufficient"): what patients upload. CDA and FHIR documents would need their format
# code (a CDA template), which the server does not record yet: no format is claimed.
MIME_SUFFICIENT = "urn:ihe:iti:xds:2017:mimeTypeSufficient"
_SUFFICIENT_TYPES = frozenset(m for m, kind in DECLARED.items() if kind in PATIENT_KINDS)

Coding = tuple[str | None, str]  # (system, code)


def category_codings(category: str) -> list[Coding]:
    out: list[Coding] = [(OWN_CATEGORY, category)]
    if category in CLASS_CODES:
        out.append((CLASS_TRE_A03, CLASS_CODES[category][0]))
    return out


def type_codings(row: DocumentRow) -> list[Coding]:
    return [(LOINC, row.type_code)]


def format_codings(mime_type: str) -> list[Coding]:
    return [(FORMAT_IHE, MIME_SUFFICIENT)] if mime_type in _SUFFICIENT_TYPES else []


def security_codings(row: DocumentRow) -> list[Coding]:
    out: list[Coding] = [(CONFIDENTIALITY, NORMAL)]
    out += [(VISIBILITY_TRE_A07, code) for name, code in VISIBILITY.items() if getattr(row, name)]
    return out


def identifier_codings(row: DocumentRow) -> list[Coding]:
    """masterIdentifier and identifier values, for the `identifier` search parameter."""
    unique = (URI if row.unique_id.startswith("urn:") else None, row.unique_id)
    return [
        unique,
        (URI, f"urn:uuid:{row.entry_uuid}"),
        (URI, f"urn:uuid:{row.logical_id}"),
    ]


def coding(system: str | None, code: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"code": code}
    if system is not None:
        out = {"system": system, **out}
    if display:
        out["display"] = display
    return out
