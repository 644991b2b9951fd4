"""The promote operation (Trove's detach) at the service level, on the fake engine: a read-only
instance leaves its group at once, its job promotes the server and drops its slot on the old master,
and it is recorded as a primary with no master; its orders stay, and its old master's isolation no
longer takes it along. Refusals leave everything as it was."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service
from tests.support.service import wait_for

from openrds.domain.errors import InstanceNotFound, InvalidInstanceState
from openrds.domain.model import Instance, Job
from openrds.domain.states import JobKind, JobState, Lifecycle, Role
from openrds.engine.driver import EngineError, ServerRole
from openrds.services.groups import GroupOrder
from openrds.services.instances import PrimaryOrder, ReadOnlyOrder

REGION, ZONE, SPEC = "ap-beijing", "ap-beijing-4", "pg.it.small2"
TIMEOUT = 30.0


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=FakeDriver()) as running:
        yield running


@pytest.fixture(scope="module")
def tenant(service: InProcessService) -> str:
    return service.container.identity.tenants()[0].id


def finished(service: InProcessService, job: Job) -> Job:
    def done() -> Job | None:
        with service.container.store.read() as uow:
            found = uow.jobs.get(job.id)
        return found if found is not None and found.finished else None

    return wait_for(done, TIMEOUT, f"job {job.id} ({job.kind}) to finish")


def master_and_replica(service: InProcessService, tenant: str, *, group: bool = False) -> tuple[Instance, Instance]:
    instances = service.container.instances
    created = instances.create_primaries(tenant, PrimaryOrder(
        region=REGION, zone=ZONE, spec_code=SPEC, storage_gb=20, admin_user="dbadmin",
        admin_password="Openrds-Test1", charge_type="POSTPAID_BY_HOUR"))
    assert created.job is not None and finished(service, created.job).state is JobState.SUCCEEDED
    master = created.instances[0]
    group_id = None
    if group:
        view = service.container.groups.create(tenant, GroupOrder(master=master.id, name="promote-group"))
        assert view is not None
        group_id = view.group.id
    replica = instances.create_readonly(tenant, ReadOnlyOrder(
        region=REGION, master=master.id, spec_code=SPEC, charge_type="POSTPAID_BY_HOUR", group_id=group_id))
    assert replica.job is not None and finished(service, replica.job).state is JobState.SUCCEEDED
    return instances.get(tenant, master.id), instances.get(tenant, replica.instances[0].id)


def orders(service: InProcessService, tenant: str, instance_id: str) -> list[Any]:
    with service.container.store.read() as uow:
        return uow.orders(tenant).of_instance(instance_id)


def test_promote_makes_a_standalone_primary(service: InProcessService, tenant: str) -> None:
    master, replica = master_and_replica(service, tenant, group=True)
    assert replica.group_id is not None
    driver: Any = service.container.driver
    assert replica.code in {link.replica_id for link in driver.replication(master.code).replicas}
    bought = orders(service, tenant, replica.id)

    job = service.container.instances.promote(tenant, replica.code)
    assert job.kind == JobKind.PROMOTE
    leaving = service.container.instances.get(tenant, replica.id)
    # Out of the group before the server is touched: the group's endpoint stops sending it reads.
    assert leaving.group_id is None and leaving.lifecycle in (Lifecycle.RESTARTING, Lifecycle.RUNNING)
    assert finished(service, job).state is JobState.SUCCEEDED

    promoted = service.container.instances.get(tenant, replica.id)
    assert (promoted.role, promoted.master_id, promoted.lifecycle) == (Role.PRIMARY, None, Lifecycle.RUNNING)
    assert driver.status(replica.code).role is ServerRole.PRIMARY
    assert replica.code not in {link.replica_id for link in driver.replication(master.code).replicas}
    assert not driver.read_only(replica.code)
    assert service.container.instances.replicas(tenant, master.id) == []
    assert orders(service, tenant, replica.id) == bought  # billed as before, as a primary now
    with service.container.store.read() as uow:
        assert any(kind == "instance.promoted" for _, kind, _ in uow.events.of(replica.id))

    # Its old master's isolation no longer takes it along.
    [isolate] = service.container.instances.isolate(tenant, [master.id])
    assert finished(service, isolate).state is JobState.SUCCEEDED
    assert service.container.instances.get(tenant, replica.id).lifecycle is Lifecycle.RUNNING


def test_refusals_change_nothing(service: InProcessService, tenant: str) -> None:
    master, _ = master_and_replica(service, tenant)
    with pytest.raises(InvalidInstanceState, match="a primary"):
        service.container.instances.promote(tenant, master.id)
    with pytest.raises(InstanceNotFound):
        service.container.instances.promote(tenant, "pgro-nosuch1")
    other = service.container.identity.create_tenant("promote-other")
    _, replica = master_and_replica(service, tenant)
    with pytest.raises(InstanceNotFound):  # another tenant's instance does not exist for it
        service.container.instances.promote(other.id, replica.id)
    assert service.container.instances.get(tenant, replica.id).role is Role.READONLY
    assert service.container.instances.get(tenant, master.id).role is Role.PRIMARY


def test_a_failed_promotion_leaves_a_running_replica(service: InProcessService, tenant: str) -> None:
    master, replica = master_and_replica(service, tenant)
    driver: Any = service.container.driver
    driver.fail("promote", EngineError("promote", "pg_ctl promote failed"))
    job = service.container.instances.promote(tenant, replica.id)
    assert finished(service, job).state is JobState.FAILED
    back = service.container.instances.get(tenant, replica.id)
    assert (back.role, back.master_id, back.lifecycle) == (Role.READONLY, master.id, Lifecycle.RUNNING)
    assert "pg_ctl promote failed" in back.status_reason
    assert driver.status(replica.code).role is ServerRole.REPLICA
