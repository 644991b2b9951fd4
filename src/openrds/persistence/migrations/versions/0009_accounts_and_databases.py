"""accounts and databases: what the store keeps about an instance's database accounts

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "db_accounts",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=63), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("remark", sa.String(length=240), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("locked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("password_updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["instance_id"], ["instances.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("instance_id", "name"),
    )
    op.create_index("ix_db_accounts_tenant_id", "db_accounts", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_db_accounts_tenant_id", table_name="db_accounts")
    op.drop_table("db_accounts")
