"""Dates on the kiosk: Paris time, day first in French."""

from __future__ import annotations

from flask import Flask, g

from kiosk import i18n


def test_api_timestamps_read_in_paris_time() -> None:
    app = Flask(__name__)
    app.secret_key = b"test"
    with app.test_request_context():
        g.lang = "fr"
        # 23:30 UTC on the 22nd is already the 23rd in Paris (UTC+1 in November).
        assert i18n.day("2026-11-22T23:30:00+00:00") == "23/11/2026"
        assert i18n.day("2026-11-22T23:30:00Z", with_time=True) == "23/11/2026 à 00:30"
        assert i18n.day("2026-07-01T10:00:00") == "01/07/2026"  # naive means UTC
        assert i18n.day(None) == ""
        assert i18n.day("pas une date") == "pas une date"
        g.lang = "en"
        assert i18n.day("2026-11-22T23:30:00+00:00") == "23 Nov 2026"
