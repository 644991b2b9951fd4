"""Tenant quotas through the services and the admin commands, on a real store (SQLite and PostgreSQL)
with no engine: creates are recorded (that is what counts), jobs never run.

The faces' codes for an exceeded quota (Tencent ``LimitExceeded``, Huawei ``RDS.5009``) are tested
against a running service in ``tests/api_tencent/test_quotas.py``; the storage limit of a running
server in ``tests/engine/test_storage_limit.py``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

import pytest
from tests.billing.support import buy, finish_jobs, new_tenant, offline_container
from typer.testing import CliRunner

from openrds import cli
from openrds.container import Container
from openrds.domain import quotas
from openrds.domain.errors import OpenRDSError, QuotaExceeded
from openrds.domain.model import ReadOnlyGroup
from openrds.domain.quotas import Amounts
from openrds.domain.states import GroupStatus, Lifecycle
from openrds.services.groups import GroupOrder
from openrds.services.instances import ReadOnlyOrder

from .conftest import Backend

LIMITS = {"quota_instances": 3, "quota_ro_groups": 1, "quota_storage_gb": 100}


@pytest.fixture
def world() -> Iterator[Container]:
    with offline_container(**LIMITS) as (container, _clock):
        yield container


def recorded(c: Container, tenant_id: str) -> tuple[int, int, int]:
    """(instances not destroyed, jobs, ledger entries) of the tenant: what a refused create must not change."""
    with c.store.read() as uow:
        return (len(uow.instances(tenant_id).list()), len(uow.jobs.of_tenant(tenant_id)),
                len(uow.account(tenant_id).ledger()))


def refused(quota: str, call) -> QuotaExceeded:  # type: ignore[no-untyped-def]
    with pytest.raises(QuotaExceeded) as info:
        call()
    assert f"quota {quota} " in info.value.message, info.value.message
    return info.value


def test_the_rule_counts_usage_plus_request_against_the_limit() -> None:
    limits = Amounts(instances=3, ro_groups=1, storage_gb=100)
    quotas.check(limits, Amounts(2, 0, 40), Amounts(instances=1, storage_gb=60))  # exactly at every limit
    with pytest.raises(QuotaExceeded) as info:
        quotas.check(limits, Amounts(2, 0, 40), Amounts(instances=2, storage_gb=20))
    assert info.value.message == ("quota instances (instances) exceeded: the tenant has 2, this request adds 2, "
                                  "the limit is 3")
    with pytest.raises(QuotaExceeded, match=r"quota storage_gb \(storage\) exceeded: the tenant has 40 GB, "
                                            r"this request adds 70 GB, the limit is 100 GB"):
        quotas.check(limits, Amounts(2, 0, 40), Amounts(instances=1, storage_gb=70))
    with pytest.raises(QuotaExceeded, match="quota ro_groups"):
        quotas.check(limits, Amounts(0, 1, 0), Amounts(ro_groups=1))


def test_each_quota_refuses_the_create_and_records_nothing(world: Container) -> None:
    c = world
    tenant = new_tenant(c, "acme", 1000)
    master, other = buy(c, tenant, "POSTPAID_BY_HOUR", count=2, storage=20).instances  # 2 of 3, 40 of 100 GB
    finish_jobs(c, c.clock)  # type: ignore[arg-type]
    before = recorded(c, tenant)

    refused("instances", lambda: buy(c, tenant, "POSTPAID_BY_HOUR", count=2))
    refused("instances", lambda: buy(c, tenant, "POSTPAID_BY_HOUR", count=2, dry_run=True))
    refused("storage_gb", lambda: buy(c, tenant, "POSTPAID_BY_HOUR", storage=70))
    refused("storage_gb", lambda: buy(c, tenant, "PREPAID", storage=70))
    replicas = ReadOnlyOrder(region="ap-beijing", master=master.code, spec_code="pg.it.small2", count=2,
                             charge_type="POSTPAID_BY_HOUR")
    refused("instances", lambda: c.instances.create_readonly(tenant, replicas))
    refused("instances", lambda: c.instances.create_readonly(tenant, replace(replicas, dry_run=True)))
    refused("storage_gb", lambda: c.instances.create_readonly(tenant, replace(replicas, count=1, storage_gb=70)))
    # One group exists (recorded as the service records one; this host has no engine to start its endpoint).
    with c.store.write() as uow:
        uow.groups(tenant).add(ReadOnlyGroup(
            id="pgrogrp-quota001", tenant_id=tenant, master_id=master.id, name="first", project_id=0,
            region=master.region, zone=master.zone, network=master.network, status=GroupStatus.OK,
            max_replay_lag_seconds=0, max_replay_latency_mb=0, min_delay_eliminate_reserve=0,
            replay_lag_eliminate=False, replay_latency_eliminate=False, created_at=c.clock.now(),
            updated_at=c.clock.now(), host="127.0.0.1", port=1))
    refused("ro_groups", lambda: c.groups.create(tenant, GroupOrder(master=master.code, name="second")))
    assert recorded(c, tenant) == before
    assert len(c.groups.describe(tenant)) == 1

    # Another tenant has its own quotas.
    stranger = new_tenant(c, "stranger", 1000)
    assert len(buy(c, stranger, "POSTPAID_BY_HOUR", count=3, storage=30).instances) == 3

    # Isolated instances keep their disk and count; destroyed ones do not.
    with c.store.write() as uow:
        uow.instances(tenant).save(replace(other, lifecycle=Lifecycle.ISOLATED))
    refused("instances", lambda: buy(c, tenant, "POSTPAID_BY_HOUR", count=2))
    with c.store.write() as uow:
        uow.instances(tenant).save(replace(other, lifecycle=Lifecycle.DELETED))
    assert c.quotas.show(tenant).usage == Amounts(instances=1, ro_groups=1, storage_gb=20)
    assert len(buy(c, tenant, "POSTPAID_BY_HOUR", count=2, storage=40).instances) == 2  # 3 of 3, 100 of 100 GB
    refused("instances", lambda: buy(c, tenant, "POSTPAID_BY_HOUR"))


def test_concurrent_creates_cannot_both_pass(backend: Backend) -> None:
    """Eight creates at once with room for two: exactly two are recorded, on either store."""
    settings: dict[str, object] = {**LIMITS, "quota_instances": 2}
    if backend.name == "postgresql":
        settings["database_url"] = backend.url
    with offline_container(**settings) as (c, _clock):
        tenant = new_tenant(c, "racer", 1000)
        start = threading.Barrier(8)
        outcomes: list[str] = []

        def create() -> None:
            start.wait(timeout=30)
            try:
                buy(c, tenant, "POSTPAID_BY_HOUR", storage=10)
                outcomes.append("created")
            except OpenRDSError as exc:
                outcomes.append(type(exc).__name__)

        threads = [threading.Thread(target=create) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes) == ["QuotaExceeded"] * 6 + ["created"] * 2, outcomes
        assert c.quotas.show(tenant).usage == Amounts(instances=2, ro_groups=0, storage_gb=20)


def test_admin_sets_and_shows_a_tenants_quotas(world: Container) -> None:
    c = world
    tenant = new_tenant(c, "acme", 1000)
    buy(c, tenant, "POSTPAID_BY_HOUR", storage=20)
    runner = CliRunner()
    args = ["--data-dir", str(c.settings.data_dir)]
    env = {"COLUMNS": "200", "OPENRDS_QUOTA_INSTANCES": "3", "OPENRDS_QUOTA_RO_GROUPS": "1",
           "OPENRDS_QUOTA_STORAGE_GB": "100"}

    shown = runner.invoke(cli.app, ["admin", "show-quota", "acme", *args], env=env)
    assert shown.exit_code == 0, shown.output
    assert rows_of(shown.output) == {"instances": ["3", "1", "no (default)"], "ro_groups": ["1", "0", "no (default)"],
                                     "storage_gb": ["100 GB", "20 GB", "no (default)"]}

    done = runner.invoke(cli.app, ["admin", "set-quota", "acme", "--instances", "5", "--storage-gb", "300", *args],
                         env=env)
    assert done.exit_code == 0, done.output
    assert rows_of(done.output) == {"instances": ["5", "1", "yes"], "ro_groups": ["1", "0", "no (default)"],
                                    "storage_gb": ["300 GB", "20 GB", "yes"]}
    # The running service's next create sees it.
    assert len(buy(c, tenant, "POSTPAID_BY_HOUR", count=4, storage=70).instances) == 4  # 5 of 5, 300 of 300 GB
    refused("instances", lambda: buy(c, tenant, "POSTPAID_BY_HOUR"))

    # Unnamed quotas keep their value; zero is a limit like another.
    done = runner.invoke(cli.app, ["admin", "set-quota", tenant, "--ro-groups", "0", *args], env=env)
    assert done.exit_code == 0, done.output
    assert rows_of(done.output)["instances"] == ["5", "5", "yes"]
    assert rows_of(done.output)["ro_groups"] == ["0", "0", "yes"]

    refused_cli = runner.invoke(cli.app, ["admin", "set-quota", "acme", "--instances", "-1", *args], env=env)
    assert refused_cli.exit_code == 1 and "quota instances must not be negative" in refused_cli.output
    assert runner.invoke(cli.app, ["admin", "show-quota", "nobody", *args], env=env).exit_code == 1
    assert runner.invoke(cli.app, ["admin", "set-quota", "nobody", "--instances", "1", *args], env=env).exit_code == 1


def rows_of(output: str) -> dict[str, list[str]]:
    """The quota table printed by the admin commands: quota name -> [limit, used, set for the tenant]."""
    found = {}
    for line in output.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("│┃").split("│")]
        if len(cells) == 4 and cells[0].split(" ")[0] in ("instances", "ro_groups", "storage_gb"):
            found[cells[0].split(" ")[0]] = cells[1:]
    return found
