"""Orders: one deal per instance, one bill per call. Money (balances, vouchers) comes later; for now
every account can pay, and the amounts recorded are the catalogue's prices."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from openrds.domain.catalogue import Spec
from openrds.domain.ids import digits
from openrds.domain.model import Instance, Order
from openrds.domain.states import ChargeType
from openrds.persistence.uow import UnitOfWork


@dataclass(frozen=True, slots=True)
class Placed:
    deal_names: tuple[str, ...]
    bill_id: str


def price_cents(spec: Spec, charge_type: ChargeType, period_months: int) -> int:
    """Prepaid: the monthly price times the period. Postpaid: one hour up front (metered later)."""
    if charge_type is ChargeType.PREPAID:
        return spec.monthly_price_cents * period_months
    return spec.hourly_price_cents


class BillingService:
    def place_orders(self, uow: UnitOfWork, tenant_id: str, instances: Sequence[Instance], spec: Spec,
                     action: str, now: datetime) -> Placed:
        """Record the orders inside the caller's transaction (so a failed create records none)."""
        bill_id = digits(10)
        orders = [
            Order(deal_name=now.strftime("%Y%m%d") + digits(15), bill_id=bill_id, tenant_id=tenant_id,
                  instance_id=instance.id, action=action, charge_type=instance.charge_type,
                  period_months=instance.period_months,
                  amount_cents=price_cents(spec, instance.charge_type, instance.period_months), created_at=now)
            for instance in instances
        ]
        repo = uow.orders(tenant_id)
        for order in orders:
            repo.add(order)
        return Placed(tuple(o.deal_name for o in orders), bill_id)

    def orders(self, uow: UnitOfWork, tenant_id: str, deal_names: Sequence[str]) -> list[Order]:
        return uow.orders(tenant_id).by_deal_names(deal_names)
