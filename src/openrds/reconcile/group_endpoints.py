"""Keeps every read-only group's endpoint true to the store, and decides who is in rotation.

The store holds what a group should serve: its members, their weights and whether each is in
rotation (`MemberStatus`). `GroupEndpoints` turns that into an `EndpointSpec` and has the engine
apply it (`EndpointDriver.ensure_endpoint`: ~1 ms per change through HAProxy's runtime API). It is
called three ways:

- synchronously by `services.groups` right after a membership, weight or configuration change is
  committed (best effort: a failure is logged and the next round repairs it);
- after every round of the replication monitor (`on_round`): lag and fault eviction for every group
  (`domain.eviction`, pure), each change recorded with an event, then every endpoint reconciled: a
  balancer that died is started again, one whose group is gone is removed, a member whose create job
  just finished joins. That round is also how a restarted service adopts the endpoints it finds;
- `create` / `destroy` / `rebalance` for the group's own lifecycle.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from typing import TypeVar

from openrds.clock import Clock
from openrds.domain import eviction
from openrds.domain.errors import InternalFailure, ResourceExhausted
from openrds.domain.model import Instance, ReadOnlyGroup
from openrds.domain.states import Lifecycle, MemberStatus
from openrds.engine.driver import (
    EndpointDriver,
    EndpointMember,
    EndpointNotFound,
    EndpointSpec,
    EndpointUnavailable,
    EngineError,
    PortsExhausted,
)
from openrds.monitoring.snapshot import Snapshot
from openrds.persistence.uow import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# Members the endpoint leaves out: no server yet, or one going away.
_NOT_SERVED = (Lifecycle.CREATING, Lifecycle.DELETING, Lifecycle.DELETED)


class GroupEndpoints:
    """See the module docstring.

    :param evict_after: consecutive bad monitor samples before a member is evicted.
    :param readmit_after: consecutive good samples before an evicted member is back in rotation.
    """

    def __init__(self, store: Store, driver: EndpointDriver, clock: Clock, *, evict_after: int = 2,
                 readmit_after: int = 2) -> None:
        self._store = store
        self._driver = driver
        self._clock = clock
        self._evict_after = evict_after
        self._readmit_after = readmit_after
        self._streaks: dict[str, eviction.Streak] = {}  # by instance id; the monitor thread only
        self._locks: dict[str, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._failing: dict[str, str] = {}  # group id -> last error logged (each error logged once)

    def _lock(self, group_id: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(group_id, threading.Lock())

    # ------------------------------------------------------------------ lifecycle of a group

    def support(self) -> str:
        """Empty when groups can have endpoints on this host, else why not."""
        return self._driver.endpoint_support()

    def create(self, group_id: str, record: Callable[[str, int], T]) -> T:
        """Start the (empty) endpoint of a new group, then ``record(host, port)`` the group in the store.
        If recording fails the endpoint is removed again.

        :raises ResourceExhausted: HAProxy is missing, or no port is free.
        :raises InternalFailure: HAProxy would not start (details in the log).
        """
        with self._lock(group_id):
            try:
                info = self._driver.ensure_endpoint(EndpointSpec(group_id))
            except EndpointUnavailable as exc:
                raise ResourceExhausted(exc.detail) from None
            except PortsExhausted as exc:
                log.error("endpoint of %s: %s", group_id, exc)
                raise ResourceExhausted(exc.detail) from None
            except EngineError as exc:
                log.error("endpoint of %s: %s", group_id, exc)
                raise InternalFailure(f"the endpoint of read-only group {group_id} did not start") from None
            try:
                return record(info.host, info.port)
            except BaseException:
                self._driver.destroy_endpoint(group_id)
                raise

    def apply(self, group_id: str) -> None:
        """Make the group's endpoint serve what the store says now (removed when the group is gone).

        :raises EngineError: the engine could not (the next monitor round retries).
        """
        with self._lock(group_id):
            with self._store.read() as uow:
                group = uow.groups(None).find(group_id)
                members = uow.instances(None).members_of(group_id) if group is not None else []
            if group is None:
                self._driver.destroy_endpoint(group_id)
                return
            info = self._driver.ensure_endpoint(EndpointSpec(group.id, tuple(
                EndpointMember(m.code, max(1, m.weight), drained=m.member_status is MemberStatus.EVICTED)
                for m in members if m.lifecycle not in _NOT_SERVED)))
            if (info.host, info.port) != (group.host, group.port):
                # The engine's word on the address wins (an endpoint made again, e.g. after its files were lost).
                with self._store.write() as uow:
                    current = uow.groups(None).find(group_id)
                    if current is not None:
                        uow.groups(None).save(replace(current, host=info.host, port=info.port,
                                                      updated_at=self._clock.now()))
                log.warning("read-only group %s now listens on %s:%d", group_id, info.host, info.port)

    def try_apply(self, group_id: str) -> None:
        """`apply`, logging instead of raising: for callers whose change is already committed."""
        try:
            self.apply(group_id)
            self._failing.pop(group_id, None)
        except EngineError as exc:
            if self._failing.get(group_id) != str(exc):
                log.warning("endpoint of %s not updated (retried every monitor round): %s", group_id, exc)
                self._failing[group_id] = str(exc)

    def rebalance(self, group_id: str) -> int:
        """Drop every session through the group's endpoint so new ones follow the weights. Returns how
        many were dropped."""
        with self._lock(group_id):
            try:
                return self._driver.drop_sessions(group_id)
            except EndpointNotFound:
                return 0
            except EngineError as exc:  # not answering: the next round starts it again, without sessions
                log.warning("rebalance of %s: %s", group_id, exc)
                return 0

    def destroy(self, group_id: str) -> None:
        """Remove the endpoint of a deleted group (best effort: `reconcile` removes orphans)."""
        try:
            with self._lock(group_id):
                self._driver.destroy_endpoint(group_id)
        except EngineError as exc:
            log.warning("endpoint of deleted group %s not removed yet: %s", group_id, exc)

    def reconcile(self) -> None:
        """Every group's endpoint as the store says; endpoints of no group removed."""
        with self._store.read() as uow:
            live = {g.id for g in uow.groups(None).list()}
        for group_id in sorted(live):
            self.try_apply(group_id)
        try:
            found = [e.endpoint_id for e in self._driver.endpoints()]
        except EngineError as exc:
            log.warning("could not list endpoints: %s", exc)
            return
        for endpoint_id in found:
            if endpoint_id not in live:
                self.try_apply(endpoint_id)  # re-checks the store under the group's lock, then removes

    # ------------------------------------------------------------------ eviction

    def on_round(self, snapshot: Snapshot) -> None:
        """The monitor's listener: evict and re-admit members of every group, then reconcile."""
        with self._store.read() as uow:
            groups = uow.groups(None).list()
            members = {g.id: uow.instances(None).members_of(g.id) for g in groups}
        sampled: set[str] = set()
        for group in groups:
            policy = eviction.Policy.of(
                replay_lag_eliminate=group.replay_lag_eliminate, max_replay_lag_seconds=group.max_replay_lag_seconds,
                replay_latency_eliminate=group.replay_latency_eliminate,
                max_replay_latency_mb=group.max_replay_latency_mb, min_reserve=group.min_delay_eliminate_reserve,
                evict_after=self._evict_after, readmit_after=self._readmit_after)
            samples = [sample(m, snapshot) for m in members[group.id] if m.lifecycle not in _NOT_SERVED]
            outcome = eviction.decide(policy, samples, self._streaks)
            self._streaks.update(outcome.streaks)
            sampled.update(outcome.streaks)
            if outcome.changes:
                self._record(group, outcome.changes)
        for gone in set(self._streaks) - sampled:
            del self._streaks[gone]
        self.reconcile()

    def _record(self, group: ReadOnlyGroup, changes: tuple[eviction.Change, ...]) -> None:
        now = self._clock.now()
        with self._store.write() as uow:
            repo = uow.instances(None)
            for change in changes:
                member = repo.find(change.member_id)
                if member is None or member.group_id != group.id:
                    continue  # it left the group meanwhile
                status = MemberStatus.EVICTED if change.evict else MemberStatus.IN_ROTATION
                repo.save(replace(member, member_status=status, updated_at=now))
                message = event_message(member.code, group.id, change)
                uow.events.add(member.tenant_id, member.id, "group.evicted" if change.evict else "group.readmitted",
                               message, now)
                log.info("%s", message)


def sample(member: Instance, snapshot: Snapshot) -> eviction.Sample:
    """What the monitor's round says about one member."""
    server = snapshot.servers.get(member.code)
    link = snapshot.links.get(member.code)
    fault = ""
    if server is None:
        fault = f"server not watched ({member.lifecycle.value})"
    elif not server.up:
        fault = f"server unreachable ({server.error or 'down'})"
    elif link is None or not link.streaming:
        fault = f"not streaming from its upstream (state {link.state if link else 'absent'})"
    return eviction.Sample(member.id, member.member_status is MemberStatus.IN_ROTATION, fault,
                           link.lag_bytes if link else None, link.lag_seconds if link else None)


def event_message(code: str, group_id: str, change: eviction.Change) -> str:
    """E.g. ``pgro-1 evicted from read-only group pgrogrp-2: replay lag 17.3 MB over MaxReplayLatency 16 MB
    (replay lag 18140160 bytes, 2.31 s)``."""
    lag_bytes = "unknown" if change.lag_bytes is None else f"{change.lag_bytes} bytes"
    lag_seconds = "unknown" if change.lag_seconds is None else f"{change.lag_seconds:.2f} s"
    verb = "evicted from" if change.evict else "re-admitted to"
    return f"{code} {verb} read-only group {group_id}: {change.reason} (replay lag {lag_bytes}, {lag_seconds})"
