"""ungradeable contacts: a wrapped-up contact auto-grading cannot grade for good (no rubric, never handled),
recorded once so that the grading sweep does not try it again every hour

Revision ID: b9d1f3a5c7e8
Revises: a8c0e2f4b6d7
"""

import sqlalchemy as sa
from alembic import op

revision = "b9d1f3a5c7e8"
down_revision = "a8c0e2f4b6d7"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "ungradeable_contacts",
        sa.Column("contact_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("recorded_at", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"]),
        sa.PrimaryKeyConstraint("contact_id"),
    )


def downgrade():
    op.drop_table("ungradeable_contacts")
