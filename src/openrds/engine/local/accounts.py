"""`engine.accounts.AccountDriver` for servers on this host: SQL as the service's superuser over the
local socket (`sql.connect`), in any database of the server.

Role DDL runs in a *quiet* session (`QUIET_SETTINGS`): on PostgreSQL 15 a plain ``CREATE ROLE ...
PASSWORD`` shows in ``pg_stat_statements`` and, with ``log_statement`` or a slow-statement threshold,
in the server log - and a *failed* one is logged with its statement whatever ``log_statement`` says.
The session turns all of that off for itself, and the password itself is sent only as a verifier.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql as q

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
from openrds.engine.accounts import TERMINATE_TIMEOUT_MS
from openrds.engine.driver import EngineError
from openrds.engine.local import sql
from openrds.engine.local.files import REPLICATION_USER, SUPERUSER
from openrds.engine.local.layout import Layout, ServerMeta
from openrds.engine.local.process import Masker
from openrds.engine.local.secrets import SUPERUSER_PASSFILE, read_password

#: Session settings of every statement here: nothing of them reaches pg_stat_statements (utility
#: statements are what role DDL is) or the log (neither the statement, nor a slow one, nor the statement
#: of a failed one). A server without pg_stat_statements takes the first as a placeholder setting.
QUIET_SETTINGS = (
    ("track_activities", "off"),  # not even pg_stat_activity shows the statement (pg_monitor reads it)
    ("pg_stat_statements.track_utility", "off"),
    ("log_statement", "none"),
    ("log_min_error_statement", "panic"),
    ("log_min_duration_statement", "-1"),
    ("log_min_duration_sample", "-1"),
    ("log_duration", "off"),
    # A tenant's session holding a lock the DDL needs (an open transaction on a table being granted)
    # must not hold an API request: the statement gives up and the call answers an error.
    ("lock_timeout", "5s"),
    ("statement_timeout", "30s"),
)
#: The NOLOGIN group role an `AccountType.SUPER` account is a member of: the predefined roles the
#: tenant's admin holds too (engine.local.driver.ADMIN_ROLES), never the data or server-file roles.
SUPER_GROUP = "openrds_super"
SUPER_GROUP_ROLES = ("pg_monitor", "pg_signal_backend", "pg_checkpoint")
#: From 16 on CREATEROLE needs ADMIN OPTION to grant a role; before, it can grant itself anything.
SAFE_CREATEROLE_VERSION_NUM = 160000
#: Errors of a GRANT/REVOKE (or a privilege test) naming an object that is not there: the tenant's.
_MISSING_OBJECT = (
    pg_errors.UndefinedObject,
    pg_errors.UndefinedTable,
    pg_errors.UndefinedColumn,
    pg_errors.UndefinedFunction,
    pg_errors.InvalidSchemaName,
    pg_errors.WrongObjectType,
    pg_errors.InvalidTextRepresentation,
    pg_errors.SyntaxError,
)
_RELATION_KINDS = {
    ObjectType.TABLE: ("r", "p"),
    ObjectType.VIEW: ("v",),
    ObjectType.MATVIEW: ("m",),
    ObjectType.SEQUENCE: ("S",),
}
#: GRANT ... ON <keyword>: views and materialized views are tables to GRANT.
_GRANT_KEYWORD = {
    ObjectType.DATABASE: "DATABASE",
    ObjectType.SCHEMA: "SCHEMA",
    ObjectType.TABLE: "TABLE",
    ObjectType.VIEW: "TABLE",
    ObjectType.MATVIEW: "TABLE",
    ObjectType.COLUMN: "TABLE",
    ObjectType.SEQUENCE: "SEQUENCE",
    ObjectType.FUNCTION: "FUNCTION",
    ObjectType.PROCEDURE: "PROCEDURE",
    ObjectType.TYPE: "TYPE",
}


class LocalAccounts:
    """The account operations of `engine.local.LocalDriver` (which hands them out as its own methods).

    :param meta_of: the complete meta of a server (raises `ServerNotFound`).
    """

    def __init__(self, layout: Layout, masker: Masker, meta_of: Callable[[str], ServerMeta]) -> None:
        self._layout = layout
        self._masker = masker
        self._meta_of = meta_of

    @contextmanager
    def _session(self, instance_id: str, step: str, dbname: str = "postgres") -> Iterator[psycopg.Connection]:
        """A quiet autocommit superuser session on ``dbname`` of the server (see `QUIET_SETTINGS`).

        :raises EngineError: (transient) the server is not reachable or went away.
        """
        meta = self._meta_of(instance_id)
        passfile = self._layout.instance(meta.instance_id) / SUPERUSER_PASSFILE
        self._masker.add(read_password(passfile))
        try:
            with sql.connect(self._layout.run, meta.port, passfile, user=SUPERUSER, dbname=dbname) as conn:
                # One round trip; settings this server version does not have (log_min_duration_sample
                # came with 13) are skipped, the dotted placeholder is always taken.
                conn.execute(
                    "SELECT pg_catalog.set_config(v.name, v.value, false) FROM unnest(%s::text[], %s::text[])"
                    " AS v(name, value) WHERE v.name LIKE '%%.%%'"
                    " OR EXISTS (SELECT 1 FROM pg_catalog.pg_settings s WHERE s.name = v.name)",
                    ([n for n, _ in QUIET_SETTINGS], [v for _, v in QUIET_SETTINGS]),
                )
                yield conn
        except psycopg.OperationalError as exc:
            # No SQLSTATE (the connection failed or broke), 08 (connection exception) or 57 (operator
            # intervention: a shutdown): the server is not there. Other "operational" states (55: an
            # object in use, ...) are a statement's failure like any other.
            if exc.sqlstate in ("55P03", "57014"):  # lock_timeout, statement_timeout
                detail = f"gave up waiting: {_first_line(exc)} (a lock held by another session?)"
                raise EngineError(step, detail) from None
            if exc.sqlstate is None or exc.sqlstate.startswith(("08", "57")):
                raise EngineError(step, f"{instance_id} is not reachable: {exc}", transient=True) from None
            raise EngineError(step, f"{type(exc).__name__}: {_first_line(exc)}") from None
        except psycopg.Error as exc:
            if isinstance(exc, _MISSING_OBJECT):
                raise InvalidDatabaseObject(_first_line(exc), field="object") from None
            raise EngineError(step, f"{type(exc).__name__}: {_first_line(exc)}") from None

    # --- accounts --------------------------------------------------------------------------------
    def list_accounts(self, instance_id: str) -> Sequence[Role]:
        with self._session(instance_id, "list accounts") as conn:
            rows = conn.execute(
                "SELECT r.rolname, r.rolcanlogin,"
                " EXISTS (SELECT 1 FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid"
                "         WHERE m.member = r.oid AND g.rolname = %s),"
                " ARRAY(SELECT g.rolname::text FROM pg_catalog.pg_auth_members m"
                "       JOIN pg_catalog.pg_roles g ON g.oid = m.roleid"
                "       WHERE m.member = r.oid AND g.rolname LIKE 'pg\\_%%' ORDER BY 1)"
                " FROM pg_catalog.pg_roles r"
                " WHERE r.rolname !~ '^pg_' AND r.rolname !~ '^openrds' AND NOT r.rolsuper"
                " AND r.rolname <> ALL(%s) ORDER BY r.rolname",
                (SUPER_GROUP, [SUPERUSER, REPLICATION_USER]),
            ).fetchall()
        return [Role(str(n), bool(login), bool(sup), tuple(roles)) for n, login, sup, roles in rows]

    def create_account(self, instance_id: str, name: str, password: str, account_type: AccountType, admin: str) -> None:
        with self._session(instance_id, "create account") as conn:
            verifier = sql.scram_verifier(conn, name, password)
            with conn.transaction():
                if _role_oid(conn, name) is not None:
                    raise AccountExists(f"account {name} exists already", field="user_name")
                conn.execute(
                    q.SQL(
                        "CREATE ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"
                        " PASSWORD {}"
                    ).format(q.Identifier(name), q.Literal(verifier))
                )
                if account_type is AccountType.SUPER:
                    _make_super(conn, name, True)
                if admin and _role_oid(conn, admin) is not None:
                    sql.let_admin_reach(conn, admin, name)

    def reset_account_password(self, instance_id: str, name: str, password: str) -> None:
        with self._session(instance_id, "reset password") as conn:
            _need_role(conn, name)
            verifier = sql.scram_verifier(conn, name, password)
            conn.execute(q.SQL("ALTER ROLE {} PASSWORD {}").format(q.Identifier(name), q.Literal(verifier)))

    def set_account_login(self, instance_id: str, name: str, allowed: bool) -> int:
        with self._session(instance_id, "lock account" if not allowed else "unlock account") as conn:
            _need_role(conn, name)
            conn.execute(q.SQL("ALTER ROLE {} {}").format(q.Identifier(name), q.SQL("LOGIN" if allowed else "NOLOGIN")))
            return 0 if allowed else _end_sessions(conn, name)

    def drop_account(self, instance_id: str, name: str) -> None:
        with self._session(instance_id, "delete account") as conn:
            if _role_oid(conn, name) is None:
                return
            owned = _owned(conn, name)
            if owned:
                raise AccountHasObjects(
                    f"account {name} still owns {owned}: give them another owner (ModifyDatabaseOwner,"
                    " ALTER ... OWNER TO) or drop them first",
                    field="user_name",
                )
            databases = [
                str(r[0])
                for r in conn.execute("SELECT datname FROM pg_catalog.pg_database WHERE datallowconn ORDER BY 1")
            ]
        # It owns nothing, so DROP OWNED only takes its privileges (and default privileges) there.
        for database in databases:
            with self._session(instance_id, "delete account", database) as conn:
                conn.execute(q.SQL("DROP OWNED BY {}").format(q.Identifier(name)))
        # One transaction: a drop that fails (an object created meanwhile) leaves the role as it was. A
        # session opened between the end of the others and the drop fails at its next statement
        # ("invalid role OID"): PostgreSQL drops a role whose sessions are open.
        with self._session(instance_id, "delete account") as conn, conn.transaction():
            conn.execute(q.SQL("ALTER ROLE {} NOLOGIN").format(q.Identifier(name)))
            _end_sessions(conn, name)
            conn.execute(q.SQL("DROP ROLE IF EXISTS {}").format(q.Identifier(name)))

    def modify_account_privileges(self, instance_id: str, name: str, changes: Sequence[PrivilegeChange]) -> None:
        with self._session(instance_id, "modify privileges") as conn:
            _need_role(conn, name)
            existing = {str(r[0]) for r in conn.execute("SELECT datname FROM pg_catalog.pg_database")}
        by_database: dict[str, list[PrivilegeChange]] = {}
        for change in changes:
            database = _database_of(change.target)
            if database not in existing:
                raise InvalidDatabaseObject(f"database {database} does not exist", field="object")
            by_database.setdefault(database, []).append(change)
        for apply in (False, True):  # a rehearsal rolled back in every database, then the real thing
            for database, group in by_database.items():
                with self._session(instance_id, "modify privileges", database) as conn, conn.transaction():
                    for change in group:
                        _apply(conn, name, change)
                    if not apply:
                        raise psycopg.Rollback()

    def account_privileges(
        self, instance_id: str, name: str, objects: Sequence[DbObject]
    ) -> Sequence[ObjectPrivileges]:
        with self._session(instance_id, "describe privileges") as conn:
            _need_role(conn, name)
            existing = {str(r[0]) for r in conn.execute("SELECT datname FROM pg_catalog.pg_database")}
        found: list[ObjectPrivileges] = []
        for target in objects:
            database = _database_of(target)
            if database not in existing:
                raise InvalidDatabaseObject(f"database {database} does not exist", field="object")
            with self._session(instance_id, "describe privileges", database) as conn:
                found.append(ObjectPrivileges(target, _held(conn, name, target)))
        return found

    # --- databases -------------------------------------------------------------------------------
    def list_databases(self, instance_id: str) -> Sequence[Database]:
        with self._session(instance_id, "list databases") as conn:
            rows = conn.execute(
                "SELECT d.datname, pg_catalog.pg_get_userbyid(d.datdba), pg_catalog.pg_encoding_to_char(d.encoding),"
                " d.datcollate, d.datctype, d.datallowconn, d.datconnlimit,"
                " COALESCE(pg_catalog.array_to_string(d.datacl, ','), '')"
                " FROM pg_catalog.pg_database d WHERE NOT d.datistemplate ORDER BY d.datname"
            ).fetchall()
        return [
            Database(str(name), str(owner), str(encoding), str(collate), str(ctype), bool(allow), int(limit), str(acl))
            for name, owner, encoding, collate, ctype, allow, limit, acl in rows
        ]

    def create_database(self, instance_id: str, spec: DatabaseSpec) -> None:
        with self._session(instance_id, "create database") as conn:
            if _database_exists(conn, spec.name):
                raise DatabaseExists(f"database {spec.name} exists already", field="database_name")
            if _role_oid(conn, spec.owner) is None:
                raise InvalidOwner(f"account {spec.owner} does not exist", field="database_owner")
            for value, field in ((spec.collate, "collate"), (spec.ctype, "ctype")):
                if value and not _locale_exists(conn, value, spec.encoding):
                    raise UnknownCollation(
                        f"the server has no locale {value} for encoding {spec.encoding}", field=field
                    )
            options = [
                q.SQL("OWNER {}").format(q.Identifier(spec.owner)),
                q.SQL("ENCODING {}").format(q.Literal(spec.encoding)),
                q.SQL("TEMPLATE template0"),
            ]
            if spec.collate:
                options.append(q.SQL("LC_COLLATE {}").format(q.Literal(spec.collate)))
            if spec.ctype:
                options.append(q.SQL("LC_CTYPE {}").format(q.Literal(spec.ctype)))
            try:
                conn.execute(q.SQL("CREATE DATABASE {} {}").format(q.Identifier(spec.name), q.SQL(" ").join(options)))
            except (pg_errors.InvalidParameterValue, pg_errors.FeatureNotSupported) as exc:
                # e.g. "encoding "LATIN1" does not match locale "C.utf8"": nothing was created.
                raise UnknownCollation(_first_line(exc), field="encoding") from None

    def set_database_owner(self, instance_id: str, name: str, owner: str) -> None:
        with self._session(instance_id, "modify database owner") as conn:
            if not _database_exists(conn, name):
                raise DatabaseNotFound(f"database {name} does not exist", field="database_name")
            if _role_oid(conn, owner) is None:
                raise InvalidOwner(f"account {owner} does not exist", field="database_owner")
            conn.execute(q.SQL("ALTER DATABASE {} OWNER TO {}").format(q.Identifier(name), q.Identifier(owner)))

    def drop_database(self, instance_id: str, name: str) -> None:
        with self._session(instance_id, "delete database") as conn:
            if not _database_exists(conn, name):
                raise DatabaseNotFound(f"database {name} does not exist", field="database_name")
            conn.execute(q.SQL("DROP DATABASE {} WITH (FORCE)").format(q.Identifier(name)))

    def database_objects(
        self, instance_id: str, object_type: ObjectType, where: DbObject, offset: int, limit: int
    ) -> tuple[int, list[str]]:
        database = where.database or "postgres"
        with self._session(instance_id, "describe objects") as conn:
            if not _database_exists(conn, database):
                raise InvalidDatabaseObject(f"database {database} does not exist", field="database_name")
        with self._session(instance_id, "describe objects", database) as conn:
            query, params = _listing(object_type, where)
            total_row = conn.execute(q.SQL("SELECT count(*) FROM ({}) o").format(query), params).fetchone()
            page = conn.execute(
                q.SQL("SELECT name FROM ({}) o ORDER BY name OFFSET %s LIMIT %s").format(query),
                (*params, offset, limit),
            ).fetchall()
        return int(total_row[0] if total_row else 0), [str(r[0]) for r in page]


# --- helpers -------------------------------------------------------------------------------------
def _first_line(exc: psycopg.Error) -> str:
    diag = exc.diag.message_primary if isinstance(exc, psycopg.Error) else None
    return diag or str(exc).strip().splitlines()[0]


def _role_oid(conn: psycopg.Connection, name: str) -> int | None:
    row = conn.execute("SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s", (name,)).fetchone()
    return int(row[0]) if row else None


def _need_role(conn: psycopg.Connection, name: str) -> None:
    if _role_oid(conn, name) is None:
        raise AccountNotFound(f"account {name} does not exist", field="user_name")


def _database_exists(conn: psycopg.Connection, name: str) -> bool:
    return conn.execute("SELECT 1 FROM pg_catalog.pg_database WHERE datname = %s", (name,)).fetchone() is not None


def _locale_exists(conn: psycopg.Connection, name: str, encoding: str) -> bool:
    """C and POSIX always; else a libc collation of that name for the encoding (or any encoding)."""
    if name in ("C", "POSIX"):
        return True
    row = conn.execute(
        "SELECT 1 FROM pg_catalog.pg_collation WHERE collprovider = 'c' AND collname = %s"
        " AND collencoding IN (-1, pg_catalog.pg_char_to_encoding(%s))",
        (name, encoding),
    ).fetchone()
    return row is not None


def _end_sessions(conn: psycopg.Connection, name: str) -> int:
    """End every session of role ``name``, waiting for each to exit; returns how many there were."""
    row = conn.execute(
        "SELECT count(*) FILTER (WHERE pg_catalog.pg_terminate_backend(pid, %s))"
        " FROM pg_catalog.pg_stat_activity WHERE usename = %s AND pid <> pg_catalog.pg_backend_pid()",
        (TERMINATE_TIMEOUT_MS, name),
    ).fetchone()
    return int(row[0]) if row else 0


def _owned(conn: psycopg.Connection, name: str) -> str:
    """What ``name`` owns, in words ("database d2; 2 object(s) in database d3"); "" when nothing."""
    rows = conn.execute(
        "SELECT s.classid = 'pg_catalog.pg_database'::regclass,"
        " CASE WHEN s.classid = 'pg_catalog.pg_database'::regclass"
        "      THEN (SELECT datname FROM pg_catalog.pg_database WHERE oid = s.objid) ELSE d.datname END,"
        " count(*)"
        " FROM pg_catalog.pg_shdepend s LEFT JOIN pg_catalog.pg_database d ON d.oid = s.dbid"
        " WHERE s.refclassid = 'pg_catalog.pg_authid'::regclass AND s.deptype = 'o'"
        "   AND s.refobjid = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = %s)"
        " GROUP BY 1, 2 ORDER BY 1 DESC, 2",
        (name,),
    ).fetchall()
    return "; ".join(
        f"database {db}" if is_database else f"{count} object(s) in database {db}" for is_database, db, count in rows
    )


def _make_super(conn: psycopg.Connection, name: str, on: bool) -> None:
    """`AccountType.SUPER` or back: CREATEDB (and CREATEROLE from 16 on) and membership of `SUPER_GROUP`."""
    role = q.Identifier(name)
    createrole = conn.info.server_version >= SAFE_CREATEROLE_VERSION_NUM
    if on:
        if _role_oid(conn, SUPER_GROUP) is None:
            conn.execute(q.SQL("CREATE ROLE {} NOLOGIN").format(q.Identifier(SUPER_GROUP)))
            conn.execute(
                q.SQL("GRANT {} TO {}").format(
                    q.SQL(", ").join(q.Identifier(r) for r in SUPER_GROUP_ROLES), q.Identifier(SUPER_GROUP)
                )
            )
        attributes = "CREATEDB CREATEROLE" if createrole else "CREATEDB"
        conn.execute(q.SQL("ALTER ROLE {} {}").format(role, q.SQL(attributes)))
        conn.execute(q.SQL("GRANT {} TO {}").format(q.Identifier(SUPER_GROUP), role))
    else:
        conn.execute(q.SQL("ALTER ROLE {} NOCREATEDB NOCREATEROLE").format(role))
        if _role_oid(conn, SUPER_GROUP) is not None:
            conn.execute(q.SQL("REVOKE {} FROM {}").format(q.Identifier(SUPER_GROUP), role))


def _database_of(target: DbObject) -> str:
    if target.type is ObjectType.DATABASE:
        return target.name
    return target.database or "postgres"


def _qualified(target: DbObject) -> q.Composable:
    """The object's name as SQL: ``"db"``, ``"schema"``, ``"schema"."table"``; a function or procedure
    resolved by the server from ``schema.name(argtypes)`` (its own output of the signature)."""
    if target.type in (ObjectType.DATABASE, ObjectType.SCHEMA):
        return q.Identifier(target.name)
    if target.type is ObjectType.COLUMN:
        return q.Identifier(target.schema, target.table)
    return q.Identifier(target.schema, target.name)


def _routine(conn: psycopg.Connection, target: DbObject) -> str:
    """The canonical signature of a function or procedure (``regprocedure`` output, schema-qualified)."""
    row = conn.execute(
        "SELECT pg_catalog.to_regprocedure(pg_catalog.quote_ident(%s) || '.' || %s)::oid", (target.schema, target.name)
    ).fetchone()
    if row is None or row[0] is None:
        raise InvalidDatabaseObject(f"{target.type} {target.schema}.{target.name} does not exist", field="object")
    oid = int(row[0])
    kind = conn.execute("SELECT prokind FROM pg_catalog.pg_proc WHERE oid = %s", (oid,)).fetchone()
    if kind is None or (kind[0] == "p") != (target.type is ObjectType.PROCEDURE):
        raise InvalidDatabaseObject(f"{target.schema}.{target.name} is not a {target.type}", field="object")
    text = conn.execute("SELECT %s::oid::regprocedure::text", (oid,)).fetchone()
    assert text is not None
    return str(text[0])


def _apply(conn: psycopg.Connection, name: str, change: PrivilegeChange) -> None:
    role = q.Identifier(name)
    target = change.target
    if change.kind is PrivilegeChangeKind.ALTER_ROLE:
        _make_super(conn, name, change.privileges == (AccountType.SUPER.value,))
        return
    if change.kind in (PrivilegeChangeKind.GRANT_ROLE, PrivilegeChangeKind.REVOKE_ROLE):
        for granted in change.privileges:
            if _role_oid(conn, granted) is None:
                raise InvalidDatabaseObject(f"role {granted} does not exist", field="privileges")
        roles = q.SQL(", ").join(q.Identifier(r) for r in change.privileges)
        verb = "GRANT {} TO {}" if change.kind is PrivilegeChangeKind.GRANT_ROLE else "REVOKE {} FROM {}"
        conn.execute(q.SQL(verb).format(roles, role))
        return
    if target.type is ObjectType.COLUMN:
        privileges = q.SQL(", ").join(
            q.SQL("{} ({})").format(q.SQL(p), q.Identifier(target.name)) for p in change.privileges
        )
    else:
        privileges = q.SQL(", ").join(q.SQL(p) for p in change.privileges)  # checked against PRIVILEGES
    if target.type in (ObjectType.FUNCTION, ObjectType.PROCEDURE):
        obj: q.Composable = q.SQL(_routine(conn, target))
    else:
        obj = _qualified(target)
    on = q.SQL(_GRANT_KEYWORD[target.type])
    if change.kind is PrivilegeChangeKind.GRANT_OBJECT:
        conn.execute(q.SQL("GRANT {} ON {} {} TO {}").format(privileges, on, obj, role))
    else:
        cascade = q.SQL(" CASCADE" if change.cascade else "")
        conn.execute(q.SQL("REVOKE {} ON {} {} FROM {}{}").format(privileges, on, obj, role, cascade))


def _held(conn: psycopg.Connection, name: str, target: DbObject) -> tuple[str, ...]:
    """The privileges of ``target``'s type that ``name`` has on it (``has_*_privilege``)."""
    if target.type is ObjectType.ACCOUNT:
        _need_role(conn, target.name)
        rows = conn.execute(
            "SELECT g.rolname FROM pg_catalog.pg_auth_members m JOIN pg_catalog.pg_roles g ON g.oid = m.roleid"
            " JOIN pg_catalog.pg_roles r ON r.oid = m.member WHERE r.rolname = %s ORDER BY 1",
            (target.name,),
        ).fetchall()
        return tuple(str(r[0]) for r in rows)
    checks: dict[ObjectType, tuple[str, tuple[str, ...]]] = {
        ObjectType.DATABASE: ("has_database_privilege(%s, %s, %s)", (target.name,)),
        ObjectType.SCHEMA: ("has_schema_privilege(%s, %s, %s)", (target.name,)),
        ObjectType.TABLE: ("has_table_privilege(%s, %s, %s)", (f"{_ident(target.schema)}.{_ident(target.name)}",)),
        ObjectType.VIEW: ("has_table_privilege(%s, %s, %s)", (f"{_ident(target.schema)}.{_ident(target.name)}",)),
        ObjectType.MATVIEW: ("has_table_privilege(%s, %s, %s)", (f"{_ident(target.schema)}.{_ident(target.name)}",)),
        ObjectType.SEQUENCE: (
            "has_sequence_privilege(%s, %s, %s)",
            (f"{_ident(target.schema)}.{_ident(target.name)}",),
        ),
        ObjectType.COLUMN: (
            "has_column_privilege(%s, %s, %s, %s)",
            (f"{_ident(target.schema)}.{_ident(target.table)}", target.name),
        ),
        ObjectType.TYPE: ("has_type_privilege(%s, %s, %s)", (f"{_ident(target.schema)}.{_ident(target.name)}",)),
    }
    args: tuple[str, ...]
    if target.type in (ObjectType.FUNCTION, ObjectType.PROCEDURE):
        check, args = "has_function_privilege(%s, %s, %s)", (_routine(conn, target),)
    else:
        check, args = checks[target.type]
    held = []
    for privilege in PRIVILEGES[target.type]:
        row = conn.execute(f"SELECT pg_catalog.{check}", (name, *args, privilege)).fetchone()
        if row and row[0]:
            held.append(privilege)
    return tuple(held)


def _ident(name: str) -> str:
    """``name`` double-quoted as an identifier (for the text argument of ``has_*_privilege``)."""
    return '"' + name.replace('"', '""') + '"'


def _listing(object_type: ObjectType, where: DbObject) -> tuple[q.Composable, tuple[object, ...]]:
    """A query of one ``name`` column listing the objects, and its parameters."""
    if object_type is ObjectType.DATABASE:
        return q.SQL("SELECT datname::text AS name FROM pg_catalog.pg_database WHERE NOT datistemplate"), ()
    if object_type is ObjectType.SCHEMA:
        return (
            q.SQL(
                "SELECT nspname::text AS name FROM pg_catalog.pg_namespace"
                " WHERE nspname !~ '^pg_(toast|temp_|toast_temp_)'"
            ),
            (),
        )
    if object_type in _RELATION_KINDS:
        return (
            q.SQL(
                "SELECT c.relname::text AS name FROM pg_catalog.pg_class c"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relkind = ANY(%s)"
            ),
            (where.schema, list(_RELATION_KINDS[object_type])),
        )
    if object_type is ObjectType.COLUMN:
        return (
            q.SQL(
                "SELECT a.attname::text AS name FROM pg_catalog.pg_attribute a"
                " JOIN pg_catalog.pg_class c ON c.oid = a.attrelid"
                " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped"
            ),
            (where.schema, where.table),
        )
    if object_type in (ObjectType.FUNCTION, ObjectType.PROCEDURE):
        kinds = ["p"] if object_type is ObjectType.PROCEDURE else ["f", "a", "w"]
        return (
            q.SQL(
                "SELECT p.proname || '(' || pg_catalog.replace(pg_catalog.oidvectortypes(p.proargtypes), ', ', ',')"
                " || ')' AS name"
                " FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace"
                " WHERE n.nspname = %s AND p.prokind::text = ANY(%s)"
            ),
            (where.schema, kinds),
        )
    # Types: neither array types nor the row types of relations.
    return (
        q.SQL(
            "SELECT t.typname::text AS name FROM pg_catalog.pg_type t"
            " JOIN pg_catalog.pg_namespace n ON n.oid = t.typnamespace"
            " WHERE n.nspname = %s AND t.typcategory <> 'A'"
            " AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = t.typrelid) = 'c')"
        ),
        (where.schema,),
    )
