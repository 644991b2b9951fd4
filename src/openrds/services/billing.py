"""Billing: the one place money moves. Orders, balances, vouchers, renewals, refunds and metering.

Rules (the pure ones, and the plans of the billing round, are in :mod:`openrds.domain.money`):

* A purchase is priced, its voucher applied, the balance checked, and then charged, all in the
  caller's transaction: when the balance does not cover it, :class:`InsufficientBalance` rolls the
  whole create back (no instance row, no order, no ledger entry, no job).
* One bill per call, one deal (order) per instance, one ledger entry per bill.
* Prepaid instances have an expiry; at expiry :meth:`BillingService.tick` renews those with
  auto-renewal (one month at a time, while the balance allows) and isolates the others, which are
  destroyed ``retention`` after their expiry. Isolating one earlier refunds its unused whole days.
* Postpaid instances are metered by the hour they really run (from the moment their server is up
  until they stop). A tenant whose balance stays below zero for ``arrears_grace`` has its postpaid
  instances isolated; when the balance is back at zero or above, the tick brings them back.

Two classes: :class:`Cashier` moves money inside another use case's transaction (purchases,
renewals, instances stopping and coming back); :class:`BillingService` is billing's own use cases
and the billing round, which decides what to charge, renew, isolate, destroy and restore and hands
every change of state to :class:`openrds.services.lifecycle.LifecycleService`.
"""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from openrds.clock import Clock
from openrds.domain import money, rules
from openrds.domain.catalogue import Catalogue, Spec
from openrds.domain.errors import (
    InstanceNotFound,
    InsufficientBalance,
    InvalidInput,
    MissingInput,
    NotPrepaid,
    OrderNotFound,
    UnknownSpec,
    VoucherRefused,
)
from openrds.domain.ids import digits
from openrds.domain.model import Instance, Order, OrderAction
from openrds.domain.money import METERED, Account, Bill, LedgerEntry, LedgerKind, Voucher
from openrds.domain.states import ChargeType, IsolationReason, JobKind, Lifecycle, Operation, Role, ensure_allowed
from openrds.persistence.uow import Store, UnitOfWork

if TYPE_CHECKING:  # the lifecycle settles money through a Cashier; billing hands it its decisions
    from openrds.services.lifecycle import LifecycleService

log = logging.getLogger(__name__)

#: Largest InstanceCount an inquiry accepts (the SDK documents 100).
MAX_INQUIRY_COUNT = 100
_VOUCHER_ALPHABET = string.ascii_lowercase + string.digits


@dataclass(frozen=True, slots=True)
class Payment:
    """How a purchase is paid beyond the balance: one named voucher, or the best usable one."""

    voucher_ids: tuple[str, ...] = ()
    auto_voucher: bool = False


@dataclass(frozen=True, slots=True)
class Placed:
    deal_names: tuple[str, ...]
    bill_id: str
    instances: tuple[Instance, ...] = ()  # as bought: prepaid ones with their expiry
    charged_cents: int = 0  # what the balance paid
    voucher_id: str = ""


@dataclass(frozen=True, slots=True)
class Quote:
    original_cents: int  # list price
    price_cents: int  # what would be paid (no discounts on this host: the same)
    currency: str = money.CURRENCY


@dataclass(frozen=True, slots=True)
class PriceQuery:
    """An inquiry for new instances (InquiryPriceCreateDBInstances)."""

    region: str
    zone: str
    spec_code: str
    storage_gb: int
    count: int
    period_months: int
    charge_type: str | None = None
    readonly: bool = False


@dataclass(frozen=True, slots=True)
class OrderView:
    order: Order
    instance_code: str
    job_id: str | None  # the job that carries out the order (creates), if any


@dataclass(frozen=True, slots=True)
class Statement:
    account: Account
    ledger: tuple[LedgerEntry, ...]
    vouchers: tuple[Voucher, ...]


@dataclass
class TickReport:
    """What one billing round did, by instance code (for logs and tests)."""

    metered_cents: int = 0
    renewed: list[str] = field(default_factory=list)
    isolated: list[str] = field(default_factory=list)
    destroyed: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)


def _deal_name(now: datetime) -> str:
    return now.strftime("%Y%m%d") + digits(15)


def _bill_id() -> str:
    return digits(10)


class Cashier:
    """Money moved inside another use case's transaction: purchases priced, paid and ordered (a
    refused payment fails the caller's whole transaction), prepaid time bought, and instances
    settled when they stop and bought back when they return. Holds no state of its own."""

    def __init__(self, store: Store, catalogue: Catalogue, clock: Clock) -> None:
        self._store = store
        self._catalogue = catalogue
        self._clock = clock

    # --- prices -------------------------------------------------------------------------------
    def monthly_cents(self, instance: Instance) -> int:
        return money.monthly_price(self._catalogue, self._catalogue.spec(instance.spec_code), instance.storage_gb)

    def hourly_cents(self, instance: Instance) -> int:
        return money.hourly_price(self._catalogue, self._catalogue.spec(instance.spec_code), instance.storage_gb)

    # --- bills --------------------------------------------------------------------------------
    @staticmethod
    def _voucher(uow: UnitOfWork, tenant_id: str, charge_type: ChargeType, price: int, payment: Payment,
                 now: datetime) -> Voucher | None:
        if len(payment.voucher_ids) > 1:
            raise VoucherRefused("only one voucher may be specified", field="voucher_ids")
        if charge_type is ChargeType.POSTPAID:
            if payment.voucher_ids:
                raise VoucherRefused("vouchers pay prepaid purchases only; postpaid instances are metered by the hour",
                                     field="voucher_ids")
            return None  # AutoVoucher: nothing is paid now, so no voucher is used
        vouchers = uow.vouchers(tenant_id)
        if payment.voucher_ids:
            voucher_id = payment.voucher_ids[0]
            return money.check_voucher(vouchers.find(voucher_id), voucher_id, now)
        if payment.auto_voucher:
            return money.choose_voucher(vouchers.list(), price, now)
        return None

    def _price_bill(self, uow: UnitOfWork, tenant_id: str, charge_type: ChargeType, prices: Sequence[int],
                    payment: Payment, now: datetime, *, lock: bool) -> Bill:
        """The bill of ``prices``, its voucher applied; :raises InsufficientBalance: the balance does
        not cover what the balance pays."""
        account = uow.account(tenant_id).get(lock=lock)
        voucher = self._voucher(uow, tenant_id, charge_type, sum(prices), payment, now)
        bill = money.make_bill(prices, voucher)
        if not money.can_pay(account.balance_cents, bill.cash):
            what = "the purchase" if charge_type is ChargeType.PREPAID else "one hour of the postpaid instances"
            raise InsufficientBalance(
                f"the balance is {money.cents_text(account.balance_cents)} CNY; {what} needs "
                f"{money.cents_text(bill.cash)} CNY"
            )
        return bill

    def check(self, tenant_id: str, spec: Spec, storage_gb: int, charge_type: ChargeType, months: int, count: int,
              payment: Payment = Payment()) -> Bill:
        """Price a purchase and check the balance and the voucher, charging nothing (verification-only
        calls). Postpaid: the balance must cover one hour of every instance."""
        price = money.purchase_price(self._catalogue, spec, storage_gb, charge_type, months)
        with self._store.read() as uow:
            return self._price_bill(uow, tenant_id, charge_type, [price] * count, payment, self._clock.now(),
                                    lock=False)

    def _charge(self, uow: UnitOfWork, tenant_id: str, bill: Bill, kind: LedgerKind, note: str,
                at: datetime) -> str:
        """Spend the voucher and post the bill's one ledger entry; returns the bill id."""
        bill_id = _bill_id()
        if bill.voucher is not None:
            if not uow.vouchers(tenant_id).spend(bill.voucher.id, bill_id, at):
                raise VoucherRefused(f"voucher {bill.voucher.id} has already been used", field="voucher_ids")
            note += f"; voucher {bill.voucher.id} paid {money.cents_text(bill.voucher_cents)} CNY"
        uow.account(tenant_id).post(-bill.cash, kind, bill_id, note, at)
        return bill_id

    def buy_periods(self, uow: UnitOfWork, tenant_id: str, instances: Sequence[Instance], months: Sequence[int],
                    action: OrderAction, payment: Payment, at: datetime) -> Placed:
        """Prepaid time for each instance (``months`` each), one bill, one deal each: the time starts at
        the instance's expiry, or at ``at`` if it has none or it is past."""
        prices = [self.monthly_cents(i) * m for i, m in zip(instances, months, strict=True)]
        bill = self._price_bill(uow, tenant_id, ChargeType.PREPAID, prices, payment, at, lock=True)
        kind = LedgerKind.PURCHASE if action is OrderAction.CREATE else LedgerKind.RENEWAL
        codes = ", ".join(i.code for i in instances)
        bill_id = self._charge(uow, tenant_id, bill, kind, f"{action} {codes}", at)
        deals, bought = [], []
        for instance, period, paid in zip(instances, months, bill.paid_per_deal(), strict=True):
            deal = _deal_name(at)
            uow.orders(tenant_id).add(Order(deal, bill_id, tenant_id, instance.id, action, ChargeType.PREPAID, period,
                                            paid, at))
            start = at if instance.expire_at is None else max(instance.expire_at, at)
            bought.append(replace(instance, expire_at=money.add_months(start, period), billed_until=None))
            deals.append(deal)
        return Placed(tuple(deals), bill_id, tuple(bought), bill.cash, bill.voucher.id if bill.voucher else "")

    def place_orders(self, uow: UnitOfWork, tenant_id: str, instances: Sequence[Instance], spec: Spec,
                     now: datetime, payment: Payment = Payment()) -> Placed:
        """Price, pay and record the orders of new instances inside the caller's transaction (so a
        refused payment records nothing at all). Returns the instances as bought: prepaid ones with
        their expiry. Postpaid ones cost nothing now, but the balance must cover one hour of each."""
        if not instances:
            return Placed((), "")
        charge_type = instances[0].charge_type
        if charge_type is ChargeType.PREPAID:
            return self.buy_periods(uow, tenant_id, instances, [i.period_months for i in instances],
                                    OrderAction.CREATE, payment, now)
        prices = [money.hourly_price(self._catalogue, spec, i.storage_gb) for i in instances]
        self._price_bill(uow, tenant_id, charge_type, prices, payment, now, lock=True)
        bill_id = _bill_id()
        deals = []
        for instance in instances:
            deal = _deal_name(now)
            uow.orders(tenant_id).add(Order(deal, bill_id, tenant_id, instance.id, OrderAction.CREATE, charge_type,
                                            instance.period_months, 0, now))
            deals.append(deal)
        bought = tuple(replace(i, expire_at=None, billed_until=None) for i in instances)
        return Placed(tuple(deals), bill_id, bought)

    # --- instances stopping and coming back (inside the lifecycle's transactions) ---------------
    def on_stop(self, uow: UnitOfWork, tenant_id: str, instances: Sequence[Instance], now: datetime,
                reason: IsolationReason) -> list[Instance]:
        """Instances leaving service (isolated, deleted, destroyed): postpaid ones pay the hours they
        ran, the last partial one included, and stop being metered; prepaid ones get their unused
        whole days back. Already isolated ones are settled already."""
        stopped = []
        for instance in instances:
            if instance.lifecycle is Lifecycle.ISOLATED:
                stopped.append(instance)
                continue
            if instance.charge_type is ChargeType.POSTPAID:
                instance = self._settle(uow, tenant_id, instance, now)
            else:
                instance = self._refund(uow, tenant_id, instance, now)
            stopped.append(replace(instance, isolation_reason=reason))
        return stopped

    def _settle(self, uow: UnitOfWork, tenant_id: str, instance: Instance, now: datetime) -> Instance:
        if instance.billed_until is not None and instance.lifecycle in METERED:
            hours = money.settle_hours(instance.billed_until, now)
            if hours:
                cents = hours * self.hourly_cents(instance)
                uow.account(tenant_id).post(-cents, LedgerKind.METERING, instance.code,
                                            f"{hours} h of {instance.code} (stopped)", now)
        return replace(instance, billed_until=None)

    def _refund(self, uow: UnitOfWork, tenant_id: str, instance: Instance, now: datetime) -> Instance:
        if instance.expire_at is None or instance.expire_at <= now:
            return instance
        cents = money.refund_for(uow.orders(tenant_id).of_instance(instance.id), now)
        deal = _deal_name(now)
        # Recorded even when nothing is due (less than a day left): the order ends the paid periods.
        uow.orders(tenant_id).add(Order(deal, _bill_id(), tenant_id, instance.id, OrderAction.REFUND,
                                        ChargeType.PREPAID, 0, -cents, now))
        if cents:
            uow.account(tenant_id).post(cents, LedgerKind.REFUND, deal,
                                        f"unused whole days of {instance.code}", now)
        return replace(instance, expire_at=now)

    def pay_change(self, uow: UnitOfWork, tenant_id: str, instance: Instance, cents: int, payment: Payment,
                   at: datetime) -> Placed:
        """A spec or storage change (:mod:`openrds.services.resize`): ``cents`` > 0 is charged in one bill
        (voucher, then balance; :raises InsufficientBalance:), < 0 given back, but never more than the
        unused paid time is worth now. One MODIFY order either way: later refunds count it. The
        ``Placed``'s ``charged_cents`` is what the balance paid, negative when it was given money."""
        if cents > 0:
            bill = self._price_bill(uow, tenant_id, instance.charge_type, [cents], payment, at, lock=True)
            bill_id = self._charge(uow, tenant_id, bill, LedgerKind.MODIFY, f"spec change of {instance.code}", at)
            amount = bill.cash
            voucher = bill.voucher.id if bill.voucher else ""
        else:
            amount = -min(-cents, money.refund_for(uow.orders(tenant_id).of_instance(instance.id), at))
            bill_id, voucher = _bill_id(), ""
            if amount:
                uow.account(tenant_id).post(-amount, LedgerKind.MODIFY, bill_id,
                                            f"spec change of {instance.code}: the rest of the period for less", at)
        deal = _deal_name(at)
        uow.orders(tenant_id).add(Order(deal, bill_id, tenant_id, instance.id, OrderAction.MODIFY,
                                        instance.charge_type, 0, amount, at))
        return Placed((deal,), bill_id, (instance,), amount, voucher)  # charged_cents < 0: given back

    def on_restore(self, uow: UnitOfWork, tenant_id: str, instances: Sequence[Instance], now: datetime,
                   months: int | None = None, payment: Payment = Payment()) -> list[Instance]:
        """Isolated instances coming back: an expired prepaid one is bought again for ``months``
        (default 1) in one bill; a postpaid one needs a balance that is not below zero."""
        account = uow.account(tenant_id).get(lock=True)
        if any(i.charge_type is ChargeType.POSTPAID for i in instances) and account.balance_cents < 0:
            raise InsufficientBalance(f"the balance is {money.cents_text(account.balance_cents)} CNY: postpaid "
                                      "instances come back when it is at zero or above")
        expired = [i for i in instances
                   if i.charge_type is ChargeType.PREPAID and (i.expire_at is None or i.expire_at <= now)]
        if not expired:
            return list(instances)
        period = 1 if months is None else months
        rules.check_period(ChargeType.PREPAID, period)
        placed = self.buy_periods(uow, tenant_id, expired, [period] * len(expired), OrderAction.RENEW, payment, now)
        bought = {i.id: i for i in placed.instances}
        return [bought.get(i.id, i) for i in instances]


class BillingService:
    """Billing's own use cases (prices, accounts, vouchers, renewals, orders) and the billing round.
    ``lifecycle`` is needed by the round only (the admin commands build billing without one)."""

    def __init__(self, store: Store, catalogue: Catalogue, clock: Clock, lifecycle: LifecycleService | None = None,
                 *, retention: timedelta = timedelta(days=7), arrears_grace: timedelta = timedelta(hours=24)) -> None:
        self._store = store
        self._catalogue = catalogue
        self._clock = clock
        self._cashier = Cashier(store, catalogue, clock)
        self._lifecycle = lifecycle
        self.retention = retention
        self.arrears_grace = arrears_grace

    # --- prices -------------------------------------------------------------------------------
    def quote_create(self, query: PriceQuery) -> Quote:
        """The list price of ``count`` new instances: prepaid for the period, postpaid for one hour."""
        rules.check_instance_count(query.count, MAX_INQUIRY_COUNT)
        self._catalogue.region(query.region).zone(query.zone)
        spec = self._catalogue.spec(query.spec_code)
        if spec.readonly_only and not query.readonly:
            raise UnknownSpec(f"spec {spec.code} is for read-only instances only", field="spec")
        if spec.primary_only and query.readonly:
            raise UnknownSpec(f"spec {spec.code} is not purchasable for read-only instances", field="spec")
        rules.check_storage(query.storage_gb, spec, self._catalogue.storage_step_gb)
        # The inquiry documents POSTPAID where the create actions say POSTPAID_BY_HOUR: both mean it.
        charge_type = rules.parse_charge_type("POSTPAID_BY_HOUR" if query.charge_type == "POSTPAID"
                                              else query.charge_type)
        rules.check_period(charge_type, query.period_months)
        total = money.purchase_price(self._catalogue, spec, query.storage_gb, charge_type,
                                     query.period_months) * query.count
        return Quote(total, total)

    def quote_renewal(self, tenant_id: str, identifier: str, months: int) -> Quote:
        rules.check_period(ChargeType.PREPAID, months)
        with self._store.read() as uow:
            instance = self._prepaid(uow, tenant_id, identifier)
        total = self._cashier.monthly_cents(instance) * months
        return Quote(total, total)

    # --- accounts -----------------------------------------------------------------------------
    def top_up(self, tenant_id: str, cents: int, note: str = "top-up") -> LedgerEntry:
        if cents <= 0:
            raise InvalidInput("a top-up must be a positive amount", field="amount")
        with self._store.write() as uow:
            self._tenant(uow, tenant_id)
            entry = uow.account(tenant_id).post(cents, LedgerKind.TOP_UP, "admin", note, self._clock.now())
        log.info("billing: tenant %s topped up by %s CNY", tenant_id, money.cents_text(cents))
        return entry

    def issue_voucher(self, tenant_id: str, cents: int, valid_for: timedelta) -> Voucher:
        if cents <= 0:
            raise InvalidInput("a voucher must be worth a positive amount", field="amount")
        if valid_for <= timedelta(0):
            raise InvalidInput("a voucher must be valid for some time", field="days")
        now = self._clock.now()
        voucher = Voucher(id="voucher-" + "".join(secrets.choice(_VOUCHER_ALPHABET) for _ in range(12)),
                          tenant_id=tenant_id, amount_cents=cents, expires_at=now + valid_for, created_at=now)
        with self._store.write() as uow:
            self._tenant(uow, tenant_id)
            uow.vouchers(tenant_id).add(voucher)
        return voucher

    def statement(self, tenant_id: str) -> Statement:
        with self._store.read() as uow:
            self._tenant(uow, tenant_id)
            return Statement(uow.account(tenant_id).get(), tuple(uow.account(tenant_id).ledger()),
                             tuple(uow.vouchers(tenant_id).list()))

    def account(self, tenant_id: str) -> Account:
        with self._store.read() as uow:
            return uow.account(tenant_id).get()

    @staticmethod
    def _tenant(uow: UnitOfWork, tenant_id: str) -> None:
        if uow.tenants.get(tenant_id) is None:
            raise InvalidInput(f"tenant {tenant_id} does not exist", field="tenant")

    # --- renewals -----------------------------------------------------------------------------
    @staticmethod
    def _prepaid(uow: UnitOfWork, tenant_id: str, identifier: str) -> Instance:
        instance = uow.instances(tenant_id).find(identifier)
        if instance is None:
            raise InstanceNotFound(identifier)
        return BillingService._ensure_prepaid(instance)

    @staticmethod
    def _ensure_prepaid(instance: Instance) -> Instance:
        if instance.charge_type is not ChargeType.PREPAID:
            raise NotPrepaid(f"instance {instance.code} is postpaid: it is metered by the hour and has no period "
                             "to renew", field="instance_id")
        return instance

    def renew(self, tenant_id: str, identifier: str, months: int, payment: Payment = Payment()) -> Placed:
        """Extend a prepaid instance by ``months`` from its expiry (or from now, if that is past)."""
        rules.check_period(ChargeType.PREPAID, months)
        with self._store.write() as uow:
            instance = self._prepaid(uow, tenant_id, identifier)
            ensure_allowed(Operation.RENEW, instance.code, instance.lifecycle)
            now = self._clock.now()
            placed = self._cashier.buy_periods(uow, tenant_id, [instance], [months], OrderAction.RENEW, payment, now)
            uow.instances(tenant_id).save(replace(placed.instances[0], updated_at=now))
        return placed

    def set_auto_renew(self, tenant_id: str, identifiers: Sequence[str], flag: int) -> int:
        """0 renew by hand, 1 renew automatically at expiry, 2 do not renew (here the same as 0: an
        instance not renewed by its expiry is isolated). All or nothing; returns how many were set."""
        if flag not in (0, 1, 2):
            raise InvalidInput("AutoRenewFlag must be 0, 1 or 2", field="auto_renew_flag")
        rules.check_id_count(len(set(identifiers)), field="instance_id")
        with self._store.write() as uow:
            # One query for all of them; an instance named twice (in either form) is set once.
            instances, missing = uow.instances(tenant_id).find_all(identifiers)
            if missing:
                raise InstanceNotFound(missing[0])
            now = self._clock.now()
            for instance in instances:
                self._ensure_prepaid(instance)
                ensure_allowed(Operation.MODIFY, instance.code, instance.lifecycle)
                uow.instances(tenant_id).save(replace(instance, auto_renew=flag == 1, updated_at=now))
        return len(instances)

    # --- orders -------------------------------------------------------------------------------
    def orders(self, tenant_id: str, deal_names: Sequence[str]) -> list[OrderView]:
        """The tenant's orders by deal name, in the order asked; an unknown (or another tenant's) name
        fails the whole lookup."""
        if not deal_names:
            raise MissingInput("name at least one order", field="deal_names")
        rules.check_id_count(len(set(deal_names)), field="deal_names")
        with self._store.read() as uow:
            wanted = list(dict.fromkeys(deal_names))
            found = {o.deal_name: o for o in uow.orders(tenant_id).by_deal_names(wanted)}
            for name in wanted:
                if name not in found:
                    raise OrderNotFound(f"order {name} does not exist", field="deal_names")
            ordered = [found[name] for name in wanted]
            codes = uow.instances(tenant_id).codes([o.instance_id for o in ordered])
            # The create jobs, read once for every order (newest first): the oldest one naming the
            # instance is the one that carried out its purchase.
            creator: dict[str, str] = {}
            if any(o.action is OrderAction.CREATE for o in ordered):
                for job in uow.jobs.of_tenant(tenant_id, kinds=(JobKind.CREATE_PRIMARIES, JobKind.CREATE_REPLICAS)):
                    creator.update(dict.fromkeys(job.instance_ids, job.id))
        return [OrderView(order, codes.get(order.instance_id, order.instance_id),
                          creator.get(order.instance_id) if order.action is OrderAction.CREATE else None)
                for order in ordered]

    # --- the billing round --------------------------------------------------------------------
    def tick(self, now: datetime | None = None) -> TickReport:
        """One round: meter postpaid hours, renew or isolate expired prepaid instances, destroy those
        expired longer than the retention, stop postpaid instances of tenants in arrears past the
        grace period and bring them back once the balance is at zero or above. Each tenant in its own
        transaction; a service that was down catches up (every computation is from stored times)."""
        if self._lifecycle is None:
            raise RuntimeError("the billing round needs the lifecycle to isolate, restore or destroy instances")
        now = now or self._clock.now()
        report = TickReport()
        with self._store.read() as uow:
            tenants = [t.id for t in uow.tenants.list()]
        for tenant_id in tenants:
            try:
                with self._store.write() as uow:
                    self._tick_tenant(uow, self._lifecycle, tenant_id, now, report)
            except Exception:  # one tenant's trouble must not stop the others' billing
                log.exception("billing: round failed for tenant %s", tenant_id)
        if report.isolated or report.destroyed or report.restored:
            self._lifecycle.notify()
        return report

    def _tick_tenant(self, uow: UnitOfWork, lifecycle: LifecycleService, tenant_id: str, now: datetime,
                     report: TickReport) -> None:
        """The round for one tenant: each step's plan (``domain.money``) over the instances as the step
        before left them; money is moved here, every change of state by ``lifecycle``."""
        accounts = uow.account(tenant_id)
        account = accounts.get(lock=True)
        repo = uow.instances(tenant_id)
        current = {i.id: i for i in repo.list()}

        def save(instance: Instance) -> Instance:
            current[instance.id] = instance
            repo.save(instance)
            return instance

        def carry_out(instance: Instance, operation: Operation, reason: IsolationReason, why: str) -> list[str]:
            moved = lifecycle.enforce(uow, tenant_id, instance.id, operation, reason, why, now)
            current.update((i.id, i) for i in moved)
            return [i.code for i in moved]

        # 1. postpaid hours, as they ended
        metered = [i for i in current.values() if i.charge_type is ChargeType.POSTPAID and i.lifecycle in METERED]
        for instance in metered:
            if instance.billed_until is None:  # running before metering knew of it: from now
                save(replace(instance, billed_until=now))
        meters = [money.Meter(i.id, current[i.id].billed_until or now, self._cashier.hourly_cents(i))
                  for i in metered]
        plan = money.plan_metering(account.balance_cents, account.arrears_since, meters, now, self.arrears_grace)
        for charge in plan.charges:
            instance = current[charge.instance_id]
            accounts.post(-charge.cents, LedgerKind.METERING, instance.code, f"{charge.hours} h of {instance.code}",
                          now)
            save(replace(instance, billed_until=charge.billed_until))
            report.metered_cents += charge.cents
        accounts.set_arrears_since(plan.arrears_since)

        # 2. arrears past the grace period: postpaid instances stop
        if plan.stop_at is not None:
            for meter in meters:  # metered up to the stop above: nothing more to settle
                save(replace(current[meter.instance_id], billed_until=None))
            for meter in meters:
                report.isolated += carry_out(current[meter.instance_id], Operation.ISOLATE, IsolationReason.ARREARS,
                                             "isolated: the balance stayed below zero past the grace period")

        # 3. prepaid expiry: renew (auto-renewal, while the balance allows) or isolate
        for instance in sorted(current.values(), key=lambda i: (i.role is not Role.PRIMARY, i.created_at)):
            instance = current[instance.id]
            expiry = money.plan_expiry(instance, self._cashier.monthly_cents(instance),
                                       accounts.get(lock=True).balance_cents, now)
            for at in expiry.renew_at:
                placed = self._cashier.buy_periods(uow, tenant_id, [instance], [1], OrderAction.RENEW, Payment(), at)
                instance = save(replace(placed.instances[0], updated_at=now))
                report.renewed.append(instance.code)
            if expiry.isolate:
                report.isolated += carry_out(instance, Operation.ISOLATE, IsolationReason.EXPIRED,
                                             "isolated: the prepaid period ended and was not renewed")

        # 4. expired and isolated longer than the retention: destroyed
        for instance in money.due_for_destruction(list(current.values()), now, self.retention):
            report.destroyed += carry_out(instance, Operation.DESTROY, IsolationReason.EXPIRED,
                                          "destroyed: expired and not renewed within the retention period")

        # 5. arrears paid: postpaid instances stopped for them come back
        if accounts.get().balance_cents >= 0:
            for instance in money.back_from_arrears(list(current.values())):
                report.restored += carry_out(instance, Operation.DISISOLATE, IsolationReason.ARREARS,
                                             "restored: the balance is no longer negative")
