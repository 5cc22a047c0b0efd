"""The embedded demo's reader panel: insert and pull the demo cards (no pcscd needed)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from werkzeug.wrappers import Response

from cardreader.virtual import VirtualCard

from . import home

bp = Blueprint("demo_panel", __name__, url_prefix="/demo")


def _kit() -> object:
    kit = current_app.extensions.get("demo")
    if kit is None:
        abort(404)
    return kit


def _reader(kit: object) -> str:
    names: list[str] = kit.readers.names()  # type: ignore[attr-defined]
    raw = request.form.get("reader", "")
    if not raw.isdigit() or int(raw) >= len(names):
        abort(400)
    return names[int(raw)]


@bp.post("/insert")
def insert() -> Response:
    kit = _kit()
    reader = _reader(kit)
    name = request.form.get("card", "")
    entry = kit.cards.get(name)  # type: ignore[attr-defined]
    if entry is None:
        abort(400)
    card: VirtualCard = entry[1]
    kit.readers.insert(reader, name, card)  # type: ignore[attr-defined]
    return home()


@bp.post("/remove")
def remove() -> Response:
    kit = _kit()
    kit.readers.remove(_reader(kit))  # type: ignore[attr-defined]
    return home()
