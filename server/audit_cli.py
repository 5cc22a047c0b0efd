"""`dmp audit verify`: walks every chain and names the first broken link of each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select

from server.db import make_engine, make_sessionmaker
from server.models import AuditEntry, AuditHead
from server.services import audit


def verify_all(settings: dict[str, Any], echo: Callable[[str], None]) -> bool:
    engine = make_engine(settings["DATABASE_URL"])
    try:
        with make_sessionmaker(engine)() as session:
            chains = session.scalar(select(func.count()).select_from(AuditHead)) or 0
            entries = session.scalar(select(func.count()).select_from(AuditEntry)) or 0
            breaks = list(audit.verify(session))
            session.rollback()
    finally:
        engine.dispose()
    for b in breaks:
        where = f"entry id {b.entry_id}" if b.entry_id is not None else "end of chain"
        echo(f"BROKEN {b.chain} at link {b.seq} ({where}): {b.problem}")
    echo(
        f"{chains} chain(s), {entries} entr(y/ies) checked: "
        + ("all intact" if not breaks else f"{len(breaks)} broken chain(s)")
    )
    return not breaks
