"""Alembic, driven from code so that `dmp db upgrade` needs no ini file in the cwd."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from server.db import make_engine

MIGRATIONS = Path(__file__).parent / "migrations"


class SchemaOutdated(Exception):
    pass


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["url"] = url
    return cfg


def upgrade(url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def require_current(url: str) -> None:
    """Refuses to serve on a schema that is not at the latest migration."""
    head = ScriptDirectory.from_config(alembic_config(url)).get_current_head()
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()
    if current != head:
        raise SchemaOutdated(
            f"database schema is at {current or 'nothing'}, expected {head}: run `dmp db upgrade`"
        )
