"""Time-boxed delegations of read access (issue 13)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "delegations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("delegate_patient_id", sa.Integer(), nullable=False),
        sa.Column("categories", sa.String(length=200), nullable=False),
        sa.Column("valid_until", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=40), nullable=False),
        sa.Column("revoked_at", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["delegate_patient_id"],
            ["patients.id"],
            name=op.f("fk_delegations_delegate_patient_id_patients"),
        ),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_delegations_dossier_id_dossiers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delegations")),
    )
    op.create_index(
        "ix_delegations_delegate_patient_id", "delegations", ["delegate_patient_id"], unique=False
    )
    op.create_index("ix_delegations_dossier_id", "delegations", ["dossier_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_delegations_dossier_id", table_name="delegations")
    op.drop_index("ix_delegations_delegate_patient_id", table_name="delegations")
    op.drop_table("delegations")
