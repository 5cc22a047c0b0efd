"""Kiosk request signatures already seen (replay defence for signed kiosk requests)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "kiosk_requests_seen",
        sa.Column("signature_sha256", sa.String(length=64), nullable=False),
        sa.Column("kiosk_id", sa.Integer(), nullable=False),
        sa.Column(
            "expires_at", server.models.base.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["kiosk_id"], ["kiosks.id"], name=op.f("fk_kiosk_requests_seen_kiosk_id_kiosks")
        ),
        sa.PrimaryKeyConstraint("signature_sha256", name=op.f("pk_kiosk_requests_seen")),
    )
    with op.batch_alter_table("kiosk_requests_seen") as batch:
        batch.create_index(batch.f("ix_kiosk_requests_seen_kiosk_id"), ["kiosk_id"])
        batch.create_index(batch.f("ix_kiosk_requests_seen_expires_at"), ["expires_at"])


def downgrade() -> None:
    op.drop_table("kiosk_requests_seen")
