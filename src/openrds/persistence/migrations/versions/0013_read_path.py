"""read path: a change counter on instances

Every insert or update of an instance row gives it ``change_seq`` = the table's highest + 1 (a
trigger, so that no writer - the ORM, ``openrds admin``, a hand-made fix - can forget it). SQLite has
one writer at a time, so the counter grows in commit order: a reader that has applied every row up
to N and then reads ``change_seq > N`` misses no commit (:mod:`openrds.persistence.listing`).
PostgreSQL commits concurrent writers in any order, so no counter assigned before commit can promise
that: there the column stays 0 and the listing reads the tables as before.

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

_NEXT = "(SELECT coalesce(max(change_seq), 0) + 1 FROM instances)"


def upgrade() -> None:
    op.add_column("instances", sa.Column("change_seq", sa.Integer(), nullable=False, server_default="0"))
    op.create_index("ix_instances_change_seq", "instances", ["change_seq"])
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("UPDATE instances SET change_seq = rowid")
    # AFTER triggers updating their own row: SQLite does not fire them again (recursive_triggers is off),
    # and the WHEN clause would stop them if it were on.
    op.execute(f"""CREATE TRIGGER instances_change_seq_insert AFTER INSERT ON instances
        BEGIN UPDATE instances SET change_seq = {_NEXT} WHERE rowid = NEW.rowid; END""")
    op.execute(f"""CREATE TRIGGER instances_change_seq_update AFTER UPDATE ON instances
        WHEN NEW.change_seq IS OLD.change_seq
        BEGIN UPDATE instances SET change_seq = {_NEXT} WHERE rowid = NEW.rowid; END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS instances_change_seq_update")
        op.execute("DROP TRIGGER IF EXISTS instances_change_seq_insert")
    op.drop_index("ix_instances_change_seq", table_name="instances")
    with op.batch_alter_table("instances") as batch:
        batch.drop_column("change_seq")
