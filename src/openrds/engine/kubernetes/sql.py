"""SQL on an instance's ``-rw`` Service (or its external Service), as ``postgres``: replication views,
figures and the ``CHECKPOINT`` that speeds up a clone. The only network path to PostgreSQL itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg

from openrds.engine.driver import EngineError

SENDERS = (
    "SELECT application_name, state, sent_lsn::text, write_lsn::text, flush_lsn::text, replay_lsn::text,"
    " pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), replay_lsn)::bigint,"
    " extract(epoch from replay_lag)::float8 FROM pg_catalog.pg_stat_replication"
)
CURRENT_LSN = (
    "SELECT pg_catalog.pg_is_in_recovery(), CASE WHEN pg_catalog.pg_is_in_recovery()"
    " THEN pg_catalog.pg_last_wal_receive_lsn() ELSE pg_catalog.pg_current_wal_lsn() END::text"
)
RECEIVER = (
    "SELECT pg_catalog.pg_last_wal_receive_lsn()::text, pg_catalog.pg_last_wal_replay_lsn()::text,"
    " extract(epoch from now() - pg_catalog.pg_last_xact_replay_timestamp())::float8,"
    " (SELECT status FROM pg_catalog.pg_stat_wal_receiver LIMIT 1)"
)
FIGURES = (
    "SELECT (SELECT count(*) FROM pg_catalog.pg_stat_activity WHERE backend_type = 'client backend'),"
    " current_setting('max_connections')::int,"
    " (SELECT sum(pg_catalog.pg_database_size(oid)) FROM pg_catalog.pg_database)::bigint"
)
CHECKPOINT = "CHECKPOINT"


@dataclass(frozen=True, slots=True)
class Target:
    """Where and as whom the driver reaches one instance."""

    instance_id: str
    host: str
    port: int
    user: str
    password: str = field(repr=False)


class Sessions(Protocol):
    """Runs one statement on one instance and returns its rows (none for a command)."""

    def run(self, target: Target, statement: str) -> Sequence[tuple[Any, ...]]: ...


class PsycopgSessions:
    """`Sessions` over psycopg: one short connection per call, ``connect_timeout`` bounded, autocommit.

    :raises EngineError: (transient) the instance cannot be reached or the statement failed; the
        message names the instance, never the password.
    """

    def __init__(self, connect_timeout: float = 3.0) -> None:
        self.connect_timeout = connect_timeout

    def run(self, target: Target, statement: str) -> Sequence[tuple[Any, ...]]:
        try:
            with psycopg.connect(
                host=target.host,
                port=target.port,
                user=target.user,
                password=target.password,
                dbname="postgres",
                connect_timeout=max(1, int(self.connect_timeout)),
                application_name="openrds",
                autocommit=True,
            ) as conn:
                cursor = conn.execute(statement)
                return cursor.fetchall() if cursor.description else []
        except psycopg.Error as exc:
            detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise EngineError("sql", f"{target.instance_id} at {target.host}:{target.port}: {detail}",
                              transient=True) from None
