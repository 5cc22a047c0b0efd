"""Per-application runtime (engine, keys, matrix, clock) and the per-request runner."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from flask import Response, current_app, g, request
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.api import api
from server.crypto import Keyring
from server.errors import Conflict, InvalidInput, MalformedRequest, Unauthenticated
from server.models import IdempotencyRecord
from server.policy import Matrix
from server.services.context import Ctx, Principal
from server.signin import kiosk_identity, request_signing, sessions
from server.signin.kiosk_identity import AuthFailure, KioskDirectory, VerifiedKiosk
from server.trust import TrustStore

IDEMPOTENCY_HEADER = "Idempotency-Key"


@dataclass
class Runtime:
    engine: Engine
    sessions: sessionmaker[Session]
    keyring: Keyring
    matrix: Matrix
    settings: dict[str, Any]
    clock: Callable[[], datetime]
    # Trust anchors from PKI_DIR, parsed lazily and cached: a server without a PKI still
    # starts, and only card and kiosk authentication answer "PKI non configurée".
    trust: TrustStore = field(init=False)
    # Kiosk rows for the challenge route only (kiosk_identity.KioskDirectory).
    kiosks: KioskDirectory = field(init=False)

    def __post_init__(self) -> None:
        self.trust = TrustStore(self.settings["PKI_DIR"])
        self.kiosks = KioskDirectory()

    def ctx(self, session: Session) -> Ctx:
        return Ctx(session, self.settings, self.keyring, self.matrix, self.clock)


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["dmp"]
    return rt


def json_body() -> Any:
    if not request.data:
        raise MalformedRequest("json_body_required", "Un corps JSON est attendu.")
    try:
        return json.loads(request.data)
    except (ValueError, UnicodeDecodeError):
        raise MalformedRequest(
            "json_malformed", "Le corps de la requête n'est pas du JSON valide."
        ) from None


def _token() -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("session_invalid", "Session absente ou expirée.")
    return token.strip()


def request_target() -> str:
    """The path and raw query string a kiosk signed."""
    query = request.query_string.decode("latin-1")
    return f"{request.path}?{query}" if query else request.path


def verified_kiosk(
    ctx: Ctx, *, remember: bool = True, recent_row: bool = False
) -> VerifiedKiosk | None:
    """The kiosk whose signature this request carries, verified; None without any kiosk
    header. A failed check is traced (committed) and answered with the generic error.
    `remember`, `recent_row` (read the kiosk from runtime().kiosks): see
    kiosk_identity.verify_request."""
    try:
        kiosk = kiosk_identity.verify_request(
            ctx,
            runtime().trust,
            request.method,
            request_target(),
            {name: request.headers.get(name) for name in request_signing.HEADERS},
            request.get_data(),
            remember=remember,
            directory=runtime().kiosks if recent_row else None,
        )
    except AuthFailure as failure:
        ctx.session.rollback()
        kiosk_identity.record_failure(
            ctx, failure, request.headers.get(request_signing.HEADER_KIOSK), "auth:kiosk"
        )
        ctx.session.commit()
        raise kiosk_identity.generic_error() from None
    g.dmp_kiosk = kiosk
    return kiosk


def current_kiosk() -> VerifiedKiosk | None:
    kiosk: VerifiedKiosk | None = g.get("dmp_kiosk")
    return kiosk


def run(
    work: Callable[[Ctx, Principal], Any], *, status: int = 200, write: bool = False
) -> Response:
    """Resolves the caller, runs one use case in one transaction, answers JSON.

    Errors roll everything back (a denial has already committed its own trace entry).
    A write carrying an Idempotency-Key stores its answer in the same transaction, so a
    retry after a lost answer replays it instead of acting twice.
    """
    rt = runtime()
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        try:
            kiosk = verified_kiosk(ctx)
            who = sessions.resolve(ctx, _token(), kiosk.name if kiosk else None)
            _refuse_idempotency_on_secret_route()
            key = _idempotency_key() if write else None
            if key is not None:
                replay = _replay(session, who, key)
                if replay is not None:
                    return replay
            result = work(ctx, who)
            if isinstance(result, Response):
                response = result
            else:
                response = Response(
                    json.dumps(result, ensure_ascii=False), status, mimetype="application/json"
                )
            if key is not None:
                session.add(
                    IdempotencyRecord(
                        actor=who.ref,
                        key=key,
                        request_hash=_request_hash(),
                        status=response.status_code,
                        body=response.get_data(),
                        created_at=ctx.now,
                    )
                )
            session.commit()
            return response
        except IntegrityError:
            # A concurrent twin (same idempotency key or unique id) won the race: the
            # caller retries and gets the stored answer. (Leaving the `with` block rolls
            # back whatever else failed.)
            session.rollback()
            raise Conflict(
                "concurrent_write", "Requête concurrente : veuillez réessayer."
            ) from None


def _idempotency_key() -> str | None:
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return None
    if not key or len(key) > 100 or not key.isprintable():
        raise InvalidInput("idempotency_key_invalid", "Clé d'idempotence invalide.")
    return key


def _refuse_idempotency_on_secret_route() -> None:
    # The idempotency store keeps the answer for a day: an answer holding a secret (route
    # declared secret_response=True) must never be kept, so such a route takes no key.
    if IDEMPOTENCY_HEADER in request.headers and request.endpoint in api.secret_endpoints:
        raise InvalidInput(
            "idempotency_key_not_allowed",
            "Cette requête ne prend pas de clé d'idempotence : sa réponse contient un secret.",
        )


def _request_hash() -> str:
    h = hashlib.sha256(f"{request.method} {request.path}\n".encode())
    h.update(request.get_data())
    return h.hexdigest()


def _replay(session: Session, who: Principal, key: str) -> Response | None:
    record = session.scalars(
        select(IdempotencyRecord).where(
            IdempotencyRecord.actor == who.ref, IdempotencyRecord.key == key
        )
    ).first()
    if record is None:
        return None
    if record.request_hash != _request_hash():
        raise Conflict(
            "idempotency_key_reused", "Cette clé d'idempotence a servi à une autre requête."
        )
    session.commit()  # keeps the session's last_seen update
    response = Response(record.body, record.status, mimetype="application/json")
    response.headers["Idempotent-Replayed"] = "true"
    return response
