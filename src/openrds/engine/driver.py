"""The contract between the control plane and whatever runs PostgreSQL servers.

`jobs/` calls these methods; only `engine/` touches PostgreSQL processes and data directories.
Every mutating method is idempotent: calling it again after a crash part-way (of the service or of
the server) converges to the same end state, so a job step can simply be re-run. Every failure is an
`EngineError` naming the step that failed and the tail of what PostgreSQL printed (secrets masked).
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class EngineError(Exception):
    """A driver operation failed.

    :param step: the step that failed (``initdb``, ``pg_basebackup``, ``start``, ``create slot`` ...).
    :param detail: what went wrong, in one sentence.
    :param output_tail: the last lines PostgreSQL or the tool printed, secrets masked.
    :param transient: True when retrying the same call later may succeed (a port race, a source that
        is restarting); the job runner retries those with backoff and undoes the job on the others.
    """

    def __init__(self, step: str, detail: str, output_tail: str = "", *, transient: bool = False) -> None:
        self.step = step
        self.detail = detail
        self.output_tail = output_tail
        self.transient = transient
        tail = f"\n{output_tail}" if output_tail else ""
        super().__init__(f"{step}: {detail}{tail}")


class ServerNotFound(EngineError):
    """No server with that instance id exists under the data root."""

    def __init__(self, instance_id: str) -> None:
        super().__init__("lookup", f"no server for instance {instance_id}")
        self.instance_id = instance_id


class SourceUnavailable(EngineError):
    """The source of a replica is missing, stopped, or does not accept replication connections."""


class PortsExhausted(EngineError):
    """Every port of the configured range is taken (transient: destroying a server or an endpoint frees one)."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__("allocate port", f"no free port in {low}-{high}", transient=True)


class CopyMethod(enum.StrEnum):
    """How a replica's data directory was made."""

    CLONE = "clone"  # reflink copy of the source's files inside a backup window
    BASEBACKUP = "basebackup"  # pg_basebackup -X stream -c fast
    REPOSITORY = "repository"  # pgbackrest restore --type=standby of the source's newest backup set


class ServerRole(enum.StrEnum):
    PRIMARY = "primary"
    REPLICA = "replica"


class ServerState(enum.StrEnum):
    RUNNING = "running"  # postmaster alive and accepting connections
    STOPPED = "stopped"  # data directory present, no postmaster
    MISSING = "missing"  # no data directory


@dataclass(frozen=True, slots=True)
class ServerSpec:
    """The resources a server is configured for (from the catalogue's spec)."""

    cpu: int
    memory_mb: int
    max_connections: int
    storage_gb: int = 0  # the instance's storage quota; 0: unknown (meta files written before it was recorded)


@dataclass(frozen=True, slots=True)
class PrimaryRequest:
    instance_id: str
    major_version: int
    spec: ServerSpec
    charset: str  # "UTF8" or "LATIN1"
    admin_user: str
    admin_password: str = field(repr=False)
    port: int | None = None  # None: allocate from the configured range


@dataclass(frozen=True, slots=True)
class ReplicaRequest:
    instance_id: str
    source_id: str  # a primary or another replica (cascading)
    spec: ServerSpec
    port: int | None = None


@dataclass(frozen=True, slots=True)
class InstalledVersion:
    major: int  # 15
    full: str  # "15.18"
    bindir: str


@dataclass(frozen=True, slots=True)
class ServerInfo:
    """What the driver knows about one server, read from its directory (and the live process)."""

    instance_id: str
    role: ServerRole
    source_id: str | None
    major_version: int
    host: str  # where a client really connects
    port: int
    data_dir: str
    state: ServerState
    in_recovery: bool | None  # None when not running
    copy_method: CopyMethod | None  # None for primaries


@dataclass(frozen=True, slots=True)
class ReplicaLink:
    """One row of a source's pg_stat_replication, mapped to the replica by application_name."""

    replica_id: str
    state: str  # streaming, catchup, startup, backup, stopping
    sent_lsn: str | None
    write_lsn: str | None
    flush_lsn: str | None
    replay_lsn: str | None
    lag_bytes: int | None
    lag_seconds: float | None


@dataclass(frozen=True, slots=True)
class Replication:
    """A server's replication view: its replicas (as a source) and its own progress (as a replica)."""

    instance_id: str
    current_lsn: str | None  # primary: pg_current_wal_lsn(); replica: pg_last_wal_receive_lsn()
    replicas: tuple[ReplicaLink, ...] = ()
    receive_lsn: str | None = None  # replica only
    replay_lsn: str | None = None  # replica only
    replay_delay_seconds: float | None = None  # replica only
    wal_receiver_status: str | None = None  # replica only: streaming, ... or None when not connected


@dataclass(frozen=True, slots=True)
class SlotInfo:
    """A physical replication slot on a server (one per replica fed from it)."""

    name: str
    active: bool
    retained_bytes: int | None  # WAL the slot keeps: current LSN - restart_lsn
    replica_id: str | None  # the replica it feeds, None for a slot no known replica uses (an orphan)
    # pg_replication_slots.wal_status: reserved, extended (within max_wal_size / max_slot_wal_keep_size),
    # unreserved (over max_slot_wal_keep_size: invalidated at the next checkpoint unless the replica catches
    # up), lost (invalidated: the WAL its replica needs is gone for good); None when not reported.
    wal_status: str | None = None
    safe_wal_bytes: int | None = None  # WAL that can still be written before the slot is lost; None: no limit


@dataclass(frozen=True, slots=True)
class ServerStats:
    """Figures of a running server that operators watch (read by the monitor, never at scrape time)."""

    instance_id: str
    connections: int  # client backends
    max_connections: int
    database_size_bytes: int  # all databases
    slots: tuple[SlotInfo, ...] = ()


class EndpointUnavailable(EngineError):
    """This host cannot run group endpoints (HAProxy is not installed, or is not runnable)."""


class EndpointNotFound(EngineError):
    """No endpoint with that id exists under the data root."""

    def __init__(self, endpoint_id: str) -> None:
        super().__init__("lookup", f"no endpoint {endpoint_id}")
        self.endpoint_id = endpoint_id


class MemberAdmin(enum.StrEnum):
    """What an endpoint lets through to one member (the balancer's admin state)."""

    READY = "ready"  # in rotation
    DRAIN = "drain"  # no new connections; established sessions are kept
    MAINT = "maint"  # being added or removed: no new connections, no health checks


@dataclass(frozen=True, slots=True)
class EndpointMember:
    """One server behind an endpoint, as the control plane wants it."""

    instance_id: str  # a server of this driver (its address is the driver's business)
    weight: int  # share of new connections, 1-256 (Tencent's 1-50 maps one to one)
    drained: bool = False  # evicted: no new connections, established sessions kept


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """The desired state of one endpoint: one address that balances new connections over members."""

    endpoint_id: str  # the read-only group's id
    members: tuple[EndpointMember, ...] = ()


@dataclass(frozen=True, slots=True)
class MemberState:
    """One member as the running balancer sees it."""

    instance_id: str
    address: str  # host:port the balancer connects to
    weight: int  # current weight
    admin: MemberAdmin
    up: bool  # its health checks pass (a PostgreSQL startup exchange every second)
    sessions: int  # established sessions through the endpoint


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    endpoint_id: str
    host: str  # where a client connects (the group's DBInstanceNetInfo)
    port: int
    state: ServerState  # RUNNING (the balancer answers), STOPPED, MISSING
    pid: int | None = None  # the serving balancer process
    members: tuple[MemberState, ...] = ()  # read live when RUNNING, else empty


class EndpointDriver(Protocol):
    """Runs read-only group endpoints: one balancer process per group, on the group's own port.

    An endpoint is a data-plane process like a server: daemonised, it outlives the service and is
    adopted by a new driver over the same data root. The control plane states what it wants with an
    `EndpointSpec`; `ensure_endpoint` makes the running balancer match it through its runtime API
    (membership, weights, drain take effect for the very next connection, without a reload), and
    reloads (established sessions kept) only when its own configuration template changed. What the
    runtime API changed is also written to the configuration file, and re-applied after any reload or
    restart, so the recorded state always wins.
    """

    def endpoint_support(self) -> str:
        """Empty when this host can run endpoints, else why not (one sentence). Pure read; ~µs."""
        ...

    def ensure_endpoint(self, spec: EndpointSpec) -> EndpointInfo:
        """Create, start, adopt or correct the endpoint so that it serves exactly ``spec``; idempotent.

        A new endpoint gets a port from the servers' range. Members whose server does not exist (yet)
        are left out. A member leaving the endpoint has its sessions through it closed. Time budget:
        ~1 ms per change when running, ~0.2 s when the balancer has to be started or reloaded.
        :raises EndpointUnavailable: HAProxy is missing.
        :raises PortsExhausted: no port is free (transient).
        :raises EngineError: the balancer failed to start (with its output).
        """
        ...

    def endpoint(self, endpoint_id: str) -> EndpointInfo:
        """The endpoint's address, process and live member states. Read-only; ~ms.

        :raises EndpointNotFound: no such endpoint.
        """
        ...

    def endpoints(self) -> Sequence[EndpointInfo]:
        """Every endpoint under the data root (without member states; adoption, orphan removal)."""
        ...

    def drop_sessions(self, endpoint_id: str) -> int:
        """Close every session established through the endpoint, so new connections follow the current
        weights (rebalance). Returns how many were open. No-op when not running.

        :raises EndpointNotFound: no such endpoint.
        """
        ...

    def destroy_endpoint(self, endpoint_id: str) -> None:
        """Stop the balancer (its sessions end), remove its files and release its port; no-op when missing."""
        ...


# The resize part of the contract builds on this module's errors and values, so it is imported
# once they exist (the part's module imports this one).
from openrds.engine.access import AccessDriver  # noqa: E402
from openrds.engine.accounts import AccountDriver  # noqa: E402
from openrds.engine.backups import BackupDriver  # noqa: E402
from openrds.engine.parameters import ParameterDriver  # noqa: E402
from openrds.engine.resize import ResizeDriver  # noqa: E402


class Driver(EndpointDriver, ResizeDriver, AccountDriver, ParameterDriver, BackupDriver, AccessDriver, Protocol):
    """Runs PostgreSQL servers (and the read-only group endpoints in front of them, `EndpointDriver`).
    Implementations: `engine.local.LocalDriver` (this host)."""

    def versions(self) -> Sequence[InstalledVersion]:
        """The PostgreSQL major versions installed, newest first. Pure read; never fails."""
        ...

    def create_primary(self, request: PrimaryRequest) -> ServerInfo:
        """Create, configure and start a writable server with the tenant's admin role; idempotent.

        Returns once the server accepts connections. Time budget: about 30 s.
        :raises EngineError: and leaves no directory, port or process behind.
        """
        ...

    def create_replicas(self, requests: Sequence[ReplicaRequest]) -> Sequence[ServerInfo]:
        """Create streaming read-only replicas, sharing one backup window per source; idempotent.

        Returns once every replica accepts read-only connections and its source's
        pg_stat_replication shows it streaming.
        :raises SourceUnavailable: the source is missing or not running.
        :raises EngineError: and leaves no directory, port or slot of any of them behind.
        """
        ...

    def start(self, instance_id: str) -> ServerInfo:
        """Start a stopped server and wait until it accepts connections; no-op when running."""
        ...

    def stop(self, instance_id: str) -> None:
        """Stop the server (fast shutdown); no-op when already stopped."""
        ...

    def restart(self, instance_id: str) -> ServerInfo:
        """Stop then start; returns when it accepts connections again."""
        ...

    def destroy(self, instance_id: str) -> None:
        """Stop, remove the directory, release the port, drop the slot on its source; no-op when missing.
        A source that is down keeps the slot until `reconcile_slots` runs on it."""
        ...

    def promote(self, instance_id: str) -> ServerInfo:
        """Make a replica a writable standalone primary and drop its slot on the old source (left for
        `reconcile_slots` when that source is down)."""
        ...

    def reconcile_slots(self, instance_id: str, replica_ids: Collection[str] = ()) -> list[str]:
        """Drop the replication slots on a running server that feed no replica of it: neither one of
        ``replica_ids`` (what the control plane records as its replicas) nor one the driver runs or is
        making from it. Returns the names dropped. Called on a server that comes back, since a
        `destroy` or `promote` while it was down leaves the slot there, holding WAL.

        :raises ServerNotFound: no such server.
        :raises EngineError: it is not running (transient).
        """
        ...

    def status(self, instance_id: str) -> ServerInfo:
        """Current state from the directory and the live process.

        :raises ServerNotFound: no such server.
        """
        ...

    def replication(self, instance_id: str) -> Replication:
        """Replication view of a running server.

        :raises EngineError: the server is not running.
        """
        ...

    def stats(self, instance_id: str) -> ServerStats:
        """Connections, database size and replication slots of a running server. Read-only; ~ms.

        :raises EngineError: the server is not running.
        """
        ...

    def servers(self) -> Sequence[ServerInfo]:
        """Every server under the data root with its state (adoption after a restart of the service)."""
        ...

    def disk_usage(self, instance_id: str) -> int:
        """Bytes the server's data (its data directory, WAL included) holds now, running or not. Pure
        read, no connection; ~12 ms per thousand files (a fresh server has ~1000).

        :raises ServerNotFound: no such server.
        """
        ...

    def set_read_only(self, instance_id: str, read_only: bool) -> bool:
        """Make new transactions of every session read-only by default (``default_transaction_read_only``)
        or writable again, from the next transaction of open sessions on; kept across restarts and
        not inherited by replicas made from it. Idempotent: True when it changed something, False
        (and no connection) when the server already was so. A session may still set the default
        back for itself; the service's own sessions do. Time budget: ~0.2 ms unchanged, ~70 ms when it
        changes (a connection and a reload).

        :raises ServerNotFound: no such server.
        :raises EngineError: a change is needed and the server is not running (transient).
        """
        ...

    def rotate_logs(self) -> None:
        """Keep every server's own log within the engine's bound (the disk also holds the data).

        Called every few seconds by the supervisor; cheap when nothing is due; never stops a server.
        """
        ...
