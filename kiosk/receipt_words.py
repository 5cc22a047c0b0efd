"""A signed receipt in the patient's words, worded by the kiosk in its own language.

The records server signs a receipt as canonical JSON (docs/receipts.md): codes and
references. This module turns one into what the "Mes reçus" page shows and prints: a
title, the facts (for whom, by whom, when, at which terminal, in which mode) and one
line per change, in French or English. Pure: the decoded content in, words out; nothing
is kept (the page is built from the server's answer and dropped with the request).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kiosk.history_words import day_label
from kiosk.i18n import PARIS

# action -> (French title, English title)
TITLES: dict[str, tuple[str, str]] = {
    "dossier:create": ("Ouverture de votre dossier", "Your record opened"),
    "medecin_traitant:set": ("Médecin traitant", "Attending doctor"),
    "care_team:manage": ("Équipe de soins", "Care team"),
    "care_team:join": ("Admission dans un établissement", "Admission to a hospital"),
    "access:grant": ("Accès accordé", "Access granted"),
    "access:block": ("Professionnel bloqué", "Professional blocked"),
    "emergency:settings": ("Accès en urgence", "Emergency access"),
    "document:mask": ("Masquage d'un document", "Document hidden"),
    "document:patient_visibility": ("Visibilité d'un document", "Document visibility"),
    "document:rep_visibility": (
        "Visibilité d'un document pour les représentants",
        "Document visibility for representatives",
    ),
    "dossier:close": ("Fermeture de votre dossier", "Your record closed"),
    "dossier:reopen": ("Réouverture de votre dossier", "Your record reopened"),
}
MODES: dict[str, tuple[str, str]] = {
    "patient": ("par vous-même", "by yourself"),
    "representative": ("par un représentant légal", "by a legal representative"),
    "admissions": ("au bureau des admissions", "at the admissions desk"),
    "consent": ("avec votre accord", "with your consent"),
    "care_team": ("par l'équipe de soins", "by the care team"),
    "medecin_traitant": ("par le médecin traitant", "by the attending doctor"),
}
PROFESSIONS: dict[str, tuple[str, str]] = {
    "medecin_generaliste": ("médecin généraliste", "general practitioner"),
    "medecin_specialiste": ("médecin spécialiste", "specialist"),
    "medecin_travail": ("médecin du travail", "occupational doctor"),
    "infirmier": ("infirmier", "nurse"),
    "pharmacien": ("pharmacien", "pharmacist"),
    "sage_femme": ("sage-femme", "midwife"),
    "admissions": ("bureau des admissions", "admissions desk"),
}
YES_NO = {True: ("autorisé", "allowed"), False: ("refusé", "refused")}
LABELS: dict[str, tuple[str, str]] = {
    "for": ("Pour", "For"),
    "by": ("Par", "By"),
    "when": ("Quand", "When"),
    "terminal": ("Borne", "Terminal"),
    "mode": ("Mode", "Mode"),
    "none": ("aucune", "none"),
}


@dataclass(frozen=True)
class Worded:
    receipt_id: str
    title: str
    facts: list[tuple[str, str]]
    lines: list[str]
    issued_at: str
    checkpoint: str | None
    qr: str | None = None  # the checkpoint as a QR code image (data URI), set by the page


def word(content: dict[str, Any], lang: str) -> Worded:
    en = 1 if lang == "en" else 0
    action = str(content.get("action"))
    patient = (content.get("dossier") or {}).get("patient") or {}
    actor = content.get("actor") or {}
    issued = str(content.get("issued_at", ""))
    facts = [
        (LABELS["for"][en], f"{patient.get('first_names', '')} {patient.get('birth_name', '')}"),
        (LABELS["by"][en], _actor(actor, en)),
        (LABELS["when"][en], when(issued, lang)),
        (LABELS["terminal"][en], str(content.get("terminal") or LABELS["none"][en])),
        (
            LABELS["mode"][en],
            MODES.get(str(content.get("mode")), (str(content.get("mode")),) * 2)[en],
        ),
    ]
    checkpoint = content.get("log_checkpoint")
    return Worded(
        receipt_id=str(content.get("receipt_id", "")),
        title=TITLES.get(action, (action, action))[en],
        facts=facts,
        lines=changes(content.get("change") or {}, en),
        issued_at=issued,
        checkpoint=checkpoint if isinstance(checkpoint, str) else None,
    )


def title(action: str, lang: str) -> str:
    return TITLES.get(action, (action, action))[1 if lang == "en" else 0]


def when(issued_at: str, lang: str) -> str:
    try:
        moment = datetime.fromisoformat(issued_at.replace("Z", "+00:00"))
    except ValueError:
        return issued_at
    local = moment.astimezone(UTC).astimezone(PARIS)
    sep = ", " if lang == "en" else " à "
    return f"{day_label(local, lang)}{sep}{local:%H:%M}"


def changes(change: dict[str, Any], en: int) -> list[str]:
    lines: list[str] = []
    for key, say in _WORDS.items():
        if key in change:
            lines += say(change[key], en)
    return lines


def _pro(ref: Any, en: int) -> str:
    if not isinstance(ref, dict):
        return ("aucun", "none")[en]
    code = str(ref.get("profession"))
    job = PROFESSIONS.get(code, (code.replace("_", " "),) * 2)[en]
    return f"{ref.get('name')} ({job})"


def _actor(ref: dict[str, Any], en: int) -> str:
    if ref.get("kind") == "patient":
        return str(ref.get("name", ""))
    return _pro(ref, en)


def _emergency(value: Any, en: int) -> list[str]:
    now = value.get("now", value) if isinstance(value, dict) else {}
    bdg, c15 = YES_NO[bool(now.get("bris_de_glace"))][en], YES_NO[bool(now.get("centre_15"))][en]
    if en:
        return [f"Break the glass (a professional in an emergency): {bdg}",
                f"SAMU emergency regulator (centre 15): {c15}"]  # fmt: skip
    return [f"Bris de glace (un professionnel en urgence) : {bdg}",
            f"Régulateur du SAMU (centre 15) : {c15}"]  # fmt: skip


def _consent(value: Any, en: int) -> list[str]:
    if isinstance(value, dict) and "professional" in value:
        who = _pro(value["professional"], en)
        return [f"Access granted to {who}" if en else f"Accès accordé à {who}"]
    return ["Your consent to open the record" if en else "Votre accord pour ouvrir le dossier"]


def _member(value: Any, en: int) -> str:
    if isinstance(value, dict) and value.get("professional"):
        return _pro(value["professional"], en)
    structure = value.get("structure") if isinstance(value, dict) else None
    return f"{('établissement', 'hospital')[en]} {structure}"


def _said(label: tuple[str, str], value: str, en: int) -> str:
    return f"{label[en]}{(' : ', ': ')[en]}{value}"  # French puts a space before the colon


def _visibility(value: Any, en: int) -> list[str]:
    now = value.get("now", {}) if isinstance(value, dict) else {}
    hidden = bool(now.get("masked_ps"))
    if en:
        return [
            "Document hidden from professionals" if hidden else "Document visible to professionals"
        ]
    return [
        "Document masqué aux professionnels" if hidden else "Document visible des professionnels"
    ]


_WORDS: dict[str, Callable[[Any, int], list[str]]] = {
    "consent": _consent,
    "emergency": _emergency,
    "medecin_traitant": lambda v, en: [
        _said(
            ("Médecin traitant", "Attending doctor"),
            _pro(v.get("designated") if isinstance(v, dict) and "designated" in v else v, en),
            en,
        )
    ],
    "blocked": lambda v, en: [
        f"{_pro(v, en)} can no longer access your record"
        if en
        else f"{_pro(v, en)} ne peut plus accéder à votre dossier"
    ],
    "unblocked": lambda v, en: [
        f"{_pro(v, en)} is no longer blocked" if en else f"{_pro(v, en)} n'est plus bloqué"
    ],
    "care_team_added": lambda v, en: [
        _said(("Ajouté à l'équipe de soins", "Added to the care team"), _member(v, en), en)
    ],
    "care_team_removed": lambda v, en: [
        _said(("Retiré de l'équipe de soins", "Removed from the care team"), _member(v, en), en)
    ],
    "visibility": _visibility,
    "status": lambda v, en: [
        (
            ("Dossier fermé", "Record closed")
            if v == "closed"
            else ("Dossier actif", "Record active")
        )[en]
    ],
    "deletion_requested": lambda v, en: (
        [("Suppression demandée (sous 3 mois)", "Deletion requested (within 3 months)")[en]]
        if v
        else []
    ),
    "retention_until": lambda v, en: _kept_until(v, en),
    "deletion_request_withdrawn": lambda v, en: (
        [("Demande de suppression annulée", "Deletion request withdrawn")[en]] if v else []
    ),
    "copresence": lambda v, en: _copresence(v, en),
}


def _copresence(value: Any, en: int) -> list[str]:
    """Both cards signed the consent (docs/receipts.md): which ones, by their numbers."""
    if not isinstance(value, dict):
        return []
    patient = (value.get("patient_card") or {}).get("serial", "?")
    pro = (value.get("professional_card") or {}).get("serial", "?")
    if en:
        return [f"Signed in person by the patient's card (no. {patient}) "
                f"and the professional's card (no. {pro})"]  # fmt: skip
    return [f"Signé en personne par la carte du patient (n° {patient}) "
            f"et par la carte du professionnel (n° {pro})"]  # fmt: skip


def _kept_until(value: Any, en: int) -> list[str]:
    """The closure's retention date, as a day (an unreadable one says nothing)."""
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return []
    day = day_label(moment.astimezone(PARIS), "en" if en else "fr")
    return [_said(("Conservé jusqu'au", "Kept until"), day, en)]
