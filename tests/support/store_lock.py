"""The metadata store's write lock held by another process, as a stuck or slow writer would hold it."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

# BEGIN IMMEDIATE takes SQLite's one write lock; the holder keeps it until its stdin closes.
_HOLDER = """
import sqlite3, sys
db = sqlite3.connect(sys.argv[1], timeout=60, isolation_level=None)
db.execute("BEGIN IMMEDIATE")
print("held", flush=True)
sys.stdin.readline()
db.rollback()
"""


@contextmanager
def write_lock_held(database: Path) -> Iterator[None]:
    """SQLite's write lock on ``database`` held by a second Python process for the duration of the block.

    The holder waits up to 60 s for the lock itself (a writer of the service may have it), then says
    so on stdout; at the end it is told to let go and is reaped, whatever happened in the block.
    """
    holder = subprocess.Popen([sys.executable, "-c", _HOLDER, str(database)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None
        # Blocks until the holder has the lock or has exited (its own 60 s wait bounds this).
        if holder.stdout.readline().strip() != "held":
            holder.wait(timeout=10)
            raise AssertionError(f"the lock holder did not get the write lock of {database}: "
                                 f"{holder.stderr.read() if holder.stderr else ''}")
        yield
    finally:
        if holder.stdin is not None:
            holder.stdin.close()  # its readline() returns: it rolls back and exits
        try:
            holder.wait(timeout=30)
        except subprocess.TimeoutExpired:
            holder.kill()
            holder.wait(timeout=10)
        for stream in (holder.stdout, holder.stderr):
            if stream is not None:
                stream.close()
