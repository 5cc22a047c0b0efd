"""Kiosk settings: defaults here, overridden by a TOML file (DMP_KIOSK_CONFIG) or by
DMP_KIOSK_<NAME> environment variables. `config/kiosk.example.toml` lists every one
(a test keeps the two equal)."""

from __future__ import annotations

from typing import Any

from server.config import load_layered

DEFAULTS: dict[str, Any] = {
    # The records server (its API lives under /api/v1).
    "SERVER_URL": "http://127.0.0.1:8400",
    # This kiosk's registered name and its private key (PEM, EC P-256), issued with
    # `dmp pki issue-kiosk` and registered with `dmp kiosk-admin register`.
    "KIOSK_NAME": "",
    "KIOSK_KEY_FILE": "",
    # "pcsc": the readers pcscd knows. "demo": two in-process readers with the demo cards.
    "READER": "pcsc",
    # Where the kiosk serves its pages: the kiosk's own browser, so loopback by default.
    "HOST": "127.0.0.1",
    "PORT": 8500,
    # A kiosk in a public place: 2 minutes without a touch ends the session, with a
    # warning 30 s before (the server's own idle limit, 15 min, is an upper bound).
    "IDLE_SECONDS": 120,
    "IDLE_WARNING_SECONDS": 30,
    # How long the kiosk waits for the records server before saying it is unreachable.
    "SERVER_TIMEOUT_SECONDS": 8.0,
    # Secure cookies: only leave it off behind a plain-HTTP test harness.
    "COOKIE_SECURE": True,
    "DEFAULT_LANG": "fr",
}


def load_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    settings = load_layered(
        DEFAULTS, file_env="DMP_KIOSK_CONFIG", env_prefix="DMP_KIOSK_", overrides=overrides
    )
    if settings["READER"] not in ("pcsc", "demo"):
        raise ValueError("READER must be 'pcsc' or 'demo'")
    return settings
