"""`LocalDriver`: PostgreSQL servers on this host, one directory per instance under a data root.

Servers are daemonised with ``pg_ctl`` (their own session), so they outlive the service; a new
driver over the same data root finds them again from their meta files and ``postmaster.pid``
(`servers`). Every mutating method is written as "make actual match desired" and is safe to call
again after a crash part-way: a directory whose meta says ``pending`` is wiped and redone, a
complete one is only brought to the wanted state.

This module is the contract (`engine.driver.Driver`) method by method, and the lifecycle of a
server: reserve, create, start, stop, destroy. Its parts: `commands` builds the command line of
every PostgreSQL program, `sql.Sessions` opens every session (a server that is down becomes a
transient `EngineError` there), `replicas` copies sources and keeps their slots, `haproxy` runs the
read-only group endpoints (the `EndpointDriver` half of the contract, taken as it is).

Concurrency: methods may be called from several threads (or processes) for *different*
instances; port allocation is serialised by a lock file. The job layer serialises operations on one
instance.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import threading
import time
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn

import psycopg

from openrds.engine.backups import ArchiveStatus, BackupSet, BackupType, RestoreRequest, StanzaInfo
from openrds.engine.driver import (
    CopyMethod,
    EngineError,
    InstalledVersion,
    PrimaryRequest,
    ReplicaLink,
    ReplicaRequest,
    Replication,
    ServerInfo,
    ServerNotFound,
    ServerRole,
    ServerSpec,
    ServerState,
    ServerStats,
    SlotInfo,
)
from openrds.engine.local import resize, sql
from openrds.engine.local.access import LocalAccess
from openrds.engine.local.accounts import LocalAccounts
from openrds.engine.local.backup_export import export_set
from openrds.engine.local.backups import (
    RECOVERY_TIMEOUT,
    REPOSITORY_SEED_MAX_AGE,
    REPOSITORY_SEED_MIN_BYTES,
    LocalBackups,
    ReplicaSeed,
    restore_failure,
)
from openrds.engine.local.binaries import Binaries, find_versions
from openrds.engine.local.commands import START_TIMEOUT, PgPrograms
from openrds.engine.local.config import server_settings
from openrds.engine.local.copy import supports_reflink
from openrds.engine.local.files import (
    REPLICATION_USER,
    STANDBY_CONF,
    SUPERUSER,
    atomic_write,
    read_only_in,
    render_postgresql_conf,
    strip_standby_settings,
)
from openrds.engine.local.haproxy import HaproxyEndpoints
from openrds.engine.local.layout import Layout, ServerMeta, check_instance_id, slot_name
from openrds.engine.local.osuser import OsUser
from openrds.engine.local.parameters import LocalParameters
from openrds.engine.local.pgbackrest import PgBackRest, Repository, find_pgbackrest
from openrds.engine.local.ports import PortAllocator, connect_host
from openrds.engine.local.postmaster import is_alive, kill, live_postmaster, processes_in, read_pidfile
from openrds.engine.local.process import Masker, Runner, tail
from openrds.engine.local.replicas import ReplicaBuilder, dependency_rounds, parallel
from openrds.engine.local.secrets import (
    REPLICATION_PASSFILE,
    SUPERUSER_PASSFILE,
    copy_passfiles,
    new_password,
    temporary_pwfile,
    write_passfile,
)
from openrds.engine.resize import Resized
from openrds.engine.wait import wait_until

log = logging.getLogger(__name__)

# Roles the tenant's admin is given instead of superuser (see DESIGN.md, "Decisions"). Not
# pg_read_all_data / pg_write_all_data: it reaches its accounts' data by membership of each account
# (`sql.let_admin_reach`), never `pg_authid` (docs/trust-model.md).
ADMIN_ROLES = ("pg_monitor", "pg_signal_backend", "pg_checkpoint")
# From 16 on, CREATEROLE needs ADMIN OPTION on a role to grant it (see `LocalDriver`).
SAFE_CREATEROLE_MAJOR = 16
RESERVED_ROLES = frozenset({SUPERUSER, REPLICATION_USER, "postgres", "public"})


class LocalDriver:
    """Runs PostgreSQL servers on this host (see the module docstring and `engine.driver.Driver`).

    :param data_root: directory holding everything (created if missing). Keep it short: unix
        sockets live in ``<data_root>/run`` and a socket path may not exceed 107 bytes.
    :param bind_host: address servers listen on (``listen_addresses``).
    :param port_range: inclusive range ports are allocated from.
    :param os_user: account servers run as; None means ``postgres`` when the service runs as root
        (PostgreSQL refuses root), else the current user.
    :param advertise_host: host reported in `ServerInfo.host`; default: ``bind_host``, or loopback
        when ``bind_host`` is a wildcard.
    :param admin_createrole: whether the tenant's admin gets CREATEROLE. None (default): only on
        PostgreSQL 16 and later. Up to 15 a CREATEROLE role may grant itself any non-superuser role,
        ``pg_execute_server_program`` and ``pg_read_server_files`` included, i.e. run programs and
        read files as the servers' OS user (every tenant's data on this host) -- exactly what not
        making the admin a superuser is meant to prevent. 16 requires ADMIN OPTION for that.
    :param haproxy: the HAProxy binary read-only group endpoints run with; None: searched for
        (`engine.local.haproxy.find_haproxy`). Endpoints take their ports from ``port_range`` too.
    :param max_slot_wal_keep_mb: ``max_slot_wal_keep_size`` of every server it configures, in MB (-1:
        unlimited); None: from each server's storage quota (`engine.local.config.slot_wal_keep_mb`).
    :param backup_repository: the pgBackRest repository every primary archives into from birth and is
        backed up to (`engine.local.backups`); None: no backups (`backup_support` says so), no archiving.
    :param replica_seed: how a replica's data is made when reflink is not available: ``basebackup``
        (streamed from its source), ``repository`` (``restore --type=standby`` whenever its source has
        a backup set), ``auto`` (`LocalDriver._replica_copy_method`).
    :raises EngineError: the OS user is unusable, the port range is invalid, or the socket path
        would be too long.
    """

    LINGER_TIMEOUT = 15.0  # children of a killed postmaster exit once they notice its death
    REAP_TIMEOUT = 2.0  # a killed postmaster is a zombie until init reaps it
    POLL = 0.05
    #: A server's log (its stderr, ``server.log``) is cut past this size; one previous part is kept.
    LOG_MAX_BYTES = 16 * 1024 * 1024

    def __init__(
        self,
        data_root: Path,
        *,
        bind_host: str = "127.0.0.1",
        port_range: tuple[int, int] = (15432, 16431),
        os_user: str | None = None,
        advertise_host: str | None = None,
        admin_createrole: bool | None = None,
        haproxy: str | None = None,
        max_slot_wal_keep_mb: int | None = None,
        backup_repository: Repository | None = None,
        replica_seed: ReplicaSeed = "auto",
    ) -> None:
        self.data_root = Path(data_root).absolute()
        self.bind_host = bind_host
        self.os_user = OsUser.resolve(os_user)
        self.masker = Masker()
        self.runner = Runner(self.os_user, self.masker)
        self.layout = Layout(self.data_root)
        self.layout.check_socket_dir(port_range[1])
        self.ports = PortAllocator(self.layout.ports_lock, port_range, bind_host)
        self.connect_host = connect_host(bind_host)
        self.advertise_host = advertise_host or self.connect_host
        self.admin_createrole = admin_createrole
        self.max_slot_wal_keep_mb = max_slot_wal_keep_mb
        self._versions: list[InstalledVersion] | None = None
        self._reflink: bool | None = None
        self._reflink_lock = threading.Lock()
        self._prepare_root()
        self.sessions = sql.Sessions(self.layout, self.masker)
        self.replica_seed = replica_seed
        self.backups = self._make_backups(backup_repository)
        self.replicas = ReplicaBuilder(
            self.layout, self.os_user, self.runner, self.sessions, self._programs, self.connect_host
        )
        endpoints = HaproxyEndpoints(
            self.data_root,
            self.layout.run,
            ports=self.ports,
            instance_ports=lambda: {m.port for m in self.layout.all_meta()},
            address_of=self._address_of,
            bind_host=bind_host,
            advertise_host=self.advertise_host,
            runner=self.runner,
            os_user=self.os_user,
            binary=haproxy,
        )
        self._endpoint_ports = endpoints.recorded_ports
        # The `EndpointDriver` half of the contract is HAProxy's, method for method (engine.local.haproxy).
        self.endpoint_support = endpoints.endpoint_support
        self.ensure_endpoint = endpoints.ensure_endpoint
        self.endpoint = endpoints.endpoint
        self.endpoints = endpoints.endpoints
        self.drop_sessions = endpoints.drop_sessions
        self.destroy_endpoint = endpoints.destroy_endpoint
        # The `AccessDriver` half: security groups as pg_hba.conf lines and endpoint filters (engine.local.access).
        self.access = LocalAccess(self.layout, self.sessions, self.os_user, self._complete_meta, self.connect_host)
        self.access_support = self.access.access_support
        self.apply_admission = self.access.apply_admission
        self.admission = self.access.admission
        self.apply_endpoint_admission = endpoints.apply_admission
        # The `ParameterDriver` half: settings, the tenant's include file, the server log (engine.local.parameters).
        parameters = LocalParameters(self.layout, self.sessions, self.os_user, self.masker, self._complete_meta)
        self.settings = parameters.settings
        self.default_settings = parameters.default_settings
        self.check_parameters = parameters.check_parameters
        self.write_parameters = parameters.write_parameters
        self.replay_paused = parameters.replay_paused
        self.server_log = parameters.server_log
        # The `AccountDriver` half: roles and databases as the service's superuser (engine.local.accounts).
        accounts = LocalAccounts(self.layout, self.masker, self._complete_meta)
        self.list_accounts = accounts.list_accounts
        self.create_account = accounts.create_account
        self.reset_account_password = accounts.reset_account_password
        self.set_account_login = accounts.set_account_login
        self.drop_account = accounts.drop_account
        self.modify_account_privileges = accounts.modify_account_privileges
        self.account_privileges = accounts.account_privileges
        self.list_databases = accounts.list_databases
        self.create_database = accounts.create_database
        self.set_database_owner = accounts.set_database_owner
        self.drop_database = accounts.drop_database
        self.database_objects = accounts.database_objects

    def _prepare_root(self) -> None:
        self.data_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        for changed in self.os_user.ensure_traversable(self.data_root):
            log.info("made %s traversable (o+x) for OS user %s", changed, self.os_user.name)
        self.os_user.mkdir(self.layout.instances)
        self.os_user.mkdir(self.layout.run)

    # ------------------------------------------------------------------ the contract (engine.driver.Driver)

    def versions(self) -> Sequence[InstalledVersion]:
        """The PostgreSQL versions installed, newest first. Pure read; never fails."""
        if self._versions is None:
            self._versions = find_versions()
        return list(self._versions)

    def create_primary(self, request: PrimaryRequest) -> ServerInfo:
        """Create, configure and start a writable server with the tenant's admin role; idempotent.

        Steps: allocate a port and write a ``pending`` meta; initdb (superuser ``openrds`` with a
        random password from a temporary 0600 ``--pwfile``); postgresql.conf from the spec and the
        managed pg_hba.conf; start; create the replication role and the admin role; mark complete.
        A complete server with this id is only started if stopped; a pending one is wiped first.
        Returns once the server accepts connections. Time budget: about 30 s.
        :raises EngineError: and leaves no directory, port or process behind.
        """
        instance_id = check_instance_id(request.instance_id)
        _check_admin(request.admin_user, request.admin_password)
        self.masker.add(request.admin_password)
        programs = self._programs(request.major_version)
        existing = self.layout.read_meta(instance_id)
        if existing is not None and existing.complete:
            if existing.role is not ServerRole.PRIMARY:
                raise EngineError("validate", f"{instance_id} exists and is a {existing.role} of {existing.source_id}")
            return self.start(instance_id)
        self._wipe(instance_id)
        self.backups.discard_unused(instance_id)  # the stanza of an earlier attempt has another system id
        meta = self._reserve(
            ServerMeta(
                instance_id=instance_id,
                role=ServerRole.PRIMARY,
                source_id=None,
                port=0,
                major_version=request.major_version,
                spec=request.spec,
                charset=request.charset,
                copy_method=None,
            ),
            request.port,
        )
        try:
            self._init_primary(meta, programs, request)
        except BaseException as exc:
            self._undo([meta])
            self.backups.discard_unused(instance_id)
            _reraise(exc, "create primary")
        log.info("primary %s created on port %d", instance_id, meta.port)
        return self._info(meta)

    def create_replicas(self, requests: Sequence[ReplicaRequest]) -> Sequence[ServerInfo]:
        """Create streaming read-only replicas, sharing one backup window per source; idempotent.

        Per source, in one go for all its replicas of the batch: slots and one shared copy of the
        source (`replicas.ReplicaBuilder.copy`: a reflink clone inside one backup window where the
        data root's filesystem supports reflink, else one ``pg_basebackup`` copied locally for the
        others); then each replica's own configuration, ``standby.signal`` and ``primary_conninfo``;
        start. A source may be a replica (cascade), also one created earlier in the same batch.

        Already complete replicas of the batch are only started and awaited; pending ones are
        wiped and redone. Returns (in request order) once every replica accepts read-only
        connections and its source's pg_stat_replication shows it streaming.
        :raises SourceUnavailable: a source is missing or not running (nothing was created).
        :raises EngineError: and leaves no directory, port or slot of the replicas this call
            created behind (complete replicas from an earlier call are left alone).
        """
        by_id = {check_instance_id(r.instance_id): r for r in requests}
        if len(by_id) != len(requests):
            raise EngineError("validate", "the batch names an instance twice")
        for request in requests:
            if request.source_id == request.instance_id:
                raise EngineError("validate", f"{request.instance_id} cannot replicate itself")
        done: dict[str, ServerMeta] = {}
        todo: list[ReplicaRequest] = []
        for request in requests:
            existing = self.layout.read_meta(request.instance_id)
            if existing is not None and existing.complete:
                if existing.role is not ServerRole.REPLICA or existing.source_id != request.source_id:
                    raise EngineError(
                        "validate", f"{request.instance_id} exists and is not a replica of {request.source_id}"
                    )
                done[request.instance_id] = existing
            else:
                todo.append(request)
        rounds = dependency_rounds(todo)
        for request in rounds[0]:  # fail fast, before anything is made; later rounds' sources are made below
            self.replicas.running_source(request.source_id, {})
        for meta in done.values():
            self._start(meta)
        created: list[ServerMeta] = []
        try:
            for batch in rounds:
                groups: dict[str, list[ReplicaRequest]] = {}
                for request in batch:
                    groups.setdefault(request.source_id, []).append(request)
                for source_id, group in groups.items():
                    source = self.replicas.running_source(source_id, done)
                    metas = self._reserve_replicas(source, group, created)
                    self._build_replicas(source, metas)
                    done.update((meta.instance_id, meta) for meta in metas)
            by_source: dict[str, list[ServerMeta]] = {}
            for meta in done.values():
                by_source.setdefault(meta.source_id or "", []).append(meta)
            for source_id, metas in by_source.items():
                self.replicas.await_streaming(self.replicas.running_source(source_id, done), metas)
            for meta in created:
                self.layout.write_meta(meta.with_(creation="complete"), self.os_user)
        except BaseException as exc:
            self._undo(created)
            _reraise(exc, "create replicas")
        return [self._info(done[r.instance_id]) for r in requests]

    def start(self, instance_id: str) -> ServerInfo:
        """Start a stopped server and wait until it accepts connections; no-op when running.

        Also recovers from a killed postmaster: waits for (or ends) its orphaned children and
        ignores its stale ``postmaster.pid``. A primary made by an older OpenRDS loses its admin's
        credential-reading roles here (`_confine_admin`).
        :raises ServerNotFound: no such server.
        :raises EngineError: pg_ctl failed or timed out (with the tail of the server log).
        """
        meta = self._complete_meta(instance_id)
        self._start(meta)
        self._confine_admin(meta)
        return self._info(meta)

    def stop(self, instance_id: str) -> None:
        """Stop the server (fast shutdown); no-op when already stopped.

        Escalates to an immediate shutdown, then SIGKILL, if the server does not stop in time.
        :raises ServerNotFound: no such server.
        """
        meta = self._complete_meta(instance_id)
        self._stop(meta.instance_id, meta.major_version)

    def restart(self, instance_id: str) -> ServerInfo:
        """Stop then start; returns when it accepts connections again (see `start`)."""
        meta = self._complete_meta(instance_id)
        self._stop(meta.instance_id, meta.major_version)
        self._start(meta)
        self._confine_admin(meta)
        return self._info(meta)

    def destroy(self, instance_id: str) -> None:
        """Stop, drop the slot on its source, remove the directory (releasing the port); no-op when
        missing. Works on pending (half-created) directories too.

        The slot is dropped only if the source is running; otherwise it stays on the source until
        `reconcile_slots` runs there (the supervisor's job once the source is back).
        """
        instance = self.layout.instance(instance_id)
        if not instance.exists():
            return
        try:
            meta = self.layout.read_meta(instance_id)
        except EngineError:
            meta = None
        # A restore left running by a killed service would keep writing into the directory removed below.
        self.backups.stop_restores(instance_id)
        self._stop(instance_id, meta.major_version if meta else self._any_major(), mode="immediate")
        if meta is not None and meta.role is ServerRole.REPLICA and meta.source_id:
            self.replicas.drop_slot(meta.source_id, slot_name(instance_id))
        shutil.rmtree(instance)
        log.info("destroyed %s", instance_id)

    def promote(self, instance_id: str) -> ServerInfo:
        """Make a replica a writable standalone primary and drop its slot on the old source.

        Idempotent: on a server already promoted (even if the meta was not yet updated) only the
        bookkeeping is finished. The slot drop is best effort (the old source may be down, which
        is often why one promotes); `reconcile_slots` on the old source removes it later.
        :raises ServerNotFound: no such server.
        :raises EngineError: the server does not start, or is not reachable (transient).
        """
        meta = self._complete_meta(instance_id)
        self._start(meta)
        if meta.role is ServerRole.PRIMARY:
            if meta.promoted_from:
                self.replicas.drop_slot(meta.promoted_from, slot_name(instance_id))
            return self._info(meta)
        with self.sessions.open(meta, "promote") as conn:
            still_standby = sql.in_recovery(conn)
        if still_standby:
            if self.backups.active:  # its own stanza before its first segment of the new timeline is pushed
                self.backups.create_offline(meta)
            self._programs(meta.major_version).promote(self.layout.data(instance_id))
        with self.sessions.open(meta, "promote") as conn:
            wait_until(
                lambda: not sql.in_recovery(conn),
                timeout=START_TIMEOUT,
                interval=self.POLL,
                what=f"{instance_id} to leave recovery",
                step="promote",
            )
            # A primary ignores primary_conninfo, but a later restart must not look like a standby.
            (self.layout.data(instance_id) / STANDBY_CONF).unlink(missing_ok=True)
            conn.execute("SELECT pg_catalog.pg_reload_conf()")
        promoted = meta.with_(role=ServerRole.PRIMARY, source_id=None, promoted_from=meta.source_id)
        self.layout.write_meta(promoted, self.os_user)
        if meta.source_id:
            self.replicas.drop_slot(meta.source_id, slot_name(instance_id))
        return self._info(promoted)

    def reconcile_slots(self, instance_id: str, replica_ids: Collection[str] = ()) -> list[str]:
        """Drop the slots on ``instance_id`` that feed neither one of ``replica_ids`` nor a replica of
        it under this data root (complete or being made, so a create under way keeps its slot). Returns
        the names dropped.

        :raises ServerNotFound: no such server.
        :raises EngineError: it is not running (transient).
        """
        meta = self._complete_meta(instance_id)
        here = (m.instance_id for m in self.layout.all_meta() if m.source_id == instance_id)
        return self.replicas.drop_orphan_slots(meta, {*replica_ids, *here})

    def status(self, instance_id: str) -> ServerInfo:
        """Current state from the directory and the live process (no connection is made).

        RUNNING needs a live postmaster that really serves this data directory (a stale
        ``postmaster.pid`` after a ``kill -9`` is recognised) and says it accepts connections.
        :raises ServerNotFound: no such server (or only a half-created one).
        """
        return self._info(self._complete_meta(instance_id))

    def replication(self, instance_id: str) -> Replication:
        """Replication view of a running server: as a source, one `ReplicaLink` per replica of it
        found in pg_stat_replication (lag bytes against its current LSN; lag seconds are
        pg_stat_replication's ``replay_lag``, which is NULL on an idle link and may be stale); as a
        replica, its receive/replay LSNs and WAL receiver status.

        :raises ServerNotFound: no such server.
        :raises EngineError: the server is not running (transient).
        """
        meta = self._complete_meta(instance_id)
        replica_ids = {m.instance_id for m in self.layout.all_meta() if m.source_id == instance_id}
        with self.sessions.open(meta, "replication") as conn:
            current = sql.current_lsn(conn)
            links = tuple(
                ReplicaLink(
                    replica_id=row.application_name,
                    state=row.state,
                    sent_lsn=row.sent_lsn,
                    write_lsn=row.write_lsn,
                    flush_lsn=row.flush_lsn,
                    replay_lsn=row.replay_lsn,
                    lag_bytes=row.lag_bytes,
                    lag_seconds=row.lag_seconds,
                )
                for row in sql.senders(conn)
                if row.application_name in replica_ids
            )
            receiver = sql.receiver(conn) if sql.in_recovery(conn) else None
        return Replication(
            instance_id=instance_id,
            current_lsn=current,
            replicas=links,
            receive_lsn=receiver.receive_lsn if receiver else None,
            replay_lsn=receiver.replay_lsn if receiver else None,
            replay_delay_seconds=receiver.replay_delay_seconds if receiver else None,
            wal_receiver_status=receiver.wal_receiver_status if receiver else None,
        )

    def stats(self, instance_id: str) -> ServerStats:
        """Connections, database size and physical slots (each mapped to the replica it feeds).

        :raises ServerNotFound: no such server.
        :raises EngineError: the server is not running (transient).
        """
        meta = self._complete_meta(instance_id)
        by_slot = {
            slot_name(m.instance_id): m.instance_id for m in self.layout.all_meta() if m.source_id == instance_id
        }
        with self.sessions.open(meta, "stats") as conn:
            found = sql.figures(conn)
        return ServerStats(
            instance_id=instance_id,
            connections=found.connections,
            max_connections=found.max_connections,
            database_size_bytes=found.database_size_bytes,
            slots=tuple(
                SlotInfo(s.name, s.active, s.retained_bytes, by_slot.get(s.name), s.wal_status, s.safe_wal_bytes)
                for s in found.slots
            ),
        )

    def servers(self) -> Sequence[ServerInfo]:
        """Every complete server under the data root with its state (adoption after a restart of
        the service). Half-created directories are not servers; `destroy` removes them."""
        return [self._info(meta) for meta in self.layout.all_meta() if meta.complete]

    def disk_usage(self, instance_id: str) -> int:
        """The apparent size of every file under the server's data directory (WAL included; the log
        and passfiles beside it are the service's, not the tenant's). Symbolic links are not followed;
        files that vanish during the walk are skipped.

        :raises ServerNotFound: no such server.
        """
        self._complete_meta(instance_id)
        return _tree_bytes(self.layout.data(instance_id))

    def set_read_only(self, instance_id: str, read_only: bool) -> bool:
        """``default_transaction_read_only`` through ``ALTER SYSTEM`` and a reload (`sql.set_read_only`);
        the current state is read from postgresql.auto.conf, so an unchanged server costs one file read.
        Replicas made later drop it from their copy (`strip_standby_settings`); the engine's own
        sessions stay writable (`sql.connect`).

        :raises ServerNotFound: no such server.
        :raises EngineError: a change is needed and the server is not reachable (transient).
        """
        meta = self._complete_meta(instance_id)
        auto_conf = self.layout.data(instance_id) / "postgresql.auto.conf"
        try:
            current = read_only_in(auto_conf.read_text(encoding="utf-8"))
        except FileNotFoundError:
            current = False
        if current is read_only:
            return False
        with self.sessions.open(meta, "read-only mode") as conn:
            sql.set_read_only(conn, read_only)
        log.info("%s: new transactions are %s", instance_id, "read-only" if read_only else "writable again")
        return True

    def apply_spec(self, instance_id: str, spec: ServerSpec, floor: Mapping[str, int] | None = None) -> Resized:
        """A new spec: the config rewritten, then a reload or, when needed, a restart (`engine.local.resize`)."""
        return resize.apply_spec(self, instance_id, spec, floor)

    def rotate_logs(self) -> None:
        """Past :attr:`LOG_MAX_BYTES`, ``server.log`` is copied to ``server.log.1`` (replacing the one
        before) and emptied in place ("copytruncate"): the postmaster holds the file open and writes
        in append mode (``pg_ctl -l``), so it goes on at the new end without a restart. Lines written
        between the copy and the truncation are lost - at most a few, once per 16 MB. PostgreSQL's
        own logging collector would rotate without that gap, at the price of one more process per
        server, and the engine reads this file when a start fails."""
        for instance_id in self.layout.instance_ids():
            current = self.layout.log(instance_id)
            try:
                if current.stat().st_size <= self.LOG_MAX_BYTES:
                    continue
                previous = current.with_name(current.name + ".1")
                shutil.copyfile(current, previous)
                os.chmod(previous, 0o600)
                self.os_user.own(previous)
                os.truncate(current, 0)
            except FileNotFoundError:
                continue  # destroyed meanwhile
            except OSError as exc:  # a full disk, say: the next round tries again
                log.warning("could not rotate the log of %s: %s", instance_id, exc)
                continue
            log.info("rotated the log of %s", instance_id)

    # ------------------------------------------------------------------ backups (engine.backups.BackupDriver)

    def backup_support(self) -> str | None:
        """None when pgBackRest and a repository are configured here; otherwise why not."""
        return self.backups.support()

    def ensure_stanza(self, instance_id: str) -> None:
        """The primary's stanza exists and its archiving works (``stanza-create`` + ``check``).

        A primary made before this host archived (no backups configured then, or an older OpenRDS) gets
        its configuration rewritten and is restarted first: ``archive_mode`` takes effect only at start.
        """
        meta = self._complete_meta(instance_id)
        if meta.role is not ServerRole.PRIMARY:
            raise EngineError("stanza", f"{instance_id} is a replica: it archives nothing until promoted")
        self.backups.require()
        if not self.backups.archiving(meta):
            log.info("%s was made without archiving: reconfigured and restarted to archive", instance_id)
            self._write_server_config(meta, floor=None)
            self._stop(meta.instance_id, meta.major_version)
            self._start(meta)
        self.backups.ensure_stanza(meta)

    def backup(self, instance_id: str, backup_id: str, backup_type: BackupType, kind: str) -> BackupSet:
        """A pgBackRest backup of the running primary annotated with ``backup_id`` (`LocalBackups.backup`)."""
        meta = self._complete_meta(instance_id)
        if meta.role is not ServerRole.PRIMARY:
            raise EngineError("backup", f"{instance_id} is a replica; back up its primary")
        return self.backups.backup(meta, backup_id, backup_type, kind)

    def fence(self, instance_id: str) -> datetime:
        """Commit, wait until archived, return the latest reachable target (`LocalBackups.fence`)."""
        return self.backups.fence(self._complete_meta(instance_id))

    def stanza(self, instance_id: str) -> StanzaInfo | None:
        return self.backups.stanza(instance_id)

    def stanzas(self) -> Sequence[StanzaInfo]:
        return self.backups.stanzas()

    def expire_backup(self, instance_id: str, label: str) -> None:
        self.backups.expire_backup(instance_id, label)

    def archive_status(self, instance_id: str) -> ArchiveStatus:
        return self.backups.archive_status(self._complete_meta(instance_id))

    def delete_stanza(self, instance_id: str) -> None:
        self.backups.delete_stanza(instance_id)

    def export_backup(self, instance_id: str, label: str) -> Iterator[bytes]:
        """`engine.backups.BackupExport` (``DescribeBackupDownloadURL``): `engine.local.backup_export`."""
        self.backups.require()
        assert self.backups.pgbackrest is not None
        return export_set(self.backups.pgbackrest, self.os_user, self.data_root, check_instance_id(instance_id), label)

    def restore(self, request: RestoreRequest) -> ServerInfo:
        """A new primary from ``request.source_id``'s stanza (the source may be destroyed); idempotent.

        Steps: reserve a port and a ``pending`` meta; ``pgbackrest restore`` (a set with
        ``--type=immediate``, or ``--type=time``; both ``--target-action=promote``) into the new data
        directory; the source's passfiles; this server's own postgresql.conf (port, ``cluster_name``,
        ``archive_command``), pg_hba.conf and ``restore_command``; its own stanza
        (``stanza-create --no-online``); start; wait until it has left recovery; new internal
        passwords. A server that stops during recovery (a target after the last archived commit:
        "recovery ended before configured recovery target was reached") fails the restore, and
        nothing is left of it: no process, directory, port or stanza.
        """
        instance_id = check_instance_id(request.instance_id)
        check_instance_id(request.source_id)
        if instance_id == request.source_id:
            raise EngineError("validate", "a server cannot be restored onto its own source")
        self.backups.require()
        self._programs(request.major_version)
        existing = self.layout.read_meta(instance_id)
        if existing is not None and existing.complete:
            if existing.role is not ServerRole.PRIMARY:
                raise EngineError("validate", f"{instance_id} exists and is a {existing.role} of {existing.source_id}")
            return self.start(instance_id)
        self._wipe(instance_id)
        self.backups.discard_unused(instance_id)
        try:
            source = self.layout.read_meta(request.source_id)
        except EngineError:
            source = None
        meta = self._reserve(
            ServerMeta(
                instance_id=instance_id,
                role=ServerRole.PRIMARY,
                source_id=None,
                port=0,
                major_version=request.major_version,
                spec=request.spec,
                charset=source.charset if source else None,
                copy_method=None,
            ),
            request.port,
        )
        started = time.monotonic()
        try:
            self._restore_server(meta, request)
        except BaseException as exc:
            self._undo([meta])
            with contextlib.suppress(Exception):
                self.backups.discard_unused(instance_id)
            _reraise(exc, "restore")
        log.info("%s restored from %s in %.2fs", instance_id, request.source_id, time.monotonic() - started)
        return self._info(meta)

    def _restore_server(self, meta: ServerMeta, request: RestoreRequest) -> None:
        data = self.layout.data(meta.instance_id)
        restore_command = self.backups.restore_data(
            request.source_id, data, backup_label=request.backup_label, target_time=request.target_time
        )
        self.backups.source_passfiles(request.source_id, self.layout.instance(meta.instance_id))
        floor = self.backups.control_floor(data, self._programs(meta.major_version).binaries.path("pg_controldata"))
        self._write_server_config(meta, floor=floor)  # also drops the copied restore_command: put back below
        (data / STANDBY_CONF).unlink(missing_ok=True)
        self.backups.append_line(data / "postgresql.auto.conf", restore_command)
        self.backups.create_offline(meta)
        try:
            self._start(meta)
        except EngineError as exc:
            output = "\n".join([exc.output_tail, self._log_tail(meta.instance_id)])
            raise restore_failure(meta.instance_id, output) from None

        def promoted() -> bool:
            if live_postmaster(data) is None:
                raise restore_failure(meta.instance_id, self._log_tail(meta.instance_id))
            try:
                with self.sessions.open(meta, "restore") as conn:
                    return not sql.in_recovery(conn)
            except EngineError:
                return False  # shutting down after a failed recovery, or not accepting yet

        wait_until(promoted, timeout=RECOVERY_TIMEOUT, interval=self.POLL, what=f"{meta.instance_id} to be promoted",
                   step="restore")
        self.backups.rotate_internal_passwords(meta)
        self.layout.write_meta(meta.with_(creation="complete"), self.os_user)

    def _make_backups(self, repository: Repository | None) -> LocalBackups:
        if repository is None:
            off = "backups are not configured (no repository)"
            return LocalBackups(None, self.layout, self.sessions, self.os_user, self.runner, off)
        binary = find_pgbackrest(repository.binary)
        tool = PgBackRest(
            self.data_root / "backup",
            repository,
            os_user=self.os_user,
            runner=self.runner,
            masker=self.masker,
            socket_dir=self.layout.run,
            user=SUPERUSER,
        )
        reason = None if binary else f"pgBackRest ({repository.binary}) is not installed"
        if reason:
            log.warning("backups disabled: %s", reason)
        return LocalBackups(tool, self.layout, self.sessions, self.os_user, self.runner, reason)

    def _replica_copy_method(self, source: ServerMeta) -> CopyMethod:
        """How replicas of ``source`` are seeded. A reflink clone wins whenever the filesystem has it
        (no copy at all). Else, with ``replica_seed="auto"``, from the repository when the source is a
        primary whose newest backup set finished within `REPOSITORY_SEED_MAX_AGE` (little WAL to
        replay) and whose data is at least `REPOSITORY_SEED_MIN_BYTES` (the copy that the source is
        spared is worth the fixed cost of a restore); otherwise ``pg_basebackup`` from the source."""
        copy = self.copy_method()
        if self.replica_seed == "basebackup" or not self.backups.active or source.role is not ServerRole.PRIMARY:
            return copy
        if self.replica_seed == "auto" and copy is CopyMethod.CLONE:
            return copy
        age = self.backups.newest_set_age(source.instance_id, datetime.now(UTC))
        if age is None:
            return copy
        if self.replica_seed == "repository":
            return CopyMethod.REPOSITORY
        big = _tree_bytes(self.layout.data(source.instance_id)) >= REPOSITORY_SEED_MIN_BYTES
        return CopyMethod.REPOSITORY if age <= REPOSITORY_SEED_MAX_AGE and big else copy

    # ------------------------------------------------------------------ beyond the contract

    def copy_method(self) -> CopyMethod:
        """How replicas are made under this data root: CLONE where the filesystem supports reflink."""
        with self._reflink_lock:
            if self._reflink is None:
                self._reflink = supports_reflink(self.layout.instances, self.runner, self.os_user)
                log.info("reflink copies %s under %s", "supported" if self._reflink else "unsupported", self.data_root)
            return CopyMethod.CLONE if self._reflink else CopyMethod.BASEBACKUP

    def set_replay_paused(self, instance_id: str, paused: bool) -> None:
        """Pause (``pg_wal_replay_pause()``) or resume (``pg_wal_replay_resume()``) WAL replay on a
        replica; idempotent. While paused the replica keeps receiving (and forwarding to its cascades)
        WAL but stops applying it, so its replay lag grows: tests and operators use it to rehearse a
        lagging replica. Needs the service's superuser, which only the engine holds.

        :raises ServerNotFound: no such server.
        :raises EngineError: it is not running, or is not in recovery (a primary has no replay).
        """
        meta = self._complete_meta(instance_id)
        with self.sessions.open(meta, "replay pause") as conn:
            if not sql.in_recovery(conn):
                raise EngineError("replay pause", f"{instance_id} is not a replica in recovery")
            conn.execute(
                "SELECT pg_catalog.pg_wal_replay_pause()" if paused else "SELECT pg_catalog.pg_wal_replay_resume()"
            )

    def pending(self) -> list[str]:
        """Ids of half-created instance directories (a create that crashed and was not re-run)."""
        complete = {m.instance_id for m in self.layout.all_meta() if m.complete}
        return [i for i in self.layout.instance_ids() if i not in complete]

    # ------------------------------------------------------------------ creating

    def _programs(self, major: int) -> PgPrograms:
        """The programs of PostgreSQL ``major`` (looked for again once if it seems missing).

        :raises EngineError: that version is not installed.
        """
        for refresh in (False, True):
            if refresh:
                self._versions = None  # a version installed since the last look
            for version in self.versions():
                if version.major == major:
                    return PgPrograms(Binaries(version), self.runner)
        installed = ", ".join(str(v.major) for v in self.versions()) or "none"
        raise EngineError("binaries", f"PostgreSQL {major} is not installed (installed: {installed})")

    def _reserve(self, meta: ServerMeta, requested_port: int | None) -> ServerMeta:
        """Allocate a port and create the instance directory with a ``pending`` meta (one lock)."""
        with self.ports.locked():
            taken = {m.port for m in self.layout.all_meta()} | self._endpoint_ports()
            port = self.ports.allocate(taken, requested_port)
            meta = meta.with_(port=port, creation="pending")
            self.os_user.mkdir(self.layout.instance(meta.instance_id))
            self.layout.write_meta(meta, self.os_user)
        return meta

    def _init_primary(self, meta: ServerMeta, programs: PgPrograms, request: PrimaryRequest) -> None:
        instance = self.layout.instance(meta.instance_id)
        superuser_password, replication_password = new_password(), new_password()
        self.masker.add(superuser_password, replication_password)
        write_passfile(instance / SUPERUSER_PASSFILE, SUPERUSER, superuser_password, self.os_user)
        write_passfile(instance / REPLICATION_PASSFILE, REPLICATION_USER, replication_password, self.os_user)
        with temporary_pwfile(instance, superuser_password, self.os_user) as pwfile:
            programs.initdb(
                self.layout.data(meta.instance_id), superuser=SUPERUSER, pwfile=pwfile, charset=request.charset
            )
        self._write_server_config(meta, floor=None)
        if self.backups.active:  # archiving from birth: the stanza exists before the first segment is pushed
            self.backups.create_offline(meta)
        self._start(meta)
        with self.sessions.open(meta, "create roles") as conn:
            sql.ensure_role(
                conn,
                REPLICATION_USER,
                password=replication_password,
                attributes=("LOGIN", "REPLICATION", "NOSUPERUSER", "NOCREATEDB", "NOCREATEROLE"),
            )
            sql.ensure_role(
                conn,
                request.admin_user,
                password=request.admin_password,
                attributes=(
                    "LOGIN",
                    "NOSUPERUSER",
                    "CREATEDB",
                    self._createrole(meta.major_version),
                    "NOREPLICATION",
                    "NOBYPASSRLS",
                ),
                member_of=ADMIN_ROLES,
            )
            sql.set_admin_defaults(conn, request.admin_user)
        self.layout.write_meta(meta.with_(creation="complete"), self.os_user)

    def _reserve_replicas(
        self, source: ServerMeta, group: list[ReplicaRequest], created: list[ServerMeta]
    ) -> list[ServerMeta]:
        metas = []
        method = self._replica_copy_method(source)
        for request in group:
            self._wipe(request.instance_id)
            meta = self._reserve(
                ServerMeta(
                    instance_id=request.instance_id,
                    role=ServerRole.REPLICA,
                    source_id=source.instance_id,
                    port=0,
                    major_version=source.major_version,
                    spec=request.spec,
                    charset=None,
                    copy_method=method,
                ),
                request.port,
            )
            created.append(meta)
            metas.append(meta)
        return metas

    def _build_replicas(self, source: ServerMeta, metas: list[ServerMeta]) -> None:
        """One shared copy of ``source`` (with the slots) - or, seeded from the repository, a ``restore
        --type=standby`` each (`LocalBackups.seed_replicas`) - then configuration and start of ``metas``."""
        started = time.monotonic()
        if metas[0].copy_method is CopyMethod.REPOSITORY:
            floor, restore_commands = self.backups.seed_replicas(source, metas)
        else:
            floor, restore_commands = self.replicas.copy(source, metas), {}
        copied = time.monotonic()

        def configure_and_start(meta: ServerMeta) -> None:
            copy_passfiles(
                self.layout.instance(source.instance_id), self.layout.instance(meta.instance_id), self.os_user
            )
            self._write_server_config(meta, floor=floor)
            self.replicas.write_standby_config(meta, source)
            if meta.instance_id in restore_commands:  # WAL from the set's start until streaming takes over
                self.backups.append_line(self.layout.data(meta.instance_id) / STANDBY_CONF,
                                         restore_commands[meta.instance_id])
            self._start(meta)

        parallel(configure_and_start, metas)
        log.info(
            "replicas %s of %s: %s copy %.2fs, configure+start %.2fs",
            [m.instance_id for m in metas],
            source.instance_id,
            metas[0].copy_method,
            copied - started,
            time.monotonic() - copied,
        )

    def _write_server_config(self, meta: ServerMeta, floor: dict[str, int] | None) -> None:
        data = self.layout.data(meta.instance_id)
        settings = server_settings(
            meta.spec,
            instance_id=meta.instance_id,
            port=meta.port,
            listen_addresses=self.bind_host,
            socket_dir=str(self.layout.run),
            floor=floor,
            major_version=meta.major_version,
            max_slot_wal_keep_mb=self.max_slot_wal_keep_mb,
            archive_command=self.backups.archive_command(meta.instance_id),
        )
        atomic_write(data / "postgresql.conf", render_postgresql_conf(settings), owner=self.os_user)
        atomic_write(data / "pg_hba.conf", self.access.hba_text(meta.instance_id), owner=self.os_user)
        auto_conf = data / "postgresql.auto.conf"
        if auto_conf.exists():
            text = auto_conf.read_text(encoding="utf-8")
            stripped = strip_standby_settings(text)
            if stripped != text:
                atomic_write(auto_conf, stripped, owner=self.os_user)

    def _createrole(self, major: int) -> str:
        allowed = self.admin_createrole if self.admin_createrole is not None else major >= SAFE_CREATEROLE_MAJOR
        return "CREATEROLE" if allowed else "NOCREATEROLE"

    # ------------------------------------------------------------------ starting and stopping

    def _start(self, meta: ServerMeta) -> None:
        data = self.layout.data(meta.instance_id)
        if not data.is_dir():
            raise EngineError("start", f"data directory of {meta.instance_id} is missing")
        live = live_postmaster(data)
        if live is not None:
            if not live.accepting:
                wait_until(
                    lambda: (p := live_postmaster(data)) is None or p.accepting,
                    timeout=START_TIMEOUT,
                    interval=self.POLL,
                    what=f"{meta.instance_id} to finish starting",
                    step="start",
                )
            if live_postmaster(data) is not None:
                return
        self._clear_leftovers(meta)
        programs = self._programs(meta.major_version)
        try:
            programs.start(data, self.layout.log(meta.instance_id))
        except EngineError as exc:
            output = "\n".join(filter(None, [exc.output_tail, self._log_tail(meta.instance_id)]))
            # Another process took the port between allocation and start: a retry allocates anew.
            port_race = "Address already in use" in output
            raise EngineError(
                exc.step, f"{meta.instance_id}: {exc.detail}", output, transient=exc.transient or port_race
            ) from None

    def _clear_leftovers(self, meta: ServerMeta) -> None:
        """Before a start: no process of an earlier postmaster may remain, nor its lock files.

        After a ``kill -9`` the old postmaster's children linger until they notice its death, and
        the postmaster itself may stay a zombie for a while (or for good under an init that does
        not reap): PostgreSQL takes a zombie's pid in a lock file for a live server and refuses to
        start. Lock files naming a dead (or zombie) pid are therefore removed.
        """
        data = self.layout.data(meta.instance_id)
        old = read_pidfile(data)
        try:
            wait_until(
                lambda: not processes_in(data),
                timeout=self.LINGER_TIMEOUT,
                interval=self.POLL,
                what=f"processes of the previous postmaster of {meta.instance_id} to exit",
            )
        except EngineError:
            kill(processes_in(data))
            wait_until(
                lambda: not processes_in(data),
                timeout=self.LINGER_TIMEOUT,
                interval=self.POLL,
                what=f"killed processes of {meta.instance_id} to exit",
                step="start",
            )
        if old is not None:
            with contextlib.suppress(EngineError):  # a zombie nobody reaps: its lock files go anyway
                wait_until(
                    lambda: not os.path.exists(f"/proc/{old.pid}"),
                    timeout=self.REAP_TIMEOUT,
                    interval=self.POLL,
                    what=f"old postmaster {old.pid} of {meta.instance_id} to be reaped",
                )
        for lock in (data / "postmaster.pid", self.layout.run / f".s.PGSQL.{meta.port}.lock"):
            holder = read_pidfile(lock.parent, lock.name)
            if holder is not None and is_alive(holder.pid) and holder.pid != (old.pid if old else None):
                continue  # not the dead server's: leave it to PostgreSQL to complain
            lock.unlink(missing_ok=True)

    def _stop(self, instance_id: str, major: int | None, *, mode: str = "fast") -> None:
        """``pg_ctl stop`` in ``mode``, then immediate, then SIGKILL, until no process of it is left.
        ``major`` None (no meta, no version installed): straight to SIGKILL."""
        data = self.layout.data(instance_id)
        if live_postmaster(data) is not None and major is not None:
            programs = self._programs(major)
            for stop_mode in dict.fromkeys([mode, "immediate"]):
                programs.stop(data, stop_mode)
                if live_postmaster(data) is None:
                    break
        if live_postmaster(data) is not None or processes_in(data):
            kill(processes_in(data), signal.SIGKILL)
        wait_until(
            lambda: not processes_in(data),
            timeout=self.LINGER_TIMEOUT,
            interval=self.POLL,
            what=f"processes of {instance_id} to exit",
            step="stop",
        )

    def _confine_admin(self, meta: ServerMeta) -> None:
        """Bring a primary made before docs/trust-model.md to it: its admin (the only role those
        versions gave `sql.DATA_ROLES`) loses them and gets `sql.set_admin_defaults`. One query when
        there is nothing to do; replicas get it by replication."""
        if meta.role is not ServerRole.PRIMARY:
            return
        try:
            with self.sessions.open(meta, "confine admin") as conn:
                for admin in sql.revoke_data_roles(conn):
                    sql.set_admin_defaults(conn, admin)
                    log.info("%s: took %s from %s", meta.instance_id, ", ".join(sql.DATA_ROLES), admin)
        except psycopg.Error as exc:
            _reraise(exc, "confine admin")

    def _log_tail(self, instance_id: str) -> str:
        try:
            text = self.layout.log(instance_id).read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""
        return self.masker(tail(text[-20000:]))

    # ------------------------------------------------------------------ removing

    def _wipe(self, instance_id: str) -> None:
        """Remove a half-created directory (and its slot) before redoing it."""
        if self.layout.instance(instance_id).exists():
            log.info("wiping incomplete %s before recreating it", instance_id)
            self.destroy(instance_id)

    def _undo(self, metas: Iterable[ServerMeta]) -> None:
        """Best-effort removal of what a failed create made: processes, slots, directories, ports."""
        for meta in metas:
            try:
                self.destroy(meta.instance_id)
            except Exception:  # keep undoing the others; the job layer's destroy will retry
                log.exception("undo of %s failed", meta.instance_id)

    def _any_major(self) -> int | None:
        versions = self.versions()
        return versions[0].major if versions else None

    # ------------------------------------------------------------------ reading

    def _complete_meta(self, instance_id: str) -> ServerMeta:
        meta = self.layout.read_meta(check_instance_id(instance_id))
        if meta is None or not meta.complete:
            raise ServerNotFound(instance_id)
        return meta

    def _info(self, meta: ServerMeta) -> ServerInfo:
        data = self.layout.data(meta.instance_id)
        live = live_postmaster(data) if data.is_dir() else None
        if not data.is_dir():
            state = ServerState.MISSING
        elif live is not None and live.accepting:
            state = ServerState.RUNNING
        else:
            state = ServerState.STOPPED
        return ServerInfo(
            instance_id=meta.instance_id,
            role=meta.role,
            source_id=meta.source_id,
            major_version=meta.major_version,
            host=self.advertise_host,
            port=meta.port,
            data_dir=str(data),
            state=state,
            # standby.signal lives exactly as long as standby mode: the server removes it when promoted.
            in_recovery=(data / "standby.signal").exists() if state is ServerState.RUNNING else None,
            copy_method=meta.copy_method if meta.role is ServerRole.REPLICA else None,
        )

    def _address_of(self, instance_id: str) -> tuple[str, int] | None:
        """Where this host reaches a complete server; None when there is none (yet). For the endpoints."""
        try:
            meta = self.layout.read_meta(check_instance_id(instance_id))
        except EngineError:
            return None
        return (self.connect_host, meta.port) if meta is not None and meta.complete else None


def _tree_bytes(root: Path) -> int:
    """Sum of the sizes of the regular files under ``root`` (0 when it is missing)."""
    total, pending = 0, [root]
    while pending:
        try:
            entries = list(os.scandir(pending.pop()))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    pending.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except FileNotFoundError:
                continue  # removed meanwhile (a dropped table, a recycled WAL segment)
    return total


def _check_admin(name: str, password: str) -> None:
    if not name or len(name) > 63 or name.lower() in RESERVED_ROLES or name.lower().startswith("pg_"):
        raise EngineError("validate", f"admin user name {name!r} is reserved or invalid")
    if not password:
        raise EngineError("validate", "the admin password is empty")


def _reraise(exc: BaseException, step: str) -> NoReturn:
    """Re-raise ``exc``, as an `EngineError` if it is another kind of error (the contract's type)."""
    if isinstance(exc, EngineError) or not isinstance(exc, Exception):
        raise exc
    if isinstance(exc, psycopg.Error):  # a server went away mid-step: worth retrying
        raise EngineError(step, f"{type(exc).__name__}: {str(exc).strip()}", transient=True) from exc
    raise EngineError(step, f"{type(exc).__name__}: {exc}") from exc
