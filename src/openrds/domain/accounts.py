"""Database accounts and databases of an instance: what they are and the rules a request must pass.

The server's catalogs are the truth about which roles and databases exist; the store adds what
PostgreSQL has no place for (an account's remark and type, the API's times, the lock flag). Every rule
here is checked before anything is written anywhere; the engine only ever sees names that passed them.
Names of SQL objects go to the server as quoted identifiers, never spliced into statements.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from datetime import datetime

from openrds.domain.errors import (
    AccountNameFormat,
    DatabaseNameFormat,
    InvalidDatabaseObject,
    InvalidInput,
    InvalidName,
    NameTooLong,
    PasswordLength,
    PasswordTooWeak,
    ReservedAccountName,
)

#: An account or database name: an unquoted SQL identifier of at most 63 bytes (PostgreSQL's NAMEDATALEN - 1).
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")
#: Tencent's password alphabet: ASCII letters, digits and these symbols (PostgreSQL SASLprep-normalises
#: anything else, so a non-ASCII password could log in under another spelling).
PASSWORD_SYMBOLS = frozenset("()`~!@#$%^&*-+=_|{}[]:<>,.?/")
PASSWORD_MIN, PASSWORD_MAX = 8, 32
REMARK_MAX = 60
_REMARK = re.compile(r"[A-Za-z0-9_\-\u4e00-\u9fff]*")
#: Names PostgreSQL reserves as keywords (``pg_get_keywords()`` with ``catcode = 'R'``, 77 on 15; the
#: real-server tests compare this set with the server's).
RESERVED_KEYWORDS = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "column",
        "constraint",
        "create",
        "current_catalog",
        "current_date",
        "current_role",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "from",
        "grant",
        "group",
        "having",
        "in",
        "initially",
        "intersect",
        "into",
        "lateral",
        "leading",
        "limit",
        "localtime",
        "localtimestamp",
        "not",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "placing",
        "primary",
        "references",
        "returning",
        "select",
        "session_user",
        "some",
        "symmetric",
        "table",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "when",
        "where",
        "window",
        "with",
    ]
)
#: Names no account or database of a tenant may take: PostgreSQL's own, and the service's.
RESERVED_NAMES = frozenset({"postgres", "public", "none", "template0", "template1", "session_user", "system_user"})
RESERVED_PREFIXES = ("pg_", "tencentdb_", "openrds", "current_")
#: Predefined roles a tenant may grant to its accounts (``grantRole``). Never pg_read_all_data /
#: pg_write_all_data (they read ``pg_authid``: docs/trust-model.md) nor the server-file and program roles.
GRANTABLE_ROLES = frozenset(
    {"pg_monitor", "pg_read_all_stats", "pg_read_all_settings", "pg_stat_scan_tables", "pg_signal_backend"}
)
#: What an account of each kind is given besides LOGIN (see the engine): normal accounts nothing.
ENCODINGS = ("UTF8", "LATIN1", "LATIN2", "WIN1250", "WIN1251", "WIN1252", "KOI8R", "EUC_JP", "EUC_KR")


class AccountType(enum.StrEnum):
    """``normal``: LOGIN and nothing else. ``super``: also CREATEDB and the monitoring roles the
    tenant's admin has (Tencent's ``tencentDBSuper``), never SUPERUSER."""

    NORMAL = "normal"
    SUPER = "super"


class ObjectType(enum.StrEnum):
    DATABASE = "database"
    SCHEMA = "schema"
    TABLE = "table"
    VIEW = "view"
    MATVIEW = "matview"
    COLUMN = "column"
    SEQUENCE = "sequence"
    FUNCTION = "function"
    PROCEDURE = "procedure"
    TYPE = "type"
    ACCOUNT = "account"


#: PostgreSQL's privilege names per object type (GRANT ... ON <type>).
PRIVILEGES: dict[ObjectType, tuple[str, ...]] = {
    ObjectType.DATABASE: ("CREATE", "CONNECT", "TEMPORARY"),
    ObjectType.SCHEMA: ("CREATE", "USAGE"),
    ObjectType.TABLE: ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    ObjectType.VIEW: ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    ObjectType.MATVIEW: ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER"),
    ObjectType.COLUMN: ("SELECT", "INSERT", "UPDATE", "REFERENCES"),
    ObjectType.SEQUENCE: ("USAGE", "SELECT", "UPDATE"),
    ObjectType.FUNCTION: ("EXECUTE",),
    ObjectType.PROCEDURE: ("EXECUTE",),
    ObjectType.TYPE: ("USAGE",),
}


class PrivilegeChangeKind(enum.StrEnum):
    GRANT_OBJECT = "grant_object"
    REVOKE_OBJECT = "revoke_object"
    ALTER_ROLE = "alter_role"  # the account's type: normal or super
    GRANT_ROLE = "grant_role"
    REVOKE_ROLE = "revoke_role"


@dataclass(frozen=True, slots=True)
class DbObject:
    """An object privileges are about. ``database`` unless the object is a database or an account,
    ``schema`` unless it is a database, schema or account, ``table`` for a column."""

    type: ObjectType
    name: str
    database: str = ""
    schema: str = ""
    table: str = ""


@dataclass(frozen=True, slots=True)
class PrivilegeChange:
    kind: PrivilegeChangeKind
    target: DbObject
    privileges: tuple[str, ...]  # PostgreSQL's privilege names, role names, or the account type
    cascade: bool = False


@dataclass(frozen=True, slots=True)
class ObjectPrivileges:
    target: DbObject
    privileges: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Role:
    """An account as the server's catalogs show it."""

    name: str
    can_login: bool
    super_type: bool  # member of the service's group role for `AccountType.SUPER`
    roles: tuple[str, ...]  # predefined (``pg_*``) roles it is a member of, sorted


@dataclass(frozen=True, slots=True)
class AccountNote:
    """What the store keeps about an account the API created or changed."""

    instance_id: str
    name: str
    remark: str
    type: AccountType
    locked: bool
    created_at: datetime
    updated_at: datetime
    password_updated_at: datetime


@dataclass(frozen=True, slots=True)
class Account:
    """An account as the API shows it: the catalog's role with the store's note (None for a role made
    with plain SQL)."""

    name: str
    type: AccountType
    locked: bool
    remark: str
    roles: tuple[str, ...]
    created_at: datetime | None
    updated_at: datetime | None
    password_updated_at: datetime | None


@dataclass(frozen=True, slots=True)
class DatabaseSpec:
    name: str
    owner: str
    encoding: str = "UTF8"
    collate: str = ""  # "": the server's default
    ctype: str = ""


@dataclass(frozen=True, slots=True)
class Database:
    name: str
    owner: str
    encoding: str
    collate: str
    ctype: str
    allow_conn: bool
    conn_limit: int
    privileges: str  # the ACL as text, "" when default


# --- rules ---------------------------------------------------------------------------------------
def _reserved(name: str) -> bool:
    lower = name.lower()
    return lower in RESERVED_KEYWORDS or lower in RESERVED_NAMES or lower.startswith(RESERVED_PREFIXES)


def check_account_name(name: str, field: str = "user_name") -> str:
    """A new account's name: an identifier of 1-63 characters, not reserved. Returns it as given
    (PostgreSQL keeps case when the name is quoted; the API names accounts exactly)."""
    if not _IDENTIFIER.fullmatch(name):
        raise AccountNameFormat(
            "an account name is 1-63 letters, digits and '_', not starting with a digit", field=field
        )
    if _reserved(name):
        raise ReservedAccountName(f"account name {name} is reserved", field=field)
    return name


def check_database_name(name: str, field: str = "database_name") -> str:
    if not _IDENTIFIER.fullmatch(name):
        raise DatabaseNameFormat(
            "a database name is 1-63 letters, digits and '_', not starting with a digit", field=field
        )
    if _reserved(name):
        raise DatabaseNameFormat(f"database name {name} is reserved", field=field)
    return name


def check_account_password(password: str, field: str = "account_password") -> None:
    """8-32 ASCII characters, not starting with ``/``, with a lower case letter, an upper case letter,
    a digit and one of `PASSWORD_SYMBOLS`, and nothing else."""
    if not PASSWORD_MIN <= len(password) <= PASSWORD_MAX:
        raise PasswordLength(f"a password has {PASSWORD_MIN}-{PASSWORD_MAX} characters", field=field)
    allowed = all((c.isascii() and c.isalnum()) or c in PASSWORD_SYMBOLS for c in password)
    complete = (
        any(c.islower() for c in password)
        and any(c.isupper() for c in password)
        and any(c.isdigit() for c in password)
        and any(c in PASSWORD_SYMBOLS for c in password)
    )
    if not allowed or not complete or password.startswith("/"):
        raise PasswordTooWeak(
            "a password needs a lower case letter, an upper case letter, a digit and one of "
            f"{''.join(sorted(PASSWORD_SYMBOLS))}, no other characters, and may not start with '/'",
            field=field,
        )


def check_remark(remark: str, field: str = "remark") -> str:
    if len(remark) > REMARK_MAX:
        raise NameTooLong(f"a remark has at most {REMARK_MAX} characters", field=field)
    if not _REMARK.fullmatch(remark):
        raise InvalidName("a remark may hold letters, digits, Chinese characters, '_' and '-'", field=field)
    return remark


def check_encoding(encoding: str, field: str = "encoding") -> str:
    if encoding.upper() not in ENCODINGS:
        raise InvalidInput(f"encoding must be one of {', '.join(ENCODINGS)}", field=field)
    return encoding.upper()


#: A name inside a privilege object: letters, digits, '_' and '[]' (arrays in a signature); a function
#: adds its argument types in parentheses, separated by commas (``f(integer,text)``).
_OBJECT_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_\[\]$]{0,62}")
_SIGNATURE = re.compile(r"[A-Za-z_][A-Za-z0-9_$]{0,62}\(([A-Za-z0-9_\[\] ,.]{0,512})\)")


def check_object(target: DbObject, field: str = "object") -> DbObject:
    """The names an object of its type needs are there and well formed; names it does not need are
    refused rather than ignored."""
    kind = target.type
    needs_database = kind not in (ObjectType.DATABASE, ObjectType.ACCOUNT)
    needs_schema = kind not in (ObjectType.DATABASE, ObjectType.SCHEMA, ObjectType.ACCOUNT)
    needs_table = kind is ObjectType.COLUMN
    for present, wanted, what in (
        (target.database, needs_database, "DatabaseName"),
        (target.schema, needs_schema, "SchemaName"),
        (target.table, needs_table, "TableName"),
    ):
        if wanted and not present:
            raise InvalidDatabaseObject(f"a {kind} object needs {what}", field=field)
        if present and not wanted:
            raise InvalidDatabaseObject(f"a {kind} object takes no {what}", field=field)
        if present and not _OBJECT_NAME.fullmatch(present):
            raise InvalidDatabaseObject(f"{what} {present!r} is not a valid name", field=field)
    pattern = _SIGNATURE if kind in (ObjectType.FUNCTION, ObjectType.PROCEDURE) else _OBJECT_NAME
    if not pattern.fullmatch(target.name):
        expected = " with its argument types, e.g. f(integer,text)" if pattern is _SIGNATURE else ""
        raise InvalidDatabaseObject(f"ObjectName {target.name!r} is not a valid {kind} name{expected}", field=field)
    return target


def check_privileges(kind: ObjectType, privileges: tuple[str, ...], field: str = "privileges") -> tuple[str, ...]:
    """Upper-cased, de-duplicated, each one PostgreSQL has for ``kind``; at least one."""
    allowed = PRIVILEGES.get(kind, ())
    wanted = tuple(dict.fromkeys(p.upper() for p in privileges))
    if not wanted:
        raise InvalidInput("PrivilegeSet is empty", field=field)
    for privilege in wanted:
        if privilege not in allowed:
            raise InvalidInput(
                f"{privilege} is not a privilege of a {kind} (allowed: {', '.join(allowed) or 'none'})", field=field
            )
    return wanted
