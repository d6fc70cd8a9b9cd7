"""role_plays: role-play links of a scenario (issue 12)

Revision ID: b7d2e4f6a8c1
Revises: a1c3e5f7b9d2
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "b7d2e4f6a8c1"
down_revision = "a1c3e5f7b9d2"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "role_plays",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("scenario_id", sa.String(length=80), nullable=True),
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("agent_id", sa.Integer(), nullable=True),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("expires_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["agent_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("role_plays") as batch_op:
        batch_op.create_index(batch_op.f("ix_role_plays_token"), ["token"], unique=True)
        batch_op.create_index(batch_op.f("ix_role_plays_contact_id"), ["contact_id"], unique=False)


def downgrade():
    with op.batch_alter_table("role_plays") as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_plays_contact_id"))
        batch_op.drop_index(batch_op.f("ix_role_plays_token"))
    op.drop_table("role_plays")
