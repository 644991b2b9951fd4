"""The backup part of `tests.fakes.driver.FakeDriver` (`openrds.engine.backups.BackupDriver`), in memory.

It follows pgBackRest's model: one stanza per instance that outlives its server; sets labelled by
their start second (``YYYYMMDD-HHMMSSF``, a diff/incr's label after its full's) and annotated with the
control plane's backup id, so a job re-run finds the set it made; WAL archived a whole 16 MB segment
at a time - a `fence` or the end of a backup commits and switches to a new segment, so everything
committed before is archived. A restore to an instant replays the archived commits up to it and fails,
leaving nothing, when no set finished before it (``[075] no backup sets to restore``) or the archive
does not reach it ("recovery ended before the configured recovery target was reached"). A restored
server runs on the next timeline with a stanza of its own. Times come from the driver's clock.

Steering: `FakeBackups.break_archive` (``archive-push`` fails until mended).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from openrds.clock import Clock, SystemClock
from openrds.engine.backups import (
    ArchiveStatus,
    BackupSet,
    BackupsUnsupported,
    BackupType,
    RestoreRequest,
    StanzaInfo,
)
from openrds.engine.driver import EngineError, ServerInfo, ServerRole

if TYPE_CHECKING:
    from tests.fakes.driver import _Server

#: WAL segment size: archiving moves a whole segment at a time.
WAL_SEGMENT_BYTES = 16 * 1024 * 1024
#: What the repository keeps of what it is given (zstd on typical data: the reference measured 1 GB -> 43 MB).
STORED_RATIO = 20
#: The WAL a commit record (and a fence's) takes.
COMMIT_RECORD_BYTES = 0x100


@dataclass(frozen=True)
class Commit:
    at: datetime
    lsn: int  # the WAL position right after the commit
    data_bytes: int  # what the server held once it committed


@dataclass
class Stanza:
    """An instance's part of the repository: its sets, and its archived WAL (with the commits in it)."""

    instance_id: str
    timeline: int
    first_lsn: int  # where its archive starts
    archived_lsn: int  # everything before it is archived (a segment boundary, or a fence's switch)
    sets: list[BackupSet] = field(default_factory=list)  # oldest first
    set_points: dict[str, Commit] = field(default_factory=dict)  # label -> where the set is consistent
    commits: list[Commit] = field(default_factory=list)  # every commit made while archiving into it
    archived_count: int = 0
    last_archived_at: datetime | None = None
    failed_count: int = 0
    last_failed_at: datetime | None = None
    broken: bool = False  # archive-push fails (`FakeBackups.break_archive`)


def segment_name(timeline: int, lsn: int) -> str:
    """The name of the 16 MB WAL segment holding ``lsn`` (``pg_walfile_name``)."""
    return f"{timeline:08X}{lsn >> 32:08X}{(lsn & 0xFFFFFFFF) // WAL_SEGMENT_BYTES:08X}"


def _segment_lsn(name: str) -> int:
    return int(name[8:16], 16) * 0x100000000 + int(name[16:24], 16) * WAL_SEGMENT_BYTES


class FakeBackups:
    """Mixed into `FakeDriver`, whose servers, lock and helpers it uses (see the module docstring)."""

    # What FakeDriver provides.
    _lock: threading.RLock
    _servers: dict[str, _Server]

    def _call(self, method: str, subject: str) -> None: ...  # pragma: no cover - FakeDriver's
    def _running(self, instance_id: str, step: str) -> _Server: ...  # type: ignore[empty-body]
    def _allocate(self, requested: int | None) -> int: ...  # type: ignore[empty-body]
    def _info(self, server: _Server) -> ServerInfo: ...  # type: ignore[empty-body]
    def start(self, instance_id: str) -> ServerInfo: ...  # type: ignore[empty-body]

    def _init_backups(self, backups: bool, clock: Clock | None) -> None:
        self._backups = backups
        self._clock: Clock = clock or SystemClock()
        self._stanzas: dict[str, Stanza] = {}
        self._timelines: dict[str, int] = {}  # servers on a timeline after the first (restored ones)

    # ------------------------------------------------------------------ steering (not the contract)

    def break_archive(self, instance_id: str, broken: bool = True) -> None:
        """``archive-push`` of the instance fails (True) or works again (False): while broken nothing more
        is archived, every attempt counts as a failure, a fence or a backup fails."""
        with self._lock:
            self._stanza(instance_id, "break archive").broken = broken

    def _committed(self, server: _Server) -> datetime:
        """A client's commit on ``server`` (FakeDriver.write): recorded in its stanza, the segments it
        filled archived. Returns the commit's time."""
        commit = Commit(self._clock.now(), server.lsn, server.data_bytes)
        stanza = self._stanzas.get(server.instance_id)
        if stanza is not None and server.role is ServerRole.PRIMARY:
            stanza.commits.append(commit)
            self._archive(stanza, server.lsn - server.lsn % WAL_SEGMENT_BYTES)
        return commit.at

    # ------------------------------------------------------------------ the contract

    def backup_support(self) -> str | None:
        return None if self._backups else "backups are off (the fake driver was built without them)"

    def ensure_stanza(self, instance_id: str) -> None:
        """A stanza for a running primary, archiving from its current WAL position; no-op when it has one.

        :raises BackupsUnsupported: built with ``backups=False``.
        :raises ServerNotFound: no such server.
        :raises EngineError: a replica (it archives nothing); not running (transient).
        """
        with self._lock:
            self._call("ensure_stanza", instance_id)
            self._check_backups()
            server = self._running(instance_id, "stanza create")
            if server.role is not ServerRole.PRIMARY:
                raise EngineError("stanza create", f"{instance_id} is a replica: it archives nothing")
            if instance_id not in self._stanzas:
                start = server.lsn - server.lsn % WAL_SEGMENT_BYTES
                self._stanzas[instance_id] = Stanza(instance_id, self._timeline(instance_id), start, start)

    def backup(self, instance_id: str, backup_id: str, backup_type: BackupType, kind: str) -> BackupSet:
        """A set of the running primary, annotated; the set already annotated ``backup_id`` if there is one.
        A diff or incr with no full before it is taken as a full (as pgBackRest does).

        :raises EngineError: no stanza, a replica, archiving broken; not running (transient).
        """
        with self._lock:
            self._call("backup", instance_id)
            self._check_backups()
            stanza = self._stanza(instance_id, "backup")
            existing = next((b for b in stanza.sets if b.backup_id == backup_id), None)
            if existing is not None:
                return existing
            server = self._running(instance_id, "backup")
            if server.role is not ServerRole.PRIMARY:
                raise EngineError("backup", f"{instance_id} is a replica: backups are taken of its primary")
            started = self._clock.now()
            start_lsn = server.lsn
            point = self._switch(stanza, server, "backup")
            fulls = [b for b in stanza.sets if b.type is BackupType.FULL]
            prior: BackupSet | None = None
            if backup_type is not BackupType.FULL and fulls:
                prior = fulls[-1] if backup_type is BackupType.DIFF else stanza.sets[-1]
            else:
                backup_type = BackupType.FULL
            label = self._label(stanza, started, backup_type, fulls[-1] if prior is not None else None)
            changed = server.data_bytes - (stanza.set_points[prior.label].data_bytes if prior else 0)
            made = BackupSet(
                label=label, backup_id=backup_id, type=backup_type, prior=prior.label if prior else None,
                started_at=started, finished_at=point.at, database_bytes=server.data_bytes,
                stored_bytes=max(changed, WAL_SEGMENT_BYTES) // STORED_RATIO,
                wal_start=segment_name(stanza.timeline, start_lsn),
                wal_stop=segment_name(stanza.timeline, point.lsn),
                annotations={"openrds-backup-id": backup_id, "kind": kind},
            )
            stanza.sets.append(made)
            stanza.set_points[label] = point
            return made

    def fence(self, instance_id: str) -> datetime:
        """A commit on the running primary, then a WAL switch that archives it; returns its time.

        :raises EngineError: no stanza, archiving broken; not running (transient).
        """
        with self._lock:
            self._call("fence", instance_id)
            self._check_backups()
            stanza = self._stanza(instance_id, "fence")
            server = self._running(instance_id, "fence")
            return self._switch(stanza, server, "fence").at

    def stanza(self, instance_id: str) -> StanzaInfo | None:
        with self._lock:
            self._check_backups()
            stanza = self._stanzas.get(instance_id)
            return self._stanza_info(stanza) if stanza is not None else None

    def stanzas(self) -> Sequence[StanzaInfo]:
        with self._lock:
            self._check_backups()
            return [self._stanza_info(s) for _, s in sorted(self._stanzas.items())]

    def expire_backup(self, instance_id: str, label: str) -> None:
        """The set and its dependents gone; a missing label (or stanza) is done.

        :raises EngineError: the only full of an instance whose server exists (pgBackRest's ``[075] ...
            cannot be expired until another full backup has been created``).
        """
        with self._lock:
            self._call("expire_backup", instance_id)
            self._check_backups()
            stanza = self._stanzas.get(instance_id)
            target = next((b for b in stanza.sets if b.label == label), None) if stanza is not None else None
            if stanza is None or target is None:
                return
            fulls = [b for b in stanza.sets if b.type is BackupType.FULL]
            if target.type is BackupType.FULL and len(fulls) == 1 and instance_id in self._servers:
                raise EngineError("expire", f"[075] full backup {label} cannot be expired until another full "
                                            "backup has been created on this repo")
            going = {label}
            for known in stanza.sets:  # oldest first: a dependent comes after what it depends on
                if known.prior in going:
                    going.add(known.label)
            stanza.sets = [b for b in stanza.sets if b.label not in going]
            for gone in going:
                stanza.set_points.pop(gone, None)

    def archive_status(self, instance_id: str) -> ArchiveStatus:
        """:raises ServerNotFound:, EngineError (no stanza; not running: transient)."""
        with self._lock:
            self._check_backups()
            server = self._running(instance_id, "archive status")
            stanza = self._stanza(instance_id, "archive status")
            current = server.lsn // WAL_SEGMENT_BYTES
            archived = stanza.archived_lsn // WAL_SEGMENT_BYTES
            return ArchiveStatus(
                instance_id=instance_id, archived_count=stanza.archived_count,
                last_archived_wal=segment_name(stanza.timeline, stanza.archived_lsn - 1)
                if stanza.archived_count else None,
                last_archived_at=stanza.last_archived_at, failed_count=stanza.failed_count,
                last_failed_wal=segment_name(stanza.timeline, stanza.archived_lsn) if stanza.failed_count else None,
                last_failed_at=stanza.last_failed_at, current_wal=segment_name(stanza.timeline, server.lsn),
                lag_segments=max(0, current - archived),
            )

    def restore(self, request: RestoreRequest) -> ServerInfo:
        """A new running primary from the source's stanza (the source's server may be gone), on the next
        timeline with a stanza of its own; a primary of that id restored before is only started.

        :raises EngineError: not exactly one of set and instant; no such stanza or set; an instant before
            every set or after the last archived commit; the port taken. Nothing is left behind.
        """
        from tests.fakes.driver import _check_id, _Server

        with self._lock:
            self._call("restore", request.instance_id)
            self._check_backups()
            instance_id = _check_id(request.instance_id)
            existing = self._servers.get(instance_id)
            if existing is not None:
                if existing.role is not ServerRole.PRIMARY:
                    raise EngineError("restore", f"{instance_id} exists and is a {existing.role}")
                return self.start(instance_id)
            if (request.backup_label is None) == (request.target_time is None):
                raise EngineError("restore", "exactly one of a backup set and a target time is needed")
            source = self._stanzas.get(request.source_id)
            if source is None:
                raise EngineError("restore", f"the repository holds nothing of {request.source_id}")
            point = self._restore_point(source, request)
            server = _Server(instance_id, ServerRole.PRIMARY, None, request.major_version,
                             self._allocate(request.port), request.spec, None, lsn=point.lsn,
                             data_bytes=point.data_bytes)
            self._servers[instance_id] = server
            self._timelines[instance_id] = source.timeline + 1
            start = server.lsn - server.lsn % WAL_SEGMENT_BYTES
            self._stanzas.setdefault(instance_id, Stanza(instance_id, source.timeline + 1, start, start))
            return self._info(server)

    def delete_stanza(self, instance_id: str) -> None:
        """Gone from the repository; no-op when it is not there.

        :raises EngineError: the instance's server still exists (a stanza is deleted after its server).
        """
        with self._lock:
            self._call("delete_stanza", instance_id)
            self._check_backups()
            if instance_id in self._servers:
                raise EngineError("stanza delete", f"{instance_id} still has a server: destroy it first")
            self._stanzas.pop(instance_id, None)

    # ------------------------------------------------------------------ helpers

    def _check_backups(self) -> None:
        if not self._backups:
            raise BackupsUnsupported(self.backup_support() or "")

    def _timeline(self, instance_id: str) -> int:
        return self._timelines.get(instance_id, 1)

    def _stanza(self, instance_id: str, step: str) -> Stanza:
        stanza = self._stanzas.get(instance_id)
        if stanza is None:
            raise EngineError(step, f"{instance_id} has no stanza in the repository")
        return stanza

    def _archive(self, stanza: Stanza, upto: int) -> None:
        """archive-push of every segment before ``upto``: counted as archived, or as failed while broken."""
        if upto <= stanza.archived_lsn:
            return
        now = self._clock.now()
        if stanza.broken:
            stanza.failed_count += 1
            stanza.last_failed_at = now
            return
        stanza.archived_count += (upto - stanza.archived_lsn + WAL_SEGMENT_BYTES - 1) // WAL_SEGMENT_BYTES
        stanza.archived_lsn = upto
        stanza.last_archived_at = now

    def _switch(self, stanza: Stanza, server: _Server, step: str) -> Commit:
        """A commit, then a switch to the next segment, archived (``check``): what a fence and the end of a
        backup do. :raises EngineError: archiving is broken (the archive never receives the segment)."""
        if stanza.broken:
            self._archive(stanza, stanza.archived_lsn + WAL_SEGMENT_BYTES)
            raise EngineError(step, f"WAL of {server.instance_id} is not being archived: archive-push fails")
        server.lsn += COMMIT_RECORD_BYTES
        commit = Commit(self._clock.now(), server.lsn, server.data_bytes)
        stanza.commits.append(commit)
        server.lsn += WAL_SEGMENT_BYTES - server.lsn % WAL_SEGMENT_BYTES  # pg_switch_wal
        self._archive(stanza, server.lsn)
        return commit

    @staticmethod
    def _label(stanza: Stanza, started: datetime, backup_type: BackupType, full: BackupSet | None) -> str:
        """The full's start ``YYYYMMDD-HHMMSSF``, a diff/incr's own start after it (``_..D``/``_..I``);
        a second later while that label is taken (pgBackRest makes at most one set a second)."""
        taken = {b.label for b in stanza.sets}
        at = started
        while True:
            own = at.strftime("%Y%m%d-%H%M%S") + backup_type.value[0].upper()
            label = own if full is None else f"{full.label}_{own}"
            if label not in taken:
                return label
            at += timedelta(seconds=1)

    @staticmethod
    def _restore_point(source: Stanza, request: RestoreRequest) -> Commit:
        if request.backup_label is not None:
            point = source.set_points.get(request.backup_label)
            if point is None:
                raise EngineError("restore", f"backup set {request.backup_label} does not exist")
            return point
        target = request.target_time
        assert target is not None
        usable = [source.set_points[b.label] for b in source.sets if b.finished_at <= target]
        if not usable:
            raise EngineError("restore", "[075] no backup sets to restore")
        archived = [c for c in source.commits if c.lsn <= source.archived_lsn]
        if not archived or archived[-1].at < target:
            raise EngineError("restore", "recovery ended before the configured recovery target was reached")
        reached = [c for c in archived if c.at <= target]
        return max([usable[-1], *reached], key=lambda c: c.lsn)

    @staticmethod
    def _stanza_info(stanza: Stanza) -> StanzaInfo:
        archived = stanza.archived_lsn > stanza.first_lsn
        wal_min_lsn = stanza.first_lsn
        if stanza.sets:
            wal_min_lsn = max(wal_min_lsn, _segment_lsn(stanza.sets[0].wal_start))
        wal_bytes = max(0, stanza.archived_lsn - wal_min_lsn) // STORED_RATIO
        return StanzaInfo(
            instance_id=stanza.instance_id, backups=tuple(stanza.sets),
            wal_min=segment_name(stanza.timeline, wal_min_lsn) if archived else None,
            wal_max=segment_name(stanza.timeline, stanza.archived_lsn - 1) if archived else None,
            wal_stored_bytes=wal_bytes, stored_bytes=wal_bytes + sum(b.stored_bytes for b in stanza.sets),
        )


__all__ = ["FakeBackups", "segment_name"]
