"""Security groups and network access: the tenant's use cases (describe, bind) and the operator's
(groups and their rules, ``openrds admin security-group``).

Every change that alters what a server or endpoint admits records it and submits one admission job
(:mod:`openrds.jobs.access`) for every resource concerned, in the same transaction; the job reads the
store when it runs, so the last change always wins. A binding is refused before anything is recorded
when the engine cannot enforce it (``support``), so a caller never believes in rules that are not there.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NoReturn

from openrds.clock import Clock
from openrds.domain import security_groups as sg
from openrds.domain.errors import (
    GroupNotFound,
    GroupStateDenied,
    InstanceNotFound,
    InvalidInput,
    InvalidInstanceState,
    MissingInput,
    NetworkLimit,
    ResourceExhausted,
    SecurityGroupInUse,
    SecurityGroupNotFound,
    UnknownNetwork,
)
from openrds.domain.ids import GROUP_PREFIX, SECURITY_GROUP_PREFIX, short_code
from openrds.domain.model import Instance, ReadOnlyGroup
from openrds.domain.states import GroupStatus, JobKind, Lifecycle
from openrds.jobs.runner import JobQueue
from openrds.persistence.uow import Store, UnitOfWork

#: Why a second network (VPC address) cannot be added to, or the only one removed from, a resource here.
ONE_NETWORK = (
    "an instance or read-only group on this host has exactly one network address, where its server or "
    "endpoint listens ({host}:{port}); another would need PostgreSQL's listen_addresses changed and a "
    "restart, which this service does not do behind a client's back, and without it nothing could connect"
)


@dataclass(frozen=True, slots=True)
class Bound:
    """A resource's security groups, in order, and the admission job a change submitted ("" for reads)."""

    groups: tuple[sg.SecurityGroup, ...]
    job_id: str = ""


class NetworkService:
    """:param support: empty when the engine enforces admission rules, else why not (the driver's
    ``access_support``)."""

    def __init__(self, store: Store, queue: JobQueue, clock: Clock, support: Callable[[], str]) -> None:
        self._store = store
        self._queue = queue
        self._clock = clock
        self._support = support

    # --- the tenant ------------------------------------------------------------------------------
    def _resource(self, uow: UnitOfWork, tenant_id: str, instance: str | None,
                  group_id: str | None) -> Instance | ReadOnlyGroup:
        """The instance named (it wins, as the API documents), else the read-only group."""
        if instance:
            found = uow.instances(tenant_id).find(instance)
            if found is None or found.lifecycle is Lifecycle.DELETED:
                raise InstanceNotFound(instance)
            return found
        if group_id:
            group = uow.groups(tenant_id).find(group_id)
            if group is None:
                raise GroupNotFound(group_id)
            return group
        raise MissingInput("DBInstanceId or ReadOnlyGroupId is required", field="DBInstanceId")

    def describe(self, tenant_id: str, *, instance: str | None = None, group_id: str | None = None) -> Bound:
        """The security groups bound to an instance (by id or code) or a read-only group, in order."""
        with self._store.read() as uow:
            resource = self._resource(uow, tenant_id, instance, group_id)
            return Bound(tuple(uow.security_groups(tenant_id).bound_to(resource.id)))

    def bind(self, tenant_id: str, group_ids: Sequence[str], *, instance: str | None = None,
             group_id: str | None = None) -> Bound:
        """Make ``group_ids`` (in order; empty: none, every address admitted) the resource's security
        groups, replacing what it had, and submit the job that enforces them.

        :raises InvalidInput: an id given twice, or more than ``MAX_GROUPS_PER_RESOURCE``.
        :raises SecurityGroupNotFound: an id that is not one of the tenant's groups.
        :raises InvalidInstanceState: the instance is not running; :raises GroupStateDenied: the group is not ok.
        :raises ResourceExhausted: the engine cannot enforce admission rules.
        """
        ids = list(group_ids)
        if len(set(ids)) != len(ids):
            raise InvalidInput("a security group is named twice", field="SecurityGroupIdSet")
        if len(ids) > sg.MAX_GROUPS_PER_RESOURCE:
            raise InvalidInput(f"at most {sg.MAX_GROUPS_PER_RESOURCE} security groups per resource",
                               field="SecurityGroupIdSet")
        with self._store.write() as uow:
            resource = self._resource(uow, tenant_id, instance, group_id)
            repo = uow.security_groups(tenant_id)
            for gid in ids:
                if repo.find(gid) is None:
                    raise SecurityGroupNotFound(f"security group {gid} does not exist", field="SecurityGroupIdSet")
            if isinstance(resource, Instance):
                if resource.lifecycle is not Lifecycle.RUNNING:
                    raise InvalidInstanceState(resource.code, resource.lifecycle.value, "security group change")
            elif resource.status is not GroupStatus.OK:
                raise GroupStateDenied(f"read-only group {resource.id} is {resource.status.value}",
                                       field="ReadOnlyGroupId")
            if ids and (why := self._support()):
                raise ResourceExhausted(why)
            repo.bind(tenant_id, resource.id, ids)
            job = self._submit(uow, tenant_id, [resource.id])
            bound = Bound(tuple(repo.bound_to(resource.id)), job)
        self._queue.notify()
        return bound

    def network_access(self, tenant_id: str, *, instance: str | None = None, group_id: str | None = None,
                       adding: bool) -> NoReturn:
        """Create/Delete*NetworkAccess: refused with the reason (``ONE_NETWORK``), once the resource is
        known to exist.

        :raises NetworkLimit: always, for a resource of the tenant.
        """
        with self._store.read() as uow:
            resource = self._resource(uow, tenant_id, instance, group_id)
        what = "added" if adding else "removed"
        raise NetworkLimit(f"a network cannot be {what}: " + ONE_NETWORK.format(host=resource.host or "-",
                                                                               port=resource.port))

    # --- the operator ----------------------------------------------------------------------------
    def create_group(self, tenant_id: str, name: str, description: str = "", project_id: int = 0,
                     rules: Sequence[sg.Rule] = ()) -> sg.SecurityGroup:
        sg.check_group_name(name, description)
        if len(rules) > sg.MAX_RULES_PER_GROUP:
            raise InvalidInput(f"at most {sg.MAX_RULES_PER_GROUP} rules per group", field="rules")
        group = sg.SecurityGroup(short_code(SECURITY_GROUP_PREFIX), tenant_id, name, description, project_id,
                                 self._clock.now(), tuple(rules))
        with self._store.write() as uow:
            uow.security_groups(tenant_id).add(group)
        return group

    def groups(self, tenant_id: str | None = None) -> list[sg.SecurityGroup]:
        """Every security group (of one tenant when given), oldest first."""
        with self._store.read() as uow:
            return uow.security_groups(tenant_id).all()

    def set_rules(self, group_id: str, change: Callable[[list[sg.Rule]], list[sg.Rule]]) -> sg.SecurityGroup:
        """Change a group's inbound rules (``change`` gets them in order and returns the new list) and
        enforce the result on everything it is bound to."""
        with self._store.write() as uow:
            repo = uow.security_groups(None)
            found = repo.find(group_id)
            if found is None:
                raise SecurityGroupNotFound(f"security group {group_id} does not exist", field="security_group")
            rules = change(list(found.inbound))
            if len(rules) > sg.MAX_RULES_PER_GROUP:
                raise InvalidInput(f"at most {sg.MAX_RULES_PER_GROUP} rules per group", field="rules")
            repo.set_rules(group_id, rules)
            resources = repo.resources_of(group_id)
            if resources:
                self._submit(uow, found.tenant_id, resources)
            updated = replace(found, inbound=tuple(rules))
        self._queue.notify()
        return updated

    def delete_group(self, group_id: str) -> None:
        """Delete a group bound to nothing that still exists (bindings of destroyed instances and deleted
        read-only groups go with it).

        :raises SecurityGroupInUse: still bound to a live instance or group (unbind it first)."""
        with self._store.write() as uow:
            repo = uow.security_groups(None)
            if repo.find(group_id) is None:
                raise SecurityGroupNotFound(f"security group {group_id} does not exist", field="security_group")
            if bound := _live(uow, repo.resources_of(group_id)):
                raise SecurityGroupInUse(f"security group {group_id} is bound to {', '.join(bound)}",
                                         field="security_group")
            for resource_id in repo.resources_of(group_id):
                repo.unbind_all(resource_id)
            repo.remove(group_id)

    def bound_resources(self, group_id: str) -> list[str]:
        """What a group is bound to and still exists, as the tenant names it (instance codes, group ids)."""
        with self._store.read() as uow:
            return _live(uow, uow.security_groups(None).resources_of(group_id))

    def _submit(self, uow: UnitOfWork, tenant_id: str, resources: Sequence[str]) -> str:
        return submit_admission(uow, self._queue, tenant_id, resources)


# --- security groups named when a resource is created (services.instances, services.groups) ----------
def groups_to_bind(uow: UnitOfWork, tenant_id: str, group_ids: Sequence[str], *, placeholders: frozenset[str],
                   support: Callable[[], str]) -> tuple[str, ...]:
    """Which of the ``SecurityGroupIds`` named at create are to be bound (in the order given): the
    tenant's own security groups. An id of the catalogue's (``placeholders``: the ids every face has
    always accepted, such as Huawei's default group) is taken as before and binds nothing - it holds no
    rules, so it admits every address, as the service did before security groups existed.

    :raises InvalidInput: an id given twice, or more than ``MAX_GROUPS_PER_RESOURCE``.
    :raises UnknownNetwork: an id that is neither one of the tenant's groups nor the catalogue's - the
        error of the create's other network fields (VpcId, SubnetId), as it always answered there.
    :raises ResourceExhausted: a group to bind, and the engine cannot enforce admission rules.
    """
    ids = list(group_ids)
    if len(set(ids)) != len(ids):
        raise InvalidInput("a security group is named twice", field="security_group_ids")
    if len(ids) > sg.MAX_GROUPS_PER_RESOURCE:
        raise InvalidInput(f"at most {sg.MAX_GROUPS_PER_RESOURCE} security groups per resource",
                           field="security_group_ids")
    repo = uow.security_groups(tenant_id)
    bound = []
    for gid in ids:
        if repo.find(gid) is not None:
            bound.append(gid)
        elif gid not in placeholders:
            raise UnknownNetwork(f"security group {gid} does not exist", field="security_group_ids")
    if bound and (why := support()):
        raise ResourceExhausted(why)
    return tuple(bound)


def bind_created(uow: UnitOfWork, queue: JobQueue, tenant_id: str, resource_ids: Sequence[str],
                 group_ids: Sequence[str], *, submit: bool) -> None:
    """Bind ``group_ids`` (from :func:`groups_to_bind`) to resources being created, in the caller's
    transaction; ``submit``: also submit the admission job that enforces them (for a read-only group,
    whose endpoint already listens; an instance's create job applies them itself before it runs)."""
    if not group_ids:
        return
    repo = uow.security_groups(tenant_id)
    for resource_id in resource_ids:
        repo.bind(tenant_id, resource_id, group_ids)
    if submit:
        submit_admission(uow, queue, tenant_id, resource_ids)


def submit_admission(uow: UnitOfWork, queue: JobQueue, tenant_id: str, resources: Sequence[str]) -> str:
    """One admission job for instances (internal ids) and read-only groups (``pgrogrp-`` ids)."""
    groups = [r for r in resources if r.startswith(GROUP_PREFIX)]
    instances = [r for r in resources if not r.startswith(GROUP_PREFIX)]
    job = queue.submit(uow, kind=JobKind.APPLY_ADMISSION, tenant_id=tenant_id, params={"groups": groups},
                       instance_ids=instances)
    return job.id


def _live(uow: UnitOfWork, resources: Sequence[str]) -> list[str]:
    """The resources (instance internal ids, read-only group ids) that still exist, by their public name."""
    found = []
    for resource_id in resources:
        if resource_id.startswith(GROUP_PREFIX):
            if uow.groups(None).find(resource_id) is not None:
                found.append(resource_id)
        elif (instance := uow.instances(None).find(resource_id)) is not None and \
                instance.lifecycle is not Lifecycle.DELETED:
            found.append(instance.code)
    return found
