"""Kiosk settings: defaults here, overridden by a TOML file (DMP_KIOSK_CONFIG) or by
DMP_KIOSK_<NAME> environment variables. `config/kiosk.example.toml` lists every one
(a test keeps the two equal).

The kiosk reads its own settings: it shares no code with the records server but the
request signing and the pure log verification of server/tlog (a kiosk is installed
without the server's database stack)."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

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
    # Host names (host or host:port) the kiosk answers to, comma-separated, besides the
    # loopback names and the address it is bound to. A request naming another Host, or
    # sent from a page of another Origin, gets no page (DNS rebinding, other local sites).
    "ALLOWED_HOSTS": "",
    # A kiosk in a public place: 2 minutes without a touch ends the session, with a
    # warning 30 s before (the server's own idle limit, 15 min, is an upper bound).
    "IDLE_SECONDS": 120,
    "IDLE_WARNING_SECONDS": 30,
    # The online space (`dmp kiosk --online`, docs/online.md): a browser at home ends its
    # session after this long without a request (below the server's 15 min idle limit).
    "ONLINE_IDLE_SECONDS": 600,
    # Behind a reverse proxy that terminates TLS, how many proxies set X-Forwarded-*
    # (the online space then sees the https address its visitors used). 0: none.
    "PROXY_HOPS": 0,
    # How long the kiosk waits for the records server before saying it is unreachable.
    "SERVER_TIMEOUT_SECONDS": 8.0,
    # Secure cookies: only leave it off behind a plain-HTTP test harness.
    "COOKIE_SECURE": True,
    "DEFAULT_LANG": "fr",
    # The verifiable log's key (C2SP verifier key, "name+keyid+base64"), given with the
    # kiosk's installation, never fetched from the server it checks: "Vérifier mon
    # historique" proves the history against checkpoints signed by this key. Empty: the
    # check is not offered. LOG_ORIGIN is the log's name in its checkpoints.
    "LOG_KEY": "",
    "LOG_ORIGIN": "dmp-kiosk.invalid/trace",
}


def load_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the TOML file DMP_KIOSK_CONFIG names, then DMP_KIOSK_<NAME>
    variables (typed like the default), then `overrides`. Unknown file keys are refused:
    a misspelt setting must not silently fall back to its default."""
    settings = dict(DEFAULTS)
    path = os.environ.get("DMP_KIOSK_CONFIG")
    if path:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
        unknown = set(data) - set(DEFAULTS)
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        settings.update(data)
    for key, default in DEFAULTS.items():
        raw = os.environ.get(f"DMP_KIOSK_{key}")
        if raw is not None:
            settings[key] = _coerce(raw, default)
    if overrides:
        settings.update(overrides)
    if settings["READER"] not in ("pcsc", "demo"):
        raise ValueError("READER must be 'pcsc' or 'demo'")
    return settings


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw
