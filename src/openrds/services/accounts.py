"""Use cases of an instance's database accounts and databases: create, list, lock, grant, drop.

Every request is checked in full (`domain.accounts`) before the engine is asked for anything, and the
engine checks what only the server knows (a name taken, an object missing, an account still owning
objects) before it changes anything, so a refused call leaves nothing half-done. The calls are
synchronous: each is a few statements on the server (tens of milliseconds), and its answer says
whether it happened - a password never waits in a job or the store for a worker to apply it.

Writes go to an instance's primary only; a read-only instance answers reads from its own catalogs
(they arrive there by replication) and refuses writes with `ReadOnlyInstanceDenied`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, TypeVar

from openrds.clock import Clock
from openrds.domain.accounts import (
    GRANTABLE_ROLES,
    Account,
    AccountNote,
    AccountType,
    Database,
    DatabaseSpec,
    DbObject,
    ObjectPrivileges,
    ObjectType,
    PrivilegeChange,
    PrivilegeChangeKind,
    Role,
    check_account_name,
    check_account_password,
    check_database_name,
    check_encoding,
    check_object,
    check_privileges,
    check_remark,
)
from openrds.domain.errors import (
    AccountNotFound,
    AccountOperationDenied,
    EngineFailed,
    InstanceNotFound,
    InstanceNotServing,
    InvalidDatabaseObject,
    InvalidInput,
    MissingInput,
    OpenRDSError,
    ReadOnlyInstanceDenied,
    UnknownCollation,
)
from openrds.domain.model import Instance
from openrds.domain.states import Lifecycle
from openrds.persistence.uow import Store

log = logging.getLogger(__name__)

MAX_PAGE = 100
DEFAULT_PAGE = 20
#: A locale name as ``pg_collation`` spells them (``C``, ``C.utf8``, ``en_US.UTF-8``, ``sr_RS@latin``).
_LOCALE = re.compile(r"[A-Za-z0-9_.@\-]{1,64}")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_T = TypeVar("_T")


class AccountEngine(Protocol):
    """What this service needs of the engine: `openrds.engine.accounts.AccountDriver` (every driver
    implements it; the container hands the driver in). Stated here because services do not import the
    engine; the type checker holds the two together where the container builds this service."""

    def list_accounts(self, instance_id: str) -> Sequence[Role]: ...
    def create_account(
        self, instance_id: str, name: str, password: str, account_type: AccountType, admin: str
    ) -> None: ...
    def reset_account_password(self, instance_id: str, name: str, password: str) -> None: ...
    def set_account_login(self, instance_id: str, name: str, allowed: bool) -> int: ...
    def drop_account(self, instance_id: str, name: str) -> None: ...
    def modify_account_privileges(self, instance_id: str, name: str, changes: Sequence[PrivilegeChange]) -> None: ...
    def account_privileges(
        self, instance_id: str, name: str, objects: Sequence[DbObject]
    ) -> Sequence[ObjectPrivileges]: ...
    def list_databases(self, instance_id: str) -> Sequence[Database]: ...
    def create_database(self, instance_id: str, spec: DatabaseSpec) -> None: ...
    def set_database_owner(self, instance_id: str, name: str, owner: str) -> None: ...
    def drop_database(self, instance_id: str, name: str) -> None: ...
    def database_objects(
        self, instance_id: str, object_type: ObjectType, where: DbObject, offset: int, limit: int
    ) -> tuple[int, list[str]]: ...


class AccountOrder:
    """How DescribeAccounts sorts: by creation (accounts made outside the API first), name or update."""

    CREATED = "created"
    NAME = "name"
    UPDATED = "updated"


@dataclass(frozen=True, slots=True)
class Page:
    offset: int = 0
    limit: int = DEFAULT_PAGE

    def check(self) -> Page:
        if self.offset < 0:
            raise InvalidInput("Offset may not be negative", field="offset")
        if not 1 <= self.limit <= MAX_PAGE:
            raise InvalidInput(f"Limit is 1-{MAX_PAGE}", field="limit")
        return self


class AccountService:
    def __init__(self, store: Store, engine: AccountEngine, clock: Clock) -> None:
        self._store = store
        self._engine = engine
        self._clock = clock

    # --- accounts --------------------------------------------------------------------------------
    def create_account(
        self,
        tenant_id: str,
        instance: str,
        name: str,
        account_type: AccountType,
        password: str | None,
        remark: str = "",
    ) -> None:
        check_account_name(name)
        if password is None:
            raise MissingInput("Password is required (accounts sign in with a password here)", field="account_password")
        check_account_password(password)
        check_remark(remark)
        target = self._instance(tenant_id, instance, write=True)
        self._call(
            "create account",
            target,
            lambda: self._engine.create_account(target.code, name, password, account_type, target.admin_user),
        )
        now = self._clock.now()
        self._save(tenant_id, AccountNote(target.id, name, remark, account_type, False, now, now, now))

    def describe_accounts(
        self, tenant_id: str, instance: str, page: Page, order_by: str = AccountOrder.CREATED, descending: bool = True
    ) -> tuple[int, list[Account]]:
        page.check()
        target = self._instance(tenant_id, instance, write=False)
        roles = self._call("list accounts", target, lambda: self._engine.list_accounts(target.code))
        # A read-only instance shows its master's accounts (by replication), with the master's notes.
        noted = target.master_id if target.is_readonly and target.master_id else target.id
        with self._store.read() as uow:
            notes = uow.db_accounts(tenant_id).notes(noted)
        accounts = [
            _account(role, notes.get(role.name), target.admin_user)
            for role in roles
            if role.can_login or (role.name in notes and notes[role.name].locked)
        ]
        key: Callable[[Account], tuple[object, ...]] = {
            AccountOrder.NAME: lambda a: (a.name,),
            AccountOrder.UPDATED: lambda a: (a.updated_at or _EPOCH, a.name),
        }.get(order_by, lambda a: (a.created_at or _EPOCH, a.name))
        accounts.sort(key=key, reverse=descending)
        return len(accounts), accounts[page.offset : page.offset + page.limit]

    def reset_password(self, tenant_id: str, instance: str, name: str, password: str) -> None:
        check_account_name(name)
        check_account_password(password)
        target = self._instance(tenant_id, instance, write=True)
        self._call("reset password", target, lambda: self._engine.reset_account_password(target.code, name, password))
        now = self._clock.now()
        self._update_note(tenant_id, target, name, lambda n: replace(n, updated_at=now, password_updated_at=now))

    def set_locked(self, tenant_id: str, instance: str, name: str, locked: bool) -> int:
        """Lock (NOLOGIN, its sessions ended) or unlock an account; returns the sessions ended."""
        check_account_name(name)
        target = self._instance(tenant_id, instance, write=True)
        ended = self._call(
            "lock account", target, lambda: self._engine.set_account_login(target.code, name, not locked)
        )
        now = self._clock.now()
        self._update_note(tenant_id, target, name, lambda n: replace(n, locked=locked, updated_at=now))
        return ended

    def delete_account(self, tenant_id: str, instance: str, name: str) -> None:
        """Drop the account; an absent one is no error (the call may be repeated)."""
        check_account_name(name)
        target = self._instance(tenant_id, instance, write=True)
        if name == target.admin_user:
            raise AccountOperationDenied(f"{name} is the instance's admin account", field="user_name")
        self._call("delete account", target, lambda: self._engine.drop_account(target.code, name))
        with self._store.write() as uow:
            uow.db_accounts(tenant_id).remove(target.id, name)

    def modify_remark(self, tenant_id: str, instance: str, name: str, remark: str) -> None:
        check_account_name(name)
        check_remark(remark)
        target = self._instance(tenant_id, instance, write=True)
        now = self._clock.now()
        self._update_note(tenant_id, target, name, lambda n: replace(n, remark=remark, updated_at=now))

    def modify_privileges(self, tenant_id: str, instance: str, name: str, changes: Sequence[PrivilegeChange]) -> None:
        check_account_name(name)
        if not changes:
            raise MissingInput("ModifyPrivilegeSet is empty", field="modify_privilege_set")
        target = self._instance(tenant_id, instance, write=True)
        checked = [self._check_change(target, name, c) for c in changes]
        self._call(
            "modify privileges", target, lambda: self._engine.modify_account_privileges(target.code, name, checked)
        )
        now = self._clock.now()
        types = [AccountType(c.privileges[0]) for c in checked if c.kind is PrivilegeChangeKind.ALTER_ROLE]
        if types:
            self._update_note(tenant_id, target, name, lambda n: replace(n, type=types[-1], updated_at=now))

    def describe_privileges(
        self, tenant_id: str, instance: str, name: str, objects: Sequence[DbObject]
    ) -> Sequence[ObjectPrivileges]:
        check_account_name(name)
        checked = [check_object(o) for o in objects]
        target = self._instance(tenant_id, instance, write=False)
        return self._call(
            "describe privileges", target, lambda: self._engine.account_privileges(target.code, name, checked)
        )

    # --- databases -------------------------------------------------------------------------------
    def create_database(self, tenant_id: str, instance: str, spec: DatabaseSpec) -> None:
        check_database_name(spec.name)
        check_account_name(spec.owner, field="database_owner")
        spec = replace(spec, encoding=check_encoding(spec.encoding or "UTF8"))
        for value, field in ((spec.collate, "collate"), (spec.ctype, "ctype")):
            if value and not _LOCALE.fullmatch(value):
                raise UnknownCollation(f"{value!r} is not a locale name", field=field)
        target = self._instance(tenant_id, instance, write=True)
        self._call("create database", target, lambda: self._engine.create_database(target.code, spec))

    def describe_databases(
        self, tenant_id: str, instance: str, name_contains: Sequence[str], page: Page
    ) -> tuple[int, list[Database]]:
        """Databases whose name contains any of ``name_contains`` (all when empty), by name."""
        page.check()
        target = self._instance(tenant_id, instance, write=False)
        databases = self._call("list databases", target, lambda: self._engine.list_databases(target.code))
        wanted = [d for d in databases if not name_contains or any(part in d.name for part in name_contains)]
        return len(wanted), wanted[page.offset : page.offset + page.limit]

    def modify_database_owner(self, tenant_id: str, instance: str, database: str, owner: str) -> None:
        check_database_name(database)
        check_account_name(owner, field="database_owner")
        target = self._instance(tenant_id, instance, write=True)
        self._call(
            "modify database owner", target, lambda: self._engine.set_database_owner(target.code, database, owner)
        )

    def delete_database(self, tenant_id: str, instance: str, database: str) -> None:
        check_database_name(database)  # postgres and the templates are reserved names
        target = self._instance(tenant_id, instance, write=True)
        self._call("delete database", target, lambda: self._engine.drop_database(target.code, database))

    def database_objects(
        self, tenant_id: str, instance: str, object_type: ObjectType, where: DbObject, page: Page
    ) -> tuple[int, list[str]]:
        """Names of the objects of ``object_type`` in ``where`` (database, schema, table as the type needs)."""
        page.check()
        if object_type is ObjectType.ACCOUNT:
            raise InvalidDatabaseObject("ObjectType account has no objects to list", field="object_type")
        needs = {
            "database_name": object_type is not ObjectType.DATABASE,
            "schema_name": object_type not in (ObjectType.DATABASE, ObjectType.SCHEMA),
            "table_name": object_type is ObjectType.COLUMN,
        }
        for field, value in (
            ("database_name", where.database),
            ("schema_name", where.schema),
            ("table_name", where.table),
        ):
            if needs[field] and not value:
                raise InvalidDatabaseObject(f"listing {object_type} objects needs {field}", field=field)
            if value:
                check_object(DbObject(ObjectType.SCHEMA, value, database="x"), field=field)
        target = self._instance(tenant_id, instance, write=False)
        return self._call(
            "describe objects",
            target,
            lambda: self._engine.database_objects(target.code, object_type, where, page.offset, page.limit),
        )

    # --- helpers ---------------------------------------------------------------------------------
    def _instance(self, tenant_id: str, identifier: str, *, write: bool) -> Instance:
        with self._store.read() as uow:
            found = uow.instances(tenant_id).find(identifier)
        if found is None or found.lifecycle is Lifecycle.DELETED:
            raise InstanceNotFound(identifier)
        if found.lifecycle is not Lifecycle.RUNNING:
            raise InstanceNotServing(found.code, found.lifecycle.value, "managing accounts and databases")
        if write and found.is_readonly:
            raise ReadOnlyInstanceDenied(
                found.code, "read-only", "changing accounts or databases (they come from the primary by replication)"
            )
        return found

    def _call(self, what: str, target: Instance, call: Callable[[], _T]) -> _T:
        """``call`` of the engine; the tenant's mistakes (domain errors) pass, anything else is
        `EngineFailed` with the engine's one-sentence reason (its full text goes to the log)."""
        try:
            return call()
        except OpenRDSError:
            raise
        except Exception as exc:
            log.warning("%s on %s failed: %s", what, target.code, exc)
            detail = getattr(exc, "detail", "") or type(exc).__name__
            raise EngineFailed(f"{what} on {target.code} failed: {detail}") from exc

    def _check_change(self, target: Instance, name: str, change: PrivilegeChange) -> PrivilegeChange:
        kind = change.kind
        if kind in (PrivilegeChangeKind.GRANT_OBJECT, PrivilegeChangeKind.REVOKE_OBJECT):
            if change.target.type is ObjectType.ACCOUNT:
                raise InvalidDatabaseObject("an account has no object privileges; use grantRole", field="object")
            check_object(change.target)
            return replace(change, privileges=check_privileges(change.target.type, change.privileges))
        if change.target.type is not ObjectType.ACCOUNT or change.target.name != name:
            raise InvalidDatabaseObject(f"{kind} takes ObjectType account and ObjectName {name}", field="object")
        if kind is PrivilegeChangeKind.ALTER_ROLE:
            if name == target.admin_user:
                raise AccountOperationDenied(f"{name} is the instance's admin account", field="user_name")
            if len(change.privileges) != 1 or change.privileges[0] not in {t.value for t in AccountType}:
                raise InvalidInput("alterRole takes one PrivilegeSet value: the account type", field="privileges")
            return change
        for role in change.privileges:
            if role not in GRANTABLE_ROLES:
                check_account_name(role, field="privileges")  # another account of the instance
        if not change.privileges:
            raise InvalidInput("PrivilegeSet is empty", field="privileges")
        return change

    def _save(self, tenant_id: str, note: AccountNote) -> None:
        with self._store.write() as uow:
            uow.db_accounts(tenant_id).save(tenant_id, note)

    def _update_note(
        self, tenant_id: str, target: Instance, name: str, change: Callable[[AccountNote], AccountNote]
    ) -> None:
        """Change the account's note, making one first for a role made outside the API (the account must
        exist on the server: `AccountNotFound` otherwise)."""
        with self._store.read() as uow:
            note = uow.db_accounts(tenant_id).find(target.id, name)
        if note is None:
            role = self._role(target, name)
            created = _EPOCH
            kind = AccountType.SUPER if role.super_type or name == target.admin_user else AccountType.NORMAL
            note = AccountNote(target.id, name, "", kind, not role.can_login, created, created, created)
        with self._store.write() as uow:
            uow.db_accounts(tenant_id).save(tenant_id, change(note))

    def _role(self, target: Instance, name: str) -> Role:
        roles = self._call("list accounts", target, lambda: self._engine.list_accounts(target.code))
        for role in roles:
            if role.name == name:
                return role
        raise AccountNotFound(f"account {name} does not exist", field="user_name")


def _account(role: Role, note: AccountNote | None, admin: str) -> Account:
    super_type = role.super_type or role.name == admin
    known = note is not None and note.created_at != _EPOCH
    return Account(
        name=role.name,
        type=AccountType.SUPER if super_type else AccountType.NORMAL,
        locked=not role.can_login,
        remark=note.remark if note else "",
        roles=role.roles,
        created_at=note.created_at if note and known else None,
        updated_at=note.updated_at if note else None,
        password_updated_at=note.password_updated_at if note and known else None,
    )
