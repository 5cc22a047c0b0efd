"""The embedded demo's reader panel: insert and pull the demo cards (no pcscd needed)."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request
from werkzeug.wrappers import Response

from cardreader.emulator.virtual import VirtualCard
from kiosk.readers import DemoReaders

from . import home

bp = Blueprint("demo_panel", __name__, url_prefix="/demo")


def _kit() -> tuple[DemoReaders, dict[str, tuple[dict[str, str], VirtualCard]]]:
    kit = current_app.extensions.get("demo")
    if kit is None or kit.readers is None:
        abort(404)
    return kit.readers, kit.cards


def _reader(readers: DemoReaders) -> str:
    names = readers.names()
    raw = request.form.get("reader", "")
    if not raw.isdigit() or int(raw) >= len(names):
        abort(400)
    return names[int(raw)]


@bp.post("/insert")
def insert() -> Response:
    readers, cards = _kit()
    reader = _reader(readers)
    name = request.form.get("card", "")
    if name not in cards:
        abort(400)
    readers.insert(reader, name, cards[name][1])
    return home()


@bp.post("/remove")
def remove() -> Response:
    readers, _cards = _kit()
    readers.remove(_reader(readers))
    return home()
