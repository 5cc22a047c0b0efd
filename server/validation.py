"""Input checks shared by the use cases: each failure is an InvalidInput with a reason."""

from __future__ import annotations

import base64
import binascii
import re
from datetime import UTC, date, datetime
from typing import Any

from server.errors import InvalidInput, MalformedRequest, TooLarge

# Row ids in paths, queries and bodies: PostgreSQL's `integer` is 32-bit signed; SQLite's
# is 64-bit. One bound for both keeps the API identical whatever the database.
ID_MAX = 2**31 - 1

# Code points no string of the API may carry: NUL and the other C0/C1 controls (tab, line
# feed and carriage return are text), lone surrogates (no encoding can store them: the
# database driver fails), and the bidirectional embeddings, overrides and isolates, which
# make a text display otherwise than it reads ("Trojan Source"); lone surrogates too.
FORBIDDEN = r"\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
# Lone surrogates are not Unicode scalar values: JSON Schema tools do not take them in a
# pattern (schemathesis then ignores the whole pattern), so they are refused apart.
_SURROGATE = re.compile("[\ud800-\udfff]")
# Characters that print nothing: spaces, joiners, fillers, variation selectors, tags. A
# title or a name needs at least one character outside this set and FORBIDDEN.
INVISIBLE = (
    r"\s\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f"
    r"\u2028-\u202f\u205f-\u206f\u2800\u3000\u3164\ufe00-\ufe0f\ufeff\uffa0"
    r"\ufff0-\ufffb\U000e0000-\U000e0fff"
)
# The same patterns go into the OpenAPI document, so that the spec and the code agree.
SAFE_PATTERN = f"^[^{FORBIDDEN}]*$"
VISIBLE_PATTERN = f"^[^{FORBIDDEN}]*[^{FORBIDDEN}{INVISIBLE}][^{FORBIDDEN}]*$"
_SAFE = re.compile(SAFE_PATTERN)
_VISIBLE = re.compile(VISIBLE_PATTERN)

# Strings (whose brackets are text) and brackets. Possessive, and an unterminated string
# runs to the end: a scan that backtracks or restarts inside strings is quadratic, and a
# 40 kB body of escaped quotes then costs minutes.
_JSON_TOKENS = re.compile(rb'"(?:[^"\\]++|\\.)*+(?:"|\Z)|[\[\]{}]', re.DOTALL)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[A-Za-z]{2,}$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_LOINC = re.compile(r"^[0-9]{1,7}-[0-9]$")
# Dates are stored in UTC: a date that leaves years 1-9999 once converted cannot be. A
# day's margin at both ends keeps the French local time of any stored date displayable.
_FIRST, _LAST = datetime(1, 1, 2, tzinfo=UTC), datetime(9999, 12, 30, tzinfo=UTC)


def safe_text(value: str) -> bool:
    """No forbidden code point (see FORBIDDEN), no lone surrogate."""
    return _SAFE.match(value) is not None and _SURROGATE.search(value) is None


def visible_text(value: str) -> bool:
    """Safe, and at least one character that prints."""
    return _VISIBLE.match(value) is not None and _SURROGATE.search(value) is None


def ascii_int(raw: str, *, low: int = 1, high: int = ID_MAX) -> int | None:
    """An integer written in ASCII digits within [low, high], else None. `int()` and
    `str.isdigit()` also take other scripts' digits ("١٢", superscripts) and any length."""
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > len(str(high)):
        return None
    value = int(raw)
    return value if low <= value <= high else None


def json_too_deep(raw: bytes, limit: int) -> bool:
    """Whether JSON text nests deeper than `limit`, counted on the bytes before parsing:
    a 50,000-deep "[[[..." would make the parser recurse (a request body, a FHIR
    document)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    depth = 0
    for token in _JSON_TOKENS.finditer(raw):
        char = token.group()[:1]
        if char in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif char in (b"]", b"}"):
            depth -= 1
    return False


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
    if not isinstance(value, str) or len(value) > max_len or not visible_text(value):
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
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except (ValueError, OverflowError):
        raise InvalidInput(f"{name}_invalid", f"« {name} » : date ISO 8601 attendue.") from None
    if not _FIRST <= value <= _LAST:
        raise InvalidInput(f"{name}_invalid", f"« {name} » : date hors des années 1 à 9999.")
    return value


def period(data: dict[str, Any], start: str, end: str) -> dict[str, datetime | None]:
    """Two instants where the first, when both are given, is not after the second."""
    first, last = instant(data, start), instant(data, end)
    if first is not None and last is not None and first > last:
        raise InvalidInput(f"{start}_after_{end}", f"« {start} » est postérieur à « {end} ».")
    return {start: first, end: last}


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
