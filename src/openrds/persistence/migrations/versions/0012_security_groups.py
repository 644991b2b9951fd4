"""security groups

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "security_groups",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.Column("project_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_security_groups_tenant_id", "security_groups", ["tenant_id"])
    op.create_table(
        "security_group_rules",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=False),
        sa.Column("cidr", sa.String(length=64), nullable=False),
        sa.Column("port_range", sa.String(length=64), nullable=False),
        sa.Column("protocol", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["security_groups.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_security_group_rules_group_id", "security_group_rules", ["group_id"])
    op.create_table(
        "security_group_bindings",
        sa.Column("resource_id", sa.String(length=36), nullable=False),
        sa.Column("group_id", sa.String(length=32), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["security_groups.id"]),
        sa.PrimaryKeyConstraint("resource_id", "group_id"),
    )
    op.create_index("ix_security_group_bindings_group_id", "security_group_bindings", ["group_id"])
    op.create_index("ix_security_group_bindings_tenant_id", "security_group_bindings", ["tenant_id"])


def downgrade() -> None:
    op.drop_table("security_group_bindings")
    op.drop_table("security_group_rules")
    op.drop_table("security_groups")
