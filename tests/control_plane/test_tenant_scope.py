"""Tenant scoping written once: the repositories' tenant condition lives in one base class, and the
readers the other isolation tests do not reach (the reconcile loops' narrow readers, vouchers, quota
usage, the ledger) see one tenant's rows through a tenant's repository and every tenant's through
the system's."""

from __future__ import annotations

import ast
import inspect
from datetime import timedelta

import pytest

from openrds.domain.model import Tenant
from openrds.domain.money import LedgerKind, Voucher
from openrds.domain.quotas import Amounts
from openrds.domain.states import Role
from openrds.persistence import repositories
from openrds.persistence.uow import Store

from . import factories as f


def test_the_tenant_condition_is_written_only_in_the_scoping_base_class() -> None:
    tree = ast.parse(inspect.getsource(repositories))
    writers = []
    for cls in (node for node in tree.body if isinstance(node, ast.ClassDef)):
        for node in ast.walk(cls):
            if isinstance(node, ast.Compare) and any(
                isinstance(side, ast.Attribute) and side.attr == "_tenant" for side in [node.left, *node.comparators]
            ):
                writers.append(f"{cls.name}:{node.lineno}")
    assert writers and all(w.startswith("_TenantScoped:") for w in writers), writers


@pytest.fixture
def two_tenants(store: Store) -> tuple[Tenant, Tenant]:
    """Tenants A and B, each with a running primary (20 GB), a running replica, a group and a voucher."""
    tenants = []
    with store.write() as uow:
        for name in ("a", "b"):
            tenant = f.tenant(f"tenant-{name}")
            uow.tenants.add(tenant)
            master = f.instance(tenant.id, storage_gb=20)
            replica = f.instance(tenant.id, role=Role.READONLY, master_id=master.id)
            uow.instances(tenant.id).add(master)
            uow.instances(tenant.id).add(replica)
            uow.groups(tenant.id).add(f.group(tenant.id, master.id))
            uow.vouchers(tenant.id).add(
                Voucher(f"voucher-{name}", tenant.id, 100, master.created_at + timedelta(days=30), master.created_at)
            )
            uow.account(tenant.id).post(500, LedgerKind.TOP_UP, f"deposit-{name}", "", master.created_at)
            tenants.append(tenant)
    return tenants[0], tenants[1]


def test_the_loops_readers_see_one_tenant_or_every_tenant(store: Store, two_tenants: tuple[Tenant, Tenant]) -> None:
    a, _ = two_tenants
    with store.read() as uow:
        mine, every = uow.instances(a.id), uow.instances(None)
        everyone = {i.id: i.tenant_id for i in every.list()}
        own = {i for i, tenant in everyone.items() if tenant == a.id}
        assert len(own) == 2 and len(everyone) == 4
        lifecycles = [every.list()[0].lifecycle]
        assert {w[0] for w in mine.watched(lifecycles)} == own
        assert {w[0] for w in every.watched(lifecycles)} == set(everyone)
        assert {i for i, _ in mine.running_replica_reasons().values()} <= own
        assert len(mine.running_replica_reasons()) == 1 and len(every.running_replica_reasons()) == 2
        assert {p[0] for p in mine.running_primaries_storage()} <= own
        assert len(mine.running_primaries_storage()) == 1 and len(every.running_primaries_storage()) == 2
        assert len(uow.groups(a.id).list()) == 1 and len(uow.groups(None).list()) == 2


def test_vouchers_usage_and_ledger_of_another_tenant_do_not_exist(
    store: Store, two_tenants: tuple[Tenant, Tenant]
) -> None:
    a, b = two_tenants
    with store.write() as uow:
        vouchers = uow.vouchers(a.id)
        assert [v.id for v in vouchers.list()] == ["voucher-a"]
        assert vouchers.find("voucher-b") is None
        assert not vouchers.spend("voucher-b", "bill", vouchers.list()[0].created_at)
        assert uow.vouchers(b.id).find("voucher-b") is not None  # the other's is untouched and there
        assert uow.vouchers(b.id).find("voucher-b").spent_at is None  # type: ignore[union-attr]
        replica_gb = f.instance(a.id).storage_gb
        assert uow.quotas(a.id).usage() == Amounts(instances=2, ro_groups=1, storage_gb=20 + replica_gb)
        assert [e.reference for e in uow.account(a.id).ledger()] == ["deposit-a"]
        assert uow.account(a.id).get().balance_cents == 500
