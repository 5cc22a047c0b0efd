"""Signed receipts on the kiosk (issue 13): fetched from the records server, worded in
the page's language, shown inside the page and printed from there.

Nothing is kept: each page asks the server again, so a pulled card (which clears the
session and sends the screen home) leaves no receipt behind, on screen or in memory.
"""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

import segno
from flask import request

from kiosk import i18n, receipt_words
from kiosk.receipt_words import Worded

from . import server

# The server's receipt ids (server/services/receipts.py): anything else is not asked for.
RECEIPT_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def fetch(receipt_id: str | None) -> Worded | None:
    """The receipt worded for this page; None when the id is malformed or the server
    does not give it (someone else's and unknown answer alike there)."""
    if not receipt_id or not RECEIPT_ID.fullmatch(receipt_id):
        return None
    r = server().receipt(receipt_id)
    if not r.ok or not isinstance(r.body, dict):
        return None
    worded = receipt_words.word(r.body, i18n.current())
    if worded.checkpoint:
        worded = replace(worded, qr=qr_data_uri(worded.checkpoint))
    return worded


def after_change() -> Worded | None:
    """The receipt of the change just made, named in the page's `receipt` argument."""
    return fetch(request.args.get("receipt"))


def listing(dossier_id: int) -> tuple[list[dict[str, Any]] | None, str]:
    """The dossier's receipts newest first, worded; (None, message) when refused."""
    r = server().receipts(dossier_id)
    if not r.ok:
        return None, r.message
    lang = i18n.current()
    lines = [
        {
            "receipt_id": line["receipt_id"],
            "title": receipt_words.title(str(line.get("action")), lang),
            "when": receipt_words.when(str(line.get("issued_at")), lang),
        }
        for line in reversed(r.body.get("receipts", []))
        if isinstance(line, dict) and RECEIPT_ID.fullmatch(str(line.get("receipt_id")))
    ]
    return lines, ""


def latest_checkpoint(dossier_id: int) -> tuple[str | None, str | None]:
    """(checkpoint, issued_at) of the patient's newest receipt, or (None, None) when it
    has none or carries none (issued before the log's first pass)."""
    r = server().receipts(dossier_id)
    found = r.body.get("receipts") if r.ok and isinstance(r.body, dict) else None
    if not found or not isinstance(found[-1], dict):
        return None, None
    newest = fetch(str(found[-1].get("receipt_id")))
    if newest is None or not newest.checkpoint:
        return None, None
    return newest.checkpoint, newest.issued_at


def qr_data_uri(text: str) -> str:
    """The checkpoint as a QR code (PNG data URI, as the TOTP page shows its own)."""
    return str(segno.make(text, error="m").png_data_uri(scale=4, border=2))
