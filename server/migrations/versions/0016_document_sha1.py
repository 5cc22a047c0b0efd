"""The SHA-1 of each document's content, sealed, for IHE MHD (issue 12: FHIR write side)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: the rows stored before have none (sealing needs the dossier keys, which a
    # migration does not hold); the FHIR door computes theirs from the content.
    with op.batch_alter_table("documents") as batch:
        batch.add_column(sa.Column("sha1", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("documents") as batch:
        batch.drop_column("sha1")
