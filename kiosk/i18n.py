"""French first, English on request.

Texts are written in French in the templates and the code (`_("...")`, the users are
French); `EN` maps each of them to English. A test checks that every French text used
has its English entry, so switching language never shows a half-translated screen.
"""

from __future__ import annotations

from flask import g, session

LANGS = ("fr", "en")


def current() -> str:
    lang = getattr(g, "lang", None) or session.get("lang", "fr")
    return lang if lang in LANGS else "fr"


def gettext(text: str, **values: object) -> str:
    out = EN.get(text, text) if current() == "en" else text
    return out.format(**values) if values else out


EN: dict[str, str] = {}


def _load() -> None:
    from kiosk.messages_en import MESSAGES

    EN.update(MESSAGES)


_load()
