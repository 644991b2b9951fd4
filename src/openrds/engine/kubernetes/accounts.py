"""The `engine.accounts.AccountDriver` half of `KubernetesDriver`: refused, operation by operation.

CloudNativePG keeps roles in ``spec.managed.roles`` of the Cluster (a password as a Secret it reconciles)
and databases as ``Database`` resources; an account made with SQL behind its back is one the operator
may later contradict. Until OpenRDS maps accounts onto those resources, every operation here raises
`AccountsUnsupported` naming itself - the service answers the caller with that reason - never a no-op.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from openrds.domain.accounts import (
    AccountType,
    Database,
    DatabaseSpec,
    DbObject,
    ObjectPrivileges,
    ObjectType,
    PrivilegeChange,
    Role,
)
from openrds.engine.accounts import AccountsUnsupported

REASON = (
    "CloudNativePG owns roles (spec.managed.roles) and databases (Database resources), which this driver "
    "does not map yet"
)


class KubernetesAccounts:
    """:param existing: raises `ServerNotFound` for an instance the driver does not run (checked first,
    so an unknown instance is still 'not found' rather than 'unsupported')."""

    def __init__(self, existing: Callable[[str], object]) -> None:
        self._existing = existing

    def _refuse(self, instance_id: str, operation: str) -> AccountsUnsupported:
        self._existing(instance_id)
        return AccountsUnsupported(operation, REASON)

    def list_accounts(self, instance_id: str) -> Sequence[Role]:
        raise self._refuse(instance_id, "list accounts")

    def create_account(self, instance_id: str, name: str, password: str, account_type: AccountType, admin: str) -> None:
        raise self._refuse(instance_id, "create account")

    def reset_account_password(self, instance_id: str, name: str, password: str) -> None:
        raise self._refuse(instance_id, "reset account password")

    def set_account_login(self, instance_id: str, name: str, allowed: bool) -> int:
        raise self._refuse(instance_id, "unlock account" if allowed else "lock account")

    def drop_account(self, instance_id: str, name: str) -> None:
        raise self._refuse(instance_id, "delete account")

    def modify_account_privileges(self, instance_id: str, name: str, changes: Sequence[PrivilegeChange]) -> None:
        raise self._refuse(instance_id, "modify account privileges")

    def account_privileges(
        self, instance_id: str, name: str, objects: Sequence[DbObject]
    ) -> Sequence[ObjectPrivileges]:
        raise self._refuse(instance_id, "describe account privileges")

    def list_databases(self, instance_id: str) -> Sequence[Database]:
        raise self._refuse(instance_id, "list databases")

    def create_database(self, instance_id: str, spec: DatabaseSpec) -> None:
        raise self._refuse(instance_id, "create database")

    def set_database_owner(self, instance_id: str, name: str, owner: str) -> None:
        raise self._refuse(instance_id, "modify database owner")

    def drop_database(self, instance_id: str, name: str) -> None:
        raise self._refuse(instance_id, "delete database")

    def database_objects(
        self, instance_id: str, object_type: ObjectType, where: DbObject, offset: int, limit: int
    ) -> tuple[int, list[str]]:
        raise self._refuse(instance_id, "describe database objects")
