"""The operating-system account PostgreSQL servers run as, and file ownership for it.

PostgreSQL refuses to run as root. When the service runs as root, servers run as ``postgres``
(through ``runuser``) and every file they use must belong to that account; when it runs as an
ordinary user, servers run as that same user and no ownership change is needed.
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from pathlib import Path

from openrds.engine.driver import EngineError


@dataclass(frozen=True, slots=True)
class OsUser:
    """The account servers run as.

    :param switch: True when commands must be run through ``runuser`` (the service is root).
    """

    name: str
    uid: int
    gid: int
    groups: frozenset[int]
    switch: bool

    @classmethod
    def resolve(cls, requested: str | None) -> OsUser:
        """``requested`` or the default: ``postgres`` when running as root, else the current user.

        :raises EngineError: the account does not exist, is root, or differs from the current user
            while the service is not root (only root can run commands as someone else).
        """
        euid = os.geteuid()
        current = pwd.getpwuid(euid).pw_name
        name = requested or ("postgres" if euid == 0 else current)
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            raise EngineError("configure", f"OS user {name!r} does not exist") from None
        if entry.pw_uid == 0:
            raise EngineError("configure", "PostgreSQL refuses to run as root; choose another OS user")
        if euid != 0 and entry.pw_uid != euid:
            raise EngineError("configure", f"running as {current!r}, cannot run servers as {name!r} (needs root)")
        groups = {entry.pw_gid} | {g.gr_gid for g in grp.getgrall() if name in g.gr_mem}
        return cls(name, entry.pw_uid, entry.pw_gid, frozenset(groups), switch=euid == 0)

    def own(self, path: Path) -> None:
        """Give ``path`` (not recursively) to this account; a no-op when not root."""
        if self.switch:
            os.chown(path, self.uid, self.gid, follow_symlinks=False)

    def mkdir(self, path: Path, mode: int = 0o700) -> Path:
        """Create ``path`` (parents must exist) owned by this account with ``mode``; fine if it exists."""
        path.mkdir(mode=mode, exist_ok=True)
        os.chmod(path, mode)  # mkdir's mode is filtered by the umask
        self.own(path)
        return path

    def can_traverse(self, directory: Path) -> bool:
        """Whether this account may enter ``directory`` (the x bit that applies to it is set)."""
        st = directory.stat()
        if st.st_uid == self.uid:
            return bool(st.st_mode & stat.S_IXUSR)
        if st.st_gid in self.groups:
            return bool(st.st_mode & stat.S_IXGRP)
        return bool(st.st_mode & stat.S_IXOTH)

    def ensure_traversable(self, directory: Path) -> list[Path]:
        """Make every directory from ``/`` down to ``directory`` enterable by this account.

        Adds only the "others may enter" bit (o+x, not o+r: names stay unlistable) where the account
        could not pass otherwise, e.g. a ``tempfile.mkdtemp`` directory (0700, root) or a freshly
        mounted filesystem. Returns the directories changed.
        """
        changed: list[Path] = []
        resolved = directory.resolve()
        for parent in [*reversed(resolved.parents), resolved]:
            if not self.can_traverse(parent):
                os.chmod(parent, stat.S_IMODE(parent.stat().st_mode) | stat.S_IXOTH)
                changed.append(parent)
        return changed
