"""understanding models: a language's trained dialogue-act classifier, copied in by `flask content load`

Revision ID: a1c3e5f7b9d2
Revises: 54c0f8be6f72
Create Date: 2026-12-02 19:40:00

"""

import sqlalchemy as sa
from alembic import op

revision = "a1c3e5f7b9d2"
down_revision = "54c0f8be6f72"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "understanding_models",
        sa.Column("lang", sa.String(length=8), nullable=False),
        sa.Column("version", sa.String(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("updated_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("lang"),
    )


def downgrade():
    op.drop_table("understanding_models")
