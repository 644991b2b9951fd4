"""Read-only groups: records and rules, and the live endpoint that carries their traffic.

A group is one address (HAProxy, run by the engine) that spreads new connections over its members by
weight. Every change here is committed first and then pushed to that endpoint synchronously through
`Endpoints` (`reconcile.group_endpoints.GroupEndpoints`: ~1 ms through HAProxy's runtime API; creation starts
the balancer, ~50 ms); a push that fails is retried by every monitor round. Who is in rotation (lag
and fault eviction) is decided by the monitor's listener, not here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

from openrds.clock import Clock
from openrds.domain import rules
from openrds.domain.catalogue import Catalogue
from openrds.domain.errors import (
    GroupMismatch,
    GroupNotEmpty,
    GroupNotFound,
    InstanceNotFound,
    InvalidInput,
    InvalidWeight,
    NotAPrimary,
    ResourceExhausted,
)
from openrds.domain.ids import GROUP_PREFIX, short_code
from openrds.domain.model import Instance, Network, ReadOnlyGroup
from openrds.domain.quotas import Amounts
from openrds.domain.states import GroupStatus, MemberStatus, Operation, Role, ensure_allowed
from openrds.jobs.runner import JobQueue
from openrds.persistence.uow import Store, UnitOfWork
from openrds.services import flows
from openrds.services import network as access
from openrds.services.instances import default_weight
from openrds.services.quotas import QuotaService

MIN_WEIGHT, MAX_WEIGHT = 1, 50
T = TypeVar("T")


def _no_queue() -> str:
    """Why security groups named at create are refused by a group service built without a job queue."""
    return "security groups cannot be enforced here: the read-only group service has no job queue"


class Endpoints(Protocol):
    """The live side of groups, owned here so that services import nothing of the loop that implements
    it (`reconcile.group_endpoints.GroupEndpoints`, built by the composition root)."""

    def support(self) -> str:
        """Empty when endpoints can run on this host, else why not."""
        ...

    def create(self, group_id: str, record: Callable[[str, int], T]) -> T:
        """Start the group's endpoint, then ``record(host, port)`` it (undone if that fails)."""
        ...

    def try_apply(self, group_id: str) -> None:
        """Push the stored state of the group to its endpoint; failures are logged and retried."""
        ...

    def rebalance(self, group_id: str) -> int:
        """Drop the group's sessions so new ones follow the weights."""
        ...

    def destroy(self, group_id: str) -> None:
        """Remove the endpoint of a deleted group."""
        ...


@dataclass(frozen=True, slots=True)
class GroupOrder:
    master: str
    name: str
    project_id: int = 0
    network: Network | None = None
    max_replay_lag_seconds: int = 0
    max_replay_latency_mb: int = 0
    min_delay_eliminate_reserve: int = 0
    replay_lag_eliminate: bool = False
    replay_latency_eliminate: bool = False
    dry_run: bool = False


@dataclass(frozen=True, slots=True)
class GroupConfig:
    name: str | None = None
    max_replay_lag_seconds: int | None = None
    max_replay_latency_mb: int | None = None
    min_delay_eliminate_reserve: int | None = None
    replay_lag_eliminate: bool | None = None
    replay_latency_eliminate: bool | None = None
    rebalance: bool | None = None  # True: drop the group's sessions now and on every weight change


@dataclass(frozen=True, slots=True)
class GroupView:
    group: ReadOnlyGroup
    members: tuple[Instance, ...]
    master_code: str
    flow_id: str = ""  # the finished flow (services.flows) a change recorded; "" for reads


def _check_thresholds(lag: int | None, latency: int | None, reserve: int | None) -> None:
    for value, field in ((lag, "max_replay_lag"), (latency, "max_replay_latency"),
                         (reserve, "min_delay_eliminate_reserve")):
        if value is not None and value < 0:
            raise InvalidInput(f"{field} must not be negative", field=field)


def _given(value: T | None, current: T) -> T:
    """A setting of a partial update: ``value`` when the call gave one (None leaves it as it is)."""
    return current if value is None else value


class GroupService:
    """:param endpoints: the live endpoints; None keeps groups as records only (tests of the rules)."""

    def __init__(self, store: Store, catalogue: Catalogue, clock: Clock, quotas: QuotaService,
                 endpoints: Endpoints | None = None, *, queue: JobQueue | None = None,
                 access_support: Callable[[], str] = lambda: "") -> None:
        """:param queue: where the admission job of security groups named at create goes (None: such
        groups are refused, there being nothing to enforce them); :param access_support: the driver's."""
        self._queue = queue
        self._access_support = access_support
        self._store = store
        self._catalogue = catalogue
        self._clock = clock
        self._quotas = quotas
        self._endpoints = endpoints

    def _push(self, *group_ids: str) -> None:
        if self._endpoints is not None:
            for group_id in group_ids:
                self._endpoints.try_apply(group_id)

    def _group(self, uow: UnitOfWork, tenant_id: str, group_id: str) -> ReadOnlyGroup:
        group = uow.groups(tenant_id).find(group_id)
        if group is None:
            raise GroupNotFound(group_id)
        return group

    def _instance(self, uow: UnitOfWork, tenant_id: str, identifier: str) -> Instance:
        instance = uow.instances(tenant_id).find(identifier)
        if instance is None:
            raise InstanceNotFound(identifier)
        return instance

    def _view(self, uow: UnitOfWork, tenant_id: str, group: ReadOnlyGroup) -> GroupView:
        members = uow.instances(tenant_id).members_of(group.id)
        codes = uow.instances(tenant_id).codes([group.master_id])
        return GroupView(group, tuple(members), codes.get(group.master_id, group.master_id))

    def create(self, tenant_id: str, order: GroupOrder) -> GroupView | None:
        """The new group, its endpoint listening; None for a dry run (every rule checked, nothing
        recorded or started).

        :raises ResourceExhausted: this host cannot run the endpoint (HAProxy missing, no free port).
        :raises QuotaExceeded: the tenant has all the read-only groups its quota allows.
        """
        rules.check_name(order.name)
        self._catalogue.check_project(order.project_id)
        _check_thresholds(order.max_replay_lag_seconds, order.max_replay_latency_mb, order.min_delay_eliminate_reserve)

        def master_of(uow: UnitOfWork) -> Instance:
            master = self._instance(uow, tenant_id, order.master)
            if master.role is not Role.PRIMARY:
                raise NotAPrimary(master.code, "a read-only instance", "creating a read-only group")
            return master

        def groups_to_bind(uow: UnitOfWork) -> tuple[str, ...]:
            """The order's security groups, else the master's as bound now (its members copy its data)."""
            if order.network is not None and order.network.security_group_ids:
                wanted = order.network.security_group_ids
            else:
                wanted = tuple(g.id for g in uow.security_groups(tenant_id).bound_to(master_of(uow).id))
            support = self._access_support if self._queue is not None else _no_queue
            return access.groups_to_bind(uow, tenant_id, wanted, placeholders=self._catalogue.security_groups,
                                         support=support)

        one_more = Amounts(ro_groups=1)
        with self._store.read() as uow:
            network = order.network or master_of(uow).network
            # Before the endpoint is started for nothing; counted again where the group is recorded.
            self._quotas.ensure_room(uow, tenant_id, one_more, lock=False)
            groups_to_bind(uow)
        self._catalogue.check_network(network.vpc_id, network.subnet_id, ())
        if self._endpoints is not None and (missing := self._endpoints.support()):
            raise ResourceExhausted(missing)
        if order.dry_run:
            return None
        group_id = short_code(GROUP_PREFIX)

        def record(host: str, port: int) -> GroupView:
            now = self._clock.now()
            with self._store.write() as uow:
                master = master_of(uow)  # again: it may have gone while the endpoint started
                self._quotas.ensure_room(uow, tenant_id, one_more)  # refused: the endpoint is undone
                group = ReadOnlyGroup(
                    id=group_id, tenant_id=tenant_id, master_id=master.id, name=order.name,
                    project_id=order.project_id, region=master.region, zone=master.zone, network=network,
                    status=GroupStatus.OK, max_replay_lag_seconds=order.max_replay_lag_seconds,
                    max_replay_latency_mb=order.max_replay_latency_mb,
                    min_delay_eliminate_reserve=order.min_delay_eliminate_reserve,
                    replay_lag_eliminate=order.replay_lag_eliminate,
                    replay_latency_eliminate=order.replay_latency_eliminate,
                    created_at=now, updated_at=now, host=host, port=port,
                )
                uow.groups(tenant_id).add(group)
                if bound := groups_to_bind(uow):
                    assert self._queue is not None  # groups_to_bind refuses groups without one
                    access.bind_created(uow, self._queue, tenant_id, [group.id], bound, submit=True)
                flow = flows.record_done(uow, kind=flows.CREATE_GROUP, tenant_id=tenant_id, instance_ids=(master.id,),
                                         params={"group_id": group.id}, now=now)
                return GroupView(group, (), master.code, flow.id)

        view = record("", 0) if self._endpoints is None else self._endpoints.create(group_id, record)
        if self._queue is not None:
            self._queue.notify()  # the admission job of its security groups, if any
        return view

    def describe(self, tenant_id: str, *, group_ids: tuple[str, ...] = (),
                 master: str | None = None) -> list[GroupView]:
        with self._store.read() as uow:
            master_id = self._instance(uow, tenant_id, master).id if master else None
            groups = uow.groups(tenant_id).list(master_id)
            if group_ids:
                groups = [g for g in groups if g.id in group_ids]
            return [self._view(uow, tenant_id, g) for g in groups]

    def page(self, tenant_id: str, *, group_ids: tuple[str, ...] = (), master: str | None = None, offset: int = 0,
             limit: int = 10) -> tuple[int, list[GroupView]]:
        """(how many groups :meth:`describe` would list, the views of ``limit`` of them from ``offset``):
        only the page's groups have their members read."""
        with self._store.read() as uow:
            master_id = self._instance(uow, tenant_id, master).id if master else None
            groups = uow.groups(tenant_id).list(master_id)
            if group_ids:
                groups = [g for g in groups if g.id in group_ids]
            return len(groups), [self._view(uow, tenant_id, g) for g in groups[offset : offset + limit]]

    def get(self, tenant_id: str, group_id: str) -> GroupView:
        with self._store.read() as uow:
            return self._view(uow, tenant_id, self._group(uow, tenant_id, group_id))

    def add_member(self, tenant_id: str, instance: str, group_id: str) -> GroupView:
        with self._store.write() as uow:
            group = self._group(uow, tenant_id, group_id)
            member = self._instance(uow, tenant_id, instance)
            self._check_member(group, member)
            if member.group_id == group.id:
                return self._view(uow, tenant_id, group)
            if member.group_id is not None:
                raise GroupMismatch(f"instance {member.code} is already in group {member.group_id}",
                                    field="instance_id")
            weight = default_weight(self._catalogue.spec(member.spec_code))
            uow.instances(tenant_id).save(replace(member, group_id=group.id, weight=weight,
                                                  member_status=MemberStatus.IN_ROTATION, updated_at=self._clock.now()))
            flow = flows.record_done(uow, kind=flows.ADD_TO_GROUP, tenant_id=tenant_id, instance_ids=(member.id,),
                                     params={"group_id": group.id}, now=self._clock.now())
            view = replace(self._view(uow, tenant_id, group), flow_id=flow.id)
        self._push(group.id)
        return view

    def _check_member(self, group: ReadOnlyGroup, member: Instance) -> None:
        if member.role is not Role.READONLY or member.master_id != group.master_id:
            raise GroupMismatch(f"instance {member.code} is not a read-only instance of the group's master",
                                field="instance_id")
        ensure_allowed(Operation.GROUP_MEMBERSHIP, member.code, member.lifecycle)

    def remove_member(self, tenant_id: str, instance: str, group_id: str) -> GroupView:
        with self._store.write() as uow:
            group = self._group(uow, tenant_id, group_id)
            member = self._instance(uow, tenant_id, instance)
            if member.group_id != group.id:
                raise GroupMismatch(f"instance {member.code} is not in group {group.id}", field="instance_id")
            uow.instances(tenant_id).save(replace(member, group_id=None, weight=0, updated_at=self._clock.now()))
            flow = flows.record_done(uow, kind=flows.REMOVE_FROM_GROUP, tenant_id=tenant_id,
                                     instance_ids=(member.id,), params={"group_id": group.id}, now=self._clock.now())
            view = replace(self._view(uow, tenant_id, group), flow_id=flow.id)
        self._push(group.id)  # its sessions through the group's address are closed
        return view

    def move_member(self, tenant_id: str, instance: str, from_group: str, to_group: str) -> GroupView:
        with self._store.write() as uow:
            source = self._group(uow, tenant_id, from_group)
            target = self._group(uow, tenant_id, to_group)
            member = self._instance(uow, tenant_id, instance)
            if member.group_id != source.id:
                raise GroupMismatch(f"instance {member.code} is not in group {source.id}", field="instance_id")
            self._check_member(target, member)
            uow.instances(tenant_id).save(replace(member, group_id=target.id, updated_at=self._clock.now()))
            flow = flows.record_done(uow, kind=flows.MOVE_TO_GROUP, tenant_id=tenant_id, instance_ids=(member.id,),
                                     params={"group_id": source.id, "new_group_id": target.id},
                                     now=self._clock.now())
            view = replace(self._view(uow, tenant_id, target), flow_id=flow.id)
        self._push(source.id, target.id)
        return view

    def set_weight(self, tenant_id: str, instance: str, weight: int, *, group_id: str | None = None) -> Instance:
        if not MIN_WEIGHT <= weight <= MAX_WEIGHT:
            raise InvalidWeight(f"weight must be between {MIN_WEIGHT} and {MAX_WEIGHT}", field="weight")
        with self._store.write() as uow:
            if group_id is not None:
                self._group(uow, tenant_id, group_id)
            member = self._instance(uow, tenant_id, instance)
            if member.group_id is None or (group_id is not None and member.group_id != group_id):
                raise GroupMismatch(f"instance {member.code} is not in group {group_id or '(any)'}",
                                    field="instance_id")
            group = self._group(uow, tenant_id, member.group_id)
            member = replace(member, weight=weight, updated_at=self._clock.now())
            uow.instances(tenant_id).save(member)
        # New connections follow the new weight at once; with Rebalance on, established ones are
        # dropped so that they reconnect by it too (Tencent's "auto load-balancing").
        self._push(group.id)
        if group.rebalance and self._endpoints is not None:
            self._endpoints.rebalance(group.id)
        return member

    def configure(self, tenant_id: str, group_id: str, config: GroupConfig) -> GroupView:
        if config.name is not None:
            rules.check_name(config.name)
        _check_thresholds(config.max_replay_lag_seconds, config.max_replay_latency_mb,
                          config.min_delay_eliminate_reserve)
        with self._store.write() as uow:
            group = self._group(uow, tenant_id, group_id)
            group = replace(
                group, updated_at=self._clock.now(), name=_given(config.name, group.name),
                max_replay_lag_seconds=_given(config.max_replay_lag_seconds, group.max_replay_lag_seconds),
                max_replay_latency_mb=_given(config.max_replay_latency_mb, group.max_replay_latency_mb),
                min_delay_eliminate_reserve=_given(config.min_delay_eliminate_reserve,
                                                   group.min_delay_eliminate_reserve),
                replay_lag_eliminate=_given(config.replay_lag_eliminate, group.replay_lag_eliminate),
                replay_latency_eliminate=_given(config.replay_latency_eliminate, group.replay_latency_eliminate),
                rebalance=_given(config.rebalance, group.rebalance))
            uow.groups(tenant_id).save(group)
            view = self._view(uow, tenant_id, group)
        if config.rebalance and self._endpoints is not None:
            self._endpoints.rebalance(group.id)  # switched on: the group rebalances now
        return view

    def rebalance(self, tenant_id: str, group_id: str) -> int:
        """RebalanceReadOnlyGroup: drop every session through the group's address so that clients
        reconnect by the current weights (Tencent: "a momentary disconnect"). Returns how many."""
        with self._store.read() as uow:
            group = self._group(uow, tenant_id, group_id)
        return self._endpoints.rebalance(group.id) if self._endpoints is not None else 0

    def delete(self, tenant_id: str, group_id: str) -> str:
        """Delete an empty group; the id of the finished flow it recorded."""
        with self._store.write() as uow:
            group = self._group(uow, tenant_id, group_id)
            if uow.instances(tenant_id).members_of(group.id):
                raise GroupNotEmpty(f"read-only group {group.id} still has members", field="group_id")
            uow.groups(tenant_id).save(replace(group, status=GroupStatus.DELETED, updated_at=self._clock.now()))
            flow = flows.record_done(uow, kind=flows.DELETE_GROUP, tenant_id=tenant_id,
                                     instance_ids=(group.master_id,), params={"group_id": group.id},
                                     now=self._clock.now())
        if self._endpoints is not None:
            self._endpoints.destroy(group.id)  # its address and port are freed
        return flow.id
