"""Search index: keyed token hashes per document (issue 11)

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "search_postings",
        sa.Column("dossier_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("token", sa.Integer(), autoincrement=False, nullable=False),
        # No foreign keys, on purpose: see server/models/search.py.
        sa.Column("document_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint(
            "dossier_id", "token", "document_id", name=op.f("pk_search_postings")
        ),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_search_postings_document_id", "search_postings", ["document_id"])


def downgrade() -> None:
    op.drop_index("ix_search_postings_document_id", table_name="search_postings")
    op.drop_table("search_postings")
