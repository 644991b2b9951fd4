"""The admission job: make servers and read-only group endpoints admit what their security groups say
(:mod:`openrds.services.network` submits it after a binding or a rule changed).

One step, "apply admission rules": for each instance of the job (``instance_ids``) and each read-only
group of ``params["groups"]``, the admission is computed from the store as it is when the step runs
(:func:`openrds.domain.security_groups.admission`: the resource's groups in binding order, rules that
reach its port) and handed to the engine, which also ends the sessions of addresses no longer admitted.
Running it again applies the same thing again: it is idempotent, and a job submitted before a later
change still ends with the latest rules. An instance that is gone, or has no server because it is
being made or destroyed, is skipped (only a running instance can be bound; a rule change may meet one
going away). Servers are named in the engine by the instance's code, endpoints by the group's id (as
`jobs.kinds` names them). A read-only instance also admits its endpoint's address, as its group's
balancer connects from there (`engine.access`).
"""

from __future__ import annotations

import logging
from typing import Protocol

from openrds.domain.security_groups import admission
from openrds.domain.states import JobKind, Lifecycle, Role
from openrds.engine.driver import Driver, EndpointNotFound, ServerNotFound
from openrds.jobs.model import JobContext, JobDefinition, Step
from openrds.persistence.uow import Store

log = logging.getLogger(__name__)


class AccessEnv(Protocol):
    """What the job needs of the runner's environment (``jobs.kinds.JobEnv`` has it)."""

    @property
    def store(self) -> Store: ...

    @property
    def driver(self) -> Driver: ...


def _apply(ctx: JobContext) -> None:
    env: AccessEnv = ctx.env
    group_ids = [str(g) for g in ctx.job.params.get("groups", ())]
    with env.store.read() as uow:
        instances = [i for i in (uow.instances(None).find(i) for i in ctx.job.instance_ids) if i is not None]
        repo = uow.security_groups(None)
        wanted = [(i, repo.bound_to(i.id)) for i in instances if i.lifecycle is not Lifecycle.DELETED]
        groups = [(g, repo.bound_to(g.id)) for g in (uow.groups(None).find(g) for g in group_ids) if g is not None]
    for instance, bound in wanted:
        try:
            ended = env.driver.apply_admission(instance.code, admission(bound, instance.port, bound=bool(bound)),
                                               via_endpoint=instance.role is Role.READONLY)
        except ServerNotFound:
            if instance.lifecycle not in (Lifecycle.CREATING, Lifecycle.DELETING):
                raise  # a made instance without its server: not something to pass over
            log.info("admission of %s: no server (being made or destroyed)", instance.code)
            continue
        if ended:
            log.info("admission of %s: %d session(s) ended", instance.code, ended)
    for group, bound in groups:
        try:
            env.driver.apply_endpoint_admission(group.id, admission(bound, group.port, bound=bool(bound)))
        except EndpointNotFound:
            log.info("admission of group %s: no endpoint", group.id)


def _apply_at_create(ctx: JobContext) -> None:
    """The create jobs' step: the job's new servers that were bound to security groups at create
    (`services.network.bind_created`) admit what those say, before they are marked running. A server
    bound to none is left as made (open), so a create without groups does what it always did."""
    env: AccessEnv = ctx.env
    with env.store.read() as uow:
        repo = uow.security_groups(None)
        instances = [i for i in (uow.instances(None).find(i) for i in ctx.job.instance_ids) if i is not None]
        wanted = [(i, bound) for i in instances if (bound := repo.bound_to(i.id))]
    for instance, bound in wanted:
        env.driver.apply_admission(instance.code, admission(bound, instance.port, bound=True),
                                   via_endpoint=instance.role is Role.READONLY)


#: In CREATE_PRIMARIES, CREATE_REPLICAS (`jobs.kinds`) and CLONE (`jobs.backups`), after the servers are made.
APPLY_AT_CREATE = Step("apply security groups", _apply_at_create)

APPLY_ADMISSION = JobDefinition(JobKind.APPLY_ADMISSION, (Step("apply admission rules", _apply),))
