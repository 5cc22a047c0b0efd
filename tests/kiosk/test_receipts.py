"""The printed receipts: what they must say, what they must not, and what they refuse."""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pypdf import PdfReader

from kiosk import receipts
from kiosk.receipts import ConsentChange, ReceiptPerson, consent_receipt, opening_receipt

MARIE = ReceiptPerson(name="Marie DURAND", ins_last4="2538")
# 23:30 UTC on 22 November is 00:30 on the 23rd in Paris (CET, UTC+1).
LATE_EVENING_UTC = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)
KIOSK = "CPAM Lyon 3 — borne 2"
REFERENCE = "R-2026-000123"
CHANGES = (
    ConsentChange("professional_blocked", "Dr Jean Martin"),
    ConsentChange("emergency_access", "refusé"),
    ConsentChange("notification_contact", ""),
)


def pdf_text(pdf: bytes) -> str:
    """The text of every page, whitespace collapsed so line wrapping does not matter."""
    reader = PdfReader(io.BytesIO(pdf))
    return " ".join(" ".join(page.extract_text().split()) for page in reader.pages)


def consent(**overrides: Any) -> bytes:
    args: dict[str, Any] = {
        "person": MARIE,
        "changes": CHANGES,
        "when": LATE_EVENING_UTC,
        "kiosk": KIOSK,
        "reference": REFERENCE,
    }
    args.update(overrides)
    return consent_receipt(**args)


def opening(**overrides: Any) -> bytes:
    args: dict[str, Any] = {
        "person": MARIE,
        "when": LATE_EVENING_UTC,
        "kiosk": "Pharmacie du Centre",
        "opened_by": "Claire Moreau, pharmacienne",
        "reference": REFERENCE,
    }
    args.update(overrides)
    return opening_receipt(**args)


def test_consent_receipt_in_french() -> None:
    text = pdf_text(consent())

    assert "Reçu de modification de consentement" in text
    assert "Marie DURAND" in text
    assert "INS •••• 2538" in text
    assert "Date : 23/11/2026 à 00:30" in text
    assert f"Borne : {KIOSK}" in text
    assert f"Référence : {REFERENCE}" in text
    assert "Professionnel bloqué : Dr Jean Martin" in text
    assert "Accès en cas d’urgence (bris de glace) : refusé" in text
    # An empty detail leaves the label alone, without a dangling colon.
    assert "• Coordonnées pour les notifications Vous pouvez consulter" in text
    assert "Coordonnées pour les notifications :" not in text
    assert "l’historique complet des accès à votre dossier" in text
    assert "aucune information médicale" in text


@pytest.mark.parametrize("what", receipts.CHANGE_KINDS)
def test_every_change_has_its_french_label_and_detail(what: str) -> None:
    text = pdf_text(consent(changes=[ConsentChange(what, "détail 42")]))

    assert f"{receipts._CHANGE_LABELS['fr'][what]} : détail 42" in text


def test_french_receipt_leaks_no_english_and_no_unused_label() -> None:
    text = pdf_text(consent())

    for english in receipts._CHANGE_LABELS["en"].values():
        assert english not in text
    for key in ("consent_title", "changes_intro", "history", "keep", "kiosk", "reference"):
        assert receipts._TEXT["en"][key] not in text
    unused = set(receipts.CHANGE_KINDS) - {change.what for change in CHANGES}
    for what in unused:
        assert receipts._CHANGE_LABELS["fr"][what] not in text
    assert "2026-11-22" not in text  # neither the UTC date nor an ISO timestamp
    assert "22/11/2026" not in text


def test_closing_the_dossier_explains_what_follows() -> None:
    closed = pdf_text(consent(changes=[ConsentChange("dossier_closed", "")]))
    other = pdf_text(consent())

    assert "Fermeture du dossier" in closed
    assert "plus aucun professionnel ne peut y accéder" in closed
    assert "plus aucun professionnel" not in other


def test_consent_receipt_in_english() -> None:
    text = pdf_text(consent(lang="en"))

    assert "Consent change receipt" in text
    assert "INS •••• 2538" in text
    assert "Date: 23 Nov 2026, 00:30" in text
    assert f"Kiosk: {KIOSK}" in text
    assert f"Reference: {REFERENCE}" in text
    assert "Professional blocked: Dr Jean Martin" in text
    # The detail is printed as the caller localised it.
    assert "Emergency access (break the glass): refusé" in text
    assert "full history of access to your record at any time" in text
    for french in receipts._CHANGE_LABELS["fr"].values():
        assert french not in text
    assert "Reçu" not in text


def test_opening_receipt_in_french() -> None:
    text = pdf_text(opening())

    assert "Votre dossier médical partagé a été ouvert" in text
    assert "Marie DURAND" in text
    assert "INS •••• 2538" in text
    assert "Date : 23/11/2026 à 00:30" in text
    assert "Ouvert par : Claire Moreau, pharmacienne" in text
    assert "Borne : Pharmacie du Centre" in text
    assert f"Référence : {REFERENCE}" in text
    assert "ouvert avec votre accord" in text
    # How to sign in: at a reception kiosk with the card and a sent code, or at home.
    assert "Comment vous connecter" in text
    assert "borne d’accueil de l’Assurance Maladie" in text
    assert "carte Vitale" in text
    assert "code à usage unique reçu par SMS ou par e-mail" in text
    assert "Chez vous" in text
    assert "votre INS et votre mot de passe, puis le code à usage unique" in text
    # What the patient can do, closing included.
    assert "voir qui a consulté votre dossier" in text
    assert "bloquer un professionnel" in text
    assert "masquer un document" in text
    assert "fermer votre dossier à tout moment : à une borne, deux gestes suffisent" in text
    assert "l’historique complet des accès à votre dossier" in text
    for english in ("How to sign in", "one-time code", "Opened by", "Kiosk"):
        assert english not in text


def test_opening_receipt_in_english() -> None:
    text = pdf_text(opening(lang="en", opened_by="Claire Moreau, pharmacist"))

    assert "Your shared medical record has been opened" in text
    assert "Date: 23 Nov 2026, 00:30" in text
    assert "Opened by: Claire Moreau, pharmacist" in text
    assert "Kiosk: Pharmacie du Centre" in text
    assert "How to sign in" in text
    assert "one-time code sent to you by text message or e-mail" in text
    assert "your INS and your password, then the one-time code" in text
    assert "close your record at any time: at a kiosk, it takes two taps" in text
    assert "Comment vous connecter" not in text


@pytest.mark.parametrize(
    ("when", "fr", "en"),
    [
        # Winter time, UTC+1: crosses midnight into the next day.
        (datetime(2026, 11, 22, 23, 30, tzinfo=UTC), "23/11/2026 à 00:30", "23 Nov 2026, 00:30"),
        # Summer time, UTC+2: crosses midnight into the next month.
        (datetime(2026, 6, 30, 22, 5, tzinfo=UTC), "01/07/2026 à 00:05", "1 Jul 2026, 00:05"),
        # Crosses into the next year.
        (datetime(2026, 12, 31, 23, 0, tzinfo=UTC), "01/01/2027 à 00:00", "1 Jan 2027, 00:00"),
        # Another offset is converted too: 09:05 in New York (UTC-5) is 15:05 in Paris.
        (
            datetime(2026, 11, 22, 9, 5, tzinfo=timezone(timedelta(hours=-5))),
            "22/11/2026 à 15:05",
            "22 Nov 2026, 15:05",
        ),
    ],
)
def test_dates_are_printed_in_paris_time(when: datetime, fr: str, en: str) -> None:
    assert f"Date : {fr}" in pdf_text(consent(when=when))
    assert f"Date: {en}" in pdf_text(consent(when=when, lang="en"))
    assert f"Date : {fr}" in pdf_text(opening(when=when))


def test_pdf_is_a4_with_metadata() -> None:
    for pdf, title in (
        (consent(), "Reçu de modification de consentement"),
        (opening(lang="en"), "Your shared medical record has been opened"),
    ):
        reader = PdfReader(io.BytesIO(pdf))
        box = reader.pages[0].mediabox
        assert (round(float(box.width)), round(float(box.height))) == (595, 842)
        assert reader.metadata is not None
        assert reader.metadata.title == title
        assert reader.metadata.author == "dmp-kiosk"
        # The metadata names no one: a receipt file may travel without its content.
        assert "DURAND" not in str(dict(reader.metadata))


def test_same_input_gives_same_bytes() -> None:
    first = consent()
    # Whatever was printed in between (other glyphs in the embedded font subsets).
    opening(person=ReceiptPerson(name="Łukasz ŞAHİN", ins_last4="0001"), lang="en")

    assert consent() == first
    assert opening() == opening()
    assert opening(lang="en") == opening(lang="en")


def test_body_text_is_readable() -> None:
    assert receipts._BODY.fontSize >= 11
    assert receipts._BULLET.fontSize >= 11


@pytest.mark.parametrize(
    "overrides",
    [
        {"reference": "R-2026-000124"},
        {"kiosk": "CPAM Lyon 3 — borne 3"},
        {"when": LATE_EVENING_UTC + timedelta(minutes=1)},
        {"person": replace(MARIE, ins_last4="2539")},
        {"person": replace(MARIE, name="Marie DURANT")},
        {"changes": CHANGES[:1]},
        {"changes": (*CHANGES[:2], ConsentChange("notification_contact", "e-mail"))},
        {"lang": "en"},
    ],
)
def test_different_input_gives_different_bytes(overrides: dict[str, Any]) -> None:
    assert consent(**overrides) != consent()


def test_opening_receipt_differs_with_who_opened_it() -> None:
    assert opening(opened_by="Accueil, Hôpital Nord") != opening()


@pytest.mark.parametrize(
    "name",
    [
        "<b>Marie</b> & <i>Co</i>",
        '<font size="40">DURAND</font>',
        "Jean &amp; Marie <br/> O'Brien",
        "<para>x</para>",
    ],
)
def test_markup_in_any_field_prints_literally(name: str) -> None:
    person = ReceiptPerson(name=name, ins_last4="2538")
    change = ConsentChange("attending_doctor", name)

    consent_text = pdf_text(consent(person=person, changes=[change], kiosk=name, reference=name))
    opening_text = pdf_text(opening(person=person, kiosk=name, opened_by=name, reference=name))

    collapsed = " ".join(name.split())
    assert consent_text.count(collapsed) == 4  # name, detail, kiosk, reference
    assert opening_text.count(collapsed) == 4  # name, opened by, kiosk, reference


def test_names_beyond_latin_1_print() -> None:
    person = ReceiptPerson(name="Łukasz ŞAHİN-ŒUVRE", ins_last4="0007")

    assert "Łukasz ŞAHİN-ŒUVRE" in pdf_text(opening(person=person))


def test_many_changes_flow_onto_more_pages() -> None:
    changes = [ConsentChange("document_masked", f"document du {n}/01/2026") for n in range(60)]

    pdf = consent(changes=changes)

    assert len(PdfReader(io.BytesIO(pdf)).pages) > 1
    assert "document du 59/01/2026" in pdf_text(pdf)


def test_both_languages_have_the_same_strings() -> None:
    assert receipts._TEXT.keys() == receipts._CHANGE_LABELS.keys() == set(receipts.LANGUAGES)
    assert receipts._TEXT["fr"].keys() == receipts._TEXT["en"].keys()
    for labels in receipts._CHANGE_LABELS.values():
        assert tuple(labels) == receipts.CHANGE_KINDS


@pytest.mark.parametrize("ins_last4", ["253", "25388", "", "25a8", " 253", "２５３８", "٢٥٣٨"])
def test_ins_last4_must_be_four_digits(ins_last4: str) -> None:
    with pytest.raises(ValueError, match="ins_last4"):
        ReceiptPerson(name="Marie DURAND", ins_last4=ins_last4)


def test_ins_last4_is_checked_again_when_printing() -> None:
    forged = ReceiptPerson(name="Marie DURAND", ins_last4="2538")
    object.__setattr__(forged, "ins_last4", "255081416802538")

    with pytest.raises(ValueError, match="ins_last4"):
        consent(person=forged)
    with pytest.raises(ValueError, match="ins_last4"):
        opening(person=forged)


def test_unknown_change_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown consent change 'document_title'"):
        ConsentChange("document_title", "Compte rendu de consultation")

    forged = ConsentChange("dossier_opened", "")
    object.__setattr__(forged, "what", "category_of_care")
    with pytest.raises(ValueError, match="unknown consent change"):
        consent(changes=[forged])


@pytest.mark.parametrize(
    ("make", "overrides", "message"),
    [
        (consent, {"changes": []}, "at least one change"),
        (consent, {"changes": ()}, "at least one change"),
        (consent, {"lang": "de"}, "unknown language 'de'"),
        (consent, {"lang": "FR"}, "unknown language"),
        (opening, {"lang": ""}, "unknown language"),
        (consent, {"when": datetime(2026, 11, 22, 14, 5)}, "timezone-aware"),
        (opening, {"when": datetime(2026, 11, 22, 14, 5)}, "timezone-aware"),
        (consent, {"kiosk": " "}, "kiosk is empty"),
        (opening, {"reference": ""}, "reference is empty"),
        (opening, {"opened_by": "  "}, "opened_by is empty"),
    ],
)
def test_bad_input_is_refused(make: Any, overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make(**overrides)


def test_empty_name_is_refused() -> None:
    with pytest.raises(ValueError, match="name is empty"):
        ReceiptPerson(name=" ", ins_last4="2538")
