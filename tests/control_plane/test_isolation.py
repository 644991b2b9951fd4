"""Tenant isolation in the store: through a tenant-scoped repository, another tenant's instances, groups,
orders and jobs do not exist, whichever way they are asked for, and cannot be written over."""

from __future__ import annotations

from dataclasses import replace

import pytest

from openrds.domain.model import InstanceQuery
from openrds.domain.states import Role
from openrds.persistence.uow import Store

from . import factories as f


@pytest.fixture
def two_tenants(store: Store):
    """Tenants A and B, each with a master, a replica in a group, an order and a job."""
    world = {}
    with store.write() as uow:
        for name in ("a", "b"):
            tenant = f.tenant(f"tenant-{name}")
            uow.tenants.add(tenant)
            master = f.instance(tenant.id, name=f"shared-name-{name}")
            group = f.group(tenant.id, master.id)
            replica = f.instance(tenant.id, name=f"shared-name-{name}-ro", role=Role.READONLY, master_id=master.id,
                                 group_id=group.id)
            order = f.order(tenant.id, master.id)
            job = f.job(tenant.id, instance_ids=(master.id,))
            uow.instances(tenant.id).add(master)
            uow.instances(tenant.id).add(replica)
            uow.groups(tenant.id).add(group)
            uow.orders(tenant.id).add(order)
            uow.jobs.add(job)
            world[name] = dict(tenant=tenant, master=master, replica=replica, group=group, order=order, job=job)
    return world["a"], world["b"]


def test_instances_of_another_tenant_do_not_exist(store: Store, two_tenants) -> None:
    a, b = two_tenants
    with store.read() as uow:
        repo = uow.instances(a["tenant"].id)
        # Its own are there (so the checks below can fail) ...
        assert repo.find(a["master"].id) == a["master"]
        assert repo.list() == [a["master"], a["replica"]]
        # ... the other's are not, by id or by code, in lists, queries, counts or lookups.
        for other in (b["master"], b["replica"]):
            assert repo.find(other.id) is None
            assert repo.find(other.code) is None
        assert repo.list(include_deleted=True) == [a["master"], a["replica"]]
        assert repo.replicas_of(b["master"].id) == []
        assert repo.members_of(b["group"].id) == []
        assert repo.count() == 2
        assert repo.replica_counts([b["master"].id]) == {}
        assert repo.codes([b["master"].id, b["replica"].id]) == {}
        assert repo.labels([b["master"].id, b["replica"].id]) == {}
        assert repo.labels([a["master"].id]) == {
            a["master"].id: (a["master"].code, a["master"].name, a["master"].region)}
        total, page = repo.query(InstanceQuery(ids=(b["master"].id, b["replica"].code), limit=100))
        assert (total, page) == (0, [])
        total, page = repo.query(InstanceQuery(name_contains=("shared-name",), limit=100))
        assert (total, page) == (2, [a["master"], a["replica"]])
        total, page = repo.query(InstanceQuery(master_ids=(b["master"].id,), limit=100))
        assert (total, page) == (0, [])
        # The system view (no tenant) sees both, which is how jobs and the supervisor work.
        assert uow.instances(None).count() == 4


def test_instances_of_another_tenant_cannot_be_written(store: Store, two_tenants) -> None:
    a, b = two_tenants
    with pytest.raises(ValueError), store.write() as uow:
        uow.instances(a["tenant"].id).add(f.instance(b["tenant"].id))
    with pytest.raises(KeyError), store.write() as uow:
        uow.instances(a["tenant"].id).save(replace(b["master"], name="hijacked"))
    with store.read() as uow:
        assert uow.instances(b["tenant"].id).find(b["master"].id) == b["master"]
        assert uow.instances(None).count() == 4


def test_groups_of_another_tenant_do_not_exist(store: Store, two_tenants) -> None:
    a, b = two_tenants
    with store.read() as uow:
        repo = uow.groups(a["tenant"].id)
        assert repo.find(a["group"].id) == a["group"]
        assert repo.find(b["group"].id) is None
        assert repo.list() == [a["group"]]
        assert repo.list(master_id=b["master"].id) == []
    with pytest.raises(KeyError), store.write() as uow:
        uow.groups(a["tenant"].id).save(replace(b["group"], name="hijacked"))
    with pytest.raises(ValueError), store.write() as uow:
        uow.groups(a["tenant"].id).add(f.group(b["tenant"].id, b["master"].id))
    with store.read() as uow:
        assert uow.groups(b["tenant"].id).list() == [b["group"]]


def test_orders_and_jobs_of_another_tenant_do_not_exist(store: Store, two_tenants) -> None:
    a, b = two_tenants
    with store.read() as uow:
        orders = uow.orders(a["tenant"].id)
        assert orders.by_deal_names([a["order"].deal_name]) == [a["order"]]
        assert orders.by_deal_names([b["order"].deal_name]) == []
        assert uow.jobs.of_tenant(a["tenant"].id) == [a["job"]]
        assert uow.jobs.of_tenant(a["tenant"].id, job_id=b["job"].id) == []
        assert uow.jobs.of_tenant(a["tenant"].id, instance_id=b["master"].id) == []
    with pytest.raises(ValueError), store.write() as uow:
        uow.orders(a["tenant"].id).add(f.order(b["tenant"].id, b["master"].id))
