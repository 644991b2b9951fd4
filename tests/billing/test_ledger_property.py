"""The ledger always sums to the balance: random sequences of top-ups, purchases (with and without
vouchers), renewals, early isolations (refunds), returns from isolation and billing rounds over
hours and months, through the services and a real store."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openrds.clock import ManualClock
from openrds.container import Container
from openrds.domain import money
from openrds.domain.errors import OpenRDSError
from openrds.domain.money import LedgerKind
from openrds.domain.states import Lifecycle
from openrds.services.billing import Payment

from .support import POSTPAID, PREPAID, buy, finish_jobs, offline_container

_names = itertools.count()


@pytest.fixture(scope="module")
def world() -> Iterator[tuple[Container, ManualClock]]:
    with offline_container(arrears_grace_hours=3, retention_days=2) as found:
        yield found


OPS = st.one_of(
    st.tuples(st.just("top_up"), st.integers(1, 300_000)),
    st.tuples(st.just("voucher"), st.integers(1, 50_000), st.integers(1, 60)),
    st.tuples(st.just("buy"), st.sampled_from([PREPAID, POSTPAID]), st.sampled_from([1, 2, 3, 12]),
              st.integers(1, 3), st.sampled_from([10, 20, 100, 500]), st.sampled_from(["none", "auto", "named"])),
    st.tuples(st.just("renew"), st.integers(0, 20), st.sampled_from([1, 2, 6])),
    st.tuples(st.just("auto_renew"), st.integers(0, 20)),
    st.tuples(st.just("isolate"), st.integers(0, 20)),
    st.tuples(st.just("restore"), st.integers(0, 20), st.sampled_from([1, 3])),
    st.tuples(st.just("wait"), st.integers(0, 24 * 45)),  # hours, then a billing round
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(st.lists(OPS, min_size=1, max_size=14))
def test_the_ledger_always_sums_to_the_balance(world: tuple[Container, ManualClock], ops: list[tuple]) -> None:
    c, clock = world
    tenant = c.identity.create_tenant(f"t{next(_names)}").id
    codes: list[str] = []
    vouchers: list[str] = []
    for op in ops:
        try:
            match op:
                case ("top_up", cents):
                    c.billing.top_up(tenant, cents)
                case ("voucher", cents, days):
                    vouchers.append(c.billing.issue_voucher(tenant, cents, timedelta(days=days)).id)
                case ("buy", charge, period, count, storage, paying):
                    named = (vouchers[-1],) if paying == "named" and vouchers else ()
                    created = buy(c, tenant, charge, period=1 if charge == POSTPAID else period, count=count,
                                  storage=storage, voucher_ids=named, auto_voucher=paying == "auto")
                    codes += [i.code for i in created.instances]
                case ("renew", index, months) if codes:
                    c.billing.renew(tenant, codes[index % len(codes)], months, Payment(auto_voucher=True))
                case ("auto_renew", index) if codes:
                    c.billing.set_auto_renew(tenant, [codes[index % len(codes)]], 1)
                case ("isolate", index) if codes:
                    c.instances.isolate(tenant, [codes[index % len(codes)]])
                case ("restore", index, months) if codes:
                    c.instances.disisolate(tenant, [codes[index % len(codes)]], months=months)
                case ("wait", hours):
                    clock.advance(timedelta(hours=hours))
                    c.billing.tick()
        except OpenRDSError:
            pass  # refused (balance, voucher, state...): it must have left no trace in the money
        finish_jobs(c, clock)
        statement = c.billing.statement(tenant)
        assert money.ledger_consistent(statement.account.balance_cents, statement.ledger)
        # Purchases and renewals never take the balance below zero; only metering can.
        for entry in statement.ledger:
            if entry.kind in (LedgerKind.PURCHASE, LedgerKind.RENEWAL):
                assert entry.balance_after_cents >= 0, entry
        # A voucher pays at most one bill.
        spent = [v.spent_reference for v in statement.vouchers if v.spent_at is not None]
        assert len(spent) == len(set(spent))
    # Whatever happened, every instance is in a state its money explains.
    with c.store.read() as uow:
        for instance in uow.instances(tenant).list():
            if instance.lifecycle is Lifecycle.RUNNING and instance.charge_type.value == PREPAID:
                assert instance.expire_at is not None
