"""Delegation and the secret connection beyond reasons and modes: what a decision carries
(readable categories, obligations), at a fixed `now`."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

from server.policy import (
    Action,
    Actor,
    ActorKind,
    Category,
    Context,
    DelegationFacts,
    DocumentFacts,
    DocumentStatus,
    DossierFacts,
    DossierStatus,
    Obligation,
    decide,
    default_matrix_path,
    load_matrix,
)

NOW = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
MATRIX = load_matrix(default_matrix_path())
PATIENT, DELEGATE, GP = 1, 2, 100
SHARED = frozenset({Category.COMPTE_RENDU, Category.IMAGERIE})


def _dossier(**changes: Any) -> DossierFacts:
    base = DossierFacts(
        PATIENT,
        DossierStatus.ACTIVE,
        date(1980, 1, 1),
        care_team=frozenset({GP}),
        delegation=DelegationFacts(DELEGATE, SHARED, NOW + timedelta(days=1)),
    )
    return replace(base, **changes)


def test_the_delegates_list_reads_exactly_the_delegated_categories() -> None:
    delegate = Actor(ActorKind.PATIENT, DELEGATE)
    decision = decide(delegate, Action.DOCUMENT_LIST, _dossier(), None, Context(now=NOW), MATRIX)
    assert decision.allowed
    assert decision.readable_categories == SHARED
    assert decision.obligations == frozenset()


def test_a_delegation_names_one_person() -> None:
    someone = Actor(ActorKind.PATIENT, DELEGATE + 1)
    decision = decide(someone, Action.DOSSIER_READ, _dossier(), None, Context(now=NOW), MATRIX)
    assert not decision.allowed
    # The patient's own rights never pass through a delegation naming them.
    own = decide(
        Actor(ActorKind.PATIENT, PATIENT),
        Action.HISTORY_READ,
        _dossier(delegation=DelegationFacts(PATIENT, SHARED, NOW - timedelta(days=1))),
        None,
        Context(now=NOW),
        MATRIX,
    )
    assert own.allowed


def test_a_secret_deposit_notifies_no_one() -> None:
    gp = Actor(ActorKind.PROFESSIONAL, GP, profession="medecin_generaliste")
    minor = _dossier(patient_birth_date=date(2012, 1, 1))
    hidden = DocumentFacts(
        Category.COMPTE_RENDU, DocumentStatus.CURRENT, author_professional_id=GP, invisible_rep=True
    )
    secret = Context(now=NOW, secret_connection=True)
    decision = decide(gp, Action.DOCUMENT_DEPOSIT, minor, hidden, secret, MATRIX)
    assert decision.allowed
    assert Obligation.NOTIFY_PATIENT_NEW_DOCUMENT not in decision.obligations
    usual = decide(gp, Action.DOCUMENT_DEPOSIT, minor, hidden, Context(now=NOW), MATRIX)
    assert Obligation.NOTIFY_PATIENT_NEW_DOCUMENT in usual.obligations
