"""contacts: an index on (status, closed_at) for the grading sweep, which every minute looks for the closed contacts
wrapped up within its window (grading/sweep.py) and scanned the whole table without it

Revision ID: c2e4a6b8d0f1
Revises: b9d1f3a5c7e8
"""

from alembic import op

revision = "c2e4a6b8d0f1"
down_revision = "b9d1f3a5c7e8"
branch_labels = None
depends_on = None


def upgrade():
    op.create_index("ix_contacts_status_closed_at", "contacts", ["status", "closed_at"], unique=False)


def downgrade():
    op.drop_index("ix_contacts_status_closed_at", table_name="contacts")
