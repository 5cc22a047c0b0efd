"""Professional national ids up to 40 characters: CPE ids ("3" + FINESS + "/" + staff id)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("professionals") as batch:
        batch.alter_column(
            "national_id", existing_type=sa.String(12), type_=sa.String(40), existing_nullable=False
        )


def downgrade() -> None:
    with op.batch_alter_table("professionals") as batch:
        batch.alter_column(
            "national_id", existing_type=sa.String(40), type_=sa.String(12), existing_nullable=False
        )
