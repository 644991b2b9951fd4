"""Server settings, tenant values and the server log on this host (`engine.parameters.ParameterDriver`).

The tenant's values live in ``<data>/tenant.conf``, written whole and atomically by the service and
included by ``postgresql.conf`` after the service's own values (`files.render_postgresql_conf`).
``postgresql.conf`` written by an older OpenRDS gets the include line added on the first write.
Reloads are confirmed through ``pg_conf_load_time()``, which a new session inherits from the
postmaster once it has re-read its files.

The log is the postmaster's stderr (``server.log`` and the one rotated part ``server.log.1``,
`LocalDriver.rotate_logs`), one message per line after ``log_line_prefix`` (``%m [%p] %q%u@%d``),
continued on lines that start with a tab.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import psycopg

from openrds.domain import parameters as rules
from openrds.domain.parameters import ServerSetting
from openrds.engine.driver import EngineError, ServerRole
from openrds.engine.local import sql
from openrds.engine.local.files import TENANT_CONF, atomic_write, quote_conf, render_conf
from openrds.engine.local.layout import Layout, ServerMeta
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.process import Masker
from openrds.engine.parameters import LogRecord, ParametersApplied

INCLUDE_LINE = f"include_if_exists = {quote_conf(TENANT_CONF)}\n"
RELOAD_TIMEOUT = 10.0
#: Lines read per message wanted (a message and its DETAIL/STATEMENT/continuation lines, as a rule).
LINES_PER_MESSAGE = 4
#: The most of a log read at once (the rotation bound keeps ``server.log`` about this size).
LOG_READ_BYTES = 16 * 1024 * 1024

_SETTINGS = """
SELECT name, vartype, coalesce(unit, ''), coalesce(setting, ''), coalesce(boot_val, ''), min_val, max_val,
       coalesce(enumvals, '{}'::text[]), context, category, short_desc, pending_restart
  FROM pg_catalog.pg_settings ORDER BY name
"""
# What the service's own postgresql.conf sets (later lines win): a setting's "default" on this service.
_CONFIGURED = """
SELECT name, setting FROM pg_catalog.pg_file_settings
 WHERE sourcefile = pg_catalog.current_setting('config_file') ORDER BY seqno
"""
# What the tenant's include sets: a copy of a server (a new replica) carries its source's file.
_TENANT = "SELECT name, setting FROM pg_catalog.pg_file_settings WHERE sourcefile LIKE %s ORDER BY seqno"
_LINE = re.compile(
    r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) (\S+) \[(\d+)\] (?:(\S*)@(\S*) )?"
    r"(DEBUG\d?|LOG|INFO|NOTICE|WARNING|ERROR|FATAL|PANIC|DETAIL|HINT|STATEMENT|CONTEXT|QUERY|LOCATION):  (.*)$"
)
_DURATION = re.compile(
    r"^duration: (\d+(?:\.\d+)?) ms(?:  (?:statement|execute [^:]*|bind [^:]*|parse [^:]*): (.*))?$", re.S
)
#: Lines that add to the message before them rather than start one.
_FOLLOWERS = {"DETAIL", "HINT", "STATEMENT", "CONTEXT", "QUERY", "LOCATION"}


class LocalParameters:
    """The `ParameterDriver` half of `LocalDriver`, over its layout and sessions."""

    def __init__(
        self,
        layout: Layout,
        sessions: sql.Sessions,
        os_user: OsUser,
        masker: Masker,
        meta_of: Callable[[str], ServerMeta],
    ) -> None:
        self._layout = layout
        self._sessions = sessions
        self._os_user = os_user
        self._masker = masker
        self._meta_of = meta_of

    def settings(self, instance_id: str) -> Sequence[ServerSetting]:
        meta = self._meta_of(instance_id)
        with self._sessions.open(meta, "read settings") as conn:
            return _read_settings(conn)

    def default_settings(self, major_version: int) -> Sequence[ServerSetting]:
        """From a running server of that version (its built-in values); the settings do not depend on
        the server, only on the version."""
        for meta in self._layout.all_meta():
            if not meta.complete or meta.major_version != major_version:
                continue
            try:
                with self._sessions.open(meta, "read default settings") as conn:
                    found = _read_settings(conn, configured=False)
            except EngineError:
                continue
            return [replace(s, setting=s.default, pending_restart=False) for s in found]
        raise EngineError(
            "read default settings",
            f"no running server of PostgreSQL {major_version} to read its settings from",
            transient=True,
        )

    def check_parameters(self, instance_id: str, values: Mapping[str, str]) -> dict[str, str]:
        meta = self._meta_of(instance_id)
        refused: dict[str, str] = {}
        with self._sessions.open(meta, "check parameters") as conn:
            contexts = dict(
                conn.execute(
                    "SELECT name, context FROM pg_catalog.pg_settings WHERE name = ANY(%s)", (list(values),)
                ).fetchall()
            )
            for name, value in values.items():
                if contexts.get(name) not in ("user", "superuser"):
                    continue
                try:
                    with conn.transaction(force_rollback=True):
                        conn.execute("SELECT pg_catalog.set_config(%s, %s, true)", (name, value))
                except psycopg.errors.DataError as exc:
                    refused[name] = self._masker(str(exc.diag.message_primary or exc))
                except psycopg.DatabaseError as exc:
                    refused[name] = self._masker(str(exc.diag.message_primary or exc))
        return refused

    def write_parameters(self, instance_id: str, values: Mapping[str, str]) -> ParametersApplied:
        meta = self._meta_of(instance_id)
        data = self._layout.data(instance_id)
        conf = data / "postgresql.conf"
        text = conf.read_text(encoding="utf-8")
        if INCLUDE_LINE not in text:
            atomic_write(conf, text + INCLUDE_LINE, owner=self._os_user)
        path = data / TENANT_CONF
        wanted = render_conf(
            dict(sorted(values.items())),
            comment="The tenant's parameters (ModifyDBInstanceParameters); validated by the service.",
        )
        try:
            current = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            current = None
        if current != wanted:
            atomic_write(path, wanted, owner=self._os_user)
        try:
            with self._sessions.open(meta, "apply parameters") as conn:
                self._reload(conn, meta)
            with self._sessions.open(meta, "apply parameters") as conn:
                errors = conn.execute(
                    # "setting could not be applied" is a postmaster setting waiting for a restart.
                    "SELECT name, error FROM pg_catalog.pg_file_settings WHERE error IS NOT NULL "
                    "AND error <> 'setting could not be applied' AND sourcefile LIKE %s",
                    ("%/" + TENANT_CONF,),
                ).fetchall()
                if errors:
                    raise EngineError("apply parameters", "; ".join(f"{n}: {e}" for n, e in errors))
                pending = [
                    r[0]
                    for r in conn.execute("SELECT name FROM pg_catalog.pg_settings WHERE pending_restart ORDER BY name")
                ]
        except EngineError as exc:
            if exc.transient and not _running(data):
                return ParametersApplied(instance_id, ())  # read at the next start
            raise
        return ParametersApplied(instance_id, tuple(pending))

    def replay_paused(self, instance_id: str) -> bool:
        meta = self._meta_of(instance_id)
        if meta.role is not ServerRole.REPLICA or not _running(self._layout.data(instance_id)):
            return False
        try:
            with self._sessions.open(meta, "replay state") as conn:
                if not sql.in_recovery(conn):
                    return False
                row = conn.execute("SELECT pg_catalog.pg_get_wal_replay_pause_state()").fetchone()
        except EngineError:
            return False
        return bool(row and row[0] != "not paused")

    def server_log(
        self, instance_id: str, since: datetime, until: datetime, *, limit: int = 10_000
    ) -> Sequence[LogRecord]:
        self._meta_of(instance_id)
        current = self._layout.log(instance_id)
        text = _tail(current.with_name(current.name + ".1"), LOG_READ_BYTES) + _tail(current, LOG_READ_BYTES)
        # Parsing is ~30 µs a message: cut to the period first (the log is in time order, its times are
        # UTC text that sorts as it reads), then to the newest lines that can hold ``limit`` messages.
        lines = text.splitlines()
        low, high = f"{since.astimezone(UTC):%Y-%m-%d %H:%M:%S}", f"{until.astimezone(UTC):%Y-%m-%d %H:%M:%S.999999}"
        first = next((i for i, line in enumerate(lines) if line[:1].isdigit() and line[:26] >= low), len(lines))
        last = next(
            (i for i in range(len(lines) - 1, first - 1, -1) if lines[i][:1].isdigit() and lines[i][:19] <= high),
            first - 1,
        )
        window = lines[first : last + 1][-max(limit, 0) * LINES_PER_MESSAGE :]
        records = [r for r in parse_log(self._masker("\n".join(window))) if since <= r.logged_at <= until]
        return records[-limit:] if limit > 0 else []

    def _reload(self, conn: psycopg.Connection, meta: ServerMeta) -> None:
        """``pg_reload_conf()``, then wait until a new session sees the postmaster's new load time."""
        row = conn.execute("SELECT pg_catalog.pg_conf_load_time()").fetchone()
        before = row[0] if row else None
        conn.execute("SELECT pg_catalog.pg_reload_conf()")
        deadline = time.monotonic() + RELOAD_TIMEOUT
        while time.monotonic() < deadline:
            with self._sessions.open(meta, "apply parameters") as fresh:
                seen = fresh.execute("SELECT pg_catalog.pg_conf_load_time()").fetchone()
            if seen and before is not None and seen[0] > before:
                return
            time.sleep(0.02)
        raise EngineError(
            "apply parameters", f"{meta.instance_id} did not reload its configuration in time", transient=True
        )


def _read_settings(conn: psycopg.Connection, *, configured: bool = True) -> list[ServerSetting]:
    """``pg_settings``; ``default`` is what the service's postgresql.conf sets (``configured``) or else
    the built-in value."""
    rows = conn.execute(_SETTINGS).fetchall()
    ours: dict[str, str] = {}
    tenants: dict[str, str] = {}
    if configured:
        for name, setting in conn.execute(_CONFIGURED):
            ours[name] = setting
        for name, setting in conn.execute(_TENANT, ("%/" + TENANT_CONF,)):
            tenants[name] = setting
    found = []
    for (
        name,
        vartype,
        unit,
        setting,
        boot_val,
        min_val,
        max_val,
        enumvals,
        context,
        category,
        short_desc,
        pending,
    ) in rows:
        base = ServerSetting(
            name=name,
            vartype=vartype,
            unit=unit,
            setting=setting,
            default=boot_val,
            min_val=min_val,
            max_val=max_val,
            enumvals=tuple(enumvals),
            context=context,
            category=category,
            short_desc=short_desc,
            pending_restart=bool(pending),
        )
        if name in ours:
            base = replace(base, default=rules.normalized(base, ours[name]))
        if name in tenants:
            base = replace(base, tenant_value=rules.normalized(base, tenants[name]))
        found.append(base)
    return found


def _running(data: Path) -> bool:
    return (data / "postmaster.pid").exists()


def _tail(path: Path, limit: int) -> str:
    try:
        with path.open("rb") as handle:
            handle.seek(0, 2)
            size = handle.tell()
            handle.seek(max(0, size - limit))
            raw = handle.read()
    except FileNotFoundError:
        return ""
    if len(raw) == limit:  # started mid-line: drop the partial first line
        raw = raw.split(b"\n", 1)[-1]
    return raw.decode("utf-8", errors="replace")


@dataclass
class _Open:
    """The message being read: its first line's fields and the text so far."""

    at: datetime
    pid: int
    user: str
    database: str
    severity: str
    message: str

    def record(self) -> LogRecord:
        duration, statement = None, ""
        if self.severity == "LOG" and (match := _DURATION.match(self.message)):
            duration, statement = float(match.group(1)), (match.group(2) or "").strip()
        return LogRecord(
            logged_at=self.at,
            pid=self.pid,
            severity=self.severity,
            user=self.user,
            database=self.database,
            message=self.message,
            duration_ms=duration,
            statement=statement,
        )


def parse_log(text: str) -> list[LogRecord]:
    """The messages of a server log (see the module docstring), follower lines (DETAIL, STATEMENT ...)
    and tab-continued lines folded into the message they belong to."""
    records: list[LogRecord] = []
    current: _Open | None = None
    for line in text.splitlines():
        match = _LINE.match(line)
        if match is None:
            if current is not None and line.startswith("\t"):
                current.message = f"{current.message}\n{line[1:]}"
            continue
        stamp, _zone, pid, user, database, severity, message = match.groups()
        if severity in _FOLLOWERS and current is not None and current.pid == int(pid):
            current.message = f"{current.message}\n{severity}:  {message}"
            continue
        if current is not None:
            records.append(current.record())
        current = _Open(_time(stamp), int(pid), user or "", database or "", severity, message)
    if current is not None:
        records.append(current.record())
    return records


def _time(stamp: str) -> datetime:
    """A log time (``log_timezone`` is UTC on every server the service configures)."""
    fmt = "%Y-%m-%d %H:%M:%S.%f" if "." in stamp else "%Y-%m-%d %H:%M:%S"
    parsed = datetime.strptime(stamp, fmt)
    return parsed.replace(tzinfo=UTC)
