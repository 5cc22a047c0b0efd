"""The seeded vocabulary of the document corpus, read once from `bench/data/*.json`.

The lists keep their file order: generators draw from them with a seeded random stream,
so reordering or editing a file changes every generated document (on purpose: the data
is the corpus's source, not a detail).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parent / "data"


def _load(name: str) -> dict[str, Any]:
    with (DATA / f"{name}.json").open(encoding="utf-8") as f:
        data: dict[str, Any] = json.load(f)
    return data


@dataclass(frozen=True, slots=True)
class Medicine:
    dci: str
    strength: str
    form: str
    atc: str
    cis: str
    posologies: tuple[str, ...]

    @property
    def name(self) -> str:
        """As printed on an ordonnance: DCI in capitals, strength, form."""
        return f"{self.dci.upper()} {self.strength}, {self.form}"


@dataclass(frozen=True, slots=True)
class Disease:
    label: str
    icd10: str
    atc: tuple[str, ...]
    min_age: int = 0
    sex: str = ""  # "M" or "F" when only one can have it


@dataclass(frozen=True, slots=True)
class Allergy:
    label: str
    substance: str
    code: str


@dataclass(frozen=True, slots=True)
class Analyte:
    label: str
    loinc: str
    unit: str
    ucum: str
    low: float
    high: float
    decimals: int
    panel: str


@dataclass(frozen=True, slots=True)
class Vaccine:
    label: str
    product: str
    atc: str
    lot: str


@dataclass(frozen=True, slots=True)
class Exam:
    title: str
    loinc: str
    technique: str
    normal: tuple[str, ...]
    abnormal: tuple[str, ...]
    conclusions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Procedure:
    label: str
    ccam: str
    anaesthesia: str
    steps: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Vocabulary:
    medicines: tuple[Medicine, ...]
    diseases: tuple[Disease, ...]
    allergies: tuple[Allergy, ...]
    reactions: tuple[str, ...]
    severities: tuple[str, ...]
    symptoms: tuple[str, ...]
    findings_normal: tuple[str, ...]
    findings_abnormal: tuple[str, ...]
    analytes: tuple[Analyte, ...]
    vaccines: tuple[Vaccine, ...]
    exams: tuple[Exam, ...]
    procedures: tuple[Procedure, ...]
    cities: tuple[str, ...]
    services: tuple[str, ...]
    establishments: tuple[str, ...]
    cabinets: tuple[str, ...]
    labs: tuple[str, ...]
    pharmacies: tuple[str, ...]
    streets: tuple[str, ...]
    surnames: tuple[str, ...]
    first_f: tuple[str, ...]
    first_m: tuple[str, ...]

    def diseases_for_patient(self, years: int, sex: str) -> tuple[Disease, ...]:
        return tuple(d for d in self.diseases if d.min_age <= years and d.sex in ("", sex))

    def medicines_for(self, disease: Disease) -> tuple[Medicine, ...]:
        """Medicines whose ATC code starts with one of the disease's prefixes (all if none)."""
        found = tuple(m for m in self.medicines if m.atc.startswith(disease.atc))
        return found or self.medicines


def _tuples(items: list[dict[str, Any]], kind: type, *listy: str) -> tuple[Any, ...]:
    return tuple(
        kind(**{k: tuple(v) if k in listy else v for k, v in item.items()}) for item in items
    )


@cache
def vocabulary() -> Vocabulary:
    places = _load("places")
    allergies = _load("allergies")
    symptoms = _load("symptoms")
    names = _load("names")
    return Vocabulary(
        medicines=_tuples(_load("medicines")["medicines"], Medicine, "posologies"),
        diseases=_tuples(_load("diseases")["diseases"], Disease, "atc"),
        allergies=_tuples(allergies["allergies"], Allergy),
        reactions=tuple(allergies["reactions"]),
        severities=tuple(allergies["severities"]),
        symptoms=tuple(symptoms["symptoms"]),
        findings_normal=tuple(symptoms["findings_normal"]),
        findings_abnormal=tuple(symptoms["findings_abnormal"]),
        analytes=_tuples(_load("analytes")["analytes"], Analyte),
        vaccines=_tuples(_load("vaccines")["vaccines"], Vaccine),
        exams=_tuples(_load("exams")["exams"], Exam, "normal", "abnormal", "conclusions"),
        procedures=_tuples(_load("procedures")["procedures"], Procedure, "steps"),
        cities=tuple(places["cities"]),
        services=tuple(places["services"]),
        establishments=tuple(places["establishments"]),
        cabinets=tuple(places["cabinets"]),
        labs=tuple(places["labs"]),
        pharmacies=tuple(places["pharmacies"]),
        streets=tuple(places["streets"]),
        surnames=tuple(names["surnames"]),
        first_f=tuple(names["first_f"]),
        first_m=tuple(names["first_m"]),
    )
