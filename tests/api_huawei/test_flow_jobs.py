"""Finished flows (``services.flows``: what read-only group actions record so that a task id can be
followed) in the Huawei v1 job view under proper job names, never their stored kind, over the fake
engine: the groups are made through the official Tencent SDK, the jobs read with httpx as v1 clients do."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tests.api_huawei.support import Rds
from tests.api_tencent.sdk import POSTPAID, SPEC, ZONE, Api
from tests.fakes.driver import FakeDriver
from tests.support.in_process import InProcessService, in_process_service

from openrds.api.huawei.presenters import JOB_NAMES
from openrds.console.job_names import job_name
from openrds.domain.states import JobKind
from openrds.services import flows

FLOW_KINDS = (flows.CREATE_GROUP, flows.ADD_TO_GROUP, flows.REMOVE_FROM_GROUP, flows.MOVE_TO_GROUP,
              flows.DELETE_GROUP)


@pytest.fixture(scope="module")
def service() -> Iterator[InProcessService]:
    with in_process_service(driver=FakeDriver()) as running:
        yield running


def test_every_job_kind_and_flow_has_a_name_in_the_huawei_face_and_the_console() -> None:
    for kind in (*JobKind, *FLOW_KINDS):
        assert kind in JOB_NAMES, f"{kind} has no Huawei job name"
        assert job_name(kind) != kind and "_" not in job_name(kind), f"{kind} has no console name"
    assert set(FLOW_KINDS) == set(flows.FLOW_STEPS), "a new flow kind: name it here, in JOB_NAMES and the console"


def test_group_flows_are_shown_by_name_in_the_v1_job_view(service: InProcessService) -> None:
    api = Api(service)  # type: ignore[arg-type]  # duck-types RunningService
    master = api.create_master(POSTPAID, name="flows")
    api.wait_status([master], "running")
    first = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": master, "Name": "first"}).ReadOnlyGroupId
    second = api.send("CreateReadOnlyGroup", {"MasterDBInstanceId": master, "Name": "second"}).ReadOnlyGroupId
    (replica,) = api.send("CreateReadOnlyDBInstance", {
        "MasterDBInstanceId": master, "Zone": ZONE, "SpecCode": SPEC, "Storage": 20, "InstanceCount": 1,
        "Period": 1, "InstanceChargeType": POSTPAID, "ReadOnlyGroupId": first}).DBInstanceIdSet
    api.wait_status([replica], "running")
    api.send("ModifyDBInstanceReadOnlyGroup", {"DBInstanceId": replica, "ReadOnlyGroupId": first,
                                               "NewReadOnlyGroupId": second})
    api.send("RemoveDBInstanceFromReadOnlyGroup", {"DBInstanceId": replica, "ReadOnlyGroupId": second})
    api.send("DeleteReadOnlyGroup", {"ReadOnlyGroupId": first})
    with service.container.store.read() as uow:
        tenant_id = service.container.identity.tenants()[0].id
        flow_jobs = {j.id: j.kind for j in uow.jobs.of_tenant(tenant_id) if j.kind in FLOW_KINDS}
    assert set(flow_jobs.values()) == {flows.CREATE_GROUP, flows.MOVE_TO_GROUP, flows.REMOVE_FROM_GROUP,
                                       flows.DELETE_GROUP}
    rds = Rds.login(f"http://127.0.0.1:{service.port}", "ap-beijing")
    for job_id, kind in flow_jobs.items():
        reply = rds.get("jobs", id=job_id)
        assert reply.status_code == 200, reply.text
        job = reply.json()["job"]
        assert (job["name"], job["status"]) == (JOB_NAMES[kind], "Completed"), job
        assert job["name"] != kind
