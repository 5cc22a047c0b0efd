"""Review #11: what a newcomer reads on the kiosk names no internal code. The demo panel
labels professional cards with the profession's name (dmp/demo.py), and a refusal of one
of the kiosk's fields names the field by its label, not by its API name
(kiosk/field_words.py, through kiosk/client.py's ApiResponse.message)."""

from __future__ import annotations

import re

import pytest
from flask import Flask, g

from cardreader.emulator import cardfile
from cardreader.identity import PROFESSIONS
from dmp import demo
from kiosk.client import ApiResponse


def test_every_demo_card_is_labelled_without_its_profession_code(
    prepared_pki: demo.PreparedPki,
) -> None:
    seen = set()
    for path in prepared_pki.cards:
        card = cardfile.load(path)
        for lang in ("fr", "en"):
            label = demo.card_label(card, lang)
            assert not re.search(r"\w_\w", label), label  # no code such as medecin_generaliste
            assert not any(f"({code})" in label for code in PROFESSIONS), label
        seen.add(demo.card_label(card, "fr"))
        seen.add(demo.card_label(card, "en"))
    assert "Carte CPS · Sophie LAMBERT (Délégué à la protection des données)" in seen
    assert "Carte CPS · Sophie LAMBERT (Data protection officer)" in seen
    assert "Carte CPS · Jean DUPONT (Médecin généraliste)" in seen
    assert "Carte CPS · Jean DUPONT (General practitioner)" in seen


@pytest.fixture
def page_in() -> Flask:
    return Flask(__name__)


def _said(app: Flask, lang: str, body: dict[str, str]) -> str:
    with app.test_request_context():
        g.lang = lang
        return ApiResponse(422, body).message


@pytest.mark.parametrize(
    ("body", "fr", "en"),
    [
        (
            {"reason": "comment_invalid", "message": "« comment » contient un caractère interdit."},
            "« Commentaire » contient un caractère qui n'est pas accepté : retirez-le.",
            "“Comment” contains a character that is not accepted: remove it.",
        ),
        (
            {"reason": "before_invalid", "message": "« before » doit être un entier positif."},
            "« Page de l'historique » n'est pas valide : vérifiez la saisie.",
            "“History page” is not valid: check what you typed.",
        ),
        (
            {"reason": "until_invalid", "message": "Le champ « until » est invalide."},
            "« Jusqu'au » n'est pas valide : vérifiez la saisie.",
            "“Until” is not valid: check what you typed.",
        ),
        (
            {"reason": "birth_name_invalid", "message": "Le champ « birth_name » est invalide."},
            "« Nom de naissance » n'est pas valide : vérifiez la saisie.",
            "“Birth name” is not valid: check what you typed.",
        ),
        (
            {"reason": "categories_invalid", "message": "Le champ « categories » est invalide."},
            "« Catégories de documents » n'est pas valide : vérifiez la saisie.",
            "“Document categories” is not valid: check what you typed.",
        ),
    ],
)
def test_a_field_refusal_names_the_field_as_the_page_does(
    page_in: Flask, body: dict[str, str], fr: str, en: str
) -> None:
    assert _said(page_in, "fr", body) == fr
    assert _said(page_in, "en", body) == en


def test_other_refusals_keep_the_servers_words(page_in: Flask) -> None:
    for body in (
        {"reason": "dossier_closed", "message": "Le dossier est fermé."},
        {"reason": "wibble_invalid", "message": "Le champ « wibble » est invalide."},
        {"reason": "invalid", "message": "Requête invalide."},
    ):
        assert _said(page_in, "fr", body) == body["message"]
    # Outside a page (a background thread), the server's words as they are.
    body = {"reason": "comment_invalid", "message": "« comment » contient un caractère interdit."}
    assert ApiResponse(422, body).message == body["message"]
