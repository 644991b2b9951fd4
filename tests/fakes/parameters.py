"""The parameter half of `tests.fakes.driver.FakeDriver`: a small ``pg_settings`` per server, in memory.

A handful of real PostgreSQL 15 settings (their type, unit, bounds, enum values, context and category
as ``pg_settings`` shows them), enough for the control plane's rules: a reload applies the others at
once, ``postmaster`` ones wait for a restart (``pending_restart``), a standby's replay pauses while one
of the five floor settings of its source is above its own. No log is written: `server_log` answers
what a test put there with `log`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime

from openrds.domain.parameters import STANDBY_FLOOR, ServerSetting
from openrds.engine.driver import ServerRole
from openrds.engine.parameters import LogRecord, ParametersApplied


def _s(
    name: str,
    vartype: str,
    unit: str,
    value: str,
    low: str | None,
    high: str | None,
    context: str,
    category: str,
    enumvals: tuple[str, ...] = (),
) -> ServerSetting:
    return ServerSetting(
        name=name,
        vartype=vartype,
        unit=unit,
        setting=value,
        default=value,
        min_val=low,
        max_val=high,
        enumvals=enumvals,
        context=context,
        category=category,
        short_desc=f"{name} (fake)",
    )


#: PostgreSQL 15's own description of these settings (built-in values).
CATALOGUE: tuple[ServerSetting, ...] = (
    _s("work_mem", "integer", "kB", "4096", "64", "2147483647", "user", "Resource Usage / Memory"),
    _s("shared_buffers", "integer", "8kB", "16384", "16", "1073741823", "postmaster", "Resource Usage / Memory"),
    _s("random_page_cost", "real", "", "4", "0", "1.79769e+308", "user", "Query Tuning / Planner Cost Constants"),
    _s("enable_seqscan", "bool", "", "on", None, None, "user", "Query Tuning / Planner Method Configuration"),
    _s(
        "search_path",
        "string",
        "",
        '"$user", public',
        None,
        None,
        "user",
        "Client Connection Defaults / Statement Behavior",
    ),
    _s(
        "wal_level",
        "enum",
        "",
        "replica",
        None,
        None,
        "postmaster",
        "Write-Ahead Log / Settings",
        ("minimal", "replica", "logical"),
    ),
    _s(
        "log_min_duration_statement",
        "integer",
        "ms",
        "-1",
        "-1",
        "2147483647",
        "superuser",
        "Reporting and Logging / When to Log",
    ),
    _s(
        "max_connections",
        "integer",
        "",
        "100",
        "1",
        "262143",
        "postmaster",
        "Connections and Authentication / Connection Settings",
    ),
    _s(
        "max_worker_processes",
        "integer",
        "",
        "8",
        "0",
        "262143",
        "postmaster",
        "Resource Usage / Asynchronous Behavior",
    ),
    _s("max_wal_senders", "integer", "", "16", "0", "262143", "postmaster", "Replication / Sending Servers"),
    _s("max_prepared_transactions", "integer", "", "0", "0", "262143", "postmaster", "Resource Usage / Memory"),
    _s("max_locks_per_transaction", "integer", "", "64", "10", "2147483647", "postmaster", "Lock Management"),
    _s(
        "port",
        "integer",
        "",
        "5432",
        "1",
        "65535",
        "postmaster",
        "Connections and Authentication / Connection Settings",
    ),
    _s("fsync", "bool", "", "on", None, None, "sighup", "Write-Ahead Log / Settings"),
)


class FakeParameters:
    """Tenant values per server: ``written`` (the include file), ``active`` (what the server runs with)."""

    def __init__(
        self,
        lock: threading.RLock,
        server: Callable[[str], object],
        running: Callable[[str, str], object],
        role: Callable[[str], tuple[ServerRole, str | None]],
    ) -> None:
        self._lock = lock
        self._server = server
        self._running = running
        self._role = role
        self._written: dict[str, dict[str, str]] = {}
        self._active: dict[str, dict[str, str]] = {}
        self._logs: dict[str, list[LogRecord]] = {}

    # --- steering -------------------------------------------------------------------------------
    def log(self, instance_id: str, record: LogRecord) -> None:
        """Put a message in a server's log."""
        with self._lock:
            self._logs.setdefault(instance_id, []).append(record)

    def restarted(self, instance_id: str) -> None:
        """The server started again: it runs with what is written."""
        with self._lock:
            self._active[instance_id] = dict(self._written.get(instance_id, {}))

    def copied(self, source_id: str, instance_id: str) -> None:
        """A new server copied from ``source_id``: it has the source's include file and runs with it."""
        with self._lock:
            self._written[instance_id] = dict(self._written.get(source_id, {}))
            self._active[instance_id] = dict(self._written[instance_id])

    def forget(self, instance_id: str) -> None:
        with self._lock:
            for table in (self._written, self._active, self._logs):
                table.pop(instance_id, None)

    def value_of(self, instance_id: str, name: str) -> str:
        """What ``SHOW name`` would answer (for tests)."""
        with self._lock:
            return next(s.setting for s in self._current(instance_id) if s.name == name)

    # --- the contract ---------------------------------------------------------------------------
    def settings(self, instance_id: str) -> Sequence[ServerSetting]:
        with self._lock:
            self._running(instance_id, "read settings")
            return self._current(instance_id)

    def default_settings(self, major_version: int) -> Sequence[ServerSetting]:
        return CATALOGUE

    def check_parameters(self, instance_id: str, values: Mapping[str, str]) -> dict[str, str]:
        with self._lock:
            self._running(instance_id, "check parameters")
            return {
                name: f'invalid value for parameter "{name}": "{value}"'
                for name, value in values.items()
                if name == "search_path" and value.count('"') % 2
            }

    def write_parameters(self, instance_id: str, values: Mapping[str, str]) -> ParametersApplied:
        with self._lock:
            self._server(instance_id)
            self._written[instance_id] = dict(values)
            active = self._active.setdefault(instance_id, {})
            contexts = {s.name: s.context for s in CATALOGUE}
            for name in list(active):
                if name not in values and contexts.get(name) != "postmaster":
                    del active[name]
            for name, value in values.items():
                if contexts.get(name) != "postmaster":
                    active[name] = value
            pending = tuple(sorted(s.name for s in self._current(instance_id) if s.pending_restart))
            return ParametersApplied(instance_id, pending)

    def replay_paused(self, instance_id: str) -> bool:
        with self._lock:
            role, source = self._role(instance_id)
            if role is not ServerRole.REPLICA or source is None:
                return False
            own, theirs = self._active.get(instance_id, {}), self._active.get(source, {})
            base = {s.name: s.setting for s in CATALOGUE}
            return any(float(theirs.get(n, base[n])) > float(own.get(n, base[n])) for n in STANDBY_FLOOR)

    def server_log(
        self, instance_id: str, since: datetime, until: datetime, *, limit: int = 10_000
    ) -> Sequence[LogRecord]:
        with self._lock:
            self._server(instance_id)
            found = [r for r in self._logs.get(instance_id, []) if since <= r.logged_at <= until]
            return found[-limit:]

    def _current(self, instance_id: str) -> list[ServerSetting]:
        written = self._written.get(instance_id, {})
        active = self._active.get(instance_id, {})
        return [
            replace(
                s,
                setting=active.get(s.name, s.setting),
                pending_restart=written.get(s.name) != active.get(s.name),
                tenant_value=written.get(s.name),
            )
            for s in CATALOGUE
        ]
