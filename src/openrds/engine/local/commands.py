"""The command lines of PostgreSQL's own programs, built in this one place.

`PgPrograms` runs ``initdb``, ``pg_ctl`` (start, stop, promote) and ``pg_basebackup`` of one installed
version through the `process.Runner` (argv lists, the servers' OS user, a timeout on every call). No
password is ever on a command line: initdb reads the superuser's from a 0600 ``--pwfile``,
pg_basebackup the replication role's from the ``PGPASSFILE`` it is given. Configuration reloads are
SQL (``pg_reload_conf()``, `sql.set_read_only`), and a restart is a stop then a start.
"""

from __future__ import annotations

from pathlib import Path

from openrds.engine.local.binaries import Binaries
from openrds.engine.local.process import Runner

START_TIMEOUT = 120.0  # pg_ctl start -w: a clone replays WAL from its backup start first
STOP_TIMEOUT = 60.0
INITDB_TIMEOUT = 120.0
BASEBACKUP_TIMEOUT = 6 * 3600.0
# Over a pg_ctl -t: pg_ctl gives up (and says why) before the runner kills it.
_GRACE = 10.0


class PgPrograms:
    """The programs of one installed version (``binaries``), run by ``runner``.

    Every method raises `EngineError` (step ``initdb``, ``start``, ``promote``, ``pg_basebackup``) with
    the tail of the program's output when it fails or times out; `stop` reports nothing.
    """

    def __init__(self, binaries: Binaries, runner: Runner) -> None:
        self.binaries = binaries
        self.runner = runner

    def initdb(self, data: Path, *, superuser: str, pwfile: Path, charset: str) -> None:
        """A new cluster in ``data`` with scram-sha-256 for every login and page checksums."""
        argv = [
            self.binaries.path("initdb"),
            "-D",
            str(data),
            "-U",
            superuser,
            f"--pwfile={pwfile}",
            "--auth=scram-sha-256",
            "-E",
            charset,
            "--locale=C",  # compatible with every encoding (LATIN1 included); collation by bytes
            # Page checksums: a page damaged by the disk or the kernel is reported when read (and
            # by pg_basebackup when a replica is copied) instead of silently served and replicated.
            # They cannot be turned on later without stopping the server; replicas inherit them.
            "--data-checksums",
        ]
        if self.binaries.version.major >= 14:
            argv.append("--no-instructions")
        self.runner.run(argv, step="initdb", timeout=INITDB_TIMEOUT)

    def start(self, data: Path, log: Path) -> None:
        """Daemonise the server of ``data`` (its stderr appended to ``log``) and wait until it accepts
        connections."""
        self.runner.run(
            [self._pg_ctl(), "start", "-D", str(data), "-l", str(log), "-w", "-t", str(int(START_TIMEOUT)), "-s"],
            step="start",
            timeout=START_TIMEOUT + _GRACE,
        )

    def stop(self, data: Path, mode: str) -> None:
        """Ask the server of ``data`` to shut down in ``mode`` (fast, immediate) and wait. Its outcome is
        not checked: the caller looks at what is still running and escalates."""
        self.runner.run(
            [self._pg_ctl(), "stop", "-D", str(data), "-m", mode, "-w", "-t", str(int(STOP_TIMEOUT)), "-s"],
            step="stop",
            timeout=STOP_TIMEOUT + _GRACE,
            check=False,
        )

    def promote(self, data: Path) -> None:
        """End recovery of the standby of ``data`` and wait until it is writable."""
        self.runner.run(
            [self._pg_ctl(), "promote", "-D", str(data), "-w", "-t", str(int(START_TIMEOUT)), "-s"],
            step="promote",
            timeout=START_TIMEOUT + _GRACE,
        )

    def basebackup(
        self, data: Path, *, host: str, port: int, user: str, slot: str, passfile: Path, label: str
    ) -> None:
        """Copy the running server at ``host:port`` into the new directory ``data``, streaming the WAL of
        the copy through ``slot`` (``-X stream``) after a fast checkpoint; ``user``'s password comes from
        ``passfile``."""
        self.runner.run(
            [
                self.binaries.path("pg_basebackup"),
                "-D",
                str(data),
                "-X",
                "stream",
                "-c",
                "fast",
                "-S",
                slot,
                "-h",
                host,
                "-p",
                str(port),
                "-U",
                user,
                "-w",  # never prompt: the password comes from PGPASSFILE
                "--no-manifest",  # a replica never verifies its backup; skip checksumming every file
                "-l",
                label,
            ],
            step="pg_basebackup",
            timeout=BASEBACKUP_TIMEOUT,
            env={"PGPASSFILE": str(passfile)},
        )

    def _pg_ctl(self) -> str:
        return self.binaries.path("pg_ctl")
