"""Knowledge-base articles gain a customer-facing part (kb_articles.customer_text).

Revision ID: c4e6a8b0d2f1
Revises: 8e54be9dbeb0
"""

import sqlalchemy as sa
from alembic import op

revision = "c4e6a8b0d2f1"
down_revision = "8e54be9dbeb0"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("kb_articles") as batch:
        batch.add_column(sa.Column("customer_text", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("kb_articles") as batch:
        batch.drop_column("customer_text")
