"""Card challenges that the server issues without writing anything.

A challenge is what a card signs to prove it is in the reader. It must be random, short
lived, bound to the kiosk that asked (and, for a re-signature, to the session), and
usable once. Issuing one used to insert a row and commit it, which cost a durable
write per sign-in for a value that only has to be recognised later. Instead the
challenge carries its own binding, authenticated by the server:

    version (1) | purpose (1) | kiosk id (4) | expiry, Unix seconds (8) | nonce (16)
    | HMAC-SHA256 tag, truncated to 16 bytes, over all of the above and the session hash

46 bytes, within the 16-64 that the card profile accepts. The 16-byte nonce gives the
128 random bits; the tag key is derived from the master key (HKDF, purpose
"card-challenge"), so every server process sharing the master key recognises every
other's challenges, and nothing can be forged without it. Single use is enforced when
the challenge is spent: the sign-in inserts the nonce into `card_challenges` in the
same transaction as the session it opens, and a second insert of that nonce finds it
there (`spend`). Rows are kept only until the challenge's expiry.
"""

from __future__ import annotations

import secrets
import struct
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives import constant_time, hashes, hmac
from sqlalchemy import bindparam, delete
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from server.db import core
from server.models import CardChallenge, table_of
from server.services.context import Ctx
from server.signin.events import SigninFailure, SigninReason

VERSION = 1
PURPOSES = {"signin": 1, "resign": 2, "terminal": 3}  # terminal: terminal_signin.py
NONCE_BYTES = 16
TAG_BYTES = 16
KEY_PURPOSE = "card-challenge"
_HEAD = struct.Struct(">BBIQ16s")
SIZE = _HEAD.size + TAG_BYTES  # 46
_T = table_of(CardChallenge)
# Built once: these run on every sign-in (bench/signin_bench.py).
_SPEND = {
    name: dialect_insert(_T)
    .values(
        id=bindparam("id"),
        kiosk_id=bindparam("kiosk_id"),
        purpose=bindparam("purpose"),
        session_hash=bindparam("session_hash"),
        created_at=bindparam("created_at"),
        expires_at=bindparam("expires_at"),
        used_at=bindparam("used_at"),
    )
    .on_conflict_do_nothing()
    .returning(_T.c.id)  # a row back only if this use was the first
    for name, dialect_insert in (("postgresql", postgresql_insert), ("sqlite", sqlite_insert))
}
_FORGET = delete(_T).where(_T.c.expires_at < bindparam("now"))


@dataclass(frozen=True, slots=True)
class Challenge:
    kiosk_id: int
    purpose: str
    expires_at: datetime
    nonce: bytes


def issue(
    ctx: Ctx, kiosk_id: int, purpose: str, session_hash: str | None = None
) -> tuple[bytes, datetime]:
    """A fresh challenge and its expiry. Reads and writes nothing."""
    seconds = int(ctx.now.timestamp()) + int(ctx.settings["CHALLENGE_SECONDS"])
    head = _HEAD.pack(
        VERSION, PURPOSES[purpose], kiosk_id, seconds, secrets.token_bytes(NONCE_BYTES)
    )
    return head + _tag(ctx, head, session_hash), datetime.fromtimestamp(seconds, UTC)


def check(
    ctx: Ctx, value: bytes, kiosk_id: int, purpose: str, session_hash: str | None
) -> Challenge:
    """The challenge if this server issued it to `kiosk_id` for `purpose` (and session)
    and it has not expired; it is not spent yet (see `spend`)."""
    if len(value) != SIZE:
        raise SigninFailure(SigninReason.CHALLENGE_UNKNOWN)
    head, tag = value[: _HEAD.size], value[_HEAD.size :]
    if not constant_time.bytes_eq(tag, _tag(ctx, head, session_hash)):
        # Also what another purpose or another session's challenge gives: the tag covers
        # both, so they are simply not challenges of this kind.
        raise SigninFailure(SigninReason.CHALLENGE_UNKNOWN)
    version, purpose_code, issued_to, seconds, nonce = _HEAD.unpack(head)
    if version != VERSION or purpose_code != PURPOSES[purpose]:
        raise SigninFailure(SigninReason.CHALLENGE_UNKNOWN)
    if issued_to != kiosk_id:
        raise SigninFailure(SigninReason.CHALLENGE_OTHER_KIOSK)
    expires = datetime.fromtimestamp(seconds, UTC)
    if expires <= ctx.now:
        raise SigninFailure(SigninReason.CHALLENGE_EXPIRED)
    return Challenge(issued_to, purpose, expires, nonce)


def spend(ctx: Ctx, challenge: Challenge, session_hash: str | None) -> None:
    """Records the challenge as used, in the caller's transaction. Of two concurrent
    uses, the insert of the second finds the first's row (or waits for its transaction
    and then finds it): exactly one succeeds."""
    conn = core(ctx.session)
    first = conn.execute(
        _SPEND[conn.dialect.name],
        {
            "id": challenge.nonce.hex(),
            "kiosk_id": challenge.kiosk_id,
            "purpose": challenge.purpose,
            "session_hash": session_hash,
            "created_at": ctx.now,
            "expires_at": challenge.expires_at,
            "used_at": ctx.now,
        },
    ).first()
    if first is None:
        raise SigninFailure(SigninReason.CHALLENGE_REPLAYED)


def forget_expired(ctx: Ctx) -> None:
    """Drops the used challenges that have expired: `check` refuses those anyway."""
    core(ctx.session).execute(_FORGET, {"now": ctx.now})


def _tag(ctx: Ctx, head: bytes, session_hash: str | None) -> bytes:
    mac = hmac.HMAC(ctx.keyring.derive_key(KEY_PURPOSE), hashes.SHA256())
    mac.update(head)
    mac.update((session_hash or "").encode())
    return mac.finalize()[:TAG_BYTES]
