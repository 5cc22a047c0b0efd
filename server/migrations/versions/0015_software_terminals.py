"""Registered software terminals: professional software and the insurer's system (issue 12)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMNs, no batch: on SQLite a batch rebuild drops `kiosks`, which the
    # card bindings, challenges and replay records reference (foreign keys are on).
    op.add_column(
        "kiosks", sa.Column("kind", sa.String(length=20), server_default="kiosk", nullable=False)
    )
    fk = "fk_kiosks_service_account_id_service_accounts"
    if op.get_bind().dialect.name == "sqlite":
        # SQLite adds a column with its reference inline (Alembic would ask for a rebuild).
        op.execute(
            f"ALTER TABLE kiosks ADD COLUMN service_account_id INTEGER "
            f"CONSTRAINT {fk} REFERENCES service_accounts (id)"
        )
    else:
        op.add_column("kiosks", sa.Column("service_account_id", sa.Integer(), nullable=True))
        op.create_foreign_key(fk, "kiosks", "service_accounts", ["service_account_id"], ["id"])


def downgrade() -> None:
    # On SQLite this batch rebuilds `kiosks`: with rows in the tables that reference it,
    # run it with foreign keys off (the application's connections turn them on).
    op.execute("DELETE FROM kiosks WHERE kind <> 'kiosk'")
    with op.batch_alter_table("kiosks") as batch:
        batch.drop_column("service_account_id")
        batch.drop_column("kind")
