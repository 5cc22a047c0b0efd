"""What an allowed decision carries besides yes: obligations and readable categories.

domain.md: the patient is notified at a professional's first access, at every emergency
access and when a new document is deposited; an emergency access is shown for the whole
session. Hidden fields are part of the decision: DOSSIER_READ / DOCUMENT_LIST say which
categories the services may let through.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime

import pytest

from server.policy import (
    Action,
    Actor,
    ActorKind,
    Category,
    Context,
    Decision,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
    DossierStatus,
    Mode,
    Obligation,
    decide,
    default_matrix_path,
    load_matrix,
)

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
MATRIX = load_matrix(default_matrix_path())
PATIENT = 1
MT, AUTHOR, TEAM, PHARMACIEN, DESK, URGENTISTE, REGULATOR = 100, 101, 102, 107, 109, 110, 111

DOSSIER = DossierFacts(
    patient_id=PATIENT,
    status=DossierStatus.ACTIVE,
    patient_birth_date=date(1980, 3, 2),
    medecin_traitant_id=MT,
    medecin_traitant_profession="medecin_generaliste",
    care_team=frozenset({TEAM}),
    consents=frozenset({PHARMACIEN}),
)
REPORT = DocumentFacts(Category.COMPTE_RENDU, DocumentStatus.CURRENT, author_professional_id=TEAM)
BASE = Context(now=NOW)
FIRST = Context(now=NOW, first_access=True)
BRIS = Context(now=NOW, emergency=Mode.BRIS_DE_GLACE, emergency_reason="coma")
CENTRE = Context(now=NOW, emergency=Mode.CENTRE_15)

NOTIFY_FIRST = Obligation.NOTIFY_PATIENT_FIRST_ACCESS
NOTIFY_EMERGENCY = Obligation.NOTIFY_PATIENT_EMERGENCY
NOTIFY_NEW = Obligation.NOTIFY_PATIENT_NEW_DOCUMENT
BANNER = Obligation.SHOW_EMERGENCY_BANNER


def pro(pro_id: int, profession: str = "medecin_specialiste") -> Actor:
    return Actor(ActorKind.PROFESSIONAL, pro_id, profession=profession)


def run(
    actor: Actor, action: Action, ctx: Context, document: DocumentFacts | None = None
) -> Decision:
    decision = decide(actor, action, DOSSIER, document, ctx, MATRIX)
    assert decision.allowed, decision.reason
    return decision


OBLIGATION_CASES = [
    # (id, actor, action, ctx, document, expected obligations)
    ("team_read_not_first", pro(TEAM), Action.DOSSIER_READ, BASE, None, set()),
    ("team_first_summary", pro(TEAM), Action.DOSSIER_READ, FIRST, None, {NOTIFY_FIRST}),
    ("team_first_list", pro(TEAM), Action.DOCUMENT_LIST, FIRST, None, {NOTIFY_FIRST}),
    ("team_first_document", pro(TEAM), Action.DOCUMENT_READ, FIRST, REPORT, {NOTIFY_FIRST}),
    (
        "mt_first_summary",
        pro(MT, "medecin_generaliste"),
        Action.DOSSIER_READ,
        FIRST,
        None,
        {NOTIFY_FIRST},
    ),
    (
        "author_first_read",
        pro(AUTHOR),
        Action.DOCUMENT_READ,
        FIRST,
        replace(REPORT, author_professional_id=AUTHOR),
        {NOTIFY_FIRST},
    ),
    (
        "desk_first_summary",
        pro(DESK, "admissions"),
        Action.DOSSIER_READ,
        FIRST,
        None,
        {NOTIFY_FIRST},
    ),
    ("desk_join_is_no_read", pro(DESK, "admissions"), Action.CARE_TEAM_JOIN, FIRST, None, set()),
    # A deposit is not a read: it notifies the new document, not a first access.
    ("team_deposit", pro(TEAM), Action.DOCUMENT_DEPOSIT, FIRST, REPORT, {NOTIFY_NEW}),
    (
        "consent_deposit",
        pro(PHARMACIEN, "pharmacien"),
        Action.DOCUMENT_DEPOSIT,
        BASE,
        replace(REPORT, category=Category.DISPENSATION),
        {NOTIFY_NEW},
    ),
    ("author_replace", pro(TEAM), Action.DOCUMENT_REPLACE, BASE, REPORT, {NOTIFY_NEW}),
    ("author_delete", pro(TEAM), Action.DOCUMENT_DELETE, BASE, REPORT, set()),
    ("author_masks", pro(TEAM), Action.DOCUMENT_MASK, FIRST, REPORT, set()),
    (
        "mt_manages_team",
        pro(MT, "medecin_generaliste"),
        Action.CARE_TEAM_MANAGE,
        FIRST,
        None,
        set(),
    ),
    # Emergencies: the act notifies and raises the banner; the session keeps the banner.
    (
        "break_the_glass",
        pro(URGENTISTE, "urgentiste"),
        Action.BRIS_DE_GLACE,
        BRIS,
        None,
        {NOTIFY_EMERGENCY, BANNER},
    ),
    (
        "centre_15_act",
        pro(REGULATOR, "regulateur_samu"),
        Action.CENTRE_15,
        CENTRE,
        None,
        {NOTIFY_EMERGENCY, BANNER},
    ),
    (
        "bris_de_glace_read",
        pro(URGENTISTE, "urgentiste"),
        Action.DOCUMENT_READ,
        BRIS,
        REPORT,
        {BANNER},
    ),
    (
        "bris_de_glace_first_read",
        pro(URGENTISTE, "urgentiste"),
        Action.DOSSIER_READ,
        replace(BRIS, first_access=True),
        None,
        {BANNER, NOTIFY_FIRST},
    ),
    (
        "bris_de_glace_deposit",
        pro(URGENTISTE, "urgentiste"),
        Action.DOCUMENT_DEPOSIT,
        BRIS,
        REPORT,
        {BANNER, NOTIFY_NEW},
    ),
    (
        "centre_15_list",
        pro(REGULATOR, "regulateur_samu"),
        Action.DOCUMENT_LIST,
        CENTRE,
        None,
        {BANNER},
    ),
    # Under a real relation, an emergency session flag adds nothing.
    ("team_in_emergency_session", pro(TEAM), Action.DOSSIER_READ, BRIS, None, set()),
    # The patient and the insurer trigger no notice (the patient acted; reimbursements
    # are routine).
    (
        "patient_deposit",
        Actor(ActorKind.PATIENT, PATIENT),
        Action.DOCUMENT_DEPOSIT,
        FIRST,
        DocumentFacts(Category.DEPOSE_PATIENT, DocumentStatus.CURRENT, author_patient_id=PATIENT),
        set(),
    ),
    ("patient_reads", Actor(ActorKind.PATIENT, PATIENT), Action.DOSSIER_READ, FIRST, None, set()),
    (
        "insurer_deposit",
        Actor(ActorKind.INSURER, 0),
        Action.DOCUMENT_DEPOSIT,
        BASE,
        DocumentFacts(Category.REMBOURSEMENT, DocumentStatus.CURRENT, author_is_insurer=True),
        set(),
    ),
]


@pytest.mark.parametrize(
    ("actor", "action", "ctx", "document", "expected"),
    [case[1:] for case in OBLIGATION_CASES],
    ids=[case[0] for case in OBLIGATION_CASES],
)
def test_obligations(
    actor: Actor,
    action: Action,
    ctx: Context,
    document: DocumentFacts | None,
    expected: set[Obligation],
) -> None:
    assert run(actor, action, ctx, document).obligations == frozenset(expected)


def test_creation_carries_no_obligation() -> None:
    ctx = Context(now=NOW, consent_evidence=True, first_access=True)
    decision = decide(pro(TEAM), Action.DOSSIER_CREATE, None, None, ctx, MATRIX)
    assert decision.allowed
    assert decision.obligations == frozenset()


ALL = frozenset(Category)


def _read_set(profession: str) -> frozenset[Category]:
    rules = MATRIX.rules_for(profession)
    assert rules is not None
    return rules.read


READABLE_CASES = [
    ("mt_sees_all", pro(MT, "medecin_generaliste"), BASE, ALL),
    ("pharmacien_matrix", pro(PHARMACIEN, "pharmacien"), BASE, _read_set("pharmacien")),
    ("team_matrix", pro(TEAM, "infirmier"), BASE, _read_set("infirmier")),
    ("bris_de_glace_matrix", pro(URGENTISTE, "urgentiste"), BRIS, _read_set("urgentiste")),
    ("centre_15_matrix", pro(REGULATOR, "regulateur_samu"), CENTRE, _read_set("regulateur_samu")),
    ("patient_all", Actor(ActorKind.PATIENT, PATIENT), BASE, ALL),
]


@pytest.mark.parametrize("action", [Action.DOSSIER_READ, Action.DOCUMENT_LIST], ids=str)
@pytest.mark.parametrize(
    ("actor", "ctx", "expected"),
    [case[1:] for case in READABLE_CASES],
    ids=[case[0] for case in READABLE_CASES],
)
def test_readable_categories(
    actor: Actor, ctx: Context, expected: frozenset[Category], action: Action
) -> None:
    assert run(actor, action, ctx).readable_categories == expected


def test_pharmacien_reads_no_clinical_report() -> None:
    # The matrix, not a code branch, keeps reports away from the pharmacy counter.
    readable = run(pro(PHARMACIEN, "pharmacien"), Action.DOSSIER_READ, BASE).readable_categories
    assert Category.PRESCRIPTION in readable
    assert Category.COMPTE_RENDU not in readable


def test_admissions_summary_has_no_clinical_category() -> None:
    decision = run(pro(DESK, "admissions"), Action.DOSSIER_READ, BASE)
    assert decision.mode is Mode.ADMISSIONS
    assert decision.readable_categories == frozenset()


@pytest.mark.parametrize(
    ("actor", "action", "document"),
    [
        (pro(TEAM), Action.DOCUMENT_READ, REPORT),
        (pro(TEAM), Action.DOCUMENT_DEPOSIT, REPORT),
        (pro(MT, "medecin_generaliste"), Action.CARE_TEAM_MANAGE, None),
        (Actor(ActorKind.PATIENT, PATIENT), Action.HISTORY_READ, None),
    ],
    ids=["document_read", "deposit", "care_team_manage", "history_read"],
)
def test_other_actions_carry_no_categories(
    actor: Actor, action: Action, document: DocumentFacts | None
) -> None:
    assert run(actor, action, BASE, document).readable_categories == frozenset()


def test_same_facts_same_decision() -> None:
    # Pure function: equal inputs give equal (immutable) decisions.
    first = decide(pro(TEAM), Action.DOCUMENT_READ, DOSSIER, REPORT, FIRST, MATRIX)
    again = decide(pro(TEAM), Action.DOCUMENT_READ, DOSSIER, REPORT, FIRST, MATRIX)
    assert first == again
