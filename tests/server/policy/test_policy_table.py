"""The access policy specified as a table of cases (Cerbos-style policy tests).

A fixed `now`, named principals, dossiers and documents. ALLOWED lists every allowed
(principal, action, dossier, document) combination with its reason and mode; the walk
over the full cartesian product then asserts that everything listed is allowed as listed
and that everything NOT listed is denied. DENIED names denials with their exact reason,
covering every deny reason, often with one fact changed to isolate a rule.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from server.policy import (
    Action,
    Actor,
    ActorKind,
    Category,
    Context,
    Decision,
    DelegationFacts,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
    DossierStatus,
    Mode,
    Reason,
    decide,
    default_matrix_path,
    listed,
    load_matrix,
)

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
MATRIX = load_matrix(default_matrix_path())

# Patients.
SELF, MINOR, REP_OF_MINOR, REP_OF_ADULT, OTHER_PATIENT = 1, 2, 10, 11, 12
DELEGATE = 13  # an adult SELF delegated reading of reports and prescriptions to
# Professionals.
MT = 100
AUTHOR = 101
CARE_TEAM = 102
CARE_TEAM_BY_STRUCTURE = 103
CONSENTED = 104
BLOCKED = 105
MINOR_MT = 106  # the minor's médecin traitant, whom the minor's dossier lists as blocked
PHARMACIEN = 107
INFIRMIER = 108
DESK = 109
URGENTISTE_BDG = 110
REGULATOR = 111
URGENTISTE = 112
MEDECIN_TRAVAIL = 113
UNKNOWN_PROFESSION = 114
DENTISTE = 115  # in the care team; writes certificates the dentist's column cannot read
SAGE_FEMME = 116
HOSPITAL = "750000001"  # FINESS of a hospital whose whole team is in the care team
CLINIC = "750000003"  # FINESS of the admissions desk's clinic, not in the care team
EMERGENCY_REASON = "détresse respiratoire, patient inconscient"


@dataclass(frozen=True, slots=True)
class Principal:
    actor: Actor
    ctx: Context


BASE_CTX = Context(
    now=NOW,
    consent_evidence=True,
    subject_patient_id=SELF,
    target_professional_id=CONSENTED,
)


def _patient(patient_id: int) -> Principal:
    return Principal(Actor(ActorKind.PATIENT, patient_id), BASE_CTX)


def _pro(pro_id: int, profession: str, structure: str | None = None, **ctx: Any) -> Principal:
    actor = Actor(ActorKind.PROFESSIONAL, pro_id, profession=profession, structure=structure)
    return Principal(actor, replace(BASE_CTX, **ctx))


PRINCIPALS: dict[str, Principal] = {
    "patient_self": _patient(SELF),
    "rep_of_minor": _patient(REP_OF_MINOR),
    "rep_of_adult": _patient(REP_OF_ADULT),
    "other_patient": _patient(OTHER_PATIENT),
    "delegate": _patient(DELEGATE),
    "mt": _pro(MT, "medecin_generaliste"),
    "blocked_mt": _pro(MINOR_MT, "medecin_generaliste"),
    "author": _pro(AUTHOR, "medecin_specialiste"),
    "care_team": _pro(CARE_TEAM, "medecin_specialiste"),
    "care_team_structure": _pro(CARE_TEAM_BY_STRUCTURE, "medecin_specialiste", HOSPITAL),
    "consented": _pro(CONSENTED, "masseur_kinesitherapeute"),
    "dentiste": _pro(DENTISTE, "chirurgien_dentiste"),
    # In the care team by id and by structure, and blocked: the block wins.
    "blocked": _pro(BLOCKED, "medecin_specialiste", HOSPITAL),
    "pharmacien": _pro(PHARMACIEN, "pharmacien"),
    "infirmier": _pro(INFIRMIER, "infirmier", HOSPITAL),
    "admissions": _pro(DESK, "admissions", CLINIC),
    "urgentiste_bdg": _pro(
        URGENTISTE_BDG,
        "urgentiste",
        emergency=Mode.BRIS_DE_GLACE,
        emergency_reason=EMERGENCY_REASON,
    ),
    "regulator_c15": _pro(REGULATOR, "regulateur_samu", emergency=Mode.CENTRE_15),
    "urgentiste": _pro(URGENTISTE, "urgentiste"),
    "medecin_travail": _pro(MEDECIN_TRAVAIL, "medecin_travail"),
    "unknown_profession": _pro(UNKNOWN_PROFESSION, "osteopathe"),
    "insurer": Principal(Actor(ActorKind.INSURER, 0), BASE_CTX),
    "mutuelle": Principal(Actor(ActorKind.THIRD_PARTY, 0), BASE_CTX),
}

ADULT = DossierFacts(
    patient_id=SELF,
    status=DossierStatus.ACTIVE,
    patient_birth_date=date(1980, 3, 2),
    medecin_traitant_id=MT,
    medecin_traitant_profession="medecin_generaliste",
    care_team=frozenset({CARE_TEAM, BLOCKED, DENTISTE}),
    care_team_structures=frozenset({HOSPITAL}),
    blocked=frozenset({BLOCKED}),
    consents=frozenset({CONSENTED, PHARMACIEN}),
    representatives=frozenset({REP_OF_ADULT}),  # a parent still linked after the 18th birthday
    authors=frozenset({AUTHOR, MT, PHARMACIEN, DENTISTE}),  # of DOCUMENTS, below
    delegation=DelegationFacts(
        DELEGATE,
        frozenset({Category.COMPTE_RENDU, Category.PRESCRIPTION}),
        NOW + timedelta(days=30),
    ),
)
DOSSIERS: dict[str, DossierFacts | None] = {
    "active_adult": ADULT,
    "active_minor": replace(
        ADULT,
        patient_id=MINOR,
        patient_birth_date=date(2012, 9, 1),
        medecin_traitant_id=MINOR_MT,
        blocked=frozenset({BLOCKED, MINOR_MT}),
        representatives=frozenset({REP_OF_MINOR}),
    ),
    "closed": replace(ADULT, status=DossierStatus.CLOSED),
    "purged": replace(ADULT, status=DossierStatus.PURGED),
    "emergency_withdrawn": replace(ADULT, bris_de_glace_allowed=False, centre_15_allowed=False),
    "no_dossier": None,
}

REPORT = DocumentFacts(Category.COMPTE_RENDU, DocumentStatus.CURRENT, author_professional_id=AUTHOR)
DOCUMENTS: dict[str, DocumentFacts | None] = {
    "compte_rendu": REPORT,
    "masked": replace(REPORT, masked_ps=True),
    "invisible_patient": replace(REPORT, invisible_patient=True),
    "invisible_rep": replace(REPORT, invisible_rep=True),
    "deleted": replace(REPORT, status=DocumentStatus.DELETED),
    "superseded": replace(REPORT, status=DocumentStatus.SUPERSEDED),
    "patient_deposit": DocumentFacts(
        Category.DEPOSE_PATIENT, DocumentStatus.CURRENT, author_patient_id=SELF
    ),
    "prescription": DocumentFacts(
        Category.PRESCRIPTION, DocumentStatus.CURRENT, author_professional_id=MT
    ),
    "dispensation": DocumentFacts(
        Category.DISPENSATION, DocumentStatus.CURRENT, author_professional_id=PHARMACIEN
    ),
    "remboursement": DocumentFacts(
        Category.REMBOURSEMENT, DocumentStatus.CURRENT, author_is_insurer=True
    ),
    "dental_certificate": DocumentFacts(
        Category.CERTIFICAT, DocumentStatus.CURRENT, author_professional_id=DENTISTE
    ),
    "no_document": None,
}

# Actions that are about one document; the others are about the dossier and are walked
# with no document only (the engine ignores a document given to them, tested below).
DOCUMENT_ACTIONS = frozenset(
    {
        Action.DOCUMENT_READ,
        Action.DOCUMENT_DEPOSIT,
        Action.DOCUMENT_REPLACE,
        Action.DOCUMENT_ARCHIVE,
        Action.DOCUMENT_DELETE,
        Action.DOCUMENT_MASK,
        Action.DOCUMENT_PATIENT_VISIBILITY,
        Action.DOCUMENT_REP_VISIBILITY,
    }
)
NO_DOC = ("no_document",)


def documents_for(action: Action) -> tuple[str, ...]:
    return tuple(DOCUMENTS) if action in DOCUMENT_ACTIONS else NO_DOC


# --- the allowed table -----------------------------------------------------------------

Key = tuple[str, Action, str, str]


@dataclass(frozen=True, slots=True)
class Allow:
    """Every combination of these principals, actions, dossiers and documents is allowed."""

    principals: tuple[str, ...]
    actions: tuple[Action, ...]
    dossiers: tuple[str, ...]
    reason: Reason
    mode: Mode
    documents: tuple[str, ...] = NO_DOC

    def keys(self) -> Iterable[Key]:
        for principal in self.principals:
            for action in self.actions:
                for dossier in self.dossiers:
                    for document in self.documents:
                        yield (principal, action, dossier, document)


A = Action
CREATABLE = ("no_dossier", "purged")  # a purged dossier's facts count as no dossier
OWN_ACTIVE = ("active_adult", "emergency_withdrawn")  # patient SELF's, MT's active dossiers
ACTIVE = ("active_adult", "active_minor", "emergency_withdrawn")
EMERGENCY_OK = ("active_adult", "active_minor")
CLINICIANS = (
    "mt",
    "blocked_mt",
    "author",
    "care_team",
    "care_team_structure",
    "consented",
    "dentiste",
    "blocked",
    "pharmacien",
    "infirmier",
    "urgentiste_bdg",
    "regulator_c15",
    "urgentiste",
)
# MEDECIN_TRAITANT_SET is not among them here: the walk's target (CONSENTED, a
# physiotherapist) cannot be named médecin traitant; see the named cases.
PATIENT_RIGHTS = (
    A.DOSSIER_READ,
    A.DOCUMENT_LIST,
    A.HISTORY_READ,
    A.ACCESS_GRANT,
    A.ACCESS_BLOCK,
    A.CARE_TEAM_MANAGE,
    A.EMERGENCY_SETTINGS,
    A.DOSSIER_CLOSE,
    A.DOSSIER_EXPORT,
)
CLOSED_PATIENT_RIGHTS = (
    A.DOSSIER_READ,
    A.DOCUMENT_LIST,
    A.HISTORY_READ,
    A.DOSSIER_REOPEN,
    A.DOSSIER_EXPORT,
)
FLAG_ACTIONS = (
    A.DOCUMENT_ARCHIVE,
    A.DOCUMENT_MASK,
    A.DOCUMENT_PATIENT_VISIBILITY,
    A.DOCUMENT_REP_VISIBILITY,
)
FLAG_ACTIONS_BUT_PATIENT_VISIBILITY = tuple(
    a for a in FLAG_ACTIONS if a is not A.DOCUMENT_PATIENT_VISIBILITY
)
SUMMARY = (A.DOSSIER_READ, A.DOCUMENT_LIST)
NOT_DELETED = tuple(d for d in DOCUMENTS if d not in {"deleted", "no_document"})
VISIBLE_TO_PATIENT = tuple(d for d in NOT_DELETED if d != "invisible_patient")
VISIBLE_TO_REPS = tuple(d for d in VISIBLE_TO_PATIENT if d != "invisible_rep")
UNMASKED = tuple(d for d in NOT_DELETED if d != "masked")  # what physicians read
UNMASKED_CLINICAL = tuple(d for d in UNMASKED if d != "dental_certificate")  # no certificat
AUTHORED = ("compte_rendu", "masked", "invisible_patient", "invisible_rep", "superseded")
CURRENT_REPORTS = ("compte_rendu", "masked", "invisible_patient", "invisible_rep")
NOT_REMBOURSEMENT = tuple(d for d in UNMASKED_CLINICAL if d != "remboursement")
# INVISIBLE_PATIENT has no meaning on the patient's own deposit (PATIENT_DEPOSIT_VISIBLE).
PATIENT_VISIBILITY_FLAGGABLE = tuple(d for d in NOT_DELETED if d != "patient_deposit")

ALLOWED: tuple[Allow, ...] = (
    # Rule 5b: finding a dossier by INS says it exists, nothing more: patients find their
    # own (closed too, to reopen it), any unblocked professional finds an active one (to
    # ask consent or break the glass), the insurer finds where to inject.
    Allow(
        ("patient_self",),
        (A.DOSSIER_LOOKUP,),
        (*OWN_ACTIVE, "closed"),
        Reason.IDENTITY_LOOKUP,
        Mode.PATIENT,
    ),
    Allow(
        ("rep_of_minor",),
        (A.DOSSIER_LOOKUP,),
        ("active_minor",),
        Reason.IDENTITY_LOOKUP,
        Mode.REPRESENTATIVE,
    ),
    Allow(("insurer",), (A.DOSSIER_LOOKUP,), ACTIVE, Reason.IDENTITY_LOOKUP, Mode.INSURER),
    Allow(
        (*(c for c in CLINICIANS if c != "blocked"), "admissions"),
        (A.DOSSIER_LOOKUP,),
        ACTIVE,
        Reason.IDENTITY_LOOKUP,
        Mode.NONE,
    ),
    # Rule 4: creation with consent, by the patient or any eligible professional.
    Allow(
        ("patient_self",),
        (A.DOSSIER_CREATE,),
        CREATABLE,
        Reason.CREATION_WITH_CONSENT,
        Mode.PATIENT,
    ),
    Allow(CLINICIANS, (A.DOSSIER_CREATE,), CREATABLE, Reason.CREATION_WITH_CONSENT, Mode.CONSENT),
    Allow(
        ("admissions",),
        (A.DOSSIER_CREATE,),
        CREATABLE,
        Reason.CREATION_WITH_CONSENT,
        Mode.ADMISSIONS,
    ),
    # Rule 2: the insurer injects reimbursements into active dossiers.
    Allow(
        ("insurer",),
        (A.DOCUMENT_DEPOSIT,),
        ACTIVE,
        Reason.INSURER_DEPOSIT,
        Mode.INSURER,
        ("remboursement",),
    ),
    # Rule 6: the patient on their own dossier.
    Allow(("patient_self",), PATIENT_RIGHTS, OWN_ACTIVE, Reason.PATIENT_OWN_DOSSIER, Mode.PATIENT),
    Allow(
        ("patient_self",),
        (A.DOCUMENT_READ, A.DOCUMENT_MASK, A.DOCUMENT_ARCHIVE),
        OWN_ACTIVE,
        Reason.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
        VISIBLE_TO_PATIENT,
    ),
    Allow(
        ("patient_self",),
        (A.DOCUMENT_DEPOSIT, A.DOCUMENT_REPLACE, A.DOCUMENT_DELETE),
        OWN_ACTIVE,
        Reason.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
        ("patient_deposit",),
    ),
    # A closed dossier can still be read, exported and reopened by its patient.
    Allow(
        ("patient_self",),
        CLOSED_PATIENT_RIGHTS,
        ("closed",),
        Reason.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
    ),
    Allow(
        ("patient_self",),
        (A.DOCUMENT_READ,),
        ("closed",),
        Reason.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
        VISIBLE_TO_PATIENT,
    ),
    # Rule 6: the representative of a minor acts for the child.
    Allow(
        ("rep_of_minor",),
        PATIENT_RIGHTS,
        ("active_minor",),
        Reason.REPRESENTATIVE_OF_MINOR,
        Mode.REPRESENTATIVE,
    ),
    Allow(
        ("rep_of_minor",),
        (A.DOCUMENT_READ, A.DOCUMENT_MASK, A.DOCUMENT_ARCHIVE),
        ("active_minor",),
        Reason.REPRESENTATIVE_OF_MINOR,
        Mode.REPRESENTATIVE,
        VISIBLE_TO_REPS,
    ),
    Allow(
        ("rep_of_minor",),
        (A.DOCUMENT_DEPOSIT,),
        ("active_minor",),
        Reason.REPRESENTATIVE_OF_MINOR,
        Mode.REPRESENTATIVE,
        ("patient_deposit",),
    ),
    # Rule 7: the médecin traitant sees everything, even when listed as blocked.
    *(
        rule
        for principal, dossiers in (("mt", OWN_ACTIVE), ("blocked_mt", ("active_minor",)))
        for rule in (
            Allow(
                (principal,),
                (*SUMMARY, A.CARE_TEAM_MANAGE),
                dossiers,
                Reason.MEDECIN_TRAITANT,
                Mode.MEDECIN_TRAITANT,
            ),
            Allow(
                (principal,),
                (A.DOCUMENT_READ, *FLAG_ACTIONS_BUT_PATIENT_VISIBILITY),
                dossiers,
                Reason.MEDECIN_TRAITANT,
                Mode.MEDECIN_TRAITANT,
                NOT_DELETED,
            ),
            Allow(
                (principal,),
                (A.DOCUMENT_PATIENT_VISIBILITY,),
                dossiers,
                Reason.MEDECIN_TRAITANT,
                Mode.MEDECIN_TRAITANT,
                PATIENT_VISIBILITY_FLAGGABLE,
            ),
            Allow(
                (principal,),
                (A.DOCUMENT_DEPOSIT,),
                dossiers,
                Reason.MEDECIN_TRAITANT,
                Mode.MEDECIN_TRAITANT,
                (*CURRENT_REPORTS, "prescription", "dental_certificate"),
            ),
        )
    ),
    # Dr MT wrote the prescription: only its author replaces or deletes it, and on the
    # minor's dossier (where someone else is the MT) authorship alone opens it.
    Allow(
        ("mt",),
        (A.DOCUMENT_REPLACE, A.DOCUMENT_DELETE),
        OWN_ACTIVE,
        Reason.MEDECIN_TRAITANT,
        Mode.MEDECIN_TRAITANT,
        ("prescription",),
    ),
    Allow(
        ("mt",),
        (A.DOCUMENT_READ, A.DOCUMENT_REPLACE, A.DOCUMENT_DELETE, *FLAG_ACTIONS),
        ("active_minor",),
        Reason.DOCUMENT_AUTHOR,
        Mode.AUTHOR,
        ("prescription",),
    ),
    # Rule 7: the author of a document, without any other relation: what they wrote, by
    # id and in the list (which then shows nothing else).
    Allow(
        ("author", "mt"),
        (A.DOCUMENT_LIST,),
        ("active_minor",),
        Reason.DOCUMENT_AUTHOR,
        Mode.AUTHOR,
    ),
    Allow(("author",), (A.DOCUMENT_LIST,), OWN_ACTIVE, Reason.DOCUMENT_AUTHOR, Mode.AUTHOR),
    Allow(
        ("author",),
        (A.DOCUMENT_READ, A.DOCUMENT_DELETE, *FLAG_ACTIONS),
        ACTIVE,
        Reason.DOCUMENT_AUTHOR,
        Mode.AUTHOR,
        AUTHORED,
    ),
    Allow(
        ("author",),
        (A.DOCUMENT_REPLACE,),
        ACTIVE,
        Reason.DOCUMENT_AUTHOR,
        Mode.AUTHOR,
        CURRENT_REPORTS,
    ),
    Allow(
        ("pharmacien",),
        (A.DOCUMENT_READ, A.DOCUMENT_REPLACE, A.DOCUMENT_DELETE, *FLAG_ACTIONS),
        ACTIVE,
        Reason.DOCUMENT_AUTHOR,
        Mode.AUTHOR,
        ("dispensation",),
    ),
    # Rule 7: care team, by id or by structure (physicians: every category but masked).
    Allow(
        ("care_team", "care_team_structure", "infirmier"),
        SUMMARY,
        ACTIVE,
        Reason.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
    ),
    Allow(
        ("care_team", "care_team_structure"),
        (A.DOCUMENT_READ,),
        ACTIVE,
        Reason.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        UNMASKED,
    ),
    Allow(
        ("care_team", "care_team_structure"),
        (A.DOCUMENT_DEPOSIT,),
        ACTIVE,
        Reason.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        (*CURRENT_REPORTS, "prescription", "dental_certificate"),
    ),
    Allow(
        ("infirmier",),
        (A.DOCUMENT_READ,),
        ACTIVE,
        Reason.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        NOT_REMBOURSEMENT,
    ),
    # The dentist in the care team reads their column, and their own certificate as its
    # author although the dentist's column has no certificates.
    Allow(("dentiste",), SUMMARY, ACTIVE, Reason.CARE_TEAM_MEMBER, Mode.CARE_TEAM),
    Allow(
        ("dentiste",),
        (A.DOCUMENT_READ,),
        ACTIVE,
        Reason.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        UNMASKED_CLINICAL,
    ),
    Allow(
        ("dentiste",),
        (A.DOCUMENT_READ, A.DOCUMENT_REPLACE, A.DOCUMENT_DELETE, *FLAG_ACTIONS),
        ACTIVE,
        Reason.DOCUMENT_AUTHOR,
        Mode.AUTHOR,
        ("dental_certificate",),
    ),
    Allow(
        ("dentiste",),
        (A.DOCUMENT_DEPOSIT,),
        ACTIVE,
        Reason.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        (*CURRENT_REPORTS, "prescription", "dental_certificate"),
    ),
    Allow(
        ("infirmier",),
        (A.DOCUMENT_DEPOSIT,),
        ACTIVE,
        Reason.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        CURRENT_REPORTS,
    ),
    # Rule 7: consent given at the consultation (kiné, pharmacist).
    Allow(("consented", "pharmacien"), SUMMARY, ACTIVE, Reason.EXPLICIT_CONSENT, Mode.CONSENT),
    Allow(
        ("consented",),
        (A.DOCUMENT_READ,),
        ACTIVE,
        Reason.EXPLICIT_CONSENT,
        Mode.CONSENT,
        (
            "compte_rendu",
            "invisible_patient",
            "invisible_rep",
            "superseded",
            "patient_deposit",
            "prescription",
        ),
    ),
    Allow(
        ("consented",),
        (A.DOCUMENT_DEPOSIT,),
        ACTIVE,
        Reason.EXPLICIT_CONSENT,
        Mode.CONSENT,
        CURRENT_REPORTS,
    ),
    Allow(
        ("pharmacien",),
        (A.DOCUMENT_READ,),
        ACTIVE,
        Reason.EXPLICIT_CONSENT,
        Mode.CONSENT,
        ("patient_deposit", "prescription", "remboursement"),
    ),
    Allow(
        ("pharmacien",),
        (A.DOCUMENT_DEPOSIT,),
        ACTIVE,
        Reason.EXPLICIT_CONSENT,
        Mode.CONSENT,
        ("dispensation",),
    ),
    # Rule 7: the admissions desk finds the dossier and joins the care team.
    Allow(
        ("admissions",),
        (A.DOSSIER_READ, A.CARE_TEAM_JOIN),
        ACTIVE,
        Reason.ADMISSIONS_DESK,
        Mode.ADMISSIONS,
    ),
    # Rule 7: bris de glace, where the patient left it allowed (masked stays hidden).
    Allow(
        ("urgentiste_bdg",),
        (A.BRIS_DE_GLACE,),
        EMERGENCY_OK,
        Reason.EMERGENCY_GRANTED,
        Mode.BRIS_DE_GLACE,
    ),
    Allow(
        ("urgentiste_bdg",), SUMMARY, EMERGENCY_OK, Reason.BRIS_DE_GLACE_ACTIVE, Mode.BRIS_DE_GLACE
    ),
    Allow(
        ("urgentiste_bdg",),
        (A.DOCUMENT_READ,),
        EMERGENCY_OK,
        Reason.BRIS_DE_GLACE_ACTIVE,
        Mode.BRIS_DE_GLACE,
        UNMASKED,
    ),
    Allow(
        ("urgentiste_bdg",),
        (A.DOCUMENT_DEPOSIT,),
        EMERGENCY_OK,
        Reason.BRIS_DE_GLACE_ACTIVE,
        Mode.BRIS_DE_GLACE,
        (*CURRENT_REPORTS, "prescription", "dental_certificate"),
    ),
    # Rule 7: centre 15 regulation.
    Allow(
        ("regulator_c15",), (A.CENTRE_15,), EMERGENCY_OK, Reason.EMERGENCY_GRANTED, Mode.CENTRE_15
    ),
    Allow(("regulator_c15",), SUMMARY, EMERGENCY_OK, Reason.CENTRE_15_ACTIVE, Mode.CENTRE_15),
    Allow(
        ("regulator_c15",),
        (A.DOCUMENT_READ,),
        EMERGENCY_OK,
        Reason.CENTRE_15_ACTIVE,
        Mode.CENTRE_15,
        UNMASKED_CLINICAL,  # the regulator's column has no certificates
    ),
    Allow(
        ("regulator_c15",),
        (A.DOCUMENT_DEPOSIT,),
        EMERGENCY_OK,
        Reason.CENTRE_15_ACTIVE,
        Mode.CENTRE_15,
        CURRENT_REPORTS,
    ),
    # Issue 13: the patient alone manages delegations; a delegate reads the delegated
    # categories (reports, prescriptions), nothing hidden from anyone but the patient.
    Allow(
        ("patient_self",),
        (A.DELEGATION_MANAGE,),
        OWN_ACTIVE,
        Reason.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
    ),
    Allow(("delegate",), SUMMARY, OWN_ACTIVE, Reason.DELEGATION_ACTIVE, Mode.DELEGATE),
    Allow(
        ("delegate",),
        (A.DOCUMENT_READ,),
        OWN_ACTIVE,
        Reason.DELEGATION_ACTIVE,
        Mode.DELEGATE,
        ("compte_rendu", "superseded", "prescription"),
    ),
    # Issue 13: the desk adds or removes a minor's representatives (identity checked).
    Allow(
        ("admissions",),
        (A.REPRESENTATIVE_MANAGE,),
        ("active_minor",),
        Reason.ADMISSIONS_DESK,
        Mode.ADMISSIONS,
    ),
)


def _expand(rows: Iterable[Allow]) -> dict[Key, Allow]:
    expected: dict[Key, Allow] = {}
    for row in rows:
        for key in row.keys():
            assert key not in expected, f"{key} listed twice in ALLOWED"
            expected[key] = row
    return expected


EXPECTED_ALLOWED = _expand(ALLOWED)


def _decide(principal: str, action: Action, dossier: str, document: str) -> Decision:
    who = PRINCIPALS[principal]
    return decide(who.actor, action, DOSSIERS[dossier], DOCUMENTS[document], who.ctx, MATRIX)


def test_allowed_table_names_only_known_things() -> None:
    for principal, action, dossier, document in EXPECTED_ALLOWED:
        assert principal in PRINCIPALS
        assert dossier in DOSSIERS
        assert document in documents_for(action), (principal, action, dossier, document)


@pytest.mark.parametrize("action", list(Action), ids=str)
@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_full_product_matches_the_table(principal: str, action: Action) -> None:
    """Walks dossiers x documents for one principal and action; reports every mismatch."""
    mismatches: list[str] = []
    for dossier in DOSSIERS:
        for document in documents_for(action):
            decision = _decide(principal, action, dossier, document)
            row = EXPECTED_ALLOWED.get((principal, action, dossier, document))
            where = f"{dossier}/{document}"
            if row is None:
                if decision.allowed:
                    mismatches.append(f"{where}: allowed ({decision.reason}), expected a denial")
                elif decision.mode is not Mode.NONE or decision.obligations:
                    mismatches.append(f"{where}: a denial carries a mode or obligations")
                elif decision.readable_categories:
                    mismatches.append(f"{where}: a denial carries readable categories")
            elif (decision.allowed, decision.reason, decision.mode) != (True, row.reason, row.mode):
                got = f"allowed={decision.allowed} {decision.reason} {decision.mode}"
                mismatches.append(f"{where}: {got}, expected {row.reason} {row.mode}")
    assert not mismatches, "\n".join(mismatches)


DOSSIER_ACTIONS = [action for action in Action if action not in DOCUMENT_ACTIONS]


@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_dossier_actions_ignore_any_document(principal: str) -> None:
    # Authorship must not open a dossier: only document actions look at the document.
    for action in DOSSIER_ACTIONS:
        for dossier in DOSSIERS:
            alone = _decide(principal, action, dossier, "no_document")
            for document in DOCUMENTS:
                assert _decide(principal, action, dossier, document) == alone, (
                    action,
                    dossier,
                    document,
                )


# --- named cases outside the plain product ---------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One decision, with facts changed from the named ones to isolate a single rule."""

    name: str
    principal: str
    action: Action
    dossier: str
    document: str
    reason: Reason
    mode: Mode = Mode.NONE
    ctx: Mapping[str, Any] = field(default_factory=dict)
    dossier_changes: Mapping[str, Any] = field(default_factory=dict)
    document_changes: Mapping[str, Any] = field(default_factory=dict)

    def run(self) -> Decision:
        who = PRINCIPALS[self.principal]
        dossier = DOSSIERS[self.dossier]
        if dossier is not None and self.dossier_changes:
            dossier = replace(dossier, **self.dossier_changes)
        document = DOCUMENTS[self.document]
        if document is not None and self.document_changes:
            document = replace(document, **self.document_changes)
        ctx = replace(who.ctx, **self.ctx)
        return decide(who.actor, self.action, dossier, document, ctx, MATRIX)


R = Reason
AD, AM, ND, NODOC = "active_adult", "active_minor", "no_dossier", "no_document"
MINOR_TURNS_18_TODAY = {"patient_birth_date": date(2008, 6, 15)}
MINOR_TURNS_18_TOMORROW = {"patient_birth_date": date(2008, 6, 16)}

IN_PERSON = {"patient_present": True, "target_professional_id": PHARMACIEN}

DENIED: tuple[Case, ...] = (
    # Rule 7: consent in person (the patient's card at the counter) is for oneself only,
    # never lifts a block, and opens nothing on a closed dossier.
    Case(
        "in_person_consent_for_someone_else",
        "pharmacien",
        A.ACCESS_GRANT,
        AD,
        NODOC,
        R.NOT_A_PARTY,
        ctx={"patient_present": True, "target_professional_id": INFIRMIER},
    ),
    Case(
        "in_person_consent_does_not_unblock",
        "blocked",
        A.ACCESS_GRANT,
        AD,
        NODOC,
        R.PROFESSIONAL_BLOCKED,
        ctx={"patient_present": True, "target_professional_id": BLOCKED},
    ),
    Case(
        "in_person_consent_on_closed",
        "pharmacien",
        A.ACCESS_GRANT,
        "closed",
        NODOC,
        R.DOSSIER_CLOSED,
        ctx=IN_PERSON,
    ),
    # Closure by a professional: only with the patient's card present, never by a
    # blocked one, and a closed dossier is closed already.
    Case(
        "close_in_person_blocked",
        "blocked",
        A.DOSSIER_CLOSE,
        AD,
        NODOC,
        R.PROFESSIONAL_BLOCKED,
        ctx={"patient_present": True},
    ),
    Case(
        "close_in_person_on_closed",
        "pharmacien",
        A.DOSSIER_CLOSE,
        "closed",
        NODOC,
        R.DOSSIER_CLOSED,
        ctx={"patient_present": True},
    ),
    Case("close_without_the_card", "admissions", A.DOSSIER_CLOSE, AD, NODOC, R.NO_AUTHORISATION),
    Case(
        "self_grant_without_evidence",
        "pharmacien",
        A.ACCESS_GRANT,
        AD,
        NODOC,
        R.DEFAULT_DENY,
        ctx={"target_professional_id": PHARMACIEN},
    ),
    # Rule 5b.
    Case("blocked_pro_cannot_find", "blocked", A.DOSSIER_LOOKUP, AD, NODOC, R.PROFESSIONAL_BLOCKED),
    Case("nobody_finds_closed", "pharmacien", A.DOSSIER_LOOKUP, "closed", NODOC, R.DOSSIER_CLOSED),
    Case("stranger_cannot_find", "other_patient", A.DOSSIER_LOOKUP, AD, NODOC, R.NOT_A_PARTY),
    Case("mutuelle_cannot_find", "mutuelle", A.DOSSIER_LOOKUP, AD, NODOC, R.FORBIDDEN_ACTOR),
    # Rule 1.
    Case("mutuelle_reads_nothing", "mutuelle", A.DOSSIER_READ, AD, NODOC, R.FORBIDDEN_ACTOR),
    Case("mutuelle_cannot_create", "mutuelle", A.DOSSIER_CREATE, ND, NODOC, R.FORBIDDEN_ACTOR),
    Case(
        "mutuelle_reimbursement",
        "mutuelle",
        A.DOCUMENT_READ,
        AD,
        "remboursement",
        R.FORBIDDEN_ACTOR,
    ),
    # Rule 2.
    Case("insurer_no_summary", "insurer", A.DOSSIER_READ, AD, NODOC, R.INSURER_READS_NOTHING),
    Case(
        "insurer_no_read_back",
        "insurer",
        A.DOCUMENT_READ,
        AD,
        "remboursement",
        R.INSURER_READS_NOTHING,
    ),
    Case(
        "insurer_only_reimbursement",
        "insurer",
        A.DOCUMENT_DEPOSIT,
        AD,
        "compte_rendu",
        R.INSURER_READS_NOTHING,
    ),
    Case("insurer_no_creation", "insurer", A.DOSSIER_CREATE, ND, NODOC, R.INSURER_READS_NOTHING),
    Case(
        "insurer_closed", "insurer", A.DOCUMENT_DEPOSIT, "closed", "remboursement", R.DOSSIER_CLOSED
    ),
    Case("insurer_purged", "insurer", A.DOCUMENT_DEPOSIT, "purged", "remboursement", R.NOT_FOUND),
    Case("insurer_no_dossier", "insurer", A.DOCUMENT_DEPOSIT, ND, "remboursement", R.NOT_FOUND),
    # Rule 3: before anything else for professionals.
    Case(
        "medecin_travail_even_in_care_team",
        "medecin_travail",
        A.DOSSIER_READ,
        AD,
        NODOC,
        R.NOT_AN_ELIGIBLE_PROFESSION,
        dossier_changes={"care_team": frozenset({MEDECIN_TRAVAIL})},
    ),
    Case(
        "medecin_travail_even_with_consent",
        "medecin_travail",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.NOT_AN_ELIGIBLE_PROFESSION,
        dossier_changes={"consents": frozenset({MEDECIN_TRAVAIL})},
    ),
    Case(
        "medecin_travail_no_creation",
        "medecin_travail",
        A.DOSSIER_CREATE,
        ND,
        NODOC,
        R.NOT_AN_ELIGIBLE_PROFESSION,
    ),
    Case(
        "medecin_travail_no_bris_de_glace",
        "medecin_travail",
        A.BRIS_DE_GLACE,
        AD,
        NODOC,
        R.NOT_AN_ELIGIBLE_PROFESSION,
        ctx={"emergency_reason": EMERGENCY_REASON},
    ),
    Case(
        "unknown_profession",
        "unknown_profession",
        A.DOSSIER_READ,
        AD,
        NODOC,
        R.NOT_AN_ELIGIBLE_PROFESSION,
    ),
    Case(
        "unknown_profession_before_purge",
        "unknown_profession",
        A.DOSSIER_READ,
        "purged",
        NODOC,
        R.NOT_AN_ELIGIBLE_PROFESSION,
    ),
    # Rule 4.
    Case("create_existing", "patient_self", A.DOSSIER_CREATE, AD, NODOC, R.DOSSIER_EXISTS),
    Case("create_over_closed", "mt", A.DOSSIER_CREATE, "closed", NODOC, R.DOSSIER_EXISTS),
    Case(
        "create_without_consent",
        "patient_self",
        A.DOSSIER_CREATE,
        ND,
        NODOC,
        R.CONSENT_MISSING,
        ctx={"consent_evidence": False},
    ),
    Case(
        "desk_create_without_consent",
        "admissions",
        A.DOSSIER_CREATE,
        ND,
        NODOC,
        R.CONSENT_MISSING,
        ctx={"consent_evidence": False},
    ),
    Case(
        "create_after_purge_without_consent",
        "mt",
        A.DOSSIER_CREATE,
        "purged",
        NODOC,
        R.CONSENT_MISSING,
        ctx={"consent_evidence": False},
    ),
    Case("create_for_someone_else", "other_patient", A.DOSSIER_CREATE, ND, NODOC, R.NOT_A_PARTY),
    Case(
        "representative_cannot_create", "rep_of_minor", A.DOSSIER_CREATE, ND, NODOC, R.NOT_A_PARTY
    ),
    Case(
        "create_without_subject",
        "patient_self",
        A.DOSSIER_CREATE,
        ND,
        NODOC,
        R.NOT_A_PARTY,
        ctx={"subject_patient_id": None},
    ),
    # Rule 5.
    # An unknown dossier answers as one the caller has no part in: nobody learns by id
    # which dossiers exist; a purged one is no dossier to anyone but its patient.
    Case("read_without_dossier", "mt", A.DOSSIER_READ, ND, NODOC, R.NO_AUTHORISATION),
    Case("patient_purged", "patient_self", A.DOSSIER_READ, "purged", NODOC, R.DOSSIER_PURGED),
    Case(
        "patient_reopen_purged", "patient_self", A.DOSSIER_REOPEN, "purged", NODOC, R.DOSSIER_PURGED
    ),
    Case("mt_purged", "mt", A.DOCUMENT_READ, "purged", "prescription", R.NO_AUTHORISATION),
    Case("stranger_purged", "other_patient", A.DOSSIER_READ, "purged", NODOC, R.NOT_A_PARTY),
    # Rule 6: who the patient actor is to this dossier.
    Case("other_patient", "other_patient", A.DOSSIER_READ, AD, NODOC, R.NOT_A_PARTY),
    Case(
        "adult_is_not_on_the_minor_dossier",
        "patient_self",
        A.DOSSIER_READ,
        AM,
        NODOC,
        R.NOT_A_PARTY,
    ),
    Case("rep_of_minor_on_adult", "rep_of_minor", A.DOSSIER_READ, AD, NODOC, R.NOT_A_PARTY),
    Case("rep_of_adult", "rep_of_adult", A.DOSSIER_READ, AD, NODOC, R.REPRESENTATIVE_OF_ADULT),
    Case(
        "rep_of_adult_closed",
        "rep_of_adult",
        A.DOSSIER_REOPEN,
        "closed",
        NODOC,
        R.REPRESENTATIVE_OF_ADULT,
    ),
    Case(
        "rep_on_18th_birthday",
        "rep_of_minor",
        A.DOSSIER_READ,
        AM,
        NODOC,
        R.REPRESENTATIVE_OF_ADULT,
        dossier_changes=MINOR_TURNS_18_TODAY,
    ),
    # Rule 6: closed dossier.
    Case(
        "patient_closed_deposit",
        "patient_self",
        A.DOCUMENT_DEPOSIT,
        "closed",
        "patient_deposit",
        R.DOSSIER_CLOSED,
    ),
    Case(
        "patient_closed_close", "patient_self", A.DOSSIER_CLOSE, "closed", NODOC, R.DOSSIER_CLOSED
    ),
    Case("patient_closed_grant", "patient_self", A.ACCESS_GRANT, "closed", NODOC, R.DOSSIER_CLOSED),
    Case(
        "patient_closed_mask",
        "patient_self",
        A.DOCUMENT_MASK,
        "closed",
        "compte_rendu",
        R.DOSSIER_CLOSED,
    ),
    Case("patient_reopen_active", "patient_self", A.DOSSIER_REOPEN, AD, NODOC, R.DEFAULT_DENY),
    # Rule 6: rights on an active dossier.
    Case(
        "patient_blocks_mt",
        "patient_self",
        A.ACCESS_BLOCK,
        AD,
        NODOC,
        R.MEDECIN_TRAITANT_NOT_BLOCKABLE,
        ctx={"target_professional_id": MT},
    ),
    Case(
        "rep_blocks_minor_mt",
        "rep_of_minor",
        A.ACCESS_BLOCK,
        AM,
        NODOC,
        R.MEDECIN_TRAITANT_NOT_BLOCKABLE,
        ctx={"target_professional_id": MINOR_MT},
    ),
    Case(
        "patient_blocks_nobody",
        "patient_self",
        A.ACCESS_BLOCK,
        AD,
        NODOC,
        R.DEFAULT_DENY,
        ctx={"target_professional_id": None},
    ),
    Case(
        "patient_grants_nobody",
        "patient_self",
        A.ACCESS_GRANT,
        AD,
        NODOC,
        R.DEFAULT_DENY,
        ctx={"target_professional_id": None},
    ),
    Case(
        "patient_block_without_mt",
        "patient_self",
        A.ACCESS_BLOCK,
        AD,
        NODOC,
        R.DEFAULT_DENY,
        ctx={"target_professional_id": None},
        dossier_changes={"medecin_traitant_id": None},
    ),
    Case("patient_breaks_glass", "patient_self", A.BRIS_DE_GLACE, AD, NODOC, R.DEFAULT_DENY),
    Case("patient_centre_15", "patient_self", A.CENTRE_15, AD, NODOC, R.DEFAULT_DENY),
    Case("patient_joins_care_team", "patient_self", A.CARE_TEAM_JOIN, AD, NODOC, R.DEFAULT_DENY),
    # Rule 6: documents.
    Case(
        "patient_deposits_report",
        "patient_self",
        A.DOCUMENT_DEPOSIT,
        AD,
        "compte_rendu",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case(
        "patient_deposit_not_current",
        "patient_self",
        A.DOCUMENT_DEPOSIT,
        AD,
        "patient_deposit",
        R.DOCUMENT_NOT_CURRENT,
        document_changes={"status": DocumentStatus.ARCHIVED},
    ),
    Case(
        "patient_deposit_without_document",
        "patient_self",
        A.DOCUMENT_DEPOSIT,
        AD,
        NODOC,
        R.NOT_FOUND,
    ),
    Case(
        "patient_invisible",
        "patient_self",
        A.DOCUMENT_READ,
        AD,
        "invisible_patient",
        R.INVISIBLE_TO_PATIENT,
    ),
    Case(
        "patient_invisible_closed",
        "patient_self",
        A.DOCUMENT_READ,
        "closed",
        "invisible_patient",
        R.INVISIBLE_TO_PATIENT,
    ),
    Case(
        "patient_masks_invisible",
        "patient_self",
        A.DOCUMENT_MASK,
        AD,
        "invisible_patient",
        R.INVISIBLE_TO_PATIENT,
    ),
    Case(
        "rep_invisible_patient",
        "rep_of_minor",
        A.DOCUMENT_READ,
        AM,
        "invisible_patient",
        R.INVISIBLE_TO_PATIENT,
    ),
    Case(
        "rep_invisible_rep",
        "rep_of_minor",
        A.DOCUMENT_READ,
        AM,
        "invisible_rep",
        R.INVISIBLE_TO_REPRESENTATIVES,
    ),
    Case(
        "rep_archives_invisible_rep",
        "rep_of_minor",
        A.DOCUMENT_ARCHIVE,
        AM,
        "invisible_rep",
        R.INVISIBLE_TO_REPRESENTATIVES,
    ),
    Case(
        "patient_reads_deleted", "patient_self", A.DOCUMENT_READ, AD, "deleted", R.DOCUMENT_DELETED
    ),
    Case(
        "patient_deletes_report",
        "patient_self",
        A.DOCUMENT_DELETE,
        AD,
        "compte_rendu",
        R.NOT_THE_AUTHOR,
    ),
    Case(
        "patient_replaces_report",
        "patient_self",
        A.DOCUMENT_REPLACE,
        AD,
        "compte_rendu",
        R.NOT_THE_AUTHOR,
    ),
    Case(
        "rep_deletes_childs_deposit",
        "rep_of_minor",
        A.DOCUMENT_DELETE,
        AM,
        "patient_deposit",
        R.NOT_THE_AUTHOR,
    ),
    Case(
        "patient_replaces_archived_own",
        "patient_self",
        A.DOCUMENT_REPLACE,
        AD,
        "patient_deposit",
        R.DOCUMENT_NOT_CURRENT,
        document_changes={"status": DocumentStatus.ARCHIVED},
    ),
    Case(
        "patient_deletes_deleted_own",
        "patient_self",
        A.DOCUMENT_DELETE,
        AD,
        "patient_deposit",
        R.DOCUMENT_DELETED,
        document_changes={"status": DocumentStatus.DELETED},
    ),
    Case(
        "patient_replaces_deleted_own",
        "patient_self",
        A.DOCUMENT_REPLACE,
        AD,
        "patient_deposit",
        R.DOCUMENT_DELETED,
        document_changes={"status": DocumentStatus.DELETED},
    ),
    Case(
        "patient_sets_patient_visibility",
        "patient_self",
        A.DOCUMENT_PATIENT_VISIBILITY,
        AD,
        "compte_rendu",
        R.DEFAULT_DENY,
    ),
    Case(
        "rep_sets_rep_visibility",
        "rep_of_minor",
        A.DOCUMENT_REP_VISIBILITY,
        AM,
        "compte_rendu",
        R.DEFAULT_DENY,
    ),
    # Rule 7: closed dossier, before anything, for every professional.
    Case("mt_closed", "mt", A.DOSSIER_READ, "closed", NODOC, R.DOSSIER_CLOSED),
    Case("author_closed", "author", A.DOCUMENT_READ, "closed", "compte_rendu", R.DOSSIER_CLOSED),
    Case(
        "bris_de_glace_closed", "urgentiste_bdg", A.BRIS_DE_GLACE, "closed", NODOC, R.DOSSIER_CLOSED
    ),
    Case("desk_closed", "admissions", A.DOSSIER_READ, "closed", NODOC, R.DOSSIER_CLOSED),
    Case("blocked_closed", "blocked", A.DOSSIER_READ, "closed", NODOC, R.DOSSIER_CLOSED),
    # Rule 7: blocked beats every other relation, except being the MT.
    Case("blocked_in_care_team", "blocked", A.DOSSIER_READ, AD, NODOC, R.PROFESSIONAL_BLOCKED),
    Case(
        "blocked_author",
        "blocked",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.PROFESSIONAL_BLOCKED,
        document_changes={"author_professional_id": BLOCKED},
    ),
    Case(
        "blocked_with_consent",
        "blocked",
        A.DOCUMENT_LIST,
        AD,
        NODOC,
        R.PROFESSIONAL_BLOCKED,
        dossier_changes={"consents": frozenset({BLOCKED})},
    ),
    Case(
        "blocked_in_emergency_session",
        "blocked",
        A.DOSSIER_READ,
        AD,
        NODOC,
        R.PROFESSIONAL_BLOCKED,
        ctx={"emergency": Mode.BRIS_DE_GLACE},
    ),
    Case(
        "blocked_breaks_glass",
        "blocked",
        A.BRIS_DE_GLACE,
        AD,
        NODOC,
        R.PROFESSIONAL_BLOCKED,
        ctx={"emergency_reason": EMERGENCY_REASON},
    ),
    Case(
        "blocked_regulator",
        "regulator_c15",
        A.CENTRE_15,
        AD,
        NODOC,
        R.PROFESSIONAL_BLOCKED,
        dossier_changes={"blocked": frozenset({REGULATOR})},
    ),
    Case(
        "blocked_desk",
        "admissions",
        A.CARE_TEAM_JOIN,
        AD,
        NODOC,
        R.PROFESSIONAL_BLOCKED,
        dossier_changes={"blocked": frozenset({DESK})},
    ),
    # Rule 7: no relation.
    Case(
        "urgentiste_without_emergency", "urgentiste", A.DOSSIER_READ, AD, NODOC, R.NO_AUTHORISATION
    ),
    Case("author_has_no_dossier_access", "author", A.DOSSIER_READ, AD, NODOC, R.NO_AUTHORISATION),
    Case(
        "author_other_document", "author", A.DOCUMENT_READ, AD, "prescription", R.NO_AUTHORISATION
    ),
    Case(
        "authorship_does_not_open_deposit",
        "author",
        A.DOCUMENT_DEPOSIT,
        AD,
        "compte_rendu",
        R.NO_AUTHORISATION,
    ),
    Case("desk_lists_documents", "admissions", A.DOCUMENT_LIST, AD, NODOC, R.NO_AUTHORISATION),
    Case(
        "unrelated_asks_patient_right", "urgentiste", A.HISTORY_READ, AD, NODOC, R.NO_AUTHORISATION
    ),
    Case(
        "consent_withdrawn",
        "consented",
        A.DOSSIER_READ,
        AD,
        NODOC,
        R.NO_AUTHORISATION,
        dossier_changes={"consents": frozenset()},
    ),
    Case(
        "other_structure",
        "care_team_structure",
        A.DOSSIER_READ,
        AD,
        NODOC,
        R.NO_AUTHORISATION,
        dossier_changes={"care_team_structures": frozenset({CLINIC})},
    ),
    # Rule 7: the matrix.
    Case(
        "desk_in_care_team_lists",
        "admissions",
        A.DOCUMENT_LIST,
        AD,
        NODOC,
        R.CATEGORY_NOT_ALLOWED,
        dossier_changes={"care_team_structures": frozenset({CLINIC})},
    ),
    Case(
        "desk_in_care_team_reads",
        "admissions",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.CATEGORY_NOT_ALLOWED,
        dossier_changes={"care_team_structures": frozenset({CLINIC})},
    ),
    Case(
        "desk_breaks_glass",
        "admissions",
        A.BRIS_DE_GLACE,
        AD,
        NODOC,
        R.CATEGORY_NOT_ALLOWED,
        ctx={"emergency_reason": EMERGENCY_REASON},
    ),
    Case(
        "pharmacien_reads_report",
        "pharmacien",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case(
        "kine_reads_reimbursement",
        "consented",
        A.DOCUMENT_READ,
        AD,
        "remboursement",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case(
        "kine_deposits_prescription",
        "consented",
        A.DOCUMENT_DEPOSIT,
        AD,
        "prescription",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case(
        "nurse_reads_reimbursement",
        "infirmier",
        A.DOCUMENT_READ,
        AD,
        "remboursement",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case(
        "nobody_deposits_reimbursement",
        "mt",
        A.DOCUMENT_DEPOSIT,
        AD,
        "remboursement",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case(
        "nobody_deposits_for_patient",
        "care_team",
        A.DOCUMENT_DEPOSIT,
        AD,
        "patient_deposit",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case("matrix_before_mask", "pharmacien", A.DOCUMENT_READ, AD, "masked", R.CATEGORY_NOT_ALLOWED),
    Case(
        "author_replaces_outside_write",
        "author",
        A.DOCUMENT_REPLACE,
        AD,
        "dispensation",
        R.CATEGORY_NOT_ALLOWED,
        document_changes={"author_professional_id": AUTHOR},
    ),
    # Rule 7: masking (MASQUE_PS), which emergencies do not lift.
    Case("care_team_masked", "care_team", A.DOCUMENT_READ, AD, "masked", R.DOCUMENT_MASKED),
    Case("consent_masked", "consented", A.DOCUMENT_READ, AD, "masked", R.DOCUMENT_MASKED),
    Case(
        "bris_de_glace_masked", "urgentiste_bdg", A.DOCUMENT_READ, AD, "masked", R.DOCUMENT_MASKED
    ),
    Case("centre_15_masked", "regulator_c15", A.DOCUMENT_READ, AM, "masked", R.DOCUMENT_MASKED),
    # Rule 7: emergencies.
    Case(
        "bris_de_glace_withdrawn",
        "urgentiste_bdg",
        A.DOSSIER_READ,
        "emergency_withdrawn",
        NODOC,
        R.EMERGENCY_NOT_ALLOWED,
    ),
    Case(
        "break_glass_withdrawn",
        "urgentiste_bdg",
        A.BRIS_DE_GLACE,
        "emergency_withdrawn",
        NODOC,
        R.EMERGENCY_NOT_ALLOWED,
    ),
    Case(
        "centre_15_withdrawn",
        "regulator_c15",
        A.CENTRE_15,
        "emergency_withdrawn",
        NODOC,
        R.EMERGENCY_NOT_ALLOWED,
    ),
    Case(
        "centre_15_session_withdrawn",
        "regulator_c15",
        A.DOCUMENT_LIST,
        "emergency_withdrawn",
        NODOC,
        R.EMERGENCY_NOT_ALLOWED,
    ),
    Case(
        "break_glass_no_reason",
        "urgentiste",
        A.BRIS_DE_GLACE,
        AD,
        NODOC,
        R.EMERGENCY_REASON_MISSING,
    ),
    Case(
        "break_glass_blank_reason",
        "urgentiste",
        A.BRIS_DE_GLACE,
        AD,
        NODOC,
        R.EMERGENCY_REASON_MISSING,
        ctx={"emergency_reason": "  \t "},
    ),
    Case(
        "care_team_break_glass_no_reason",
        "care_team",
        A.BRIS_DE_GLACE,
        AM,
        NODOC,
        R.EMERGENCY_REASON_MISSING,
    ),
    Case("urgentiste_centre_15", "urgentiste_bdg", A.CENTRE_15, AD, NODOC, R.NOT_A_REGULATOR),
    Case(
        "urgentiste_in_centre_15_session",
        "urgentiste",
        A.DOSSIER_READ,
        AD,
        NODOC,
        R.NOT_A_REGULATOR,
        ctx={"emergency": Mode.CENTRE_15},
    ),
    Case(
        "non_regulator_before_withdrawal",
        "urgentiste",
        A.DOSSIER_READ,
        "emergency_withdrawn",
        NODOC,
        R.NOT_A_REGULATOR,
        ctx={"emergency": Mode.CENTRE_15},
    ),
    # Rule 7: document lifecycle.
    Case("care_team_deletes", "care_team", A.DOCUMENT_DELETE, AD, "compte_rendu", R.NOT_THE_AUTHOR),
    Case(
        "mt_deletes_colleagues_report",
        "mt",
        A.DOCUMENT_DELETE,
        AD,
        "compte_rendu",
        R.NOT_THE_AUTHOR,
    ),
    Case(
        "mt_replaces_colleagues_report",
        "mt",
        A.DOCUMENT_REPLACE,
        AD,
        "compte_rendu",
        R.NOT_THE_AUTHOR,
    ),
    Case("care_team_masks", "care_team", A.DOCUMENT_MASK, AD, "compte_rendu", R.NOT_THE_AUTHOR),
    Case(
        "care_team_unhides_for_patient",
        "care_team",
        A.DOCUMENT_PATIENT_VISIBILITY,
        AD,
        "invisible_patient",
        R.NOT_THE_AUTHOR,
    ),
    Case(
        "author_replaces_superseded",
        "author",
        A.DOCUMENT_REPLACE,
        AD,
        "superseded",
        R.DOCUMENT_NOT_CURRENT,
    ),
    Case("deposit_not_current", "mt", A.DOCUMENT_DEPOSIT, AD, "superseded", R.DOCUMENT_NOT_CURRENT),
    Case("mt_reads_deleted", "mt", A.DOCUMENT_READ, AD, "deleted", R.DOCUMENT_DELETED),
    Case(
        "care_team_reads_deleted", "care_team", A.DOCUMENT_READ, AD, "deleted", R.DOCUMENT_DELETED
    ),
    Case("author_deletes_deleted", "author", A.DOCUMENT_DELETE, AD, "deleted", R.DOCUMENT_DELETED),
    Case(
        "author_replaces_deleted", "author", A.DOCUMENT_REPLACE, AD, "deleted", R.DOCUMENT_DELETED
    ),
    Case("mt_masks_deleted", "mt", A.DOCUMENT_MASK, AD, "deleted", R.DOCUMENT_DELETED),
    # Rule 7: the patient's own rights are not the professionals'.
    Case("mt_history", "mt", A.HISTORY_READ, AD, NODOC, R.DEFAULT_DENY),
    Case("mt_closes", "mt", A.DOSSIER_CLOSE, AD, NODOC, R.DEFAULT_DENY),
    Case("mt_blocks", "mt", A.ACCESS_BLOCK, AD, NODOC, R.DEFAULT_DENY),
    Case("mt_sets_mt", "mt", A.MEDECIN_TRAITANT_SET, AD, NODOC, R.DEFAULT_DENY),
    Case(
        "care_team_emergency_settings", "care_team", A.EMERGENCY_SETTINGS, AD, NODOC, R.DEFAULT_DENY
    ),
    Case("care_team_manages_team", "care_team", A.CARE_TEAM_MANAGE, AD, NODOC, R.DEFAULT_DENY),
    Case("clinician_joins_care_team", "consented", A.CARE_TEAM_JOIN, AD, NODOC, R.DEFAULT_DENY),
    Case("mt_read_without_document", "mt", A.DOCUMENT_READ, AD, NODOC, R.NOT_FOUND),
    Case("desk_reopens", "admissions", A.DOSSIER_REOPEN, AD, NODOC, R.NO_AUTHORISATION),
)

# Issue 10: only a physician is the médecin traitant (matrix key `physician`), whatever
# row the database holds; the dossier names a non-physician as MT in these changes.
NAMED_MT = {
    "pharmacien": {"medecin_traitant_id": PHARMACIEN, "medecin_traitant_profession": "pharmacien"},
    "infirmier": {"medecin_traitant_id": INFIRMIER, "medecin_traitant_profession": "infirmier"},
    "admissions": {"medecin_traitant_id": DESK, "medecin_traitant_profession": "admissions"},
}
NON_PHYSICIAN_MT: tuple[Case, ...] = (
    Case(
        "pharmacist_named_mt_reads_report",
        "pharmacien",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.CATEGORY_NOT_ALLOWED,
        dossier_changes=NAMED_MT["pharmacien"],
    ),
    Case(
        "nurse_named_mt_reads_masked",
        "infirmier",
        A.DOCUMENT_READ,
        AD,
        "masked",
        R.DOCUMENT_MASKED,
        dossier_changes=NAMED_MT["infirmier"],
    ),
    Case(
        "nurse_named_mt_reads_reimbursement",
        "infirmier",
        A.DOCUMENT_READ,
        AD,
        "remboursement",
        R.CATEGORY_NOT_ALLOWED,
        dossier_changes=NAMED_MT["infirmier"],
    ),
    Case(
        "desk_named_mt_lists",
        "admissions",
        A.DOCUMENT_LIST,
        AD,
        NODOC,
        R.NO_AUTHORISATION,
        dossier_changes=NAMED_MT["admissions"],
    ),
    Case(
        "desk_named_mt_reads",
        "admissions",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.NO_AUTHORISATION,
        dossier_changes=NAMED_MT["admissions"],
    ),
    Case(
        "desk_named_mt_manages_team",
        "admissions",
        A.CARE_TEAM_MANAGE,
        AD,
        NODOC,
        R.NO_AUTHORISATION,
        dossier_changes=NAMED_MT["admissions"],
    ),
    Case(
        "non_physician_mt_stays_blocked",
        "infirmier",
        A.DOSSIER_READ,
        AD,
        NODOC,
        R.PROFESSIONAL_BLOCKED,
        dossier_changes={**NAMED_MT["infirmier"], "blocked": frozenset({INFIRMIER})},
    ),
    Case(
        "mt_of_unknown_profession_is_no_mt",
        "mt",
        A.DOCUMENT_READ,
        AD,
        "masked",
        R.NO_AUTHORISATION,
        dossier_changes={"medecin_traitant_profession": None},
    ),
    Case(
        "occupational_physician_named_mt",
        "mt",
        A.DOCUMENT_READ,
        AD,
        "masked",
        R.NO_AUTHORISATION,
        dossier_changes={"medecin_traitant_profession": "medecin_travail"},
    ),
    # Naming one: refused for anyone but an eligible physician.
    *(
        Case(
            f"patient_names_{profession}_mt",
            "patient_self",
            A.MEDECIN_TRAITANT_SET,
            AD,
            NODOC,
            R.NOT_A_PHYSICIAN,
            ctx={"target_professional_id": PHARMACIEN, "target_profession": profession},
        )
        for profession in (
            "pharmacien",
            "infirmier",
            "admissions",
            "sage_femme",
            "chirurgien_dentiste",
            "medecin_travail",
            "osteopathe",
        )
    ),
    Case(
        "patient_names_mt_of_unknown_profession",
        "patient_self",
        A.MEDECIN_TRAITANT_SET,
        AD,
        NODOC,
        R.NOT_A_PHYSICIAN,
        ctx={"target_professional_id": PHARMACIEN, "target_profession": None},
    ),
    Case(
        "desk_creates_naming_a_nurse_mt",
        "admissions",
        A.DOSSIER_CREATE,
        ND,
        NODOC,
        R.NOT_A_PHYSICIAN,
        ctx={"target_profession": "infirmier"},
    ),
)

# Issue 10: whoever asks about something that does not exist is decided like any
# request: NOT_FOUND to a caller entitled to learn it, the usual refusal to others.
NOT_FOUND_CASES: tuple[Case, ...] = (
    Case("pro_finds_no_dossier", "admissions", A.DOSSIER_LOOKUP, ND, NODOC, R.NOT_FOUND),
    Case("pro_finds_purged_as_none", "urgentiste", A.DOSSIER_LOOKUP, "purged", NODOC, R.NOT_FOUND),
    Case("insurer_finds_no_dossier", "insurer", A.DOSSIER_LOOKUP, ND, NODOC, R.NOT_FOUND),
    Case("patient_finds_own_none", "patient_self", A.DOSSIER_LOOKUP, ND, NODOC, R.NOT_FOUND),
    Case("stranger_finds_none", "other_patient", A.DOSSIER_LOOKUP, ND, NODOC, R.NOT_A_PARTY),
    Case(
        "lookup_without_subject",
        "patient_self",
        A.DOSSIER_LOOKUP,
        ND,
        NODOC,
        R.NOT_A_PARTY,
        ctx={"subject_patient_id": None},
    ),
    Case("mutuelle_finds_none", "mutuelle", A.DOSSIER_LOOKUP, ND, NODOC, R.FORBIDDEN_ACTOR),
    Case(
        "ineligible_finds_none",
        "medecin_travail",
        A.DOSSIER_LOOKUP,
        ND,
        NODOC,
        R.NOT_AN_ELIGIBLE_PROFESSION,
    ),
    Case("unknown_id_as_unrelated", "urgentiste", A.DOCUMENT_LIST, ND, NODOC, R.NO_AUTHORISATION),
    Case("patient_unknown_id", "patient_self", A.DOSSIER_READ, ND, NODOC, R.NOT_A_PARTY),
    Case("patient_unknown_document", "patient_self", A.DOCUMENT_READ, AD, NODOC, R.NOT_FOUND),
    Case(
        "unrelated_unknown_document", "urgentiste", A.DOCUMENT_READ, AD, NODOC, R.NO_AUTHORISATION
    ),
    Case("author_unknown_document", "author", A.DOCUMENT_MASK, AD, NODOC, R.NO_AUTHORISATION),
    Case(
        "patient_blocks_unknown",
        "patient_self",
        A.ACCESS_BLOCK,
        AD,
        NODOC,
        R.NOT_FOUND,
        ctx={"unknown_target": True},
    ),
    Case(
        "stranger_blocks_unknown",
        "other_patient",
        A.ACCESS_BLOCK,
        AD,
        NODOC,
        R.NOT_A_PARTY,
        ctx={"unknown_target": True},
    ),
    Case(
        "mt_removes_unknown_member",
        "mt",
        A.CARE_TEAM_MANAGE,
        AD,
        NODOC,
        R.NOT_FOUND,
        ctx={"unknown_target": True},
    ),
    Case(
        "care_team_removes_unknown_member",
        "care_team",
        A.CARE_TEAM_MANAGE,
        AD,
        NODOC,
        R.DEFAULT_DENY,
        ctx={"unknown_target": True},
    ),
    Case(
        "create_naming_unknown_professional",
        "admissions",
        A.DOSSIER_CREATE,
        ND,
        NODOC,
        R.NOT_FOUND,
        ctx={"unknown_target": True},
    ),
    Case(
        "stranger_creates_over_existing",
        "other_patient",
        A.DOSSIER_CREATE,
        AD,
        NODOC,
        R.NOT_A_PARTY,
    ),
    # INVISIBLE_PATIENT never applies to what the patient deposited.
    Case(
        "mt_hides_patient_deposit_from_patient",
        "mt",
        A.DOCUMENT_PATIENT_VISIBILITY,
        AD,
        "patient_deposit",
        R.PATIENT_DEPOSIT_VISIBLE,
    ),
    Case(
        "mt_hides_rep_deposit_from_patient",
        "blocked_mt",
        A.DOCUMENT_PATIENT_VISIBILITY,
        AM,
        "patient_deposit",
        R.PATIENT_DEPOSIT_VISIBLE,
        document_changes={"author_patient_id": REP_OF_MINOR},
    ),
)
# Acting on a document one may not read is refused as reading it is.
HIDDEN_DOCUMENT_ACTS: tuple[Case, ...] = (
    Case("care_team_masks_masked", "care_team", A.DOCUMENT_MASK, AD, "masked", R.DOCUMENT_MASKED),
    Case(
        "care_team_archives_masked",
        "care_team",
        A.DOCUMENT_ARCHIVE,
        AD,
        "masked",
        R.DOCUMENT_MASKED,
    ),
    Case(
        "pharmacist_deletes_report",
        "pharmacien",
        A.DOCUMENT_DELETE,
        AD,
        "compte_rendu",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case(
        "nurse_replaces_reimbursement",
        "infirmier",
        A.DOCUMENT_REPLACE,
        AD,
        "remboursement",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case(
        "care_team_unhides_deleted",
        "care_team",
        A.DOCUMENT_PATIENT_VISIBILITY,
        AD,
        "deleted",
        R.DOCUMENT_DELETED,
    ),
)
# Issue 13: delegation, representatives after creation, the secret connection.
ENDED = {"delegation": replace(ADULT.delegation, until=NOW)} if ADULT.delegation else {}
REVOKED = {"delegation": replace(ADULT.delegation, revoked=True)} if ADULT.delegation else {}
WHO_MAY_ACT_FOR_WHOM: tuple[Case, ...] = (
    Case(
        "delegate_other_category",
        "delegate",
        A.DOCUMENT_READ,
        AD,
        "dispensation",
        R.CATEGORY_NOT_ALLOWED,
    ),
    Case("delegate_masked", "delegate", A.DOCUMENT_READ, AD, "masked", R.DOCUMENT_MASKED),
    Case(
        "delegate_invisible_patient",
        "delegate",
        A.DOCUMENT_READ,
        AD,
        "invisible_patient",
        R.INVISIBLE_TO_PATIENT,
    ),
    Case(
        "delegate_invisible_rep",
        "delegate",
        A.DOCUMENT_READ,
        AD,
        "invisible_rep",
        R.INVISIBLE_TO_REPRESENTATIVES,
    ),
    Case("delegate_deleted", "delegate", A.DOCUMENT_READ, AD, "deleted", R.DOCUMENT_DELETED),
    Case("delegate_no_document", "delegate", A.DOCUMENT_READ, AD, NODOC, R.NOT_FOUND),
    # The end instant itself is already too late.
    Case(
        "delegate_at_end_date",
        "delegate",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.DELEGATION_EXPIRED,
        dossier_changes=ENDED,
    ),
    Case(
        "delegate_list_after_end",
        "delegate",
        A.DOCUMENT_LIST,
        AD,
        NODOC,
        R.DELEGATION_EXPIRED,
        dossier_changes=ENDED,
    ),
    Case(
        "delegate_after_revocation",
        "delegate",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.DELEGATION_REVOKED,
        dossier_changes=REVOKED,
    ),
    Case(
        "delegate_revoked_and_ended",
        "delegate",
        A.DOSSIER_READ,
        AD,
        NODOC,
        R.DELEGATION_REVOKED,
        dossier_changes={**REVOKED, "delegation": replace(REVOKED["delegation"], until=NOW)},
    ),
    Case("delegate_on_minor", "delegate", A.DOCUMENT_READ, AM, "compte_rendu", R.DEFAULT_DENY),
    Case(
        "minor_delegates",
        "patient_self",
        A.DELEGATION_MANAGE,
        AD,
        NODOC,
        R.DEFAULT_DENY,
        dossier_changes={"patient_birth_date": date(2012, 9, 1)},
    ),
    Case("delegate_history", "delegate", A.HISTORY_READ, AD, NODOC, R.DEFAULT_DENY),
    Case(
        "delegate_deposits", "delegate", A.DOCUMENT_DEPOSIT, AD, "patient_deposit", R.DEFAULT_DENY
    ),
    Case("delegate_delegates", "delegate", A.DELEGATION_MANAGE, AD, NODOC, R.DEFAULT_DENY),
    Case("delegate_masks", "delegate", A.DOCUMENT_MASK, AD, "compte_rendu", R.DEFAULT_DENY),
    Case("delegate_closed", "delegate", A.DOCUMENT_LIST, "closed", NODOC, R.DOSSIER_CLOSED),
    Case("delegate_looks_up", "delegate", A.DOSSIER_LOOKUP, AD, NODOC, R.NOT_A_PARTY),
    Case("delegate_purged", "delegate", A.DOSSIER_READ, "purged", NODOC, R.NOT_A_PARTY),
    # A delegation on someone else's dossier is nothing on this one.
    Case("delegation_of_another", "other_patient", A.DOSSIER_READ, AD, NODOC, R.NOT_A_PARTY),
    Case("rep_delegates_for_minor", "rep_of_minor", A.DELEGATION_MANAGE, AM, NODOC, R.DEFAULT_DENY),
    Case(
        "patient_delegates_closed",
        "patient_self",
        A.DELEGATION_MANAGE,
        "closed",
        NODOC,
        R.DOSSIER_CLOSED,
    ),
    Case(
        "desk_reps_of_adult",
        "admissions",
        A.REPRESENTATIVE_MANAGE,
        AD,
        NODOC,
        R.REPRESENTATIVE_OF_ADULT,
    ),
    Case(
        "desk_reps_without_identity",
        "admissions",
        A.REPRESENTATIVE_MANAGE,
        AM,
        NODOC,
        R.CONSENT_MISSING,
        ctx={"consent_evidence": False},
    ),
    Case(
        "desk_reps_closed", "admissions", A.REPRESENTATIVE_MANAGE, "closed", NODOC, R.DOSSIER_CLOSED
    ),
    Case("clinician_manages_reps", "mt", A.REPRESENTATIVE_MANAGE, AD, NODOC, R.DEFAULT_DENY),
    Case("rep_manages_reps", "rep_of_minor", A.REPRESENTATIVE_MANAGE, AM, NODOC, R.DEFAULT_DENY),
    Case(
        "secret_deposit_visible_to_reps",
        "care_team",
        A.DOCUMENT_DEPOSIT,
        AM,
        "compte_rendu",
        R.SECRET_DEPOSIT_VISIBLE,
        ctx={"secret_connection": True},
    ),
)
DENIED = DENIED + NON_PHYSICIAN_MT + NOT_FOUND_CASES + HIDDEN_DOCUMENT_ACTS + WHO_MAY_ACT_FOR_WHOM

SPECIAL_ALLOWED: tuple[Case, ...] = (
    Case(
        "delegate_second_before_end",
        "delegate",
        A.DOCUMENT_READ,
        AD,
        "prescription",
        R.DELEGATION_ACTIVE,
        Mode.DELEGATE,
        dossier_changes={
            "delegation": replace(ADULT.delegation, until=NOW + timedelta(microseconds=1))
        }
        if ADULT.delegation
        else {},
    ),
    Case(
        "secret_deposit_invisible_to_reps",
        "care_team",
        A.DOCUMENT_DEPOSIT,
        AM,
        "invisible_rep",
        R.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        ctx={"secret_connection": True},
    ),
    Case(
        "rep_day_before_18th_birthday",
        "rep_of_minor",
        A.DOSSIER_READ,
        AM,
        NODOC,
        R.REPRESENTATIVE_OF_MINOR,
        Mode.REPRESENTATIVE,
        dossier_changes=MINOR_TURNS_18_TOMORROW,
    ),
    Case(
        "patient_own_deposit_flagged_invisible",
        "patient_self",
        A.DOCUMENT_READ,
        AD,
        "patient_deposit",
        R.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
        document_changes={"invisible_patient": True},
    ),
    Case(
        "rep_own_deposit_flagged_invisible_rep",
        "rep_of_minor",
        A.DOCUMENT_READ,
        AM,
        "patient_deposit",
        R.REPRESENTATIVE_OF_MINOR,
        Mode.REPRESENTATIVE,
        document_changes={"author_patient_id": REP_OF_MINOR, "invisible_rep": True},
    ),
    Case(
        "rep_deletes_own_deposit",
        "rep_of_minor",
        A.DOCUMENT_DELETE,
        AM,
        "patient_deposit",
        R.REPRESENTATIVE_OF_MINOR,
        Mode.REPRESENTATIVE,
        document_changes={"author_patient_id": REP_OF_MINOR},
    ),
    Case(
        "rep_reopens_closed_minor",
        "rep_of_minor",
        A.DOSSIER_REOPEN,
        AM,
        NODOC,
        R.REPRESENTATIVE_OF_MINOR,
        Mode.REPRESENTATIVE,
        dossier_changes={"status": DossierStatus.CLOSED},
    ),
    Case(
        "patient_blocks_when_no_mt",
        "patient_self",
        A.ACCESS_BLOCK,
        AD,
        NODOC,
        R.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
        dossier_changes={"medecin_traitant_id": None},
    ),
    Case(
        "blocked_mt_breaks_glass",
        "blocked_mt",
        A.BRIS_DE_GLACE,
        AM,
        NODOC,
        R.EMERGENCY_GRANTED,
        Mode.BRIS_DE_GLACE,
        ctx={"emergency_reason": EMERGENCY_REASON},
    ),
    Case(
        "author_reads_own_masked_outside_matrix",
        "pharmacien",
        A.DOCUMENT_READ,
        AD,
        "dispensation",
        R.DOCUMENT_AUTHOR,
        Mode.AUTHOR,
        document_changes={"category": Category.COMPTE_RENDU, "masked_ps": True},
    ),
    Case(
        "in_person_consent",
        "pharmacien",
        A.ACCESS_GRANT,
        AD,
        NODOC,
        R.EXPLICIT_CONSENT,
        Mode.CONSENT,
        ctx=IN_PERSON,
    ),
    Case(
        "close_in_person",
        "pharmacien",
        A.DOSSIER_CLOSE,
        AD,
        NODOC,
        R.EXPLICIT_CONSENT,
        Mode.CONSENT,
        ctx={"patient_present": True},
    ),
    Case(
        "close_in_person_mt",
        "mt",
        A.DOSSIER_CLOSE,
        AD,
        NODOC,
        R.EXPLICIT_CONSENT,
        Mode.CONSENT,
        ctx={"patient_present": True},
    ),
    Case(
        "care_team_beats_emergency",
        "urgentiste_bdg",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        dossier_changes={"care_team": frozenset({URGENTISTE_BDG})},
    ),
    Case(
        "regulator_in_care_team",
        "regulator_c15",
        A.DOSSIER_READ,
        "emergency_withdrawn",
        NODOC,
        R.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        dossier_changes={"care_team": frozenset({REGULATOR})},
    ),
    Case(
        "patient_names_a_gp",
        "patient_self",
        A.MEDECIN_TRAITANT_SET,
        AD,
        NODOC,
        R.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
        ctx={"target_professional_id": CARE_TEAM, "target_profession": "medecin_generaliste"},
    ),
    Case(
        "rep_names_a_specialist",
        "rep_of_minor",
        A.MEDECIN_TRAITANT_SET,
        AM,
        NODOC,
        R.REPRESENTATIVE_OF_MINOR,
        Mode.REPRESENTATIVE,
        ctx={"target_professional_id": CARE_TEAM, "target_profession": "medecin_specialiste"},
    ),
    Case(
        "patient_clears_the_mt",
        "patient_self",
        A.MEDECIN_TRAITANT_SET,
        AD,
        NODOC,
        R.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
        ctx={"target_professional_id": None},
    ),
    Case(
        "desk_creates_naming_a_gp",
        "admissions",
        A.DOSSIER_CREATE,
        ND,
        NODOC,
        R.CREATION_WITH_CONSENT,
        Mode.ADMISSIONS,
        ctx={"target_profession": "medecin_generaliste"},
    ),
    Case(
        "patient_blocks_a_non_physician_named_mt",
        "patient_self",
        A.ACCESS_BLOCK,
        AD,
        NODOC,
        R.PATIENT_OWN_DOSSIER,
        Mode.PATIENT,
        ctx={"target_professional_id": INFIRMIER},
        dossier_changes=NAMED_MT["infirmier"],
    ),
    Case(
        "nurse_named_mt_reads_as_care_team",
        "infirmier",
        A.DOCUMENT_READ,
        AD,
        "compte_rendu",
        R.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        dossier_changes=NAMED_MT["infirmier"],
    ),
    Case(
        "mt_clears_patient_visibility_of_a_report",
        "mt",
        A.DOCUMENT_PATIENT_VISIBILITY,
        AD,
        "invisible_patient",
        R.MEDECIN_TRAITANT,
        Mode.MEDECIN_TRAITANT,
    ),
    Case(
        "desk_in_care_team_deposits_admin_paper",
        "admissions",
        A.DOCUMENT_DEPOSIT,
        AD,
        "compte_rendu",
        R.CARE_TEAM_MEMBER,
        Mode.CARE_TEAM,
        dossier_changes={"care_team_structures": frozenset({CLINIC})},
        document_changes={"category": Category.GESTION},
    ),
)


def _ids(cases: Iterable[Case]) -> list[str]:
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return names


@pytest.mark.parametrize("case", DENIED, ids=_ids(DENIED))
def test_denied_case(case: Case) -> None:
    decision = case.run()
    assert not decision.allowed
    assert decision.reason is case.reason
    assert decision.mode is Mode.NONE


@pytest.mark.parametrize("case", SPECIAL_ALLOWED, ids=_ids(SPECIAL_ALLOWED))
def test_special_allowed_case(case: Case) -> None:
    decision = case.run()
    assert decision.allowed, decision.reason
    assert (decision.reason, decision.mode) == (case.reason, case.mode)


def test_every_reason_is_specified() -> None:
    listed = {row.reason for row in ALLOWED} | {case.reason for case in DENIED}
    listed |= {case.reason for case in SPECIAL_ALLOWED}
    assert set(Reason) - listed == set()


def test_every_mode_is_specified() -> None:
    # NONE too: a professional's lookup by INS is allowed under no particular title.
    listed = {row.mode for row in ALLOWED}
    assert set(Mode) - listed == set()


# --- listing and reading agree (issue 10) ----------------------------------------------


def _list_and_read_disagreements(
    who: Principal, dossier: DossierFacts | None, ctx: Context, where: str
) -> list[str]:
    listing = decide(who.actor, A.DOCUMENT_LIST, dossier, None, ctx, MATRIX)
    found = []
    for name, document in DOCUMENTS.items():
        if document is None:
            continue
        read = decide(who.actor, A.DOCUMENT_READ, dossier, document, ctx, MATRIX)
        shown = listed(listing, who.actor, dossier, document, ctx, MATRIX)
        if shown != read.allowed:
            found.append(f"{where}/{name}: list {listing.reason} shows={shown}, read {read.reason}")
    return found


@pytest.mark.parametrize("principal", list(PRINCIPALS))
def test_the_list_shows_exactly_what_reading_by_id_allows(principal: str) -> None:
    """Every principal x dossier of the walk, over every document: a document is in the
    list if and only if reading it by id is allowed (a refused list means none is)."""
    who = PRINCIPALS[principal]
    mismatches = [
        line
        for name, dossier in DOSSIERS.items()
        for line in _list_and_read_disagreements(who, dossier, who.ctx, name)
    ]
    assert not mismatches, "\n".join(mismatches)


NAMED_CASES = (*DENIED, *SPECIAL_ALLOWED)


@pytest.mark.parametrize("case", NAMED_CASES, ids=[case.name for case in NAMED_CASES])
def test_the_list_agrees_with_reading_in_every_named_case(case: Case) -> None:
    """The same, with each named case's changed facts and context."""
    who = PRINCIPALS[case.principal]
    dossier = DOSSIERS[case.dossier]
    if dossier is not None and case.dossier_changes:
        dossier = replace(dossier, **case.dossier_changes)
    mismatches = _list_and_read_disagreements(who, dossier, replace(who.ctx, **case.ctx), case.name)
    assert not mismatches, "\n".join(mismatches)
