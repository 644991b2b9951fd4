"""Slow queries and errors of an instance, from its server's own log.

A statement is slow when it ran longer than the instance's ``log_min_duration_statement`` (a tenant
parameter: off by default, as PostgreSQL ships it; ``ModifyDBInstanceParameters`` turns it on, and
PostgreSQL then logs each such statement with its duration). The log, not ``pg_stat_statements``: it
keeps each execution with its time, user and database, needs no extension in the tenant's databases,
and what it holds is bounded by the engine's log rotation. Errors are the log's ERROR, FATAL and PANIC
messages. Both are read live and masked by the engine (no secret leaves it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from openrds.domain.errors import InstanceNotFound, InvalidInput
from openrds.persistence.uow import Store

#: The most log records one call looks at (the newest ones of the period).
MAX_RECORDS = 5_000
#: The most keywords of one error search.
MAX_SEARCH_KEYS = 10
#: Duration segments (seconds) of a slow query list's histogram, Tencent's words for them.
SEGMENTS: tuple[tuple[float, float | None, str], ...] = (
    *((float(low), float(low + 1), f"{low}-{low + 1}s") for low in range(0, 10)),
    (10.0, 20.0, "10-20s"),
    (20.0, 30.0, "20-30s"),
    (30.0, 40.0, "30-40s"),
    (40.0, 50.0, "40-50s"),
    (50.0, None, "50s-"),
)
_ERRORS = ("ERROR", "FATAL", "PANIC")
_LITERALS = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b")
_SPACE = re.compile(r"\s+")


class LogRecordLike(Protocol):
    """A record of the engine's `openrds.engine.parameters.LogRecord` (read through the job layer)."""

    @property
    def logged_at(self) -> datetime: ...
    @property
    def pid(self) -> int: ...
    @property
    def severity(self) -> str: ...
    @property
    def user(self) -> str: ...
    @property
    def database(self) -> str: ...
    @property
    def message(self) -> str: ...
    @property
    def duration_ms(self) -> float | None: ...
    @property
    def statement(self) -> str: ...


class LogReader(Protocol):
    def server_log(
        self, instance_code: str, since: datetime, until: datetime, limit: int
    ) -> Sequence[LogRecordLike]: ...


@dataclass(frozen=True, slots=True)
class SlowQuery:
    at: datetime
    pid: int
    user: str
    database: str
    duration_ms: float
    statement: str


@dataclass(frozen=True, slots=True)
class QueryStats:
    """The slow executions of one normalized statement (literals as ``$n``) by one user in one database."""

    normal_query: str
    user: str
    database: str
    calls: int
    total_ms: float
    min_ms: float
    max_ms: float
    first: datetime
    last: datetime


@dataclass(frozen=True, slots=True)
class LogError:
    at: datetime
    pid: int
    user: str
    database: str
    message: str


def normalize(statement: str) -> str:
    """A statement with its literals replaced by ``$1``, ``$2``... (as ``pg_stat_statements`` shows it)."""
    counter = iter(range(1, 1_000_000))
    return _LITERALS.sub(lambda _: f"${next(counter)}", _SPACE.sub(" ", statement.strip()))


def histogram(queries: Sequence[SlowQuery]) -> list[tuple[str, int]]:
    """How many slow queries fell in each of `SEGMENTS`."""
    counts = {label: 0 for _, _, label in SEGMENTS}
    for query in queries:
        seconds = query.duration_ms / 1000
        for low, high, label in SEGMENTS:
            if seconds >= low and (high is None or seconds < high):
                counts[label] += 1
                break
    return list(counts.items())


class LogService:
    def __init__(self, store: Store, reader: LogReader) -> None:
        self._store = store
        self._reader = reader

    def slow_queries(
        self, tenant_id: str, identifier: str, since: datetime, until: datetime, database: str | None = None
    ) -> list[SlowQuery]:
        """Statements logged with their duration in ``[since, until]``, oldest first."""
        records = self._records(tenant_id, identifier, since, until)
        return [
            SlowQuery(r.logged_at, r.pid, r.user, r.database, r.duration_ms, r.statement)
            for r in records
            if r.duration_ms is not None and r.statement and (database is None or r.database == database)
        ]

    def analysis(
        self, tenant_id: str, identifier: str, since: datetime, until: datetime, database: str | None = None
    ) -> list[QueryStats]:
        """The slow queries grouped by normalized statement, user and database; most total time first."""
        groups: dict[tuple[str, str, str], list[SlowQuery]] = {}
        for query in self.slow_queries(tenant_id, identifier, since, until, database):
            groups.setdefault((normalize(query.statement), query.user, query.database), []).append(query)
        stats = [
            QueryStats(
                normal_query=key[0],
                user=key[1],
                database=key[2],
                calls=len(found),
                total_ms=sum(q.duration_ms for q in found),
                min_ms=min(q.duration_ms for q in found),
                max_ms=max(q.duration_ms for q in found),
                first=found[0].at,
                last=found[-1].at,
            )
            for key, found in groups.items()
        ]
        return sorted(stats, key=lambda s: -s.total_ms)

    def errors(
        self,
        tenant_id: str,
        identifier: str,
        since: datetime,
        until: datetime,
        database: str | None = None,
        search_keys: Sequence[str] = (),
    ) -> list[LogError]:
        """ERROR/FATAL/PANIC messages in ``[since, until]`` holding every one of ``search_keys``, oldest first."""
        if len(search_keys) > MAX_SEARCH_KEYS:
            raise InvalidInput(f"at most {MAX_SEARCH_KEYS} search keys", field="SearchKeys")
        found = []
        for r in self._records(tenant_id, identifier, since, until):
            if r.severity not in _ERRORS or (database is not None and r.database != database):
                continue
            text = f"{r.severity}:  {r.message}"
            if all(key.lower() in text.lower() for key in search_keys):
                found.append(LogError(r.logged_at, r.pid, r.user, r.database, text))
        return found

    def _records(self, tenant_id: str, identifier: str, since: datetime, until: datetime) -> Sequence[LogRecordLike]:
        if until < since:
            raise InvalidInput("EndTime is before StartTime", field="EndTime")
        with self._store.read() as uow:
            instance = uow.instances(tenant_id).find(identifier)
        if instance is None:
            raise InstanceNotFound(identifier)
        return self._reader.server_log(instance.code, since, until, MAX_RECORDS)
