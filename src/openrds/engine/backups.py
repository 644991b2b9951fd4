"""The backup part of the engine contract: WAL archiving, base backups, and servers restored from them.

A driver keeps one backup *stanza* per instance (the stanza's name is the instance id) in the
host's repository. A primary archives its WAL there from the moment it is created; a promoted
replica starts its own stanza. The stanza outlives its server: :meth:`BackupDriver.destroy` of a
server keeps it, so a destroyed instance can still be restored until :meth:`delete_stanza`.

Every mutating method is idempotent like the rest of :mod:`openrds.engine.driver`: a backup is
found again by its ``backup_id`` (an annotation on the set), a restore into a directory that
already holds a finished restore goes on from there. Failures are
:class:`openrds.engine.driver.EngineError`; a driver that cannot back up at all raises
:class:`BackupsUnsupported` from every method here, never does nothing silently.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:  # engine.driver's Driver includes this part and imports this module (see the end)
    from openrds.engine.driver import ServerInfo, ServerSpec


class BackupType(enum.StrEnum):
    FULL = "full"
    DIFF = "diff"  # the files changed since the last full
    INCR = "incr"  # the files changed since the last backup of any type


@dataclass(frozen=True, slots=True)
class BackupSet:
    """One backup set of a stanza, as the repository describes it (times are aware, UTC)."""

    label: str  # the repository's own name for it (pgBackRest: 20261206-230007F[_20261206-230020D])
    backup_id: str | None  # the control plane's id, carried as an annotation; None for sets it did not ask for
    type: BackupType
    prior: str | None  # the label a diff/incr depends on
    started_at: datetime
    # pgBackRest records whole seconds, at or before the set's true end: a restore to a time is sure
    # to find this set as its base from finished_at + 1 s on (the recovery window's start).
    finished_at: datetime
    database_bytes: int  # the size of the database it captures
    stored_bytes: int  # what it takes in the repository (compressed), its own files only
    wal_start: str  # first WAL segment it needs
    wal_stop: str  # last WAL segment it needs (the set is consistent once that is replayed)
    annotations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StanzaInfo:
    """What the repository holds for one instance."""

    instance_id: str
    backups: tuple[BackupSet, ...]  # oldest first
    wal_min: str | None  # oldest archived WAL segment kept
    wal_max: str | None  # newest archived WAL segment
    wal_stored_bytes: int  # archived WAL, as stored
    stored_bytes: int  # everything of this stanza in the repository (backups + WAL)


@dataclass(frozen=True, slots=True)
class ArchiveStatus:
    """A running primary's archiver (``pg_stat_archiver``) against its current WAL."""

    instance_id: str
    archived_count: int
    last_archived_wal: str | None
    last_archived_at: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_at: datetime | None
    current_wal: str | None  # pg_walfile_name(pg_current_wal_lsn())
    lag_segments: int | None  # segments written but not yet archived (None: cannot tell)


@dataclass(frozen=True, slots=True)
class RestoreRequest:
    """A new server made from another instance's stanza (the source may be gone).

    Exactly one of ``backup_label`` (restore that set and stop at its end) and ``target_time``
    (replay WAL up to that instant, then promote) is given. The new server gets its own port,
    ``cluster_name``, ``archive_command`` and stanza before its first start, so that it never
    archives into its source's stanza.
    """

    instance_id: str
    source_id: str
    major_version: int
    spec: ServerSpec
    backup_label: str | None = None
    target_time: datetime | None = None
    port: int | None = None


class BackupDriver(Protocol):
    """Backups of the servers a driver runs (see the module docstring)."""

    def backup_support(self) -> str | None:
        """None when backups work here; otherwise why not (then every method raises BackupsUnsupported)."""
        ...

    def ensure_stanza(self, instance_id: str) -> None:
        """The instance's stanza exists and its archiving works (a primary; idempotent)."""
        ...

    def backup(self, instance_id: str, backup_id: str, backup_type: BackupType, kind: str) -> BackupSet:
        """Take a backup of a running primary, annotated with ``backup_id`` and ``kind``
        (``manual``/``auto``). If a set annotated with ``backup_id`` exists already, return it (a job
        re-run after a crash); a partial set left by a killed run is resumed or discarded."""
        ...

    def fence(self, instance_id: str) -> datetime:
        """Make every commit of a running primary so far restorable (commit, then wait for its WAL to
        be archived) and return the recovery window's end: the latest target time a restore reaches
        with every commit made before this call (local driver: the fence's commit time less 1 µs, as
        PostgreSQL stops before the first commit later than the target and fails if WAL ends first)."""
        ...

    def stanza(self, instance_id: str) -> StanzaInfo | None:
        """What the repository holds for the instance (also after its server is destroyed); None if nothing."""
        ...

    def stanzas(self) -> Sequence[StanzaInfo]:
        """Every stanza of the repository (one listing call)."""
        ...

    def expire_backup(self, instance_id: str, label: str) -> None:
        """Remove one set, the diffs/incrs that depend on it and the WAL only it needed; a missing label is done."""
        ...

    def archive_status(self, instance_id: str) -> ArchiveStatus:
        """The archiver of a running primary."""
        ...

    def restore(self, request: RestoreRequest) -> ServerInfo:
        """Create and start a new primary from the repository (see :class:`RestoreRequest`). Fails,
        leaving nothing behind, when the target cannot be reached (after the last archived commit,
        before the oldest set)."""
        ...

    def delete_stanza(self, instance_id: str) -> None:
        """Remove everything the repository holds for an instance whose server is gone (idempotent)."""
        ...


class BackupExport(Protocol):
    """Optional: a driver that can hand a backup set out as one file (``DescribeBackupDownloadURL``).

    Not part of :class:`BackupDriver`: a driver without it is asked nothing, and the API refuses to give
    out download links (the faces look for the method by name, they do not import the engine).
    """

    def export_backup(self, instance_id: str, label: str) -> Iterator[bytes]:
        """The set ``label`` of the instance's stanza (also after its server is destroyed) as an
        uncompressed tar of the data directory it restores - what ``pgbackrest restore --set=<label>``
        writes, with ``backup_label`` and the WAL the set needs to be consistent (``pg_wal/``), so that
        ``tar -x`` and ``pg_ctl start`` give the database as of the set's end, with no repository at
        hand. Yields chunks (about 1 MiB) as they are produced, never the whole set in memory; a
        temporary directory it needs is removed when the iterator is exhausted or closed. Raises
        :class:`openrds.engine.driver.EngineError` for a label the stanza does not have (before the
        first chunk). Reads only: the repository is unchanged."""
        ...


# The error builds on engine.driver's, which imports this module for its Driver: imported last, once
# everything engine.driver needs from here exists, whichever of the two modules is imported first.
from openrds.engine.driver import EngineError  # noqa: E402


class BackupsUnsupported(EngineError):
    """This driver (or this host's configuration) cannot take or restore backups."""

    def __init__(self, reason: str) -> None:
        super().__init__("backup", reason)
