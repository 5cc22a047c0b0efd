"""The kiosk's typed client against a recording HTTP server: what goes on the wire."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NoReturn

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from kiosk.client import Capabilities, ServerClient, ServerUnavailable


class Expired(Exception):
    pass


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str], Any]] = []  # noqa: RUF012
    status = 200

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        Recorder.seen.append((self.command, self.path, dict(self.headers), body))
        payload = json.dumps({"message": "Refusé.", "reason": "x"}).encode()
        self.send_response(Recorder.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer  # noqa: N815

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@pytest.fixture
def server() -> Iterator[ServerClient]:
    Recorder.seen, Recorder.status = [], 200
    http = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    key = ec.generate_private_key(ec.SECP256R1())
    yield ServerClient(f"http://127.0.0.1:{http.server_port}", "borne-1", key, timeout=5)
    http.shutdown()
    http.server_close()


def _expired() -> NoReturn:
    raise Expired


def test_session_calls_are_signed_carry_the_token_and_the_submission_id(
    server: ServerClient,
) -> None:
    api = server.session("tok", _expired)
    api.deposit(4, {"title": "t"}, submission="0b7c6f57-1d4e-4a8c-9a57-2f7b3c1d9e10")
    method, path, headers, body = Recorder.seen[-1]
    assert (method, path, body) == ("POST", "/api/v1/dossiers/4/documents", {"title": "t"})
    assert headers["Authorization"] == "Bearer tok"
    assert headers["Idempotency-Key"] == "0b7c6f57-1d4e-4a8c-9a57-2f7b3c1d9e10"
    assert headers["X-DMP-Kiosk"] == "borne-1"
    assert headers["X-DMP-Signature"]


def test_the_totp_enrolment_sends_no_idempotency_key(server: ServerClient) -> None:
    """The server refuses one on this route: its answer holds a secret, kept nowhere."""
    server.session("tok", _expired).enrol_totp()
    method, path, headers, _body = Recorder.seen[-1]
    assert (method, path) == ("POST", "/api/v1/me/totp")
    assert "Idempotency-Key" not in headers


def test_an_id_from_a_kiosk_url_stays_one_path_segment(server: ServerClient) -> None:
    api = server.session("tok", _expired)
    api.document(1, "../../me/totp")
    api.block(1, "3750000/x?y", submission="s")
    assert Recorder.seen[0][1] == "/api/v1/dossiers/1/documents/..%2F..%2Fme%2Ftotp"
    assert Recorder.seen[1][1] == "/api/v1/dossiers/1/blocks/3750000%2Fx%3Fy"


def test_a_401_ends_the_kiosk_session_and_a_refusal_relays_the_french_message(
    server: ServerClient,
) -> None:
    api = server.session("tok", _expired)
    Recorder.status = 403
    r = api.list_documents(2, show_all=True)
    assert Recorder.seen[-1][1] == "/api/v1/dossiers/2/documents?all=true"
    assert (r.ok, r.message, r.reason) == (False, "Refusé.", "x")
    Recorder.status = 401
    with pytest.raises(Expired):
        api.dossier(2)
    Recorder.status = 500
    with pytest.raises(ServerUnavailable):
        api.dossier(2)


def test_an_unreachable_server_is_server_unavailable() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    client = ServerClient("http://127.0.0.1:9", "borne-1", key, timeout=2)
    with pytest.raises(ServerUnavailable):
        client.card_challenge()


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, Capabilities()),
        ("nonsense", Capabilities()),
        ({"emergency": "open_bar", "clinical_reading": "yes"}, Capabilities()),
        (
            {
                "read_categories": ["synthese", 3],
                "deposit_categories": ["dispensation"],
                "emergency": "bris_de_glace",
                "clinical_reading": True,
                "join_care_team": False,
            },
            Capabilities(
                frozenset({"synthese"}),
                frozenset({"dispensation"}),
                "bris_de_glace",
                clinical_reading=True,
            ),
        ),
    ],
)
def test_capabilities_offer_nothing_unless_the_server_says_so(
    raw: Any, expected: Capabilities
) -> None:
    assert Capabilities.from_answer(raw) == expected
