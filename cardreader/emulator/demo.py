"""The named demo set: patients and professionals the whole project's demo relies on.

Identifiers are valid (INS keys, RPPS and FINESS Luhn keys) but fictitious; INS use the
TEST register OID. Professional cards of the demo share the documented DEMO PIN and PUK
unless random ones are asked for: fine for a demo kiosk, never for a real card.
"""

from __future__ import annotations

import re
import secrets
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from ..identity import (
    INS_NIR_TEST_OID,
    PatientIdentity,
    ProfessionalIdentity,
    Sex,
    Structure,
)
from ..profile import PIN_LENGTH, PUK_LENGTH
from .cardfile import CardFile, save, write_private_json
from .pki import Pki

DEMO_PIN = "1234"
DEMO_PUK = "12345678"
DEMO_NOTICE = (
    "DEMO CARD of the dmp-kiosk test PKI. Professional demo cards use the documented "
    "demo PIN/PUK (docs/card-profile.md) unless issued with random codes."
)
INDEX_FORMAT = "dmp-kiosk-card-index/1"

CABINET = Structure("750100018", "Cabinet médical du Marais")
PHARMACIE = Structure("130000011", "Pharmacie du Vieux-Port")
CHU = Structure("510000011", "CHU de Reims")
SAMU = Structure("690000013", "SAMU 69 - Centre 15")


@dataclass(frozen=True)
class DemoPatient:
    identity: PatientIdentity
    representatives: tuple[str, ...] = ()  # INS of legal representatives
    medecin_traitant: str | None = None  # national id of the attending GP
    # False: known to the insurer (identity, contact) but no dossier yet, so the kiosk
    # demo can show a dossier being opened.
    has_dossier: bool = True


@dataclass(frozen=True)
class DemoProfessional:
    identity: ProfessionalIdentity
    medecin_traitant_of: tuple[str, ...] = field(default=())


GP_ID = "810002813839"

PATIENTS = (
    DemoPatient(
        PatientIdentity(
            "DURAND",
            ("Marie", "Louise"),
            date(1955, 8, 12),
            Sex.FEMALE,
            1,
            "255081416802538",
            INS_NIR_TEST_OID,
            "14168",
        ),
        medecin_traitant=GP_ID,
    ),
    DemoPatient(
        PatientIdentity(
            "SANTONI",
            ("Lucia",),
            date(1953, 7, 2),
            Sex.FEMALE,
            1,
            "253072B07300470",
            INS_NIR_TEST_OID,
            "2B073",
        ),
    ),
    DemoPatient(
        PatientIdentity(
            "LEFEBVRE",
            ("Sophie", "Anne"),
            date(1979, 3, 21),
            Sex.FEMALE,
            1,
            "279035121518989",
            INS_NIR_TEST_OID,
            "51215",
            usage_name="MOREL",
        ),
        medecin_traitant=GP_ID,
    ),
    DemoPatient(
        PatientIdentity(
            "LEFEBVRE",
            ("Lucas",),
            date(2015, 6, 9),
            Sex.MALE,
            1,
            "115065145412302",
            INS_NIR_TEST_OID,
            "51454",
        ),
        representatives=("279035121518989",),
        medecin_traitant=GP_ID,
    ),
    DemoPatient(
        PatientIdentity(
            "BERNARD",
            ("Paul",),
            date(1962, 11, 30),
            Sex.MALE,
            1,
            "162117511304567",
            INS_NIR_TEST_OID,
            "75113",
        ),
    ),
    DemoPatient(
        PatientIdentity(
            "NICOLAS",
            ("Camille",),
            date(1988, 2, 14),
            Sex.FEMALE,
            1,
            "288026912304513",
            INS_NIR_TEST_OID,
            "69123",
        ),
        has_dossier=False,
    ),
)

PROFESSIONALS = (
    DemoProfessional(
        ProfessionalIdentity(
            "DUPONT", "Jean", GP_ID, "medecin_generaliste", CABINET, "medecine_generale"
        ),
        medecin_traitant_of=("255081416802538", "279035121518989", "115065145412302"),
    ),
    DemoProfessional(
        ProfessionalIdentity(
            "MOREAU", "Claire", "810003123451", "pharmacien", PHARMACIE, "pharmacie_officine"
        ),
    ),
    DemoProfessional(
        ProfessionalIdentity(
            "PETIT", "Julien", "810004567896", "infirmier", CABINET, "soins_infirmiers"
        ),
    ),
    DemoProfessional(
        ProfessionalIdentity("GARCIA", "Inès", "3510000011/ADM0042", "admissions", CHU),
    ),
    DemoProfessional(
        ProfessionalIdentity(
            "LAMBERT", "Sophie", "3510000011/DPO0001", "delegue_protection_donnees", CHU
        ),
    ),
    DemoProfessional(
        ProfessionalIdentity(
            "GIRARD", "Paul", "810001234565", "medecin_specialiste", CHU, "cardiologie"
        ),
    ),
    DemoProfessional(
        ProfessionalIdentity(
            "ROUX", "Thomas", "810005678908", "urgentiste", CHU, "medecine_d_urgence"
        ),
    ),
    DemoProfessional(
        ProfessionalIdentity(
            "FOURNIER", "Nadia", "810006789019", "regulateur_samu", SAMU, "regulation_medicale"
        ),
    ),
)


def slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")


def patient_file_name(identity: PatientIdentity) -> str:
    return f"patient-{slug(identity.first_names[0])}-{slug(identity.birth_name)}.json"


def professional_file_name(identity: ProfessionalIdentity) -> str:
    return f"{identity.profession}-{slug(identity.last_name)}.json"


def random_code(length: int) -> str:
    return "".join(secrets.choice("0123456789") for _ in range(length))


@dataclass(frozen=True)
class IssuedDemoCard:
    path: Path
    card: CardFile
    pin: str | None
    puk: str | None


def make_demo_set(directory: Path, *, random_pins: bool = False) -> list[IssuedDemoCard]:
    """Issue every demo card with the PKI in `directory` (created if absent)."""
    directory = Path(directory)
    pki = Pki.open_or_init(directory)
    cards_dir = directory / "cards"
    cards_dir.mkdir(exist_ok=True)
    issued: list[IssuedDemoCard] = []
    index: list[dict[str, Any]] = []
    for patient in PATIENTS:
        card = pki.issue_card(patient.identity, demo=True)
        card.notice = DEMO_NOTICE
        path = cards_dir / patient_file_name(patient.identity)
        save(card, path)
        issued.append(IssuedDemoCard(path, card, None, None))
        index.append(_patient_entry(path.name, card, patient))
    for professional in PROFESSIONALS:
        pin = random_code(PIN_LENGTH) if random_pins else DEMO_PIN
        puk = random_code(PUK_LENGTH) if random_pins else DEMO_PUK
        card = pki.issue_card(professional.identity, pin=pin, puk=puk, demo=True)
        card.notice = DEMO_NOTICE
        path = cards_dir / professional_file_name(professional.identity)
        save(card, path)
        issued.append(IssuedDemoCard(path, card, pin, puk))
        index.append(_professional_entry(path.name, card, professional))
    write_private_json(
        cards_dir / "index.json",
        {"format": INDEX_FORMAT, "demo": True, "random_pins": random_pins, "cards": index},
    )
    (cards_dir / "index.json").chmod(0o644)
    return issued


def _common(file_name: str, card: CardFile) -> dict[str, Any]:
    return {
        "file": file_name,
        "kind": card.kind.value,
        "serial": card.serial.hex().upper(),
        "aid": card.aid.hex().upper(),
    }


def _patient_entry(file_name: str, card: CardFile, patient: DemoPatient) -> dict[str, Any]:
    identity = patient.identity
    return _common(file_name, card) | {
        "birth_name": identity.birth_name,
        "usage_name": identity.usage_name,
        "first_names": list(identity.first_names),
        "birth_date": identity.birth_date.isoformat(),
        "sex": identity.sex.value,
        "birth_place": identity.birth_place,
        "ins": identity.ins,
        "ins_oid": identity.ins_oid,
        "minor": _age(identity.birth_date) < 18,
        "representatives": list(patient.representatives),
        "medecin_traitant": patient.medecin_traitant,
    }


def _professional_entry(
    file_name: str, card: CardFile, professional: DemoProfessional
) -> dict[str, Any]:
    identity = professional.identity
    return _common(file_name, card) | {
        "last_name": identity.last_name,
        "first_name": identity.first_name,
        "national_id": identity.national_id,
        "profession": identity.profession,
        "specialty": identity.specialty,
        "structure": {"finess": identity.structure.identifier, "name": identity.structure.name},
        "medecin_traitant_of": list(professional.medecin_traitant_of),
    }


def _age(birth: date, today: date | None = None) -> int:
    today = today or date.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))
