"""ITI-65 submission sets kept and readable as FHIR List (issue #12)

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "submission_sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("logical_id", sa.String(length=36), nullable=False),
        sa.Column("unique_id", sa.String(length=128), nullable=True),
        sa.Column("source_id", sa.String(length=128), nullable=True),
        sa.Column("submitted_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("submitted_by", sa.String(length=40), nullable=False),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_submission_sets_dossier_id_dossiers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_submission_sets")),
        sa.UniqueConstraint("logical_id", name=op.f("uq_submission_sets_logical_id")),
    )
    op.create_index(
        "ix_submission_sets_dossier_submitted",
        "submission_sets",
        ["dossier_id", "submitted_at"],
        unique=False,
    )
    op.create_table(
        "submission_set_entries",
        sa.Column("submission_set_id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"],
            ["documents.id"],
            name=op.f("fk_submission_set_entries_document_id_documents"),
        ),
        sa.ForeignKeyConstraint(
            ["submission_set_id"],
            ["submission_sets.id"],
            name=op.f("fk_submission_set_entries_submission_set_id_submission_sets"),
        ),
        sa.PrimaryKeyConstraint(
            "submission_set_id", "document_id", name=op.f("pk_submission_set_entries")
        ),
    )
    op.create_index(
        "ix_submission_set_entries_document_id",
        "submission_set_entries",
        ["document_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_submission_set_entries_document_id", table_name="submission_set_entries")
    op.drop_table("submission_set_entries")
    op.drop_index("ix_submission_sets_dossier_submitted", table_name="submission_sets")
    op.drop_table("submission_sets")
