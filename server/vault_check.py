"""Refuses to start with a key vault that is not this database's.

Every dossier key is wrapped by a KEK held in the key vault (server/key_vault.py). A
process pointed at another vault (another working directory's var/key-vault, a volume
not mounted) would find no dossier's KEK: it would answer "dossier supprimé" for every
dossier, seal new dossiers with KEKs nobody keeps, and a purge run would "destroy" keys
in the wrong place. So, like the master key (server/key_check.py), the first process
that opens a migrated database records a KEK of its vault in `master_key_check` (row
VAULT_CHECK_ID), and every later start must open it."""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from server.crypto import KeyMaterialError, Keyring
from server.models import MasterKeyCheck

log = logging.getLogger("dmp.server")
VAULT_CHECK_ID = 2  # row 1 is the master key's (models.KEY_CHECK_ID)


def require_vault(engine: Engine, keyring: Keyring, now: datetime) -> None:
    if keyring.vault is None:
        return
    try:
        with engine.connect() as conn:
            recorded = _recorded(conn) or _bind(conn, keyring, now)
    except (OperationalError, ProgrammingError) as exc:
        log.warning("key vault not checked: %s", type(exc.orig).__name__)
        return
    if not keyring.opens(recorded):
        where = Path(keyring.vault.directory).resolve()
        raise KeyMaterialError(
            f"The key vault {where} (setting KEY_VAULT_DIR) does not hold this database's "
            "keys. Point DMP_KEY_VAULT_DIR at the vault the database was filled with; "
            "every host and every dmp command must share it (docs/retention.md)."
        )


def _recorded(conn: Connection) -> bytes | None:
    return conn.scalar(
        select(MasterKeyCheck.wrapped_key).where(MasterKeyCheck.id == VAULT_CHECK_ID)
    )


def _bind(conn: Connection, keyring: Keyring, now: datetime) -> bytes:
    wrapped = keyring.new_wrapped_key()
    try:
        conn.execute(
            insert(MasterKeyCheck).values(id=VAULT_CHECK_ID, wrapped_key=wrapped, created_at=now)
        )
        conn.commit()
    except IntegrityError:
        # A concurrent first start won: its record is the one to open (ours wraps nothing).
        conn.rollback()
        keyring.destroy(wrapped)
        won = _recorded(conn)
        assert won is not None  # noqa: S101 - the row that made the insert fail
        return won
    log.info("database bound to the key vault %s", keyring.vault.directory if keyring.vault else "")
    return wrapped
