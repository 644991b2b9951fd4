"""The accounts part of `tests.fakes.driver.FakeDriver` (`openrds.engine.accounts.AccountDriver`), in memory.

Roles and databases live with a primary; its replicas (down a cascade) answer reads with their root
primary's, as replication would, and refuse writes as a read-only server does. A password is kept as a
digest, so a test can tell which one is current (`FakeAccounts.password_is`). Ownership of objects
inside databases is what a test says (`FakeAccounts.give_objects`); ``postgres`` belongs to the service.

Steering: `give_objects`, `open_account_sessions`, `password_is`, `account_sessions`.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from openrds.domain.accounts import (
    PRIVILEGES,
    AccountType,
    Database,
    DatabaseSpec,
    DbObject,
    ObjectPrivileges,
    ObjectType,
    PrivilegeChange,
    PrivilegeChangeKind,
    Role,
)
from openrds.domain.errors import (
    AccountExists,
    AccountHasObjects,
    AccountNotFound,
    DatabaseExists,
    DatabaseNotFound,
    InvalidDatabaseObject,
    InvalidOwner,
    UnknownCollation,
)
from openrds.engine.driver import EngineError, ServerRole

if TYPE_CHECKING:
    from tests.fakes.driver import _Server

#: Locales this "host" has (a bare Debian: C, C.utf8, POSIX).
LOCALES = ("C", "C.utf8", "POSIX")


@dataclass
class _Role:
    login: bool
    super_type: bool
    digest: str
    roles: set[str] = field(default_factory=set)
    sessions: int = 0


@dataclass
class _Catalog:
    roles: dict[str, _Role] = field(default_factory=dict)
    databases: dict[str, Database] = field(default_factory=dict)
    owned: dict[tuple[str, str], int] = field(default_factory=dict)  # (role, database) -> objects it owns there
    grants: dict[tuple[str, DbObject], set[str]] = field(default_factory=dict)


def _digest(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def _postgres() -> Database:
    return Database("postgres", "openrds", "UTF8", "C", "C", True, -1, "")


class FakeAccounts:
    """Mixed into `FakeDriver`, whose ``_lock``, ``_servers`` and ``_running`` it uses."""

    _lock: threading.RLock
    _servers: dict[str, _Server]
    _catalogs: dict[str, _Catalog]

    def _running(self, instance_id: str, step: str) -> _Server: ...  # type: ignore[empty-body]
    def _call(self, method: str, subject: str) -> None: ...

    # ------------------------------------------------------------------ steering (not the contract)

    def give_objects(self, instance_id: str, name: str, database: str, count: int) -> None:
        """``name`` owns ``count`` objects in ``database`` (0: none any more)."""
        with self._lock:
            self._catalog(instance_id, "give objects", write=True).owned[(name, database)] = count

    def open_account_sessions(self, instance_id: str, name: str, count: int) -> None:
        with self._lock:
            self._role(self._catalog(instance_id, "sessions"), name).sessions += count

    def account_sessions(self, instance_id: str, name: str) -> int:
        with self._lock:
            return self._role(self._catalog(instance_id, "sessions"), name).sessions

    def password_is(self, instance_id: str, name: str, password: str) -> bool:
        with self._lock:
            return self._role(self._catalog(instance_id, "password"), name).digest == _digest(password)

    # ------------------------------------------------------------------ the contract (engine.accounts)

    def list_accounts(self, instance_id: str) -> Sequence[Role]:
        with self._lock:
            catalog = self._catalog(instance_id, "list accounts")
            return [
                Role(name, r.login, r.super_type, tuple(sorted(x for x in r.roles if x.startswith("pg_"))))
                for name, r in sorted(catalog.roles.items())
            ]

    def create_account(self, instance_id: str, name: str, password: str, account_type: AccountType, admin: str) -> None:
        with self._lock:
            self._call("create_account", instance_id)
            catalog = self._catalog(instance_id, "create account", write=True)
            if name in catalog.roles or name in ("openrds", "openrds_repl", "postgres"):
                raise AccountExists(f"account {name} exists already", field="user_name")
            catalog.roles[name] = _Role(True, account_type is AccountType.SUPER, _digest(password))

    def reset_account_password(self, instance_id: str, name: str, password: str) -> None:
        with self._lock:
            self._call("reset_account_password", instance_id)
            self._role(self._catalog(instance_id, "reset password", write=True), name).digest = _digest(password)

    def set_account_login(self, instance_id: str, name: str, allowed: bool) -> int:
        with self._lock:
            self._call("set_account_login", instance_id)
            role = self._role(self._catalog(instance_id, "lock account", write=True), name)
            role.login = allowed
            ended = 0 if allowed else role.sessions
            if not allowed:
                role.sessions = 0
            return ended

    def drop_account(self, instance_id: str, name: str) -> None:
        with self._lock:
            self._call("drop_account", instance_id)
            catalog = self._catalog(instance_id, "delete account", write=True)
            if name not in catalog.roles:
                return
            owned = [f"database {d.name}" for d in catalog.databases.values() if d.owner == name]
            owned += [
                f"{n} object(s) in database {db}" for (who, db), n in sorted(catalog.owned.items()) if who == name and n
            ]
            if owned:
                raise AccountHasObjects(f"account {name} still owns {'; '.join(owned)}", field="user_name")
            del catalog.roles[name]
            for key in [k for k in catalog.grants if k[0] == name]:
                del catalog.grants[key]

    def modify_account_privileges(self, instance_id: str, name: str, changes: Sequence[PrivilegeChange]) -> None:
        with self._lock:
            self._call("modify_account_privileges", instance_id)
            catalog = self._catalog(instance_id, "modify privileges", write=True)
            role = self._role(catalog, name)
            for change in changes:  # checked in full before any is applied
                self._check_target(catalog, change.target)
                if change.kind in (PrivilegeChangeKind.GRANT_ROLE, PrivilegeChangeKind.REVOKE_ROLE):
                    for granted in change.privileges:
                        if not granted.startswith("pg_") and granted not in catalog.roles:
                            raise InvalidDatabaseObject(f"role {granted} does not exist", field="privileges")
            for change in changes:
                if change.kind is PrivilegeChangeKind.ALTER_ROLE:
                    role.super_type = change.privileges == (AccountType.SUPER.value,)
                elif change.kind is PrivilegeChangeKind.GRANT_ROLE:
                    role.roles |= set(change.privileges)
                elif change.kind is PrivilegeChangeKind.REVOKE_ROLE:
                    role.roles -= set(change.privileges)
                elif change.kind is PrivilegeChangeKind.GRANT_OBJECT:
                    catalog.grants.setdefault((name, change.target), set()).update(change.privileges)
                else:
                    catalog.grants.setdefault((name, change.target), set()).difference_update(change.privileges)

    def account_privileges(
        self, instance_id: str, name: str, objects: Sequence[DbObject]
    ) -> Sequence[ObjectPrivileges]:
        with self._lock:
            catalog = self._catalog(instance_id, "describe privileges")
            self._role(catalog, name)
            found = []
            for target in objects:
                self._check_target(catalog, target)
                if target.type is ObjectType.ACCOUNT:
                    found.append(ObjectPrivileges(target, tuple(sorted(self._role(catalog, target.name).roles))))
                    continue
                held = set(catalog.grants.get((name, target), set()))
                if target.type is ObjectType.DATABASE:
                    held |= {"CONNECT", "TEMPORARY"}  # PUBLIC's by default
                if target.type is ObjectType.DATABASE and catalog.databases[target.name].owner == name:
                    held |= set(PRIVILEGES[ObjectType.DATABASE])
                found.append(ObjectPrivileges(target, tuple(p for p in PRIVILEGES[target.type] if p in held)))
            return found

    def list_databases(self, instance_id: str) -> Sequence[Database]:
        with self._lock:
            return [d for _, d in sorted(self._catalog(instance_id, "list databases").databases.items())]

    def create_database(self, instance_id: str, spec: DatabaseSpec) -> None:
        with self._lock:
            self._call("create_database", instance_id)
            catalog = self._catalog(instance_id, "create database", write=True)
            if spec.name in catalog.databases:
                raise DatabaseExists(f"database {spec.name} exists already", field="database_name")
            if spec.owner not in catalog.roles:
                raise InvalidOwner(f"account {spec.owner} does not exist", field="database_owner")
            for value, where in ((spec.collate, "collate"), (spec.ctype, "ctype")):
                if value and value not in LOCALES:
                    raise UnknownCollation(f"the server has no locale {value}", field=where)
            catalog.databases[spec.name] = Database(
                spec.name, spec.owner, spec.encoding, spec.collate or "C", spec.ctype or "C", True, -1, ""
            )

    def set_database_owner(self, instance_id: str, name: str, owner: str) -> None:
        with self._lock:
            self._call("set_database_owner", instance_id)
            catalog = self._catalog(instance_id, "modify database owner", write=True)
            database = catalog.databases.get(name)
            if database is None:
                raise DatabaseNotFound(f"database {name} does not exist", field="database_name")
            if owner not in catalog.roles:
                raise InvalidOwner(f"account {owner} does not exist", field="database_owner")
            catalog.databases[name] = Database(
                name, owner, database.encoding, database.collate, database.ctype, True, -1, database.privileges
            )

    def drop_database(self, instance_id: str, name: str) -> None:
        with self._lock:
            self._call("drop_database", instance_id)
            catalog = self._catalog(instance_id, "delete database", write=True)
            if catalog.databases.pop(name, None) is None:
                raise DatabaseNotFound(f"database {name} does not exist", field="database_name")
            for key in [k for k in catalog.owned if k[1] == name]:
                del catalog.owned[key]

    def database_objects(
        self, instance_id: str, object_type: ObjectType, where: DbObject, offset: int, limit: int
    ) -> tuple[int, list[str]]:
        with self._lock:
            catalog = self._catalog(instance_id, "describe objects")
            if where.database and where.database not in catalog.databases:
                raise InvalidDatabaseObject(f"database {where.database} does not exist", field="database_name")
            names: list[str] = []
            if object_type is ObjectType.DATABASE:
                names = sorted(catalog.databases)
            elif object_type is ObjectType.SCHEMA:
                names = ["information_schema", "pg_catalog", "public"]
            return len(names), names[offset : offset + limit]

    # ------------------------------------------------------------------ internals

    def _catalog(self, instance_id: str, step: str, *, write: bool = False) -> _Catalog:
        """The catalog ``instance_id`` serves: its own as a primary, its root primary's as a replica."""
        server = self._running(instance_id, step)
        if write and server.role is ServerRole.REPLICA:
            raise EngineError(step, f"{instance_id} is a read-only server (cannot execute in a read-only transaction)")
        while server.role is ServerRole.REPLICA and server.source_id in self._servers:
            server = self._servers[server.source_id]
        catalog = self._catalogs.get(server.instance_id)
        if catalog is None:
            catalog = self._catalogs[server.instance_id] = _Catalog(databases={"postgres": _postgres()})
        return catalog

    def _role(self, catalog: _Catalog, name: str) -> _Role:
        role = catalog.roles.get(name)
        if role is None:
            raise AccountNotFound(f"account {name} does not exist", field="user_name")
        return role

    def _check_target(self, catalog: _Catalog, target: DbObject) -> None:
        database = target.name if target.type is ObjectType.DATABASE else target.database
        if target.type is ObjectType.ACCOUNT:
            self._role(catalog, target.name)
        elif database not in catalog.databases:
            raise InvalidDatabaseObject(f"database {database} does not exist", field="object")
