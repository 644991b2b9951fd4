"""backups: plans, base backup sets and what the repository holds per instance

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup_plans",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("plan_type", sa.String(length=16), nullable=False),
        sa.Column("period_type", sa.String(length=16), nullable=False),
        sa.Column("period", sa.JSON(), nullable=False),
        sa.Column("window_start", sa.String(length=8), nullable=False),
        sa.Column("window_end", sa.String(length=8), nullable=False),
        sa.Column("utc_offset_minutes", sa.Integer(), nullable=False),
        sa.Column("base_retention_days", sa.Integer(), nullable=False),
        sa.Column("log_retention_days", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_slot_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("backup_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backup_plans_instance_id"), ["instance_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_backup_plans_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "backups",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("type", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
        sa.Column("plan_id", sa.String(length=40), nullable=True),
        sa.Column("job_id", sa.String(length=32), nullable=True),
        sa.Column("label", sa.String(length=64), nullable=True),
        sa.Column("prior_label", sa.String(length=64), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("database_bytes", sa.BigInteger(), nullable=False),
        sa.Column("wal_start", sa.String(length=24), nullable=True),
        sa.Column("wal_stop", sa.String(length=24), nullable=True),
        sa.Column("error", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.create_index("ix_backups_tenant_state", ["tenant_id", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_backups_instance_id"), ["instance_id"], unique=False)

    op.create_table(
        "backup_stanzas",
        sa.Column("instance_id", sa.String(length=36), nullable=False),
        sa.Column("tenant_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("wal_min", sa.String(length=24), nullable=True),
        sa.Column("wal_max", sa.String(length=24), nullable=True),
        sa.Column("wal_stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("stored_bytes", sa.BigInteger(), nullable=False),
        sa.Column("fenced_at", sa.DateTime(), nullable=True),
        sa.Column("archive_failed_count", sa.BigInteger(), nullable=False),
        sa.Column("archive_last_failed_at", sa.DateTime(), nullable=True),
        sa.Column("archive_lag_segments", sa.Integer(), nullable=True),
        sa.Column("archive_failing", sa.Boolean(), nullable=False),
        sa.Column("delete_after", sa.DateTime(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("instance_id"),
    )
    with op.batch_alter_table("backup_stanzas", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_backup_stanzas_tenant_id"), ["tenant_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("backup_stanzas", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backup_stanzas_tenant_id"))
    op.drop_table("backup_stanzas")
    with op.batch_alter_table("backups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backups_instance_id"))
        batch_op.drop_index("ix_backups_tenant_state")
    op.drop_table("backups")
    with op.batch_alter_table("backup_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_backup_plans_tenant_id"))
        batch_op.drop_index(batch_op.f("ix_backup_plans_instance_id"))
    op.drop_table("backup_plans")
