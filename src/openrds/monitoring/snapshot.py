"""What the monitor saw in one round: immutable, so every reader reasons over one consistent view."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class ServerView:
    code: str  # instance code (the engine's server id)
    tenant_id: str
    up: bool
    in_recovery: bool | None = None
    connections: int | None = None
    max_connections: int | None = None
    database_size_bytes: int | None = None
    current_lsn: int | None = None  # primary: current WAL position; replica: last received
    replay_lsn: int | None = None  # replicas
    wal_receiver_status: str | None = None  # replicas: streaming, ... None when not connected
    error: str = ""


@dataclass(frozen=True, slots=True)
class LinkView:
    """One replica as its upstream sees it, plus the lag figures derived from both sides."""

    source: str  # upstream code (a primary, or a replica feeding a cascade)
    replica: str
    streaming: bool  # listed in the upstream's pg_stat_replication with state "streaming"
    state: str  # pg_stat_replication.state, or "absent"
    lag_bytes: int | None  # upstream position - replica replay position
    lag_seconds: float | None  # how long ago the upstream stood where the replica has replayed to
    sent_lsn: int | None = None
    replay_lsn: int | None = None
    slot_active: bool | None = None
    slot_retained_bytes: int | None = None
    slot_wal_status: str | None = None  # reserved, extended, unreserved, lost (engine.driver.SlotInfo)
    slot_safe_wal_bytes: int | None = None  # WAL the upstream may still write before the slot is lost


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_at: datetime
    round_seconds: float
    servers: dict[str, ServerView] = field(default_factory=dict)
    links: dict[str, LinkView] = field(default_factory=dict)  # by replica code

    def link(self, replica_code: str) -> LinkView | None:
        return self.links.get(replica_code)
