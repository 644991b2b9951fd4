"""Spec and storage changes, their prices, and maintenance windows (the rules: :mod:`openrds.domain.resize`).

A change is checked whole (the spec on sale for the instance's role, storage on the step, within the
spec's bounds and not below what the instance holds, a read-only instance not below its master's
standby floor, the money) and then, in one transaction, paid for (prepaid: the difference for the
rest of the period, charged or given back; postpaid: the balance must cover an hour at the new
price), ordered, and carried out by one resize job (:mod:`openrds.jobs.resize`): at once - the
instance shows ``expanding`` from this call - or at its switch time, which the job waits for as its
``not_before``. One change at a time per instance.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, tzinfo

from openrds.clock import Clock
from openrds.domain import money
from openrds.domain import resize as rules
from openrds.domain.catalogue import Catalogue, Spec
from openrds.domain.errors import InstanceNotFound, InvalidInput, InvalidInstanceState, VoucherRefused
from openrds.domain.model import Instance, Job
from openrds.domain.resize import MaintenanceWindow, SwitchMode
from openrds.domain.states import ChargeType, JobKind, JobState, Lifecycle, Operation, ensure_allowed
from openrds.jobs.runner import JobQueue
from openrds.persistence.uow import Store, UnitOfWork
from openrds.services.billing import Cashier, Payment, Quote

#: How a service learns what an instance's data takes now (bytes; None when it cannot tell).
DiskUsage = Callable[[str], "int | None"]


@dataclass(frozen=True, slots=True)
class ChangeRequest:
    """A new spec (by memory GiB, and CPU cores when given) and storage GB, and when to switch."""

    memory_gb: int
    storage_gb: int
    cpu: int | None = None
    switch: SwitchMode = SwitchMode.NOW
    switch_start: str = ""  # HH:MM:SS, SwitchMode.BETWEEN only
    switch_end: str = ""
    payment: Payment = field(default_factory=Payment)
    spec_code: str = ""  # a spec named exactly (Huawei's flavorRef) instead of by memory and CPU


@dataclass(frozen=True, slots=True)
class Change:
    """A change accepted: its order, its bill, its job and when it switches."""

    deal_name: str
    bill_id: str
    job: Job
    switch_at: datetime
    charged_cents: int  # > 0 paid, < 0 given back


@dataclass(frozen=True, slots=True)
class Planned:
    instance: Instance
    spec: Spec
    difference_cents: int  # prepaid: charged (> 0) or given back (< 0); postpaid: 0


class ResizeService:
    """:param zone: the zone maintenance windows and switch times are written in (the Tencent face's).
    :param disk_usage: the engine's measure of an instance's data, by instance code."""

    def __init__(self, store: Store, queue: JobQueue, catalogue: Catalogue, cashier: Cashier, clock: Clock,
                 zone: tzinfo, disk_usage: DiskUsage) -> None:
        self._store = store
        self._queue = queue
        self._catalogue = catalogue
        self._cashier = cashier
        self._clock = clock
        self._zone = zone
        self._disk_usage = disk_usage

    # --- maintenance windows ------------------------------------------------------------------
    def window(self, tenant_id: str, identifier: str) -> tuple[Instance, MaintenanceWindow]:
        with self._store.read() as uow:
            instance = _find(uow, tenant_id, identifier)
            return instance, uow.maintenance_windows(tenant_id).get(instance.id)

    def set_window(self, tenant_id: str, identifier: str, start: str, duration_hours: int,
                   weekdays: Sequence[str]) -> MaintenanceWindow:
        """Checked whole, then stored. Changes already waiting keep the switch time they were given."""
        window = rules.make_window(start, duration_hours, weekdays)
        with self._store.write() as uow:
            instance = _find(uow, tenant_id, identifier)
            ensure_allowed(Operation.MODIFY, instance.code, instance.lifecycle)
            uow.maintenance_windows(tenant_id).set(instance.id, window, self._clock.now())
        return window

    # --- prices -------------------------------------------------------------------------------
    def quote(self, tenant_id: str, identifier: str, memory_gb: int, storage_gb: int, cpu: int | None) -> Quote:
        """What the change costs: postpaid, the new hourly price; prepaid, what is charged now for the
        rest of the period (0 when the change gives money back)."""
        with self._store.read() as uow:
            planned = self._plan(uow, tenant_id, identifier, memory_gb, storage_gb, cpu)
        if planned.instance.charge_type is ChargeType.POSTPAID:
            price = money.hourly_price(self._catalogue, planned.spec, storage_gb)
        else:
            price = max(0, planned.difference_cents)
        return Quote(price, price)

    # --- changes ------------------------------------------------------------------------------
    def modify(self, tenant_id: str, identifier: str, request: ChangeRequest) -> Change:
        """Check, pay, order and submit the change (see the module docstring)."""
        now = self._clock.now()
        switch_at = now
        if request.switch is SwitchMode.BETWEEN:
            if not request.switch_start or not request.switch_end:
                raise InvalidInput("SwitchTag 1 needs SwitchStartTime and SwitchEndTime", field="switch_start_time")
            start = rules.parse_time_of_day(request.switch_start, "switch_start_time")
            end = rules.parse_time_of_day(request.switch_end, "switch_end_time")
            if start == end:
                raise InvalidInput("SwitchStartTime and SwitchEndTime are the same time", field="switch_end_time")
            switch_at = rules.next_between(start, end, now, self._zone)
        with self._store.write() as uow:
            planned = self._plan(uow, tenant_id, identifier, request.memory_gb, request.storage_gb, request.cpu,
                                 spec_code=request.spec_code)
            instance = planned.instance
            if request.switch is SwitchMode.MAINTENANCE_WINDOW:
                window = uow.maintenance_windows(tenant_id).get(instance.id)
                switch_at = rules.next_window_start(window, now, self._zone)
            if instance.charge_type is ChargeType.POSTPAID:
                if request.payment.voucher_ids:
                    raise VoucherRefused("vouchers pay prepaid purchases only; postpaid instances are metered by "
                                         "the hour", field="voucher_ids")
                self._cashier.check(tenant_id, planned.spec, request.storage_gb, ChargeType.POSTPAID, 1, 1)
            placed = self._cashier.pay_change(uow, tenant_id, instance, planned.difference_cents, request.payment,
                                              now)
            paid = placed.charged_cents
            job = self._queue.submit(uow, kind=JobKind.RESIZE, tenant_id=tenant_id, instance_ids=[instance.id],
                                     params={"spec_code": planned.spec.code, "storage_gb": request.storage_gb,
                                             "old_spec_code": instance.spec_code,
                                             "old_storage_gb": instance.storage_gb,
                                             "bill_id": placed.bill_id, "paid_cents": paid,
                                             "switch_at": switch_at.isoformat(), "from": Lifecycle.RUNNING.value})
            if switch_at > now:
                uow.flush()
                job = replace(job, not_before=switch_at)
                uow.jobs.save(job)
                uow.instances(tenant_id).save(replace(rules.with_switch_waiting(instance, switch_at), updated_at=now))
            else:
                uow.instances(tenant_id).save(replace(instance, lifecycle=Lifecycle.EXPANDING, updated_at=now))
        self._queue.notify()
        return Change(placed.deal_names[0], placed.bill_id, job, switch_at, paid)

    def switch_now(self, tenant_id: str, identifier: str) -> Job:
        """A change waiting for its switch time is applied at once.

        :raises InvalidInstanceState: no change of the instance is waiting.
        """
        now = self._clock.now()
        with self._store.write() as uow:
            instance = _find(uow, tenant_id, identifier)
            waiting = _waiting(uow, tenant_id, instance.id, now)
            if waiting is None:
                raise InvalidInstanceState(instance.code, "not waiting for a switch", "ModifySwitchTimePeriod")
            job = replace(waiting, not_before=None, params={**waiting.params, "switch_at": now.isoformat()})
            uow.jobs.save(job)
            instance = rules.with_switch_waiting(instance, None)
            if instance.lifecycle is Lifecycle.RUNNING:
                instance = replace(instance, lifecycle=Lifecycle.EXPANDING)
            uow.instances(tenant_id).save(replace(instance, updated_at=now))
        self._queue.notify()
        return job

    def _plan(self, uow: UnitOfWork, tenant_id: str, identifier: str, memory_gb: int, storage_gb: int,
              cpu: int | None, *, spec_code: str = "") -> Planned:
        instance = _find(uow, tenant_id, identifier)
        ensure_allowed(Operation.RESIZE, instance.code, instance.lifecycle)
        now = self._clock.now()
        if _unfinished(uow, tenant_id, instance.id) is not None:
            raise InvalidInstanceState(instance.code, "waiting for or applying a spec change", Operation.RESIZE.value)
        current = self._catalogue.spec(instance.spec_code)
        if spec_code:
            spec = rules.check_spec_for_role(self._catalogue.spec(spec_code), instance.is_readonly)
        else:
            spec = rules.resolve_spec(self._catalogue, current, memory_gb, cpu, instance.is_readonly)
        used = self._disk_usage(instance.code) if storage_gb < instance.storage_gb else None
        rules.check_storage(storage_gb, spec, self._catalogue.storage_step_gb, used)
        if instance.is_readonly and instance.master_id:
            master = uow.instances(tenant_id).find(instance.master_id)
            if master is not None:
                rules.check_standby_floor(instance, spec, self._catalogue.spec(master.spec_code))
        if (spec.code, storage_gb) == (instance.spec_code, instance.storage_gb):
            raise InvalidInput(f"{instance.code} already has {spec.code} and {storage_gb} GB", field="memory")
        difference = 0
        if instance.charge_type is ChargeType.PREPAID:
            difference = rules.prepaid_difference(money.monthly_price(self._catalogue, current, instance.storage_gb),
                                                  money.monthly_price(self._catalogue, spec, storage_gb),
                                                  instance.expire_at, now)
        return Planned(instance, spec, difference)


def _find(uow: UnitOfWork, tenant_id: str, identifier: str) -> Instance:
    instance = uow.instances(tenant_id).find(identifier)
    if instance is None or instance.lifecycle is Lifecycle.DELETED:
        raise InstanceNotFound(identifier)
    return instance


def _unfinished(uow: UnitOfWork, tenant_id: str, instance_id: str) -> Job | None:
    jobs = uow.jobs.of_tenant(tenant_id, instance_id=instance_id, kinds=[JobKind.RESIZE.value])
    return next((j for j in jobs if j.state in (JobState.PENDING, JobState.RUNNING, JobState.UNDOING)), None)


def _waiting(uow: UnitOfWork, tenant_id: str, instance_id: str, now: datetime) -> Job | None:
    job = _unfinished(uow, tenant_id, instance_id)
    if job is None or job.state is not JobState.PENDING or job.not_before is None or job.not_before <= now:
        return None
    return job
