"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from server.db import make_engine
from server.migrate import SchemaOutdated, require_current
from server.models import Base


def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
    finally:
        engine.dispose()
    assert diff == []


def test_the_server_refuses_an_unmigrated_database(tmp_path: object) -> None:
    with pytest.raises(SchemaOutdated, match="dmp db upgrade"):
        require_current(f"sqlite:///{tmp_path}/empty.sqlite")
