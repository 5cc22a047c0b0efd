"""Unusual accesses: review cases, the rules' cursor, batched deposit notices (issue 14)

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "review_cases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("audit_entry_id", sa.Integer(), nullable=False),
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("establishment", sa.String(length=9), nullable=True),
        sa.Column("rules", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("flagged_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_at", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("comment_nonce", sa.LargeBinary(), nullable=True),
        sa.Column("comment", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["audit_entry_id"],
            ["audit_entries.id"],
            name=op.f("fk_review_cases_audit_entry_id_audit_entries"),
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_review_cases_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_cases")),
        sa.UniqueConstraint("audit_entry_id", name=op.f("uq_review_cases_audit_entry_id")),
    )
    op.create_index(
        "ix_review_cases_establishment_status",
        "review_cases",
        ["establishment", "status", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_review_cases_patient_id"), "review_cases", ["patient_id"], unique=False
    )
    op.create_table(
        "alert_cursor",
        sa.Column("name", sa.String(length=20), nullable=False),
        sa.Column("next_leaf", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_alert_cursor")),
    )
    op.create_table(
        "alert_seen",
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("chain", sa.String(length=40), nullable=False),
        sa.Column("first_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("unrelated_at", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("professional_id", "chain", name=op.f("pk_alert_seen")),
    )
    op.create_index(
        "ix_alert_seen_professional_unrelated",
        "alert_seen",
        ["professional_id", "unrelated_at"],
        unique=False,
    )
    op.create_table(
        "deposit_digests",
        sa.Column("patient_id", sa.Integer(), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("insurer", sa.Integer(), nullable=False),
        sa.Column("patient", sa.Integer(), nullable=False),
        sa.Column("outbox_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["outbox_id"], ["outbox.id"], name=op.f("fk_deposit_digests_outbox_id_outbox")
        ),
        sa.ForeignKeyConstraint(
            ["patient_id"], ["patients.id"], name=op.f("fk_deposit_digests_patient_id_patients")
        ),
        sa.PrimaryKeyConstraint("patient_id", "period", name=op.f("pk_deposit_digests")),
    )


def downgrade() -> None:
    op.drop_table("deposit_digests")
    op.drop_index("ix_alert_seen_professional_unrelated", table_name="alert_seen")
    op.drop_table("alert_seen")
    op.drop_table("alert_cursor")
    op.drop_index(op.f("ix_review_cases_patient_id"), table_name="review_cases")
    op.drop_index("ix_review_cases_establishment_status", table_name="review_cases")
    op.drop_table("review_cases")
