"""money in 64 bits

Amounts are cents; a 32-bit column caps a balance at about 21 million yuan on PostgreSQL (SQLite's
INTEGER is 64-bit already).

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = {
    "orders": ("amount_cents",),
    "accounts": ("balance_cents",),
    "ledger": ("amount_cents", "balance_after_cents"),
    "vouchers": ("amount_cents",),
}


def upgrade() -> None:
    for table, columns in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.BigInteger(), existing_type=sa.Integer(), existing_nullable=False)


def downgrade() -> None:
    for table, columns in _COLUMNS.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(column, type_=sa.Integer(), existing_type=sa.BigInteger(), existing_nullable=False)
