"""The parameter and log part of the engine contract: a server's settings, the tenant's values, its logs.

A server's configuration has three layers, later lines winning: the service's own values (spec-derived,
``postgresql.conf``), the tenant's values (a managed include, ``tenant.conf`` on `local`; the
Cluster's ``spec.postgresql.parameters`` on `kubernetes`), then what the service enforces. Tenant values
are never written with ``ALTER SYSTEM``: ``postgresql.auto.conf`` is read last (it would override what
the service enforces) and rides along in base backups.

The control plane validates every value before it calls `write_parameters` (``domain.parameters``):
PostgreSQL skips a bad value on reload but refuses to start with one, and applies nothing of a file
that names one unknown setting. A driver that cannot do one of these raises
:class:`openrds.engine.driver.EngineError` saying "not supported by this driver" from it, never does nothing silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from openrds.domain.parameters import ServerSetting


@dataclass(frozen=True, slots=True)
class ParametersApplied:
    """What `ParameterDriver.write_parameters` left to do: the settings that wait for a restart."""

    instance_id: str
    pending_restart: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LogRecord:
    """One message of a server's own log (times aware, UTC)."""

    logged_at: datetime
    pid: int
    severity: str  # LOG, ERROR, FATAL, PANIC, WARNING
    user: str
    database: str
    message: str  # the primary message, with the lines that continue it
    duration_ms: float | None = None  # a statement's duration (``log_min_duration_statement``)
    statement: str = ""  # the statement of a duration record


class ParameterDriver(Protocol):
    """Settings, tenant values and logs of the servers a driver runs (see the module docstring)."""

    def settings(self, instance_id: str) -> Sequence[ServerSetting]:
        """Every setting of a running server (``pg_settings``), each with the service's own configured
        value as ``default``. Read-only; ~10 ms.

        :raises ServerNotFound: no such server.
        :raises EngineError: it is not running (transient).
        """
        ...

    def default_settings(self, major_version: int) -> Sequence[ServerSetting]:
        """The settings of PostgreSQL ``major_version`` as a new server of this driver would have them
        (built-in defaults), without a server of the tenant's. ~0.1 s.

        :raises EngineError: that version is not installed.
        """
        ...

    def check_parameters(self, instance_id: str, values: Mapping[str, str]) -> dict[str, str]:
        """The server's own verdict on values a session may set (``context`` user or superuser): each
        tried with ``set_config`` in a transaction that is rolled back. Returns name -> the server's
        error for the refused ones; the others (server-wide settings) are not tried. Changes nothing.

        :raises ServerNotFound: no such server.
        :raises EngineError: it is not running (transient).
        """
        ...

    def write_parameters(self, instance_id: str, values: Mapping[str, str]) -> ParametersApplied:
        """Make ``values`` the server's whole set of tenant values (names absent go back to the
        service's) and reload a running server, waiting until the reload is in effect. Settings that
        need a restart are left pending (the caller restarts). Idempotent. A stopped server gets them
        at its next start.

        :raises ServerNotFound: no such server.
        :raises EngineError: the server reports an error in the values (nothing is applied then).
        """
        ...

    def replay_paused(self, instance_id: str) -> bool:
        """Whether a running standby's WAL replay is paused (``pg_get_wal_replay_pause_state``): on a
        standby-floor setting of its primary's above its own, recovery pauses until it is raised and
        the standby restarted. False on a primary or a stopped server.

        :raises ServerNotFound: no such server.
        """
        ...

    def server_log(
        self, instance_id: str, since: datetime, until: datetime, *, limit: int = 10_000
    ) -> Sequence[LogRecord]:
        """Messages of the server's own log between ``since`` and ``until``, oldest first, at most
        ``limit`` (the newest ones when more), secrets masked. Reads what the engine keeps of the log
        (its rotation bound). Pure read.

        :raises ServerNotFound: no such server.
        """
        ...
