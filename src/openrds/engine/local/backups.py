"""Backups of the local driver's servers: the `engine.backups.BackupDriver` half of `LocalDriver`.

`LocalBackups` runs the host's pgBackRest (`pgbackrest.PgBackRest`) for the servers of one data
root: a stanza per instance (its name is the instance id), WAL archived from birth, backups
annotated with the control plane's id, and the pieces of a restore that are about the repository
(the restore itself, the passfiles of the source, the new stanza). Making the restored directory a
running server (port, configuration, start, cleanup on failure) is the driver's, as for any server.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import psycopg
from psycopg import sql as pgsql

from openrds.engine.backups import ArchiveStatus, BackupSet, BackupsUnsupported, BackupType, StanzaInfo
from openrds.engine.driver import EngineError
from openrds.engine.local import sql
from openrds.engine.local.config import REPLICA_FLOOR_SETTINGS
from openrds.engine.local.files import REPLICATION_USER, SUPERUSER, atomic_write
from openrds.engine.local.layout import Layout, ServerMeta, check_instance_id, slot_name
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.pgbackrest import (
    BACKUP_ID_ANNOTATION,
    BACKUP_TIMEOUT,
    KIND_ANNOTATION,
    LOCK_HELD,
    LOCK_POLL,
    LOCK_WAIT,
    RESTORE_TIMEOUT,
    PgBackRest,
    backup_set,
    restore_options,
    stanza_info,
)
from openrds.engine.local.postmaster import live_postmaster
from openrds.engine.local.process import Runner
from openrds.engine.local.replicas import parallel
from openrds.engine.local.secrets import (
    PASSFILES,
    REPLICATION_PASSFILE,
    SUPERUSER_PASSFILE,
    new_password,
    write_passfile,
)
from openrds.engine.wait import WaitTimeout, wait_until

log = logging.getLogger(__name__)

_SEGMENT = re.compile(r"([0-9A-F]{24})(\.partial|\.[0-9A-F]{8}\.backup)?")
#: The phrase PostgreSQL (13+) logs when WAL ends before a time target: the restore must fail.
TARGET_NOT_REACHED = "recovery ended before configured recovery target was reached"
KINDS = frozenset({"manual", "auto"})
#: A restored server replays WAL from its set's start to the target before it is promoted.
RECOVERY_TIMEOUT = 6 * 3600.0
#: How replicas are seeded when no reflink clone is possible (`LocalDriver._replica_copy_method`).
ReplicaSeed = Literal["auto", "basebackup", "repository"]
#: ``auto`` seeds from the repository only from a set this recent: a replica restored from an older
#: one replays (archive-get, one segment at a time) everything written since, which on a busy master
#: takes longer than streaming a fresh copy.
REPOSITORY_SEED_MAX_AGE = timedelta(hours=6)
#: ... and only for masters this large: below it a restore's fixed cost (~1.5 s: info, manifest,
#: archive-get) is most of the time; at 1 GB (bench/backup.py) seeding took 0.70x-1.10x the time of
#: pg_basebackup from the master, so from there on sparing the master the whole read decides.
REPOSITORY_SEED_MIN_BYTES = 1024**3
#: pg_controldata's names of the settings a hot standby (a server in recovery) may not go below.
_CONTROL_FLOOR = {
    "max_connections setting": "max_connections",
    "max_worker_processes setting": "max_worker_processes",
    "max_wal_senders setting": "max_wal_senders",
    "max_prepared_xacts setting": "max_prepared_transactions",
    "max_locks_per_xact setting": "max_locks_per_transaction",
}


def restore_failure(instance_id: str, log_tail: str) -> EngineError:
    """The error of a restored server that stopped before it was promoted (never transient: the same
    target fails again)."""
    if TARGET_NOT_REACHED in log_tail:
        detail = (
            f"{instance_id}: the recovery target is after the last archived commit of its source"
            " (recovery ended before the target was reached)"
        )
    else:
        detail = f"{instance_id}: the restored server stopped during recovery"
    return EngineError("restore", detail, log_tail)


def _processes() -> list[tuple[int, list[str]]]:
    """(pid, argv) of every process this user may see in ``/proc`` (none without ``/proc``)."""
    found = []
    with contextlib.suppress(OSError):
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                with open(os.path.join(entry.path, "cmdline"), "rb") as handle:
                    raw = handle.read()
            except OSError:  # exited meanwhile, or not ours to read
                continue
            found.append((int(entry.name), [a.decode(errors="replace") for a in raw.split(b"\0") if a]))
    return found


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (a killed child of another parent may stay one a moment)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except (OSError, IndexError):
        return False


def segment_number(wal: str | None) -> tuple[int, int] | None:
    """(timeline, segment number) of a WAL segment's file name with 16 MB segments, also of its
    ``.partial`` or ``.backup`` files; None for other names (a timeline's ``.history``)."""
    if wal is None or not _SEGMENT.fullmatch(wal):
        return None
    return int(wal[:8], 16), int(wal[8:16], 16) * 0x100 + int(wal[16:24], 16)


class LocalBackups:
    """pgBackRest for the servers of one data root (see the module docstring).

    :param unsupported: why backups cannot work on this host (pgBackRest missing, none configured),
        or None; every method but `support` then raises `BackupsUnsupported`.
    """

    def __init__(
        self,
        pgbackrest: PgBackRest | None,
        layout: Layout,
        sessions: sql.Sessions,
        os_user: OsUser,
        runner: Runner,
        unsupported: str | None = None,
    ) -> None:
        self.pgbackrest = pgbackrest
        self.layout = layout
        self.sessions = sessions
        self.os_user = os_user
        self.runner = runner
        self.unsupported = unsupported if pgbackrest is not None else (unsupported or "no backup repository")
        if self.pgbackrest is not None and self.unsupported is None:
            self.pgbackrest.prepare()

    def support(self) -> str | None:
        return self.unsupported

    @property
    def active(self) -> bool:
        return self.unsupported is None

    def require(self) -> None:
        """:raises BackupsUnsupported: backups do not work on this host (before anything is made)."""
        self._tool()

    def _tool(self) -> PgBackRest:
        if self.unsupported is not None or self.pgbackrest is None:
            raise BackupsUnsupported(f"local driver: {self.unsupported}")
        return self.pgbackrest

    def archive_command(self, instance_id: str) -> str | None:
        """The ``archive_command`` of the server ``instance_id`` (None: backups are off, no archiving)."""
        return self._tool().archive_command(instance_id) if self.active else None

    # ------------------------------------------------------------------ stanzas

    def _passfile(self, instance_id: str) -> Path:
        return self.layout.instance(instance_id) / SUPERUSER_PASSFILE

    def create_offline(self, meta: ServerMeta) -> None:
        """The stanza of a server that is not running yet (after initdb, before a restored or promoted
        server first archives): its configuration, its passfiles kept, ``stanza-create --no-online``."""
        tool = self._tool()
        tool.write_stanza(meta.instance_id, self.layout.data(meta.instance_id), meta.port)
        tool.keep_passfiles(meta.instance_id, self.layout.instance(meta.instance_id))
        tool.run("stanza-create", "--no-online", stanza=meta.instance_id, step="stanza-create")

    def ensure_stanza(self, meta: ServerMeta) -> None:
        """The stanza exists and archiving of the running primary works (``stanza-create`` + ``check``)."""
        tool = self._tool()
        tool.write_stanza(meta.instance_id, self.layout.data(meta.instance_id), meta.port)
        tool.keep_passfiles(meta.instance_id, self.layout.instance(meta.instance_id))
        passfile = self._passfile(meta.instance_id)
        tool.run("stanza-create", stanza=meta.instance_id, step="stanza-create", passfile=passfile)
        tool.run("check", stanza=meta.instance_id, step="check", passfile=passfile)

    def archiving(self, meta: ServerMeta) -> bool:
        """Whether the running server archives into its own stanza (``archive_mode`` and the command)."""
        with self.sessions.open(meta, "archive settings") as conn:
            row = conn.execute("SELECT current_setting('archive_mode'), current_setting('archive_command')").fetchone()
        return row is not None and row[0] == "on" and row[1] == self.archive_command(meta.instance_id)

    def check(self, meta: ServerMeta) -> None:
        """``pgbackrest check``: switches WAL and waits until that segment is in the repository."""
        self._tool().run("check", stanza=meta.instance_id, step="check", passfile=self._passfile(meta.instance_id))

    def stanza(self, instance_id: str) -> StanzaInfo | None:
        tool = self._tool()
        found = tool.info(check_instance_id(instance_id))
        if not found:
            return None
        return stanza_info(found[0], tool.stored_bytes(instance_id))

    def stanzas(self) -> Sequence[StanzaInfo]:
        tool = self._tool()
        found = tool.info()
        sizes = tool.stored_bytes() if found else {}
        return [stanza_info(raw, sizes) for raw in found]

    def discard_unused(self, instance_id: str) -> None:
        """Delete the stanza of ``instance_id`` if it holds no backup set (left by a failed create or
        restore; a new server of that id has another system id); a no-op when backups are off."""
        if not self.active or not self._tool().has_stanza_conf(check_instance_id(instance_id)):
            return  # every stanza this host makes has its configuration written first: nothing was made
        found = self._tool().info(instance_id)
        if found and not found[0].get("backup"):
            self.delete_stanza(instance_id)
        elif not found:
            self._tool().forget(instance_id)

    def delete_stanza(self, instance_id: str) -> None:
        """``stop`` + ``stanza-delete`` (the server must be gone), then what the host keeps of it."""
        tool = self._tool()
        check_instance_id(instance_id)
        data = self.layout.data(instance_id)
        if data.is_dir() and live_postmaster(data) is not None:
            raise EngineError("delete stanza", f"{instance_id} is still running; destroy its server first")
        if tool.info(instance_id):
            if not tool.has_stanza_conf(instance_id):  # stanza-delete wants the stanza's section
                tool.write_stanza(instance_id, data, 0)
            tool.run("stop", stanza=instance_id, step="delete stanza")
            tool.run("stanza-delete", stanza=instance_id, step="delete stanza")
        tool.forget(instance_id)
        log.info("stanza %s deleted", instance_id)

    # ------------------------------------------------------------------ backups

    def find(self, instance_id: str, backup_id: str) -> BackupSet | None:
        for raw in self._raw_sets(instance_id):
            if (raw.get("annotation") or {}).get(BACKUP_ID_ANNOTATION) == backup_id and not raw.get("error"):
                return backup_set(raw)
        return None

    def _raw_sets(self, instance_id: str) -> list[dict[str, Any]]:
        found = self._tool().info(instance_id)
        return list(found[0].get("backup") or ()) if found else []

    def backup(self, meta: ServerMeta, backup_id: str, backup_type: BackupType, kind: str) -> BackupSet:
        """A backup annotated with ``backup_id`` and ``kind``; an existing one is returned (re-run).

        A diff/incr with no full before it becomes a full (pgBackRest does so itself). A set left
        partial by a killed run is resumed by pgBackRest (same type, same prior) or discarded.
        """
        tool = self._tool()
        if kind not in KINDS:
            raise EngineError("backup", f"backup kind must be one of {sorted(KINDS)}, not {kind!r}")
        if not backup_id or len(backup_id) > 128 or not re.fullmatch(r"[A-Za-z0-9_.:-]+", backup_id):
            raise EngineError("backup", f"invalid backup id {backup_id!r}")
        tool.write_stanza(meta.instance_id, self.layout.data(meta.instance_id), meta.port)

        def attempt() -> BackupSet | None:
            # Looked for before every try: the stanza lock may be held by this very backup, still running
            # from a run of the job that was killed with the service (pgBackRest has its own session).
            existing = self.find(meta.instance_id, backup_id)
            if existing is not None:
                return existing
            try:
                tool.run(
                    "backup",
                    f"--type={backup_type.value}",
                    f"--annotation={BACKUP_ID_ANNOTATION}={backup_id}",
                    f"--annotation={KIND_ANNOTATION}={kind}",
                    stanza=meta.instance_id,
                    step="backup",
                    timeout=BACKUP_TIMEOUT,
                    passfile=self._passfile(meta.instance_id),
                    wait_for_lock=False,
                )
            except EngineError as exc:
                if LOCK_HELD in exc.output_tail:
                    return None
                raise
            made = self.find(meta.instance_id, backup_id)
            if made is None:
                raise EngineError("backup", f"backup of {meta.instance_id} finished but no set carries {backup_id}")
            return made

        try:
            made = wait_until(
                attempt,
                timeout=LOCK_WAIT,
                interval=LOCK_POLL,
                step="backup",
                what=f"the backup lock of {meta.instance_id} to be released",
            )
        except WaitTimeout as exc:
            raise EngineError("backup", exc.detail, transient=True) from None
        log.info("backup %s of %s: %s %s", backup_id, meta.instance_id, made.type, made.label)
        return made

    def expire_backup(self, instance_id: str, label: str) -> None:
        """``expire --set``: the set, its dependents, and the WAL only they needed; a missing label is done."""
        tool = self._tool()
        if not re.fullmatch(r"\d{8}-\d{6}F(_\d{8}-\d{6}[DI])?", label):
            raise EngineError("expire", f"invalid backup label {label!r}")
        if not any(raw.get("label") == label for raw in self._raw_sets(instance_id)):
            return
        tool.run("expire", f"--set={label}", stanza=check_instance_id(instance_id), step="expire")

    def fence(self, meta: ServerMeta) -> datetime:
        """Commit a transaction, wait until its WAL is archived, and return the latest target time that
        recovery reaches with every commit made before this call: the fence's commit time less 1 µs.

        PostgreSQL stops a time-targeted recovery *before* the first commit later than the target,
        and fails when WAL ends first; the archived fence commit is that later commit.
        """
        with self.sessions.open(meta, "fence") as conn:
            row = conn.execute("SELECT pg_catalog.txid_current(), pg_catalog.clock_timestamp()").fetchone()
            assert row is not None
            xid, before = int(row[0]), row[1]
            tracked = conn.execute("SELECT pg_catalog.current_setting('track_commit_timestamp')::bool").fetchone()
            committed = None
            if tracked and tracked[0]:
                found = conn.execute(
                    "SELECT pg_catalog.pg_xact_commit_timestamp((%s::bigint %% 4294967296)::text::xid)", (xid,)
                ).fetchone()
                committed = found[0] if found else None
        self.check(meta)
        # Without commit timestamps: a moment inside the fence's transaction, before its commit.
        moment: datetime = committed - timedelta(microseconds=1) if committed is not None else before
        return moment

    def archive_status(self, meta: ServerMeta) -> ArchiveStatus:
        """pg_stat_archiver of a running server against its current WAL segment."""
        self._tool()
        with self.sessions.open(meta, "archive status") as conn:
            row = conn.execute(
                "SELECT archived_count, last_archived_wal, last_archived_time, failed_count, last_failed_wal,"
                " last_failed_time, CASE WHEN pg_catalog.pg_is_in_recovery() THEN NULL"
                " ELSE pg_catalog.pg_walfile_name(pg_catalog.pg_current_wal_lsn()) END"
                " FROM pg_catalog.pg_stat_archiver"
            ).fetchone()
        assert row is not None
        current, last = segment_number(row[6]), segment_number(row[1])
        lag: int | None = None
        if current is not None and last is not None and current[0] == last[0]:
            lag = max(0, current[1] - last[1] - 1)  # the segment being written is not archivable yet
        elif current is not None and row[1] is None and int(row[0]) == 0:
            lag = None  # nothing archived yet: a fresh server before its first switch, or a broken archive
        return ArchiveStatus(
            instance_id=meta.instance_id,
            archived_count=int(row[0]),
            last_archived_wal=row[1],
            last_archived_at=row[2],
            failed_count=int(row[3]),
            last_failed_wal=row[4],
            last_failed_at=row[5],
            current_wal=row[6],
            lag_segments=lag,
        )

    # ------------------------------------------------------------------ restores

    def restore_data(
        self, source_id: str, data: Path, *, backup_label: str | None, target_time: datetime | None
    ) -> str:
        """``pgbackrest restore`` of ``source_id``'s stanza into the new, empty directory ``data``,
        ending promoted, with a spool directory of its own. Returns the ``restore_command`` line of its
        configuration (the driver rewrites the copied configuration, then adds it).

        :raises EngineError: the stanza has no set to restore (``[075]``: a target before the oldest
            set), the label is unknown, or the restore failed.
        """
        tool = self._tool()
        found = tool.info(check_instance_id(source_id))
        if not found:
            raise EngineError("restore", f"the repository holds nothing of {source_id}")
        base = None
        if target_time is not None:
            # pgBackRest 2.45 picks the newest set that stopped strictly before the target's whole
            # second, so a target in the second a set ended finds none ([075]). Its stop time is
            # recorded in whole seconds, at or before its true end: the newest set stopped by then is the
            # base, and a target before that set's consistent point fails in recovery (detected).
            sets = [backup_set(raw) for raw in found[0].get("backup") or () if not raw.get("error")]
            usable = [s for s in sets if s.finished_at <= target_time]
            base = max(usable, key=lambda s: (s.finished_at, s.label)).label if usable else None
        self.os_user.mkdir(data)
        spool = self._private_spool(data)
        options = restore_options(data, backup_label=backup_label, target_time=target_time, base_label=base)
        tool.run(
            "restore", *options, f"--spool-path={spool}", stanza=source_id, step="restore", timeout=RESTORE_TIMEOUT
        )
        return tool.restore_command(source_id, data, spool)

    def stop_restores(self, instance_id: str) -> list[int]:
        """Kill every ``pgbackrest`` still restoring into ``instance_id``'s data directory, with its
        process group (its workers), and wait until they are gone; the pids killed.

        Every command runs in its own session (`process.Runner`), so a restore outlives a ``kill -9`` of
        the service that started it and keeps writing into the directory. The job that resumes the
        clone wipes that directory and restores again: with the old restore still at work, the wipe
        fails (``Directory not empty``) or the new restore's files get mixed with the old one's. Found
        by argv (``--pg1-path=<data>``, which every restore of this module passes) in ``/proc``; works
        whether backups are on or not (a no-op on hosts without ``/proc``)."""
        target = f"--pg1-path={self.layout.data(check_instance_id(instance_id))}"
        groups: dict[int, int] = {}
        for pid, argv in _processes():
            if argv and os.path.basename(argv[0]) == "pgbackrest" and "restore" in argv and target in argv:
                with contextlib.suppress(ProcessLookupError):
                    groups[pid] = os.getpgid(pid)
        own = os.getpgrp()
        for pid, group in groups.items():
            log.warning("%s: killing a leftover pgbackrest restore (pid %d) into its directory", instance_id, pid)
            with contextlib.suppress(ProcessLookupError):
                # A group of its own (the Runner's new session), never the service's: else the process alone.
                if group != own:
                    os.killpg(group, signal.SIGKILL)
                else:
                    os.kill(pid, signal.SIGKILL)

        def gone() -> bool:
            return not any(_alive(pid) for pid in groups)

        if groups:
            wait_until(gone, timeout=30, interval=0.05, what=f"the leftover restores of {instance_id} to exit",
                       step="stop restores")
        return sorted(groups)

    def _private_spool(self, data: Path) -> Path:
        """A spool directory of the new server's own (beside its data). pgBackRest's spool is per
        stanza: a restore clears ``<spool>/archive/<source>``, where the running source queues its
        asynchronous pushes, and two restores of one source would share their archive-get queue."""
        return self.os_user.mkdir(data.parent / "restore-spool")

    def restore_standby(self, source_id: str, data: Path) -> str:
        """``restore --type=standby`` of ``source_id``'s newest set into ``data``; returns its
        ``restore_command`` line (WAL from the set's start until streaming takes over)."""
        tool = self._tool()
        self.os_user.mkdir(data)
        spool = self._private_spool(data)
        tool.run(
            "restore",
            f"--pg1-path={data}",
            "--type=standby",
            f"--spool-path={spool}",
            stanza=source_id,
            step="restore standby",
            timeout=RESTORE_TIMEOUT,
        )
        return tool.restore_command(source_id, data, spool)

    def append_line(self, path: Path, line: str) -> None:
        """Append a line to a configuration file (atomically)."""
        text = path.read_text(encoding="utf-8") if path.exists() else ""
        atomic_write(path, text + ("" if text.endswith("\n") or not text else "\n") + line, owner=self.os_user)

    def source_passfiles(self, source_id: str, target_dir: Path) -> None:
        """The passfiles of ``source_id`` (its server's, or the ones kept with its stanza if it is gone)
        into the restored server's directory: its roles have the source's passwords until `rotate`."""
        tool = self._tool()
        source_dir = self.layout.instance(source_id)
        for name in PASSFILES:
            live = source_dir / name
            kept = tool.kept_passfile(source_id, name)
            origin = live if live.exists() else kept
            if not origin.exists():
                raise EngineError("restore", f"no passfile of {source_id} is left to log into its restored copy")
            atomic_write(target_dir / name, origin.read_text(encoding="utf-8"), owner=self.os_user, mode=0o600)

    def rotate_internal_passwords(self, meta: ServerMeta) -> None:
        """New passwords for the service's superuser and replication role of a restored server (it must
        not share secrets with its source), then its passfiles; kept with its stanza too."""
        superuser_password, replication_password = new_password(), new_password()
        instance = self.layout.instance(meta.instance_id)
        with self.sessions.open(meta, "rotate passwords") as conn:
            for role, password in ((SUPERUSER, superuser_password), (REPLICATION_USER, replication_password)):
                verifier = sql.scram_verifier(conn, role, password)
                try:
                    conn.execute(
                        pgsql.SQL("ALTER ROLE {} PASSWORD {}").format(pgsql.Identifier(role), pgsql.Literal(verifier))
                    )
                except psycopg.Error as exc:
                    raise EngineError("rotate passwords", f"{role}: {exc}") from None
        write_passfile(instance / SUPERUSER_PASSFILE, SUPERUSER, superuser_password, self.os_user)
        write_passfile(instance / REPLICATION_PASSFILE, REPLICATION_USER, replication_password, self.os_user)
        self._tool().keep_passfiles(meta.instance_id, instance)

    def newest_set_age(self, instance_id: str, now: datetime) -> timedelta | None:
        """How long ago the newest set of the stanza finished (None: no set, or backups are off)."""
        if not self.active:
            return None
        sets = [backup_set(raw) for raw in self._raw_sets(instance_id) if not raw.get("error")]
        return min((now - s.finished_at for s in sets), default=None)

    def control_floor(self, data: Path, pg_controldata: str) -> dict[str, int]:
        """The settings recorded in a restored directory's pg_control that its server, replaying WAL
        as a hot standby until promoted, may not go below (the source's values)."""
        done = self.runner.run([pg_controldata, "-D", str(data)], step="restore", timeout=60)
        floor: dict[str, int] = {}
        for line in done.stdout.splitlines():
            name, _, value = line.partition(":")
            if name.strip() in _CONTROL_FLOOR and value.strip().isdigit():
                floor[_CONTROL_FLOOR[name.strip()]] = int(value.strip())
        return floor

    def seed_replicas(
        self, source: ServerMeta, replicas: Sequence[ServerMeta]
    ) -> tuple[dict[str, int], dict[str, str]]:
        """Replicas' data from ``source``'s newest set (`engine.driver.CopyMethod.REPOSITORY`): their
        slots on ``source`` first (it keeps every segment they will stream from then on), then a
        ``restore --type=standby`` each. Returns ``source``'s floor settings and each replica's
        ``restore_command`` line (the archive covers the set's start until the slot's)."""
        with self.sessions.open(source, "seed from repository") as conn:
            floor = sql.settings(conn, REPLICA_FLOOR_SETTINGS)
            for meta in replicas:
                sql.ensure_physical_slot(conn, slot_name(meta.instance_id))
        commands: dict[str, str] = {}

        def seed(meta: ServerMeta) -> None:
            commands[meta.instance_id] = self.restore_standby(source.instance_id, self.layout.data(meta.instance_id))

        parallel(seed, replicas)
        return floor, commands
