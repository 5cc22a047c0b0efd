"""Repeated identical denials: one trace entry per window, and a count.

Any signed-in user could otherwise add a line to another patient's history with every
refused request. A denial is identified by its actor (kind and id), action, reason and
target, on one chain (one dossier's patient, or the system chain). The first of a window
(`DENIAL_WINDOW_SECONDS`, from that first one) is an entry of the chain like any other;
the identical ones that follow within the window only increment `DenialRepeat.repeats`,
which the patient's history shows next to the entry. The next identical denial after the
window is a new entry whose detail carries the previous window's count
(`repeated_before`), which seals that count into the tamper-evident chain. A patient's
chain thus grows by at most one entry per window for each kind of refusal of each actor,
however many requests they send.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from server.models import DenialRepeat
from server.services import audit
from server.services.context import Ctx, Principal

# Writes the denial's entry after `head` (locked here), with `detail` extended by the
# sealed count of the previous window if any.
Append = Callable[[dict[str, Any] | None, audit.Head | None], None]


def key_of(who: Principal, action: str, reason: str, target: str | None) -> str:
    identity = [who.actor.kind.value, who.actor.id, action, reason, target]
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()


def record(
    ctx: Ctx,
    chain: str,
    key: str,
    detail: dict[str, Any] | None,
    append: Append,
) -> None:
    """Counts the denial in its open window, or appends it as the entry of a new one."""
    session = ctx.session
    # The chain's head lock serialises identical denials (PostgreSQL; SQLite transactions
    # already hold the write lock): two of them cannot both open a window.
    head = audit.locked_head(session, chain)
    latest = session.scalars(
        select(DenialRepeat)
        .where(DenialRepeat.chain == chain, DenialRepeat.key == key)
        .order_by(DenialRepeat.entry_seq.desc())
        .limit(1)
    ).first()
    if latest is not None and latest.window_until > ctx.now:
        latest.repeats += 1
        latest.last_at = ctx.now
        return
    if latest is not None and latest.repeats:
        sealed = {
            "entry": latest.entry_seq,
            "repeats": latest.repeats,
            "last_at": latest.last_at.isoformat(),
        }
        detail = {**(detail or {}), "repeated_before": sealed}
    append(detail, head)
    new_head = audit.locked_head(session, chain)
    if new_head is None:  # append always leaves a head behind
        raise RuntimeError(f"trace chain {chain} has no head after an append")
    window = timedelta(seconds=ctx.settings["DENIAL_WINDOW_SECONDS"])
    session.add(
        DenialRepeat(
            chain=chain,
            entry_seq=new_head.seq,
            key=key,
            repeats=0,
            last_at=ctx.now,
            window_until=ctx.now + window,
        )
    )
