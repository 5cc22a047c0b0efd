"""Each rule of server/alerts/rules.py fires, and does not fire, at its boundaries."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from server.alerts import rules
from server.alerts.rules import Access, Facts, Rule, flag
from server.alerts.scan import fold_name

# June: Paris is UTC+2.
NOON = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


def access(
    at: datetime = NOON,
    *,
    kind: str = "professional",
    action: str = "dossier:read",
    mode: str = "consent",
    outcome: str = "allowed",
    reason: str = "explicit_consent",
) -> Access:
    return Access(at, kind, action, mode, outcome, reason)


@pytest.mark.parametrize(
    ("utc_hour", "utc_minute", "night"),
    [
        (19, 59, False),  # 21:59 Paris
        (20, 0, True),  # 22:00 Paris: the night starts
        (2, 30, True),  # 04:30 Paris
        (3, 59, True),  # 05:59 Paris
        (4, 0, False),  # 06:00 Paris: the night ends
    ],
)
def test_night_first_access_boundaries(utc_hour: int, utc_minute: int, night: bool) -> None:
    at = datetime(2026, 6, 15, utc_hour, utc_minute, tzinfo=UTC)
    assert (Rule.NIGHT in flag(access(at), Facts(first_access=True))) is night
    # Not a first access: a night shift caring for a known patient is not flagged.
    assert Rule.NIGHT not in flag(access(at), Facts(first_access=False))


@pytest.mark.parametrize("mode", sorted(rules.EMERGENCY_MODES))
def test_a_night_emergency_is_one_case_not_two(mode: str) -> None:
    # 23:30 Paris: the break-glass act is flagged; the reads that follow it under the
    # emergency mode are the same event, not a second "first access at night".
    night = datetime(2026, 6, 15, 21, 30, tzinfo=UTC)
    act = access(night, action=f"emergency:{mode}", mode=mode)
    assert flag(act, Facts()) == [Rule.EMERGENCY]
    assert flag(access(night, mode=mode), Facts(first_access=True)) == []
    # Other rules still look at those reads.
    assert flag(access(night, mode=mode), Facts(first_access=True, same_surname=True)) == [
        Rule.SAME_SURNAME
    ]


def test_night_uses_paris_winter_time() -> None:
    # January: Paris is UTC+1, so 21:00 UTC is 22:00 Paris.
    assert rules.is_night(datetime(2026, 1, 10, 21, 0, tzinfo=UTC))
    assert not rules.is_night(datetime(2026, 1, 10, 20, 59, tzinfo=UTC))


@pytest.mark.parametrize(
    ("count", "fires"), [(rules.VOLUME_THRESHOLD - 1, False), (rules.VOLUME_THRESHOLD, True)]
)
def test_volume_threshold(count: int, fires: bool) -> None:
    assert (Rule.VOLUME in flag(access(), Facts(unrelated_dossiers=count))) is fires


@pytest.mark.parametrize("mode", sorted(rules.CARE_RELATION))
def test_volume_ignores_care_relations(mode: str) -> None:
    assert Rule.VOLUME not in flag(access(mode=mode), Facts(unrelated_dossiers=50))


def test_every_emergency_act_is_flagged_and_nothing_else_of_an_ordinary_day() -> None:
    for act in sorted(rules.EMERGENCY_ACTS):
        assert flag(access(action=act, mode="bris_de_glace"), Facts()) == [Rule.EMERGENCY]
    assert flag(access(mode="care_team"), Facts()) == []


def test_after_block_and_same_surname() -> None:
    assert flag(access(), Facts(colleague_blocked=True)) == [Rule.AFTER_BLOCK]
    assert flag(access(), Facts(first_access=True, same_surname=True)) == [Rule.SAME_SURNAME]
    assert flag(access(), Facts(first_access=False, same_surname=True)) == []


def test_blocked_attempt_only_on_a_block() -> None:
    refused = access(outcome="denied", reason="professional_blocked", mode="none")
    assert flag(refused, Facts()) == [Rule.BLOCKED_ATTEMPT]
    other = access(outcome="denied", reason="no_authorisation", mode="none")
    assert flag(other, Facts()) == []


@pytest.mark.parametrize("kind", ["patient", "insurer", "privacy_officer"])
def test_only_professionals_are_flagged(kind: str) -> None:
    assert flag(access(kind=kind, action="emergency:bris_de_glace"), Facts(first_access=True)) == []


@pytest.mark.parametrize(
    ("a", "b", "same"),
    [
        ("Lefèvre-Durand", "LEFEVRE DURAND", True),
        ("Dupont", "DUPONT", True),
        ("Dupont", "Dupond", False),
        ("", "", False),
    ],
)
def test_surnames_are_folded(a: str, b: str, same: bool) -> None:
    assert (bool(fold_name(a)) and fold_name(a) == fold_name(b)) is same
