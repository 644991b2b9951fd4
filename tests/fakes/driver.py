"""`FakeDriver`: a TEST DOUBLE of the engine contract (`openrds.engine.driver.Driver`), in memory.

For tests whose subject is above the engine - job flows, billing, the API faces, the console - and
which need servers only to exist and change state. It runs no process, binds no port and writes no
file: a "server" is a record in a dict, a "port" a number taken from the configured range, WAL a
counter. Every method keeps the contract's idempotency and raises the contract's errors, checked
against `engine.local.LocalDriver` by ``tests/fakes/test_contract.py`` so the two cannot drift
apart silently. Tests that are about PostgreSQL (replication really streams, rows reach replicas,
HAProxy balances, slots, checksums, the storage limit, privileges) use the real driver.

Beyond the contract a test can steer the fake: `crash` (a server dies, as after ``kill -9``),
`write` (WAL and data grow), `set_replay_paused` (a replica falls behind), `open_sessions` (clients
through a group endpoint), `fail` (the next call of a method raises a given error once) and `hold`
(calls of a method wait until the test lets them go: an instance stays "being built" exactly as long
as a test needs, where real servers would leave a race against their start-up time).
Deterministic: ports are the lowest free ones, LSNs move only when a test writes.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from tests.fakes.access import FakeAccess
from tests.fakes.accounts import FakeAccounts
from tests.fakes.backups import FakeBackups
from tests.fakes.parameters import FakeParameters

from openrds.clock import Clock
from openrds.domain.parameters import ServerSetting
from openrds.engine.driver import (
    CopyMethod,
    EndpointInfo,
    EndpointNotFound,
    EndpointSpec,
    EndpointUnavailable,
    EngineError,
    InstalledVersion,
    MemberAdmin,
    MemberState,
    PortsExhausted,
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
    SourceUnavailable,
)
from openrds.engine.parameters import LogRecord, ParametersApplied
from openrds.engine.resize import Resized

#: What `versions` reports unless told otherwise (newest first, as the contract says).
DEFAULT_VERSIONS = (InstalledVersion(16, "16.4", "/fake/16/bin"), InstalledVersion(15, "15.8", "/fake/15/bin"))
#: Bytes a freshly created server holds (initdb writes about this much: three databases and one WAL segment).
FRESH_SERVER_BYTES = 40 * 1024 * 1024
#: How long a `FakeDriver.hold` may keep a call waiting before the call fails (a test that forgot it).
HOLD_TIMEOUT = 120.0
#: The WAL position of a fresh primary (0/3000000, roughly where initdb leaves it).
FRESH_LSN = 0x3000000

_INSTANCE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")
_SLOT_UNSAFE = re.compile(r"[^a-z0-9_]")
_RESERVED_ROLES = {"openrds", "openrds_repl", "postgres", "public"}  # the local driver's own roles


def slot_name(instance_id: str) -> str:
    """The slot a replica uses on its source (the same rule as the local driver's)."""
    return _SLOT_UNSAFE.sub("_", instance_id.lower())[:63]


def lsn_text(lsn: int) -> str:
    """PostgreSQL's ``X/Y`` notation of a WAL position."""
    return f"{lsn >> 32:X}/{lsn & 0xFFFFFFFF:X}"


@dataclass
class _Server:
    instance_id: str
    role: ServerRole
    source_id: str | None
    major_version: int
    port: int
    spec: ServerSpec
    copy_method: CopyMethod | None
    running: bool = True
    lsn: int = FRESH_LSN  # primary: current WAL position; replica: what it has replayed while paused
    data_bytes: int = FRESH_SERVER_BYTES
    read_only: bool = False
    replay_paused: bool = False
    slots: set[str] = field(default_factory=set)  # physical slots on this server
    floor_connections: int = 0  # max_connections raised above the spec's for its source (apply_spec's floor)
    restarts: int = 0

    @property
    def max_connections(self) -> int:
        return max(self.spec.max_connections, self.floor_connections)


@dataclass
class _Member:
    instance_id: str
    weight: int
    drained: bool
    sessions: int = 0


@dataclass
class _Endpoint:
    endpoint_id: str
    port: int
    running: bool = True
    pid: int = 0
    members: dict[str, _Member] = field(default_factory=dict)


class FakeDriver(FakeBackups, FakeAccounts, FakeAccess):
    """The engine contract in memory (see the module docstring). Thread-safe: the job runner, the
    supervisor and the monitor call it from their own threads, as they call the real driver.
    Backups: `tests.fakes.backups` (``backups=False``: this "host" cannot back up; ``clock``: the
    times of commits, fences and sets).

    :param versions: what `versions` reports, newest first.
    :param port_range: ports handed to servers and endpoints, lowest free first.
    :param host: the host every server and endpoint reports (nothing listens there).
    :param haproxy: False: this "host" cannot run group endpoints (`endpoint_support` says why).
    """

    def __init__(
        self,
        *,
        versions: Sequence[InstalledVersion] = DEFAULT_VERSIONS,
        port_range: tuple[int, int] = (15432, 16431),
        host: str = "127.0.0.1",
        haproxy: bool = True,
        backups: bool = True,
        clock: Clock | None = None,
    ) -> None:
        self._init_backups(backups, clock)
        self._catalogs = {}  # accounts and databases (tests.fakes.accounts), by primary
        self._versions = tuple(versions)
        self._low, self._high = port_range
        self._host = host
        self._haproxy = haproxy
        self._lock = threading.RLock()
        self._servers: dict[str, _Server] = {}
        self._endpoints: dict[str, _Endpoint] = {}
        self._failures: dict[str, list[BaseException]] = {}
        self._gates: dict[str, threading.Event] = {}
        self._next_pid = 4000
        self.calls: list[tuple[str, str]] = []  # (method, instance or endpoint id) of every mutating call
        # The `ParameterDriver` half (tests.fakes.parameters), over the same servers and lock.
        self.parameters = FakeParameters(self._lock, self._server, self._running,
                                         lambda i: (self._server(i).role, self._server(i).source_id))
        self._init_access()  # the `AccessDriver` half (tests.fakes.access)

    # ------------------------------------------------------------------ steering (not the contract)

    def fail(self, method: str, error: BaseException) -> None:
        """The next call of ``method`` raises ``error`` (once; queue several for several calls)."""
        with self._lock:
            self._failures.setdefault(method, []).append(error)

    @contextmanager
    def hold(self, method: str) -> Iterator[None]:
        """Calls of ``method`` made inside the block wait (outside the driver's lock) until it ends."""
        gate = threading.Event()
        with self._lock:
            self._gates[method] = gate
        try:
            yield
        finally:
            with self._lock:
                del self._gates[method]
            gate.set()

    def crash(self, instance_id: str) -> None:
        """The server dies without a shutdown (``kill -9``): STOPPED until someone starts it."""
        with self._lock:
            self._server(instance_id).running = False

    def write(self, instance_id: str, nbytes: int) -> datetime:
        """A client writes ``nbytes`` on a running primary and commits: its WAL and its data grow by that
        much. Returns the commit's time (restorable once its WAL is archived: `tests.fakes.backups`)."""
        with self._lock:
            server = self._running(instance_id, "write")
            server.lsn += nbytes
            server.data_bytes += nbytes
            return self._committed(server)

    def set_replay_paused(self, instance_id: str, paused: bool) -> None:
        """Pause or resume WAL replay on a running replica (as the local driver's method of that name):
        while paused its replay position stays where it was and its lag grows with every `write`."""
        with self._lock:
            server = self._running(instance_id, "replay pause")
            if server.role is not ServerRole.REPLICA:
                raise EngineError("replay pause", f"{instance_id} is not a replica in recovery")
            if paused and not server.replay_paused:
                server.lsn = self._upstream_lsn(server)
            server.replay_paused = paused

    def open_sessions(self, endpoint_id: str, instance_id: str, count: int) -> None:
        """``count`` more clients hold a session through the endpoint to member ``instance_id``."""
        with self._lock:
            self._endpoint(endpoint_id).members[instance_id].sessions += count

    def read_only(self, instance_id: str) -> bool:
        """Whether new transactions of the server are read-only by default (`set_read_only`)."""
        with self._lock:
            return self._server(instance_id).read_only

    # ------------------------------------------------------------------ servers

    def versions(self) -> Sequence[InstalledVersion]:
        """The versions given at construction, newest first. Pure read; never fails."""
        return list(self._versions)

    def create_primary(self, request: PrimaryRequest) -> ServerInfo:
        """A complete primary of that id is only started; a replica of that id is an error.

        :raises PortsExhausted: no port is free (transient).
        :raises EngineError: a bad id, admin name or password, a version not installed, the requested
            port taken; nothing is left behind.
        """
        with self._lock:
            self._call("create_primary", request.instance_id)
            instance_id = _check_id(request.instance_id)
            _check_admin(request.admin_user, request.admin_password)
            if request.major_version not in {v.major for v in self._versions}:
                installed = ", ".join(str(v.major) for v in self._versions) or "none"
                raise EngineError("binaries", f"PostgreSQL {request.major_version} is not installed "
                                              f"(installed: {installed})")
            existing = self._servers.get(instance_id)
            if existing is not None:
                if existing.role is not ServerRole.PRIMARY:
                    raise EngineError("validate", f"{instance_id} exists and is a {existing.role} of "
                                                  f"{existing.source_id}")
                return self.start(instance_id)
            server = _Server(instance_id, ServerRole.PRIMARY, None, request.major_version,
                             self._allocate(request.port), request.spec, None)
            self._servers[instance_id] = server
            return self._info(server)

    def create_replicas(self, requests: Sequence[ReplicaRequest]) -> Sequence[ServerInfo]:
        """Replicas of running sources (or of replicas earlier in the batch), each with a slot on its
        source; complete ones of the batch are only started. All or nothing.

        :raises SourceUnavailable: a source is missing, or stopped (transient); nothing was created.
        :raises EngineError: a bad batch (an id twice, a replica of itself, a cycle, an id that
            exists as something else) or no free port; nothing of this call is left behind.
        """
        with self._lock:
            self._call("create_replicas", ",".join(r.instance_id for r in requests))
            ids = [_check_id(r.instance_id) for r in requests]
            if len(set(ids)) != len(ids):
                raise EngineError("validate", "the batch names an instance twice")
            batch = {r.instance_id: r for r in requests}
            for request in requests:
                if request.source_id == request.instance_id:
                    raise EngineError("validate", f"{request.instance_id} cannot replicate itself")
                existing = self._servers.get(request.instance_id)
                if existing is not None and (existing.role is not ServerRole.REPLICA
                                             or existing.source_id != request.source_id):
                    raise EngineError("validate", f"{request.instance_id} exists and is not a replica of "
                                                  f"{request.source_id}")
            _in_dependency_order(requests)  # a cycle fails here, before anything is made
            for request in requests:  # fail fast, before anything is made
                if request.source_id not in batch:
                    self._running_source(request.source_id)
            created: list[str] = []
            try:
                for request in _in_dependency_order(requests):
                    existing = self._servers.get(request.instance_id)
                    if existing is not None:
                        existing.running = True
                        continue
                    source = self._running_source(request.source_id)
                    self._servers[request.instance_id] = _Server(
                        request.instance_id, ServerRole.REPLICA, source.instance_id, source.major_version,
                        self._allocate(request.port), request.spec, CopyMethod.BASEBACKUP,
                        data_bytes=source.data_bytes, read_only=False)
                    created.append(request.instance_id)
                    source.slots.add(slot_name(request.instance_id))
                    self.parameters.copied(source.instance_id, request.instance_id)  # the copy holds tenant.conf
            except BaseException:
                for instance_id in created:
                    self._remove(instance_id)
                raise
            return [self._info(self._servers[r.instance_id]) for r in requests]

    def start(self, instance_id: str) -> ServerInfo:
        """No-op when running. :raises ServerNotFound: no such server."""
        with self._lock:
            self._call("start", instance_id)
            server = self._server(instance_id)
            server.running = True
            return self._info(server)

    def stop(self, instance_id: str) -> None:
        """No-op when stopped. :raises ServerNotFound: no such server."""
        with self._lock:
            self._call("stop", instance_id)
            self._server(instance_id).running = False

    def restart(self, instance_id: str) -> ServerInfo:
        """Stop then start. :raises ServerNotFound: no such server."""
        with self._lock:
            self._call("restart", instance_id)
            server = self._server(instance_id)
            server.running = True
            self.parameters.restarted(instance_id)
            return self._info(server)

    def destroy(self, instance_id: str) -> None:
        """Gone, its port free; its slot is dropped if its source runs, else left there (an orphan,
        until `reconcile_slots` on the source). No-op when missing."""
        with self._lock:
            self._call("destroy", instance_id)
            self._remove(instance_id)

    def promote(self, instance_id: str) -> ServerInfo:
        """The replica becomes a standalone primary; its slot on the old source is dropped if that runs.

        :raises ServerNotFound: no such server.
        """
        with self._lock:
            self._call("promote", instance_id)
            server = self._server(instance_id)
            server.running = True
            if server.role is ServerRole.REPLICA:
                server.lsn = self._upstream_lsn(server)
                self._drop_slot(server.source_id, instance_id)
                server.role, server.source_id, server.replay_paused = ServerRole.PRIMARY, None, False
            return self._info(server)

    def reconcile_slots(self, instance_id: str, replica_ids: Collection[str] = ()) -> list[str]:
        """Drop the slots on ``instance_id`` that feed neither one of ``replica_ids`` nor a replica of
        it this driver has; returns their names, sorted.

        :raises ServerNotFound: no such server.
        :raises EngineError: it is not running (transient).
        """
        with self._lock:
            self._call("reconcile_slots", instance_id)
            server = self._running(instance_id, "reconcile slots")
            wanted = {slot_name(s.instance_id) for s in self._servers.values() if s.source_id == instance_id}
            wanted |= {slot_name(i) for i in replica_ids}
            orphans = sorted(server.slots - wanted)
            server.slots -= set(orphans)
            return orphans

    def status(self, instance_id: str) -> ServerInfo:
        """:raises ServerNotFound: no such server."""
        with self._lock:
            return self._info(self._server(instance_id))

    def replication(self, instance_id: str) -> Replication:
        """As a source: one streaming link per running replica of it; as a replica: what it received
        (everything its source wrote) and replayed (the same, unless replay is paused).

        :raises ServerNotFound: no such server.
        :raises EngineError: it is not running (transient).
        """
        with self._lock:
            server = self._running(instance_id, "replication")
            current = self._current_lsn(server)
            links = []
            for replica in self._replicas_of(instance_id):
                if not replica.running:
                    continue
                replayed = self._replayed_lsn(replica)
                lag = current - replayed
                links.append(ReplicaLink(replica.instance_id, "streaming", lsn_text(current), lsn_text(current),
                                         lsn_text(current), lsn_text(replayed), lag, None if lag == 0 else 1.0))
            if server.role is ServerRole.PRIMARY:
                return Replication(instance_id, lsn_text(current), tuple(links))
            return Replication(instance_id, lsn_text(current), tuple(links), receive_lsn=lsn_text(current),
                               replay_lsn=lsn_text(self._replayed_lsn(server)),
                               replay_delay_seconds=1.0 if server.replay_paused else 0.0,
                               wal_receiver_status="streaming" if self._source_running(server) else None)

    def stats(self, instance_id: str) -> ServerStats:
        """No client connections, the data's size, and the server's slots (mapped to their replicas).

        :raises ServerNotFound: no such server.
        :raises EngineError: it is not running (transient).
        """
        with self._lock:
            server = self._running(instance_id, "stats")
            by_slot = {slot_name(r.instance_id): r for r in self._replicas_of(instance_id)}
            current = self._current_lsn(server)
            slots = []
            for name in sorted(server.slots):
                replica = by_slot.get(name)
                retained = current - self._replayed_lsn(replica) if replica is not None else 0
                slots.append(SlotInfo(name, replica is not None and replica.running, retained,
                                      replica.instance_id if replica is not None else None, "reserved", None))
            return ServerStats(instance_id, 0, server.spec.max_connections, server.data_bytes, tuple(slots))

    def servers(self) -> Sequence[ServerInfo]:
        """Every server with its state, in id order."""
        with self._lock:
            return [self._info(s) for _, s in sorted(self._servers.items())]

    def disk_usage(self, instance_id: str) -> int:
        """What the server holds (`FRESH_SERVER_BYTES` plus what was `write`-n). :raises ServerNotFound:"""
        with self._lock:
            return self._server(instance_id).data_bytes

    def set_read_only(self, instance_id: str, read_only: bool) -> bool:
        """True when it changed something, False when the server already was so.

        :raises ServerNotFound: no such server.
        :raises EngineError: a change is needed and the server is not running (transient).
        """
        with self._lock:
            self._call("set_read_only", instance_id)
            server = self._server(instance_id)
            if server.read_only is read_only:
                return False
            if not server.running:
                raise EngineError("read-only mode", f"{instance_id} is not reachable: not running", transient=True)
            server.read_only = read_only
            return True

    def apply_spec(self, instance_id: str, spec: ServerSpec, floor: Mapping[str, int] | None = None) -> Resized:
        """Like the local driver: the spec recorded; a replica's max_connections at least its source's
        and ``floor``'s; a restart when CPU, memory or max_connections change, a reload for storage
        alone, nothing for the same spec. :raises ServerNotFound: no such server. :raises EngineError:
        it is not running (transient)."""
        with self._lock:
            self._call("apply_spec", instance_id)
            server = self._running(instance_id, "resize")
            wanted = int((floor or {}).get("max_connections", 0))
            source = self._servers.get(server.source_id or "")
            if server.role is ServerRole.REPLICA and source is not None:
                wanted = max(wanted, source.max_connections)
            before = (server.spec, server.max_connections)
            server.spec = spec
            server.floor_connections = wanted
            if (server.spec, server.max_connections) == before:
                return Resized(self._info(server), changed=False, restarted=False)
            restart = (before[0].cpu, before[0].memory_mb, before[1]) != (spec.cpu, spec.memory_mb,
                                                                          server.max_connections)
            server.restarts += int(restart)
            return Resized(self._info(server), changed=True, restarted=restart)

    def restarts_of(self, instance_id: str) -> int:
        """How many times `apply_spec` restarted the server (for tests)."""
        with self._lock:
            return self._server(instance_id).restarts

    def max_connections_of(self, instance_id: str) -> int:
        """The server's effective max_connections: its spec's, or its floor where higher (for tests)."""
        with self._lock:
            return self._server(instance_id).max_connections

    def rotate_logs(self) -> None:
        """Nothing to rotate: the fake writes no logs."""

    # ------------------------------------------------------------------ parameters (tests.fakes.parameters)

    def settings(self, instance_id: str) -> Sequence[ServerSetting]:
        return self.parameters.settings(instance_id)

    def default_settings(self, major_version: int) -> Sequence[ServerSetting]:
        return self.parameters.default_settings(major_version)

    def check_parameters(self, instance_id: str, values: Mapping[str, str]) -> dict[str, str]:
        return self.parameters.check_parameters(instance_id, values)

    def write_parameters(self, instance_id: str, values: Mapping[str, str]) -> ParametersApplied:
        with self._lock:
            self._call("write_parameters", instance_id)
            return self.parameters.write_parameters(instance_id, values)

    def replay_paused(self, instance_id: str) -> bool:
        return self.parameters.replay_paused(instance_id)

    def server_log(self, instance_id: str, since: datetime, until: datetime, *,
                   limit: int = 10_000) -> Sequence[LogRecord]:
        return self.parameters.server_log(instance_id, since, until, limit=limit)

    # ------------------------------------------------------------------ group endpoints

    def endpoint_support(self) -> str:
        return "" if self._haproxy else "HAProxy is not installed (the fake driver was built without it)"

    def ensure_endpoint(self, spec: EndpointSpec) -> EndpointInfo:
        """Create or correct the endpoint so that it serves exactly ``spec``: members without a server
        are left out; a member leaving loses its sessions.

        :raises EndpointUnavailable: built with ``haproxy=False``.
        :raises PortsExhausted: no port is free (transient).
        :raises EngineError: a weight outside 1-256.
        """
        with self._lock:
            self._call("ensure_endpoint", spec.endpoint_id)
            endpoint_id = _check_id(spec.endpoint_id)
            if not self._haproxy:
                raise EndpointUnavailable("ensure endpoint", self.endpoint_support())
            wanted = {m.instance_id: m for m in spec.members if m.instance_id in self._servers}
            for member in wanted.values():
                if not 1 <= member.weight <= 256:
                    raise EngineError("ensure endpoint",
                                      f"weight {member.weight} of {member.instance_id} is not 1-256")
            endpoint = self._endpoints.get(endpoint_id)
            if endpoint is None:
                endpoint = self._endpoints[endpoint_id] = _Endpoint(endpoint_id, self._allocate(None))
            if not endpoint.running:
                endpoint.running = True
                endpoint.members = {}  # a restarted balancer starts without sessions
            if not endpoint.pid:
                self._next_pid += 1
                endpoint.pid = self._next_pid
            for instance_id in list(endpoint.members):
                if instance_id not in wanted:
                    del endpoint.members[instance_id]  # its sessions through the endpoint end with it
            for instance_id, member in sorted(wanted.items()):
                found = endpoint.members.get(instance_id)
                if found is None:
                    endpoint.members[instance_id] = _Member(instance_id, member.weight, member.drained)
                else:
                    found.weight, found.drained = member.weight, member.drained
            return self._endpoint_info(endpoint, members=True)

    def endpoint(self, endpoint_id: str) -> EndpointInfo:
        """:raises EndpointNotFound: no such endpoint."""
        with self._lock:
            return self._endpoint_info(self._endpoint(endpoint_id), members=True)

    def endpoints(self) -> Sequence[EndpointInfo]:
        """Every endpoint, in id order, without member states."""
        with self._lock:
            return [self._endpoint_info(e, members=False) for _, e in sorted(self._endpoints.items())]

    def drop_sessions(self, endpoint_id: str) -> int:
        """Close every session through the endpoint; returns how many were open.

        :raises EndpointNotFound: no such endpoint.
        """
        with self._lock:
            self._call("drop_sessions", endpoint_id)
            endpoint = self._endpoint(endpoint_id)
            if not endpoint.running:
                return 0
            dropped = sum(m.sessions for m in endpoint.members.values())
            for member in endpoint.members.values():
                member.sessions = 0
            return dropped

    def destroy_endpoint(self, endpoint_id: str) -> None:
        """Gone with its sessions; its port free. No-op when missing."""
        with self._lock:
            self._call("destroy_endpoint", endpoint_id)
            self._endpoints.pop(endpoint_id, None)
            self._forget_access(endpoint_id)

    # ------------------------------------------------------------------ helpers

    def _call(self, method: str, subject: str) -> None:
        """Record a mutating call, wait while a test `hold`-s it, and raise the failure queued for it."""
        self.calls.append((method, subject))
        gate = self._gates.get(method)
        if gate is not None:
            # The lock is this thread's (an RLock, held once by the caller): let the others work meanwhile.
            self._lock.release()
            try:
                if not gate.wait(HOLD_TIMEOUT):
                    raise EngineError(method, f"held for more than {HOLD_TIMEOUT:.0f} s by the test")
            finally:
                self._lock.acquire()
        queued = self._failures.get(method)
        if queued:
            raise queued.pop(0)

    def _server(self, instance_id: str) -> _Server:
        server = self._servers.get(instance_id)
        if server is None:
            raise ServerNotFound(instance_id)
        return server

    def _running(self, instance_id: str, step: str) -> _Server:
        server = self._server(instance_id)
        if not server.running:
            raise EngineError(step, f"{instance_id} is not running or not reachable", transient=True)
        return server

    def _running_source(self, source_id: str) -> _Server:
        source = self._servers.get(source_id)
        if source is None:
            raise SourceUnavailable("source", f"source {source_id} does not exist")
        if not source.running:
            raise SourceUnavailable("source", f"source {source_id} is not running", transient=True)
        return source

    def _endpoint(self, endpoint_id: str) -> _Endpoint:
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is None:
            raise EndpointNotFound(endpoint_id)
        return endpoint

    def _replicas_of(self, instance_id: str) -> list[_Server]:
        return [s for _, s in sorted(self._servers.items()) if s.source_id == instance_id]

    def _source_running(self, server: _Server) -> bool:
        source = self._servers.get(server.source_id or "")
        return source is not None and source.running

    def _upstream_lsn(self, server: _Server) -> int:
        """What a replica has received: everything its source has (down a cascade), while it streams."""
        source = self._servers.get(server.source_id or "")
        if server.role is ServerRole.PRIMARY or source is None:
            return server.lsn
        return max(server.lsn, self._current_lsn(source))

    def _current_lsn(self, server: _Server) -> int:
        return server.lsn if server.role is ServerRole.PRIMARY else self._upstream_lsn(server)

    def _replayed_lsn(self, server: _Server) -> int:
        return server.lsn if server.replay_paused else self._upstream_lsn(server)

    def _allocate(self, requested: int | None) -> int:
        taken = {s.port for s in self._servers.values()} | {e.port for e in self._endpoints.values()}
        if requested is not None:
            if requested in taken or not self._low <= requested <= self._high:
                raise EngineError("allocate port", f"port {requested} is already in use")
            return requested
        for port in range(self._low, self._high + 1):
            if port not in taken:
                return port
        raise PortsExhausted(self._low, self._high)

    def _drop_slot(self, source_id: str | None, instance_id: str) -> None:
        source = self._servers.get(source_id or "")
        if source is not None and source.running:
            source.slots.discard(slot_name(instance_id))

    def _remove(self, instance_id: str) -> None:
        self._forget_access(instance_id)
        server = self._servers.pop(instance_id, None)
        if server is not None and server.role is ServerRole.REPLICA:
            self._drop_slot(server.source_id, instance_id)

    def _info(self, server: _Server) -> ServerInfo:
        return ServerInfo(
            instance_id=server.instance_id,
            role=server.role,
            source_id=server.source_id,
            major_version=server.major_version,
            host=self._host,
            port=server.port,
            data_dir=f"/fake/instances/{server.instance_id}/data",
            state=ServerState.RUNNING if server.running else ServerState.STOPPED,
            in_recovery=(server.role is ServerRole.REPLICA) if server.running else None,
            copy_method=server.copy_method if server.role is ServerRole.REPLICA else None,
        )

    def _endpoint_info(self, endpoint: _Endpoint, *, members: bool) -> EndpointInfo:
        states: tuple[MemberState, ...] = ()
        if members and endpoint.running:
            states = tuple(
                MemberState(m.instance_id, f"{self._host}:{self._servers[m.instance_id].port}", m.weight,
                            MemberAdmin.DRAIN if m.drained else MemberAdmin.READY,
                            self._servers[m.instance_id].running, m.sessions)
                for _, m in sorted(endpoint.members.items()) if m.instance_id in self._servers)
        return EndpointInfo(endpoint.endpoint_id, self._host, endpoint.port,
                            ServerState.RUNNING if endpoint.running else ServerState.STOPPED,
                            endpoint.pid if endpoint.running else None, states)


def _check_id(instance_id: str) -> str:
    if not _INSTANCE_ID.fullmatch(instance_id):
        raise EngineError("validate", f"invalid instance id {instance_id!r}: letters, digits, '-', '_', '.'; max 63")
    return instance_id


def _check_admin(name: str, password: str) -> None:
    if not name or len(name) > 63 or name.lower() in _RESERVED_ROLES or name.lower().startswith("pg_"):
        raise EngineError("validate", f"admin user name {name!r} is reserved or invalid")
    if not password:
        raise EngineError("validate", "the admin password is empty")


def _in_dependency_order(requests: Sequence[ReplicaRequest]) -> list[ReplicaRequest]:
    """``requests`` with each replica after the replica of the batch it copies.

    :raises EngineError: the batch has a cycle.
    """
    pending, ordered = list(requests), []
    while pending:
        ids = {r.instance_id for r in pending}
        ready = [r for r in pending if r.source_id not in ids]
        if not ready:
            raise EngineError("validate", "the batch has a replication cycle")
        ordered.extend(ready)
        pending = [r for r in pending if r.source_id in ids]
    return ordered


__all__ = ["DEFAULT_VERSIONS", "FakeDriver", "lsn_text", "slot_name"]
