"""The accounts-and-databases part of the engine contract: roles, databases and privileges of a server.

Every method runs as the service's own superuser (never the tenant's admin) on the server named by
``instance_id``. Names arrive checked by :mod:`openrds.domain.accounts` and go to the server as quoted
identifiers. Passwords are turned into SCRAM-SHA-256 verifiers on this side, and every statement that
carries one runs in a session that keeps statements out of ``pg_stat_statements`` and the server log,
so no password (and no verifier) is ever written on the server's side except into ``pg_authid``.

What the tenant got wrong - a name taken or missing, an object that does not exist, an account that
still owns objects - is raised as the matching :mod:`openrds.domain.errors` class, with nothing
changed; what went wrong on the server's side is an :class:`~openrds.engine.driver.EngineError`. A
driver that cannot manage accounts raises :class:`AccountsUnsupported` from every method here, never
does nothing silently.

Writes go to a primary; a read-only server refuses them (the service never asks) and gets every change
by replication. Time budget: one or a few statements, ~10-50 ms; ending an account's sessions waits up
to :data:`TERMINATE_TIMEOUT_MS` for them to go.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

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

#: How long ending an account's sessions waits for each of them to exit.
TERMINATE_TIMEOUT_MS = 5000


class AccountDriver(Protocol):
    """Accounts, databases and privileges of the servers a driver runs (see the module docstring)."""

    def list_accounts(self, instance_id: str) -> Sequence[Role]:
        """Every role a tenant could use (neither ``pg_*`` nor the service's own), login or not, by name."""
        ...

    def create_account(self, instance_id: str, name: str, password: str, account_type: AccountType, admin: str) -> None:
        """Create a login role of ``account_type`` whose password is ``password`` (sent as a verifier),
        and make the tenant's ``admin`` a member of it (it reaches the account's data). One transaction.

        :raises AccountExists: a role of that name exists.
        """
        ...

    def reset_account_password(self, instance_id: str, name: str, password: str) -> None:
        """Set the role's password (open sessions stay).

        :raises AccountNotFound: no such role.
        """
        ...

    def set_account_login(self, instance_id: str, name: str, allowed: bool) -> int:
        """LOGIN or NOLOGIN; with NOLOGIN the role's open sessions are ended too. Returns how many
        sessions were ended. Idempotent.

        :raises AccountNotFound: no such role.
        """
        ...

    def drop_account(self, instance_id: str, name: str) -> None:
        """Drop the role: its privileges in every database, its sessions, then the role. An absent role
        is done already.

        :raises AccountHasObjects: it owns a database or objects in one (nothing is changed).
        """
        ...

    def modify_account_privileges(self, instance_id: str, name: str, changes: Sequence[PrivilegeChange]) -> None:
        """Apply every change, or none: each database's changes are first tried in a transaction that
        is rolled back, then applied.

        :raises AccountNotFound: no such role.
        :raises InvalidDatabaseObject: an object (or a role to grant) does not exist.
        """
        ...

    def account_privileges(
        self, instance_id: str, name: str, objects: Sequence[DbObject]
    ) -> Sequence[ObjectPrivileges]:
        """What the role may do on each object, as PostgreSQL decides it (PUBLIC, ownership and
        membership count): the privileges of the object's type it has. For an `ObjectType.ACCOUNT`
        object, the roles it is a member of.

        :raises AccountNotFound: no such role.
        :raises InvalidDatabaseObject: an object does not exist.
        """
        ...

    def list_databases(self, instance_id: str) -> Sequence[Database]:
        """Every database but the templates, by name."""
        ...

    def create_database(self, instance_id: str, spec: DatabaseSpec) -> None:
        """``CREATE DATABASE`` from template0 with the owner, encoding and locale of ``spec``.

        :raises DatabaseExists: a database of that name exists.
        :raises InvalidOwner: the owner is no role of the server.
        :raises UnknownCollation: the server has no such collation/ctype, or not for that encoding.
        """
        ...

    def set_database_owner(self, instance_id: str, name: str, owner: str) -> None:
        """:raises DatabaseNotFound: / :raises InvalidOwner:"""
        ...

    def drop_database(self, instance_id: str, name: str) -> None:
        """Drop it, ending its sessions (``WITH (FORCE)``).

        :raises DatabaseNotFound: no such database.
        """
        ...

    def database_objects(
        self, instance_id: str, object_type: ObjectType, where: DbObject, offset: int, limit: int
    ) -> tuple[int, list[str]]:
        """Names of the objects of ``object_type`` in ``where``'s database/schema/table (its ``name``
        is unused), sorted; returns (total, the page). System schemas are included.

        :raises InvalidDatabaseObject: the database, schema or table does not exist.
        """
        ...


# engine.driver's Driver includes `AccountDriver` (it imports this module at its end): the import is
# here, after the protocol, so that importing this module first works too.
from openrds.engine.driver import EngineError  # noqa: E402


class AccountsUnsupported(EngineError):
    """This driver cannot manage accounts or databases (or this one operation)."""

    def __init__(self, operation: str, reason: str) -> None:
        super().__init__(operation, f"{operation} is not supported by this driver: {reason}")
