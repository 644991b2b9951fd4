"""Spec changes, their money and maintenance windows through the services, over a real store, a manual
clock and the fake engine (jobs run for real when a test calls ``finish_jobs``)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import pytest
from tests.billing.support import POSTPAID, PREPAID, T0, buy, finish_jobs, ledger, new_tenant, offline_container
from tests.fakes.driver import FakeDriver

from openrds.api.tencent import presenters
from openrds.clock import ManualClock
from openrds.container import Container
from openrds.domain import resize as rules
from openrds.domain.errors import (
    BelowStandbyFloor,
    InsufficientBalance,
    InvalidInput,
    InvalidInstanceState,
    InvalidStorage,
    StorageBelowUsed,
    UnknownSpec,
)
from openrds.domain.money import HOUR, LedgerKind
from openrds.domain.resize import MaintenanceWindow, SwitchMode
from openrds.domain.states import JobKind, JobState, Lifecycle
from openrds.services.instances import ReadOnlyOrder
from openrds.services.resize import ChangeRequest

UTC8 = timezone(timedelta(hours=8))
MEDIUM_MONTH_20GB = 36000 + 20 * 50  # pg.it.medium4 with 20 GB, one month
SMALL_MONTH_20GB = 18000 + 20 * 50


@pytest.fixture
def world() -> Iterator[tuple[Container, ManualClock]]:
    with offline_container() as found:
        yield found


def fake(c: Container) -> FakeDriver:
    assert isinstance(c.driver, FakeDriver)
    return c.driver


def everything_of(c: Container, tenant_id: str) -> tuple[Any, ...]:
    with c.store.read() as uow:
        return (tuple(uow.instances(tenant_id).list(include_deleted=True)), len(uow.jobs.of_tenant(tenant_id)),
                tuple(uow.account(tenant_id).ledger()))


def running_master(c: Container, clock: ManualClock, tenant: str, charge_type: str = POSTPAID) -> str:
    code = buy(c, tenant, charge_type).instances[0].code
    finish_jobs(c, clock)
    return code


# --- rules ---------------------------------------------------------------------------------------
def test_the_next_window_is_now_inside_one_and_else_its_next_start_in_the_windows_zone() -> None:
    nightly = MaintenanceWindow(time(23, 0), 2, ("monday",))
    monday_noon_utc8 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC8)
    assert rules.next_window_start(nightly, monday_noon_utc8.astimezone(UTC), UTC8) == datetime(
        2030, 1, 7, 15, 0, tzinfo=UTC)  # 23:00 UTC+8
    inside = datetime(2030, 1, 8, 0, 30, tzinfo=UTC8)  # Monday's window runs on past midnight
    assert rules.next_window_start(nightly, inside.astimezone(UTC), UTC8) == inside.astimezone(UTC)
    after = datetime(2030, 1, 8, 1, 0, tzinfo=UTC8)
    assert rules.next_window_start(nightly, after.astimezone(UTC), UTC8) == datetime(2030, 1, 14, 15, 0, tzinfo=UTC)


def test_a_switch_interval_may_run_past_midnight() -> None:
    now = datetime(2030, 1, 7, 22, 0, tzinfo=UTC8)
    assert rules.next_between(time(23, 30), time(1, 0), now.astimezone(UTC), UTC8) == datetime(
        2030, 1, 7, 15, 30, tzinfo=UTC)
    inside = datetime(2030, 1, 8, 0, 15, tzinfo=UTC8)
    assert rules.next_between(time(23, 30), time(1, 0), inside.astimezone(UTC), UTC8) == inside.astimezone(UTC)


def test_the_prepaid_difference_rounds_in_the_services_favour() -> None:
    expiry = T0 + timedelta(days=10, hours=1)
    assert rules.prepaid_difference(100, 130, expiry, T0) == -(-30 * 11 // 30)  # 11 started days, rounded up
    assert rules.prepaid_difference(130, 100, expiry, T0) == -(30 * 10 // 30)  # 10 whole days, rounded down
    assert rules.prepaid_difference(100, 101, expiry, T0) == 1  # a started cent is charged
    assert rules.prepaid_difference(101, 100, expiry, T0) == 0  # a part of a cent is not given back
    assert rules.prepaid_difference(100, 200, T0, T0) == 0  # the period is over


@pytest.mark.parametrize(("start", "duration", "days"), [
    ("24:00", 1, ["monday"]), ("3:00", 1, ["monday"]), ("03:00", 0, ["monday"]), ("03:00", 5, ["monday"]),
    ("03:00", 1, []), ("03:00", 1, ["funday"]), ("03:00", 1, ["monday", "Monday"]),
])
def test_bad_windows_are_refused_naming_the_field(start: str, duration: int, days: list[str]) -> None:
    with pytest.raises(InvalidInput) as info:
        rules.make_window(start, duration, days)
    assert info.value.field in ("maintain_start_time", "maintain_duration", "maintain_week_days")


# --- immediate changes ---------------------------------------------------------------------------
def test_an_immediate_change_shows_expanding_restarts_and_records_the_new_spec(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 1000)
    code = running_master(c, clock, tenant)
    change = c.resize.modify(tenant, code, ChangeRequest(memory_gb=4, storage_gb=30))
    assert c.instances.get(tenant, code).lifecycle is Lifecycle.EXPANDING
    assert change.job.kind == JobKind.RESIZE and change.switch_at == T0
    finish_jobs(c, clock)
    after = c.instances.get(tenant, code)
    assert (after.lifecycle, after.spec_code, after.storage_gb) == (Lifecycle.RUNNING, "pg.it.medium4", 30)
    assert fake(c).restarts_of(code) == 1 and fake(c).max_connections_of(code) == 200
    # Storage alone reloads: no restart.
    c.resize.modify(tenant, code, ChangeRequest(memory_gb=4, storage_gb=40))
    finish_jobs(c, clock)
    assert c.instances.get(tenant, code).storage_gb == 40 and fake(c).restarts_of(code) == 1


def test_a_postpaid_instance_pays_its_whole_hours_at_the_old_price_then_the_new_one(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "metered", 1000)
    code = running_master(c, clock, tenant)  # metered from T0 at 25 + 2 cents an hour
    clock.advance(timedelta(hours=2, minutes=30))
    c.resize.modify(tenant, code, ChangeRequest(memory_gb=4, storage_gb=20))
    finish_jobs(c, clock)
    metered = [(e.amount_cents, e.note) for e in ledger(c, tenant) if e.kind == LedgerKind.METERING]
    assert metered == [(-2 * 27, f"2 h of {code} before its spec change")]
    assert c.instances.get(tenant, code).billed_until == T0 + 2 * HOUR
    clock.advance(timedelta(hours=1))
    c.billing.tick()
    assert [e.amount_cents for e in ledger(c, tenant) if e.kind == LedgerKind.METERING][1:] == [-(50 + 2)]


def test_a_prepaid_upgrade_pays_the_difference_for_the_rest_of_the_period_and_a_later_refund_counts_it(world):
    c, clock = world
    tenant = new_tenant(c, "prepaid", 2000)
    code = running_master(c, clock, tenant, PREPAID)  # Jan 7 -> Feb 7: 31 days
    clock.advance(timedelta(days=10, hours=1))
    change = c.resize.modify(tenant, code, ChangeRequest(memory_gb=4, storage_gb=20))
    difference = MEDIUM_MONTH_20GB - SMALL_MONTH_20GB
    assert change.charged_cents == -(-difference * 21 // 30)  # 20 days 23 h left: 21 started days
    modify = [e for e in ledger(c, tenant) if e.kind == LedgerKind.MODIFY]
    assert [(e.amount_cents, e.reference) for e in modify] == [(-change.charged_cents, change.bill_id)]
    finish_jobs(c, clock)
    c.instances.isolate(tenant, [code])
    refund = [e.amount_cents for e in ledger(c, tenant) if e.kind == LedgerKind.REFUND]
    # 20 unused whole days of the month bought (31 days) and of the 20 days the change paid for.
    assert refund == [SMALL_MONTH_20GB * 20 // 31 + change.charged_cents * 20 // 20]


def test_a_prepaid_downgrade_gives_money_back_once(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "thrifty", 2000)
    code = buy(c, tenant, PREPAID, storage=100).instances[0].code  # 18000 + 100 * 50 a month, Jan 7 -> Feb 7
    finish_jobs(c, clock)
    clock.advance(HOUR)
    down = c.resize.modify(tenant, code, ChangeRequest(memory_gb=2, storage_gb=20))  # 30 days 23 h left
    finish_jobs(c, clock)
    assert down.charged_cents == -(80 * 50 * 30 // 30)  # 30 whole days of 40 CNY a month less
    assert [e.amount_cents for e in ledger(c, tenant) if e.kind == LedgerKind.MODIFY] == [-down.charged_cents]
    clock.advance(HOUR)
    c.instances.isolate(tenant, [code])
    refund = sum(e.amount_cents for e in ledger(c, tenant) if e.kind == LedgerKind.REFUND)
    # 30 unused whole days of the month bought (31 days), less what the downgrade already gave back for them.
    assert refund == (18000 + 100 * 50) * 30 // 31 + down.charged_cents * 30 // 30
    paid = -sum(e.amount_cents for e in ledger(c, tenant) if e.kind != LedgerKind.TOP_UP)
    assert paid > 0  # two hours of a month were used: never more given back than was paid


# --- deferred changes ----------------------------------------------------------------------------
def test_a_change_for_the_maintenance_window_waits_and_switch_now_applies_it(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "later", 1000)
    code = running_master(c, clock, tenant)  # T0 is Monday 12:00 UTC = 20:00 UTC+8
    c.resize.set_window(tenant, code, "22:00", 2, ["monday", "tuesday"])
    change = c.resize.modify(tenant, code, ChangeRequest(memory_gb=4, storage_gb=20,
                                                         switch=SwitchMode.MAINTENANCE_WINDOW))
    assert change.switch_at == T0 + timedelta(hours=2)
    assert change.job.not_before == change.switch_at and change.job.state is JobState.PENDING
    assert c.instances.get(tenant, code).lifecycle is Lifecycle.RUNNING
    with pytest.raises(InvalidInstanceState):  # one change at a time
        c.resize.modify(tenant, code, ChangeRequest(memory_gb=8, storage_gb=20))
    job = c.resize.switch_now(tenant, code)
    assert job.not_before is None and c.instances.get(tenant, code).lifecycle is Lifecycle.EXPANDING
    finish_jobs(c, clock)
    assert c.instances.get(tenant, code).spec_code == "pg.it.medium4"
    with pytest.raises(InvalidInstanceState):  # nothing waits any more
        c.resize.switch_now(tenant, code)


def test_a_waiting_change_of_an_instance_isolated_meanwhile_fails_and_its_money_is_settled_once(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "gone", 2000)
    code = running_master(c, clock, tenant, PREPAID)
    change = c.resize.modify(tenant, code, ChangeRequest(memory_gb=4, storage_gb=20,
                                                         switch=SwitchMode.MAINTENANCE_WINDOW))  # 03:00 UTC+8
    c.instances.isolate(tenant, [code])
    clock.advance(change.switch_at - T0)
    with pytest.raises(AssertionError, match=r"is isolat(ing|ed): the change is not applied"):
        finish_jobs(c, clock)  # the isolation, and the change at its time
    assert c.instances.get(tenant, code).lifecycle is Lifecycle.ISOLATED
    assert not rules.waits_for_switch(c.instances.get(tenant, code)), "a failed change waits for nothing"
    refunds = [e.amount_cents for e in ledger(c, tenant) if e.kind == LedgerKind.REFUND]
    assert refunds == [SMALL_MONTH_20GB + change.charged_cents]  # all of it (no day used), once: at the isolation
    assert [e.amount_cents for e in ledger(c, tenant) if e.kind == LedgerKind.MODIFY] == [-change.charged_cents]


def test_a_change_between_two_times_waits_for_them(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "between", 1000)
    code = running_master(c, clock, tenant)
    change = c.resize.modify(tenant, code, ChangeRequest(memory_gb=4, storage_gb=20, switch=SwitchMode.BETWEEN,
                                                         switch_start="03:00:00", switch_end="04:00:00"))
    assert change.switch_at == datetime(2030, 1, 7, 19, 0, tzinfo=UTC)  # 03:00 UTC+8 on Tuesday
    waiting = c.instances.get(tenant, code)
    assert waiting.lifecycle is Lifecycle.RUNNING and rules.waits_for_switch(waiting)
    assert presenters.instance_status(waiting) == "waitSwitch"
    clock.advance(change.switch_at - T0)
    finish_jobs(c, clock)
    after = c.instances.get(tenant, code)
    assert after.spec_code == "pg.it.medium4" and not rules.waits_for_switch(after)
    assert presenters.instance_status(after) == "running"


# --- read-only instances -------------------------------------------------------------------------
def test_a_read_only_instance_may_not_go_below_its_masters_floor_and_a_master_raises_its_replicas_first(world):
    c, clock = world
    tenant = new_tenant(c, "ro", 1000)
    master = running_master(c, clock, tenant)
    order = ReadOnlyOrder(region="ap-beijing", master=master, spec_code="pg.it.small2", charge_type=POSTPAID)
    replica = c.instances.create_readonly(tenant, order).instances[0].code
    finish_jobs(c, clock)
    c.resize.modify(tenant, master, ChangeRequest(memory_gb=4, storage_gb=20))
    finish_jobs(c, clock)
    calls = [call for call in fake(c).calls if call[0] == "apply_spec"]
    assert calls == [("apply_spec", replica), ("apply_spec", master)]  # the standby first
    assert fake(c).max_connections_of(replica) == 200  # its spec says 100: raised to the master's
    before = everything_of(c, tenant)
    with pytest.raises(BelowStandbyFloor) as info:  # the replica is still pg.it.small2: may not shrink more...
        c.resize.modify(tenant, replica, ChangeRequest(memory_gb=2, storage_gb=30))
    assert "max_connections 100 < 200" in info.value.message
    assert everything_of(c, tenant) == before
    c.resize.modify(tenant, replica, ChangeRequest(memory_gb=8, storage_gb=20))  # ... and may grow past it
    finish_jobs(c, clock)
    assert c.instances.get(tenant, replica).spec_code == "pg.it.large8"


# --- refusals ------------------------------------------------------------------------------------
def test_storage_below_what_the_instance_holds_is_refused_with_nothing_done(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "full", 1000)
    code = buy(c, tenant, POSTPAID, storage=30).instances[0].code
    finish_jobs(c, clock)
    fake(c).write(code, 15 * 1024**3)
    before = everything_of(c, tenant)
    with pytest.raises(StorageBelowUsed, match="holds 16 GB"):
        c.resize.modify(tenant, code, ChangeRequest(memory_gb=2, storage_gb=10))
    assert everything_of(c, tenant) == before
    c.resize.modify(tenant, code, ChangeRequest(memory_gb=2, storage_gb=20))  # still above what it holds
    finish_jobs(c, clock)
    assert c.instances.get(tenant, code).storage_gb == 20


@pytest.mark.parametrize(("request_", "error"), [
    (ChangeRequest(memory_gb=3, storage_gb=20), UnknownSpec),
    (ChangeRequest(memory_gb=4, storage_gb=20, cpu=3), UnknownSpec),
    (ChangeRequest(memory_gb=4, storage_gb=25), InvalidStorage),
    (ChangeRequest(memory_gb=2, storage_gb=2000), InvalidStorage),
    (ChangeRequest(memory_gb=2, storage_gb=20), InvalidInput),  # nothing changes
    (ChangeRequest(memory_gb=4, storage_gb=20, switch=SwitchMode.BETWEEN, switch_start="03:00:00"), InvalidInput),
    (ChangeRequest(memory_gb=4, storage_gb=20, switch=SwitchMode.BETWEEN, switch_start="3", switch_end="4"),
     InvalidInput),
    (ChangeRequest(memory_gb=4, storage_gb=20, spec_code="rds.pg.s1.large.rr"), UnknownSpec),
])
def test_bad_changes_are_refused_with_nothing_done(world, request_: ChangeRequest, error: type[Exception]) -> None:
    c, clock = world
    tenant = new_tenant(c, "bad", 1000)
    code = running_master(c, clock, tenant)
    before = everything_of(c, tenant)
    with pytest.raises(error):
        c.resize.modify(tenant, code, request_)
    assert everything_of(c, tenant) == before


def test_a_postpaid_change_needs_an_hour_of_the_new_price_in_the_balance(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "broke")
    c.billing.top_up(tenant, 30)  # an hour of pg.it.small2 (27 cents), not of pg.it.medium4 (52)
    code = running_master(c, clock, tenant)
    with pytest.raises(InsufficientBalance):
        c.resize.modify(tenant, code, ChangeRequest(memory_gb=4, storage_gb=20))
    assert c.instances.get(tenant, code).lifecycle is Lifecycle.RUNNING


def test_the_standby_floor_counts_worker_processes_as_well_as_connections() -> None:
    from openrds.domain.catalogue import Spec
    from openrds.domain.resize import below_floor

    def spec(cpu: int, connections: int) -> Spec:
        return Spec(f"s{cpu}-{connections}", cpu, 1024, connections, 10, 100, 1000, 100, 1)

    assert below_floor(spec(16, 200), spec(16, 200)) == []
    assert below_floor(spec(4, 400), spec(2, 200)) == []  # below 8 cores every spec has 8 worker processes
    assert below_floor(spec(16, 100), spec(8, 200)) == ["max_connections"]
    assert below_floor(spec(12, 200), spec(16, 200)) == ["max_worker_processes"]  # what a clone must not miss
