"""Who may search the professionals directory (server/policy/directory.py), as a table
over the full product of callers and purposes: every listed case is allowed as listed,
everything unlisted is denied, and every reason appears."""

from __future__ import annotations

import pytest

from server.policy import Actor, ActorKind, default_matrix_path, load_matrix
from server.policy.directory import (
    DirectoryAction,
    DirectoryCaller,
    DirectoryPurpose,
    DirectoryReason,
    decide_directory,
)

MATRIX = load_matrix(default_matrix_path())
R = DirectoryReason


def _pro(profession: str) -> Actor:
    return Actor(ActorKind.PROFESSIONAL, 100, profession=profession, structure="750000001")


CALLERS: dict[str, DirectoryCaller] = {
    "patient": DirectoryCaller(Actor(ActorKind.PATIENT, 1)),
    "patient_at_kiosk": DirectoryCaller(Actor(ActorKind.PATIENT, 1), kiosk=True),
    "gp": DirectoryCaller(_pro("medecin_generaliste"), kiosk=True),
    "pharmacien": DirectoryCaller(_pro("pharmacien")),
    "admissions": DirectoryCaller(_pro("admissions"), kiosk=True, opening_dossier=True),
    "medecin_travail": DirectoryCaller(_pro("medecin_travail"), kiosk=True),
    "unknown_profession": DirectoryCaller(_pro("osteopathe")),
    "insurer": DirectoryCaller(Actor(ActorKind.INSURER, 0)),
    "mutuelle": DirectoryCaller(Actor(ActorKind.THIRD_PARTY, 0), kiosk=True),
    "officer": DirectoryCaller(
        Actor(ActorKind.PRIVACY_OFFICER, 5, structure="750000001"), kiosk=True
    ),
    "kiosk_opening": DirectoryCaller(None, kiosk=True, opening_dossier=True),
    "kiosk_idle": DirectoryCaller(None, kiosk=True),
    "nobody_opening": DirectoryCaller(None, opening_dossier=True),
}

ALLOWED: dict[str, DirectoryReason] = {
    "patient": R.PATIENT_SIGNED_IN,
    "patient_at_kiosk": R.PATIENT_SIGNED_IN,
    "gp": R.ELIGIBLE_PROFESSIONAL,
    "pharmacien": R.ELIGIBLE_PROFESSIONAL,
    "admissions": R.ELIGIBLE_PROFESSIONAL,
    "kiosk_opening": R.KIOSK_DOSSIER_OPENING,
}
DENIED: dict[str, DirectoryReason] = {
    "medecin_travail": R.NOT_AN_ELIGIBLE_PROFESSION,
    "unknown_profession": R.NOT_AN_ELIGIBLE_PROFESSION,
    "insurer": R.FORBIDDEN_ACTOR,
    "mutuelle": R.FORBIDDEN_ACTOR,
    "officer": R.FORBIDDEN_ACTOR,
    "kiosk_idle": R.KIOSK_NOT_OPENING,
    "nobody_opening": R.NO_CALLER,
}


@pytest.mark.parametrize("purpose", list(DirectoryPurpose), ids=str)
@pytest.mark.parametrize("caller", list(CALLERS))
def test_full_product_matches_the_table(caller: str, purpose: DirectoryPurpose) -> None:
    decision = decide_directory(CALLERS[caller], DirectoryAction.SEARCH, purpose, MATRIX)
    if caller in ALLOWED:
        assert (decision.allowed, decision.reason) == (True, ALLOWED[caller])
        assert decision.professions
    else:
        assert (decision.allowed, decision.reason) == (False, DENIED[caller])
        assert decision.professions == frozenset()


def test_every_caller_is_listed_once_and_every_reason_appears() -> None:
    assert set(ALLOWED) | set(DENIED) == set(CALLERS)
    assert not set(ALLOWED) & set(DENIED)
    assert set(ALLOWED.values()) | set(DENIED.values()) == set(DirectoryReason)


def test_the_purpose_says_which_professions_may_be_answered() -> None:
    caller = CALLERS["patient"]
    mt = decide_directory(caller, DirectoryAction.SEARCH, DirectoryPurpose.MEDECIN_TRAITANT, MATRIX)
    team = decide_directory(caller, DirectoryAction.SEARCH, DirectoryPurpose.CARE_TEAM, MATRIX)
    # Only a physician may be médecin traitant (matrix key `physician`).
    assert mt.professions == {
        "medecin_generaliste",
        "medecin_specialiste",
        "urgentiste",
        "regulateur_samu",
    }
    assert mt.professions == MATRIX.may_be_medecin_traitant()
    assert "infirmier" in team.professions
    # Occupational medicine is excluded by law: never offered, whatever the purpose.
    assert "medecin_travail" not in team.professions | mt.professions
    assert team.professions == MATRIX.eligible()
