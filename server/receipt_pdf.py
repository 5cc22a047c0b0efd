"""A signed receipt rendered as a PDF for people (issue 13, docs/receipts.md).

Pure: the receipt's canonical content in, PDF bytes out. The PDF is a reading of the
receipt, not the proof: the proof is the canonical JSON and its CMS signature, which the
PDF tells how to fetch and check by hand. It shows what changed, for whom, by whom,
when, at which terminal and in which mode, in plain French, the receipt's id, and a QR
code holding the log checkpoint the receipt was signed with, so that the patient can
later have the log proven consistent with it (kiosk "Vérifier mon historique").
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any, Final
from xml.sax.saxutils import escape

from reportlab.graphics.barcode.qr import QrCodeWidget
from reportlab.graphics.shapes import Drawing
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, Preformatted, SimpleDocTemplate

from server.frenchtime import fr_datetime

_FONT: Final = "DmpReceiptPdf"
_FONT_BOLD: Final = "DmpReceiptPdf-Bold"
_MONO: Final = "Courier"
_MARGIN: Final = 18 * mm
_QR_SIZE: Final = 45 * mm
_AUTHOR: Final = "dmp-kiosk"

TITLE: Final = "Reçu signé d'une modification de votre dossier"

# How the policy allowed the change, in the patient's words (the history's modes).
MODES: Final[dict[str, str]] = {
    "patient": "par vous-même",
    "representative": "par un représentant légal",
    "admissions": "au bureau des admissions",
    "consent": "avec votre accord",
    "care_team": "par un membre de l'équipe de soins",
    "medecin_traitant": "par le médecin traitant",
    "normal": "par un professionnel",
}
ACTIONS: Final[dict[str, str]] = {
    "dossier:create": "Ouverture de votre dossier, avec votre accord",
    "medecin_traitant:set": "Médecin traitant",
    "care_team:manage": "Équipe de soins",
    "care_team:join": "Admission dans un établissement",
    "access:grant": "Accès accordé",
    "access:block": "Professionnel bloqué",
    "emergency:settings": "Accès en urgence",
    "document:mask": "Document masqué aux professionnels",
    "document:patient_visibility": "Visibilité d'un document",
    "document:rep_visibility": "Visibilité d'un document pour les représentants",
    "dossier:close": "Fermeture de votre dossier",
    "dossier:reopen": "Réouverture de votre dossier",
}
ALLOWED = {True: "autorisé", False: "refusé"}
PROFESSIONS: Final[dict[str, str]] = {
    "medecin_generaliste": "médecin généraliste",
    "medecin_specialiste": "médecin spécialiste",
    "medecin_travail": "médecin du travail",
    "infirmier": "infirmier",
    "pharmacien": "pharmacien",
    "sage_femme": "sage-femme",
    "admissions": "bureau des admissions",
}


def render(content: dict[str, Any]) -> bytes:
    _register_fonts()
    facts = [
        ("Ce qui a changé", ACTIONS.get(str(content.get("action")), str(content.get("action")))),
        ("Pour qui", _patient(content.get("dossier", {}).get("patient", {}))),
        ("Par qui", _actor(content.get("actor", {}))),
        ("Quand", fr_datetime(_instant(str(content["issued_at"])))),
        ("Borne", str(content.get("terminal") or "aucune (hors borne)")),
        ("Mode", MODES.get(str(content.get("mode")), str(content.get("mode")))),
    ]
    story: list[Flowable] = [_p(TITLE, _TITLE)]
    story += [_p(f"{label} : {value}", _BODY) for label, value in facts]
    story.append(_p("Détail", _HEADING))
    story += [_p(f"• {line}", _BODY) for line in describe(content)]
    story += [
        _p("Identifiant du reçu", _HEADING),
        Preformatted(str(content.get("receipt_id")), _CODE),
    ]
    checkpoint = content.get("log_checkpoint")
    if isinstance(checkpoint, str):
        story += [
            _p("Point de contrôle du journal", _HEADING),
            _p(
                "Le journal des accès à votre dossier était dans cet état au moment du reçu. "
                "À une borne, « Vérifier mon historique » prouve que le journal n'a pas été "
                "réécrit depuis : scannez ce code ou recopiez ces lignes.",
                _BODY,
            ),
            _qr(checkpoint),
            Preformatted(checkpoint.rstrip("\n"), _CODE),
        ]
    story += _by_hand(str(content.get("receipt_id")))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=_MARGIN,
        rightMargin=_MARGIN,
        topMargin=_MARGIN,
        bottomMargin=_MARGIN,
        title=TITLE,
        author=_AUTHOR,
        creator=_AUTHOR,
        subject="",
        lang="fr",
        invariant=1,  # the same receipt gives the same bytes
    )
    doc.build(story)
    return out.getvalue()


def describe(content: dict[str, Any]) -> list[str]:
    """The change in plain French, one line per fact (never a document's title: the
    receipt names a document by its id only)."""
    change = content.get("change") or {}
    lines: list[str] = []
    for key, word in _CHANGE_WORDS.items():
        if key in change:
            lines += word(change[key])
    return lines or ["Modification enregistrée."]


def _pro(ref: Any) -> str:
    if not isinstance(ref, dict):
        return "aucun"
    return f"{ref.get('name')} ({_profession(ref)}, n° {ref.get('national_id')})"


def _emergency(value: Any) -> list[str]:
    now = value.get("now", value) if isinstance(value, dict) else {}
    lines = [
        f"Bris de glace (un professionnel en urgence) : {ALLOWED[bool(now.get('bris_de_glace'))]}",
        f"Régulateur du SAMU (centre 15) : {ALLOWED[bool(now.get('centre_15'))]}",
    ]
    return lines


def _consent(value: Any) -> list[str]:
    if isinstance(value, dict) and "professional" in value:
        how = "en personne, avec votre carte" if value.get("in_person") else "à distance"
        until = value.get("expires_at")
        when = f" jusqu'au {fr_datetime(_instant(until))}" if isinstance(until, str) else ""
        return [f"Accès accordé à {_pro(value['professional'])}, {how}{when}"]
    return ["Votre accord à l'ouverture du dossier a été recueilli."]


def _visibility(value: Any) -> list[str]:
    flags = value.get("now", {}) if isinstance(value, dict) else {}
    words = {
        "masked_ps": ("masqué aux professionnels", "visible des professionnels"),
        "hidden_from_patient": ("invisible pour vous", "visible pour vous"),
        "hidden_from_representatives": ("invisible des représentants", "visible des représentants"),
    }
    said = [words[k][0 if v else 1] for k, v in sorted(flags.items()) if k in words]
    return [f"Document {value.get('document')} : {', '.join(said) or 'inchangé'}"]


def _status(value: Any) -> list[str]:
    return ["Dossier fermé" if value == "closed" else "Dossier actif"]


def _retention(value: Any) -> list[str]:
    return [f"Conservé jusqu'au {fr_datetime(_instant(value))}" if isinstance(value, str) else ""]


_CHANGE_WORDS: Final[dict[str, Callable[[Any], list[str]]]] = {
    "consent": _consent,
    "emergency": _emergency,
    "medecin_traitant": lambda v: (
        [f"Médecin traitant : {_pro(v.get('designated'))} (avant : {_pro(v.get('previous'))})"]
        if isinstance(v, dict) and "designated" in v
        else [f"Médecin traitant : {_pro(v)}"]
    ),
    "representatives": lambda v: [
        f"Représentant légal : {r.get('first_names')} {r.get('birth_name')}" for r in v or []
    ],
    "blocked": lambda v: [f"{_pro(v)} ne peut plus accéder à votre dossier"],
    "unblocked": lambda v: [f"{_pro(v)} n'est plus bloqué"],
    "care_team_added": lambda v: [f"Ajouté à l'équipe de soins : {_member(v)}"],
    "care_team_removed": lambda v: [f"Retiré de l'équipe de soins : {_member(v)}"],
    "visibility": _visibility,
    "status": _status,
    "deletion_requested": lambda v: ["Suppression demandée (sous 3 mois)"] if v else [],
    "retention_until": _retention,
    "copresence": lambda v: (
        [
            "Signé en personne par la carte du patient "
            f"(n° {(v.get('patient_card') or {}).get('serial')}) et par la carte du "
            f"professionnel (n° {(v.get('professional_card') or {}).get('serial')}) : "
            "les deux signatures sont dans le reçu"
        ]
        if isinstance(v, dict)
        else []
    ),
}


def _member(value: Any) -> str:
    if not isinstance(value, dict):
        return "?"
    if value.get("professional"):
        return _pro(value["professional"])
    return f"établissement {value.get('structure')}"


def _patient(ref: dict[str, Any]) -> str:
    born = _day(ref.get("birth_date"))
    return (
        f"{ref.get('first_names')} {ref.get('birth_name')}, né(e) le {born}, INS {ref.get('ins')}"
    )


def _actor(ref: dict[str, Any]) -> str:
    if ref.get("kind") == "patient":
        return str(ref.get("name"))
    return f"{ref.get('name')} ({_profession(ref)}, n° {ref.get('national_id')})"


def _profession(ref: dict[str, Any]) -> str:
    code = str(ref.get("profession"))
    return PROFESSIONS.get(code, code.replace("_", " "))


def _day(value: Any) -> str:
    if not isinstance(value, str) or len(value) != 10:
        return "?"
    year, month, day = value.split("-")
    return f"{day}/{month}/{year}"


def _instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _by_hand(receipt_id: str) -> list[Flowable]:
    """docs/receipts.md, "Verifying a receipt by hand", in three commands."""
    commands = (
        f"curl -o recu.json  $API/receipts/{receipt_id}\n"
        f"curl -o recu.p7s   $API/receipts/{receipt_id}/signature\n"
        "curl -o chaine.pem $API/receipts/certificate\n"
        "openssl cms -verify -binary -inform DER -in recu.p7s \\\n"
        "    -content recu.json -CAfile racine.pem -purpose any -out /dev/null"
    )
    return [
        _p("Vérifier ce reçu soi-même", _HEADING),
        _p(
            "Ce document est la lecture d'un reçu signé par le serveur du dossier. La preuve "
            "est le reçu lui-même (JSON) et sa signature (CMS), que l'on vérifie avec "
            "openssl contre le certificat racine publié (racine.pem, le dernier de la "
            "chaîne, à comparer à l'empreinte publiée). « CMS Verification successful » : "
            "le reçu est intact et signé par le serveur.",
            _BODY,
        ),
        Preformatted(commands, _CODE),
    ]


def _qr(value: str) -> Drawing:
    # Sized by the widget itself: getBounds() would encode the code a second time, and
    # reportlab's pure-Python encoder is most of a receipt's rendering time.
    widget = QrCodeWidget(value, barLevel="M", barWidth=_QR_SIZE, barHeight=_QR_SIZE)
    drawing = Drawing(_QR_SIZE, _QR_SIZE)
    drawing.add(widget)
    return drawing


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    # Paragraph text is reportlab's markup: a name such as "<b>" must print literally.
    return Paragraph(escape(text), style)


@cache
def _register_fonts() -> None:
    # Bitstream Vera ships inside reportlab: Latin names beyond WinAnsi print, and being
    # embedded with a ToUnicode map, the text can be read back (and tested).
    pdfmetrics.registerFont(TTFont(_FONT, "Vera.ttf"))
    pdfmetrics.registerFont(TTFont(_FONT_BOLD, "VeraBd.ttf"))


_BODY: Final = ParagraphStyle("rpdf-body", fontName=_FONT, fontSize=10.5, leading=14, spaceAfter=4)
_TITLE: Final = ParagraphStyle(
    "rpdf-title", parent=_BODY, fontName=_FONT_BOLD, fontSize=16, leading=20, spaceAfter=10
)
_HEADING: Final = ParagraphStyle(
    "rpdf-heading", parent=_BODY, fontName=_FONT_BOLD, fontSize=12, leading=16, spaceBefore=8
)
_CODE: Final = ParagraphStyle("rpdf-code", parent=_BODY, fontName=_MONO, fontSize=8.5, leading=11)
