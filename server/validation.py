"""Input checks shared by the use cases: each failure is an InvalidInput with a reason."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime
from typing import Any

from server.errors import InvalidInput, MalformedRequest, TooLarge

_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_LOINC = re.compile(r"^\d{1,7}-\d$")


def require_object(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise MalformedRequest("json_object_expected", "Un objet JSON est attendu.")
    return data


def reject_unknown(data: dict[str, Any], allowed: set[str]) -> None:
    unknown = sorted(set(data) - allowed)
    if unknown:
        raise InvalidInput("unknown_field", f"Champ(s) inconnu(s) : {', '.join(unknown)}")


def text(data: dict[str, Any], name: str, *, max_len: int, required: bool = True) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise InvalidInput(f"{name}_required", f"Le champ « {name} » est obligatoire.")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > max_len:
        raise InvalidInput(f"{name}_invalid", f"Le champ « {name} » est invalide.")
    return value.strip()


def flag(data: dict[str, Any], name: str, default: bool) -> bool:
    value = data.get(name, default)
    if not isinstance(value, bool):
        raise InvalidInput(f"{name}_invalid", f"« {name} » doit valoir true ou false.")
    return value


def day(data: dict[str, Any], name: str) -> date:
    raw = text(data, name, max_len=10)
    try:
        return date.fromisoformat(raw or "")
    except ValueError:
        raise InvalidInput(f"{name}_invalid", f"« {name} » : date AAAA-MM-JJ attendue.") from None


def instant(data: dict[str, Any], name: str) -> datetime | None:
    raw = text(data, name, max_len=40, required=False)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name}_invalid", f"« {name} » : date ISO 8601 attendue.") from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def email(data: dict[str, Any]) -> str | None:
    value = text(data, "email", max_len=254, required=False)
    if value is not None and not _EMAIL.match(value):
        raise InvalidInput("email_invalid", "Adresse électronique invalide.")
    return value


def phone(data: dict[str, Any]) -> str | None:
    value = text(data, "phone", max_len=20, required=False)
    if value is not None and not _PHONE.match(value.replace(" ", "")):
        raise InvalidInput("phone_invalid", "Numéro de téléphone invalide.")
    return value.replace(" ", "") if value else None


def loinc(data: dict[str, Any]) -> str:
    value = text(data, "type_code", max_len=16) or ""
    if not _LOINC.match(value):
        raise InvalidInput("type_code_invalid", "Code LOINC invalide (ex. 11488-4).")
    return value


def content(data: dict[str, Any], limit: int) -> bytes:
    raw = data.get("content_base64")
    if not isinstance(raw, str) or not raw:
        raise InvalidInput("content_required", "Le contenu du document est obligatoire.")
    # Reject before decoding: base64 is 4/3 of the bytes it carries.
    if len(raw) > (limit // 3 + 1) * 4 + 4:
        raise_too_large(limit)
    try:
        body = base64.b64decode(raw, validate=True)
    except binascii.Error:
        raise InvalidInput("content_invalid", "Contenu base64 invalide.") from None
    if len(body) > limit:
        raise_too_large(limit)
    if not body:
        raise InvalidInput("content_required", "Le document est vide.")
    return body


def raise_too_large(limit: int) -> None:
    raise TooLarge(
        "content_too_large", f"Document trop volumineux (maximum {limit // 1_000_000} Mo)."
    )
