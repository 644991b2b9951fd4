"""Server parameters a tenant may see and change: the whitelist, value validation, classification.

What a server really accepts is its own ``pg_settings`` (type, unit, bounds, enum values, context),
read live and handed here as `ServerSetting`s; this module decides, without touching a server:

* which names a tenant may change (`is_tenant_settable`: the whitelist of README "Parameters and
  logs", by ``pg_settings.category`` plus a few names, minus what would let a tenant break the
  service or leave its confinement - paths, ports, replication wiring, durability, preloaded code);
* whether a value is valid (`validate`: type, range, enum, the spec's memory) and its canonical text,
  so that nothing is written that the server would skip on reload or refuse at its next start
  (PostgreSQL 15 skips a bad value on reload, refuses to start with one, and applies *nothing* of a
  file with one unknown name);
* what a change needs (`needs_restart`: ``context = 'postmaster'``) and which settings a standby must
  keep at or above its primary (`STANDBY_FLOOR`).
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from openrds.domain.errors import InvalidParameterValue, ParameterNotModifiable


@dataclass(frozen=True, slots=True)
class ServerSetting:
    """One row of a server's ``pg_settings``, plus the value the service configured before the tenant's.

    ``setting``, ``min_val``, ``max_val`` and ``default`` are in the setting's base ``unit``.
    """

    name: str
    vartype: str  # bool, integer, real, enum, string
    unit: str  # "" when none; else 8kB, kB, MB, B, ms, s, min
    setting: str  # current value
    default: str  # the service's own configured value (spec-derived), else the built-in default
    min_val: str | None
    max_val: str | None
    enumvals: tuple[str, ...]
    context: str  # postmaster, sighup, superuser, user, ...
    category: str  # "Resource Usage / Memory"
    short_desc: str
    pending_restart: bool = False
    tenant_value: str | None = None  # what the server's tenant include file sets (base unit), if anything


#: Settings a standby must hold at or above its primary's values, or it refuses to start (and a running
#: one pauses replay on the WAL record of a raise). Raised on replicas first, lowered on primaries first.
STANDBY_FLOOR: tuple[str, ...] = (
    "max_connections",
    "max_worker_processes",
    "max_wal_senders",
    "max_prepared_transactions",
    "max_locks_per_transaction",
)

#: Settings the service derives from the instance's spec (``engine.local.config.server_settings``).
SPEC_RELATED = frozenset(
    {
        "shared_buffers",
        "effective_cache_size",
        "wal_buffers",
        "work_mem",
        "maintenance_work_mem",
        "max_connections",
        "max_worker_processes",
        "max_parallel_workers",
        "max_parallel_workers_per_gather",
    }
)

#: Hand-marked: changing these changes how the whole server behaves (Tencent's "Advanced").
ADVANCED = frozenset(
    {
        "shared_buffers",
        "max_connections",
        "work_mem",
        "maintenance_work_mem",
        "wal_level",
        "max_wal_senders",
        "max_worker_processes",
        "synchronous_commit",
        "max_wal_size",
        "effective_cache_size",
        "random_page_cost",
    }
)

#: Whole categories (the first part of ``pg_settings.category``) a tenant may tune.
_CATEGORIES = frozenset(
    {
        "Autovacuum",
        "Query Tuning",
        "Lock Management",
        "Statistics",
        "Version and Platform Compatibility",
        "Client Connection Defaults",
        "Resource Usage",
    }
)
#: Names of other categories a tenant may tune.
_NAMES = frozenset(
    {
        "max_wal_size",
        "min_wal_size",
        "wal_compression",
        "synchronous_commit",
        "wal_level",
        "hot_standby_feedback",
        "max_standby_archive_delay",
        "max_standby_streaming_delay",
        "max_logical_replication_workers",
        "track_commit_timestamp",
        "max_wal_senders",
        "max_replication_slots",
        "max_connections",
        "log_min_duration_statement",
        "log_statement",
        "log_lock_waits",
        "log_temp_files",
        "log_autovacuum_min_duration",
        "log_checkpoints",
        "log_connections",
        "log_disconnections",
    }
)
_NAME_PREFIXES = ("checkpoint_", "tcp_", "pg_stat_statements.")
#: Never, whatever the category: code loaded into the server, how replication is applied, file-system
#: paths, memory the host must map at start, and what the service itself relies on.
_NEVER = frozenset(
    {
        "dynamic_library_path",
        "session_replication_role",
        "jit_provider",
        "lc_messages",
        "default_tablespace",
        "temp_tablespaces",
        "max_files_per_process",
        "max_stack_depth",
        "default_transaction_read_only",
        "dynamic_shared_memory_type",
        "shared_memory_type",
        "min_dynamic_shared_memory",
        "huge_pages",
        "huge_page_size",
        "allow_in_place_tablespaces",
        "session_preload_libraries",
        "local_preload_libraries",
        "shared_preload_libraries",
    }
)
_NEVER_PATTERNS = (re.compile(r"_preload_libraries$"), re.compile(r"shared_memory"), re.compile(r"^huge_page"))
#: Floors above PostgreSQL's own: the service's replicas, cascades and base backups need these.
_FLOORS: Mapping[str, int] = {"max_wal_senders": 16, "max_replication_slots": 16, "max_connections": 10}
_WAL_LEVELS = ("replica", "logical")
#: Memory settings capped by the spec's memory (shared_buffers at half of it, the others at all of it).
_MEMORY_HALF = frozenset({"shared_buffers"})

#: Bytes of one base unit of a memory setting, milliseconds of one of a time setting.
_MEMORY_UNITS = {"B": 1, "kB": 1024, "8kB": 8192, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_TIME_UNITS = {"us": 0.001, "ms": 1, "s": 1000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
_WITH_UNIT = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$")
_BOOL_TRUE = ("on", "true", "yes", "1", "t", "y")
_BOOL_FALSE = ("off", "false", "no", "0", "f", "n")
#: The API shows reals up to this (PostgreSQL's DBL_MAX would not survive every JSON client).
_REAL_CAP = 1e15
MAX_VALUE_LENGTH = 1024

_CATEGORY_CN = {
    "Autovacuum": "自动清理",
    "Query Tuning": "查询调优",
    "Lock Management": "锁管理",
    "Statistics": "统计",
    "Version and Platform Compatibility": "版本和平台兼容性",
    "Client Connection Defaults": "客户端连接默认值",
    "Resource Usage": "资源使用",
    "Write-Ahead Log": "预写日志",
    "Replication": "复制",
    "Reporting and Logging": "报告和日志",
    "Connections and Authentication": "连接和认证",
    "Customized Options": "自定义选项",
    "Error Handling": "错误处理",
    "File Locations": "文件位置",
    "Preset Options": "预设选项",
    "Developer Options": "开发者选项",
}


def classification(category: str) -> str:
    """Tencent's classification: the first part of ``pg_settings.category`` ("Resource Usage")."""
    return category.split(" / ", 1)[0]


def classification_cn(category: str) -> str:
    top = classification(category)
    return _CATEGORY_CN.get(top, top)


def needs_restart(setting: ServerSetting) -> bool:
    """A change takes effect only after a restart (``context = 'postmaster'``)."""
    return setting.context == "postmaster"


def standby_related(name: str) -> int:
    """Tencent's StandbyRelated: 1 (a standby's value must be at least the primary's) or 0."""
    return 1 if name in STANDBY_FLOOR else 0


def is_tenant_settable(setting: ServerSetting) -> bool:
    """Whether a tenant may change ``setting`` (see the module docstring and README)."""
    name = setting.name
    if name in _NEVER or any(p.search(name) for p in _NEVER_PATTERNS):
        return False
    if setting.context == "internal":
        return False
    # A bad string of a server-wide setting is skipped by a reload and fatal at the next start, and only
    # settings a session may SET can be tried on the server first (`ParameterChecker`).
    if setting.vartype == "string" and setting.context not in ("user", "superuser"):
        return False
    return classification(setting.category) in _CATEGORIES or name in _NAMES or name.startswith(_NAME_PREFIXES)


def to_base_unit(text: str, unit: str) -> float | None:
    """``text`` ("64MB", "5min", "100") in the base ``unit`` of a setting; None if it cannot be read.
    A bare number is already in the base unit."""
    match = _WITH_UNIT.match(text)
    if match is None:
        return None
    number, suffix = float(match.group(1)), match.group(2)
    if not suffix:
        return number
    for table in (_MEMORY_UNITS, _TIME_UNITS):
        if suffix in table and unit in table:
            return number * table[suffix] / table[unit]
    return None


def normalized(setting: ServerSetting, text: str) -> str:
    """A configured value (as written in a file: "64MB", "on") in the form ``pg_settings.setting``
    shows (base unit, on/off); the text itself when it cannot be read."""
    if setting.vartype == "bool":
        lowered = text.strip().lower()
        return "on" if lowered in _BOOL_TRUE else "off" if lowered in _BOOL_FALSE else text
    if setting.vartype in ("integer", "real"):
        value = to_base_unit(text, setting.unit)
        if value is None:
            return text
        return str(round(value)) if setting.vartype == "integer" else _real(value)
    return text


def _real(value: float) -> str:
    return repr(value) if not value.is_integer() else str(int(value))


def numeric_bound(text: str | None) -> float:
    """``min_val``/``max_val`` as the API's float: capped reals, 0 for a non-numeric type."""
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        return 0.0
    return max(-_REAL_CAP, min(_REAL_CAP, value))


def enum_values(setting: ServerSetting) -> tuple[str, ...]:
    """The values a tenant may choose for an enum (wal_level: replica and logical only)."""
    if setting.name == "wal_level":
        return tuple(v for v in setting.enumvals if v in _WAL_LEVELS)
    return setting.enumvals


def validate(setting: ServerSetting, raw: str, *, memory_mb: int) -> str:
    """The canonical text to write for ``raw`` as the new value of ``setting``.

    :param memory_mb: the instance's spec memory: memory settings may not exceed it (shared_buffers:
        half of it).
    :raises ParameterNotModifiable: a tenant may not change this setting.
    :raises InvalidParameterValue: the value is not of the setting's type, is outside its bounds or
        enum values, or exceeds the spec.
    """
    name = setting.name
    if not is_tenant_settable(setting):
        raise ParameterNotModifiable(f"parameter {name} cannot be modified", field="ParamList")
    text = raw.strip()

    def bad(why: str) -> InvalidParameterValue:
        return InvalidParameterValue(f"parameter {name}: value {raw[:64]!r} {why}", field="ParamList")

    if not text or len(text) > MAX_VALUE_LENGTH:
        raise bad(f"must be 1-{MAX_VALUE_LENGTH} characters")
    if setting.vartype == "bool":
        lowered = text.lower()
        if lowered in _BOOL_TRUE:
            return "on"
        if lowered in _BOOL_FALSE:
            return "off"
        raise bad("is not a boolean (on/off, true/false)")
    if setting.vartype in ("integer", "real"):
        value = to_base_unit(text, setting.unit)
        if value is None or not math.isfinite(value):
            raise bad(f"is not a number{f' in {setting.unit}' if setting.unit else ''}")
        if setting.vartype == "integer" and not value.is_integer():
            raise bad("is not an integer")
        low = max(numeric_bound(setting.min_val), float(_FLOORS.get(name, -math.inf)))
        high = numeric_bound(setting.max_val) if setting.max_val is not None else math.inf
        if not low <= value <= high:
            raise bad(f"is outside {_real(low)}-{_real(high)}{f' {setting.unit}' if setting.unit else ''}")
        cap = _memory_cap(setting, memory_mb)
        if cap is not None and value > cap:
            raise bad(f"exceeds the instance's memory ({memory_mb} MB{' / 2' if name in _MEMORY_HALF else ''})")
        return str(int(value)) if setting.vartype == "integer" else _real(value)
    if setting.vartype == "enum":
        allowed = enum_values(setting)
        for choice in allowed:
            if choice.lower() == text.lower():
                return choice
        raise bad(f"is not one of {', '.join(allowed)}")
    # Strings: the server's own parser decides (`ParameterChecker`); here only their size and form.
    if "\x00" in text or "\n" in text:
        raise bad("holds a control character")
    return text


def _memory_cap(setting: ServerSetting, memory_mb: int) -> float | None:
    """The most of a memory setting the spec allows, in the setting's unit; None when not memory."""
    if setting.unit not in _MEMORY_UNITS or setting.vartype != "integer" or memory_mb <= 0:
        return None
    if classification(setting.category) != "Resource Usage":
        return None
    limit_bytes = memory_mb * 1024**2 // (2 if setting.name in _MEMORY_HALF else 1)
    return limit_bytes / _MEMORY_UNITS[setting.unit]


class EventState(enum.StrEnum):
    """Where one parameter change is (Tencent's EventInfo.State); stored, never renamed."""

    WAITING = "waiting"  # recorded, its job not yet there
    RUNNING = "running"  # being applied
    PAUSED = "paused"  # a read-only instance's replay paused on it (its master's value above its own): being fixed
    SUCCESS = "success"  # in effect
    FAILED = "failed"  # not applied (the job says why); the old value is back


@dataclass(frozen=True, slots=True)
class ParameterEvent:
    """One change of one parameter of one instance."""

    instance_id: str
    name: str
    old_value: str
    new_value: str
    state: EventState
    operator: str  # who asked: the Tencent Uin or the Huawei IAM user id; "system" for the service itself
    job_id: str
    message: str
    modified_at: datetime
    effective_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ParameterTemplate:
    """A tenant's named set of parameter values for one engine and PostgreSQL major version."""

    id: str
    tenant_id: str
    name: str
    major_version: str
    engine: str
    description: str
    values: Mapping[str, str]
    created_at: datetime
    updated_at: datetime


#: Template names: letters, digits, Chinese characters and ``_-./()（）[]+=：:@`` (Tencent's rule), 1-60.
TEMPLATE_NAME = re.compile(r"^[A-Za-z0-9\u4e00-\u9fff_\-./()（）\[\]+=：:@]{1,60}$")
MAX_TEMPLATE_DESCRIPTION = 60
ENGINES = ("postgresql", "mssql_compatible")
