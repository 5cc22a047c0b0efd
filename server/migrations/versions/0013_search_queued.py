"""Search index: documents waiting for the background indexer (issue 11)

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Documents stored before this revision were indexed in their deposit's transaction.
    with op.batch_alter_table("documents") as batch:
        batch.add_column(
            sa.Column(
                "search_queued", sa.Boolean(), server_default=sa.text("false"), nullable=False
            )
        )
    op.create_index(
        "ix_documents_search_queued",
        "documents",
        ["dossier_id", "id"],
        postgresql_where=sa.text("search_queued"),
        sqlite_where=sa.text("search_queued"),
    )


def downgrade() -> None:
    op.drop_index("ix_documents_search_queued", table_name="documents")
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("search_queued")
