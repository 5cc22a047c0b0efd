"""French first, English on request.

Texts are written in French in the templates and the code (`_("...")`, the users are
French); `EN` maps each of them to English. A test checks that every French text used
has its English entry, so switching language never shows a half-translated screen.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from flask import g, session

LANGS = ("fr", "en")
# The users are in metropolitan France: dates read in Paris time, whatever the host's zone.
PARIS = ZoneInfo("Europe/Paris")


def current() -> str:
    lang = getattr(g, "lang", None) or session.get("lang", "fr")
    return lang if lang in LANGS else "fr"


def gettext(text: str, **values: object) -> str:
    out = EN.get(text, text) if current() == "en" else text
    return out.format(**values) if values else out


def day(value: str | None, with_time: bool = False) -> str:
    """An API timestamp (ISO 8601) as the user reads it: Paris time, day first."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    local = moment.astimezone(PARIS)
    if current() == "en":
        return local.strftime("%d %b %Y, %H:%M" if with_time else "%d %b %Y")
    return local.strftime("%d/%m/%Y à %H:%M" if with_time else "%d/%m/%Y")


EN: dict[str, str] = {}


def _load() -> None:
    from kiosk.messages_en import MESSAGES

    EN.update(MESSAGES)


_load()
