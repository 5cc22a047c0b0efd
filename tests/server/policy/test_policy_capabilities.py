"""What GET /session says a professional may do is what `decide` allows (issue 10)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.policy import Actor, ActorKind, Category, Mode, default_matrix_path, load_matrix
from server.policy.capabilities import capabilities

MATRIX = load_matrix(default_matrix_path())
NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def _pro(profession: str) -> Actor:
    return Actor(ActorKind.PROFESSIONAL, 42, profession, "750000010")


@pytest.mark.parametrize("profession", sorted(MATRIX.professions))
def test_reading_and_depositing_follow_the_matrix(profession: str) -> None:
    rules = MATRIX.professions[profession]
    found = capabilities(_pro(profession), MATRIX, NOW)
    assert found is not None
    if rules.eligible:
        assert found.read_categories == rules.read
        assert found.deposit_categories == rules.write
        assert found.clinical_reading is bool(rules.read)
    else:  # occupational medicine: nothing at all
        assert found.read_categories == found.deposit_categories == frozenset()
        assert found.emergency is None


@pytest.mark.parametrize(
    ("profession", "emergency", "joins"),
    [
        ("urgentiste", Mode.BRIS_DE_GLACE, False),
        ("pharmacien", Mode.BRIS_DE_GLACE, False),  # domain.md: "a professional", any reader
        ("regulateur_samu", Mode.CENTRE_15, False),
        ("admissions", None, True),  # reads nothing, so has no glass to break
        ("medecin_travail", None, False),
        ("profession_inconnue", None, False),
    ],
)
def test_emergency_mode_and_admissions_desk(
    profession: str, emergency: Mode | None, joins: bool
) -> None:
    found = capabilities(_pro(profession), MATRIX, NOW)
    assert found is not None
    assert found.emergency is emergency
    assert found.join_care_team is joins


def test_the_desk_deposits_administrative_papers_and_reads_none() -> None:
    found = capabilities(_pro("admissions"), MATRIX, NOW)
    assert found is not None
    assert found.deposit_categories == {Category.GESTION}
    assert found.clinical_reading is False


@pytest.mark.parametrize("kind", [ActorKind.PATIENT, ActorKind.INSURER, ActorKind.THIRD_PARTY])
def test_other_callers_get_no_professional_capabilities(kind: ActorKind) -> None:
    assert capabilities(Actor(kind, 7), MATRIX, NOW) is None
