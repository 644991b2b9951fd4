"""The resize job: one instance given a new spec and storage (:mod:`openrds.services.resize` submits it).

A change for later is this job with ``not_before`` at its switch time: the runner leaves it pending
until then (``ModifySwitchTimePeriod`` clears ``not_before``). Its steps:

1. the instance is marked ``expanding`` (it must still be running or already expanding);
2. a master whose new spec raises the standby floor (``domain.resize.floor_raised``) first has its
   running read-only instances' floor settings raised to the new values (each restarted by the
   engine, and ``expanding`` meanwhile), because a standby with less than its source refuses to start;
3. the engine applies the spec to the server (config rewritten; a restart when needed);
4. the store records the new spec: a postpaid instance pays its whole hours so far at the old price
   and is metered at the new one from here; the instance is running again.

Every step can run again after a crash: the engine's ``apply_spec`` changes nothing the second time,
and the last step sees a recorded spec. A failure puts the instance back to running with the reason
and gives back what the change was charged.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Protocol

from openrds.clock import Clock
from openrds.domain import resize as rules
from openrds.domain.catalogue import Catalogue
from openrds.domain.ids import digits
from openrds.domain.model import Instance, Order, OrderAction
from openrds.domain.money import LedgerKind, hourly_price
from openrds.domain.states import ChargeType, Health, JobKind, Lifecycle, Role
from openrds.engine.driver import Driver, EngineError, ServerSpec
from openrds.jobs.model import JobContext, JobDefinition, Step
from openrds.persistence.uow import Store, UnitOfWork


class ResizeEnv(Protocol):
    """What the job needs of the runner's environment (``jobs.kinds.JobEnv`` has it)."""

    @property
    def store(self) -> Store: ...

    @property
    def driver(self) -> Driver: ...

    @property
    def catalogue(self) -> Catalogue: ...

    @property
    def clock(self) -> Clock: ...


def _env(ctx: JobContext) -> ResizeEnv:
    env: ResizeEnv = ctx.env
    return env


def _instance(ctx: JobContext) -> Instance:
    with _env(ctx).store.read() as uow:
        instance = uow.instances(None).find(ctx.job.instance_ids[0])
    if instance is None:
        raise EngineError("resize", "the instance no longer exists")
    return instance


def _server_spec(env: ResizeEnv, spec_code: str, storage_gb: int) -> ServerSpec:
    spec = env.catalogue.spec(spec_code)
    return ServerSpec(cpu=spec.cpu, memory_mb=spec.memory_mb, max_connections=spec.max_connections,
                      storage_gb=storage_gb)


_OUT_OF_SERVICE = frozenset({Lifecycle.ISOLATING, Lifecycle.ISOLATED, Lifecycle.DELETING, Lifecycle.DELETED,
                             Lifecycle.FAILED})


def _mark_expanding(ctx: JobContext) -> None:
    env = _env(ctx)
    with env.store.write() as uow:
        repo = uow.instances(None)
        instance = repo.find(ctx.job.instance_ids[0])
        if instance is None:
            raise EngineError("resize", "the instance no longer exists")
        if instance.lifecycle is Lifecycle.RUNNING:
            repo.save(replace(rules.with_switch_waiting(instance, None), lifecycle=Lifecycle.EXPANDING,
                              updated_at=env.clock.now()))
        elif instance.lifecycle is not Lifecycle.EXPANDING:
            # Out of service for good: the change fails (and its money goes back). Busy with another
            # operation (a restart, parameters): the change waits for it, retried after a backoff.
            gone = instance.lifecycle in _OUT_OF_SERVICE
            raise EngineError("resize", f"{instance.code} is {instance.lifecycle.value}: the change "
                                        f"{'is not applied' if gone else 'waits'}", transient=not gone)


def _raise_replica_floors(ctx: JobContext) -> None:
    env = _env(ctx)
    instance = _instance(ctx)
    old, new = env.catalogue.spec(ctx.params["old_spec_code"]), env.catalogue.spec(ctx.params["spec_code"])
    if instance.role is not Role.PRIMARY or not rules.floor_raised(old, new):
        return
    with env.store.read() as uow:
        # Running ones, and expanding ones this job left so when a crash interrupted it (an expanding
        # one with a change of its own is that change's: its job raises it from the master's values).
        replicas = [r for r in uow.instances(None).replicas_of(instance.id)
                    if r.lifecycle is Lifecycle.RUNNING
                    or (r.lifecycle is Lifecycle.EXPANDING and not _changing(uow, r))]
    floor = rules.standby_floor(new)
    for replica in replicas:
        # Expanding while its server restarts: the supervisor leaves it alone (it would start the
        # server the engine has just stopped, and the engine's own start would then fail).
        _move(env, replica.id, Lifecycle.RUNNING, Lifecycle.EXPANDING)
        env.driver.apply_spec(replica.code, _server_spec(env, replica.spec_code, replica.storage_gb), floor)
        _move(env, replica.id, Lifecycle.EXPANDING, Lifecycle.RUNNING)


def _changing(uow: UnitOfWork, instance: Instance) -> bool:
    """Whether the instance has a spec change of its own under way."""
    own = uow.jobs.of_tenant(instance.tenant_id, instance_id=instance.id, kinds=[JobKind.RESIZE.value])
    return not all(j.finished for j in own)


def _move(env: ResizeEnv, instance_id: str, before: Lifecycle, after: Lifecycle) -> None:
    """An instance in ``before`` goes to ``after`` (one in another state stays as it is)."""
    with env.store.write() as uow:
        repo = uow.instances(None)
        instance = repo.find(instance_id)
        if instance is not None and instance.lifecycle is before:
            repo.save(replace(instance, lifecycle=after, updated_at=env.clock.now()))


def _apply(ctx: JobContext) -> None:
    env = _env(ctx)
    instance = _instance(ctx)
    env.driver.apply_spec(instance.code, _server_spec(env, ctx.params["spec_code"], int(ctx.params["storage_gb"])))


def _record(ctx: JobContext) -> None:
    env = _env(ctx)
    now = env.clock.now()
    spec_code, storage_gb = ctx.params["spec_code"], int(ctx.params["storage_gb"])
    with env.store.write() as uow:
        repo = uow.instances(None)
        instance = repo.find(ctx.job.instance_ids[0])
        if instance is None:
            return
        if (instance.spec_code, instance.storage_gb) != (spec_code, storage_gb):
            billed_until = instance.billed_until
            if instance.charge_type is ChargeType.POSTPAID and billed_until is not None:
                hours = rules.hours_before_switch(billed_until, now)
                if hours:
                    old = hourly_price(env.catalogue, env.catalogue.spec(instance.spec_code), instance.storage_gb)
                    uow.account(instance.tenant_id).post(-hours * old, LedgerKind.METERING, instance.code,
                                                         f"{hours} h of {instance.code} before its spec change", now)
                    billed_until = rules.after_hours(billed_until, hours)
            uow.events.add(instance.tenant_id, instance.id, "instance.resized",
                           f"{instance.code}: {instance.spec_code} {instance.storage_gb} GB -> "
                           f"{spec_code} {storage_gb} GB", now)
            instance = replace(instance, spec_code=spec_code, storage_gb=storage_gb, billed_until=billed_until)
        repo.save(replace(instance.arrived(Lifecycle.RUNNING, now), health=Health.UP, updated_at=now))


def _on_failure(ctx: JobContext, error: str) -> None:
    """Running again with the reason; a prepaid charge for the change is given back (a refund
    already given for it is taken back), with a MODIFY order that cancels the first - unless the
    instance left service meanwhile (isolated, deleted): leaving settled its paid time already."""
    env = _env(ctx)
    now = env.clock.now()
    with env.store.write() as uow:
        repo = uow.instances(None)
        instance = repo.find(ctx.job.instance_ids[0])
        if instance is None:
            return
        if instance.lifecycle is Lifecycle.EXPANDING:
            instance = replace(instance, lifecycle=Lifecycle.RUNNING)
        instance = rules.with_switch_waiting(instance, None)
        repo.save(replace(instance, status_reason=f"spec change failed: {error}"[:1000], updated_at=now))
        for replica in repo.replicas_of(instance.id):  # left expanding by a floor raise that failed
            if replica.lifecycle is Lifecycle.EXPANDING and not _changing(uow, replica):
                repo.save(replace(replica, lifecycle=Lifecycle.RUNNING, updated_at=now))
        paid = int(ctx.params.get("paid_cents", 0))
        # Out of service, the instance's unused paid time, the change's included, was settled when it left.
        if paid and instance.lifecycle not in _OUT_OF_SERVICE:
            uow.account(instance.tenant_id).post(paid, LedgerKind.MODIFY, str(ctx.params.get("bill_id", "")),
                                                 f"spec change of {instance.code} failed: reversed", now)
            uow.orders(instance.tenant_id).add(Order(now.strftime("%Y%m%d") + digits(15), digits(10),
                                                     instance.tenant_id, instance.id, OrderAction.MODIFY,
                                                     instance.charge_type, 0, -paid, now))


RESIZE = JobDefinition(
    JobKind.RESIZE,
    (
        Step("mark expanding", _mark_expanding),
        Step("raise read-only floors", _raise_replica_floors),
        Step("apply spec", _apply),
        Step("record spec", _record),
    ),
    on_failure=_on_failure,
)
