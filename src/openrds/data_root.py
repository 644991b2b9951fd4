"""The data root is private to the service's OS account.

It holds the metadata store (``openrds.db`` and its ``-wal``/``-shm``: scrypt hashes, sealed API
secrets), ``secret.key`` that unseals them, ``console.key`` that signs console sessions, ``download.key``
that signs backup download links, and
``bootstrap-credentials.json``. Each of them is 0600. The root itself is 0700, plus "others may enter"
(o+x) where PostgreSQL servers run as another account (``postgres``, when the service is root): the
engine adds that bit, because those servers live below it (``instances/``, ``run/``, ``endpoints/``).
With it the other account can reach those directories by name, but can neither list the root nor open
any file of the service's.

Files made from now on are private through the process umask (0o077, set by the ``openrds`` command);
`prepare` tightens what an earlier version or an operator left looser, logging each change.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

#: Taken from the root: every group bit, and others' read and write. Others' execute (traverse) stays.
ROOT_LOOSE_BITS = stat.S_IRWXG | stat.S_IROTH | stat.S_IWOTH
#: Taken from every file directly in the root: every group and others' bit (0600 at most).
FILE_LOOSE_BITS = stat.S_IRWXG | stat.S_IRWXO


def prepare(root: Path) -> None:
    """Create ``root`` (0700) if missing; otherwise take from it and from every regular file directly
    in it the bits that let another account list or read them, logging each path changed.

    Subdirectories are not touched: they belong to the engine, which sets their owners and modes.
    """
    root.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(root, ROOT_LOOSE_BITS)
    for path in root.iterdir():
        try:
            if stat.S_ISREG(path.lstat().st_mode):
                _tighten(path, FILE_LOOSE_BITS)
        except FileNotFoundError:
            continue  # removed meanwhile (a temporary file)


def _tighten(path: Path, loose: int) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & loose:
        os.chmod(path, mode & ~loose)
        log.warning("tightened %s from %04o to %04o: it is the service's alone", path, mode, mode & ~loose)
