"""The kiosk's only way to the records server: every call goes through `ServerClient`.

Each request is signed with the kiosk's key (server/signin/request_signing.py, the one
module the kiosk shares with the server), so the server always knows which registered
kiosk speaks. The kiosk decides nothing: it relays and shows the server's answer,
including its French error message.

`ServerClient` holds the kiosk's own calls (card sign-in, one-time codes, session
upkeep); `SessionClient` the calls made on behalf of whoever is signed in, one method
per API operation, so that no URL of the API is written anywhere else in the kiosk.

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
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives.asymmetric import ec
from flask import has_request_context

from kiosk import field_words
from server.signin.request_signing import sign_request

log = logging.getLogger("dmp.kiosk.client")

API = "/api/v1"
FHIR_API = "/fhir/R4"


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
        """The server's French message, shown as is to the user; a refusal of one of the
        kiosk's fields is said with the field's label instead of its API name
        (kiosk/field_words.py), in the page's language."""
        if isinstance(self.body, dict) and isinstance(self.body.get("message"), str):
            said = str(self.body["message"])
            if has_request_context():
                return field_words.reworded(self.reason, said) or said
            return said
        return "Le serveur a refusé la demande."


@dataclass(frozen=True)
class Capabilities:
    """What the server says a professional may do in general (`may` of GET /session).

    The kiosk offers an action only when this allows it; the server still decides each
    request on its dossier. Anything missing or malformed offers nothing."""

    read_categories: frozenset[str] = frozenset()
    deposit_categories: frozenset[str] = frozenset()
    emergency: str | None = None  # "bris_de_glace" or "centre_15"
    clinical_reading: bool = False
    join_care_team: bool = False

    @classmethod
    def from_answer(cls, raw: Any) -> Capabilities:
        if not isinstance(raw, dict):
            return cls()

        def names(key: str) -> frozenset[str]:
            value = raw.get(key)
            return (
                frozenset(v for v in value if isinstance(v, str))
                if isinstance(value, list)
                else frozenset()
            )

        emergency = raw.get("emergency")
        return cls(
            read_categories=names("read_categories"),
            deposit_categories=names("deposit_categories"),
            emergency=emergency if emergency in ("bris_de_glace", "centre_15") else None,
            clinical_reading=raw.get("clinical_reading") is True,
            join_care_team=raw.get("join_care_team") is True,
        )


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
        raw: bool = False,
        api: str = API,
    ) -> ApiResponse:
        """`raw`: a successful answer's body stays bytes whatever its type (a document's
        content may itself be JSON, which is shown, not decoded). `api`: the door, the
        JSON API or the FHIR one (FHIR_API), both behind the same signed requests."""
        target = f"{self.prefix}{api}{path}"
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
                answer = conn.getresponse()
                status, payload = answer.status, answer.read()
                content_type = answer.getheader("Content-Type", "application/json")
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
        if (raw and 200 <= status < 300) or not content_type.startswith("application/json"):
            return ApiResponse(status, payload, content_type.split(";")[0])
        return ApiResponse(status, _decode(payload))

    # ---- the kiosk's own calls (no session yet, or its upkeep) --------------------------

    def card_challenge(self) -> ApiResponse:
        """A fresh sign-in challenge for a card to sign."""
        return self.call("POST", "/auth/card/challenge")

    def card_sign_in(self, proof: dict[str, str]) -> ApiResponse:
        """A card's signed challenge: 201 with a token (professional) or a pending token
        (patient, who then types a one-time code)."""
        return self.call("POST", "/auth/card/signin", proof)

    def send_code(self, pending_token: str, channel: str | None) -> ApiResponse:
        """`channel` None: the server sends where the patient chose to be told."""
        body = {"pending_token": pending_token}
        if channel is not None:
            body["channel"] = channel
        return self.call("POST", "/signin/code", body)

    def verify_code(self, pending_token: str, code: str, *, totp: bool) -> ApiResponse:
        body = {"pending_token": pending_token, "code": code, "method": "totp" if totp else "code"}
        return self.call("POST", "/signin/otp", body)

    def password_sign_in(self, ins: str, password: str) -> ApiResponse:
        """The online space's first factor (INS and password): a pending token, then the
        same code step as after a card."""
        return self.call("POST", "/signin/password", {"ins": ins, "password": password})

    def sign_out(self, token: str) -> ApiResponse:
        """End a session that no card holds (the online space's)."""
        return self.call("DELETE", "/session", token=token)

    def session_challenge(self, token: str) -> ApiResponse:
        """A challenge for the card of a running session to re-sign."""
        return self.call("POST", "/session/card/challenge", token=token)

    def resign(self, token: str, proof: dict[str, str]) -> ApiResponse:
        return self.call("POST", "/session/card/resign", proof, token=token)

    def card_removed(self, token: str) -> ApiResponse:
        """The card left the reader: the server ends the session now."""
        return self.call("POST", "/session/card/removed", token=token)

    def whoami(self, token: str) -> ApiResponse:
        return self.call("GET", "/session", token=token)

    def capabilities(self, token: str) -> Capabilities:
        """What the caller may do; nothing when the server does not say."""
        r = self.whoami(token)
        return Capabilities.from_answer(
            r.body.get("may") if r.ok and isinstance(r.body, dict) else None
        )

    def session(self, token: str, on_expired: Callable[[], NoReturn]) -> SessionClient:
        return SessionClient(self, token, on_expired)


# Directory answers per page: as many big rows as a kiosk screen shows at once.
DIRECTORY_PAGE = 6


def _segment(value: str | int) -> str:
    """One path segment: an id taken from a kiosk URL can never add a path of its own."""
    return quote(str(value), safe="")


class SessionClient:
    """The API on behalf of one signed-in session. A 401 means the server ended the
    session (idle, lifetime, card re-signature): `on_expired` is called, and raises."""

    def __init__(
        self, client: ServerClient, token: str, on_expired: Callable[[], NoReturn]
    ) -> None:
        self.client = client
        self.token = token
        self.on_expired = on_expired

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        idempotency_key: str | None = None,
        raw: bool = False,
    ) -> ApiResponse:
        r = self.client.call(
            method, path, body, token=self.token, idempotency_key=idempotency_key, raw=raw
        )
        if r.status == 401:
            self.on_expired()
        return r

    def summary(self, dossier_id: int) -> ApiResponse:
        """The patient summary, the IPS Bundle of GET /fhir/R4/Patient/{id}/$summary
        (server/fhir/summary.py): decided, built and traced by the server; a refusal's
        OperationOutcome is turned into the JSON API's {reason, message}."""
        r = self.client.call(
            "GET", f"/Patient/{_segment(dossier_id)}/$summary", token=self.token, api=FHIR_API
        )
        if r.status == 401:
            self.on_expired()
        body = r.body
        if isinstance(body, bytes):  # application/fhir+json is not decoded by `call`
            body = _decode(body)
        if not r.ok and isinstance(body, dict):
            issue = (body.get("issue") or [{}])[0]
            details = issue.get("details") or {}
            coding = (details.get("coding") or [{}])[0]
            body = {"reason": coding.get("code", ""), "message": details.get("text", "")}
        return ApiResponse(r.status, body, "application/json")

    def _dossier(self, dossier_id: int) -> str:
        return f"/dossiers/{_segment(dossier_id)}"

    def _document(self, dossier_id: int, logical_id: str) -> str:
        return f"{self._dossier(dossier_id)}/documents/{_segment(logical_id)}"

    # ---- who, and the dossier ---------------------------------------------------------

    def whoami(self) -> ApiResponse:
        return self._call("GET", "/session")

    def lookup_dossier(self, ins: str) -> ApiResponse:
        return self._call("POST", "/dossiers/lookup", {"ins": ins})

    def open_dossier(self, body: dict[str, Any], *, submission: str) -> ApiResponse:
        return self._call("POST", "/dossiers", body, idempotency_key=submission)

    def dossier(self, dossier_id: int) -> ApiResponse:
        return self._call("GET", self._dossier(dossier_id))

    def close_dossier(self, dossier_id: int, *, delete: bool, submission: str) -> ApiResponse:
        return self._call(
            "POST",
            f"{self._dossier(dossier_id)}/close",
            {"confirm": True, "delete": delete},
            idempotency_key=submission,
        )

    def close_draft(self, dossier_id: int, *, delete: bool) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/close/in-person/draft"
        return self._call("POST", path, {"confirm": True, "delete": delete})

    def close_in_person(self, dossier_id: int, signed: dict[str, Any]) -> ApiResponse:
        """A professional closes at the desk: `signed`, the closure's draft both cards
        signed (the draft is single use: no idempotency key needed)."""
        return self._call("POST", f"{self._dossier(dossier_id)}/close/in-person", signed)

    def reopen_dossier(self, dossier_id: int, *, submission: str) -> ApiResponse:
        return self._call("POST", f"{self._dossier(dossier_id)}/reopen", idempotency_key=submission)

    # ---- documents -----------------------------------------------------------------------

    def list_documents(self, dossier_id: int, *, show_all: bool = False) -> ApiResponse:
        query = "?all=true" if show_all else ""
        return self._call("GET", f"{self._dossier(dossier_id)}/documents{query}")

    def document(self, dossier_id: int, logical_id: str) -> ApiResponse:
        return self._call("GET", self._document(dossier_id, logical_id))

    def document_content(self, dossier_id: int, logical_id: str) -> ApiResponse:
        """The document's bytes (`body`) and media type, never decoded."""
        return self._call("GET", f"{self._document(dossier_id, logical_id)}/content", raw=True)

    def document_structure(self, dossier_id: int, logical_id: str) -> ApiResponse:
        """Sections, entries and text status of a document (docs/documents.md); a server
        without the route answers 404, and the kiosk then shows the document's text."""
        return self._call("GET", f"{self._document(dossier_id, logical_id)}/structure")

    def search_documents(
        self, dossier_id: int, q: str, *, category: str | None = None
    ) -> ApiResponse:
        """The documents of the dossier this caller may read that hold these words, each
        with a snippet whose matched words are between [[ and ]] (docs/documents.md)."""
        query = urlencode({"q": q, **({"category": category} if category else {})})
        return self._call("GET", f"{self._dossier(dossier_id)}/search?{query}")

    def document_versions(self, dossier_id: int, logical_id: str) -> ApiResponse:
        return self._call("GET", f"{self._document(dossier_id, logical_id)}/versions")

    def document_diff(self, dossier_id: int, logical_id: str, against: str) -> ApiResponse:
        query = urlencode({"against": against})
        return self._call("GET", f"{self._document(dossier_id, logical_id)}/diff?{query}")

    def deposit(self, dossier_id: int, body: dict[str, Any], *, submission: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/documents"
        return self._call("POST", path, body, idempotency_key=submission)

    def replace(
        self, dossier_id: int, logical_id: str, body: dict[str, Any], *, submission: str
    ) -> ApiResponse:
        path = f"{self._document(dossier_id, logical_id)}/replace"
        return self._call("POST", path, body, idempotency_key=submission)

    def set_masked(
        self, dossier_id: int, logical_id: str, masked: bool, *, submission: str
    ) -> ApiResponse:
        return self._call(
            "PATCH",
            f"{self._document(dossier_id, logical_id)}/visibility",
            {"masked_ps": masked, "confirm": True},
            idempotency_key=submission,
        )

    # ---- who has access ------------------------------------------------------------------

    def access(self, dossier_id: int) -> ApiResponse:
        return self._call("GET", f"{self._dossier(dossier_id)}/access")

    # ---- who may act for whom (issue 13) ---------------------------------------------

    def my_dossiers(self) -> ApiResponse:
        """The dossiers the card holder may act on for someone else."""
        return self._call("GET", "/me/dossiers")

    def representatives(self, dossier_id: int) -> ApiResponse:
        return self._call("GET", f"{self._dossier(dossier_id)}/representatives")

    def change_representative(
        self, dossier_id: int, ins: str, *, add: bool, identity_checked: bool, submission: str
    ) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/representatives" + ("" if add else "/remove")
        body = {"ins": ins, "identity_checked": identity_checked}
        return self._call("POST", path, body, idempotency_key=submission)

    def delegations(self, dossier_id: int) -> ApiResponse:
        return self._call("GET", f"{self._dossier(dossier_id)}/delegations")

    def give_delegation(
        self, dossier_id: int, body: dict[str, Any], *, submission: str
    ) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/delegations"
        return self._call("POST", path, body, idempotency_key=submission)

    def revoke_delegation(
        self, dossier_id: int, delegation_id: int, *, submission: str
    ) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/delegations/{_segment(delegation_id)}/revoke"
        return self._call("POST", path, idempotency_key=submission)

    def block(self, dossier_id: int, national_id: str, *, submission: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/blocks/{_segment(national_id)}"
        return self._call("PUT", path, idempotency_key=submission)

    def unblock(self, dossier_id: int, national_id: str, *, submission: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/blocks/{_segment(national_id)}"
        return self._call("DELETE", path, idempotency_key=submission)

    def set_secret_connection(self, dossier_id: int, *, on: bool, submission: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/secret-connection"
        return self._call("PUT", path, {"on": on}, idempotency_key=submission)

    def set_medecin_traitant(
        self, dossier_id: int, national_id: str, *, submission: str
    ) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/medecin-traitant"
        return self._call("PUT", path, {"national_id": national_id}, idempotency_key=submission)

    def add_care_team(self, dossier_id: int, national_id: str, *, submission: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/care-team"
        return self._call("POST", path, {"national_id": national_id}, idempotency_key=submission)

    def find_professionals(
        self, q: str, *, purpose: str, page: int = 1, opening: bool = False
    ) -> ApiResponse:
        """The directory by name (issue 14): public data, decided and traced by the server."""
        params = {"q": q, "purpose": purpose, "page": str(page), "limit": str(DIRECTORY_PAGE)}
        if opening:
            params["during"] = "dossier_opening"
        return self._call("GET", f"/directory/professionals?{urlencode(params)}")

    def set_emergency_settings(
        self, dossier_id: int, *, bris_de_glace: bool, centre_15: bool, submission: str
    ) -> ApiResponse:
        return self._call(
            "PUT",
            f"{self._dossier(dossier_id)}/emergency-settings",
            {"bris_de_glace": bris_de_glace, "centre_15": centre_15},
            idempotency_key=submission,
        )

    # ---- consents given in person: a draft, then both cards' signatures of it --------
    # (docs/receipts.md, co-presence; `Terminal.copresence` has the cards sign)

    def consent_draft(self, dossier_id: int) -> ApiResponse:
        return self._call("POST", f"{self._dossier(dossier_id)}/consents/in-person/draft")

    def consent_in_person(self, dossier_id: int, signed: dict[str, Any]) -> ApiResponse:
        """The patient at the counter consents: `signed`, the draft both cards signed."""
        return self._call("POST", f"{self._dossier(dossier_id)}/consents/in-person", signed)

    def creation_draft(self, request: dict[str, Any]) -> ApiResponse:
        return self._call("POST", "/dossiers/in-person/draft", request)

    def open_dossier_in_person(
        self, request: dict[str, Any], signed: dict[str, Any]
    ) -> ApiResponse:
        """A dossier opened at the desk: the request, and the draft both cards signed (a
        second use of the draft is refused by the server: no idempotency key needed)."""
        return self._call("POST", "/dossiers/in-person", {"request": request, **signed})

    def representative_draft(self, dossier_id: int, ins: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/representatives/in-person/draft"
        return self._call("POST", path, {"ins": ins})

    def add_representative_in_person(self, dossier_id: int, signed: dict[str, Any]) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/representatives/in-person"
        return self._call("POST", path, signed)

    def join_care_team(self, dossier_id: int, *, submission: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/care-team/join"
        return self._call("POST", path, idempotency_key=submission)

    def emergency_access(self, dossier_id: int, mode: str, reason: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/emergency-access"
        return self._call("POST", path, {"mode": mode, "reason": reason})

    def history(self, dossier_id: int, *, before: int | None = None) -> ApiResponse:
        query = f"?before={before}" if before is not None else ""
        return self._call("GET", f"{self._dossier(dossier_id)}/history{query}")

    def log_inclusion(self, index: int, size: int) -> ApiResponse:
        """An inclusion proof from the verifiable log (an open route: hashes only)."""
        return self._call("GET", f"/log/proof/inclusion?index={index}&size={size}")

    def log_consistency(self, old: int, new: int) -> ApiResponse:
        """A consistency proof between two signed sizes of the log (hashes only)."""
        return self._call("GET", f"/log/proof/consistency?from={old}&to={new}")

    # ---- signed receipts (docs/receipts.md) -----------------------------------------------

    def receipts(self, dossier_id: int) -> ApiResponse:
        return self._call("GET", f"{self._dossier(dossier_id)}/receipts")

    def receipt(self, receipt_id: str) -> ApiResponse:
        """The receipt's canonical content, decoded (the kiosk shows it; the bytes that
        were signed are the API's to hand to whoever verifies them)."""
        return self._call("GET", f"/receipts/{_segment(receipt_id)}")

    # ---- export of the dossier (docs/export.md) --------------------------------------------

    def start_export(self, dossier_id: int, *, submission: str) -> ApiResponse:
        path = f"{self._dossier(dossier_id)}/exports"
        return self._call("POST", path, idempotency_key=submission)

    def export_status(self, export_id: str) -> ApiResponse:
        return self._call("GET", f"/exports/{_segment(export_id)}")

    def export_link(self, export_id: str) -> ApiResponse:
        """A new single-use download link. No Idempotency-Key: the answer holds the
        link, which no replay record may keep."""
        return self._call("POST", f"/exports/{_segment(export_id)}/link")

    # ---- the patient's authenticator app ---------------------------------------------------

    def enrol_totp(self) -> ApiResponse:
        """A new TOTP secret and its QR code. No Idempotency-Key: the answer holds a
        secret, which no replay record may keep."""
        return self._call("POST", "/me/totp")

    def set_password(self, password: str) -> ApiResponse:
        """The patient's password for the online space, set or reset at the kiosk."""
        return self._call("PUT", "/me/password", {"password": password})

    def confirm_totp(self, code: str) -> ApiResponse:
        return self._call("POST", "/me/totp/confirm", {"code": code})

    # ---- the privacy officer's reviews (docs/alerts.md) ---------------------------------

    def reviews(self, status: str | None = None) -> ApiResponse:
        query = f"?{urlencode({'status': status})}" if status else ""
        return self._call("GET", f"/reviews{query}")

    def review(self, case_id: int) -> ApiResponse:
        return self._call("GET", f"/reviews/{_segment(case_id)}")

    def review_outcome(
        self, case_id: int, outcome: str, comment: str | None, *, submission: str
    ) -> ApiResponse:
        body: dict[str, Any] = {"outcome": outcome}
        if comment:
            body["comment"] = comment
        return self._call(
            "PUT", f"/reviews/{_segment(case_id)}/outcome", body, idempotency_key=submission
        )


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
