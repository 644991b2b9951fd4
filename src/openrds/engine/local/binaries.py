"""Finding the installed PostgreSQL versions at run time (never a hard-coded version or path).

Sources, in order: the ``bindir`` of every ``pg_config`` on ``PATH`` (a source build or a
non-Debian package), then Debian's ``/usr/lib/postgresql/<major>/bin`` directories. A directory
counts only if it holds both ``postgres`` and ``initdb``; its version is what ``postgres --version``
says.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from openrds.engine.driver import EngineError, InstalledVersion

_DEBIAN_GLOB = "/usr/lib/postgresql/*/bin"
_VERSION_RE = re.compile(r"\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(\S*)")
_PROBE_TIMEOUT = 10.0


def _probe(argv: Sequence[str]) -> str | None:
    try:
        done = subprocess.run(
            list(argv), capture_output=True, text=True, timeout=_PROBE_TIMEOUT, stdin=subprocess.DEVNULL, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def _candidate_bindirs() -> list[str]:
    found: list[str] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        bindir = _probe([pg_config, "--bindir"])
        if bindir:
            found.append(bindir)
    found.extend(sorted(glob.glob(_DEBIAN_GLOB)))
    return found


def version_of(bindir: str) -> InstalledVersion | None:
    """The version whose server binaries are in ``bindir``, or None if it holds no usable server."""
    postgres = os.path.join(bindir, "postgres")
    if not (os.access(postgres, os.X_OK) and os.access(os.path.join(bindir, "initdb"), os.X_OK)):
        return None
    out = _probe([postgres, "--version"])
    match = _VERSION_RE.search(out or "")
    if match is None:
        return None
    major, minor, suffix = match.group(1), match.group(2), match.group(3)
    full = f"{major}.{minor}" if minor is not None else f"{major}{suffix}"
    return InstalledVersion(major=int(major), full=full, bindir=bindir)


def find_versions() -> list[InstalledVersion]:
    """Installed versions, newest first, one per major (the first directory found wins). Never raises."""
    by_major: dict[int, InstalledVersion] = {}
    seen: set[str] = set()
    for bindir in _candidate_bindirs():
        real = os.path.realpath(bindir)
        if real in seen:
            continue
        seen.add(real)
        version = version_of(bindir)
        if version is not None and version.major not in by_major:
            by_major[version.major] = version
    return sorted(by_major.values(), key=lambda v: v.major, reverse=True)


class Binaries:
    """The programs of one installed version."""

    def __init__(self, version: InstalledVersion) -> None:
        self.version = version

    def path(self, program: str) -> str:
        """Absolute path of ``program`` (``initdb``, ``pg_ctl``, ``pg_basebackup`` ...).

        :raises EngineError: the program is not installed for this version.
        """
        candidate = Path(self.version.bindir) / program
        if not os.access(candidate, os.X_OK):
            raise EngineError("binaries", f"{program} not found in {self.version.bindir}")
        return str(candidate)
