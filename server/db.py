"""Engine and session set-up for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, QueuePool, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import Session, sessionmaker


def make_engine(url: str, **kwargs: Any) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # One connection per process: SQLite admits one writer at a time anyway, and
        # every request writes its trace. With several connections the losers sleep in
        # SQLite's busy handler (growing back-off: p99 over a second at 8 clients); with
        # one, they queue in the pool and are served in order.
        engine = create_engine(
            url,
            connect_args={"timeout": 30, "check_same_thread": False},
            poolclass=QueuePool,
            pool_size=1,
            max_overflow=0,
            pool_timeout=30,
            **kwargs,
        )
        _configure_sqlite(engine)
        return engine
    engine = create_engine(url, pool_size=10, max_overflow=10, **kwargs)
    _ping_when_idle(engine)
    return engine


# A pooled connection unused for this long is checked before it is handed out.
IDLE_BEFORE_PING = 5.0


def _ping_when_idle(engine: Engine) -> None:
    """pool_pre_ping, only for connections that sat idle in the pool.

    A connection is found dead when the database restarted or a firewall dropped it, which
    happens while it sits unused. pool_pre_ping checks every checkout, one round trip more
    on every request (the listing makes six); a connection back from a request a moment
    ago is alive, so here only those idle for IDLE_BEFORE_PING are pinged. A failed ping
    makes the pool replace the connection (DisconnectionError), as pool_pre_ping does.
    """

    @event.listens_for(engine.pool, "connect")
    def _on_connect(_dbapi_conn: Any, record: Any) -> None:
        record.info["dmp_idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkin")
    def _on_checkin(_dbapi_conn: Any, record: Any) -> None:
        if record is not None:
            record.info["dmp_idle_since"] = time.monotonic()

    @event.listens_for(engine.pool, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("dmp_idle_since", 0.0) < IDLE_BEFORE_PING:
            return
        try:
            alive = engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error:
            alive = False
        if not alive:
            raise DisconnectionError("pooled connection found dead after idling")


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN, so that it can be IMMEDIATE.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit acknowledged to a caller survives power loss, not only a crash
        # (NORMAL may lose the last transactions in WAL mode: performance.md).
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Every request writes a trace entry, so every transaction is a writer. Taking
        # the write lock at BEGIN means the chain head is read under that lock, and a
        # reader never has to upgrade (which SQLite answers with SQLITE_BUSY).
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def core(session: Session) -> Connection:
    """The session's connection, for the Core statements of the per-request hot paths.

    Pending ORM changes are flushed first, as an ORM query would autoflush them, so that a
    Core read sees what this transaction has added (a session opened and then resolved in
    one transaction, for instance). Flushing a clean session costs next to nothing.
    """
    session.flush()
    return session.connection()
