"""The lifecycle's rules (``services.lifecycle``) and the plans billing hands it (``domain.money``):
the offline container (no engine; jobs are recorded, their bookkeeping step run by ``finish_jobs``)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace

import pytest

from openrds.clock import ManualClock
from openrds.container import Container
from openrds.domain import money
from openrds.domain.errors import DeletionProtected
from openrds.domain.model import Instance
from openrds.domain.money import DAY
from openrds.domain.states import ChargeType, IsolationReason, JobKind, JobState, Lifecycle
from openrds.services.instances import ReadOnlyOrder

from .support import MONTH_20GB, POSTPAID, T0, buy, finish_jobs, new_tenant, offline_container


@pytest.fixture
def world() -> Iterator[tuple[Container, ManualClock]]:
    with offline_container() as (container, clock):
        yield container, clock


def _replica(c: Container, tenant_id: str, master: Instance, charge_type: str = "PREPAID") -> Instance:
    return c.instances.create_readonly(tenant_id, ReadOnlyOrder(
        region="ap-beijing", master=master.code, spec_code="pg.it.small2", charge_type=charge_type)).instances[0]


def _states(c: Container, tenant_id: str) -> dict[str, Lifecycle]:
    with c.store.read() as uow:
        return {i.code: i.lifecycle for i in uow.instances(tenant_id).list()}


def _pending(c: Container, tenant_id: str) -> list[tuple[str, tuple[str, ...]]]:
    with c.store.read() as uow:
        codes = {i.id: i.code for i in uow.instances(tenant_id).list()}
        return sorted((j.kind, tuple(codes[i] for i in j.instance_ids)) for j in uow.jobs.of_tenant(tenant_id)
                      if j.state is JobState.PENDING)


def test_a_masters_isolate_takes_its_read_only_instances_with_it(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 5000)
    [master] = buy(c, tenant).instances
    finish_jobs(c, clock)
    replica = _replica(c, tenant, master)
    finish_jobs(c, clock)
    jobs = c.instances.isolate(tenant, [master.code])
    assert [j.kind for j in jobs] == [JobKind.ISOLATE, JobKind.ISOLATE]
    assert _states(c, tenant) == {master.code: Lifecycle.ISOLATING, replica.code: Lifecycle.ISOLATING}
    assert _pending(c, tenant) == sorted([(JobKind.ISOLATE, (master.code,)), (JobKind.ISOLATE, (replica.code,))])


def test_a_tenants_destroy_is_refused_whole_by_deletion_protection(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 5000)
    [master] = buy(c, tenant, deletion_protection=True).instances
    finish_jobs(c, clock)
    with pytest.raises(DeletionProtected):
        c.instances.delete_now(tenant, master.code)
    assert _states(c, tenant) == {master.code: Lifecycle.RUNNING}
    assert _pending(c, tenant) == []


def test_the_plan_for_an_expired_prepaid_instance_without_auto_renew_is_isolate() -> None:
    lapsed = _instance(expire_at=T0 - DAY)
    assert money.plan_expiry(lapsed, MONTH_20GB, 10 * MONTH_20GB, T0) == money.ExpiryPlan((), isolate=True)
    assert money.plan_expiry(replace(lapsed, expire_at=T0 + DAY), MONTH_20GB, 0, T0) == money.ExpiryPlan((), False)
    # Already isolated: nothing left to do.
    assert money.plan_expiry(replace(lapsed, lifecycle=Lifecycle.ISOLATED), MONTH_20GB, 0, T0).isolate is False


def test_auto_renewal_buys_a_month_at_each_expiry_while_the_balance_covers_it() -> None:
    lapsed = _instance(expire_at=T0 - 40 * DAY, auto_renew=True)
    first, second = lapsed.expire_at, money.add_months(T0 - 40 * DAY, 1)
    assert money.plan_expiry(lapsed, MONTH_20GB, 2 * MONTH_20GB, T0) == money.ExpiryPlan((first, second), False)
    assert money.plan_expiry(lapsed, MONTH_20GB, MONTH_20GB, T0) == money.ExpiryPlan((first,), True)


def test_the_lifecycle_carries_out_billings_isolate(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 200)
    [inst] = buy(c, tenant).instances
    finish_jobs(c, clock)
    clock.advance(32 * DAY)
    assert c.billing.tick().isolated == [inst.code]
    assert _states(c, tenant) == {inst.code: Lifecycle.ISOLATING}
    assert _pending(c, tenant) == [(JobKind.ISOLATE, (inst.code,))]
    with c.store.read() as uow:
        assert [(kind, why) for _, kind, why in uow.events.of(inst.id)] == [
            ("billing.isolate", "isolated: the prepaid period ended and was not renewed")]
    finish_jobs(c, clock)
    isolated = c.instances.get(tenant, inst.code)
    assert (isolated.lifecycle, isolated.isolation_reason) == (Lifecycle.ISOLATED, IsolationReason.EXPIRED)


def test_postpaid_metering_starts_when_the_job_marks_the_instance_running(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 200)
    [inst] = buy(c, tenant, POSTPAID).instances
    assert c.instances.get(tenant, inst.code).billed_until is None
    clock.advance(DAY)  # the server took a while to come up: not charged for
    finish_jobs(c, clock)
    assert c.instances.get(tenant, inst.code).billed_until == clock.now()


def _instance(**changes: object) -> Instance:
    base = Instance(id="i-1", code="postgres-1", tenant_id="t", name="n", role="primary", region="r",  # type: ignore[arg-type]
                    zone="z", project_id=0, spec_code="pg.it.small2", storage_gb=20, major_version=16,
                    version="16.4", charset="UTF8", admin_user="a", network=None,  # type: ignore[arg-type]
                    charge_type=ChargeType.PREPAID, period_months=1, auto_renew=False, deletion_protection=False,
                    lifecycle=Lifecycle.RUNNING, created_at=T0, updated_at=T0)
    return replace(base, **changes)  # type: ignore[arg-type]
