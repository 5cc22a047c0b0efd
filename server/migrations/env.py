"""Alembic environment: the URL comes from `server.migrate`, the metadata from the models."""

from __future__ import annotations

from alembic import context

from server.db import make_engine
from server.models import Base

config = context.config
url = config.attributes["url"]
engine = make_engine(url)
with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters by copy
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
