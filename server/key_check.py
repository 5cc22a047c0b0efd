"""Refuses to start on a database with a master key that is not the one it was filled with.

The key file is created on first use where the process runs (var/master.key): a server
started from another directory than the one that filled the database makes a key of its
own, and without this check would start, then fail every deposit, or seal the first
dossiers with a key nobody keeps. The first process that opens a migrated database
binds it to its key (models.MasterKeyCheck); every later one must open that record."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from server.crypto import KeyMaterialError, Keyring
from server.models import KEY_CHECK_ID, Dossier, MasterKeyCheck

log = logging.getLogger("dmp.server")


def require_master_key(engine: Engine, keyring: Keyring, source: str, now: datetime) -> None:
    try:
        with engine.connect() as conn:
            recorded = _recorded(conn)
            if recorded is None:
                recorded = _bind(conn, keyring, now)
    except (OperationalError, ProgrammingError) as exc:
        # No schema yet (`dmp db upgrade` comes next) or no database yet: nothing to check.
        log.warning("master key not checked: %s", type(exc.orig).__name__)
        return
    if not keyring.opens(recorded):
        raise KeyMaterialError(
            f"The master key from {source} is not the one this database was first opened "
            "with. Point DMP_MASTER_KEY_FILE (or DMP_MASTER_KEY) at the key the database "
            "was filled with, e.g. the var/master.key of the directory where `dmp db "
            "seed-demo` ran."
        )


def _recorded(conn: Connection) -> bytes | None:
    return conn.scalar(select(MasterKeyCheck.wrapped_key).where(MasterKeyCheck.id == KEY_CHECK_ID))


def _bind(conn: Connection, keyring: Keyring, now: datetime) -> bytes:
    """Writes the check record, or returns what must be opened instead: a dossier key of
    a database filled before the record existed, or the record a concurrent first start
    wrote."""
    existing = conn.scalar(
        select(Dossier.wrapped_key).where(Dossier.wrapped_key.is_not(None)).limit(1)
    )
    if existing is not None and not keyring.opens(existing):
        return existing  # the caller refuses; nothing is bound to the wrong key
    wrapped = keyring.new_check_key()
    try:
        conn.execute(
            insert(MasterKeyCheck).values(id=KEY_CHECK_ID, wrapped_key=wrapped, created_at=now)
        )
        conn.commit()
    except IntegrityError:
        conn.rollback()
        won = _recorded(conn)
        assert won is not None  # noqa: S101 - the row that made the insert fail
        return won
    log.info("database bound to the master key from this start")
    return wrapped
