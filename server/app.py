"""The records server's Flask application factory."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from server.api import PREFIX, api, boundary
from server.api.registry import build_spec
from server.api.runtime import Runtime
from server.config import load_settings
from server.crypto import KeyMaterialError, Keyring, key_source, load_master_key
from server.db import make_engine, make_sessionmaker
from server.errors import DmpError, TooManyRequests, http_message
from server.export.pages import bp as export_pages
from server.fhir import PREFIX as FHIR_PREFIX
from server.fhir import bp as fhir
from server.fhir.routes import http_error as fhir_http_error
from server.key_check import require_master_key
from server.key_vault import KeyVault
from server.policy import default_matrix_path, load_matrix
from server.receipt_signer import ReceiptSignerError
from server.receipt_signer import from_settings as receipt_signer_from
from server.vault_check import require_vault

log = logging.getLogger("dmp.server")


def utc_now() -> datetime:
    return datetime.now(UTC)


def create_app(
    test_config: dict[str, Any] | None = None, *, clock: Callable[[], datetime] = utc_now
) -> Flask:
    settings = load_settings(test_config)
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_JSON_BYTES"]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.extensions["dmp"] = build_runtime(settings, clock)
    boundary.install(app, api)
    app.register_blueprint(api.blueprint)
    app.register_blueprint(fhir)
    app.register_blueprint(export_pages)  # the download pages a link opens
    spec = build_spec(api, PREFIX, version("dmp-kiosk"))

    @app.get("/openapi.json")
    def openapi() -> Any:
        return jsonify(spec)

    @app.get("/healthz")
    def healthz() -> Any:
        return jsonify(status="ok")

    _register_errors(app)
    if settings["PROXY_HOPS"]:
        # The rate limits count the client's address, not the proxy's.
        hops = int(settings["PROXY_HOPS"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
    return app


def vault_directory(settings: dict[str, Any]) -> Path:
    """KEY_VAULT_DIR; by default beside the master key: next to MASTER_KEY_FILE when the
    key is in that file, else var/key-vault (docs/retention.md)."""
    configured = settings.get("KEY_VAULT_DIR") or ""
    if configured:
        return Path(configured)
    if settings["MASTER_KEY"]:
        return Path("var/key-vault")
    return Path(settings["MASTER_KEY_FILE"]).parent / "key-vault"


def build_runtime(settings: dict[str, Any], clock: Callable[[], datetime] = utc_now) -> Runtime:
    """Everything a use case needs, for the web app and the command line alike."""
    engine = make_engine(settings["DATABASE_URL"])
    matrix_path = (
        Path(settings["ACCESS_MATRIX"]) if settings["ACCESS_MATRIX"] else default_matrix_path()
    )
    key, key_file = settings["MASTER_KEY"], settings["MASTER_KEY_FILE"]
    master = load_master_key(key, key_file)
    keyring = Keyring(master, KeyVault(vault_directory(settings), master))
    try:
        require_master_key(engine, keyring, key_source(key, key_file), clock())
        require_vault(engine, keyring, clock())
        # A configured signer that cannot sign stops the server here, with the reason
        # (server/receipt_signer.py); an absent one makes consent changes answer 503.
        signer = receipt_signer_from(settings, clock())
    except (KeyMaterialError, ReceiptSignerError):
        engine.dispose()
        raise
    return Runtime(
        engine=engine,
        sessions=make_sessionmaker(engine),
        keyring=keyring,
        matrix=load_matrix(matrix_path),
        settings=settings,
        clock=clock,
        receipt_signer=signer,
    )


def error_response(status: int, error: str, reason: str, message: str) -> Response:
    response = jsonify(error=error, reason=reason, message=message)
    response.status_code = status
    return response


def _register_errors(app: Flask) -> None:
    @app.errorhandler(DmpError)
    def on_dmp_error(exc: DmpError) -> Response:
        response = error_response(exc.status, exc.error, exc.reason, exc.message)
        if isinstance(exc, TooManyRequests) and exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response

    @app.errorhandler(HTTPException)
    def on_http_error(exc: HTTPException) -> Response:
        if request.path == FHIR_PREFIX or request.path.startswith(FHIR_PREFIX + "/"):
            # An unknown FHIR path or method is answered in FHIR (OperationOutcome).
            return fhir_http_error(exc)
        status = exc.code or 500
        reason = (exc.name or "error").lower().replace(" ", "_")
        response = error_response(status, "http_error", reason, http_message(exc))
        # A 405 names the methods the resource takes (RFC 9110 15.5.6).
        for name, value in exc.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(OperationalError)
    def on_db_down(exc: OperationalError) -> Response:
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return error_response(
            503,
            "unavailable",
            "database_unavailable",
            "Service momentanément indisponible, veuillez réessayer.",
        )

    @app.errorhandler(Exception)
    def on_bug(exc: Exception) -> Response:
        # A bug: the detail goes to the server log, never to the caller.
        log.exception("unhandled error")
        return error_response(500, "internal_error", "internal_error", "Erreur interne.")
