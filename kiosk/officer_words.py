"""A flagged access as the establishment's privacy officer reads it (docs/alerts.md).

The patient's history (kiosk/history_words.py) speaks to the patient: "a ouvert votre
dossier". The officer is not the patient: the same act is said in the third person, with
the patient's name ("a ouvert le dossier de Lucia SANTONI"), or "cette personne" when the
server gives no name; the mode is said once, and not again after an emergency act that
already says it.
"""

from __future__ import annotations

from typing import Any

from kiosk import history_words
from kiosk.history_words import de

# Someone the officer has no name for (French, English).
NO_NAME = ("cette personne", "this person")

# The patient's words -> the officer's, longest first; "{of}" is "de <name>" elided
# ("d'Anne MARTIN"), "{name}" the name alone.
FRENCH: tuple[tuple[str, str], ...] = (
    ("de votre dossier", "du dossier {of}"),
    ("à votre dossier", "au dossier {of}"),
    ("votre dossier", "le dossier {of}"),
    ("de vos documents", "des documents {of}"),
    ("vos documents", "les documents {of}"),
    ("votre équipe de soins", "l'équipe de soins {of}"),
    ("votre admission", "l'admission {of}"),
    ("votre médecin traitant", "le médecin traitant {of}"),
    ("votre identité", "son identité"),
    ("vos représentants légaux", "les représentants légaux {of}"),
    ("vos délégations", "les délégations {of}"),
    ("votre représentant légal", "représentant légal {of}"),
    ("votre consentement", "le consentement {of}"),
    ("pour vous", "pour {name}"),
)
ENGLISH: tuple[tuple[str, str], ...] = (
    ("whether you can", "whether {name} can"),
    ("your ", "{name}'s "),
)


def third_person(text: str, name: str | None, lang: str) -> str:
    """`text`, said to the patient, said of them to someone else."""
    en = lang == "en"
    who = name or NO_NAME[1 if en else 0]
    for yours, theirs in ENGLISH if en else FRENCH:
        text = text.replace(yours, theirs.format(of=de(who), name=who))
    return text


def act(entry: dict[str, Any], patient: str | None, lang: str) -> str:
    """What the professional did, after their name: "a ouvert le dossier de Lucia SANTONI
    en urgence (bris de glace)", the mode said once."""
    en = lang == "en"
    action = str(entry.get("action", ""))
    fr_past, fr_inf, en_past, en_inf = history_words.forms(entry)
    if entry.get("outcome") == "denied":  # an attempt, not an act ("— refusé" follows)
        tried = f"tried to {en_inf}" if en else f"a tenté {de(fr_inf)}"
        return third_person(tried, patient, lang)
    text = third_person(en_past if en else fr_past, patient, lang)
    mode = history_words.MODES.get(str(entry.get("mode")))
    if mode and action not in history_words.EMERGENCY_ACTIONS:
        text += " " + third_person(mode[1 if en else 0], patient, lang)
    return text
