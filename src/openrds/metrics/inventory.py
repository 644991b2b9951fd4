"""What the store says, kept in memory: refreshed after each monitor round, never at scrape time.

The collector must answer from memory (a scrape must not wait on the store or any server), so this
keeps the few facts the snapshot lacks: which tenant, role, upstream, version, spec and status each
instance has, the read-only groups with their members' places in rotation, and the unfinished jobs by
kind and state. It also counts evictions and re-admissions of group members, seen as a member's status
changing between two refreshes.

The console's topology page, redrawn every two seconds by every open browser, reads the instances and
groups from here too (each tenant its own), rather than loading every instance of the tenant from the
store on each request; they are at most one refresh old.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace

from openrds.domain.model import Instance, ReadOnlyGroup
from openrds.domain.states import MemberStatus, Role
from openrds.metrics.backups import StanzaFacts, stanza_facts
from openrds.persistence.uow import Store

log = logging.getLogger(__name__)

#: The most of one core rebuilding may take under steady writes: after a rebuild that took T seconds
#: the next waits at least T / this (a rebuild of 1,000 instances, ~40 ms, still runs every second).
MAX_REBUILD_SHARE = 0.05


@dataclass(frozen=True, slots=True)
class InstanceFacts:
    code: str
    tenant_id: str
    role: str  # primary | readonly
    upstream: str  # code of the server it replicates from, "" for primaries
    version: str
    spec: str
    status: str  # lifecycle


@dataclass(frozen=True, slots=True)
class GroupFacts:
    id: str
    tenant_id: str
    master: str  # code
    name: str
    endpoint: str  # host:port, "" while it has none
    in_rotation: int
    evicted: int


@dataclass(frozen=True, slots=True)
class Inventory:
    refreshed_at: float = 0.0  # epoch seconds; 0 before the first refresh
    tenants: dict[str, str] = field(default_factory=dict)  # id -> name
    instances: dict[str, InstanceFacts] = field(default_factory=dict)  # by code
    groups: tuple[GroupFacts, ...] = ()
    unfinished_jobs: dict[tuple[str, str], int] = field(default_factory=dict)  # (kind, state) -> count
    by_tenant: dict[str, tuple[Instance, ...]] = field(default_factory=dict)  # not deleted, oldest first
    groups_by_tenant: dict[str, tuple[ReadOnlyGroup, ...]] = field(default_factory=dict)
    stanzas: tuple[StanzaFacts, ...] = ()  # backups: each instance's archiving and repository (metrics.backups)

    def tenant(self, tenant_id: str) -> str:
        """The tenant's name (the ``tenant`` label), its id if unknown."""
        return self.tenants.get(tenant_id, tenant_id)

    def fresh(self, max_age: float) -> bool:
        return time.time() - self.refreshed_at <= max_age


class InventoryTracker:
    def __init__(self, store: Store, *, min_interval: float = 1.0) -> None:
        self._store = store
        self._min_interval = min_interval
        self._inventory = Inventory()
        self._members: dict[str, tuple[str, str]] = {}  # member code -> (group id, status)
        self._evictions: Counter[tuple[str, str]] = Counter()  # (tenant id, group id)
        self._readmissions: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()
        self._last = 0.0
        self._next_rebuild = 0.0
        self._version: object = None

    def current(self) -> Inventory:
        with self._lock:
            return self._inventory

    def evictions(self) -> tuple[dict[tuple[str, str], int], dict[tuple[str, str], int]]:
        with self._lock:
            return dict(self._evictions), dict(self._readmissions)

    def maybe_refresh(self, *_args: object) -> None:
        """A monitor round listener: refresh unless the last refresh is younger than ``min_interval``,
        nothing was committed since (the store's data version instead of loading every row), or the
        last rebuild was so slow that another now would take more than `MAX_REBUILD_SHARE` of a core
        (readers that need fresher data than that - the console - read the store themselves)."""
        now = time.monotonic()
        if now - self._last < self._min_interval:
            return
        self._last = now
        version = self._store.version()
        if version == self._version:
            with self._lock:  # still what the store holds: as fresh as a rebuild
                self._inventory = replace(self._inventory, refreshed_at=time.time())
            return
        if now < self._next_rebuild:
            return
        self.refresh()
        self._next_rebuild = now + (time.monotonic() - now) / MAX_REBUILD_SHARE
        self._version = version

    def refresh(self) -> Inventory:
        with self._store.read() as uow:
            tenants = {t.id: t.name for t in uow.tenants.list()}
            instances = uow.instances(None).list()
            groups = uow.groups(None).list()
            unfinished = Counter((j.kind, j.state.value) for j in uow.jobs.unfinished())
            stanzas = uow.backups(None).stanzas.list()
        codes = {i.id: i.code for i in instances}
        facts = {
            i.code: InstanceFacts(i.code, i.tenant_id, i.role.value,
                                  codes.get(i.master_id, "") if i.master_id else "", i.version, i.spec_code,
                                  i.lifecycle.value)
            for i in instances
        }
        members: dict[str, tuple[str, str]] = {
            i.code: (i.group_id, i.member_status.value) for i in instances if i.group_id and i.role is Role.READONLY
        }
        group_facts = []
        for group in groups:
            statuses = [status for gid, status in members.values() if gid == group.id]
            endpoint = f"{group.host}:{group.port}" if group.host and group.port else ""
            group_facts.append(GroupFacts(group.id, group.tenant_id, codes.get(group.master_id, group.master_id),
                                          group.name, endpoint,
                                          sum(s == MemberStatus.IN_ROTATION.value for s in statuses),
                                          sum(s == MemberStatus.EVICTED.value for s in statuses)))
        tenant_of_group = {g.id: g.tenant_id for g in groups}
        by_tenant: dict[str, list[Instance]] = {}
        for instance in instances:
            by_tenant.setdefault(instance.tenant_id, []).append(instance)
        groups_by_tenant: dict[str, list[ReadOnlyGroup]] = {}
        for group in groups:
            groups_by_tenant.setdefault(group.tenant_id, []).append(group)
        inventory = Inventory(time.time(), tenants, facts, tuple(group_facts), dict(unfinished),
                              {t: tuple(found) for t, found in by_tenant.items()},
                              {t: tuple(found) for t, found in groups_by_tenant.items()},
                              stanza_facts(stanzas, codes, tenants))
        with self._lock:
            for code, (group_id, status) in members.items():
                before = self._members.get(code)
                if before is None or before[0] != group_id or before[1] == status:
                    continue
                key = (tenant_of_group.get(group_id, ""), group_id)
                if status == MemberStatus.EVICTED.value:
                    self._evictions[key] += 1
                elif status == MemberStatus.IN_ROTATION.value:
                    self._readmissions[key] += 1
            self._members = members
            self._inventory = inventory
        return inventory
