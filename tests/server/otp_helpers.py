"""Real local delivery endpoints (SMTP, HTTP SMS gateway) and sign-in helpers."""

from __future__ import annotations

import email
import json
import re
import secrets
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.message import EmailMessage
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from server.delivery import HttpSmsSender, Sender, SmtpSender
from server.errors import AUTH_FAILED
from server.models import Kiosk, PendingSignIn
from server.services import outbox
from server.signin import sessions
from tests.server.conftest import World

FROM = "Mon dossier médical <noreply@dmp-kiosk.invalid>"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Inbox:
    """aiosmtpd handler: keeps every message the real SMTP server accepted."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, _server: Any, _session: Any, envelope: Any) -> str:  # noqa: N802
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def bodies(self) -> list[str]:
        return [m.get_content() for m in self.messages]  # type: ignore[attr-defined]

    def last_code(self) -> str:
        found = re.findall(r"\b(\d{6})\b", self.bodies()[-1])
        assert found, self.bodies()[-1]
        return str(found[0])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


class Gateway:
    """A local HTTP SMS gateway that answers 500 to the first `failures` posts."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.posts: list[dict[str, Any]] = []
        self.accepted: list[dict[str, Any]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                gateway.posts.append(body)
                status = 500 if gateway.failures > 0 else 200
                if gateway.failures > 0:
                    gateway.failures -= 1
                else:
                    gateway.accepted.append(body)
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args: Any) -> None:
                pass  # keep the test output clean

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sms"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Gateway:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


def email_senders(port: int) -> dict[str, Sender]:
    return {"email": SmtpSender("127.0.0.1", port, FROM)}


def sms_senders(url: str) -> dict[str, Sender]:
    return {"sms": HttpSmsSender(url)}


def deliver(world: World, senders: dict[str, Sender]) -> int:
    return outbox.run_once(world.rt, senders)


def card_pending(world: World, patient: str, kiosk: str = "borne-1") -> str:
    """What the card sign-in (the other half of issue #4) leaves after a valid card
    signature: a pending sign-in with the card and the kiosk."""
    token = secrets.token_urlsafe(32)
    with world.rt.sessions() as s:
        row = s.query(Kiosk).filter_by(name=kiosk).first()
        if row is None:
            row = Kiosk(
                name=kiosk,
                cert_sha256=secrets.token_hex(32),
                cert_pem="-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
                registered_at=world.clock(),
            )
            s.add(row)
            s.flush()
        s.add(
            PendingSignIn(
                token_hash=sessions.token_hash(token),
                patient_id=world.ids[patient],
                first_factor="card",
                kiosk_id=row.id,
                card_cert_sha256="ab" * 32,
                card_serial="80250000000001",
                created_at=world.clock(),
                expires_at=world.clock() + timedelta(seconds=300),
            )
        )
        s.commit()
    return token


def post(world: World, path: str, body: Any, kiosk: Any = None) -> Any:
    """From a kiosk (every request signed) when one is given, else as a caller at home."""
    if kiosk is not None:
        return kiosk.call("POST", path, body)
    return world.client.post(f"/api/v1{path}", json=body)


GENERIC_401 = {
    "error": "unauthenticated",
    "reason": "authentication_failed",
    "message": AUTH_FAILED,
}
