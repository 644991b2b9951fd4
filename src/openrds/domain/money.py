"""Money: prices, vouchers, pro rata refunds, hourly metering and the ledger rule. Pure Python.

Every amount is an ``int`` of cents (分) of CNY; nothing here ever holds a float. Rounding is stated
where it happens: prices round up to a whole cent, refunds round down, so the service never gives
away a cent it was not paid.

The ledger rule: a tenant's balance changes only together with a ledger entry, so the entries always
sum to the balance (:func:`ledger_consistent`).
"""

from __future__ import annotations

import calendar
import enum
import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation

from openrds.domain.catalogue import Catalogue, Spec
from openrds.domain.errors import InvalidInput, VoucherRefused
from openrds.domain.model import Instance, Order, OrderAction
from openrds.domain.states import ChargeType, IsolationReason, Lifecycle, Operation, allowed

#: States in which a postpaid instance is metered: its server is (meant to be) up for the tenant.
METERED = frozenset({Lifecycle.RUNNING, Lifecycle.RESTARTING, Lifecycle.EXPANDING, Lifecycle.MODIFYING_PARAMETERS})
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
CURRENCY = "CNY"


class LedgerKind(enum.StrEnum):
    TOP_UP = "top_up"
    PURCHASE = "purchase"  # a create bill (prepaid: the whole period)
    RENEWAL = "renewal"  # a renewal bill (RenewInstance, auto-renewal, DisIsolate of an expired instance)
    METERING = "metering"  # postpaid hours of one instance
    REFUND = "refund"  # unused whole days of an isolated prepaid instance
    MODIFY = "modify"  # a spec or storage change: the price difference for the rest of the period (+/-)


@dataclass(frozen=True, slots=True)
class Account:
    tenant_id: str
    balance_cents: int
    arrears_since: datetime | None = None  # when the balance fell below zero (None while it is >= 0)


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    tenant_id: str
    amount_cents: int  # + top-up, refund; - purchase, renewal, metering
    balance_after_cents: int
    kind: LedgerKind
    reference: str  # bill id, deal name or instance code
    note: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Voucher:
    """A single-use amount that pays (part of) one prepaid bill; what it does not cover is lost."""

    id: str
    tenant_id: str
    amount_cents: int
    expires_at: datetime
    created_at: datetime
    spent_at: datetime | None = None
    spent_reference: str = ""  # the bill it paid

    def usable(self, now: datetime) -> bool:
        return self.spent_at is None and now < self.expires_at


# --- amounts -------------------------------------------------------------------------------------
def yuan_to_cents(text: str) -> int:
    """``"10000"`` or ``"12.5"`` yuan -> cents; more than two decimals or a non-number is refused."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidInput(f"{text!r} is not an amount of yuan", field="amount") from None
    cents = value * 100
    if not value.is_finite() or cents != cents.to_integral_value():
        raise InvalidInput(f"{text!r} is not an amount of yuan with at most two decimals", field="amount")
    return int(cents)


def cents_text(cents: int) -> str:
    """12345 -> ``"123.45"`` (yuan, for people)."""
    sign = "-" if cents < 0 else ""
    return f"{sign}{abs(cents) // 100}.{abs(cents) % 100:02d}"


def _ceil_div(a: int, b: int) -> int:
    return -(-a // b)


# --- prices --------------------------------------------------------------------------------------
def monthly_price(catalogue: Catalogue, spec: Spec, storage_gb: int) -> int:
    """One instance for one month, prepaid: the spec's monthly price plus its storage."""
    return spec.monthly_price_cents + storage_gb * catalogue.storage_gb_month_price_cents


def hourly_price(catalogue: Catalogue, spec: Spec, storage_gb: int) -> int:
    """One instance for one hour, postpaid: the spec's hourly price plus its storage, whose price per
    GB-hour is in hundredths of a cent; the sum is rounded up to a whole cent."""
    return spec.hourly_price_cents + _ceil_div(storage_gb * catalogue.storage_gb_hour_price_centicents, 100)


def purchase_price(catalogue: Catalogue, spec: Spec, storage_gb: int, charge_type: ChargeType, months: int) -> int:
    """What one instance costs at purchase: prepaid ``months`` months; postpaid one hour (which is
    what the balance must cover to buy it; the hours themselves are metered while it runs)."""
    if charge_type is ChargeType.PREPAID:
        return monthly_price(catalogue, spec, storage_gb) * months
    return hourly_price(catalogue, spec, storage_gb)


# --- vouchers ------------------------------------------------------------------------------------
def choose_voucher(vouchers: Iterable[Voucher], price: int, now: datetime) -> Voucher | None:
    """The best usable voucher for a bill of ``price``: the one that pays most of it; among those the
    smallest (least is lost), then the one expiring first; None when none is usable."""
    usable = [v for v in vouchers if v.usable(now)]
    if not usable or price <= 0:
        return None
    return min(usable, key=lambda v: (-min(v.amount_cents, price), v.amount_cents, v.expires_at, v.id))


def check_voucher(voucher: Voucher | None, voucher_id: str, now: datetime) -> Voucher:
    """A voucher named by the caller, or why it cannot pay. Another tenant's voucher is unknown."""
    if voucher is None:
        raise VoucherRefused(f"voucher {voucher_id} does not exist", field="voucher_ids")
    if voucher.spent_at is not None:
        raise VoucherRefused(f"voucher {voucher_id} has already been used", field="voucher_ids")
    if now >= voucher.expires_at:
        raise VoucherRefused(f"voucher {voucher_id} expired at {voucher.expires_at:%Y-%m-%d %H:%M:%S}",
                             field="voucher_ids")
    return voucher


def allocate(total: int, weights: Sequence[int]) -> list[int]:
    """Split ``total`` cents over ``weights`` proportionally, whole cents summing exactly to ``total``
    (largest remainders first, ties to the earlier item)."""
    if not weights:
        return []
    weight_sum = sum(weights)
    if weight_sum <= 0:
        shares = [0] * len(weights)
        shares[0] = total
        return shares
    shares = [total * w // weight_sum for w in weights]
    remainders = sorted(range(len(weights)), key=lambda i: (-(total * weights[i] % weight_sum), i))
    for i in remainders[: total - sum(shares)]:
        shares[i] += 1
    return shares


@dataclass(frozen=True, slots=True)
class Bill:
    """A priced call: the list price of each deal, what the voucher pays, what the balance pays."""

    prices: tuple[int, ...]  # per deal, list price
    voucher: Voucher | None
    voucher_cents: int  # the part the voucher pays (<= total)

    @property
    def total(self) -> int:
        return sum(self.prices)

    @property
    def cash(self) -> int:
        return self.total - self.voucher_cents

    def paid_per_deal(self) -> list[int]:
        """What the balance pays for each deal (the voucher's part shared out pro rata)."""
        discounts = allocate(self.voucher_cents, self.prices)
        return [p - d for p, d in zip(self.prices, discounts, strict=True)]


def make_bill(prices: Sequence[int], voucher: Voucher | None) -> Bill:
    total = sum(prices)
    applied = min(voucher.amount_cents, total) if voucher is not None else 0
    return Bill(tuple(prices), voucher, applied)


def can_pay(balance: int, cash: int) -> bool:
    """The balance covers a charge (a balance below zero covers nothing, not even a free bill)."""
    return balance >= 0 and balance >= cash


# --- periods and refunds -------------------------------------------------------------------------
def add_months(when: datetime, months: int) -> datetime:
    """The same day and time ``months`` later; the last day of the month where that day is missing
    (Jan 31 + 1 month = Feb 28/29)."""
    index = when.month - 1 + months
    year, month = when.year + index // 12, index % 12 + 1
    day = min(when.day, calendar.monthrange(year, month)[1])
    return when.replace(year=year, month=month, day=day)


@dataclass(frozen=True, slots=True)
class Segment:
    """A stretch of paid time of one prepaid instance and what the balance paid for it."""

    start: datetime
    end: datetime
    paid_cents: int


def paid_segments(orders: Iterable[Order]) -> list[Segment]:
    """The paid stretches of one prepaid instance, from its orders in time order: a purchase or a
    renewal buys ``period_months`` from the end of the previous stretch, or from its own time if that
    is later (renewing an expired instance); a refund ends every stretch at its own time."""
    segments: list[Segment] = []
    end: datetime | None = None
    # At one instant: purchases, then spec changes (they adjust the stretch just bought), then refunds.
    for order in sorted(orders, key=lambda o: (o.created_at, o.action == OrderAction.MODIFY,
                                               o.action == OrderAction.REFUND)):
        if order.action == OrderAction.REFUND:
            segments = [Segment(s.start, min(s.end, order.created_at), s.paid_cents) for s in segments
                        if s.start < order.created_at]
            end = order.created_at
        elif order.period_months > 0 and order.charge_type is ChargeType.PREPAID:
            start = order.created_at if end is None else max(end, order.created_at)
            end = add_months(start, order.period_months)
            segments.append(Segment(start, end, order.amount_cents))
        elif order.action == OrderAction.MODIFY and end is not None and order.created_at < end:
            # A spec change paid (or was given back) the difference for the rest of the stretch.
            segments.append(Segment(order.created_at, end, order.amount_cents))
    return segments


def refund_cents(segment: Segment, now: datetime) -> int:
    """The unused whole days of a stretch, pro rata of what was paid for it (rounded down). A
    refund ends its stretches (:func:`paid_segments`), so nothing is refunded twice."""
    total_days = max(1, (segment.end - segment.start) // DAY)
    unused_days = max(0, (segment.end - max(now, segment.start)) // DAY)
    return segment.paid_cents * min(unused_days, total_days) // total_days


def refund_for(orders: Iterable[Order], now: datetime) -> int:
    """What isolating a prepaid instance at ``now`` gives back: the unused whole days of every paid
    stretch (a stretch only partly used counts its remaining whole days; later ones count whole)."""
    return max(0, sum(refund_cents(s, now) for s in paid_segments(orders) if s.end > now))


# --- postpaid metering ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Meter:
    """A running postpaid instance: metered up to ``billed_until`` at ``hourly_cents`` an hour."""

    instance_id: str
    billed_until: datetime
    hourly_cents: int


@dataclass(frozen=True, slots=True)
class MeterCharge:
    instance_id: str
    hours: int
    cents: int
    billed_until: datetime  # the new value


@dataclass(frozen=True, slots=True)
class MeterPlan:
    charges: tuple[MeterCharge, ...]
    balance_cents: int  # after the charges
    arrears_since: datetime | None
    stop_at: datetime | None  # when the grace period ran out (<= now): postpaid instances stop there


def plan_metering(balance: int, arrears_since: datetime | None, meters: Sequence[Meter], now: datetime,
                  grace: timedelta) -> MeterPlan:
    """Charge every whole hour each instance ran since it was last metered, in time order, as if the
    service had metered each hour as it ended (so a service that was down catches up exactly).

    The moment the balance first falls below zero starts the arrears; ``grace`` later the instances
    stop: hours starting after that are not charged, the hour running at that moment is charged
    whole (an instance that stops pays its last, partial hour)."""
    if balance >= 0:
        arrears_since = None
    cutoff = arrears_since + grace if arrears_since is not None else None
    hours = [0] * len(meters)
    heap = [(m.billed_until + HOUR, i) for i, m in enumerate(meters)]
    heapq.heapify(heap)
    while heap:
        end, i = heap[0]
        if end > now or (cutoff is not None and end - HOUR >= cutoff):
            break  # the earliest hour is not over yet, or starts after the instances stopped
        heapq.heapreplace(heap, (end + HOUR, i))
        hours[i] += 1
        balance -= meters[i].hourly_cents
        if balance < 0 and arrears_since is None:
            arrears_since = end
            cutoff = end + grace
    stop_at = cutoff if cutoff is not None and cutoff <= now else None
    if stop_at is not None:
        for i, meter in enumerate(meters):
            if meter.billed_until + hours[i] * HOUR < stop_at:  # the partial hour running at the stop
                hours[i] += 1
                balance -= meter.hourly_cents
    charges = tuple(
        MeterCharge(m.instance_id, h, h * m.hourly_cents, m.billed_until + h * HOUR)
        for m, h in zip(meters, hours, strict=True) if h
    )
    return MeterPlan(charges, balance, arrears_since, stop_at)


def settle_hours(billed_until: datetime, stopped_at: datetime) -> int:
    """Hours still to charge for an instance that stops at ``stopped_at``: every hour it ran since it
    was last metered, the last partial one included."""
    if stopped_at <= billed_until:
        return 0
    return _ceil_div(int((stopped_at - billed_until).total_seconds()), 3600)


# --- prepaid expiry and what follows ------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExpiryPlan:
    """What the billing round does with a prepaid instance whose period is over."""

    renew_at: tuple[datetime, ...]  # one month bought at each of these (each the expiry it ran into)
    isolate: bool  # still expired after them, and its state allows it: isolated


def plan_expiry(instance: Instance, monthly_cents: int, balance: int, now: datetime) -> ExpiryPlan:
    """An instance with auto-renewal that is (meant to be) up is renewed a month at a time, each at
    the expiry it ran into - as if the service had been there at that moment - while the balance
    covers a month; one still expired after that is isolated."""
    expire_at = instance.expire_at
    if instance.charge_type is not ChargeType.PREPAID or expire_at is None or expire_at > now:
        return ExpiryPlan((), False)
    renew_at = []
    while instance.auto_renew and instance.lifecycle in METERED and expire_at <= now and can_pay(balance,
                                                                                                  monthly_cents):
        renew_at.append(expire_at)
        balance -= monthly_cents
        expire_at = add_months(expire_at, 1)
    return ExpiryPlan(tuple(renew_at), expire_at <= now and allowed(Operation.ISOLATE, instance.lifecycle))


def due_for_destruction(instances: Iterable[Instance], now: datetime, retention: timedelta) -> list[Instance]:
    """Instances isolated because they expired, whose expiry (or isolation) is ``retention`` past.
    Deletion protection is the tenant's guard against its own mistakes, not against not paying."""
    due = []
    for instance in instances:
        since = instance.expire_at or instance.isolated_at
        if (instance.lifecycle is Lifecycle.ISOLATED and instance.isolation_reason is IsolationReason.EXPIRED
                and since is not None and since + retention <= now):
            due.append(instance)
    return due


def back_from_arrears(instances: Iterable[Instance]) -> list[Instance]:
    """Instances isolated for arrears that come back once the balance is at zero or above; a read-only
    instance whose master is isolated for another reason stays: it follows its master."""
    isolated = [i for i in instances if i.lifecycle is Lifecycle.ISOLATED]
    down_for_another_reason = {i.id for i in isolated if i.isolation_reason is not IsolationReason.ARREARS}
    return [i for i in isolated
            if i.isolation_reason is IsolationReason.ARREARS and i.master_id not in down_for_another_reason]


# --- the ledger rule -----------------------------------------------------------------------------
def ledger_consistent(balance: int, entries: Sequence[LedgerEntry]) -> bool:
    """The entries sum to the balance, and each entry's running balance is its predecessor's plus it."""
    running = 0
    for entry in entries:
        running += entry.amount_cents
        if entry.balance_after_cents != running:
            return False
    return running == balance
