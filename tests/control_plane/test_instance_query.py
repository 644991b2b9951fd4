"""`InstanceRepository.query`: each filter, the orderings and paging, identically on SQLite and on
PostgreSQL. One world of instances per backend, shared by the (read-only) tests of this module."""

from __future__ import annotations

from datetime import timedelta

import pytest

from openrds.domain.model import InstanceQuery, Network, Tag
from openrds.domain.states import ChargeType, Lifecycle, Role
from openrds.persistence.uow import Store

from . import factories as f
from .factories import T0


@pytest.fixture(scope="module")
def query_world(module_store: Store):
    """A tenant with a mix of instances that each filter of `InstanceRepository.query` tells apart."""
    tenant = f.tenant()
    day = timedelta(days=1)
    p1 = f.instance(tenant.id, name="orders-main", project_id=1, charge_type=ChargeType.PREPAID,
                    network=Network("vpc-a", "s", ()), tags=(Tag("env", "prod"),), expire_at=T0 + 30 * day)
    p2 = f.instance(tenant.id, name="users_main", project_id=2, charge_type=ChargeType.POSTPAID,
                    lifecycle=Lifecycle.ISOLATED, network=Network("vpc-b", "s", ()), tags=(Tag("团队", "数据"),),
                    expire_at=None)
    r1 = f.instance(tenant.id, name="orders-ro-1", project_id=1, role=Role.READONLY, master_id=p1.id,
                    network=Network("vpc-a", "s", ()), tags=(), expire_at=T0 + 10 * day)
    r2 = f.instance(tenant.id, name="orders-ro-2", project_id=1, role=Role.READONLY, master_id=p1.id,
                    lifecycle=Lifecycle.CREATING, network=Network("vpc-a", "s", ()), tags=(), expire_at=T0 + 20 * day)
    bj = f.instance(tenant.id, name="beijing-db", region="ap-beijing", zone="ap-beijing-4", project_id=1,
                    charge_type=ChargeType.POSTPAID, network=Network("vpc-a", "s", ()),
                    tags=(Tag("env", "dev"), Tag("environment", "x")), expire_at=None)
    lookalike = f.instance(tenant.id, name="usersxmain", project_id=3, network=Network("vpc-c", "s", ()),
                           tags=(Tag("envy", "x"),), expire_at=T0 + 40 * day)
    gone = f.instance(tenant.id, name="orders-deleted", project_id=1, lifecycle=Lifecycle.DELETED,
                      network=Network("vpc-a", "s", ()), tags=(Tag("env", "prod"),))
    with module_store.write() as uow:
        uow.tenants.add(tenant)
        for instance in (p1, p2, r1, r2, bj, lookalike, gone):
            uow.instances(tenant.id).add(instance)
    return module_store, tenant, {"p1": p1, "p2": p2, "r1": r1, "r2": r2, "bj": bj, "lookalike": lookalike}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(InstanceQuery(limit=100), ["p1", "p2", "r1", "r2", "bj", "lookalike"], id="everything"),
        pytest.param(InstanceQuery(region="ap-beijing"), ["bj"], id="region"),
        pytest.param(InstanceQuery(name_contains=("orders",)), ["p1", "r1", "r2"], id="name"),
        pytest.param(InstanceQuery(name_contains=("orders-ro", "beijing")), ["r1", "r2", "bj"], id="names-any"),
        pytest.param(InstanceQuery(name_contains=("ORDERS-Ro",)), ["r1", "r2"], id="name-any-case"),
        # `_` and `%` are characters of a name, not LIKE wildcards.
        pytest.param(InstanceQuery(name_contains=("users_main",)), ["p2"], id="name-underscore-literal"),
        pytest.param(InstanceQuery(name_contains=("%",)), [], id="name-percent-literal"),
        pytest.param(InstanceQuery(project_ids=(2, 3)), ["p2", "lookalike"], id="projects"),
        pytest.param(InstanceQuery(charge_types=("POSTPAID_BY_HOUR",)), ["p2", "bj"], id="charge-type"),
        pytest.param(InstanceQuery(roles=("readonly",)), ["r1", "r2"], id="role"),
        pytest.param(InstanceQuery(lifecycles=("isolated", "creating")), ["p2", "r2"], id="lifecycles"),
        pytest.param(InstanceQuery(vpc_ids=("vpc-b", "vpc-c")), ["p2", "lookalike"], id="vpcs"),
        pytest.param(InstanceQuery(tag_keys=("env",)), ["p1", "bj"], id="tag-key-exact"),  # not "environment" or "envy"
        pytest.param(InstanceQuery(tag_keys=("团队",)), ["p2"], id="tag-key-cjk"),
        pytest.param(InstanceQuery(tag_keys=("en",)), [], id="tag-key-no-prefix"),
        pytest.param(InstanceQuery(region="ap-guangzhou", roles=("primary",), project_ids=(1, 2)), ["p1", "p2"],
                     id="combined"),
        pytest.param(InstanceQuery(order_by="name"), ["bj", "p1", "r1", "r2", "p2", "lookalike"], id="order-name"),
        pytest.param(InstanceQuery(order_by="name", descending=True), ["lookalike", "p2", "r2", "r1", "p1", "bj"],
                     id="order-name-desc"),
        pytest.param(InstanceQuery(order_by="created", descending=True), ["lookalike", "bj", "r2", "r1", "p2", "p1"],
                     id="order-created-desc"),
    ],
)
def test_instance_query_filters_and_orders(query_world, query: InstanceQuery, expected: list[str]) -> None:
    store, tenant, named = query_world
    with store.read() as uow:
        total, page = uow.instances(tenant.id).query(query)
    names = {i.id: n for n, i in named.items()}
    assert [names[i.id] for i in page] == expected
    assert total == len(expected)


def test_instance_query_by_ids_and_masters_accepts_ids_and_codes(query_world) -> None:
    store, tenant, n = query_world
    with store.read() as uow:
        repo = uow.instances(tenant.id)
        assert repo.query(InstanceQuery(ids=(n["p1"].code, n["r1"].id, "postgres-nosuch00")))[1] == [n["p1"], n["r1"]]
        assert repo.query(InstanceQuery(master_ids=(n["p1"].id,)))[1] == [n["r1"], n["r2"]]


def test_instance_query_orders_by_expiry_the_same_way_on_every_backend(query_world) -> None:
    """Postpaid instances have no expiry; it sorts as the earliest value (Tencent shows it as 0000-00-00),
    ascending or descending, identically on both backends."""
    store, tenant, n = query_world
    with store.read() as uow:
        repo = uow.instances(tenant.id)
        ascending = repo.query(InstanceQuery(order_by="expire", limit=100))[1]
        descending = repo.query(InstanceQuery(order_by="expire", descending=True, limit=100))[1]
    by_id = {i.id: k for k, i in n.items()}
    # The two without expiry (ties broken by code), then r1 (+10d), r2 (+20d), p1 (+30d), lookalike (+40d).
    assert [by_id[i.id] for i in ascending] == ["p2", "bj", "r1", "r2", "p1", "lookalike"]
    assert [by_id[i.id] for i in descending] == ["lookalike", "p1", "r2", "r1", "p2", "bj"]


def test_instance_query_pages_through_everything_once(query_world) -> None:
    store, tenant, _ = query_world
    with store.read() as uow:
        repo = uow.instances(tenant.id)
        _, everything = repo.query(InstanceQuery(order_by="name", limit=100))
        pages = [repo.query(InstanceQuery(order_by="name", offset=offset, limit=4)) for offset in (0, 4, 8)]
    assert [total for total, _ in pages] == [6, 6, 6]
    assert [len(page) for _, page in pages] == [4, 2, 0]
    assert [i for _, page in pages for i in page] == everything
