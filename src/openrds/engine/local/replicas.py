"""Replicas of a running source: their slots, the copy of the source's files, their standby settings.

Per source, in one go for every replica of a batch: a physical slot per replica on the source (made
before the copy, so the source keeps every WAL segment each replica will ask for); then one copy of
the source shared by all of them - a reflink clone of its files inside one ``pg_backup_start`` /
``pg_backup_stop`` window (`CopyMethod.CLONE`, where the data root's filesystem supports reflink), or
one ``pg_basebackup -X stream -c fast`` copied locally for the others (`CopyMethod.BASEBACKUP`); then
each replica's ``standby.signal`` and ``primary_conninfo`` (``application_name`` = its id, which maps
pg_stat_replication rows to replicas). Configuring and starting the servers is the driver's
(`engine.local.driver`), as for any server.

A slot outlives its replica when the replica is destroyed or promoted while its source is down;
`ReplicaBuilder.drop_orphan_slots` removes such slots once the source is back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import psycopg

from openrds.engine.driver import CopyMethod, EngineError, ReplicaRequest, SourceUnavailable
from openrds.engine.local import sql
from openrds.engine.local.commands import PgPrograms
from openrds.engine.local.config import REPLICA_FLOOR_SETTINGS
from openrds.engine.local.copy import clone_data_dir, copy_backup
from openrds.engine.local.files import REPLICATION_USER, STANDBY_CONF, atomic_write, conninfo, render_standby_conf
from openrds.engine.local.layout import Layout, ServerMeta, check_instance_id, slot_name
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.postmaster import live_postmaster
from openrds.engine.local.process import Runner
from openrds.engine.local.secrets import REPLICATION_PASSFILE
from openrds.engine.wait import wait_until

log = logging.getLogger(__name__)
T = TypeVar("T")


class ReplicaBuilder:
    """Makes replicas' data directories from running sources of one data root, and drops slots no
    replica needs any more.

    :param programs: the PostgreSQL programs of a major version (pg_basebackup).
    :param connect_host: where this host reaches a server over TCP (replication connections).
    """

    STREAM_TIMEOUT = 120.0  # a started replica connects and streams within this
    DROP_SLOT_TIMEOUT = 60.0  # the WAL sender holding a slot exits within this once terminated
    POLL = 0.05

    def __init__(
        self,
        layout: Layout,
        os_user: OsUser,
        runner: Runner,
        sessions: sql.Sessions,
        programs: Callable[[int], PgPrograms],
        connect_host: str,
    ) -> None:
        self.layout = layout
        self.os_user = os_user
        self.runner = runner
        self.sessions = sessions
        self.programs = programs
        self.connect_host = connect_host

    def running_source(self, source_id: str, batch: dict[str, ServerMeta]) -> ServerMeta:
        """The meta of ``source_id`` (complete, or made earlier in this ``batch``) if it is running.

        :raises SourceUnavailable: it does not exist or is not running (transient).
        """
        meta = batch.get(source_id) or self.layout.read_meta(check_instance_id(source_id))
        if meta is None or not (meta.complete or source_id in batch):
            raise SourceUnavailable("source", f"source {source_id} does not exist")
        live = live_postmaster(self.layout.data(source_id))
        if live is None or not live.accepting:
            raise SourceUnavailable("source", f"source {source_id} is not running", transient=True)
        return meta

    def copy(self, source: ServerMeta, replicas: Sequence[ServerMeta]) -> dict[str, int]:
        """A slot per replica on ``source``, then one copy of ``source`` into every replica's (new) data
        directory, by the copy method recorded in the replicas' metas. Returns the source's settings a
        standby may not go below (`config.REPLICA_FLOOR_SETTINGS`), for their configuration."""
        source_data = self.layout.data(source.instance_id)
        method = replicas[0].copy_method
        with self.sessions.open(source, "copy source") as conn:
            floor = sql.settings(conn, REPLICA_FLOOR_SETTINGS)
            for meta in replicas:
                sql.ensure_physical_slot(conn, slot_name(meta.instance_id))
            if method is CopyMethod.CLONE:
                label = f"openrds clone of {source.instance_id} for {','.join(m.instance_id for m in replicas)}"
                sql.backup_start(conn, label[:1000], source.major_version)
                parallel(lambda m: clone_data_dir(self.runner, source_data, self.layout.data(m.instance_id)), replicas)
                labelfile, spcmapfile = sql.backup_stop(conn, source.major_version)
                for meta in replicas:
                    data = self.layout.data(meta.instance_id)
                    atomic_write(data / "backup_label", labelfile, owner=self.os_user)
                    if spcmapfile.strip():
                        atomic_write(data / "tablespace_map", spcmapfile, owner=self.os_user)
        if method is CopyMethod.BASEBACKUP:
            first = replicas[0]
            self.programs(source.major_version).basebackup(
                self.layout.data(first.instance_id),
                host=self.connect_host,
                port=source.port,
                user=REPLICATION_USER,
                slot=slot_name(first.instance_id),
                passfile=self.layout.instance(source.instance_id) / REPLICATION_PASSFILE,
                label=f"openrds replica {first.instance_id}",
            )
            first_data = self.layout.data(first.instance_id)
            parallel(lambda m: copy_backup(self.runner, first_data, self.layout.data(m.instance_id)), replicas[1:])
        return floor

    def write_standby_config(self, meta: ServerMeta, source: ServerMeta) -> None:
        """``standby.signal``, and ``primary_conninfo`` / ``primary_slot_name`` pointing at ``source``."""
        primary_conninfo = conninfo(
            {
                "host": self.connect_host,
                "port": source.port,
                "user": REPLICATION_USER,
                "passfile": str(self.layout.instance(meta.instance_id) / REPLICATION_PASSFILE),
                "application_name": meta.instance_id,  # maps pg_stat_replication rows to instances
            }
        )
        data = self.layout.data(meta.instance_id)
        atomic_write(
            data / STANDBY_CONF, render_standby_conf(primary_conninfo, slot_name(meta.instance_id)), owner=self.os_user
        )
        atomic_write(data / "standby.signal", "", owner=self.os_user)

    def await_streaming(self, source: ServerMeta, replicas: Sequence[ServerMeta]) -> None:
        """Wait until every replica is in recovery and ``source`` streams to each of them.

        :raises EngineError: one is not a standby, or they do not all stream within `STREAM_TIMEOUT`.
        """
        names = {m.instance_id for m in replicas}
        for meta in replicas:
            with self.sessions.open(meta, "await streaming") as conn:
                if not sql.in_recovery(conn):
                    raise EngineError("await streaming", f"{meta.instance_id} is not in recovery (not a standby)")
        with self.sessions.open(source, "await streaming") as conn:
            wait_until(
                lambda: sql.streaming_to(conn, names) == names,
                timeout=self.STREAM_TIMEOUT,
                interval=self.POLL,
                what=f"{', '.join(sorted(names))} streaming from {source.instance_id}",
                step="await streaming",
            )

    def drop_slot(self, source_id: str, slot: str) -> bool:
        """Drop ``slot`` on ``source_id`` if that server is running (ending the WAL sender that holds it).
        True if the slot is gone; False, with a warning, when it is left for `drop_orphan_slots`."""
        try:
            source = self.layout.read_meta(source_id)
        except EngineError:
            return False
        if source is None or live_postmaster(self.layout.data(source_id)) is None:
            log.warning("slot %s left on %s (not running): reconciled when it is back", slot, source_id)
            return False
        try:
            with self.sessions.open(source, "drop slot") as conn:
                wait_until(
                    lambda: sql.drop_slot(conn, slot) or slot not in sql.slot_names(conn),
                    timeout=self.DROP_SLOT_TIMEOUT,
                    interval=self.POLL,
                    what=f"slot {slot} on {source_id} to be dropped",
                    step="drop slot",
                    retry_on=(psycopg.errors.ObjectInUse,),
                )
        except (psycopg.Error, EngineError) as exc:
            log.warning("could not drop slot %s on %s: %s", slot, source_id, exc)
            return False
        return True

    def drop_orphan_slots(self, source: ServerMeta, replica_ids: Collection[str]) -> list[str]:
        """Drop every permanent physical slot on ``source`` but those of ``replica_ids``; returns the names
        found orphaned (a drop that fails is logged and tried again by the next call). Temporary slots
        (a ``pg_basebackup`` under way) are their sessions' own.

        :raises EngineError: ``source`` is not reachable (transient).
        """
        wanted = {slot_name(replica_id) for replica_id in replica_ids}
        with self.sessions.open(source, "reconcile slots") as conn:
            orphans = sorted(sql.replica_slot_names(conn) - wanted)
        for orphan in orphans:
            self.drop_slot(source.instance_id, orphan)
        return orphans


def dependency_rounds(requests: list[ReplicaRequest]) -> list[list[ReplicaRequest]]:
    """Split ``requests`` into rounds so that a replica of a replica of the batch comes after it."""
    pending = list(requests)
    rounds: list[list[ReplicaRequest]] = []
    while pending:
        ids = {r.instance_id for r in pending}
        ready = [r for r in pending if r.source_id not in ids]
        if not ready:
            raise EngineError("validate", "the batch has a replication cycle")
        rounds.append(ready)
        pending = [r for r in pending if r.source_id in ids]
    return rounds or [[]]


def parallel(fn: Callable[[T], None], items: Sequence[T]) -> None:
    """Run ``fn`` on every item (in threads when several), wait for all, re-raise the first error."""
    if len(items) <= 1:
        for item in items:
            fn(item)
        return
    with ThreadPoolExecutor(max_workers=min(len(items), 8), thread_name_prefix="openrds-engine") as pool:
        futures = [pool.submit(fn, item) for item in items]
    for future in futures:
        error = future.exception()
        if error is not None:
            raise error
