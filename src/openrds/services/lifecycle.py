"""The one place an instance changes state: restart, isolate, bring back, destroy, promote.

Starting an operation moves each instance into the state it waits in while its job runs and submits
that job (``domain.states.TRANSITIONS``); the job's last step records where it arrived
(``Instance.arrived``). An operation that takes instances out of service takes a master's read-only
instances with it: they cannot outlive their source. Money moves in the same transaction
(:class:`openrds.services.billing.Cashier`): stopping settles postpaid hours and refunds prepaid
unused days; coming back buys an expired prepaid instance more time. Promoting a read-only instance
takes it out of its read-only group at once (the group's endpoint follows at the next monitor round,
before the job has made the server writable as a rule); the job makes it a primary with no master.

Two callers, two rules:

* a tenant's request (:meth:`LifecycleService.request`, through ``InstanceService``: the APIs and the
  console) is all or nothing: one instance that may not, or has deletion protection on, refuses the
  whole call;
* a decision of the billing round (:meth:`LifecycleService.enforce`) is carried out on every
  instance that may now and leaves the others as they are (the next round sees them again);
  deletion protection is the tenant's guard against its own mistakes, not against not paying.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from openrds.clock import Clock
from openrds.domain import rules
from openrds.domain.errors import DeletionProtected, InstanceNotFound, InvalidInstanceState
from openrds.domain.model import Instance, Job
from openrds.domain.states import (
    TRANSITIONS,
    IsolationReason,
    Operation,
    Role,
    Transition,
    allowed,
    ensure_allowed,
)
from openrds.jobs.runner import JobQueue
from openrds.persistence.repositories import InstanceRepository
from openrds.persistence.uow import Store, UnitOfWork
from openrds.services.billing import Cashier, Payment

log = logging.getLogger(__name__)


class LifecycleService:
    def __init__(self, store: Store, queue: JobQueue, cashier: Cashier, clock: Clock) -> None:
        self._store = store
        self._queue = queue
        self._cashier = cashier
        self._clock = clock

    def request(self, tenant_id: str, identifiers: Sequence[str], operation: Operation, *,
                months: int | None = None, payment: Payment = Payment()) -> list[Job]:
        """A tenant asks for ``operation`` on the instances it names (in either form; one named twice
        is one target) and, for an operation that stops them, their read-only instances: all or
        nothing, one job each, in one transaction. Coming back buys an expired prepaid instance
        another ``months`` (1 by default) paid with ``payment``."""
        rules.check_id_count(len(set(identifiers)), field="instance_id")
        with self._store.write() as uow:
            repo = uow.instances(tenant_id)
            named, missing = repo.find_all(identifiers)  # one query for all of them
            if missing:
                raise InstanceNotFound(missing[0])
            targets = named + _followers(repo, named, operation)
            for instance in targets:
                ensure_allowed(operation, instance.code, instance.lifecycle)
                if operation in (Operation.DESTROY, Operation.DELETE) and instance.deletion_protection:
                    raise DeletionProtected(f"instance {instance.code} has deletion protection on", field="instance_id")
                if operation is Operation.PROMOTE and instance.role is not Role.READONLY:
                    raise InvalidInstanceState(instance.code, "a primary", operation.value)
            jobs = [job for _, job in self._start(uow, tenant_id, targets, operation, IsolationReason.USER,
                                                  self._clock.now(), months, payment)]
        self._queue.notify()
        return jobs

    def enforce(self, uow: UnitOfWork, tenant_id: str, instance_id: str, operation: Operation,
                reason: IsolationReason, why: str, now: datetime) -> list[Instance]:
        """The billing round's decision, in its transaction: ``operation`` on the instance and, for an
        operation that stops it, its read-only instances - each one its state allows now. ``why`` is
        recorded as an event of each. Returns the instances moved, as saved; call :meth:`notify`
        once the transaction is committed."""
        repo = uow.instances(tenant_id)
        instance = repo.find(instance_id)
        if instance is None:
            return []
        targets = [i for i in [instance, *_followers(repo, [instance], operation)] if allowed(operation, i.lifecycle)]
        moved = []
        for target, job in self._start(uow, tenant_id, targets, operation, reason, now):
            uow.events.add(tenant_id, target.id, f"billing.{job.kind}", why, now)
            log.info("billing: %s %s", target.code, why)
            moved.append(target)
        return moved

    def begin(self, uow: UnitOfWork, tenant_id: str, targets: Sequence[Instance], operation: Operation,
              params: Mapping[str, Any], now: datetime) -> Job:
        """In the caller's transaction: every one of ``targets`` (all must allow ``operation``) into the
        state it waits in, and ONE job over all of them carrying ``params`` (for operations whose job
        orders its work across instances, e.g. parameters: replicas before or after their master). Call
        :meth:`notify` once the transaction is committed."""
        transition: Transition = TRANSITIONS[operation]
        for instance in targets:
            ensure_allowed(operation, instance.code, instance.lifecycle)
        for instance in targets:
            uow.instances(tenant_id).save(replace(instance, lifecycle=transition.during, updated_at=now))
        return self._queue.submit(uow, kind=transition.job, tenant_id=tenant_id,
                                  instance_ids=[i.id for i in targets],
                                  params={**params, "from": targets[0].lifecycle.value if targets else "running"})

    def notify(self) -> None:
        """Wake the job runner: jobs were submitted in a transaction that is now committed."""
        self._queue.notify()

    def _start(self, uow: UnitOfWork, tenant_id: str, targets: Sequence[Instance], operation: Operation,
               reason: IsolationReason, now: datetime, months: int | None = None,
               payment: Payment = Payment()) -> list[tuple[Instance, Job]]:
        """Money first (a refused payment fails the transaction), then each instance into the state it
        waits in and its job submitted; the job's ``from`` is the state to go back to if it fails."""
        transition: Transition = TRANSITIONS[operation]
        if transition.stops:
            targets = self._cashier.on_stop(uow, tenant_id, targets, now, reason)
        elif operation is Operation.DISISOLATE:
            targets = self._cashier.on_restore(uow, tenant_id, targets, now, months, payment)
        started = []
        for instance in targets:
            moved = replace(instance, lifecycle=transition.during, updated_at=now)
            if operation is Operation.PROMOTE:  # no read-only group sends it reads from now on
                moved = replace(moved, group_id=None, weight=0)
            uow.instances(tenant_id).save(moved)
            job = self._queue.submit(uow, kind=transition.job, tenant_id=tenant_id, instance_ids=[instance.id],
                                     params={"from": instance.lifecycle.value})
            started.append((moved, job))
        return started


def _followers(repo: InstanceRepository, instances: Sequence[Instance], operation: Operation) -> list[Instance]:
    """The read-only instances a stopping operation on ``instances`` takes with it: those of every
    master among them that are not named themselves nor already on that way (isolated before their
    master, they keep their own job)."""
    transition = TRANSITIONS[operation]
    masters = [i.id for i in instances if i.role is Role.PRIMARY]
    if not transition.stops or not masters:
        return []
    named = {i.id for i in instances}
    return [r for r in repo.replicas_of_each(masters) if r.id not in named and r.lifecycle not in transition.already]
