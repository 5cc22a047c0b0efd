"""Settings: embedded defaults, then a TOML file named by DMP_CONFIG, then DMP_* variables.

Tests pass a dict to the app factory instead. Every setting is documented in
config/server.example.toml.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any

DEFAULTS: dict[str, Any] = {
    # SQLite is the embedded default; PostgreSQL (postgresql+psycopg://...) is production.
    "DATABASE_URL": "sqlite:///var/dmp.sqlite",
    # Base64 of 32 random bytes. When empty, MASTER_KEY_FILE is used and created on first
    # run with mode 0600: good for the demo, never for production (use a secret store).
    "MASTER_KEY": "",
    "MASTER_KEY_FILE": "var/master.key",
    # The key vault: one key-encryption key per dossier, outside the database and its
    # backups, destroyed by a purge (docs/retention.md). Empty: "key-vault" next to
    # MASTER_KEY_FILE. Shared by every host of a deployment.
    "KEY_VAULT_DIR": "",
    "ACCESS_MATRIX": "",  # empty: the matrix shipped in config/access-matrix.toml
    "MAX_PATIENT_UPLOAD_BYTES": 5 * 1024 * 1024,  # the real service's cap
    "MAX_PROFESSIONAL_UPLOAD_BYTES": 20 * 1024 * 1024,
    # --- reading deposited contents (server/content/, docs/documents.md "Formats") ---
    # Pixels of an image (all frames of a TIFF): beyond, refused before decoding. A 48 Mpx
    # phone photograph passes; Pillow's own process-wide bound (89 Mpx) stays behind it.
    "MAX_IMAGE_PIXELS": 50_000_000,
    "MAX_DOCUMENT_PAGES": 1000,  # pages of a PDF, frames of a TIFF
    # What one compressed stream of a PDF may inflate to ("zip bomb" streams).
    "MAX_DECOMPRESSED_BYTES": 50 * 1024 * 1024,
    # Text kept for search and diff; beyond, the rest of a long document is not read.
    "MAX_EXTRACTED_TEXT_CHARS": 2_000_000,
    "MAX_CONTENT_NESTING": 64,  # XML elements, JSON arrays and objects
    "CONTENT_READ_SECONDS": 10.0,  # reading one deposit, checked between pages
    "SESSION_IDLE_SECONDS": 15 * 60,
    "SESSION_MAX_SECONDS": 10 * 60 * 60,
    # Bris de glace lasts long enough for an emergency admission, then must be renewed
    # with a new stated reason (domain.md leaves the duration to us).
    "BRIS_DE_GLACE_SECONDS": 2 * 60 * 60,
    # A consent given for one consultation; a day covers the visit and its paperwork.
    "CONSENT_SECONDS": 24 * 60 * 60,
    "DEFAULT_LIST_YEARS": 2,
    "RETENTION_YEARS": 10,  # a closed dossier is kept 10 years, then purged
    "IDEMPOTENCY_SECONDS": 24 * 60 * 60,
    # Identical denials (same actor, dossier, action, reason, target) within this window
    # of the first are one trace entry and a count (services/denials.py).
    "DENIAL_WINDOW_SECONDS": 24 * 60 * 60,
    "INS_TEST_OIDS": True,
    # The verifiable log over the trace (docs/transparency.md): its origin, the first
    # line of every checkpoint and the name of its signing key.
    "LOG_ORIGIN": "dmp-kiosk.invalid/trace",
    # The worker appends new trace entries to the log this often: the stated delay
    # within which an entry reaches the log (docs/transparency.md).
    "LOG_SEQUENCE_SECONDS": 1.0,  # non-production deployments use the test INS OIDs
    "MAX_JSON_BYTES": 32 * 1024 * 1024,
    # --- sign-in (issue #4) ---
    # Directory of the trust anchors: the CA certificates and CRLs `dmp pki init` writes.
    "PKI_DIR": "var/pki",
    # The receipt signer (docs/receipts.md): its private key (PEM) and its certificate
    # chain (PEM, the signer's certificate first, up to the root), as `dmp pki
    # issue-receipt-signer` writes them. Both empty: consent-bearing changes answer 503.
    "RECEIPT_SIGNER_KEY_FILE": "",
    "RECEIPT_SIGNER_CHAIN_FILE": "",
    "CHALLENGE_SECONDS": 60,  # a card challenge is single use and valid one minute
    # A card session must show a fresh card signature this often, or it ends: a
    # compromised kiosk cannot keep a session alive once the card is gone.
    "RESIGN_SECONDS": 120,
    # How much clock difference between kiosk and server a signed request may show.
    "KIOSK_CLOCK_SKEW_SECONDS": 30,
    "PENDING_SIGNIN_SECONDS": 300,  # from the first factor to the one-time code
    "OTP_CODE_SECONDS": 300,  # an e-mailed or texted code is valid five minutes
    "OTP_CODE_TRIES": 3,  # wrong tries allowed on one code
    # Sending codes costs the patient an SMS or an e-mail each: not faster than this, and
    # not more than this many an hour (the lockout already bounds guessing).
    "OTP_RESEND_SECONDS": 30,
    "OTP_CODES_PER_HOUR": 5,
    "OTP_LOCK_FAILURES": 5,  # failures (any code) before the factor locks
    "OTP_LOCK_SECONDS": 15 * 60,
    # Requests without a session, per client address: online sign-in steps (argon2 costs
    # tens of milliseconds) ...
    "SIGNIN_RATE_PER_MINUTE": 30,
    "SIGNIN_RATE_BURST": 15,
    # ... and card sign-in routes, per client address and per kiosk name (a kiosk signs
    # in one person at a time: two requests each).
    "KIOSK_SIGNIN_RATE_PER_MINUTE": 120,
    "KIOSK_SIGNIN_RATE_BURST": 60,
    # Reverse proxies in front of the server that set X-Forwarded-For: the client address
    # the rate limits count is then the one they report (0: the socket's peer).
    "PROXY_HOPS": 0,
    "SMTP_HOST": "127.0.0.1",
    "SMTP_PORT": 25,
    "SMTP_FROM": "Mon dossier médical <noreply@dmp-kiosk.invalid>",
    "SMS_GATEWAY_URL": "",  # HTTP gateway; empty: SMS messages wait in the outbox
    "OUTBOX_MAX_BACKOFF_SECONDS": 3600,
    # --- OCR of scans and photographs in `dmp worker` (issue #11, server/ocr_worker.py) ---
    # Attempts before a document's text is given up (`failed`; the document stays whole).
    "OCR_MAX_ATTEMPTS": 5,
    "OCR_MAX_BACKOFF_SECONDS": 3600,
    # Bounds of one document's reading: pages read (the first ones), pixels of one image
    # or page (a PDF page is rendered smaller instead), seconds for the whole document.
    "OCR_MAX_PAGES": 50,
    "OCR_MAX_PIXELS": 40_000_000,
    "OCR_SECONDS": 300,
}


def load_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    return load_layered(DEFAULTS, file_env="DMP_CONFIG", env_prefix="DMP_", overrides=overrides)


def load_layered(
    defaults: dict[str, Any],
    *,
    file_env: str,
    env_prefix: str,
    overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Defaults, then the TOML file named by `file_env`, then `<env_prefix><NAME>`
    variables (typed like the default), then `overrides`. Unknown file keys are refused:
    a misspelt setting must not silently fall back to its default."""
    settings = dict(defaults)
    path = os.environ.get(file_env)
    if path:
        with Path(path).open("rb") as fh:
            data = tomllib.load(fh)
        unknown = set(data) - set(defaults)
        if unknown:
            raise ValueError(f"{path}: unknown settings {sorted(unknown)}")
        settings.update(data)
    for key, default in defaults.items():
        raw = os.environ.get(f"{env_prefix}{key}")
        if raw is not None:
            settings[key] = _coerce(raw, default)
    if overrides:
        settings.update(overrides)
    return settings


def _coerce(raw: str, default: Any) -> Any:
    if isinstance(default, bool):
        return raw.strip().lower() in ("1", "true", "yes", "on")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw
