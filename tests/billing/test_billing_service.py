"""The money rules through the services, over a real store with a manual clock and the fake engine
(jobs run for real, when a test calls :func:`finish_jobs`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from tests.support.service import wait_for
from typer.testing import CliRunner

from openrds import cli
from openrds.clock import ManualClock
from openrds.container import Container
from openrds.domain import money
from openrds.domain.errors import (
    InstanceNotFound,
    InsufficientBalance,
    InvalidInput,
    InvalidInstanceState,
    MissingInput,
    NotPrepaid,
    OrderNotFound,
    VoucherRefused,
)
from openrds.domain.model import Instance
from openrds.domain.money import DAY, HOUR, IsolationReason, LedgerKind
from openrds.domain.states import Lifecycle
from openrds.services.billing import Payment, PriceQuery
from openrds.services.bootstrap import bootstrap
from openrds.services.instances import ReadOnlyOrder

from .support import (
    HOUR_20GB,
    MONTH_20GB,
    POSTPAID,
    PREPAID,
    T0,
    buy,
    finish_jobs,
    ledger,
    ledger_sum,
    new_tenant,
    offline_container,
)


@pytest.fixture
def world() -> Iterator[tuple[Container, ManualClock]]:
    with offline_container(arrears_grace_hours=2, retention_days=7) as found:
        yield found


def instance(c: Container, tenant_id: str, code: str) -> Instance:
    return c.instances.get(tenant_id, code)


def everything_of(c: Container, tenant_id: str) -> tuple[Any, ...]:
    with c.store.read() as uow:
        return (len(uow.instances(tenant_id).list(include_deleted=True)), len(uow.jobs.of_tenant(tenant_id)),
                tuple(uow.account(tenant_id).ledger()), tuple(uow.vouchers(tenant_id).list()))


# --- bootstrap -----------------------------------------------------------------------------------
def test_the_bootstrap_tenant_starts_with_its_balance_as_first_ledger_entry(world) -> None:
    c, _ = world
    bootstrap(c.identity, c.settings.data_dir, {"OPENRDS_BOOTSTRAP_BALANCE": "123.45"}, billing=c.billing)
    tenant = c.identity.tenant("default").id
    entries = ledger(c, tenant)
    assert [(e.kind, e.amount_cents, e.balance_after_cents) for e in entries] == [("top_up", 12345, 12345)]
    assert c.billing.account(tenant).balance_cents == 12345


def test_the_default_bootstrap_balance_is_10000_yuan(world) -> None:
    c, _ = world
    bootstrap(c.identity, c.settings.data_dir, {}, billing=c.billing)
    assert c.billing.account(c.identity.tenant("default").id).balance_cents == 1_000_000


def test_a_bad_bootstrap_balance_creates_no_tenant(world) -> None:
    c, _ = world
    with pytest.raises(InvalidInput):
        bootstrap(c.identity, c.settings.data_dir, {"OPENRDS_BOOTSTRAP_BALANCE": "lots"}, billing=c.billing)
    assert c.identity.tenant_count() == 0


# --- prices --------------------------------------------------------------------------------------
def test_inquiry_prices_are_the_catalogue_prices(world) -> None:
    c, _ = world
    q = PriceQuery(region="ap-beijing", zone="ap-beijing-4", spec_code="pg.it.small2", storage_gb=20, count=3,
                   period_months=12, charge_type=PREPAID)
    assert c.billing.quote_create(q).price_cents == 3 * 12 * MONTH_20GB
    assert c.billing.quote_create(replace(q, charge_type="POSTPAID", period_months=1)).price_cents == 3 * HOUR_20GB
    assert c.billing.quote_create(replace(q, charge_type=POSTPAID, period_months=1)).original_cents == 3 * HOUR_20GB
    with pytest.raises(InvalidInput):
        c.billing.quote_create(replace(q, charge_type=POSTPAID, period_months=2))


# --- prepaid purchases ---------------------------------------------------------------------------
def test_a_prepaid_purchase_is_one_bill_with_one_deal_per_instance(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "acme", 2000)
    created = buy(c, tenant, period=3, count=2)
    assert len(created.deal_names) == 2 and created.bill_id.isdigit()
    charges = [e for e in ledger(c, tenant) if e.kind == LedgerKind.PURCHASE]
    assert [(e.amount_cents, e.reference) for e in charges] == [(-2 * 3 * MONTH_20GB, created.bill_id)]
    assert all(i.expire_at == money.add_months(T0, 3) for i in created.instances)
    orders = c.billing.orders(tenant, list(created.deal_names))
    assert [o.order.amount_cents for o in orders] == [3 * MONTH_20GB] * 2
    assert {o.instance_code for o in orders} == {i.code for i in created.instances}
    assert all(o.job_id == created.job.id for o in orders)  # type: ignore[union-attr]
    assert ledger_sum(c, tenant) == c.billing.account(tenant).balance_cents == 200000 - 6 * MONTH_20GB


def test_not_enough_balance_creates_nothing(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "poor", 100)
    before = everything_of(c, tenant)
    with pytest.raises(InsufficientBalance, match=r"needs 190\.00 CNY"):
        buy(c, tenant)
    with pytest.raises(InsufficientBalance):
        buy(c, tenant, dry_run=True)
    assert everything_of(c, tenant) == before


def test_postpaid_needs_one_hour_of_balance_and_charges_nothing_at_purchase(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "metered")
    with pytest.raises(InsufficientBalance):
        buy(c, tenant, POSTPAID, count=2)
    c.billing.top_up(tenant, 2 * HOUR_20GB)
    buy(c, tenant, POSTPAID, count=2, dry_run=True)
    created = buy(c, tenant, POSTPAID, count=2)
    assert all(i.expire_at is None and i.billed_until is None for i in created.instances)
    assert c.billing.account(tenant).balance_cents == 2 * HOUR_20GB
    assert len(c.billing.orders(tenant, list(created.deal_names))) == 2


def test_a_dry_run_prices_and_charges_nothing(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "careful", 200)
    before = everything_of(c, tenant)
    assert buy(c, tenant, dry_run=True).deal_names == ()
    assert everything_of(c, tenant) == before


# --- vouchers ------------------------------------------------------------------------------------
def test_a_named_voucher_pays_part_of_the_bill(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "acme", 500)
    voucher = c.billing.issue_voucher(tenant, 5000, timedelta(days=30))
    created = buy(c, tenant, voucher_ids=(voucher.id,))
    [charge] = [e for e in ledger(c, tenant) if e.kind == LedgerKind.PURCHASE]
    assert charge.amount_cents == -(MONTH_20GB - 5000) and voucher.id in charge.note
    [spent] = c.billing.statement(tenant).vouchers
    assert spent.spent_reference == created.bill_id
    with pytest.raises(VoucherRefused, match="already been used"):  # single use
        buy(c, tenant, voucher_ids=(voucher.id,), dry_run=True)


def test_auto_voucher_picks_the_best_usable_one(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 500)
    small = c.billing.issue_voucher(tenant, 1000, timedelta(days=30))
    big = c.billing.issue_voucher(tenant, 30000, timedelta(days=30))
    soon = c.billing.issue_voucher(tenant, 50000, timedelta(hours=1))
    clock.advance(timedelta(hours=2))  # `soon` expired
    created = buy(c, tenant, auto_voucher=True)
    vouchers = {v.id: v for v in c.billing.statement(tenant).vouchers}
    assert vouchers[big.id].spent_reference == created.bill_id
    assert vouchers[small.id].spent_at is None and vouchers[soon.id].spent_at is None
    assert c.billing.account(tenant).balance_cents == 50000  # the voucher paid all of it


@pytest.mark.parametrize("case", ["unknown", "foreign", "expired", "spent", "two", "postpaid"])
def test_a_voucher_that_cannot_pay_is_refused_and_nothing_happens(world, case: str) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 500)
    other = new_tenant(c, "other")
    mine = c.billing.issue_voucher(tenant, 5000, timedelta(days=1))
    theirs = c.billing.issue_voucher(other, 5000, timedelta(days=30))
    ids: tuple[str, ...] = {"unknown": ("voucher-nosuch",), "foreign": (theirs.id,), "expired": (mine.id,),
                            "spent": (mine.id,), "two": (mine.id, mine.id), "postpaid": (mine.id,)}[case]
    if case == "expired":
        clock.advance(2 * DAY)
    if case == "spent":
        buy(c, tenant, voucher_ids=(mine.id,))
    before = everything_of(c, tenant)
    for dry_run in (True, False):
        with pytest.raises(VoucherRefused) as info:
            buy(c, tenant, POSTPAID if case == "postpaid" else PREPAID, voucher_ids=ids, dry_run=dry_run)
        assert info.value.field == "voucher_ids"
    assert everything_of(c, tenant) == before
    assert c.billing.statement(other).vouchers[0].spent_at is None


# --- renewals ------------------------------------------------------------------------------------
def test_renewal_extends_from_the_expiry(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 1000)
    [inst] = buy(c, tenant, period=1).instances
    clock.advance(10 * DAY)
    assert c.billing.quote_renewal(tenant, inst.code, 2).price_cents == 2 * MONTH_20GB
    placed = c.billing.renew(tenant, inst.code, 2)
    assert instance(c, tenant, inst.code).expire_at == money.add_months(T0, 3)
    [order] = c.billing.orders(tenant, list(placed.deal_names))
    assert (order.order.action, order.order.period_months, order.job_id) == ("renew", 2, None)
    assert ledger(c, tenant)[-1].amount_cents == -2 * MONTH_20GB
    with pytest.raises(InsufficientBalance):
        c.billing.renew(tenant, inst.code, 12)
    with pytest.raises(InvalidInput):
        c.billing.renew(tenant, inst.code, 13)


def test_postpaid_instances_have_nothing_to_renew(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "acme", 100)
    [inst] = buy(c, tenant, POSTPAID).instances
    for call in (lambda: c.billing.renew(tenant, inst.code, 1), lambda: c.billing.quote_renewal(tenant, inst.code, 1),
                 lambda: c.billing.set_auto_renew(tenant, [inst.code], 1)):
        with pytest.raises(NotPrepaid):
            call()


def test_set_auto_renew_flag(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "acme", 1000)
    a, b = buy(c, tenant, count=2).instances
    assert c.billing.set_auto_renew(tenant, [a.code, b.id], 1) == 2
    assert instance(c, tenant, a.code).auto_renew and instance(c, tenant, b.code).auto_renew
    assert c.billing.set_auto_renew(tenant, [a.code], 2) == 1
    assert not instance(c, tenant, a.code).auto_renew
    with pytest.raises(InvalidInput):
        c.billing.set_auto_renew(tenant, [a.code], 3)
    other = new_tenant(c, "other")
    with pytest.raises(InstanceNotFound):
        c.billing.set_auto_renew(other, [a.code], 1)


# --- orders --------------------------------------------------------------------------------------
def test_orders_are_the_tenants_own(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "acme", 1000)
    other = new_tenant(c, "other")
    created = buy(c, tenant)
    with pytest.raises(OrderNotFound):
        c.billing.orders(other, list(created.deal_names))
    with pytest.raises(OrderNotFound):
        c.billing.orders(tenant, [*created.deal_names, "20300101000000000000000"])
    with pytest.raises(MissingInput):
        c.billing.orders(tenant, [])


# --- isolation and refunds -----------------------------------------------------------------------
def test_isolating_early_refunds_the_unused_whole_days(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 1000)
    [inst] = buy(c, tenant, period=1).instances  # Jan 7 - Feb 7 2030: 31 days
    finish_jobs(c, clock)
    clock.advance(timedelta(days=10, hours=5))  # 20 whole days and 19 hours left
    c.instances.isolate(tenant, [inst.code])
    refund = ledger(c, tenant)[-1]
    assert (refund.kind, refund.amount_cents) == ("refund", MONTH_20GB * 20 // 31)
    isolated = instance(c, tenant, inst.code)
    assert (isolated.expire_at, isolated.isolation_reason) == (clock.now(), IsolationReason.USER)
    finish_jobs(c, clock)
    # Back from isolation: its time was refunded, so it is bought again (Period months, 1 by default).
    balance = c.billing.account(tenant).balance_cents
    c.instances.disisolate(tenant, [inst.code], months=2)
    assert c.billing.account(tenant).balance_cents == balance - 2 * MONTH_20GB
    assert instance(c, tenant, inst.code).expire_at == money.add_months(clock.now(), 2)
    finish_jobs(c, clock)
    assert instance(c, tenant, inst.code).isolation_reason == ""
    assert ledger_sum(c, tenant) == c.billing.account(tenant).balance_cents


def test_disisolating_an_expired_instance_needs_the_balance(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 200)
    [inst] = buy(c, tenant).instances
    finish_jobs(c, clock)
    clock.advance(32 * DAY)
    c.billing.tick()
    finish_jobs(c, clock)
    assert instance(c, tenant, inst.code).lifecycle is Lifecycle.ISOLATED
    with pytest.raises(InvalidInstanceState):  # an isolated instance comes back by DisIsolate, not RenewInstance
        c.billing.renew(tenant, inst.code, 1)
    before = everything_of(c, tenant)
    with pytest.raises(InsufficientBalance):
        c.instances.disisolate(tenant, [inst.code])
    assert everything_of(c, tenant) == before
    voucher = c.billing.issue_voucher(tenant, MONTH_20GB, timedelta(days=1))
    c.instances.disisolate(tenant, [inst.code], payment=Payment((voucher.id,)))
    assert instance(c, tenant, inst.code).lifecycle is Lifecycle.DISISOLATING


# --- the billing round: prepaid expiry -------------------------------------------------------------
def test_at_expiry_auto_renewal_renews_and_its_absence_isolates(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 1000)
    renewing, lapsing = buy(c, tenant, count=2).instances
    c.billing.set_auto_renew(tenant, [renewing.code], 1)
    finish_jobs(c, clock)
    clock.advance(31 * DAY - timedelta(minutes=1))
    assert c.billing.tick().renewed == []  # not expired yet
    clock.advance(timedelta(minutes=2))
    report = c.billing.tick()
    assert (report.renewed, report.isolated) == ([renewing.code], [lapsing.code])
    assert instance(c, tenant, renewing.code).expire_at == money.add_months(T0, 2)
    renewal = ledger(c, tenant)[-1]
    assert (renewal.kind, renewal.amount_cents, renewal.created_at) == ("renewal", -MONTH_20GB, money.add_months(T0, 1))
    lapsed = instance(c, tenant, lapsing.code)
    assert (lapsed.lifecycle, lapsed.isolation_reason) == (Lifecycle.ISOLATING, IsolationReason.EXPIRED)
    finish_jobs(c, clock)
    # Destroyed `retention` (7 days) after its expiry, deletion protection or not.
    c.instances.set_deletion_protection(tenant, lapsing.code, True)
    clock.advance(7 * DAY - timedelta(minutes=2))
    assert c.billing.tick().destroyed == []
    clock.advance(timedelta(minutes=1))
    assert c.billing.tick().destroyed == [lapsing.code]
    finish_jobs(c, clock)
    with pytest.raises(InstanceNotFound):
        instance(c, tenant, lapsing.code)


def test_a_service_that_was_down_catches_up_renewals_until_the_money_runs_out(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 0)
    c.billing.top_up(tenant, 3 * MONTH_20GB + 100)
    [inst] = buy(c, tenant).instances
    c.billing.set_auto_renew(tenant, [inst.code], 1)
    finish_jobs(c, clock)
    clock.advance(150 * DAY)  # five expiries missed: two renewals paid, then isolated
    report = c.billing.tick()
    assert report.renewed == [inst.code] * 2 and report.isolated == [inst.code]
    renewals = [e for e in ledger(c, tenant) if e.kind == LedgerKind.RENEWAL]
    assert [e.created_at for e in renewals] == [money.add_months(T0, 1), money.add_months(T0, 2)]
    assert instance(c, tenant, inst.code).expire_at == money.add_months(T0, 3)
    finish_jobs(c, clock)
    # Its retention counts from its expiry, long past: the next round destroys it.
    assert c.billing.tick().destroyed == [inst.code]
    assert ledger_sum(c, tenant) == c.billing.account(tenant).balance_cents == 100


def test_an_expired_master_takes_its_read_only_instances_along(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "acme", 2000)
    [master] = buy(c, tenant).instances
    finish_jobs(c, clock)
    clock.advance(DAY)
    replica = c.instances.create_readonly(tenant, ReadOnlyOrder(region="ap-beijing", master=master.code,
                                                                spec_code="pg.it.small2", period_months=3,
                                                                charge_type=PREPAID)).instances[0]
    finish_jobs(c, clock)
    clock.advance(31 * DAY)
    report = c.billing.tick()
    assert report.isolated == [master.code, replica.code]
    refund = ledger(c, tenant)[-1]
    assert refund.kind == "refund" and refund.amount_cents > 0  # the replica's unused days
    assert instance(c, tenant, replica.code).isolation_reason == IsolationReason.EXPIRED


# --- the billing round: postpaid metering and arrears ------------------------------------------------
def test_postpaid_metering_charges_exactly_the_hours_run(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "metered", 100)
    [inst] = buy(c, tenant, POSTPAID).instances
    clock.advance(timedelta(minutes=3))  # creating is not running: not metered
    finish_jobs(c, clock)
    started = clock.now()
    assert instance(c, tenant, inst.code).billed_until == started
    clock.advance(timedelta(hours=5))
    assert c.billing.tick().metered_cents == 5 * HOUR_20GB
    [entry] = [e for e in ledger(c, tenant) if e.kind == LedgerKind.METERING]
    assert (entry.amount_cents, entry.reference) == (-5 * HOUR_20GB, inst.code)
    clock.advance(timedelta(minutes=59))
    assert c.billing.tick().metered_cents == 0
    # Isolated by the tenant at 5h59m: the sixth, partial hour is charged, then nothing.
    c.instances.isolate(tenant, [inst.code])
    assert ledger(c, tenant)[-1].amount_cents == -HOUR_20GB
    finish_jobs(c, clock)
    clock.advance(10 * HOUR)
    assert c.billing.tick().metered_cents == 0
    assert c.billing.account(tenant).balance_cents == 10000 - 6 * HOUR_20GB


def test_arrears_isolate_after_the_grace_period_and_a_top_up_brings_them_back(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "metered", 0)
    c.billing.top_up(tenant, 2 * 2 * HOUR_20GB)  # two instances, two hours
    a, b = buy(c, tenant, POSTPAID, count=2).instances
    finish_jobs(c, clock)
    clock.advance(3 * HOUR)
    c.billing.tick()
    account = c.billing.account(tenant)
    assert account.balance_cents == -2 * HOUR_20GB and account.arrears_since == clock.now()
    clock.advance(2 * HOUR - timedelta(minutes=1))  # grace: 2 hours
    assert c.billing.tick().isolated == []
    clock.advance(timedelta(minutes=1))
    assert sorted(c.billing.tick().isolated) == sorted([a.code, b.code])
    assert instance(c, tenant, a.code).isolation_reason == IsolationReason.ARREARS
    finish_jobs(c, clock)
    with pytest.raises(InsufficientBalance):  # not while the balance is negative
        c.instances.disisolate(tenant, [a.code])
    clock.advance(DAY)
    c.billing.tick()
    assert c.billing.account(tenant).balance_cents == -6 * HOUR_20GB  # hours 4 and 5 of each; nothing since
    c.billing.top_up(tenant, 6 * HOUR_20GB)
    assert c.billing.account(tenant).arrears_since is None
    assert sorted(c.billing.tick().restored) == sorted([a.code, b.code])
    finish_jobs(c, clock)
    assert instance(c, tenant, a.code).lifecycle is Lifecycle.RUNNING
    assert instance(c, tenant, a.code).billed_until == clock.now()  # metered again from now
    assert ledger_sum(c, tenant) == c.billing.account(tenant).balance_cents == 0


def test_arrears_catch_up_after_the_service_was_down(world) -> None:
    c, clock = world
    tenant = new_tenant(c, "metered", 0)
    c.billing.top_up(tenant, 2 * HOUR_20GB)
    [inst] = buy(c, tenant, POSTPAID).instances
    finish_jobs(c, clock)
    clock.advance(48 * HOUR)  # down for two days: negative after hour 3, stopped at hour 5
    report = c.billing.tick()
    assert report.isolated == [inst.code] and report.metered_cents == 5 * HOUR_20GB
    assert c.billing.account(tenant).arrears_since == T0 + 3 * HOUR


# --- the admin command -----------------------------------------------------------------------------
def test_admin_commands_top_up_show_and_issue(world) -> None:
    c, _ = world
    tenant = new_tenant(c, "acme")
    runner = CliRunner()
    args = ["--data-dir", str(c.settings.data_dir)]
    done = runner.invoke(cli.app, ["admin", "top-up", "acme", "99.50", *args])
    assert done.exit_code == 0 and "balance 99.50 CNY" in done.output, done.output
    done = runner.invoke(cli.app, ["admin", "issue-voucher", "acme", "20", "--days", "3", *args])
    assert done.exit_code == 0 and "worth 20.00 CNY" in done.output, done.output
    done = runner.invoke(cli.app, ["admin", "balance", "acme", *args])
    assert done.exit_code == 0 and "balance 99.50 CNY" in done.output and "top_up" in done.output, done.output
    assert "voucher-" in done.output
    assert c.billing.account(tenant).balance_cents == 9950
    assert runner.invoke(cli.app, ["admin", "top-up", "acme", "0", *args]).exit_code == 1
    assert runner.invoke(cli.app, ["admin", "top-up", "nobody", "5", *args]).exit_code == 1


# --- the loop ------------------------------------------------------------------------------------------
def test_the_billing_loop_runs_the_rounds_by_itself() -> None:
    with offline_container(billing_interval=0.05) as (c, clock):
        tenant = new_tenant(c, "metered", 100)
        [inst] = buy(c, tenant, POSTPAID).instances
        finish_jobs(c, clock)
        clock.advance(3 * HOUR)  # the service was "down" for three hours: the first round catches up
        c.billing_loop.start()
        try:
            wait_for(lambda: c.billing.account(tenant).balance_cents == 10000 - 3 * HOUR_20GB, 10,
                     "the loop to meter three hours")
            clock.advance(HOUR)
            wait_for(lambda: c.billing.account(tenant).balance_cents == 10000 - 4 * HOUR_20GB, 10,
                     "the loop to meter the fourth hour")
        finally:
            c.billing_loop.stop()
        assert [e.reference for e in ledger(c, tenant) if e.kind == LedgerKind.METERING] == [inst.code] * 2
