"""Making a replica's data directory: reflink clones and local copies.

Both run ``cp`` as the servers' OS user, so modes and ownership come out right without a chown
pass, and both leave out what a base backup leaves out (pg_basebackup's exclusion list): runtime
files of the source and the contents of directories a starting server refills itself.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from openrds.engine.driver import EngineError
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.process import Runner

CP_TIMEOUT = 3600.0

# Top-level entries not copied at all (runtime files of the source, or files this driver rewrites).
SKIP_FILES = frozenset(
    {"postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map", "standby.signal", "recovery.signal"}
)
# Directories copied empty: their contents belong to the running source (pg_wal: the replica streams
# what it needs through its slot; pg_replslot: the source's slots are not the replica's).
EMPTY_DIRS = (
    "pg_wal",
    "pg_replslot",
    "pg_dynshmem",
    "pg_notify",
    "pg_serial",
    "pg_snapshots",
    "pg_stat_tmp",
    "pg_subtrans",
)

# A file removed by the running source between cp's listing and its copy: the backup window makes
# that harmless (WAL replay recreates whatever matters), exactly as pg_basebackup tolerates it.
_VANISHED = re.compile(r"cp: (cannot stat|cannot open|error reading) .*: No such file or directory")


def supports_reflink(directory: Path, runner: Runner, owner: OsUser) -> bool:
    """Whether the filesystem of ``directory`` can share blocks between files (XFS reflink=1, btrfs).

    Probes with ``cp --reflink=always`` on a small file, which fails on filesystems without it.
    """
    probe = directory / f".reflink-probe.{os.getpid()}"
    copy = probe.with_name(probe.name + ".copy")
    try:
        probe.write_bytes(b"openrds reflink probe\n")
        owner.own(probe)
        done = runner.run(
            ["cp", "--reflink=always", str(probe), str(copy)], step="probe reflink", timeout=30, check=False
        )
        return done.returncode == 0
    finally:
        probe.unlink(missing_ok=True)
        copy.unlink(missing_ok=True)


def _make_empty_dirs(runner: Runner, source: Path, target: Path) -> None:
    present = [name for name in EMPTY_DIRS if (source / name).is_dir()]
    argv = ["mkdir", "-p", "-m", "0700", *(str(target / name) for name in present)]
    if (source / "pg_wal").is_dir():
        argv.append(str(target / "pg_wal" / "archive_status"))
    runner.run(argv, step="copy data", timeout=60)


def clone_data_dir(runner: Runner, source: Path, target: Path) -> None:
    """Reflink-copy the data directory ``source`` into the new directory ``target``, inside a backup
    window opened by the caller, and re-copy ``global/pg_control`` last.

    pg_control last: on a standby source the end of the backup is the ``minRecoveryPoint`` recorded
    in the copied pg_control, which must not be older than any page copied before it.
    :raises EngineError: tablespaces are present (not supported) or cp failed.
    """
    if any((source / "pg_tblspc").iterdir()):
        raise EngineError("clone", "the source has tablespaces; cloning them is not supported")
    runner.run(["mkdir", "-m", "0700", str(target)], step="clone", timeout=60)
    entries = sorted(
        str(source / name) for name in os.listdir(source) if name not in SKIP_FILES and name not in EMPTY_DIRS
    )
    _cp(runner, ["cp", "-a", "--reflink=always", "-t", str(target), *entries], step="clone")
    _make_empty_dirs(runner, source, target)
    runner.run(
        ["cp", "-a", "--reflink=always", str(source / "global" / "pg_control"), str(target / "global" / "pg_control")],
        step="clone",
        timeout=60,
    )


def copy_backup(runner: Runner, source: Path, target: Path) -> None:
    """Copy a finished (not running) base backup ``source`` to ``target``; reflink when possible."""
    runner.run(["mkdir", "-m", "0700", str(target)], step="copy backup", timeout=60)
    entries = sorted(str(source / name) for name in os.listdir(source))
    _cp(runner, ["cp", "-a", "--reflink=auto", "-t", str(target), *entries], step="copy backup", strict=True)


def _cp(runner: Runner, argv: list[str], *, step: str, strict: bool = False) -> None:
    done = runner.run(argv, step=step, timeout=CP_TIMEOUT, check=False)
    if done.returncode == 0:
        return
    problems = [line for line in done.stderr.splitlines() if line.strip()]
    if not strict and problems and all(_VANISHED.fullmatch(line) for line in problems):
        return
    raise EngineError(step, f"cp exited with code {done.returncode}", done.output_tail)
