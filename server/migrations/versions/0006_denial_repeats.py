"""Identical denials folded into one trace entry per window (issue 10)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "denial_repeats",
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("entry_seq", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("repeats", sa.Integer(), nullable=False),
        sa.Column("last_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column(
            "window_until", server.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("chain", "entry_seq", name=op.f("pk_denial_repeats")),
    )
    with op.batch_alter_table("denial_repeats") as batch:
        batch.create_index("ix_denial_repeats_chain_key", ["chain", "key"])


def downgrade() -> None:
    op.drop_table("denial_repeats")
