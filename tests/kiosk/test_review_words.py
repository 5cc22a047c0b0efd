"""A flagged access's review on the patient's history line (kiosk/history_words.py)."""

from __future__ import annotations

import pytest

from kiosk import history_words
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
