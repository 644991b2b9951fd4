"""The store's notes about instances' database accounts (`domain.accounts.AccountNote`), tenant-scoped."""

from __future__ import annotations

from sqlalchemy import delete, select

from openrds.domain.accounts import AccountNote, AccountType
from openrds.persistence.repositories import _TenantScoped
from openrds.persistence.tables import DbAccountRow


def _note(row: DbAccountRow) -> AccountNote:
    return AccountNote(
        instance_id=row.instance_id,
        name=row.name,
        remark=row.remark,
        type=AccountType(row.type),
        locked=row.locked,
        created_at=row.created_at,
        updated_at=row.updated_at,
        password_updated_at=row.password_updated_at,
    )


class DbAccountRepository(_TenantScoped):
    """Notes of one tenant's accounts (``tenant_id`` None: every tenant's, for system components)."""

    def notes(self, instance_id: str) -> dict[str, AccountNote]:
        """Every note of an instance, by account name."""
        rows = self._s.scalars(
            self._scoped(select(DbAccountRow).where(DbAccountRow.instance_id == instance_id), DbAccountRow.tenant_id)
        )
        return {row.name: _note(row) for row in rows}

    def find(self, instance_id: str, name: str) -> AccountNote | None:
        row = self._owned(self._s.get(DbAccountRow, (instance_id, name)))
        return None if row is None else _note(row)

    def save(self, tenant_id: str, note: AccountNote) -> None:
        """Insert or replace the note of ``note.name`` on ``note.instance_id``."""
        self._admit(tenant_id, "account note")
        row = self._owned(self._s.get(DbAccountRow, (note.instance_id, note.name)))
        if row is None:
            row = DbAccountRow(instance_id=note.instance_id, name=note.name, tenant_id=tenant_id)
            self._s.add(row)
        row.remark = note.remark
        row.type = note.type.value
        row.locked = note.locked
        row.created_at = note.created_at
        row.updated_at = note.updated_at
        row.password_updated_at = note.password_updated_at
        self._s.flush()

    def remove(self, instance_id: str, name: str) -> None:
        self._s.execute(
            self._scoped(
                delete(DbAccountRow).where(DbAccountRow.instance_id == instance_id, DbAccountRow.name == name),
                DbAccountRow.tenant_id,
            )
        )
