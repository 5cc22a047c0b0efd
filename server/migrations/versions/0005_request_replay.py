"""Kiosk replay records keyed on what was signed (the canonical request), not the signature

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28

An ECDSA signature can be altered into another valid signature of the same bytes, so a
replay record keyed on the signature let a malleated replay through (issue 10).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # The rows hold signature hashes of version-1 requests, which the server no longer
    # takes (their scheme changed); they would only expire within the skew window.
    op.execute(sa.text("DELETE FROM kiosk_requests_seen"))
    with op.batch_alter_table("kiosk_requests_seen") as batch:
        batch.alter_column("signature_sha256", new_column_name="request_sha256")


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM kiosk_requests_seen"))
    with op.batch_alter_table("kiosk_requests_seen") as batch:
        batch.alter_column("request_sha256", new_column_name="signature_sha256")
