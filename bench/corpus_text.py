"""French clinical content, independent of its format.

A `Report` is what a document says: a letterhead, a title, sections of paragraphs, an
optional table and coded entries (medication lines, lab results, problems, allergies,
vaccinations). The renderers (`corpus_pdf`, `corpus_cda`, `corpus_fhir`, plain text)
turn one report into bytes, so the same clinical content can travel as a PDF, a CDA or a
FHIR document, as it does in the field. Everything is drawn from the caller's random
stream and the vocabulary of `bench/data/`: the same stream gives the same report.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TypeVar

from bench.corpus_vocab import (
    Allergy,
    Analyte,
    Disease,
    Exam,
    Medicine,
    Vaccine,
    Vocabulary,
    vocabulary,
)

T = TypeVar("T")


# --- who and when -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    given: str
    family: str
    sex: str  # "F" | "M"
    birth_date: date
    ins: str  # NIR-form INS (15 digits)


@dataclass(frozen=True, slots=True)
class Author:
    given: str
    family: str
    rpps: str  # national id ("8" + RPPS)
    profession: str  # French label, as on a letterhead
    organisation: str
    finess: str | None


@dataclass(frozen=True, slots=True)
class Context:
    """The patient a document is about, who wrote it (None: the patient) and when."""

    patient: Person
    author: Author | None
    when: datetime


# --- coded entries ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MedicationLine:
    medicine: Medicine
    quantity: int
    unit: str
    posology: str

    @property
    def quantity_text(self) -> str:
        return f"{self.quantity} {self.unit}{'s' if self.quantity > 1 else ''}"


@dataclass(frozen=True, slots=True)
class LabResult:
    analyte: Analyte
    value: float
    flag: str  # "N" normal, "H" high, "L" low (HL7 interpretation codes)

    @property
    def value_text(self) -> str:
        return f"{self.value:.{self.analyte.decimals}f}".replace(".", ",")

    @property
    def range_text(self) -> str:
        a = self.analyte
        low = f"{a.low:.{a.decimals}f}".replace(".", ",")
        high = f"{a.high:.{a.decimals}f}".replace(".", ",")
        return f"{low} - {high}"


@dataclass(frozen=True, slots=True)
class Problem:
    disease: Disease
    onset: str  # "YYYY-MM"


@dataclass(frozen=True, slots=True)
class AllergyItem:
    allergy: Allergy
    reaction: str
    severity: str


@dataclass(frozen=True, slots=True)
class VaccinationItem:
    vaccine: Vaccine
    on: date
    lot: str


Entry = MedicationLine | LabResult | Problem | AllergyItem | VaccinationItem

# LOINC section codes used by CDA sections and FHIR Composition sections.
SECTION_CODES = {
    "motif": "29299-5",
    "antecedents": "11348-0",
    "histoire": "10164-2",
    "examen": "29545-1",
    "conclusion": "55110-1",
    "traitements": "10160-0",
    "prescription": "57828-6",
    "dispensation": "60590-7",
    "resultats": "30954-2",
    "problemes": "11450-4",
    "allergies": "48765-2",
    "vaccinations": "11369-6",
    "plan": "18776-5",
    "evolution": "8648-8",
    "intervention": "29554-3",
    "technique": "55111-9",
    "remboursements": "48768-6",
    "texte": "55107-7",
}


@dataclass
class Section:
    title: str
    code: str
    paragraphs: list[str] = field(default_factory=list)
    header: tuple[str, ...] = ()
    rows: Sequence[Sequence[str]] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)


@dataclass
class Report:
    kind: str
    category: str
    type_code: str
    title: str
    ctx: Context
    letterhead: list[str]
    sections: list[Section]
    signature: str
    # How the medication entries happened: "INT" prescribed, "EVN" given or dispensed.
    medication_mood: str = "INT"

    def entries(self) -> list[Entry]:
        return [e for s in self.sections for e in s.entries]


# --- small helpers ----------------------------------------------------------------------


def pick(rng: random.Random, items: Sequence[T]) -> T:
    return items[int(rng.random() * len(items))]


def sample(rng: random.Random, items: Sequence[T], k: int) -> list[T]:
    return rng.sample(list(items), min(k, len(items)))


def fr_date(d: date | datetime) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def age(person: Person, when: datetime) -> int:
    """Whole years at `when`; 0 before birth (the population dates some documents of a
    newborn's dossier before the birth, as a pregnancy follow-up would be)."""
    b = person.birth_date
    return max(0, when.year - b.year - ((when.month, when.day) < (b.month, b.day)))


def civility(person: Person) -> str:
    return "Mme" if person.sex == "F" else "M."


def full_name(given: str, family: str) -> str:
    return f"{given} {family.replace('_', ' ').upper()}"


def place(template: str, city: str) -> str:
    """An establishment's name in a city, with the elision French requires (d'Angers)."""
    if city[0] in "AEIOUÉÈYaeiouéèy" and "de {city}" in template:
        return template.replace("de {city}", "d'{city}").format(city=city)
    return template.format(city=city)


def _e(person: Person) -> str:
    """The feminine ending of a past participle, for agreement with the patient."""
    return "e" if person.sex == "F" else ""


def dispensing_unit(form: str) -> str:
    """What a pharmacist counts: a bottle for liquids and sprays, a box for the rest."""
    liquid = form.startswith(("solution buvable", "suspension", "collyre"))
    return "flacon" if liquid and "sachet" not in form and "ampoule" not in form else "boîte"


def medication_line(rng: random.Random, medicine: Medicine) -> MedicationLine:
    unit = dispensing_unit(medicine.form)
    return MedicationLine(
        medicine, rng.choice((1, 1, 1, 2, 3)), unit, pick(rng, medicine.posologies)
    )


def lab_result(rng: random.Random, analyte: Analyte) -> LabResult:
    span = analyte.high - analyte.low
    roll = rng.random()
    if roll < 0.12:
        value, flag = analyte.high + span * rng.uniform(0.05, 0.8), "H"
    elif roll < 0.18 and analyte.low > 0:
        value, flag = max(analyte.low - span * rng.uniform(0.05, 0.4), 0.0), "L"
    else:
        value, flag = analyte.low + span * rng.uniform(0.05, 0.95), "N"
    return LabResult(analyte, round(value, analyte.decimals), flag)


def vaccination(rng: random.Random, vaccine: Vaccine, on: date) -> VaccinationItem:
    return VaccinationItem(vaccine, on, f"{vaccine.lot}{rng.randint(1000, 99999)}")


def medication_section(code: str, title: str, lines: list[MedicationLine]) -> Section:
    return Section(
        title,
        code,
        header=("Médicament", "Posologie", "Quantité"),
        rows=[(m.medicine.name, m.posology, m.quantity_text) for m in lines],
        entries=list(lines),
    )


def lab_section(results: list[LabResult], title: str = "Résultats") -> Section:
    rows = [
        (
            r.analyte.label,
            r.value_text + (" *" if r.flag != "N" else ""),
            r.analyte.unit,
            r.range_text,
        )
        for r in results
    ]
    header = ("Analyse", "Résultat", "Unité", "Valeurs de référence")
    return Section(
        title, SECTION_CODES["resultats"], header=header, rows=rows, entries=list(results)
    )


def problem_section(problems: list[Problem]) -> Section:
    rows = [(p.disease.label.capitalize(), p.disease.icd10, p.onset) for p in problems]
    return Section(
        "Problèmes actifs",
        SECTION_CODES["problemes"],
        header=("Problème", "CIM-10", "Depuis"),
        rows=rows,
        entries=list(problems),
    )


def allergy_section(items: list[AllergyItem]) -> Section:
    if not items:
        return Section("Allergies", SECTION_CODES["allergies"], ["Pas d'allergie connue."])
    rows = [(a.allergy.label.capitalize(), a.reaction, a.severity) for a in items]
    return Section(
        "Allergies",
        SECTION_CODES["allergies"],
        header=("Allergie", "Réaction", "Sévérité"),
        rows=rows,
        entries=list(items),
    )


def vaccination_section(items: list[VaccinationItem]) -> Section:
    rows = [(v.vaccine.label, v.vaccine.product, fr_date(v.on), v.lot) for v in items]
    return Section(
        "Vaccinations",
        SECTION_CODES["vaccinations"],
        header=("Vaccin", "Produit", "Date", "Lot"),
        rows=rows,
        entries=list(items),
    )


# --- sentences --------------------------------------------------------------------------

DURATIONS = (
    "depuis trois jours",
    "depuis une semaine",
    "depuis quinze jours",
    "depuis un mois",
    "évoluant depuis plusieurs mois",
    "d'apparition brutale ce matin",
)
# Written after a colon, so that they agree with any disease's gender.
QUALIFIERS = (
    "équilibre satisfaisant sous traitement",
    "diagnostic récent",
    "exploration en cours",
    "évolution stable",
    "contrôle insuffisant, traitement adapté",
)
PLANS = (
    "Poursuite du traitement habituel.",
    "Bilan biologique de contrôle dans trois mois.",
    "Réévaluation en consultation dans six semaines.",
    "Conseils hygiéno-diététiques rappelés, activité physique adaptée encouragée.",
    "Arrêt du tabac conseillé, aide au sevrage proposée.",
    "Éducation thérapeutique sur l'autosurveillance.",
    "Consulter en urgence en cas de douleur thoracique ou de dyspnée.",
    "Le patient est informé et d'accord avec la prise en charge proposée.",
)
EVOLUTIONS = (
    "apyrexie obtenue, bonne tolérance du traitement",
    "amélioration clinique progressive",
    "persistance d'une dyspnée au moindre effort",
    "douleurs contrôlées par les antalgiques de palier 1",
    "reprise du transit, alimentation bien tolérée",
    "épisode de confusion nocturne spontanément résolutif",
    "constantes stables, diurèse conservée",
    "mobilisation au fauteuil puis reprise de la marche avec aide",
)
ACTIONS = (
    "relais per os de l'antibiothérapie",
    "kinésithérapie respiratoire quotidienne",
    "surveillance glycémique capillaire quatre fois par jour",
    "ablation de la voie veineuse périphérique",
    "avis diététique demandé",
    "adaptation des doses selon la fonction rénale",
    "prévention thromboembolique par héparine de bas poids moléculaire",
    "réunion de concertation pluridisciplinaire programmée",
)


NURSE_VISITS = ("quotidien", "deux fois par jour", "trois fois par semaine")


def vitals(rng: random.Random) -> str:
    return (
        f"TA {rng.randint(105, 165)}/{rng.randint(60, 95)} mmHg, FC {rng.randint(55, 105)}/min, "
        f"SpO2 {rng.randint(92, 100)} % en air ambiant, température "
        f"{rng.uniform(36.2, 38.9):.1f} °C, poids {rng.randint(48, 110)} kg".replace(".", ",", 1)
    )


def exam_paragraph(rng: random.Random, voc: Vocabulary) -> str:
    found = sample(rng, voc.findings_normal, rng.randint(2, 3))
    if rng.random() < 0.4:
        found.append(pick(rng, voc.findings_abnormal))
    return f"{vitals(rng)}. " + ". ".join(f.capitalize() for f in found) + "."


def history_paragraph(rng: random.Random, voc: Vocabulary, diseases: list[Disease]) -> str:
    text = "Antécédents : " + ", ".join(d.label for d in diseases) + ". "
    if rng.random() < 0.3:
        return text + f"{pick(rng, voc.allergies).label.capitalize()}."
    return text + "Pas d'allergie médicamenteuse connue."


def evolution_paragraph(rng: random.Random, voc: Vocabulary, day: int) -> str:
    text = f"J{day} : {pick(rng, EVOLUTIONS)} ; {pick(rng, ACTIONS)}."
    if rng.random() < 0.3:
        results = [lab_result(rng, a) for a in sample(rng, voc.analytes, 3)]
        values = ", ".join(f"{r.analyte.label} {r.value_text} {r.analyte.unit}" for r in results)
        text += f" Biologie : {values}."
    return text


NOT_DOCTORS = ("Infirmier", "Sage-femme", "Masseur", "Bureau", "Organisme")


def honorific(author: Author) -> str:
    """ "Dr " for physicians, pharmacists, dentists and biologists; nothing for the others."""
    return "" if author.profession.startswith(NOT_DOCTORS) else "Dr "


def letterhead(ctx: Context) -> list[str]:
    a = ctx.author
    if a is None:
        p = ctx.patient
        return [f"{civility(p)} {full_name(p.given, p.family)}", "Document transmis par le patient"]
    if not a.rpps:  # an organisation (the insurer), not a person
        return [a.organisation, a.profession]
    lines = [a.organisation, f"{honorific(a)}{full_name(a.given, a.family)} - {a.profession}"]
    lines.append(f"RPPS {a.rpps[1:]}" + (f" - FINESS {a.finess}" if a.finess else ""))
    return lines


def patient_line(ctx: Context) -> str:
    p = ctx.patient
    return (
        f"Patient{_e(p)} : {civility(p)} {full_name(p.given, p.family)}, "
        f"né{_e(p)} le {fr_date(p.birth_date)} - INS {p.ins}"
    )


def signature(ctx: Context) -> str:
    a = ctx.author
    if a is None:
        return ""
    return f"{honorific(a)}{full_name(a.given, a.family)}" if a.rpps else a.organisation


# --- builders, one per kind of document --------------------------------------------------


Builder = Callable[[random.Random, Context, int], list[Section]]


def _diseases(rng: random.Random, ctx: Context, k: int) -> list[Disease]:
    """k conditions this patient may have (no Alzheimer's disease at nine, no prostate
    for a woman)."""
    found = vocabulary().diseases_for_patient(age(ctx.patient, ctx.when), ctx.patient.sex)
    return sample(rng, found, k)


def _treatment(
    rng: random.Random, voc: Vocabulary, diseases: list[Disease]
) -> list[MedicationLine]:
    lines: list[MedicationLine] = []
    for d in diseases:
        lines.append(medication_line(rng, pick(rng, voc.medicines_for(d))))
    if rng.random() < 0.5:
        lines.append(medication_line(rng, pick(rng, voc.medicines)))
    return lines


def consultation(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    p = ctx.patient
    diseases = _diseases(rng, ctx, rng.randint(1, 3))
    main = diseases[0]
    motive = (
        f"{civility(p)} {p.family.replace('_', ' ').title()}, {age(p, ctx.when)} ans, "
        f"vu{_e(p)} ce jour pour {pick(rng, voc.symptoms)} {pick(rng, DURATIONS)}."
    )
    sections = [
        Section("Motif de consultation", SECTION_CODES["motif"], [motive]),
        Section(
            "Antécédents", SECTION_CODES["antecedents"], [history_paragraph(rng, voc, diseases)]
        ),
        Section("Examen clinique", SECTION_CODES["examen"], [exam_paragraph(rng, voc)]),
        Section(
            "Conclusion",
            SECTION_CODES["conclusion"],
            [f"Au total, {main.label} : {pick(rng, QUALIFIERS)}."],
        ),
        medication_section(
            SECTION_CODES["traitements"], "Traitement", _treatment(rng, voc, diseases)
        ),
        Section("Conduite à tenir", SECTION_CODES["plan"], sample(rng, PLANS, rng.randint(2, 3))),
    ]
    return sections


def hospitalisation(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    p = ctx.patient
    diseases = _diseases(rng, ctx, rng.randint(2, 4))
    days = rng.randint(2, 12)
    service = pick(rng, voc.services)
    start = ctx.when - timedelta(days=days)
    sections = [
        Section(
            "Motif d'hospitalisation",
            SECTION_CODES["motif"],
            [
                f"{civility(p)} {p.family.replace('_', ' ').title()}, {age(p, ctx.when)} ans, "
                f"hospitalisé{_e(p)} en {service} du {fr_date(start)} au {fr_date(ctx.when)} "
                f"pour {pick(rng, voc.symptoms)} dans un contexte de {diseases[0].label}."
            ],
        ),
        Section(
            "Antécédents", SECTION_CODES["antecedents"], [history_paragraph(rng, voc, diseases[1:])]
        ),
        Section("Examen d'entrée", SECTION_CODES["examen"], [exam_paragraph(rng, voc)]),
        lab_section(
            [lab_result(rng, a) for a in sample(rng, voc.analytes, rng.randint(4, 9))],
            "Biologie d'entrée",
        ),
        Section(
            "Évolution dans le service",
            SECTION_CODES["evolution"],
            [evolution_paragraph(rng, voc, d) for d in range(1, min(days, 4) + 1)],
        ),
        Section(
            "Conclusion",
            SECTION_CODES["conclusion"],
            [f"{diseases[0].label.capitalize()} : {pick(rng, QUALIFIERS)}. Retour à domicile."],
        ),
        medication_section(
            SECTION_CODES["traitements"], "Traitement de sortie", _treatment(rng, voc, diseases)
        ),
        Section("Suites", SECTION_CODES["plan"], sample(rng, PLANS, 3)),
    ]
    return sections


def operative(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    proc = pick(rng, voc.procedures)
    return [
        Section(
            "Intervention",
            SECTION_CODES["intervention"],
            [f"{proc.label.capitalize()} (CCAM {proc.ccam}) sous {proc.anaesthesia}."],
        ),
        Section(
            "Indication",
            SECTION_CODES["motif"],
            [f"{_diseases(rng, ctx, 1)[0].label.capitalize()}."],
        ),
        Section("Compte rendu", SECTION_CODES["technique"], list(proc.steps)),
        Section(
            "Suites opératoires",
            SECTION_CODES["plan"],
            [
                "Pas d'incident peropératoire. Saignement minime.",
                f"Surveillance habituelle, ablation des fils à J{rng.randint(8, 15)}.",
            ],
        ),
    ]


def lab_report(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    panels: dict[str, list[Analyte]] = {}
    for a in voc.analytes:
        panels.setdefault(a.panel, []).append(a)
    names = sorted(panels)
    chosen = sample(rng, names, rng.randint(2, 5))
    sections = [
        Section(
            "Prélèvement",
            SECTION_CODES["texte"],
            [
                f"Prélèvement sanguin du {fr_date(ctx.when)} à {rng.randint(7, 11)} h "
                f"{rng.randint(0, 59):02d}, à jeun."
            ],
        )
    ]
    for name in chosen:
        sections.append(lab_section([lab_result(rng, a) for a in panels[name]], name))
    sections.append(
        Section(
            "Commentaire",
            SECTION_CODES["conclusion"],
            ["* : valeur hors des limites de référence."],
        )
    )
    return sections


def synthesis(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    diseases = _diseases(rng, ctx, rng.randint(2, 5))
    problems = [
        Problem(d, f"{ctx.when.year - rng.randint(0, 15)}-{rng.randint(1, 12):02d}")
        for d in diseases
    ]
    allergies = [
        AllergyItem(a, pick(rng, voc.reactions), pick(rng, voc.severities))
        for a in sample(rng, voc.allergies, rng.choice((0, 0, 1, 1, 2)))
    ]
    vaccines = [
        vaccination(rng, v, (ctx.when - timedelta(days=rng.randint(30, 3000))).date())
        for v in sample(rng, voc.vaccines, rng.randint(1, 4))
    ]
    return [
        problem_section(problems),
        allergy_section(allergies),
        medication_section(
            SECTION_CODES["traitements"],
            "Traitements au long cours",
            _treatment(rng, voc, diseases),
        ),
        vaccination_section(vaccines),
        Section(
            "Points de vigilance",
            SECTION_CODES["plan"],
            [
                f"Surveillance : {pick(rng, voc.analytes).label.lower()} et tension artérielle.",
                *sample(rng, PLANS, 2),
            ],
        ),
    ]


def imaging(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    exam = _exam_for(rng, voc, ctx)
    abnormal = rng.random() < 0.4
    findings = list(exam.abnormal if abnormal else exam.normal)
    conclusion = pick(
        rng,
        exam.conclusions[1:] if abnormal and len(exam.conclusions) > 1 else exam.conclusions[:1],
    )
    return [
        Section("Examen", SECTION_CODES["texte"], [f"{exam.title} du {fr_date(ctx.when)}."]),
        Section("Indication", SECTION_CODES["motif"], [f"Bilan de {pick(rng, voc.symptoms)}."]),
        Section("Technique", SECTION_CODES["technique"], [exam.technique]),
        Section("Résultats", SECTION_CODES["resultats"], findings),
        Section("Conclusion", SECTION_CODES["conclusion"], [conclusion]),
    ]


def _exam_for(rng: random.Random, voc: Vocabulary, ctx: Context) -> Exam:
    return pick(rng, voc.exams)


def prescription(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    diseases = _diseases(rng, ctx, rng.randint(1, 3))
    lines = _treatment(rng, voc, diseases)
    renew = rng.choice(("", "", "À renouveler 2 fois.", "À renouveler pendant 3 mois."))
    sections = [medication_section(SECTION_CODES["prescription"], "Prescription", lines)]
    if renew:
        sections[0].paragraphs.append(renew)
    return sections


def lab_prescription(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    analytes = sample(rng, voc.analytes, rng.randint(3, 8))
    return [
        Section(
            "Examens demandés",
            SECTION_CODES["prescription"],
            [f"{a.label}" for a in analytes] + ["À réaliser à jeun dans les 15 jours."],
        )
    ]


def dispensation(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    lines = [medication_line(rng, m) for m in sample(rng, voc.medicines, rng.randint(1, 5))]
    section = medication_section(SECTION_CODES["dispensation"], "Médicaments délivrés", lines)
    section.paragraphs.append(f"Délivrance du {fr_date(ctx.when)} sur ordonnance.")
    return [section]


def care_plan(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    disease = _diseases(rng, ctx, 1)[0]
    return [
        Section(
            "Objectifs",
            SECTION_CODES["plan"],
            [f"Prise en charge : {disease.label}. Stabilisation, prévention des complications."],
        ),
        Section(
            "Soins prévus",
            SECTION_CODES["plan"],
            [
                f"Passage infirmier {rng.choice(NURSE_VISITS)}.",
                pick(rng, ACTIONS).capitalize() + ".",
                f"Kinésithérapie {rng.randint(2, 3)} séances par semaine.",
                *sample(rng, PLANS, 2),
            ],
        ),
    ]


def vaccination_record(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    items = [vaccination(rng, pick(rng, voc.vaccines), ctx.when.date())]
    section = vaccination_section(items)
    section.paragraphs.append(
        "Injection intramusculaire dans le deltoïde, pas de réaction immédiate."
    )
    return [section]


def administered(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    lines = [medication_line(rng, m) for m in sample(rng, voc.medicines, rng.randint(1, 3))]
    section = medication_section(SECTION_CODES["traitements"], "Traitements administrés", lines)
    section.paragraphs.append(f"Administration le {fr_date(ctx.when)}, bonne tolérance.")
    return [section]


def certificate(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    p = ctx.patient
    reason = rng.choice(
        (
            "ne présente pas de contre-indication à la pratique du sport en compétition",
            f"présente un état de santé justifiant un arrêt de travail de {rng.randint(2, 21)} j",
            "a été examiné ce jour et présente des lésions compatibles avec les faits allégués",
            "est apte à la conduite de véhicules du groupe léger",
        )
    )
    text = (
        f"Je soussigné(e), {signature(ctx)}, certifie avoir examiné ce jour {civility(p)} "
        f"{full_name(p.given, p.family)}, né{_e(p)} le {fr_date(p.birth_date)}, qui {reason}."
    )
    return [
        Section(
            "Certificat",
            SECTION_CODES["texte"],
            [
                text,
                "Certificat remis en main propre à l'intéressé pour faire valoir ce que de droit.",
            ],
        )
    ]


def reimbursement(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    lines = [medication_line(rng, m) for m in sample(rng, voc.medicines, rng.randint(1, 6))]
    # Medicine rows first: row i of the table is entry i (the CDA narrative references).
    rows: list[tuple[str, ...]] = [
        (fr_date(ctx.when - timedelta(days=rng.randint(0, 360))), "Pharmacie", line.medicine.name,
         f"{rng.uniform(2, 60):.2f} €".replace(".", ","))
        for line in lines
    ]  # fmt: skip
    for _ in range(rng.randint(1, 6)):
        act = pick(rng, ACTS)
        when = ctx.when - timedelta(days=rng.randint(0, 360))
        rows.append((fr_date(when), "Acte", act, f"{rng.uniform(10, 60):.2f} €".replace(".", ",")))
    return [
        Section(
            "Remboursements",
            SECTION_CODES["remboursements"],
            ["Soins remboursés par l'Assurance Maladie sur les douze derniers mois."],
            header=("Date", "Nature", "Libellé", "Montant remboursé"),
            rows=rows,
            entries=list(lines),
        )
    ]


ACTS = (
    "Consultation de médecine générale (G)",
    "Consultation de spécialiste (APC)",
    "Actes de biologie",
    "Séance de kinésithérapie",
    "Soins infirmiers (AMI)",
)


def personal(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    return [
        Section(
            "Note personnelle",
            SECTION_CODES["texte"],
            [
                f"Mes antécédents : {', '.join(d.label for d in _diseases(rng, ctx, 2))}.",
                f"Je signale une {pick(rng, voc.allergies).label}."
                if rng.random() < 0.5
                else "Pas d'allergie connue.",
                f"Personne à prévenir : {pick(rng, voc.first_f)} {pick(rng, voc.surnames).title()}"
                f", {rng.choice(('conjoint', 'fille', 'fils', 'sœur'))}.",
            ],
        )
    ]


def admission(rng: random.Random, ctx: Context, pages: int) -> list[Section]:
    voc = vocabulary()
    p = ctx.patient
    return [
        Section(
            "Admission",
            SECTION_CODES["texte"],
            [
                f"Admission le {fr_date(ctx.when)} en {pick(rng, voc.services)}, mode d'entrée : "
                f"{rng.choice(('domicile', 'urgences', 'transfert'))}.",
                f"Adresse : {rng.randint(1, 120)} {pick(rng, voc.streets)}, "
                f"{pick(rng, voc.cities)}.",
                "Couverture : régime général, organisme complémentaire déclaré. Identité "
                f"vérifiée ({civility(p)} {full_name(p.given, p.family)}).",
            ],
        )
    ]


# kind: (builder, medication mood)
BUILDERS: dict[str, tuple[Builder, str]] = {
    "consultation": (consultation, "INT"),
    "hospitalisation": (hospitalisation, "INT"),
    "operative": (operative, "INT"),
    "lab": (lab_report, "EVN"),
    "synthesis": (synthesis, "EVN"),
    "imaging": (imaging, "EVN"),
    "prescription": (prescription, "INT"),
    "lab_prescription": (lab_prescription, "INT"),
    "dispensation": (dispensation, "EVN"),
    "care_plan": (care_plan, "INT"),
    "vaccination": (vaccination_record, "EVN"),
    "administered": (administered, "EVN"),
    "certificate": (certificate, "EVN"),
    "reimbursement": (reimbursement, "EVN"),
    "personal": (personal, "EVN"),
    "admission": (admission, "EVN"),
}

LINES_PER_PAGE = 56


def build(
    rng: random.Random,
    kind: str,
    category: str,
    type_code: str,
    title: str,
    ctx: Context,
    pages: int,
) -> Report:
    """The report of this kind, grown with follow-up notes until it fills `pages` pages."""
    builder, mood = BUILDERS[kind]
    sections = builder(rng, ctx, pages)
    report = Report(
        kind, category, type_code, title, ctx, letterhead(ctx), sections, signature(ctx), mood
    )
    if pages > 1:
        voc = vocabulary()
        extra = Section(EXTRA_NOTES, SECTION_CODES["evolution"])
        report.sections.append(extra)
        day = 1
        target = pages * LINES_PER_PAGE
        lines = estimate_lines(report)
        while lines < target - 6:
            para = evolution_paragraph(rng, voc, day)
            extra.paragraphs.append(para)
            lines += len(para) // WRAP + 2
            day += 1
    return report


def as_letter(rng: random.Random, report: Report) -> None:
    """A report sent as a letter to a colleague: a salutation first, a closing last."""
    p = report.ctx.patient
    opening = (
        f"{rng.choice(('Cher confrère', 'Chère consœur', 'Cher ami'))}, je vous remercie de "
        f"m'avoir adressé {civility(p)} {full_name(p.given, p.family)}, "
        f"que j'ai vu{_e(p)} le {fr_date(report.ctx.when)}."
    )
    closing = rng.choice(
        (
            "Je vous prie de croire, cher confrère, à l'assurance de mes sentiments confraternels.",
            "Je reste à votre disposition. Bien confraternellement.",
        )
    )
    report.sections[-1].paragraphs.append(closing)
    report.sections.insert(0, Section("Courrier", SECTION_CODES["texte"], [opening]))


EXTRA_NOTES = "Observations complémentaires"  # the section that makes a report longer
WRAP = 95  # characters per line of a 10 pt Helvetica A4 page with 2 cm margins


def wrap(text: str, width: int = WRAP) -> list[str]:
    """Greedy word wrap (textwrap is several times slower and we wrap millions of lines)."""
    if len(text) <= width:
        return [text]
    out: list[str] = []
    line = ""
    for word in text.split(" "):
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            out.append(line)
            line = word
    if line:
        out.append(line)
    return out


def estimate_lines(report: Report) -> int:
    n = len(report.letterhead) + 6
    for s in report.sections:
        n += 2 + len(s.rows) + (1 if s.header else 0)
        n += sum(len(p) // WRAP + 1 for p in s.paragraphs)
    return n


def plain_text(report: Report) -> str:
    """The report as a plain-text document, as a practice software would export it."""
    out = list(report.letterhead)
    out += [
        "",
        report.title.upper(),
        patient_line(report.ctx),
        f"Date : {fr_date(report.ctx.when)}",
        "",
    ]
    for s in report.sections:
        out.append(s.title)
        out.append("-" * len(s.title))
        out.extend(s.paragraphs)
        if s.header:
            out.append(" | ".join(s.header))
            out.extend(" | ".join(r) for r in s.rows)
        out.append("")
    if report.signature:
        out.append(report.signature)
    return "\n".join(out) + "\n"
