"""The rules that flag an access for a human review (docs/alerts.md says why each).

Pure: the scanner (server/alerts/scan.py) loads, for one trace entry, the few facts the
rules need (`Facts`); `flag` answers which rules fire. No I/O, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")

# What counts as opening a dossier: finding it, reading its summary, its list, a document.
ACCESSES = frozenset({"dossier:lookup", "dossier:read", "document:list", "document:read"})
EMERGENCY_ACTS = frozenset({"emergency:bris_de_glace", "emergency:centre_15"})
# Modes that are a care relation: the patient's team, their doctor, a document's author.
CARE_RELATION = frozenset({"care_team", "medecin_traitant", "author"})
# Modes of the accesses that follow an emergency act: the act itself is always a case, so
# the night rule does not open a second one for the same emergency.
EMERGENCY_MODES = frozenset({"bris_de_glace", "centre_15"})

# Night: 22:00 to 06:00, Paris time (start included, end excluded).
NIGHT_START = time(22, 0)
NIGHT_END = time(6, 0)
# Volume: this many distinct dossiers opened without a care relation within the window.
VOLUME_WINDOW = timedelta(hours=1)
VOLUME_THRESHOLD = 10
# After a block: an access by a colleague of the blocked professional within this delay.
AFTER_BLOCK_WINDOW = timedelta(days=7)


class Rule(StrEnum):
    EMERGENCY = "emergency_access"
    VOLUME = "unrelated_volume"
    NIGHT = "night_first_access"
    AFTER_BLOCK = "after_block"
    SAME_SURNAME = "same_surname"
    BLOCKED_ATTEMPT = "blocked_attempt"


@dataclass(frozen=True, slots=True)
class Access:
    """One trace entry, as the rules see it."""

    at: datetime
    actor_kind: str
    action: str
    mode: str
    outcome: str
    reason: str


@dataclass(frozen=True, slots=True)
class Facts:
    """What the trace and the dossier say around the entry (loaded by the scanner)."""

    first_access: bool = False  # no earlier access by this professional to this dossier
    # Distinct dossiers this professional opened without a care relation in the window
    # ending at this entry, this one included; 0 when this entry is not the first such
    # access to this dossier in the window (each dossier counts, and is flagged, once).
    unrelated_dossiers: int = 0
    colleague_blocked: bool = False  # a professional of the same structure blocked lately
    same_surname: bool = False  # the professional's last name is one of the patient's


def is_night(at: datetime) -> bool:
    local = at.astimezone(PARIS).time()
    return local >= NIGHT_START or local < NIGHT_END


def is_unrelated_access(access: Access) -> bool:
    return (
        access.actor_kind == "professional"
        and access.outcome == "allowed"
        and access.action in ACCESSES
        and access.mode not in CARE_RELATION
    )


def flag(access: Access, facts: Facts) -> list[Rule]:
    """The rules that fire on this entry, in a fixed order; empty: nothing to review."""
    if access.actor_kind != "professional":
        return []
    fired: list[Rule] = []
    if access.outcome == "denied":
        if access.action in ACCESSES and access.reason == "professional_blocked":
            fired.append(Rule.BLOCKED_ATTEMPT)
        return fired
    if access.action in EMERGENCY_ACTS:
        fired.append(Rule.EMERGENCY)
    if access.action not in ACCESSES:
        return fired
    if is_unrelated_access(access) and facts.unrelated_dossiers >= VOLUME_THRESHOLD:
        fired.append(Rule.VOLUME)
    if facts.first_access and is_night(access.at) and access.mode not in EMERGENCY_MODES:
        fired.append(Rule.NIGHT)
    if facts.colleague_blocked:
        fired.append(Rule.AFTER_BLOCK)
    if facts.first_access and facts.same_surname:
        fired.append(Rule.SAME_SURNAME)
    return fired
