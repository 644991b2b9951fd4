"""Recognising a server's live postmaster from its data directory, without connecting.

``postmaster.pid`` survives a ``kill -9`` of the postmaster, and its pid may by then belong to an
unrelated process, so a pid file is trusted only when that pid is alive, is a PostgreSQL process,
and works in this very data directory (its cwd: the postmaster ``chdir``s into its data directory).
Line 8 of the file is the postmaster's own status: ``ready`` (``standby`` on some versions for a hot
standby) once it accepts connections, which is exactly what ``pg_ctl start -w`` waits for.
"""

from __future__ import annotations

import contextlib
import os
import signal
from dataclasses import dataclass
from pathlib import Path

_POSTGRES_NAMES = ("postgres", "postmaster")


@dataclass(frozen=True, slots=True)
class PidFile:
    pid: int
    data_dir: str
    port: int | None
    status: str  # "starting", "stopping", "ready", "standby" or "" (older servers, or still writing)

    @property
    def accepting(self) -> bool:
        return self.status in ("ready", "standby")


def read_pidfile(data_dir: Path, name: str = "postmaster.pid") -> PidFile | None:
    """The parsed ``postmaster.pid`` of ``data_dir`` (or another lock file of the same format, such
    as a socket's ``.s.PGSQL.<port>.lock``), or None when absent or unreadable."""
    try:
        lines = (data_dir / name).read_text(encoding="utf-8", errors="replace").splitlines()
        pid = int(lines[0])
    except (OSError, IndexError, ValueError):
        return None
    port = int(lines[3]) if len(lines) > 3 and lines[3].strip().isdigit() else None
    status = lines[7].strip() if len(lines) > 7 else ""
    return PidFile(pid=pid, data_dir=lines[1] if len(lines) > 1 else "", port=port, status=status)


def _cwd(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def _is_postgres(pid: int) -> bool:
    try:
        argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0", 1)[0].decode(errors="replace")
        comm = Path(f"/proc/{pid}/comm").read_text(encoding="utf-8").strip()
    except OSError:
        return False
    # Children rewrite their title ("postgres: p1: checkpointer"); the postmaster keeps its argv.
    return os.path.basename(argv0) in _POSTGRES_NAMES or argv0.startswith("postgres:") or comm in _POSTGRES_NAMES


def is_alive(pid: int) -> bool:
    """Whether ``pid`` exists (zombies count as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8").rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in ("Z", "X")


def live_postmaster(data_dir: Path) -> PidFile | None:
    """The pid file of ``data_dir`` if its postmaster is alive and really serves ``data_dir``."""
    pidfile = read_pidfile(data_dir)
    if pidfile is None or not is_alive(pidfile.pid) or not _is_postgres(pidfile.pid):
        return None
    cwd = _cwd(pidfile.pid)
    if cwd is not None and os.path.realpath(cwd) != os.path.realpath(data_dir):
        return None  # the pid was reused by a server of another directory
    return pidfile


def processes_in(data_dir: Path) -> list[int]:
    """Every live PostgreSQL process working in ``data_dir`` (a postmaster and its children).

    After a ``kill -9`` of the postmaster its children linger for a moment, attached to the old
    shared memory; a new postmaster refuses to start until they are gone.
    """
    target = os.path.realpath(data_dir)
    found = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            pid = int(entry.name)
            cwd = _cwd(pid)
            if cwd is not None and os.path.realpath(cwd) == target and is_alive(pid) and _is_postgres(pid):
                found.append(pid)
    return found


def kill(pids: list[int], sig: signal.Signals = signal.SIGKILL) -> None:
    """Send ``sig`` to each of ``pids`` that still exists."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
