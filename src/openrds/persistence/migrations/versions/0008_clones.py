"""clones: where an instance restored from another's backups came from

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "clones",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("source_id", sa.String(length=36), nullable=False),
        sa.Column("backup_id", sa.String(length=40), nullable=True),
        sa.Column("target_time", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    with op.batch_alter_table("clones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_clones_source_id"), ["source_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_clones_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("clones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_clones_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_clones_source_id"))
    op.drop_table("clones")
