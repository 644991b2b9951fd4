"""The pure money rules (``openrds.domain.money``): prices, vouchers, periods, refunds, metering."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from openrds.domain import money
from openrds.domain.catalogue import build_catalogue
from openrds.domain.errors import InvalidInput, VoucherRefused
from openrds.domain.model import Order
from openrds.domain.money import HOUR, Meter, Segment, Voucher
from openrds.domain.states import ChargeType

T0 = datetime(2026, 1, 31, 10, 0, tzinfo=UTC)
CATALOGUE = build_catalogue([])
SMALL = CATALOGUE.spec("pg.it.small2")


# --- amounts and prices --------------------------------------------------------------------------
@pytest.mark.parametrize(("text", "cents"), [("10000", 1_000_000), ("12.5", 1250), ("0.01", 1), ("-3", -300)])
def test_yuan_to_cents(text: str, cents: int) -> None:
    assert money.yuan_to_cents(text) == cents
    assert isinstance(money.yuan_to_cents(text), int)


@pytest.mark.parametrize("text", ["0.001", "ten", "", "nan", "inf"])
def test_yuan_to_cents_refuses(text: str) -> None:
    with pytest.raises(InvalidInput):
        money.yuan_to_cents(text)


def test_cents_text() -> None:
    assert [money.cents_text(c) for c in (0, 5, 1250, -1250, 100)] == ["0.00", "0.05", "12.50", "-12.50", "1.00"]


def test_prices_are_the_catalogue_prices() -> None:
    # pg.it.small2: 180 yuan a month, 25 cents an hour; storage 0.50 yuan per GB-month, 0.1 cent per GB-hour.
    assert (SMALL.monthly_price_cents, SMALL.hourly_price_cents) == (18000, 25)
    assert money.monthly_price(CATALOGUE, SMALL, 100) == 18000 + 100 * 50
    assert money.hourly_price(CATALOGUE, SMALL, 100) == 25 + 10
    assert money.hourly_price(CATALOGUE, SMALL, 15) == 25 + 2  # 1.5 cents rounds up
    assert money.purchase_price(CATALOGUE, SMALL, 20, ChargeType.PREPAID, 12) == 12 * (18000 + 1000)
    assert money.purchase_price(CATALOGUE, SMALL, 20, ChargeType.POSTPAID, 1) == 25 + 2


def test_catalogue_prices_are_configuration() -> None:
    catalogue = build_catalogue([], {"storage_gb_month_price_cents": 80, "storage_gb_hour_price_centicents": 25})
    assert money.monthly_price(catalogue, SMALL, 10) == 18000 + 800
    assert money.hourly_price(catalogue, SMALL, 10) == 25 + 3
    with pytest.raises(ValueError):
        build_catalogue([], {"storage_gb_month_price_cents": -1})
    with pytest.raises(ValueError):
        build_catalogue([], {"specs": [{"code": "free", "cpu": 1, "memory_mb": 1024, "max_connections": 10,
                                        "min_storage_gb": 10, "max_storage_gb": 100, "qps": 1,
                                        "monthly_price_cents": 0, "hourly_price_cents": 1}]})


# --- vouchers ------------------------------------------------------------------------------------
def voucher(vid: str, cents: int, days: float = 30, spent: bool = False) -> Voucher:
    return Voucher(vid, "t", cents, T0 + timedelta(days=days), T0 - timedelta(days=1),
                   spent_at=T0 if spent else None)


def test_the_best_voucher_pays_most_then_wastes_least_then_expires_first() -> None:
    vs = [voucher("small", 3000), voucher("big", 50000), voucher("exact", 10000), voucher("exact-soon", 10000, 2)]
    assert money.choose_voucher(vs, 10000, T0).id == "exact-soon"
    assert money.choose_voucher(vs, 40000, T0).id == "big"
    assert money.choose_voucher(vs, 2000, T0).id == "small"
    assert money.choose_voucher([voucher("spent", 10000, spent=True), voucher("old", 10000, days=-1)], 10000,
                                T0) is None
    assert money.choose_voucher(vs, 0, T0) is None


def test_a_named_voucher_is_checked() -> None:
    assert money.check_voucher(voucher("v", 100), "v", T0).id == "v"
    for bad, why in ((None, "does not exist"), (voucher("v", 100, spent=True), "already been used"),
                     (voucher("v", 100, days=-0.001), "expired")):
        with pytest.raises(VoucherRefused, match=why) as info:
            money.check_voucher(bad, "v", T0)
        assert info.value.field == "voucher_ids"


@given(st.integers(0, 10**7), st.lists(st.integers(0, 10**6), min_size=1, max_size=8))
def test_allocate_splits_exactly(total: int, weights: list[int]) -> None:
    shares = money.allocate(total, weights)
    assert sum(shares) == total and all(s >= 0 for s in shares)
    if sum(weights) > 0:
        assert all(abs(s - total * w / sum(weights)) < 1 for s, w in zip(shares, weights, strict=True))


def test_a_bill_with_a_voucher() -> None:
    bill = money.make_bill([19000, 19000], voucher("v", 5000))
    assert (bill.total, bill.voucher_cents, bill.cash) == (38000, 5000, 33000)
    assert bill.paid_per_deal() == [16500, 16500]
    assert money.make_bill([100], voucher("v", 5000)).cash == 0  # the rest of the voucher is lost


def test_a_negative_balance_pays_nothing() -> None:
    assert money.can_pay(100, 100) and money.can_pay(0, 0)
    assert not money.can_pay(99, 100) and not money.can_pay(-1, 0)


# --- periods and refunds -------------------------------------------------------------------------
def test_add_months_keeps_the_day_or_takes_the_last() -> None:
    assert money.add_months(T0, 1) == datetime(2026, 2, 28, 10, 0, tzinfo=UTC)
    assert money.add_months(T0, 13) == datetime(2027, 2, 28, 10, 0, tzinfo=UTC)
    assert money.add_months(datetime(2027, 12, 15, tzinfo=UTC), 1) == datetime(2028, 1, 15, tzinfo=UTC)
    assert money.add_months(T0, 36) == datetime(2029, 1, 31, 10, 0, tzinfo=UTC)


def order(action: str, at: datetime, months: int, cents: int) -> Order:
    return Order("d", "b", "t", "i", action, ChargeType.PREPAID, months, cents, at)


def test_refund_of_unused_whole_days_pro_rata() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)  # March: 31 days
    seg = Segment(start, money.add_months(start, 1), 31000)
    assert money.refund_cents(seg, start) == 31000
    assert money.refund_cents(seg, start + timedelta(days=10)) == 21000
    assert money.refund_cents(seg, start + timedelta(days=10, hours=23)) == 20000  # the day begun is not refunded
    assert money.refund_cents(seg, seg.end) == 0


def test_segments_follow_purchases_renewals_and_refunds() -> None:
    start = datetime(2026, 3, 1, tzinfo=UTC)
    orders = [order("create", start, 1, 31000), order("renew", start + timedelta(days=5), 2, 61000)]
    segments = money.paid_segments(orders)
    april, june = datetime(2026, 4, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC)
    assert [(s.start, s.end) for s in segments] == [(start, april), (april, june)]
    # Isolated on March 11: 21 days of March back, and all of the renewal.
    assert money.refund_for(orders, start + timedelta(days=10)) == 21000 + 61000
    # After the refund nothing more comes back; a purchase after it starts at its own time.
    later = start + timedelta(days=40)
    orders += [order("refund", start + timedelta(days=10), 0, -82000), order("renew", later, 1, 30000)]
    assert money.paid_segments(orders)[-1] == Segment(later, money.add_months(later, 1), 30000)
    assert money.refund_for(orders, later) == 30000


@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["create", "renew", "refund"]), st.integers(0, 400),
                          st.sampled_from([1, 2, 3, 12]), st.integers(0, 10**6)), max_size=8),
       st.integers(0, 500))
def test_refunds_never_exceed_what_was_paid(ops: list[tuple[str, int, int, int]], at_day: int) -> None:
    orders, refunded = [], 0
    at_day = max([at_day] + [day for _, day, _, _ in ops])  # time only moves forward
    for action, day, months, cents in sorted(ops, key=lambda o: o[1]):
        when = T0 + timedelta(days=day)
        if action == "refund":
            due = money.refund_for(orders, when)
            orders.append(order("refund", when, 0, -due))
            refunded += due
        else:
            orders.append(order(action, when, months, cents))
    paid = sum(o.amount_cents for o in orders if o.action != "refund")
    assert refunded + money.refund_for(orders, T0 + timedelta(days=at_day)) <= paid


# --- metering ------------------------------------------------------------------------------------
def test_metering_charges_whole_hours() -> None:
    meters = [Meter("a", T0, 25), Meter("b", T0 + timedelta(minutes=30), 10)]
    plan = money.plan_metering(1000, None, meters, T0 + timedelta(hours=5, minutes=10), timedelta(hours=2))
    assert [(c.instance_id, c.hours, c.cents) for c in plan.charges] == [("a", 5, 125), ("b", 4, 40)]
    assert plan.charges[1].billed_until == T0 + timedelta(hours=4, minutes=30)
    assert (plan.balance_cents, plan.arrears_since, plan.stop_at) == (835, None, None)


def test_arrears_start_at_the_hour_the_balance_falls_below_zero_and_stop_after_the_grace() -> None:
    grace = timedelta(hours=2)
    meters = [Meter("a", T0, 100)]
    # 250 cents: hours 1 and 2 paid, hour 3 (ending T0+3h) makes the balance negative.
    plan = money.plan_metering(250, None, meters, T0 + timedelta(hours=4), grace)
    assert (plan.arrears_since, plan.stop_at, plan.balance_cents) == (T0 + 3 * HOUR, None, -150)
    # A service down for 10 hours catches up: arrears from T0+3h, stop at T0+5h, nothing after.
    plan = money.plan_metering(250, None, meters, T0 + timedelta(hours=10), grace)
    assert (plan.arrears_since, plan.stop_at) == (T0 + 3 * HOUR, T0 + 5 * HOUR)
    assert plan.charges[0].hours == 5 and plan.balance_cents == -250
    # A stop in the middle of an hour charges that hour whole.
    plan = money.plan_metering(-1, T0 + timedelta(minutes=30), [Meter("a", T0, 100)], T0 + 3 * HOUR, grace)
    assert plan.stop_at == T0 + timedelta(hours=2, minutes=30) and plan.charges[0].hours == 3


def test_a_balance_back_at_zero_ends_the_arrears() -> None:
    plan = money.plan_metering(0, T0, [], T0 + timedelta(days=3), timedelta(hours=1))
    assert (plan.arrears_since, plan.stop_at) == (None, None)


@settings(max_examples=200)
@given(st.integers(-1000, 5000), st.lists(st.tuples(st.integers(0, 600), st.integers(1, 300)), max_size=5),
       st.integers(0, 3000), st.integers(0, 600))
def test_metering_catches_up_as_if_run_every_minute(balance: int, specs: list[tuple[int, int]], minutes: int,
                                                    grace_minutes: int) -> None:
    """One round after a long pause charges what rounds every few minutes would have, in total."""
    grace = timedelta(minutes=grace_minutes)
    arrears = T0 if balance < 0 else None
    meters = [Meter(str(i), T0 + timedelta(minutes=m), price) for i, (m, price) in enumerate(specs)]
    once = money.plan_metering(balance, arrears, meters, T0 + timedelta(minutes=minutes), grace)
    bal, arr, current = balance, arrears, list(meters)
    stopped = None
    for step in range(0, minutes + 1, 7):
        plan = money.plan_metering(bal, arr, current, T0 + timedelta(minutes=step), grace)
        bal, arr = plan.balance_cents, plan.arrears_since
        by_id = {c.instance_id: c for c in plan.charges}
        current = [Meter(m.instance_id, by_id[m.instance_id].billed_until, m.hourly_cents) if m.instance_id in by_id
                   else m for m in current]
        if plan.stop_at is not None:
            stopped = plan.stop_at
            break
    if stopped is None:
        plan = money.plan_metering(bal, arr, current, T0 + timedelta(minutes=minutes), grace)
        bal, stopped = plan.balance_cents, plan.stop_at
    assert (once.balance_cents, once.stop_at) == (bal, stopped)


def test_settle_hours_counts_the_partial_hour() -> None:
    assert money.settle_hours(T0, T0) == 0
    assert money.settle_hours(T0, T0 + timedelta(seconds=1)) == 1
    assert money.settle_hours(T0, T0 + 2 * HOUR) == 2
    assert money.settle_hours(T0 + HOUR, T0) == 0
