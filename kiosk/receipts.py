"""PDF receipts the kiosk prints for the patient: consent changes and a dossier's opening.

Pure rendering: values in, PDF bytes out, no I/O and no clock (the caller passes `when`).
A receipt is left in a printer tray and carried in a pocket, so it carries no health
content (no document title, no category of care) and only the last four digits of the
INS: it says what the patient decided and how to act on the dossier, nothing more.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Final
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

_PARIS: Final = ZoneInfo("Europe/Paris")
LANGUAGES: Final = ("fr", "en")
CHANGE_KINDS: Final = (
    "dossier_opened",
    "emergency_access",
    "emergency_regulator",
    "professional_blocked",
    "professional_unblocked",
    "document_masked",
    "document_unmasked",
    "attending_doctor",
    "notification_contact",
    "dossier_closed",
)

_INS_LAST4: Final = re.compile(r"[0-9]{4}")
_SIGNIN_KEYS: Final = ("signin_kiosk", "signin_home")
_CONTROL_KEYS: Final = (
    "control_history",
    "control_block",
    "control_mask",
    "control_emergency",
    "control_close",
)
_EN_MONTHS: Final = (
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
)  # fmt: skip

# Bitstream Vera ships inside reportlab: it covers "•" and Latin names beyond WinAnsi
# (Ł, Ş, …) and, being embedded with a ToUnicode map, its text can be read back.
_FONT: Final = "DmpReceipt"
_FONT_BOLD: Final = "DmpReceipt-Bold"
_BODY_SIZE: Final = 11.5
_TITLE_SIZE: Final = 18
_HEADING_SIZE: Final = 13.5
_MARGIN: Final = 20 * mm
_AUTHOR: Final = "dmp-kiosk"

_TEXT: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "consent_title": "Reçu de modification de consentement",
        "opening_title": "Votre dossier médical partagé a été ouvert",
        "ins": "INS",
        "date": "Date",
        "kiosk": "Borne",
        "reference": "Référence",
        "opened_by": "Ouvert par",
        "sep": " : ",  # French puts a space before the colon
        "changes_intro": "Vous avez fait les choix suivants :",
        "closed_note": (
            "Votre dossier est fermé : plus aucun professionnel ne peut y accéder. Il est "
            "conservé 10 ans, puis supprimé. Vous pouvez le rouvrir, ou demander sa "
            "suppression dans les 3 mois."
        ),
        "consented": "Ce dossier a été ouvert avec votre accord.",
        "signin_heading": "Comment vous connecter",
        "signin_kiosk": (
            "À une borne d’accueil de l’Assurance Maladie : insérez votre carte Vitale, "
            "puis saisissez le code à usage unique reçu par SMS ou par e-mail."
        ),
        "signin_home": (
            "Chez vous, sur Internet : saisissez votre INS et votre mot de passe, puis le "
            "code à usage unique."
        ),
        "control_heading": "Vous gardez la main",
        "control_intro": "Une fois connecté, à une borne ou chez vous, vous pouvez :",
        "control_history": "voir qui a consulté votre dossier, quand et pourquoi ;",
        "control_block": (
            "bloquer un professionnel (sauf votre médecin traitant) : il ne pourra plus "
            "accéder à votre dossier ;"
        ),
        "control_mask": (
            "masquer un document aux professionnels, sauf à votre médecin traitant et à "
            "l’auteur du document ;"
        ),
        "control_emergency": "autoriser ou refuser l’accès à votre dossier en cas d’urgence ;",
        "control_close": (
            "fermer votre dossier à tout moment : à une borne, deux gestes suffisent."
        ),
        "history": (
            "Vous pouvez consulter à tout moment l’historique complet des accès à votre dossier."
        ),
        "keep": "Conservez ce reçu. Il ne contient aucune information médicale.",
    },
    "en": {
        "consent_title": "Consent change receipt",
        "opening_title": "Your shared medical record has been opened",
        "ins": "INS",
        "date": "Date",
        "kiosk": "Kiosk",
        "reference": "Reference",
        "opened_by": "Opened by",
        "sep": ": ",
        "changes_intro": "You made the following choices:",
        "closed_note": (
            "Your record is closed: no professional can access it any more. It is kept "
            "for 10 years, then deleted. You can reopen it, or ask for its deletion "
            "within 3 months."
        ),
        "consented": "This record was opened with your consent.",
        "signin_heading": "How to sign in",
        "signin_kiosk": (
            "At a health-insurance reception kiosk: insert your Carte Vitale, then enter "
            "the one-time code sent to you by text message or e-mail."
        ),
        "signin_home": (
            "At home, online: enter your INS and your password, then the one-time code."
        ),
        "control_heading": "You stay in control",
        "control_intro": "Once signed in, at a kiosk or at home, you can:",
        "control_history": "see who accessed your record, when and why;",
        "control_block": (
            "block a professional (except your attending doctor): they can no longer "
            "access your record;"
        ),
        "control_mask": (
            "hide a document from professionals, except your attending doctor and the "
            "document's author;"
        ),
        "control_emergency": "allow or refuse access to your record in an emergency;",
        "control_close": "close your record at any time: at a kiosk, it takes two taps.",
        "history": "You can read the full history of access to your record at any time.",
        "keep": "Keep this receipt. It contains no medical information.",
    },
}

_CHANGE_LABELS: Final[dict[str, dict[str, str]]] = {
    "fr": {
        "dossier_opened": "Ouverture du dossier",
        "emergency_access": "Accès en cas d’urgence (bris de glace)",
        "emergency_regulator": "Accès par le médecin régulateur du SAMU (centre 15)",
        "professional_blocked": "Professionnel bloqué",
        "professional_unblocked": "Professionnel débloqué",
        "document_masked": "Document masqué aux professionnels",
        "document_unmasked": "Document de nouveau visible par les professionnels",
        "attending_doctor": "Médecin traitant",
        "notification_contact": "Coordonnées pour les notifications",
        "dossier_closed": "Fermeture du dossier",
    },
    "en": {
        "dossier_opened": "Record opened",
        "emergency_access": "Emergency access (break the glass)",
        "emergency_regulator": "Access by the SAMU emergency regulator (centre 15)",
        "professional_blocked": "Professional blocked",
        "professional_unblocked": "Professional unblocked",
        "document_masked": "Document hidden from professionals",
        "document_unmasked": "Document visible to professionals again",
        "attending_doctor": "Attending doctor",
        "notification_contact": "Contact details for notifications",
        "dossier_closed": "Record closed",
    },
}


_BODY: Final = ParagraphStyle(
    "receipt-body",
    fontName=_FONT,
    fontSize=_BODY_SIZE,
    leading=_BODY_SIZE * 1.35,
    spaceAfter=2 * mm,
)
_BULLET: Final = ParagraphStyle(
    "receipt-bullet", parent=_BODY, leftIndent=6 * mm, bulletIndent=1 * mm, bulletFontName=_FONT
)
_TITLE: Final = ParagraphStyle(
    "receipt-title",
    parent=_BODY,
    fontName=_FONT_BOLD,
    fontSize=_TITLE_SIZE,
    leading=_TITLE_SIZE * 1.25,
    spaceAfter=6 * mm,
)
_NAME: Final = ParagraphStyle(
    "receipt-name",
    parent=_BODY,
    fontName=_FONT_BOLD,
    fontSize=_HEADING_SIZE,
    leading=_HEADING_SIZE * 1.3,
)
_HEADING: Final = ParagraphStyle("receipt-heading", parent=_NAME, spaceBefore=4 * mm)


@dataclass(frozen=True)
class ReceiptPerson:
    """Who the receipt is for: the name as on the card and the INS's last four digits."""

    name: str
    ins_last4: str

    def __post_init__(self) -> None:
        _check_person(self)


@dataclass(frozen=True)
class ConsentChange:
    """One choice made at the kiosk; `detail` is localised by the caller and must not
    name a document or a category of care (e.g. a date, not a title)."""

    what: str
    detail: str

    def __post_init__(self) -> None:
        _check_change(self)


def consent_receipt(
    person: ReceiptPerson,
    changes: Sequence[ConsentChange],
    *,
    when: datetime,
    kiosk: str,
    reference: str,
    lang: str = "fr",
) -> bytes:
    """A receipt of one or more consent changes the patient just made at the kiosk."""
    text = _text(lang)
    _check_common(person, when=when, kiosk=kiosk, reference=reference)
    if not changes:
        raise ValueError("a consent receipt needs at least one change")
    for change in changes:
        _check_change(change)
    labels = _CHANGE_LABELS[lang]
    facts = [
        (text["date"], _format_when(when, lang)),
        (text["kiosk"], kiosk),
        (text["reference"], reference),
    ]
    story = _header(text["consent_title"], person, text, facts)
    story.append(_para(text["changes_intro"], _BODY))
    for change in changes:
        line = f"<b>{_esc(labels[change.what])}</b>"
        if change.detail.strip():
            line += _esc(text["sep"] + change.detail.strip())
        story.append(_bullet(line))
    if any(change.what == "dossier_closed" for change in changes):
        story += [Spacer(1, 3 * mm), _para(text["closed_note"], _BODY)]
    story += _footer(text)
    return _render(story, title=text["consent_title"], lang=lang)


def opening_receipt(
    person: ReceiptPerson,
    *,
    when: datetime,
    kiosk: str,
    opened_by: str,
    reference: str,
    lang: str = "fr",
) -> bytes:
    """Given to a patient whose dossier a professional (pharmacist, admissions desk) just
    opened: it says the dossier exists, who opened it, that the patient consented, and
    HOW TO SIGN IN: at a health-insurance reception kiosk with the patient card and a
    one-time code sent by SMS or e-mail, or at home with the INS and a password then a
    one-time code; how to see who accessed the dossier, block a professional, mask a
    document, and close the dossier at any time (the dossier can be closed in two taps
    at a kiosk)."""
    text = _text(lang)
    _check_common(person, when=when, kiosk=kiosk, reference=reference)
    if not opened_by.strip():
        raise ValueError("opened_by is empty")
    facts = [
        (text["date"], _format_when(when, lang)),
        (text["opened_by"], opened_by),
        (text["kiosk"], kiosk),
        (text["reference"], reference),
    ]
    story = _header(text["opening_title"], person, text, facts)
    story.append(_para(text["consented"], _BODY))
    story.append(_para(text["signin_heading"], _HEADING))
    story += [_bullet(_esc(text[key])) for key in _SIGNIN_KEYS]
    story.append(_para(text["control_heading"], _HEADING))
    story.append(_para(text["control_intro"], _BODY))
    story += [_bullet(_esc(text[key])) for key in _CONTROL_KEYS]
    story += _footer(text)
    return _render(story, title=text["opening_title"], lang=lang)


def _format_when(when: datetime, lang: str) -> str:
    local = when.astimezone(_PARIS)
    if lang == "fr":
        return f"{local:%d/%m/%Y} à {local:%H:%M}"
    # Month names from a table, not %b: strftime follows the process locale.
    return f"{local.day} {_EN_MONTHS[local.month - 1]} {local.year}, {local:%H:%M}"


def _text(lang: str) -> dict[str, str]:
    if lang not in _TEXT:
        raise ValueError(f"unknown language {lang!r} (one of {', '.join(LANGUAGES)})")
    return _TEXT[lang]


def _check_aware(when: datetime) -> None:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("when must be a timezone-aware datetime")


def _check_person(person: ReceiptPerson) -> None:
    if not person.name.strip():
        raise ValueError("the person's name is empty")
    if not _INS_LAST4.fullmatch(person.ins_last4):
        raise ValueError("ins_last4 must be exactly 4 digits (0-9)")


def _check_change(change: ConsentChange) -> None:
    if change.what not in CHANGE_KINDS:
        raise ValueError(f"unknown consent change {change.what!r}")


def _check_common(person: ReceiptPerson, *, when: datetime, kiosk: str, reference: str) -> None:
    # Checked again here, not only at construction: a frozen dataclass can still be
    # altered through object.__setattr__.
    _check_person(person)
    _check_aware(when)
    if not kiosk.strip():
        raise ValueError("kiosk is empty")
    if not reference.strip():
        raise ValueError("reference is empty")


def _esc(value: str) -> str:
    # Paragraph text is reportlab's XML-like markup: a name such as "<b>" or "A & B"
    # must print literally, never become markup.
    return escape(value)


def _para(value: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(_esc(value), style)


def _bullet(markup: str) -> Paragraph:
    return Paragraph(markup, _BULLET, bulletText="•")


def _header(
    title: str, person: ReceiptPerson, text: dict[str, str], facts: list[tuple[str, str]]
) -> list[Flowable]:
    _register_fonts()  # before the first Paragraph: it resolves its font when created
    story: list[Flowable] = [
        _para(title, _TITLE),
        _para(person.name, _NAME),
        _para(f"{text['ins']} •••• {person.ins_last4}", _BODY),
        Spacer(1, 3 * mm),
    ]
    story += [_para(label + text["sep"] + value, _BODY) for label, value in facts]
    story.append(Spacer(1, 5 * mm))
    return story


def _footer(text: dict[str, str]) -> list[Flowable]:
    return [
        Spacer(1, 6 * mm),
        _para(text["history"], _BODY),
        _para(text["keep"], _BODY),
    ]


def _render(story: list[Flowable], *, title: str, lang: str) -> bytes:
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        title=title,
        author=_AUTHOR,
        creator=_AUTHOR,
        subject="",
        lang=lang,
        # Fixed creation date and document id: the same receipt gives the same bytes.
        invariant=1,
    )
    doc.build(story)
    return out.getvalue()


@cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont(_FONT, "Vera.ttf"))
    pdfmetrics.registerFont(TTFont(_FONT_BOLD, "VeraBd.ttf"))
    pdfmetrics.registerFontFamily(
        _FONT, normal=_FONT, bold=_FONT_BOLD, italic=_FONT, boldItalic=_FONT_BOLD
    )
