"""Rules that several use cases and both dialects share, stated once."""

from __future__ import annotations

import re
import unicodedata

from openrds.domain.catalogue import Spec
from openrds.domain.errors import (
    InvalidAccountName,
    InvalidChargeType,
    InvalidCharset,
    InvalidInput,
    InvalidInstanceCount,
    InvalidName,
    InvalidPassword,
    InvalidPeriod,
    InvalidStorage,
    NameTooLong,
)
from openrds.domain.states import ChargeType

MAX_INSTANCES_PER_CALL = 6  # read-only instances per call (CreateReadOnlyDBInstance: 1-6)
MAX_PRIMARIES_PER_CALL = 10  # primaries per call (CreateInstances: 1-10)
PREPAID_PERIODS = frozenset({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 24, 36})
NAME_MAX_LENGTH = 60
CHARSETS = ("UTF8", "LATIN1")
#: Most ids (instances, deal names) one call may name: Tencent documents 100 for its id lists.
MAX_IDS_PER_CALL = 100

# Letters, digits, CJK, "_" and "-" (the seed's rule for Name). Always fullmatch: with match and "$",
# "$" also matches before a final newline, and "name\n" would pass.
_NAME = re.compile(r"[\w\-\u4e00-\u9fff]+")
_ACCOUNT = re.compile(r"[a-z][a-z0-9_]{0,15}")
#: Unicode categories no request string may hold: controls (Cc: newline, tab, NUL, ...), invisible
#: format characters (Cf: zero-width spaces and joiners, bidirectional overrides that make text read
#: otherwise than it is stored), lone surrogates (Cs: not storable as UTF-8) and the line and
#: paragraph separators (Zl, Zp: newlines to JavaScript and many log viewers).
CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
# Roles the service itself uses or PostgreSQL defines. `root` is allowed: it is Huawei's admin account
# name, and here an admin account is never a superuser whatever its name.
_RESERVED_ACCOUNTS = frozenset({"postgres", "openrds", "openrds_repl", "public", "pg_monitor"})


def check_name(name: str) -> None:
    if len(name) >= NAME_MAX_LENGTH:
        raise NameTooLong(f"name must be shorter than {NAME_MAX_LENGTH} characters", field="name")
    if name and not _NAME.fullmatch(name):
        raise InvalidName("name may contain only letters, digits, Chinese characters, '_' and '-'", field="name")


def control_character(text: str) -> str | None:
    """The first character of ``text`` in :data:`CONTROL_CATEGORIES`, or ``None``.

    ``str.isprintable`` answers in C for the usual text; only a string it refuses (which includes
    harmless non-ASCII spaces, private-use and unassigned characters) is looked at character by character.
    """
    if text.isprintable():
        return None
    return next((c for c in text if unicodedata.category(c) in CONTROL_CATEGORIES), None)


def check_id_count(count: int, field: str) -> None:
    """At most :data:`MAX_IDS_PER_CALL` distinct ids in one call (every face bounds its lists too)."""
    if count > MAX_IDS_PER_CALL:
        raise InvalidInput(f"at most {MAX_IDS_PER_CALL} ids may be named in one call", field=field)


def check_port(port: int | None, port_range: tuple[int, int]) -> None:
    """A requested server port must be in the host's configured range (``OPENRDS_PORT_RANGE``): the
    ports outside it belong to the host's other services."""
    low, high = port_range
    if port is not None and not low <= port <= high:
        raise InvalidInput(f"port {port} is outside this service's port range {low}-{high}", field="port")


def check_instance_count(count: int, limit: int = MAX_INSTANCES_PER_CALL) -> None:
    if not 1 <= count <= limit:
        raise InvalidInstanceCount(f"instance count must be between 1 and {limit}", field="instance_count")


def check_storage(storage_gb: int, spec: Spec, step: int = 10) -> None:
    if storage_gb % step != 0:
        raise InvalidStorage(f"storage must be a multiple of {step} GB", field="storage")
    if not spec.min_storage_gb <= storage_gb <= spec.max_storage_gb:
        raise InvalidStorage(
            f"storage must be between {spec.min_storage_gb} and {spec.max_storage_gb} GB for {spec.code}",
            field="storage",
        )


def parse_charge_type(value: str | None) -> ChargeType:
    if not value:
        return ChargeType.PREPAID
    try:
        return ChargeType(value)
    except ValueError:
        raise InvalidChargeType(
            f"charge type {value} is not PREPAID or POSTPAID_BY_HOUR", field="charge_type"
        ) from None


def check_period(charge_type: ChargeType, period: int) -> None:
    if charge_type is ChargeType.POSTPAID and period != 1:
        raise InvalidPeriod("a postpaid instance's period must be 1", field="period")
    if charge_type is ChargeType.PREPAID and period not in PREPAID_PERIODS:
        raise InvalidPeriod("a prepaid period must be 1-12, 24 or 36 months", field="period")


def check_charset(charset: str) -> str:
    upper = charset.upper()
    if upper not in CHARSETS:
        raise InvalidCharset("only UTF8 and LATIN1 are supported", field="charset")
    return upper


def check_admin_name(name: str) -> None:
    if name.lower() in _RESERVED_ACCOUNTS or name.startswith("pg_"):
        raise InvalidAccountName(f"account name {name} is reserved", field="admin_name")
    if not _ACCOUNT.fullmatch(name):
        raise InvalidAccountName(
            "account name must start with a lower-case letter and contain 1-16 lower-case letters, digits or '_'",
            field="admin_name",
        )


def check_password(password: str) -> None:
    """8-32 characters from at least three of: upper, lower, digits, symbols (both clouds' rule)."""
    classes = sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )
    if not 8 <= len(password) <= 32 or classes < 3 or any(c.isspace() for c in password):
        raise InvalidPassword(
            "password must be 8-32 characters with at least three of upper case, lower case, digits and symbols",
            field="admin_password",
        )
