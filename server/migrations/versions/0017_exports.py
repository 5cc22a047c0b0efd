"""Exports of a dossier: the job, its sealed archive, its download link (issue 13)

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = server.models.base.UTCDateTime(timezone=True)
    op.create_table(
        "exports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("export_id", sa.String(length=32), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("requester_kind", sa.String(length=20), nullable=False),
        sa.Column("requester_id", sa.Integer(), nullable=False),
        sa.Column("requester_name", sa.String(length=200), nullable=False),
        sa.Column("kiosk", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.Column("claimed_until", utc, nullable=True),
        sa.Column("ready_at", utc, nullable=True),
        sa.Column("expires_at", utc, nullable=False),
        sa.Column("nonce", sa.LargeBinary(), nullable=True),
        sa.Column("archive", sa.LargeBinary(), nullable=True),
        sa.Column("size", sa.Integer(), nullable=True),
        sa.Column("link_hash", sa.String(length=64), nullable=True),
        sa.Column("link_expires_at", utc, nullable=True),
        sa.Column("link_used_at", utc, nullable=True),
        sa.Column("code_mac", sa.String(length=64), nullable=True),
        sa.Column("code_tries", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_exports_dossier_id_dossiers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exports")),
        sa.UniqueConstraint("export_id", name=op.f("uq_exports_export_id")),
        sa.UniqueConstraint("link_hash", name=op.f("uq_exports_link_hash")),
    )
    op.create_index(op.f("ix_exports_dossier_id"), "exports", ["dossier_id"], unique=False)
    op.create_index("ix_exports_status_id", "exports", ["status", "id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_exports_status_id", table_name="exports")
    op.drop_index(op.f("ix_exports_dossier_id"), table_name="exports")
    op.drop_table("exports")
