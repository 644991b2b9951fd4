"""The one poller of replication state.

About once a second it asks the engine, for every server the store says should be running, for its
replication view and figures; it keeps (time, LSN) samples per upstream to derive seconds of lag from
bytes, and publishes one immutable `Snapshot`. Listeners (lag eviction) run after each round; readers
(APIs, console, /metrics) call `snapshot()` and never touch a server themselves.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from openrds.clock import Clock
from openrds.domain.states import Lifecycle
from openrds.engine.driver import Driver, EngineError, ReplicaLink, ServerState, SlotInfo
from openrds.monitoring.lag import LsnHistory, parse_lsn
from openrds.monitoring.snapshot import LinkView, ServerView, Snapshot
from openrds.periodic import Periodic
from openrds.persistence.uow import Store
from openrds.persistence.version import Remembered

log = logging.getLogger(__name__)

_WATCHED = (Lifecycle.RUNNING, Lifecycle.RESTARTING, Lifecycle.CREATING, Lifecycle.EXPANDING,
            Lifecycle.MODIFYING_PARAMETERS)


@dataclass(frozen=True, slots=True)
class _Target:
    code: str
    tenant_id: str
    source: str | None  # upstream code for replicas


class ReplicationMonitor:
    def __init__(self, store: Store, driver: Driver, clock: Clock, *, interval: float = 1.0) -> None:
        self._store = store
        self._driver = driver
        self._clock = clock
        self._histories: dict[str, LsnHistory] = {}
        self._snapshot = Snapshot(taken_at=clock.now(), round_seconds=0.0)
        self._listeners: list[Callable[[Snapshot], None]] = []
        self._loop = Periodic("monitor", interval, self.poll_once)
        self._lock = threading.Lock()
        self._targets = Remembered(store.version, self._read_targets)  # the same servers until a commit

    def snapshot(self) -> Snapshot:
        with self._lock:
            return self._snapshot

    def on_round(self, listener: Callable[[Snapshot], None]) -> None:
        self._listeners.append(listener)

    def start(self) -> None:
        self._loop.start()

    def stop(self) -> None:
        self._loop.stop()

    def _read_targets(self) -> list[_Target]:
        with self._store.read() as uow:
            watched = uow.instances(None).watched(_WATCHED)
        codes = {instance_id: code for instance_id, code, _, _ in watched}
        return [_Target(code, tenant, codes.get(master) if master else None) for _, code, tenant, master in watched]

    def poll_once(self) -> Snapshot:
        started = time.monotonic()
        targets = self._targets.get()
        servers: dict[str, ServerView] = {}
        upstream_rows: dict[str, dict[str, object]] = {}
        states = {s.instance_id: s.state for s in self._driver.servers()}
        # Upstreams first: their LSN is sampled before the replicas' replay positions, so a replica can
        # never look ahead of its source.
        for target in sorted(targets, key=lambda t: t.source is not None):
            servers[target.code] = self._poll_server(target, states.get(target.code), upstream_rows)
        now = time.monotonic()
        links: dict[str, LinkView] = {}
        for target in targets:
            if target.source is None:
                continue
            links[target.code] = self._link(target, servers, upstream_rows.get(target.source, {}), now)
        snapshot = Snapshot(taken_at=self._clock.now(), round_seconds=time.monotonic() - started,
                            servers=servers, links=links)
        with self._lock:
            self._snapshot = snapshot
        for listener in self._listeners:
            try:
                listener(snapshot)
            except Exception:
                log.exception("monitor: listener failed")
        return snapshot

    def _poll_server(self, target: _Target, state: ServerState | None,
                     upstream_rows: dict[str, dict[str, object]]) -> ServerView:
        if state is not ServerState.RUNNING:
            return ServerView(target.code, target.tenant_id, up=False, error=f"server {state or 'missing'}")
        try:
            replication = self._driver.replication(target.code)
            stats = self._driver.stats(target.code)
        except EngineError as exc:
            return ServerView(target.code, target.tenant_id, up=False, error=str(exc.detail))
        current = parse_lsn(replication.current_lsn)
        if current is not None:
            self._histories.setdefault(target.code, LsnHistory()).add(time.monotonic(), current)
        rows: dict[str, object] = {link.replica_id: link for link in replication.replicas}
        rows.update({f"slot:{slot.replica_id}": slot for slot in stats.slots if slot.replica_id})
        upstream_rows[target.code] = rows
        return ServerView(
            target.code, target.tenant_id, up=True, in_recovery=replication.receive_lsn is not None
            or replication.wal_receiver_status is not None, connections=stats.connections,
            max_connections=stats.max_connections, database_size_bytes=stats.database_size_bytes,
            current_lsn=current, replay_lsn=parse_lsn(replication.replay_lsn),
            wal_receiver_status=replication.wal_receiver_status,
        )

    def _link(self, target: _Target, servers: dict[str, ServerView], rows: dict[str, object], now: float) -> LinkView:
        assert target.source is not None
        row = rows.get(target.code)
        slot = rows.get(f"slot:{target.code}")
        slot_active = slot.active if isinstance(slot, SlotInfo) else None
        retained = slot.retained_bytes if isinstance(slot, SlotInfo) else None
        wal_status = slot.wal_status if isinstance(slot, SlotInfo) else None
        safe_wal = slot.safe_wal_bytes if isinstance(slot, SlotInfo) else None
        upstream = servers.get(target.source)
        replica = servers.get(target.code)
        if not isinstance(row, ReplicaLink) or upstream is None or not upstream.up:
            return LinkView(target.source, target.code, streaming=False, state="absent", lag_bytes=None,
                            lag_seconds=None, slot_active=slot_active, slot_retained_bytes=retained,
                            slot_wal_status=wal_status, slot_safe_wal_bytes=safe_wal)
        replay = parse_lsn(row.replay_lsn)
        if replica is not None and replica.replay_lsn is not None:
            replay = replica.replay_lsn  # the replica's own word is fresher than its feedback message
        lag_bytes = max(0, upstream.current_lsn - replay) if upstream.current_lsn is not None and replay is not None \
            else row.lag_bytes
        history = self._histories.get(target.source)
        lag_seconds = 0.0 if lag_bytes == 0 else (
            history.seconds_behind(replay, now) if history is not None and replay is not None else None)
        return LinkView(target.source, target.code, streaming=row.state == "streaming", state=row.state,
                        lag_bytes=lag_bytes, lag_seconds=lag_seconds, sent_lsn=parse_lsn(row.sent_lsn),
                        replay_lsn=replay, slot_active=slot_active, slot_retained_bytes=retained,
                        slot_wal_status=wal_status, slot_safe_wal_bytes=safe_wal)

