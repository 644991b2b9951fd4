"""What the API's worker processes share: the rate limit's counters and the replay memory's signatures.

``openrds serve`` with ``api_workers`` > 1 forks its workers after binding the port (see
:mod:`openrds.api.workers`); each request reaches whichever worker the kernel gives its connection to.
A limit per account and a refusal of a replayed signature must hold whichever worker that is:

- :class:`SharedRateLimiter`: a table of counters in memory mapped shared (anonymous ``MAP_SHARED``,
  made before the fork, so every worker maps the same pages), one slot per (action, tenant) found by
  hashing, under one process-shared lock. Microseconds per call.
- :class:`SharedSignatures`: each signature's first use, in a SQLite file of the data root that every
  worker opens (WAL, no fsync: it holds nothing that must outlive the service, and is emptied at each
  start). A worker consults it only for a signature it has not seen itself (the SDK's polling repeats
  a signature within its second on one connection, which stays on one worker), so most calls never
  touch it.
"""

from __future__ import annotations

import hashlib
import mmap
import multiprocessing
import os
import sqlite3
import struct
import threading
from dataclasses import dataclass
from pathlib import Path

#: Slots of the shared rate-limit table: (action, tenant) pairs active within two seconds.
SLOTS = 8192
#: Slots tried from a key's hash before the stalest one is taken over.
PROBES = 8
# key hash, the second counted, calls accepted in it, calls accepted in the second before.
_SLOT = struct.Struct("<QqII")


class SharedRateLimiter:
    """At most ``limit`` accepted calls per key per second, counted across every process forked after
    it was made. A sliding window *counter* (the second before weighs by how much of it is still
    within the last second): never more than ``limit`` in one calendar second, and within a few
    percent of it in any window of one second. The single-process
    :class:`openrds.api.tencent.protocol.SlidingWindowRateLimiter` keeps a log instead; a log per key
    is not something processes can share in fixed memory. Rejected calls are not counted.
    """

    def __init__(self, slots: int = SLOTS) -> None:
        self._slots = slots
        self._memory = mmap.mmap(-1, slots * _SLOT.size)  # anonymous mappings are MAP_SHARED by default
        self._lock = multiprocessing.Lock()

    def allow(self, key: tuple[str, str], limit: int, now: float) -> bool:
        """Record and accept a call for ``key`` at ``now``, or refuse it (nothing recorded)."""
        digest = hashlib.blake2b("\0".join(key).encode(), digest_size=8).digest()
        wanted = int.from_bytes(digest, "little") or 1  # 0 marks an empty slot
        second = int(now)
        with self._lock:
            at, stalest = -1, -1
            stalest_second = second + 1
            for probe in range(PROBES):
                slot = (wanted + probe) % self._slots
                held, counted, current, before = _SLOT.unpack_from(self._memory, slot * _SLOT.size)
                if held == wanted:
                    at = slot
                    break
                if counted < stalest_second:
                    stalest, stalest_second = slot, counted
            if at < 0:  # not counted yet: take the slot idle the longest (empty slots count second 0)
                at, held, counted, current, before = stalest, wanted, second, 0, 0
            if counted == second - 1:
                current, before = 0, current
            elif counted != second:  # older, or a clock that stepped back: nothing within the window
                current, before = 0, 0
            weight = 1.0 - (now - second)
            accepted = current < limit and before * weight + current < limit
            _SLOT.pack_into(self._memory, at * _SLOT.size, wanted, second, current + accepted, before)
            return bool(accepted)


@dataclass(frozen=True)
class FirstUse:
    """A signature's first use as another worker recorded it."""

    action: str
    region: str | None
    changes_state: bool
    first_seen: float
    tenant_id: str


class SharedSignatures:
    """Each signature's first use, shared by the workers through a SQLite file.

    :param path: the file; made (and emptied) by :meth:`create` in the parent before the fork.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None
        self._pid = 0
        self._swept_at = float("-inf")

    @classmethod
    def create(cls, path: Path) -> SharedSignatures:
        """A new, empty memory at ``path`` (what an earlier run left is of no use: it is all expired or
        about the signatures of a service that no longer answers)."""
        for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
            leftover.unlink(missing_ok=True)
        connection = sqlite3.connect(path, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE signatures (key BLOB PRIMARY KEY, valid_until INTEGER NOT NULL, action TEXT NOT NULL,"
            " region TEXT, changes_state INTEGER NOT NULL, first_seen REAL NOT NULL, tenant_id TEXT NOT NULL)"
        )
        connection.execute("CREATE INDEX signatures_valid_until ON signatures (valid_until)")
        connection.close()
        return cls(path)

    def _open(self) -> sqlite3.Connection:
        # One connection per process, opened in it: a SQLite connection must not cross a fork.
        if self._connection is None or self._pid != os.getpid():
            self._connection = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False,
                                               timeout=5.0)
            self._connection.execute("PRAGMA synchronous=OFF")
            self._pid = os.getpid()
        return self._connection

    def first_use(self, key: bytes, *, valid_until: int, action: str, region: str | None, changes_state: bool,
                  now: float, tenant_id: str) -> FirstUse | None:
        """Record this as the first use of ``key`` and return None; or, if a use was recorded before (by
        any worker), return that one and record nothing."""
        with self._lock:
            connection = self._open()
            if now - self._swept_at >= 1:
                self._swept_at = now
                connection.execute("DELETE FROM signatures WHERE valid_until < ?", (int(now),))
            inserted = connection.execute(
                "INSERT OR IGNORE INTO signatures VALUES (?, ?, ?, ?, ?, ?, ?)",
                (key, valid_until, action, region, int(changes_state), now, tenant_id),
            ).rowcount
            if inserted:
                return None
            row = connection.execute(
                "SELECT action, region, changes_state, first_seen, tenant_id FROM signatures WHERE key = ?", (key,)
            ).fetchone()
        if row is None:  # expired and swept by another worker in between: its timestamp is out of the window
            return None
        return FirstUse(row[0], row[1], bool(row[2]), row[3], row[4])
