"""simulator leases: a generation and its holder on each simulated customer and exercise, so a process taken for
dead (starved past its heartbeat) cannot record for a customer or an exercise another process took over (issue 18)

Revision ID: a8c0e2f4b6d7
Revises: f7b9d1e3a5c6
"""

import sqlalchemy as sa
from alembic import op

revision = "a8c0e2f4b6d7"
down_revision = "f7b9d1e3a5c6"
branch_labels = None
depends_on = None


def upgrade():
    for table in ("simulated_customers", "exercises"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("lease", sa.Integer(), server_default="0", nullable=False))
            batch.add_column(sa.Column("driver", sa.String(length=80), nullable=True))


def downgrade():
    # Plain DROP COLUMN (SQLite 3.35+ has it; neither column is indexed or a key), not a batch: SQLite's batch
    # copies the table and drops the old one, which foreign keys from contacts.exercise_id refuse once any
    # contact belongs to an exercise, leaving _alembic_tmp_exercises behind.
    for table in ("exercises", "simulated_customers"):
        op.drop_column(table, "driver")
        op.drop_column(table, "lease")
