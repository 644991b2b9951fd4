"""The in-memory listing (`openrds.services.listing`) answers exactly what the tables answer, after every
commit, whoever made it.

Each test holds `Container.listing.describe` to `InstanceService.describe` (the store's own SQL) over a
tenant made to exercise every filter and order: names differing in case and beyond ASCII, tags,
projects, pay modes, regions, read-only instances of live and deleted masters, equal creation times,
instances without an expiry. Then the store changes - in this process and in another one - and the
two must still agree, page for page.
"""

from __future__ import annotations

import itertools
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from tests.console import rows

from openrds.api.tencent import presenters as present
from openrds.api.tencent.auth import Caller
from openrds.api.tencent.protocol import ActionContext, render
from openrds.api.tencent.registry import build as build_tencent
from openrds.container import Container, build
from openrds.domain.model import Instance, InstanceQuery, Network, Tag
from openrds.domain.states import ChargeType, Lifecycle
from openrds.persistence import repositories
from openrds.services.instances import InstancePage
from openrds.services.listing import MATCHING
from openrds.settings import Settings


@pytest.fixture
def container() -> Iterator[Container]:
    root = Path(tempfile.mkdtemp(prefix="ordl-"))
    built = build(Settings(data_dir=root / "data"))
    try:
        yield built
    finally:
        built.stop()
        shutil.rmtree(root, ignore_errors=True)


def _tenant(container: Container) -> str:
    return container.identity.create_tenant("listing").id


def _seed(container: Container, tenant: str) -> list[Instance]:
    masters = [
        rows.primary(tenant, name="Alpha-db", project_id=1, tags=(Tag("team", "a"),)),
        rows.primary(tenant, name="alpha_second", charge_type=ChargeType.PREPAID,
                     expire_at=rows.T0 + timedelta(days=30)),
        rows.primary(tenant, name="Ärger-ÄB", project_id=2, network=Network("vpc-other", "subnet-x"),
                     expire_at=rows.T0 + timedelta(days=3)),
        rows.primary(tenant, name="beta", region="ap-guangzhou", zone="ap-guangzhou-3"),
        rows.primary(tenant, name="gone", lifecycle=Lifecycle.DELETED),
        rows.primary(tenant, name="isolated", lifecycle=Lifecycle.ISOLATED, tags=(Tag("team", "b"), Tag("env", "p"))),
    ]
    # Two instances created in the same microsecond: the code decides their order.
    same_time = rows.primary(tenant, name="tie-1")
    masters += [same_time, rows.primary(tenant, name="tie-2", created_at=same_time.created_at)]
    replicas = [rows.replica(masters[0], name="ro-of-alpha"), rows.replica(masters[0], name="ro-of-alpha-2"),
                rows.replica(masters[4], name="ro-of-gone"),
                rows.replica(masters[1], name="ro-deleted", lifecycle=Lifecycle.DELETED)]
    with container.store.write() as uow:
        for instance in masters + replicas:
            uow.instances(tenant).add(instance)
    return masters + replicas


def _queries(instances: list[Instance]) -> Iterator[InstanceQuery]:
    alpha, prepaid = instances[0], instances[1]
    filters: list[dict[str, tuple[object, ...]]] = [
        {},
        {"ids": (alpha.code,)},
        {"ids": (alpha.id, alpha.code, prepaid.code, "postgres-none")},
        {"name_contains": ("ALPHA",)},
        {"name_contains": ("ä",)},  # SQLite folds ASCII only: no match for Ä
        {"name_contains": ("Ä", "beta")},
        {"name_contains": ("_",)},  # a character, not a wildcard
        {"project_ids": (1, 2)},
        {"charge_types": ("prepaid",)},
        {"master_ids": (alpha.code,)},
        {"master_ids": (instances[4].code,)},  # a deleted master names nothing
        {"roles": ("readonly",)},
        {"lifecycles": ("isolated", "running")},
        {"vpc_ids": ("vpc-other",)},
        {"tag_keys": ("team",)},
        {"tag_keys": ("env", "nope"), "name_contains": ("iso",)},
    ]
    for narrowing, region, order_by, descending in itertools.product(
        filters, ("ap-beijing", None), ("created", "name", "expire"), (False, True)
    ):
        yield InstanceQuery(region=region, order_by=order_by, descending=descending, limit=100, **narrowing)  # type: ignore[arg-type]
    for offset, limit in ((0, 1), (1, 2), (3, 10), (50, 10)):
        yield InstanceQuery(region="ap-beijing", offset=offset, limit=limit)
        yield InstanceQuery(region="ap-beijing", offset=offset, limit=limit, order_by="name", descending=True)


def _same(container: Container, tenant: str, queries: list[InstanceQuery]) -> None:
    for query in queries:
        kept: InstancePage = container.listing.describe(tenant, query)
        stored = container.instances.describe(tenant, query)
        assert [i.code for i in kept.items] == [i.code for i in stored.items], query
        assert kept == stored, query


def test_the_listing_is_a_twin_of_the_store_for_every_filter() -> None:
    assert set(MATCHING) == set(repositories._NARROWING)


def test_every_filter_order_and_page_answers_as_the_store_does(container: Container) -> None:
    assert container.listing.in_memory
    tenant = _tenant(container)
    instances = _seed(container, tenant)
    queries = list(_queries(instances))
    _same(container, tenant, queries)


def test_a_commit_of_this_process_is_seen_by_the_next_listing(container: Container) -> None:
    tenant = _tenant(container)
    instances = _seed(container, tenant)
    queries = list(_queries(instances))
    _same(container, tenant, queries)  # loaded and sorted before the changes below
    read_before = container.listing.rows_read
    alpha = instances[0]
    container.instances.rename(tenant, alpha.code, "zz-renamed")
    with container.store.write() as uow:
        repo = uow.instances(tenant)
        repo.save(replace(instances[1], lifecycle=Lifecycle.DELETED))  # a master with a deleted replica
        repo.save(replace(instances[8], lifecycle=Lifecycle.DELETED))  # one of alpha's replicas
        repo.add(rows.replica(instances[2], name="new-ro"))
        repo.add(rows.primary(tenant, name="ALPHA-new", created_at=alpha.created_at))
    _same(container, tenant, queries)
    renamed = container.listing.describe(tenant, InstanceQuery(ids=(alpha.code,))).items
    assert renamed[0].name == "zz-renamed"
    # Only the changed rows were read again, not the tenant.
    assert container.listing.rows_read - read_before == 5


def test_a_commit_of_another_process_is_seen_by_the_next_listing(container: Container) -> None:
    tenant = _tenant(container)
    instances = _seed(container, tenant)
    alpha = instances[0]
    query = InstanceQuery(region="ap-beijing", order_by="name", limit=100)
    _same(container, tenant, [query])
    script = (
        "import sys\n"
        "from dataclasses import replace\n"
        "from openrds.persistence.db import open_engine\n"
        "from openrds.persistence.uow import Store\n"
        "store = Store(open_engine(sys.argv[1]))\n"
        "with store.write() as uow:\n"
        "    repo = uow.instances(sys.argv[2])\n"
        "    repo.save(replace(repo.find(sys.argv[3]), name='renamed-elsewhere'))\n"
        "store.close()\n"
    )
    subprocess.run([sys.executable, "-c", script, container.settings.metadata_url, tenant, alpha.code], check=True)
    page = container.listing.describe(tenant, InstanceQuery(ids=(alpha.code,)))
    assert page.items[0].name == "renamed-elsewhere", "a commit of another process was not seen"
    _same(container, tenant, [query])


def test_the_rendered_listing_is_the_presenters_answer(container: Container) -> None:
    tenant = _tenant(container)
    _seed(container, tenant)
    handler = build_tencent(container)._actions["DescribeDBInstances"]
    caller = Caller(tenant_id=tenant, secret_id="AKIDx", app_id=1250000000, uin="100000000001")
    context = ActionContext(caller=caller, region="ap-beijing", language="en-US", request_id="r",
                            action="DescribeDBInstances")
    request = handler.request_model.model_validate({"Limit": 100})
    page = container.instances.describe(tenant, InstanceQuery(region="ap-beijing", limit=100))
    expected = render({"TotalCount": page.total, "DBInstanceSet": [
        present.instance(i, container.catalogue, app_id=caller.app_id, uin=caller.uin,
                         replica_count=page.replica_counts.get(i.id, 0),
                         master_code=page.codes.get(i.master_id or "", "")) for i in page.items]})
    assert render(handler.handler(context, request)) == expected
    assert render(handler.handler(context, request)) == expected  # again, from the rendered rows
