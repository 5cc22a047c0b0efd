"""Documents keep no plain SHA-256 of their content: new ones store a keyed fingerprint

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # `documents.sha256` held the SHA-256 of the plaintext, in clear: a digest of a short
    # content ("VIH négatif") is confirmed by hashing guesses, and it outlived the
    # dossier's key. Deposits now store a fingerprint keyed by the dossier's key
    # (Keyring.fingerprint); a migration holds no dossier key, so the old digests are
    # blanked, not re-keyed. The content's true SHA-256 is served in the `Digest` header
    # of each content read, computed from the bytes.
    op.execute("UPDATE documents SET sha256 = ''")


def downgrade() -> None:
    # The plain digests are gone on purpose: nothing to restore.
    pass
