"""user_sessions: server-side sign-ins kept in the database, Redis only a cache in front (issue 18: a Redis flush
signs nobody out)

Revision ID: e6a8c0b2d4f3
Revises: d5f7a9c1e3b4
"""

import sqlalchemy as sa
from alembic import op

revision = "e6a8c0b2d4f3"
down_revision = "d5f7a9c1e3b4"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "user_sessions",
        sa.Column("id_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id_hash"),
    )
    with op.batch_alter_table("user_sessions") as batch:
        batch.create_index(batch.f("ix_user_sessions_user_id"), ["user_id"], unique=False)
        batch.create_index(batch.f("ix_user_sessions_last_seen_at"), ["last_seen_at"], unique=False)


def downgrade():
    with op.batch_alter_table("user_sessions") as batch:
        batch.drop_index(batch.f("ix_user_sessions_last_seen_at"))
        batch.drop_index(batch.f("ix_user_sessions_user_id"))
    op.drop_table("user_sessions")
