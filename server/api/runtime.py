"""Per-application runtime (engine, keys, matrix, clock) and the per-request runner."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum
from typing import Any, TypeVar

from flask import Response, current_app, g, request
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from server.api import api
from server.crypto import Keyring
from server.errors import (
    Conflict,
    DmpError,
    InvalidInput,
    MalformedRequest,
    TooManyRequests,
    Unauthenticated,
    authentication_failed,
)
from server.models import IdempotencyRecord
from server.policy import Matrix
from server.receipt_signer import ReceiptSigner
from server.services.context import Ctx, Principal
from server.signin import kiosk_identity, request_signing, sessions
from server.signin import trace as signin_trace
from server.signin.events import SigninAction, SigninFailure, SigninReason
from server.signin.kiosk_identity import KioskDirectory, VerifiedKiosk
from server.signin.rate_limits import RateLimiter
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
    # Checked at startup (receipt_signer.from_settings); None when not configured.
    receipt_signer: ReceiptSigner | None = None
    # Trust anchors from PKI_DIR, parsed lazily and cached: a server without a PKI still
    # starts, and only card and kiosk authentication answer "PKI non configurée".
    trust: TrustStore = field(init=False)
    # Kiosk rows for the challenge route only (kiosk_identity.KioskDirectory).
    kiosks: KioskDirectory = field(init=False)
    # Unauthenticated callers, per address (and kiosk name): signin/rate_limits.py.
    public_limits: RateLimiter = field(init=False)
    kiosk_limits: RateLimiter = field(init=False)

    def __post_init__(self) -> None:
        self.trust = TrustStore(self.settings["PKI_DIR"])
        self.kiosks = KioskDirectory()
        s = self.settings
        self.public_limits = RateLimiter(s["SIGNIN_RATE_PER_MINUTE"], s["SIGNIN_RATE_BURST"])
        self.kiosk_limits = RateLimiter(
            s["KIOSK_SIGNIN_RATE_PER_MINUTE"], s["KIOSK_SIGNIN_RATE_BURST"]
        )

    def ctx(self, session: Session) -> Ctx:
        return Ctx(
            session,
            self.settings,
            self.keyring,
            self.matrix,
            self.clock,
            receipts=self.receipt_signer,
        )


_T = TypeVar("_T")


def runtime() -> Runtime:
    rt: Runtime = current_app.extensions["dmp"]
    return rt


_UNPARSED = object()


def json_body() -> Any:
    parsed = g.get("dmp_parsed_body", _UNPARSED)
    if parsed is not _UNPARSED:
        return parsed  # parsed and checked by the boundary (boundary.check)
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


class Caller(Enum):
    """The three kinds of caller a route serves; every route runs through `_execute`."""

    SESSION = "session"  # a server-side session (bearer token); a kiosk signature if any
    KIOSK = "kiosk"  # no session yet, but a verified kiosk signature is mandatory
    PUBLIC = "public"  # no session; a kiosk signature, if any, is verified


Work = Callable[[Ctx, VerifiedKiosk | None, Principal | None], Any]


def run(
    work: Callable[[Ctx, Principal], Any],
    *,
    status: int = 200,
    write: bool = False,
    refusal: Callable[[], DmpError] = authentication_failed,
) -> Response:
    """A route for a signed-in caller: resolves the session, runs one use case in one
    transaction, answers JSON. A write carrying an Idempotency-Key stores its answer in
    the same transaction, so a retry after a lost answer replays it instead of acting
    twice. `refusal`: the answer to a failed sign-in check inside the use case (a card
    shown at the counter), when it is not the caller's own authentication that failed."""
    return _execute(
        Caller.SESSION,
        lambda ctx, _kiosk, who: work(ctx, _known(who)),
        status,
        write=write,
        refusal=refusal,
    )


def run_card(
    work: Callable[[Ctx, Principal, VerifiedKiosk], Any],
    *,
    status: int = 200,
    write: bool = False,
    refusal: Callable[[], DmpError] = authentication_failed,
) -> Response:
    """A route for a signed-in caller that only a kiosk may relay (the card in its
    reader): a session route whose kiosk signature is mandatory."""
    return _execute(
        Caller.SESSION,
        lambda ctx, kiosk, who: work(ctx, _known(who), _known(kiosk)),
        status,
        write=write,
        refusal=refusal,
        kiosk_required=True,
    )


def run_kiosk(
    work: Callable[[Ctx, VerifiedKiosk], Any], *, status: int = 200, recent_row: bool = False
) -> Response:
    """A public route that only a registered kiosk may call (card sign-in). Not
    remembered for replay (kiosk_identity.verify_request): both such routes are safe to
    replay, the challenge one changing nothing, the sign-in one spending its challenge.
    `recent_row`: the kiosk row may be a few seconds old (KioskDirectory)."""
    return _execute(
        Caller.KIOSK,
        lambda ctx, kiosk, _who: work(ctx, _known(kiosk)),
        status,
        recent_row=recent_row,
        kiosk_required=True,
    )


def run_public(work: Callable[[Ctx, VerifiedKiosk | None], Any], *, status: int = 200) -> Response:
    """A route without a session (online sign-in): the proof is in the body."""
    return _execute(Caller.PUBLIC, lambda ctx, kiosk, _who: work(ctx, kiosk), status)


def _known(value: _T | None) -> _T:
    if value is None:  # _execute resolved it for this kind of caller
        raise RuntimeError("caller not resolved")
    return value


def _execute(
    caller: Caller,
    work: Work,
    status: int,
    *,
    write: bool = False,
    recent_row: bool = False,
    refusal: Callable[[], DmpError] = authentication_failed,
    kiosk_required: bool = False,
) -> Response:
    """Resolves the caller, runs the use case in one transaction, answers JSON, and writes
    once what every route shares: a failed sign-in check is traced and committed (with
    the counters and spent challenges it left) and answered with the generic 401; a
    concurrent twin of a write is a 409; anything else rolls back (a policy denial has
    already committed its own trace entry)."""
    rt = runtime()
    with rt.sessions() as session:
        ctx = rt.ctx(session)
        if caller is not Caller.SESSION:
            _rate_limit(ctx, rt, caller)
        kiosk = _verified_kiosk(ctx, caller, recent_row)
        who = None
        if caller is Caller.SESSION:
            who = _resolve(ctx, kiosk)
        if kiosk_required and kiosk is None:
            _refuse(ctx, SigninFailure(SigninReason.KIOSK_SIGNATURE_MISSING, SigninAction.KIOSK))
            raise authentication_failed()
        try:
            _refuse_idempotency_on_secret_route()
            key = _idempotency_key() if write and who is not None else None
            if key is not None and who is not None:
                replay = _replay(session, who, key)
                if replay is not None:
                    return replay
            response = _as_response(_with_receipt(ctx, work(ctx, kiosk, who)), status)
            if key is not None and who is not None:
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
        except SigninFailure as failure:
            _refuse(ctx, failure, kiosk.name if kiosk else None)
            raise refusal() from None
        except DmpError as error:
            if ctx.unfinished is not None:
                # Allowed, then refused by a check on stored data (a unique id taken, a
                # state): the request's writes are undone, its answer is traced.
                session.rollback()
                ctx.unfinished(error)
                session.commit()
            raise
        except IntegrityError:
            # A concurrent twin (same idempotency key or unique id) won the race: the
            # caller retries and gets the stored answer.
            session.rollback()
            raise Conflict(
                "concurrent_write", "Requête concurrente : veuillez réessayer."
            ) from None


def _resolve(ctx: Ctx, kiosk: VerifiedKiosk | None) -> Principal:
    """The session's caller. A session shown by another terminal than its own is
    answered like any invalid session, and traced under its holder (a patient's own
    chain for hers): a token that left its terminal is worth knowing about."""
    try:
        return sessions.resolve(ctx, _token(), kiosk.name if kiosk else None)
    except sessions.SessionElsewhere as misuse:
        ctx.session.rollback()  # the replay record of the request, if any
        failure = SigninFailure(
            SigninReason.SESSION_OTHER_TERMINAL,
            SigninAction.KIOSK,
            holder=misuse.holder,
            detail={"session_terminal": misuse.bound},
        )
        _refuse(ctx, failure, kiosk.name if kiosk else None)
        raise


def _with_receipt(ctx: Ctx, result: Any) -> Any:
    """A consent-bearing change answers with the id of the receipt it produced (issue
    13): once here rather than in each use case, so that no change forgets it. Stored
    with the answer, a replayed request names the same receipt."""
    if ctx.receipt_id is not None and isinstance(result, dict):
        return {**result, "receipt_id": ctx.receipt_id}
    return result


def _rate_limit(ctx: Ctx, rt: Runtime, caller: Caller) -> None:
    """429 before any other work for an unauthenticated caller past its rate; the first
    refusal of an episode is traced (signin/rate_limits.py)."""
    address = request.remote_addr or "?"
    claimed = request.headers.get(request_signing.HEADER_KIOSK)
    if caller is Caller.KIOSK or claimed:
        # Kiosks relay many people's sign-ins: their own, higher rate, per address and
        # per claimed name. A false claim gains nothing: its signature check fails
        # before any costly work (no password is hashed for an unverified kiosk).
        keys = [(rt.kiosk_limits, f"address:{address}")]
        if claimed:
            keys.append((rt.kiosk_limits, f"kiosk:{claimed[:100]}"))
    else:
        keys = [(rt.public_limits, f"address:{address}")]
    for limiter, key in keys:
        verdict = limiter.check(key, ctx.now)
        if verdict.allowed:
            continue
        if verdict.trace:
            signin_trace.record(
                ctx,
                SigninAction.KIOSK if caller is Caller.KIOSK else SigninAction.SIGNIN,
                SigninReason.RATE_LIMITED,
                holder=None,
                kiosk=claimed,
                allowed=False,
                detail={"limited": key, "refused_before": verdict.refused_before},
            )
            ctx.session.commit()
        error = TooManyRequests(
            "rate_limited", "Trop de tentatives : patientez une minute avant de réessayer."
        )
        error.retry_after = verdict.retry_after
        raise error


def _refuse(ctx: Ctx, failure: SigninFailure, kiosk: str | None = None) -> None:
    """The failure's trace entry, committed with whatever the failure left (failure
    counters, a spent challenge, an ended session): they must outlive the refusal."""
    signin_trace.refuse(ctx, failure, kiosk)
    ctx.session.commit()


def _as_response(result: Any, status: int) -> Response:
    if isinstance(result, Response):
        return result
    return Response(json.dumps(result, ensure_ascii=False), status, mimetype="application/json")


def _verified_kiosk(ctx: Ctx, caller: Caller, recent_row: bool) -> VerifiedKiosk | None:
    """The kiosk whose signature this request carries, verified; None without any kiosk
    header. A failed check undoes what it began (its replay record), is traced and
    committed, and answered with the generic error."""
    try:
        kiosk = kiosk_identity.verify_request(
            ctx,
            runtime().trust,
            request.method,
            request_target(),
            {name: request.headers.get(name) for name in request_signing.HEADERS},
            request.get_data(),
            remember=caller is not Caller.KIOSK,
            directory=runtime().kiosks if recent_row else None,
        )
    except SigninFailure as failure:
        ctx.session.rollback()
        _refuse(ctx, failure, request.headers.get(request_signing.HEADER_KIOSK))
        raise authentication_failed() from None
    return kiosk


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
