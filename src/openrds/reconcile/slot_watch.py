"""Shows users a read-only instance whose replication slot on its upstream is lost or at risk.

A listener of the replication monitor's rounds, like the group eviction (`reconcile.group_endpoints`):
the monitor reads every slot's ``wal_status`` on the upstreams (`engine.driver.SlotInfo`),
`domain.slots` decides what it means for the replica, and this records it the way an unhealthy instance is shown: as the
instance's ``status_reason`` (next to its status in the console), with an event
(``replication.slot_lost``, ``replication.slot_unreserved``, ``replication.slot_ok``) at each change.
The store is read again only after a commit (its data version), and written only when a reason changes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from openrds.clock import Clock
from openrds.domain import slots
from openrds.domain.slots import SlotState
from openrds.domain.states import Lifecycle
from openrds.monitoring.snapshot import Snapshot
from openrds.persistence.uow import Store
from openrds.persistence.version import Remembered

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Change:
    instance_id: str
    seen_reason: str  # the reason it had when decided; a different one in the store means someone else wrote
    state: SlotState
    upstream: str


class SlotWatch:
    def __init__(self, store: Store, clock: Clock) -> None:
        self._store = store
        self._clock = clock
        self._states: dict[str, SlotState] = {}  # by replica code; the monitor thread only
        # Running replicas: code -> (id, status reason), read again only after a commit.
        self._replicas = Remembered(store.version, self._read_replicas)

    def _read_replicas(self) -> dict[str, tuple[str, str]]:
        with self._store.read() as uow:
            return uow.instances(None).running_replica_reasons()

    def on_round(self, snapshot: Snapshot) -> None:
        """The monitor's listener: each running replica's slot state, recorded where it changed."""
        states: dict[str, SlotState] = {}
        changes: list[_Change] = []
        for code, (instance_id, reason) in self._replicas.get().items():
            link = snapshot.links.get(code)
            state = slots.decide(self._states.get(code, SlotState.UNKNOWN), link.slot_wal_status if link else None)
            states[code] = state
            if link is not None and slots.next_reason(reason, state, link.source) is not None:
                changes.append(_Change(instance_id, reason, state, link.source))
        self._states = states
        if changes:
            self._record(changes)

    def _record(self, changes: list[_Change]) -> None:
        now = self._clock.now()
        with self._store.write() as uow:
            repo = uow.instances(None)
            for change in changes:
                current = repo.find(change.instance_id)
                if current is None or current.lifecycle is not Lifecycle.RUNNING \
                        or current.status_reason != change.seen_reason:
                    continue  # a job or another writer got there first; the next round looks again
                wanted = slots.next_reason(current.status_reason, change.state, change.upstream)
                if wanted is None:
                    continue
                repo.save(replace(current, status_reason=wanted, updated_at=now))
                message = wanted or (f"{slots.REASON_PREFIX}{change.upstream} reserves the WAL this read-only "
                                     f"instance needs again")
                uow.events.add(current.tenant_id, current.id, slots.event_kind(change.state), message, now)
                if change.state is SlotState.OK:
                    log.info("%s: %s", current.code, message)
                else:
                    log.warning("%s: %s", current.code, message)
