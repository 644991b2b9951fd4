"""instance listing index

Revision ID: 0003
Revises: 0002
"""

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_instances_listing", "instances", ["tenant_id", "region", "created_at", "code"])


def downgrade() -> None:
    op.drop_index("ix_instances_listing", table_name="instances")
