"""Passwords of a server's internal roles, kept in 0600 files owned by the servers' OS user.

The service's superuser and the replication role get random passwords that exist only in these
files; libpq reads them through ``PGPASSFILE`` / ``passfile=``, so they never appear in an argv, a
configuration file or a log. A replica is a physical copy of its source and so has the same roles
with the same passwords: it gets a copy of the source's files.
"""

from __future__ import annotations

import os
import secrets as _random
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from openrds.engine.driver import EngineError
from openrds.engine.local.files import atomic_write
from openrds.engine.local.osuser import OsUser

SUPERUSER_PASSFILE = "superuser.pgpass"
REPLICATION_PASSFILE = "replication.pgpass"
PASSFILES = (SUPERUSER_PASSFILE, REPLICATION_PASSFILE)


def new_password() -> str:
    """A random password (256 bits, URL-safe alphabet: nothing a passfile or conninfo must escape)."""
    return _random.token_urlsafe(32)


def _escape(field: str) -> str:
    return field.replace("\\", "\\\\").replace(":", "\\:")


def write_passfile(path: Path, user: str, password: str, owner: OsUser) -> None:
    """A libpq password file matching ``user`` on any host, port and database; mode 0600.

    Any host, because the same file serves the local socket (whose "host" is the socket
    directory) and TCP connections to a source whose port may change.
    """
    atomic_write(path, f"*:*:*:{_escape(user)}:{_escape(password)}\n", owner=owner, mode=0o600)


def read_password(path: Path) -> str:
    """The password in a file written by `write_passfile`.

    :raises EngineError: the file is missing or malformed.
    """
    try:
        line = path.read_text(encoding="utf-8").splitlines()[0]
    except (OSError, IndexError) as exc:
        raise EngineError("secrets", f"cannot read passfile {path.name}: {exc}") from None
    fields: list[str] = []
    current: list[str] = []
    chars = iter(line)
    for ch in chars:
        if ch == "\\":
            current.append(next(chars, ""))
        elif ch == ":":
            fields.append("".join(current))
            current = []
        else:
            current.append(ch)
    fields.append("".join(current))
    if len(fields) != 5:
        raise EngineError("secrets", f"malformed passfile {path.name}")
    return fields[4]


def copy_passfiles(source_dir: Path, target_dir: Path, owner: OsUser) -> None:
    """Give a replica its source's passfiles (same roles, same passwords)."""
    for name in PASSFILES:
        atomic_write(target_dir / name, (source_dir / name).read_text(encoding="utf-8"), owner=owner, mode=0o600)


@contextmanager
def temporary_pwfile(directory: Path, password: str, owner: OsUser) -> Iterator[Path]:
    """A 0600 file holding only ``password``, for ``initdb --pwfile``; removed on exit."""
    path = directory / f".pwfile.{os.getpid()}"
    atomic_write(path, password + "\n", owner=owner, mode=0o600)
    try:
        yield path
    finally:
        path.unlink(missing_ok=True)
