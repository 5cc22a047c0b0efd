"""Cached patient summaries, sealed under the dossier key; receipts found by trace entry

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "summary_cache",
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("view_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_summary_cache_dossier_id_dossiers")
        ),
        sa.PrimaryKeyConstraint("dossier_id", "view_key", name=op.f("pk_summary_cache")),
    )
    # The history page's lookup of its entries' receipts (server/services/history.py).
    op.create_index("ix_receipts_audit_entry_id", "receipts", ["audit_entry_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_receipts_audit_entry_id", table_name="receipts")
    op.drop_table("summary_cache")
