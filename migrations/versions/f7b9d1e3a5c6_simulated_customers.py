"""simulated_customers: the seed of each simulated chat customer, so a take-over after a Redis flush rebuilds a
customer that had already spoken (issue 18)

Revision ID: f7b9d1e3a5c6
Revises: e6a8c0b2d4f3
"""

import sqlalchemy as sa
from alembic import op

revision = "f7b9d1e3a5c6"
down_revision = "e6a8c0b2d4f3"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "simulated_customers",
        sa.Column("contact_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("exercise_id", sa.Integer(), nullable=True),
        sa.Column("started_by", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.PrimaryKeyConstraint("contact_id"),
    )


def downgrade():
    op.drop_table("simulated_customers")
