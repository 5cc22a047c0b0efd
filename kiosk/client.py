"""The kiosk's only way to the records server: every call goes through `ServerClient`.

Each request is signed with the kiosk's key (see server/signin/kiosk_identity.py), so the
server always knows which registered kiosk speaks. The kiosk decides nothing: it relays
and shows the server's answer, including its French error message.

An unreachable or failing server raises `ServerUnavailable`, which the pages turn into
a French message that keeps what the user typed (nothing is lost, the same
Idempotency-Key is sent again on retry, so a write is never done twice).
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ec

from server.signin.request_signing import sign_request

log = logging.getLogger("dmp.kiosk.client")

API = "/api/v1"


class ServerUnavailable(Exception):
    """The records server cannot be reached or failed; str() carries no patient data."""


@dataclass(frozen=True)
class ApiResponse:
    status: int
    body: Any  # decoded JSON, or the raw bytes of a document's content
    content_type: str = "application/json"

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def reason(self) -> str:
        return str(self.body.get("reason", "")) if isinstance(self.body, dict) else ""

    @property
    def message(self) -> str:
        """The server's French message, shown as is to the user."""
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            return str(self.body["message"])
        return "Le serveur a refusé la demande."


def _utc_now() -> datetime:
    return datetime.now(UTC)


class ServerClient:
    """Signed JSON calls over HTTP/1.1 keep-alive, one connection per thread."""

    def __init__(
        self,
        base_url: str,
        kiosk_name: str,
        key: ec.EllipticCurvePrivateKey,
        *,
        timeout: float = 8.0,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        parsed = urllib.parse.urlsplit(base_url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise ValueError(f"server URL must be http(s)://host[:port], got {base_url!r}")
        self.scheme = parsed.scheme
        self.host = parsed.hostname
        self.port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self.prefix = parsed.path.rstrip("/")
        self.kiosk_name = kiosk_name
        self.key = key
        self.timeout = timeout
        self.clock = clock
        self._local = threading.local()

    def _connection(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection | None = getattr(self._local, "conn", None)
        if conn is None:
            cls = (
                http.client.HTTPSConnection
                if self.scheme == "https"
                else http.client.HTTPConnection
            )
            conn = cls(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def _drop_connection(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        token: str | None = None,
        idempotency_key: str | None = None,
    ) -> ApiResponse:
        target = f"{self.prefix}{API}{path}"
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        headers = sign_request(self.key, self.kiosk_name, method, target, data, self.clock())
        headers["Content-Type"] = "application/json"
        headers["Accept"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        # One retry on a stale keep-alive connection, only when nothing was answered:
        # a fresh signature each time (the server refuses a replayed one).
        for attempt in (1, 2):
            try:
                conn = self._connection()
                conn.request(method, target, body=data or None, headers=headers)
                raw = conn.getresponse()
                status, payload = raw.status, raw.read()
                content_type = raw.getheader("Content-Type", "application/json")
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop_connection()
                if attempt == 2 or (idempotency_key is None and method not in ("GET", "HEAD")):
                    raise ServerUnavailable("connection lost") from None
                headers.update(
                    sign_request(self.key, self.kiosk_name, method, target, data, self.clock())
                )
            except (TimeoutError, OSError, http.client.HTTPException) as exc:
                self._drop_connection()
                raise ServerUnavailable(type(exc).__name__) from None
        if status in (502, 503, 504) and not _is_json(payload):
            raise ServerUnavailable(f"HTTP {status}")
        if status >= 500:
            log.warning("records server answered %d to %s %s", status, method, path.split("?")[0])
            raise ServerUnavailable(f"HTTP {status}")
        if not content_type.startswith("application/json"):
            return ApiResponse(status, payload, content_type.split(";")[0])
        return ApiResponse(status, _decode(payload))


def _is_json(payload: bytes) -> bool:
    try:
        json.loads(payload)
    except ValueError:
        return False
    return True


def _decode(payload: bytes) -> Any:
    if not payload:
        return {}
    try:
        return json.loads(payload)
    except ValueError:
        return {"message": "Réponse illisible du serveur."}
