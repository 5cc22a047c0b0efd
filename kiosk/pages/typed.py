"""What a deposit form holds, checked, and the request body the kiosk builds from it.

Free text as text; a dispensation or a prescription as medication lines, a vaccination
as vaccine, date and lot, built into a FHIR document (kiosk/fhir_documents.py). Every
message is French (English on request) and names the line it is about; nothing here
raises on bad input.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

from kiosk import medicines
from kiosk.fhir_documents import (
    FHIR_MIME_TYPE,
    KINDS,
    VACCINATION,
    Author,
    Kind,
    MedicationLine,
    Subject,
    VaccinationLine,
    medication_bundle,
    vaccination_bundle,
)
from kiosk.i18n import PARIS
from kiosk.i18n import gettext as _
from kiosk.terminal import Terminal

from . import server
from .pro import deposit_kinds

MAX_LINES = 30
LINE_FIELDS = ("name", "dose", "form", "quantity", "posology")
FIELD_MAX = {"name": 200, "dose": 60, "form": 80, "quantity": 40, "posology": 500}
QUANTITY_RE = re.compile(r"^(\d{1,5}(?:[.,]\d{1,3})?)\s*(\S.{0,30})?$")
# Control characters have no place in a one-line field, and none is valid in XHTML.
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]+")
FLAGS = ("masked_ps", "invisible_patient", "invisible_rep")


def clean(value: str | None) -> str:
    return CONTROL_RE.sub(" ", value or "").strip()


def typed_lines(form: Mapping[str, str]) -> list[dict[str, str]]:
    count = form.get("lines", "1")
    n = min(int(count), MAX_LINES) if count.isascii() and count.isdigit() else 1
    return [
        {f: clean(form.get(f"line-{i}-{f}"))[: FIELD_MAX[f]] for f in LINE_FIELDS}
        for i in range(max(n, 1))
    ]


def request_body(
    t: Terminal, name: str, form: Mapping[str, str], lines: list[dict[str, str]]
) -> tuple[list[str], dict[str, Any] | None]:
    errors: list[str] = []
    title = clean(form.get("title"))
    if not title or len(title) > 200:
        errors.append(_("Donnez un titre (200 caractères au plus)."))
    clinician = t.pro is not None and t.pro.may.clinical_reading
    flags = {f: form.get(f) == "on" and clinician for f in FLAGS}
    if flags["masked_ps"] and flags["invisible_patient"]:
        errors.append(
            _(
                "Un document ne peut pas être à la fois masqué aux professionnels et invisible "
                "pour le patient."
            )
        )
    kind = KINDS.get(name)
    kinds = deposit_kinds(t.pro.may) if t.pro is not None else []
    if kind is None:
        category, type_code, mime, content = _text_content(form, kinds, errors)
    else:
        category, type_code, mime = kind.category, kind.loinc, FHIR_MIME_TYPE
        content = _structured_content(t, kind, title, form, lines, errors)
    if errors or content is None:
        return errors, None
    return [], {
        "category": category,
        "type_code": type_code,
        "title": title,
        "mime_type": mime,
        "content_base64": base64.b64encode(content).decode(),
        **flags,
    }


def _text_content(
    form: Mapping[str, str], kinds: list[tuple[str, str, str]], errors: list[str]
) -> tuple[str, str, str, bytes | None]:
    kind = next((k for k in kinds if k[1] == form.get("type_code")), None)
    text = (form.get("text") or "").strip()
    if kind is None:
        errors.append(_("Choisissez le type de document."))
    if not text or len(text) > 20000:
        errors.append(_("Le contenu est vide ou trop long (20 000 caractères au plus)."))
    if kind is None or errors:
        return "", "", "", None
    return kind[0], kind[1], "text/plain", text.encode()


def _structured_content(
    t: Terminal,
    kind: Kind,
    title: str,
    form: Mapping[str, str],
    lines: list[dict[str, str]],
    errors: list[str],
) -> bytes | None:
    subject = _subject(t)
    if subject is None or t.pro is None:
        errors.append(_("Le dossier du patient n'est plus affiché : recommencez."))
        return None
    who = t.pro.identity
    author = Author(who.national_id, who.first_name, who.last_name)
    now = datetime.now(UTC)
    if kind is VACCINATION:
        vaccination = _vaccination(form, errors)
        if vaccination is None:
            return None
        bundle = vaccination_bundle(
            title, [vaccination], subject, author, now=now, new_id=lambda: str(uuid.uuid4())
        )
    else:
        medication = _medication_lines(lines, errors)
        if not medication:
            return None
        bundle = medication_bundle(
            kind, title, medication, subject, author, now=now, new_id=lambda: str(uuid.uuid4())
        )
    return json.dumps(bundle, ensure_ascii=False).encode()


def _medication_lines(lines: list[dict[str, str]], errors: list[str]) -> list[MedicationLine]:
    out: list[MedicationLine] = []
    for number, line in enumerate(lines, start=1):
        if not any(line.values()):
            continue  # an empty line left at the end is not a line
        name = line.get("name", "")
        if not name:
            errors.append(_("Ligne {n} : indiquez le médicament.", n=number))
            continue
        quantity, unit = None, ""
        if line.get("quantity"):
            found = QUANTITY_RE.match(line["quantity"])
            if found is None:
                errors.append(
                    _(
                        "Ligne {n} : la quantité est un nombre, suivi si besoin de l'unité "
                        "(par exemple 2 boîtes).",
                        n=number,
                    )
                )
                continue
            quantity = float(found.group(1).replace(",", "."))
            unit = found.group(2) or ""
        listed = medicines.known(name)
        out.append(
            MedicationLine(
                name=name,
                dose=line.get("dose") or (listed.strength if listed else ""),
                form=line.get("form") or (listed.form if listed else ""),
                quantity=quantity,
                unit=unit,
                posology=line.get("posology", ""),
                code=listed.code if listed else None,
            )
        )
    if not out and not errors:
        errors.append(_("Ajoutez au moins un médicament."))
    return [] if errors else out


def _vaccination(form: Mapping[str, str], errors: list[str]) -> VaccinationLine | None:
    vaccine = clean(form.get("vaccine"))[:200]
    lot = clean(form.get("lot"))
    if not vaccine:
        errors.append(_("Indiquez le vaccin."))
    if len(lot) > 40:
        errors.append(_("Le numéro de lot a 40 caractères au plus."))
    try:
        when = date.fromisoformat(clean(form.get("date")))
    except ValueError:
        when = None
    if when is None or when > datetime.now(PARIS).date() or when.year < 1900:
        errors.append(_("La date de vaccination n'est pas valide (jamais dans le futur)."))
    if errors or when is None:
        return None
    return VaccinationLine(vaccine, when, lot)


def _subject(t: Terminal) -> Subject | None:
    """The patient of the dossier shown, as the server knows them."""
    if t.dossier is None:
        return None
    summary = t.dossier.summary or {}
    if not summary.get("patient"):
        r = server().dossier(t.dossier.dossier_id)
        if not r.ok:
            return None
        summary = t.dossier.summary = r.body
    p = summary["patient"]
    try:
        born = date.fromisoformat(p["birth_date"]) if p.get("birth_date") else None
    except ValueError:
        born = None
    return Subject(
        ins=str(p.get("ins", "")),
        ins_oid=str(p.get("ins_oid", "")),
        birth_name=str(p.get("birth_name", "")),
        first_names=tuple(str(p.get("first_names", "")).split()),
        birth_date=born,
        sex=p.get("sex") if p.get("sex") in ("M", "F") else None,
    )
