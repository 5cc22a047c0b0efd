"""A signed receipt worded by the kiosk (kiosk/receipt_words.py), in French and English,
and the history's « Voir le reçu » (kiosk/history_words.py)."""

from __future__ import annotations

from typing import Any

import pytest

from kiosk import history_words, receipt_words

PRO = {"national_id": "810003123451", "name": "Claire MOREAU", "profession": "pharmacien"}
BASE: dict[str, Any] = {
    "format": "dmp-kiosk-receipt/3",
    "receipt_id": "uW609VbxwxSM7ALNQHw70Q",
    "issued_at": "2026-11-28T12:43:31.041971Z",
    "dossier": {"id": 1, "patient": {"first_names": "Marie", "birth_name": "DURAND"}},
    "actor": {"kind": "patient", "id": 1, "name": "Marie DURAND"},
    "terminal": "borne-lyon-3",
    "mode": "patient",
    "log_checkpoint": "o\n3\nAAAA\n\n— o sig\n",
}
# (action, change, a French line, an English line)
CASES = [
    ("access:block", {"blocked": PRO},
     "Claire MOREAU (pharmacien) ne peut plus accéder à votre dossier",
     "Claire MOREAU (pharmacist) can no longer access your record"),
    ("access:grant", {"unblocked": PRO},
     "Claire MOREAU (pharmacien) n'est plus bloqué",
     "Claire MOREAU (pharmacist) is no longer blocked"),
    ("emergency:settings",
     {"emergency": {"previous": {}, "now": {"bris_de_glace": False, "centre_15": True}}},
     "Bris de glace (un professionnel en urgence) : refusé",
     "SAMU emergency regulator (centre 15): allowed"),
    ("medecin_traitant:set", {"medecin_traitant": {"previous": None, "designated": PRO}},
     "Médecin traitant : Claire MOREAU (pharmacien)",
     "Attending doctor: Claire MOREAU (pharmacist)"),
    ("care_team:join", {"care_team_added": {"structure": "920000049", "admission": True}},
     "Ajouté à l'équipe de soins : établissement 920000049",
     "Added to the care team: hospital 920000049"),
    ("document:mask", {"visibility": {"document": "x", "flags": {}, "now": {"masked_ps": True}}},
     "Document masqué aux professionnels", "Document hidden from professionals"),
    ("dossier:close", {"status": "closed", "deletion_requested": True},
     "Suppression demandée (sous 3 mois)", "Deletion requested (within 3 months)"),
    ("dossier:create", {"consent": {"given": True}}, "Votre accord pour ouvrir le dossier",
     "Your consent to open the record"),
    ("access:grant",
     {"consent": {"professional": PRO, "in_person": True},
      "copresence": {"patient_card": {"serial": "0a"}, "professional_card": {"serial": "0b"}}},
     "Signé en personne par la carte du patient (n° 0a) et par la carte du professionnel (n° 0b)",
     "Signed in person by the patient's card (no. 0a) and the professional's card (no. 0b)"),
]  # fmt: skip


@pytest.mark.parametrize(("action", "change", "fr", "en"), CASES)
def test_each_change_is_said_in_both_languages(
    action: str, change: dict[str, Any], fr: str, en: str
) -> None:
    content = {**BASE, "action": action, "change": change}
    french, english = receipt_words.word(content, "fr"), receipt_words.word(content, "en")
    assert fr in french.lines
    assert en in english.lines
    assert french.title == receipt_words.TITLES[action][0]
    assert english.title == receipt_words.TITLES[action][1]
    assert french.receipt_id == BASE["receipt_id"]
    assert french.checkpoint == BASE["log_checkpoint"]


def test_the_facts_say_for_whom_by_whom_when_where_and_how() -> None:
    worded = receipt_words.word({**BASE, "action": "access:block", "change": {}}, "fr")
    assert dict(worded.facts) == {
        "Pour": "Marie DURAND",
        "Par": "Marie DURAND",
        "Quand": "samedi 28 novembre 2026 à 13:43",  # Paris time
        "Borne": "borne-lyon-3",
        "Mode": "par vous-même",
    }
    english = receipt_words.word({**BASE, "action": "x:y", "terminal": None}, "en")
    assert dict(english.facts)["When"] == "Saturday 28 November 2026, 13:43"
    assert dict(english.facts)["Terminal"] == "none"
    assert english.title == "x:y"  # an action it does not know is shown, never dropped


def test_each_receipt_bearing_action_has_a_title() -> None:
    # docs/receipts.md, "What gets a receipt".
    actions = {
        "dossier:create", "medecin_traitant:set", "care_team:manage", "care_team:join",
        "access:grant", "access:block", "emergency:settings", "document:mask",
        "document:patient_visibility", "document:rep_visibility", "dossier:close",
        "dossier:reopen",
    }  # fmt: skip
    assert actions <= set(receipt_words.TITLES)


def test_history_lines_keep_their_receipts_even_when_folded() -> None:
    entries = [
        {"at": "2026-11-28T12:45:00+00:00", "action": "access:block", "own": True,
         "outcome": "allowed", "receipt_id": "B" * 22, "actor": {"name": "Marie DURAND"}},
        {"at": "2026-11-28T12:44:00+00:00", "action": "dossier:read", "own": True,
         "outcome": "allowed", "receipt_id": None, "actor": {"name": "Marie DURAND"}},
        {"at": "2026-11-28T09:00:00+00:00", "action": "care_team:join", "own": False,
         "outcome": "allowed", "mode": "admissions", "receipt_id": "C" * 22,
         "actor": {"name": "Admissions"}},
    ]  # fmt: skip
    (day,) = history_words.days(entries, "fr")
    by_text = {line.text: line.receipts for line in day.lines}
    assert by_text["Vous avez consulté votre dossier et bloqué un professionnel."] == ["B" * 22]
    assert ["C" * 22] in by_text.values()
