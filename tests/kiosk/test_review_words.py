"""A flagged access's review on the patient's history line (kiosk/history_words.py)."""

from __future__ import annotations

import re

import pytest

from kiosk import history_words, officer_words
from tests.kiosk.test_history_words import line


@pytest.mark.parametrize(
    ("status", "fr", "en"),
    [
        ("a_traiter", "il sera examiné", "will review it"),
        ("en_cours", "examen en cours", "review in progress"),
        ("justifiee", "examiné : justifié", "reviewed: justified"),
        ("non_justifiee", "examiné : non justifié", "reviewed: not justified"),
    ],
)
def test_the_review_is_worded_in_both_languages(status: str, fr: str, en: str) -> None:
    entry = line("2026-11-28T10:00:00+00:00", "dossier:read", review={"status": status})
    [[french]] = [d.lines for d in history_words.days([entry], "fr")]
    [[english]] = [d.lines for d in history_words.days([entry], "en")]
    assert french.review == english.review == status
    assert fr in french.review_text
    assert en in english.review_text


def test_a_reviewed_line_is_never_folded_into_its_neighbours() -> None:
    page = [
        line("2026-11-28T10:02:00+00:00", "document:list"),
        line("2026-11-28T10:01:00+00:00", "document:list", review={"status": "en_cours"}),
        line("2026-11-28T10:00:00+00:00", "document:list"),
    ]
    [day] = history_words.days(page, "fr")
    assert [ln.review for ln in day.lines] == [None, "en_cours", None]


@pytest.mark.parametrize("review", [None, {}, {"status": "inconnu"}, {"status": 3}, "x"])
def test_an_unknown_review_says_nothing(review: object) -> None:
    entry = line("2026-11-28T10:00:00+00:00", "dossier:read", review=review)
    [day] = history_words.days([entry], "fr")
    assert day.lines[0].review is None


# The privacy officer's pages (kiosk/officer_words.py): review #8.
UNCONTRACTED = re.compile(r"\b(de|à) (le|les)\b")  # "du", "des", "au", "aux"
YOU = re.compile(r"\b(vous|votre|vos|you|your)\b", re.IGNORECASE)
EVERY_FORM = (
    list(history_words.ACTIONS.items())
    + [(f"{a}:{op}", f) for (a, op), f in history_words.OPERATIONS.items()]
    + [("search", history_words.SEARCH), ("summary", history_words.SUMMARY)]
)


@pytest.mark.parametrize(("key", "forms"), EVERY_FORM, ids=[k for k, _ in EVERY_FORM])
@pytest.mark.parametrize("name", ["Lucia SANTONI", "Anne MARTIN", None])
def test_the_officer_reads_every_act_in_the_third_person(
    key: str, forms: tuple[str, str, str, str], name: str | None
) -> None:
    for text, lang in ((forms[0], "fr"), (forms[1], "fr"), (forms[2], "en"), (forms[3], "en")):
        said = officer_words.third_person(text, name, lang)
        assert not YOU.search(said), said
        assert not UNCONTRACTED.search(said), said
        if "votre dossier" in text or "your record" in text:
            assert (name or officer_words.NO_NAME[lang == "en"]) in said


@pytest.mark.parametrize("mode", list(history_words.MODES))
def test_every_mode_is_said_of_the_patient_too(mode: str) -> None:
    for lang, words in (("fr", history_words.MODES[mode][0]), ("en", history_words.MODES[mode][1])):
        said = officer_words.third_person(words, "Lucia SANTONI", lang)
        assert not YOU.search(said), said


def test_the_emergency_act_is_said_once_with_the_patients_name() -> None:
    entry = {"action": "emergency:bris_de_glace", "mode": "bris_de_glace", "outcome": "allowed"}
    assert officer_words.act(entry, "Lucia SANTONI", "fr") == (
        "a ouvert le dossier de Lucia SANTONI en urgence (bris de glace)"
    )
    assert officer_words.act(entry, "Lucia SANTONI", "en") == (
        "opened Lucia SANTONI's record in an emergency (break-the-glass)"
    )
    assert officer_words.act(entry, "Anne MARTIN", "fr").startswith(
        "a ouvert le dossier d'Anne MARTIN"
    )
    assert officer_words.act(entry, None, "fr").startswith("a ouvert le dossier de cette personne")


def test_a_mode_and_a_refusal_read_as_the_officer_would_say_them() -> None:
    listing = {"action": "document:list", "mode": "consent", "outcome": "allowed"}
    assert officer_words.act(listing, "Lucia SANTONI", "fr") == (
        "a consulté la liste des documents de Lucia SANTONI avec le consentement de Lucia SANTONI"
    )
    assert officer_words.act(listing, "Lucia SANTONI", "en") == (
        "viewed Lucia SANTONI's list of documents with Lucia SANTONI's consent"
    )
    refused = {"action": "dossier:read", "mode": "none", "outcome": "denied"}
    assert officer_words.act(refused, "Anne MARTIN", "fr") == (
        "a tenté de consulter le résumé du dossier d'Anne MARTIN"
    )
    assert officer_words.act(refused, "Anne MARTIN", "en") == (
        "tried to view Anne MARTIN's record's summary"
    )
