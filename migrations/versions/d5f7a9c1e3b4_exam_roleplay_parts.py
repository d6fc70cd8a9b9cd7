"""Role-played exam parts: skill_exam_attempts.mode (simulated | roleplay) and role_plays.exam_attempt_id (issue 12)

Revision ID: d5f7a9c1e3b4
Revises: c4e6a8b0d2f1
"""

import sqlalchemy as sa
from alembic import op

revision = "d5f7a9c1e3b4"
down_revision = "c4e6a8b0d2f1"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("skill_exam_attempts") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=12), nullable=False, server_default="simulated"))
    with op.batch_alter_table("role_plays") as batch:
        batch.add_column(sa.Column("exam_attempt_id", sa.Integer(), nullable=True))
        batch.create_foreign_key("fk_role_plays_exam_attempt_id", "skill_exam_attempts", ["exam_attempt_id"], ["id"])
        batch.create_index(batch.f("ix_role_plays_exam_attempt_id"), ["exam_attempt_id"], unique=False)


def downgrade():
    with op.batch_alter_table("role_plays") as batch:
        batch.drop_index(batch.f("ix_role_plays_exam_attempt_id"))
        batch.drop_constraint("fk_role_plays_exam_attempt_id", type_="foreignkey")
        batch.drop_column("exam_attempt_id")
    with op.batch_alter_table("skill_exam_attempts") as batch:
        batch.drop_column("mode")
