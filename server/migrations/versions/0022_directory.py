"""The professionals directory (issue 14) and secret connections with minors (issue 13)

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import server.models.base
from server.search.normalise import WORD, fold

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    directory = op.create_table(
        "directory_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("national_id", sa.String(length=40), nullable=False),
        sa.Column("last_name", sa.String(length=100), nullable=False),
        sa.Column("first_name", sa.String(length=100), nullable=False),
        sa.Column("profession", sa.String(length=40), nullable=False),
        sa.Column("establishment", sa.String(length=200), nullable=True),
        sa.Column("town", sa.String(length=100), nullable=True),
        sa.Column("last_key", sa.String(length=100), nullable=False),
        sa.Column("first_key", sa.String(length=100), nullable=False),
        sa.Column("words", sa.String(length=210), nullable=False),
        sa.Column("source", sa.String(length=10), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_directory_entries")),
        sa.UniqueConstraint("national_id", name=op.f("uq_directory_entries_national_id")),
    )
    op.create_table(
        "directory_words",
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("word", sa.String(length=100), nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["directory_entries.id"],
            name=op.f("fk_directory_words_entry_id_directory_entries"),
        ),
        sa.PrimaryKeyConstraint("entry_id", "word", name=op.f("pk_directory_words")),
    )
    op.create_index(
        "ix_directory_words_word",
        "directory_words",
        ["word"],
        unique=False,
        postgresql_ops={"word": "varchar_pattern_ops"},
    )
    op.create_table(
        "secret_connections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_hash", sa.String(length=64), nullable=False),
        sa.Column("dossier_id", sa.Integer(), nullable=False),
        sa.Column("professional_id", sa.Integer(), nullable=False),
        sa.Column("started_at", server.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("ended_at", server.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["dossier_id"], ["dossiers.id"], name=op.f("fk_secret_connections_dossier_id_dossiers")
        ),
        sa.ForeignKeyConstraint(
            ["professional_id"],
            ["professionals.id"],
            name=op.f("fk_secret_connections_professional_id_professionals"),
        ),
        sa.ForeignKeyConstraint(
            ["session_hash"],
            ["sessions.token_hash"],
            name=op.f("fk_secret_connections_session_hash_sessions"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_secret_connections")),
    )
    op.create_index(
        "ix_secret_connections_session_hash", "secret_connections", ["session_hash"], unique=False
    )
    # The professionals the server already knows are in the directory from the start.
    conn = op.get_bind()
    pros = conn.execute(
        sa.text(
            "SELECT national_id, last_name, first_name, profession, structure_name "
            "FROM professionals"
        )
    ).all()
    if pros:
        op.bulk_insert(
            directory,
            [
                {
                    "national_id": nid,
                    "last_name": last,
                    "first_name": first,
                    "profession": profession,
                    "establishment": structure,
                    "town": None,
                    "last_key": fold(last)[:100],
                    "first_key": fold(first)[:100],
                    "words": (" " + " ".join(WORD.findall(fold(f"{last} {first}"))))[:210],
                    "source": "server",
                }
                for nid, last, first, profession, structure in pros
            ],
        )
        entries = conn.execute(sa.text("SELECT id, words FROM directory_entries")).all()
        op.bulk_insert(
            sa.table("directory_words", sa.column("entry_id"), sa.column("word")),
            [
                {"entry_id": entry_id, "word": word[:100]}
                for entry_id, words in entries
                for word in sorted(set(words.split()))
            ],
        )


def downgrade() -> None:
    op.drop_index("ix_secret_connections_session_hash", table_name="secret_connections")
    op.drop_table("secret_connections")
    op.drop_index("ix_directory_words_word", table_name="directory_words")
    op.drop_table("directory_words")
    op.drop_table("directory_entries")
