"""The store's data version: a value that changes whenever anything, in any process, commits a change.

Read-through caches (API keys, read-only API answers, the monitor's list of servers, the metrics
inventory) keep what they built together with the version read *before* building it, and reuse it
only while the version read now is the same. Reading the version first is what makes this exact: a
commit that lands while the cache is being built makes the next version differ, so the entry is
rebuilt, never served stale. The store stays the only truth - nothing to invalidate by hand, and a
change made by another process (``openrds admin revoke-key`` while the service runs) is seen at
the next request.

- SQLite: ``PRAGMA data_version`` on a connection of its own that never writes. SQLite changes the
  value that connection sees whenever another connection - in this process or another - commits
  (https://sqlite.org/pragma.html#pragma_data_version). A few microseconds: it reads the WAL index.
- PostgreSQL: ``pg_current_snapshot()``. Two equal snapshots see exactly the same committed
  transactions (xmin, xmax and the in-progress list fix which ones are visible), so equal text means
  equal data; any commit moves xmax or empties a slot of the list. One round trip. Transaction ids
  are the whole cluster's: a busy neighbouring database moves it too - still exact, only less reuse.
- Anything else (an in-memory SQLite, whose connections do not share data the same way): a new
  object on every call, equal to nothing, so nothing is ever reused.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from sqlalchemy import Engine

T = TypeVar("T")


class DataVersion(Protocol):
    def current(self) -> object:
        """A value equal to an earlier one only if nothing was committed in between."""
        ...


class _SqliteDataVersion:
    def __init__(self, path: str) -> None:
        self._path = path
        self._connection: sqlite3.Connection | None = None  # opened at first use: the file may not exist yet
        self._lock = threading.Lock()

    def current(self) -> object:
        with self._lock:
            if self._connection is None:
                # Never used to write: its own commits would not change the value it reads.
                self._connection = sqlite3.connect(self._path, check_same_thread=False, isolation_level=None)
            return self._connection.execute("PRAGMA data_version").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            if self._connection is not None:
                self._connection.close()
                self._connection = None


class _PostgresDataVersion:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def current(self) -> object:
        with self._engine.connect() as connection:
            return connection.exec_driver_sql("SELECT pg_catalog.pg_current_snapshot()::text").scalar_one()

    def close(self) -> None:
        pass


class _NeverEqual:
    def current(self) -> object:
        return object()

    def close(self) -> None:
        pass


def data_version(engine: Engine) -> _SqliteDataVersion | _PostgresDataVersion | _NeverEqual:
    """The data version source for ``engine``'s database."""
    if engine.dialect.name == "postgresql":
        return _PostgresDataVersion(engine)
    database = engine.url.database
    if engine.dialect.name == "sqlite" and database and database != ":memory:" and not database.startswith("file:"):
        return _SqliteDataVersion(database)
    return _NeverEqual()


class Remembered(Generic[T]):
    """What ``read`` returns, read again only after a commit (for one reader thread: the monitor's)."""

    def __init__(self, version: Callable[[], object], read: Callable[[], T]) -> None:
        self._version = version
        self._read = read
        self._kept: tuple[object, T] | None = None

    def get(self) -> T:
        version = self._version()  # before the read: a commit during it makes the next get read again
        if self._kept is None or self._kept[0] != version:
            self._kept = (version, self._read())
        return self._kept[1]
