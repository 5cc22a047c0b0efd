"""Search index: documents waiting for the background indexer (issue 11)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_pending",
        sa.Column("document_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("queued_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("document_id", name=op.f("pk_search_pending")),
    )
    op.create_index("ix_search_pending_dossier_id", "search_pending", ["dossier_id"])


def downgrade() -> None:
    op.drop_index("ix_search_pending_dossier_id", table_name="search_pending")
    op.drop_table("search_pending")
